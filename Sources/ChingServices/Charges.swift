import ChingDomain
import ChingProviders
import ChingStore
import Logging

/// Charges: recording what a provider answered (with the document, events and receipt email), voiding, the card a charge uses.
package enum Charges {
    /// Voids an authorization at the provider and records it canceled (`charge.canceled`); nil if it is no longer authorized,
    /// or if the provider says it was captured after all (a capture whose answer was lost: nothing is recorded, and it is logged).
    package static func void(_ id: String, reference: String, reason: String, caller: Caller, services: AppServices) async throws -> JSONValue? {
        if case .declined(let decline) = await (try services.provider(for: caller)).void(reference: reference), decline.code == "charge_already_captured" {
            services.logger.critical("An authorization to cancel was captured at the provider; it stays authorized here until someone checks",
                                     metadata: ["charge": "\(id)"])
            return nil
        }
        return try await services.database.transaction { db in
            guard try await db.charges.cancelAuthorization(id, reason: reason) else { return nil }
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.canceled", data: charge, caller: caller, on: db, services: services)
            return charge
        }
    }

    /// What a saved card contributes to a charge.
    package struct ChargeableCard: Sendable {
        package let token: String
        package let brand: CardBrand
        package let last4: String
        package let supportsInstallments: Bool
    }

    /// The payment method, checked to be the customer's and active.
    package static func chargeableCard(_ id: String, customerID: String, caller: Caller, on db: Store) async throws -> ChargeableCard {
        guard let card = try await db.paymentMethods.find(id, caller: caller) else { throw ServiceError.notFound("payment_method", id) }
        guard card.customerID == customerID else {
            throw ServiceError.rule("payment_method_not_owned", "The payment method \(id) belongs to another customer.")
        }
        guard card.isActive else {
            throw ServiceError.rule("payment_method_inactive", "The payment method \(id) is detached.")
        }
        return ChargeableCard(token: card.token, brand: CardBrand(rawValue: card.brand) ?? .unknown, last4: card.last4,
                              supportsInstallments: card.supportsInstallments)
    }

    package struct NewCharge: Sendable {
        /// Given when something recorded before the charge (a plan's subscription) names it.
        package var id: String? = nil
        package let customerID: String
        package let paymentMethodID: String?
        package let amount: Int64
        package let description: String?
        package let installments: Int64
        package let metadata: [String: String]
        package let card: ChargeableCard
        package var lineItems: JSONValue? = nil
        /// The document's lines when they are not the line items (a price, a plan's period).
        package var documentLines: [DocumentLine]? = nil
        package var checkoutSessionID: String? = nil
        package var subscriptionID: String? = nil
        package var createDocument = true
        /// False authorizes only (manual capture): `requires_capture`, no document until captured.
        package var capture = true
        /// The identifier the live provider was asked under, kept with a `pending` charge for the reconciler.
        package var providerKey: String? = nil
        /// How long an authorization can be captured.
        package var capturableDays = Charges.authorizationLifetimeDays

        package init(customerID: String, paymentMethodID: String?, amount: Int64, description: String?, installments: Int64,
                     metadata: [String: String], card: ChargeableCard) {
            self.customerID = customerID; self.paymentMethodID = paymentMethodID; self.amount = amount; self.description = description
            self.installments = installments; self.metadata = metadata; self.card = card
        }
    }

    /// How long an authorization can be captured (seed 002: 7 days).
    package static let authorizationLifetimeDays: Int64 = 7
    /// Grow's J5 window (GROW.md section 5: "up to 3 days"); its hold lapses on its own later.
    package static let growAuthorizationDays: Int64 = 3

    /// Stores the outcome of a provider charge with its events (and, on success, its document and receipt email).
    package static func record(_ new: NewCharge, result: ProviderResult, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue {
        // A live charge written `pending` before the provider was asked: its outcome replaces it, once.
        if let key = new.providerKey, let existing = try await db.providerState.charge(withKey: key, projectID: caller.projectID) {
            guard existing.status == "pending", result != .unknown, try await db.providerState.takePending(existing.id) else { return json(existing) }
        }
        let id = new.id ?? services.ids.make(.charge)
        let now = services.clock.now()
        var status = "failed", reference: String?, failure: Decline?
        switch result {
        case .approved(let ref): status = new.capture ? "succeeded" : "requires_capture"; reference = ref
        case .declined(let decline): failure = decline
        case .unknown: status = "pending"
        }
        let captured = status == "succeeded"
        try await db.charges.insert(Charge(
            id: id, caller: caller, customerID: new.customerID, paymentMethodID: new.paymentMethodID, amount: new.amount, status: status,
            description: new.description, installments: new.installments, amountCaptured: captured ? new.amount : 0, failureCode: failure?.code,
            failureMessage: failure?.message, checkoutSessionID: new.checkoutSessionID, lineItems: new.lineItems, subscriptionID: new.subscriptionID,
            providerReference: reference, capturableUntil: status == "requires_capture" ? now.adding(days: new.capturableDays) : nil,
            cardBrand: new.card.brand.rawValue, cardLast4: new.card.last4, captureMethod: new.capture ? "automatic" : "manual",
            authorizedAt: reference == nil ? nil : now, capturedAt: captured ? now : nil, metadata: .strings(new.metadata), created: now))
        if let key = new.providerKey { try await db.providerState.setKey(key, ofCharge: id) }
        switch status {
        case "succeeded":
            if new.createDocument {
                try await issueReceipt(chargeID: id, amount: new.amount, caller: caller, on: db, services: services,
                                       lines: new.documentLines ?? new.lineItems.map(Documents.lines(fromLineItems:))
                                           ?? [DocumentLine(description: new.description ?? "Payment", quantity: 1, unitAmount: new.amount)])
            }
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.succeeded", data: charge, caller: caller, on: db, services: services)
            return charge
        case "requires_capture":
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.authorized", data: charge, caller: caller, on: db, services: services)
            return charge
        case "pending":
            // The provider has not said yet; the reconciler records the outcome (and its events) once it knows.
            return try await load(id, caller: caller, on: db)!
        default:
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.failed", data: charge, caller: caller, on: db, services: services)
            return charge
        }
    }

    /// Issues the tax invoice/receipt for a captured charge and links it.
    package static func issueReceipt(chargeID: String, amount: Int64, caller: Caller, on db: Store, services: AppServices,
                             lines: [DocumentLine]) async throws {
        guard let charge = try await db.charges.find(chargeID, caller: caller) else { throw ServiceError.notFound("charge", chargeID) }
        let payment = DocumentPayment(brand: CardBrand(rawValue: charge.cardBrand) ?? .unknown, last4: charge.cardLast4, installments: charge.installments)
        let documentID = try await Documents.issue(
            .taxInvoiceReceipt, amount: amount, chargeID: chargeID, refundID: nil, customerID: charge.customerID,
            lines: lines, payment: payment, reference: nil, caller: caller, on: db, services: services)
        try await db.charges.setDocument(documentID, of: chargeID)
    }

    package static func load(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.charges.find(id, caller: caller).map(json)
    }

    package static func json(_ charge: Charge) -> JSONValue {
        var object: JSONObject = [
            "id": .string(charge.id),
            "object": "charge",
            "customer": .string(charge.customerID),
            "payment_method": .optional(charge.paymentMethodID),
            "amount": .int(charge.amount),
            "currency": .string(charge.currency),
            "status": .string(charge.status),
            "description": .optional(charge.description),
            "installments": .object(["count": .int(charge.installments)]),
            "captured": .bool(charge.captured),
            "refunded_amount": .int(charge.refundedAmount),
            // The code-like reason clients read first; the same words as failure_code (see docs/compatibility.md).
            "failure_reason": .optional(charge.failureCode),
            "failure_code": .optional(charge.failureCode),
            "failure_message": .optional(charge.failureMessage),
            "capture_method": .string(charge.captureMethod),
            "amount_captured": .int(charge.amountCaptured),
            "authorized_at": .optional(charge.authorizedAt?.iso8601),
            "captured_at": .optional(charge.capturedAt?.iso8601),
            "card_brand": .string(charge.cardBrand),
            "card_last4": .optional(charge.cardLast4.isEmpty ? nil : charge.cardLast4),
            "wallet_method": .null,
            "document": .optional(charge.documentID),
            "checkout_session": .optional(charge.checkoutSessionID),
            "line_items": charge.lineItems ?? .null,
            "subscription": .optional(charge.subscriptionID),
            "metadata": charge.metadata,
            "livemode": .bool(charge.caller.livemode),
            "created": .string(charge.created.iso8601),
        ]
        if let capturableUntil = charge.capturableUntil {
            object["capturable_until"] = .string(capturableUntil.iso8601)
            object["cancellation_reason"] = .optional(charge.cancellationReason)
        }
        return .object(object)
    }

    /// Takes `requested` (default all) of an authorization (the rest is released) and issues its document (`charge.captured`).
    package static func capture(_ id: String, amount requested: Int64?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        let (reference, amount) = try await services.database.read { db in
            guard let charge = try await db.charges.find(id, caller: caller) else { throw ServiceError.notFound("charge", id) }
            guard charge.status == "requires_capture" else {
                throw ServiceError.rule("charge_not_capturable", "Only an authorized (requires_capture) charge can be captured; this one is \(charge.status).")
            }
            if let until = charge.capturableUntil, now >= until {
                throw ServiceError.rule("charge_authorization_expired", "The authorization expired at \(until.iso8601); it can no longer be captured.")
            }
            let authorized = charge.amount
            let amount = requested ?? authorized
            guard amount <= authorized else {
                throw ServiceError.rule("capture_amount_too_large", "At most the authorized \(authorized) agorot can be captured.")
            }
            return (charge.providerReference ?? "", amount)
        }
        switch await (try services.provider(for: caller)).capture(reference: reference, amount: amount) {
        case .approved: break
        case .declined(let decline) where ["charge_authorization_expired", "charge_already_captured"].contains(decline.code):
            throw ServiceError.rule(decline.code, decline.message)
        case .declined, .unknown:
            throw ServiceError.rule("provider_error", "The provider did not capture the authorization; try again.", kind: .upstream)
        }
        return try await services.database.transaction { db in
            guard try await db.charges.capture(id, amount: amount, at: now), let captured = try await db.charges.find(id, caller: caller) else {
                throw ServiceError.rule("charge_not_capturable", "The charge was captured or canceled meanwhile.")
            }
            if try await db.checkoutSessions.find(chargeID: id)?.createDocument ?? true {
                let lines = amount == captured.amount ? captured.lineItems.map(Documents.lines(fromLineItems:)) : nil
                try await Charges.issueReceipt(chargeID: id, amount: amount, caller: caller, on: db, services: services,
                    lines: lines ?? [DocumentLine(description: captured.description ?? "Captured payment", quantity: 1, unitAmount: amount)])
            }
            let charge = try await Charges.load(id, caller: caller, on: db)!
            try await Events.record("charge.captured", data: charge, caller: caller, on: db, services: services)
            return charge
        }
    }

    /// Releases an authorization (`charge.canceled`).
    package static func cancel(_ id: String, reason: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let reference = try await services.database.read { db in
            guard let charge = try await db.charges.find(id, caller: caller) else { throw ServiceError.notFound("charge", id) }
            guard charge.status == "requires_capture" else {
                throw ServiceError.rule("charge_not_cancelable", "Only an authorized (requires_capture) charge can be canceled; refund a captured one.")
            }
            return charge.providerReference ?? ""
        }
        let charge = try await Charges.void(id, reference: reference, reason: reason, caller: caller, services: services)
        guard let charge else { throw ServiceError.rule("charge_not_cancelable", "The charge was captured or canceled meanwhile.") }
        return charge
    }

    /// Charges a saved card now (`POST /charges`). A decline is recorded, then thrown as `CHARGE_FAILED` with the failed charge.
    ///
    /// Live, the charge is written `pending` before Grow is asked, under a number that stands for the
    /// request's `Idempotency-Key` when it has one: a retry of the same request (after a crash, or a
    /// 5xx that let the key go) finds that charge and answers it rather than asking Grow again.
    package static func create(customerID: String, paymentMethodID: String, amount: Int64, description: String?, installments: Int64,
                               metadata: [String: String], idempotencyKey: String? = nil, caller: Caller,
                               services: AppServices) async throws -> JSONValue {
        let services = try await services.database.read { db in try await services.forCustomer(customerID, on: db) }
        let (card, maxInstallments) = try await services.database.read { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            let card = try await Charges.chargeableCard(paymentMethodID, customerID: customerID, caller: caller, on: db)
            return (card, try await services.paymentSettings(projectID: caller.projectID, on: db).maxInstallments)
        }
        if installments > maxInstallments {
            throw ServiceError.invalid("installments.count", "Must be between 1 and \(maxInstallments) for this project.")
        }
        if installments > 1, !card.supportsInstallments {
            throw ServiceError.invalid("installments.count", "This card does not offer installments (only cards issued in Israel do).")
        }

        var new = Charges.NewCharge(customerID: customerID, paymentMethodID: paymentMethodID, amount: amount, description: description,
                                    installments: installments, metadata: metadata, card: card)
        new.id = services.ids.make(.charge)
        let result: ProviderResult, written: NewCharge
        switch try await chargeSavedWritingFirst(new, key: idempotencyKey.map { "request:" + $0 }, caller: caller, services: services) {
        case .earlier(let charge): return charge
        case .asked(let said, let charge): (result, written) = (said, charge)
        }
        let charge = try await services.database.transaction { db in
            try await Charges.record(written, result: result, caller: caller, on: db, services: services)
        }
        if case .declined(let decline) = result {
            var error = ServiceError(.paymentFailed, "CHARGE_FAILED", decline.message)
            error.extra["charge"] = charge
            throw error
        }
        return charge
    }

    package enum SavedCardCharge: Sendable {
        /// The provider's answer, and the charge to record it with (written `pending` already when live).
        case asked(ProviderResult, NewCharge)
        /// The same request was made before (live, `key` repeated): the charge it wrote; the provider was not asked.
        case earlier(JSONValue)
    }

    /// Charges `new`'s saved card off-session; `new.id` is set. With a live provider the charge is
    /// first written `pending` under its Grow number, the one for `key` (default: the charge's own),
    /// so that a crash between Grow's answer and our commit leaves something the reconciler
    /// settles; recording the answer then replaces it. A key whose number already holds a charge is
    /// a retry of the same request: that charge is answered instead of asking Grow again.
    package static func chargeSavedWritingFirst(_ new: NewCharge, key: String? = nil, caller: Caller,
                                                services: AppServices) async throws -> SavedCardCharge {
        let provider = try await services.provider(for: caller)
        guard provider is any HostedPageProvider, let id = new.id else {
            return .asked(await provider.charge(token: new.card.token, amount: new.amount, installments: Int(new.installments), capture: true,
                                                idempotencyKey: nil), new)
        }
        let (written, number) = try await services.database.transaction { db -> (JSONValue, String) in
            var withNumber = new
            let number = String(try await db.providerState.identifier(for: key ?? "charge:" + id, projectID: caller.projectID, at: services.clock.now()))
            withNumber.providerKey = number
            // `record` writes nothing when the number holds a charge already, and answers that charge.
            return (try await Charges.record(withNumber, result: .unknown, caller: caller, on: db, services: services), number)
        }
        if written["id"]?.stringValue != id { return .earlier(written) }
        var pending = new
        pending.providerKey = number
        return .asked(await provider.charge(token: new.card.token, amount: new.amount, installments: Int(new.installments), capture: true,
                                            idempotencyKey: pending.providerKey), pending)
    }

    /// Charges a saved card for a renewal: its lease and `key` keep a retry from charging twice.
    /// With a live provider `key` becomes the number Grow is asked under: the same key, the same number.
    package static func chargeRenewal(token: String, amount: Int64, key: String, caller: Caller, services: AppServices) async throws -> ProviderResult {
        let provider = try await services.provider(for: caller)
        guard provider is any HostedPageProvider else {
            return await provider.charge(token: token, amount: amount, installments: 1, capture: true, idempotencyKey: key)
        }
        let number = try await services.database.transaction { db in
            try await db.providerState.identifier(for: key, projectID: caller.projectID, at: services.clock.now())
        }
        return await provider.charge(token: token, amount: amount, installments: 1, capture: true, idempotencyKey: String(number))
    }

    /// Gives back money the provider approved that will not be recorded: voids an authorization
    /// (`authorizationOnly`) or refunds a charge. True when the provider took it back; false when
    /// there was nothing to undo or it refused.
    package static func undo(_ result: ProviderResult?, amount: Int64, authorizationOnly: Bool = false, caller: Caller,
                             services: AppServices) async -> Bool {
        guard case .approved(let reference) = result else { return false }
        guard let provider = try? await services.provider(for: caller) else { return false }
        let undone = authorizationOnly ? await provider.void(reference: reference) : await provider.refund(reference: reference, amount: amount)
        if case .approved = undone { return true }
        return false
    }
}

import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// Charges: recording what a provider answered (with the document, events and receipt email), voiding, the card a charge uses.
package enum Charges {
    /// Voids an authorization at the provider and records it canceled (`charge.canceled`); nil if it is no longer authorized.
    package static func void(_ id: String, reference: String, reason: String, caller: Caller, services: AppServices) async throws -> JSONValue? {
        _ = await services.provider(for: caller).void(reference: reference)
        return try await services.database.transaction { db in
            let claimed = try await db.raw("""
                UPDATE charges SET status = 'canceled', cancellation_reason = \(bind: reason)
                WHERE id = \(bind: id) AND status = 'requires_capture' RETURNING id
                """).first()
            guard claimed != nil else { return nil }
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
    package static func chargeableCard(_ id: String, customerID: String, caller: Caller, on db: any SQLDatabase) async throws -> ChargeableCard {
        guard let row = try await PaymentMethods.row(id, caller: caller, on: db) else { throw ServiceError.notFound("payment_method", id) }
        guard try row.string("customer_id") == customerID else {
            throw ServiceError.rule("payment_method_not_owned", "The payment method \(id) belongs to another customer.")
        }
        guard try row.string("status") == "active" else {
            throw ServiceError.rule("payment_method_inactive", "The payment method \(id) is detached.")
        }
        return ChargeableCard(token: try row.string("token"), brand: CardBrand(rawValue: try row.string("brand")) ?? .unknown,
                              last4: try row.string("last4"), supportsInstallments: try row.bool("supports_installments"))
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

        package init(customerID: String, paymentMethodID: String?, amount: Int64, description: String?, installments: Int64,
                     metadata: [String: String], card: ChargeableCard) {
            self.customerID = customerID; self.paymentMethodID = paymentMethodID; self.amount = amount; self.description = description
            self.installments = installments; self.metadata = metadata; self.card = card
        }
    }

    /// How long an authorization can be captured.
    package static let authorizationLifetimeDays: Int64 = 7

    /// Stores the outcome of a provider charge with its events (and, on success, its document and receipt email).
    package static func record(_ new: NewCharge, result: ProviderResult, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        let id = new.id ?? services.ids.make(.charge)
        let now = services.clock.now()
        var status = "failed", reference: String?, failure: Decline?
        switch result {
        case .approved(let ref): status = new.capture ? "succeeded" : "requires_capture"; reference = ref
        case .declined(let decline): failure = decline
        }
        let captured = status == "succeeded"
        let capturableUntil = status == "requires_capture" ? now.adding(days: authorizationLifetimeDays).milliseconds : nil
        try await db.raw("""
            INSERT INTO charges (id, project_id, livemode, customer_id, payment_method_id, amount, currency, status, description,
              installments, captured, amount_captured, refunded_amount, failure_code, failure_message, checkout_session_id,
              line_items, subscription_id, provider_reference, capturable_until, card_brand, card_last4, capture_method,
              authorized_at, captured_at, metadata, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: new.customerID), \(bind: new.paymentMethodID),
              \(bind: new.amount), 'ils', \(bind: status), \(bind: new.description), \(bind: new.installments), \(bind: captured.stored),
              \(bind: captured ? new.amount : 0), 0, \(bind: failure?.code), \(bind: failure?.message), \(bind: new.checkoutSessionID),
              \(bind: new.lineItems?.serialized()), \(bind: new.subscriptionID), \(bind: reference), \(bind: capturableUntil),
              \(bind: new.card.brand.rawValue), \(bind: new.card.last4), \(bind: new.capture ? "automatic" : "manual"),
              \(bind: reference == nil ? nil : now.milliseconds), \(bind: captured ? now.milliseconds : nil),
              \(bind: new.metadata.storedJSON), \(bind: now.milliseconds))
            """).run()
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
        default:
            let charge = try await load(id, caller: caller, on: db)!
            try await Events.record("charge.failed", data: charge, caller: caller, on: db, services: services)
            return charge
        }
    }

    /// Issues the tax invoice/receipt for a captured charge and links it.
    package static func issueReceipt(chargeID: String, amount: Int64, caller: Caller, on db: any SQLDatabase, services: AppServices,
                             lines: [DocumentLine]) async throws {
        guard let row = try await row(chargeID, caller: caller, on: db) else { throw ServiceError.notFound("charge", chargeID) }
        let payment = DocumentPayment(brand: CardBrand(rawValue: try row.string("card_brand")) ?? .unknown, last4: try row.string("card_last4"),
                                      installments: try row.int("installments"))
        let documentID = try await Documents.issue(
            .taxInvoiceReceipt, amount: amount, chargeID: chargeID, refundID: nil, customerID: try row.string("customer_id"),
            lines: lines, payment: payment, reference: nil, caller: caller, on: db, services: services)
        try await db.raw("UPDATE charges SET document_id = \(bind: documentID) WHERE id = \(bind: chargeID)").run()
    }

    package static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("charges", id: id, caller: caller)
    }

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        var object: JSONObject = [
            "id": .string(try row.string("id")),
            "object": "charge",
            "customer": .string(try row.string("customer_id")),
            "payment_method": .optional(try row.optionalString("payment_method_id")),
            "amount": .int(try row.int("amount")),
            "currency": .string(try row.string("currency")),
            "status": .string(try row.string("status")),
            "description": .optional(try row.optionalString("description")),
            "installments": .object(["count": .int(try row.int("installments"))]),
            "captured": .bool(try row.bool("captured")),
            "refunded_amount": .int(try row.int("refunded_amount")),
            // The code-like reason clients read first; the same words as failure_code (see docs/compatibility.md).
            "failure_reason": .optional(try row.optionalString("failure_code")),
            "failure_code": .optional(try row.optionalString("failure_code")),
            "failure_message": .optional(try row.optionalString("failure_message")),
            "capture_method": .string(try row.string("capture_method")),
            "amount_captured": .int(try row.int("amount_captured")),
            "authorized_at": .optional(try row.optionalTimestamp("authorized_at")?.iso8601),
            "captured_at": .optional(try row.optionalTimestamp("captured_at")?.iso8601),
            "card_brand": .string(try row.string("card_brand")),
            "card_last4": .optional(try row.string("card_last4").isEmpty ? nil : try row.string("card_last4")),
            "wallet_method": .null,
            "document": .optional(try row.optionalString("document_id")),
            "checkout_session": .optional(try row.optionalString("checkout_session_id")),
            "line_items": try row.optionalJSON("line_items") ?? .null,
            "subscription": .optional(try row.optionalString("subscription_id")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ]
        if let capturableUntil = try row.optionalTimestamp("capturable_until") {
            object["capturable_until"] = .string(capturableUntil.iso8601)
            object["cancellation_reason"] = .optional(try row.optionalString("cancellation_reason"))
        }
        return .object(object)
    }

    /// Takes `requested` (default all) of an authorization (the rest is released) and issues its document (`charge.captured`).
    package static func capture(_ id: String, amount requested: Int64?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        let (reference, amount) = try await services.database.read { db in
            guard let row = try await Charges.row(id, caller: caller, on: db) else { throw ServiceError.notFound("charge", id) }
            guard try row.string("status") == "requires_capture" else {
                throw ServiceError.rule("charge_not_capturable", "Only an authorized (requires_capture) charge can be captured; this one is \(try row.string("status")).")
            }
            if let until = try row.optionalTimestamp("capturable_until"), now >= until {
                throw ServiceError.rule("charge_authorization_expired", "The authorization expired at \(until.iso8601); it can no longer be captured.")
            }
            let authorized = try row.int("amount")
            let amount = requested ?? authorized
            guard amount <= authorized else {
                throw ServiceError.rule("capture_amount_too_large", "At most the authorized \(authorized) agorot can be captured.")
            }
            return (try row.optionalString("provider_reference") ?? "", amount)
        }
        guard case .approved = await services.provider(for: caller).capture(reference: reference, amount: amount) else {
            throw ServiceError.rule("provider_error", "The provider did not capture the authorization; try again.", kind: .upstream)
        }
        return try await services.database.transaction { db in
            let claimed = try await db.raw("""
                UPDATE charges SET status = 'succeeded', captured = 1, amount_captured = \(bind: amount), captured_at = \(bind: now.milliseconds)
                WHERE id = \(bind: id) AND status = 'requires_capture' RETURNING line_items, description
                """).first()
            guard let claimed else { throw ServiceError.rule("charge_not_capturable", "The charge was captured or canceled meanwhile.") }
            let session = try await db.raw("SELECT create_document FROM checkout_sessions WHERE charge_id = \(bind: id)").first()
            if try session?.bool("create_document") ?? true {
                let items = try claimed.optionalJSON("line_items")
                let full = try await Charges.row(id, caller: caller, on: db)!
                let lines = try amount == full.int("amount") ? items.map(Documents.lines(fromLineItems:)) : nil
                try await Charges.issueReceipt(chargeID: id, amount: amount, caller: caller, on: db, services: services,
                    lines: lines ?? [DocumentLine(description: try claimed.optionalString("description") ?? "Captured payment", quantity: 1, unitAmount: amount)])
            }
            let charge = try await Charges.load(id, caller: caller, on: db)!
            try await Events.record("charge.captured", data: charge, caller: caller, on: db, services: services)
            return charge
        }
    }

    /// Releases an authorization (`charge.canceled`).
    package static func cancel(_ id: String, reason: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let reference = try await services.database.read { db in
            guard let row = try await Charges.row(id, caller: caller, on: db) else { throw ServiceError.notFound("charge", id) }
            guard try row.string("status") == "requires_capture" else {
                throw ServiceError.rule("charge_not_cancelable", "Only an authorized (requires_capture) charge can be canceled; refund a captured one.")
            }
            return try row.optionalString("provider_reference") ?? ""
        }
        let charge = try await Charges.void(id, reference: reference, reason: reason, caller: caller, services: services)
        guard let charge else { throw ServiceError.rule("charge_not_cancelable", "The charge was captured or canceled meanwhile.") }
        return charge
    }

    /// Charges a saved card now (`POST /charges`). A decline is recorded, then thrown as `CHARGE_FAILED` with the failed charge.
    package static func create(customerID: String, paymentMethodID: String, amount: Int64, description: String?, installments: Int64,
                               metadata: [String: String], caller: Caller, services: AppServices) async throws -> JSONValue {
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

        let result = await services.provider(for: caller).charge(token: card.token, amount: amount, installments: Int(installments), capture: true, idempotencyKey: nil)
        let charge = try await services.database.transaction { db in
            try await Charges.record(
                Charges.NewCharge(customerID: customerID, paymentMethodID: paymentMethodID, amount: amount, description: description,
                          installments: installments, metadata: metadata, card: card),
                result: result, caller: caller, on: db, services: services)
        }
        if case .declined(let decline) = result {
            var error = ServiceError(.paymentFailed, "CHARGE_FAILED", decline.message)
            error.extra["charge"] = charge
            throw error
        }
        return charge
    }

    /// Gives back money the provider approved that will not be recorded: voids an authorization
    /// (`authorizationOnly`) or refunds a charge. True when the provider took it back; false when
    /// there was nothing to undo or it refused.
    package static func undo(_ result: ProviderResult?, amount: Int64, authorizationOnly: Bool = false, caller: Caller,
                             services: AppServices) async -> Bool {
        guard case .approved(let reference) = result else { return false }
        let provider = services.provider(for: caller)
        let undone = authorizationOnly ? await provider.void(reference: reference) : await provider.refund(reference: reference, amount: amount)
        if case .approved = undone { return true }
        return false
    }
}

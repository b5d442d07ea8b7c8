import ChingDomain
import ChingProviders
import ChingStore
import Foundation
import Logging

/// What a card attempt on a hosted page (checkout or setup) came to.
package enum HostedOutcome<Session: Sendable>: Sendable {
    case succeeded(Session)
    case requiresAuthentication(attemptID: String)
    case declined(Decline)
    /// Field errors keyed by form field: `number`, `expiry`, `cvc`, `israeli_id`, `installments`, `payment_method`, `name`.
    case invalid([String: CheckoutPayment.FieldError])
    /// Another attempt on this session is in flight.
    case busy
    case locked(until: Timestamp)
    /// Not pending any more: `succeeded`, `expired` or `canceled`.
    case notPayable(Session, status: HostedSessionStatus)
}

/// What the payment services and the hosted pages need of a session, checkout or setup.
package protocol HostedSession: Sendable {
    var id: String { get }
    var caller: Caller { get }
    var csrfToken: String { get }
    var successURL: String { get }
    var cancelURL: String { get }
    var storedStatus: HostedSessionStatus { get }
    var expiresAt: Timestamp { get }
    var lockedUntil: Timestamp? { get }
    /// What the merchant's URLs may carry for the session's id (`{CHECKOUT_SESSION_ID}`).
    static var idPlaceholder: String { get }
}

extension HostedSession {
    /// A pending session past `expires_at` reads as expired, whether or not the sweeper has run.
    package func status(at now: Timestamp) -> HostedSessionStatus { HostedSessionStatus.at(now, stored: storedStatus, expiresAt: expiresAt) }

    /// The merchant's URLs with the session's id put in for the placeholder.
    package var successRedirect: String { successURL.replacingOccurrences(of: Self.idPlaceholder, with: id) }
    package var cancelRedirect: String { cancelURL.replacingOccurrences(of: Self.idPlaceholder, with: id) }
}

extension HostedOutcome where Session: HostedSession {
    /// The answer for a session that is no longer pending or is locked; nil when it may be tried.
    package static func refusal(_ session: Session, now: Timestamp) -> Self? {
        let status = session.status(at: now)
        if status != .pending { return .notPayable(session, status: status) }
        if let until = session.lockedUntil, until > now { return .locked(until: until) }
        return nil
    }
}

/// Paying a checkout session; the hosted page and `POST /checkout_sessions/:id/confirm` both go
/// through here.
///
/// Only one attempt per session runs at a time: an attempt first claims a lease on the session
/// row (`attempt_started_at`) with a conditional UPDATE, and the transaction that records a
/// success moves the session from `pending` to `succeeded` with another, so a double click, a
/// refreshed POST or two tabs can never charge twice. The provider is called outside any
/// transaction; the lease keeps the sweeper and the merchant's `expire` off the session meanwhile.
package struct CheckoutPayment: Sendable {
    package let services: AppServices
    package init(services: AppServices) { self.services = services }
    package var attempts: SessionAttempts { SessionAttempts(services: services, table: .checkout) }

    /// A new card as typed. Only in memory: it goes to the provider and is dropped.
    package struct CardForm: Sendable {
        package var number = ""
        package var expMonth: Int?
        package var expYear: Int?
        package var cvc = ""
        package var holderName: String?
        package var israeliID: String?

        package init(number: String = "", expMonth: Int? = nil, expYear: Int? = nil, cvc: String = "", holderName: String? = nil, israeliID: String? = nil) {
            self.number = number; self.expMonth = expMonth; self.expYear = expYear; self.cvc = cvc
            self.holderName = holderName; self.israeliID = israeliID
        }
    }

    package enum Method: Sendable {
        case newCard(CardForm)
        case savedCard(String)
    }

    /// Why a field was refused; the page shows the locale string `error.<rawValue>` beside the field.
    package enum FieldError: String, Sendable {
        case numberMissing = "number_missing", numberInvalid = "number_invalid"
        case expiryMissing = "expiry_missing", expiryInvalid = "expiry_invalid", expired
        case cvcMissing = "cvc_missing", cvcInvalid = "cvc_invalid"
        case israeliIDMissing = "israeli_id_missing", israeliIDInvalid = "israeli_id_invalid"
        case installmentsInvalid = "installments_invalid", installmentsUnavailable = "installments_unavailable"
        case savedCardInvalid = "saved_card_invalid", holderNameInvalid = "holder_name_invalid"
        case payerNameInvalid = "payer_name_invalid", payerPhoneInvalid = "payer_phone_invalid"
    }

    package typealias Outcome = HostedOutcome<CheckoutSession>

    /// What the form may offer: installments only for one-time payments, up to the project's maximum.
    package struct Limits: Sendable {
        package let maxInstallments: Int64
        package let requireIsraeliID: Bool
    }

    /// The project's settings, for this session: more than one installment only for one-time payments.
    package static func limits(for offer: CheckoutOffer, settings: PaymentSettings) -> Limits {
        Limits(maxInstallments: offer.plan == nil && offer.totals.dueToday > 0 ? settings.maxInstallments : 1,
               requireIsraeliID: settings.requireIsraeliID)
    }

    package func pay(sessionID: String, method: Method, installments: Int64) async throws -> Outcome {
        let now = services.clock.now()
        guard let session = try await services.database.read({ db in try await db.checkoutSessions.find(sessionID) }) else {
            throw ServiceError.notFound("checkout_session", sessionID)
        }
        if let refusal = Outcome.refusal(session, now: now) { return refusal }
        if try await services.hostedPageProvider(for: session.caller) != nil {
            throw ServiceError.rule("card_form_unavailable", "In live mode the card is taken on Grow's page: send the customer to the session's url.")
        }
        let (offer, limits) = try await services.database.read { db in
            let offer = try await CheckoutOffer.load(for: session, now: try await services.customerTime(session.customerID, on: db), on: db)
            return (offer, Self.limits(for: offer, settings: try await services.paymentSettings(projectID: session.caller.projectID, on: db)))
        }

        var errors: [String: FieldError] = [:]
        if !(1...limits.maxInstallments).contains(installments) { errors["installments"] = .installmentsInvalid }
        var savedCard: Charges.ChargeableCard?
        switch method {
        case .newCard(let form):
            errors.merge(Self.check(form, limits: limits, today: now.date)) { first, _ in first }
        case .savedCard(let paymentMethodID):
            if session.manualCapture {
                errors["payment_method"] = .savedCardInvalid
            } else {
                savedCard = try? await services.database.read { db in
                    try await Charges.chargeableCard(paymentMethodID, customerID: session.customerID, caller: session.caller, on: db)
                }
                if savedCard == nil { errors["payment_method"] = .savedCardInvalid }
            }
        }
        guard errors.isEmpty else { return .invalid(errors) }
        guard let lease = try await attempts.claim(sessionID, now: now) else { return try await busyOutcome(sessionID) }

        do {
            let card: PayingCard
            switch method {
            case .newCard(let form):
                let input = CardInput(number: form.number, expMonth: form.expMonth ?? 0, expYear: form.expYear ?? 0, cvc: form.cvc, holderName: form.holderName)
                switch await services.cardForm(for: session.caller).saveCard(input) {
                case .failure(let decline):
                    try await recordDecline(decline, session: session, offer: offer, brand: input.brand, last4: input.last4, installments: installments,
                                            lease: lease)
                    return .declined(decline)
                case .success(let saved):
                    if services.cardForm(for: session.caller).requiresAuthentication(saved) {
                        let attemptID = try await attempts.startAuthentication(sessionID, card: saved, installments: installments, lease: lease)
                        return .requiresAuthentication(attemptID: attemptID)
                    }
                    card = PayingCard(saved)
                }
            case .savedCard(let paymentMethodID):
                card = PayingCard(savedCard!, paymentMethodID: paymentMethodID)
            }
            return try await charge(session: session, offer: offer, card: card, installments: installments, lease: lease)
        } catch {
            try? await attempts.release(sessionID, lease: lease)
            throw error
        }
    }

    /// The sandbox's challenge page answers here: passing completes the payment, failing counts as a decline.
    package func authenticate(sessionID: String, attemptID: String, passed: Bool) async throws -> Outcome {
        let now = services.clock.now()
        guard let session = try await services.database.read({ db in try await db.checkoutSessions.find(sessionID) }) else {
            throw ServiceError.notFound("checkout_session", sessionID)
        }
        if let refusal = Outcome.refusal(session, now: now) { return refusal }
        guard let (answered, installments) = try await attempts.answerAuthentication(sessionID, attemptID: attemptID, passed: passed) else {
            throw ServiceError.notFound("authentication", attemptID)
        }
        let offer = try await services.database.read { db in
            try await CheckoutOffer.load(for: session, now: try await services.customerTime(session.customerID, on: db), on: db)
        }
        let card = PayingCard(answered)
        guard passed else {
            try await recordDecline(.authenticationFailed, session: session, offer: offer, brand: card.brand, last4: card.last4, installments: installments,
                                    lease: nil)
            return .declined(.authenticationFailed)
        }
        guard let lease = try await attempts.claim(sessionID, now: now) else { return try await busyOutcome(sessionID) }
        do {
            return try await charge(session: session, offer: offer, card: card, installments: installments, lease: lease)
        } catch {
            try? await attempts.release(sessionID, lease: lease)
            throw error
        }
    }

    // MARK: - Steps

    /// The card a payment uses: a saved one, or one just tokenized (saved to the customer only for plans).
    package struct PayingCard: Sendable {
        package let token: String
        package let brand: CardBrand
        package let last4: String
        package let supportsInstallments: Bool
        package let paymentMethodID: String?
        package let providerCard: ProviderCard?

        package init(_ card: ProviderCard) {
            token = card.token; brand = card.brand; last4 = card.last4; supportsInstallments = card.supportsInstallments
            paymentMethodID = nil; providerCard = card
        }

        package init(_ card: Charges.ChargeableCard, paymentMethodID: String) {
            token = card.token; brand = card.brand; last4 = card.last4; supportsInstallments = card.supportsInstallments
            self.paymentMethodID = paymentMethodID; providerCard = nil
        }

        package var chargeable: Charges.ChargeableCard {
            Charges.ChargeableCard(token: token, brand: brand, last4: last4, supportsInstallments: supportsInstallments)
        }
    }

    package static func check(_ form: CardForm, limits: Limits, today: CivilDate) -> [String: FieldError] {
        var errors: [String: FieldError] = [:]
        for (field, problem) in CardCheck.problems(number: form.number, expMonth: form.expMonth, expYear: form.expYear, cvc: form.cvc, today: today) {
            let error: FieldError = switch (field, problem) {
            case (.number, .missing): .numberMissing
            case (.number, _): .numberInvalid
            case (.expiry, .missing): .expiryMissing
            case (.expiry, .expired): .expired
            case (.expiry, _): .expiryInvalid
            case (.cvc, .missing): .cvcMissing
            case (.cvc, _): .cvcInvalid
            }
            errors[field == .expiry ? "expiry" : field.rawValue] = error
        }
        if let name = form.holderName, name.count > 100 { errors["name"] = .holderNameInvalid }
        let id = form.israeliID ?? ""
        if limits.requireIsraeliID && id.isEmpty {
            errors["israeli_id"] = .israeliIDMissing
        } else if !id.isEmpty && !CardCheck.isValidIsraeliID(id) {
            errors["israeli_id"] = .israeliIDInvalid
        }
        return errors
    }

    private func busyOutcome(_ sessionID: String) async throws -> Outcome {
        let now = services.clock.now()
        guard let session = try await services.database.read({ db in try await db.checkoutSessions.find(sessionID) }) else { return .busy }
        return Outcome.refusal(session, now: now) ?? .busy
    }

    /// A decline: the failed charge (when money was due), one more failed attempt, the lock after five.
    private func recordDecline(_ decline: Decline, session: CheckoutSession, offer: CheckoutOffer, brand: CardBrand, last4: String,
                               installments: Int64, lease: HostedSessionRows.Lease?) async throws {
        let now = services.clock.now()
        try await services.database.transaction { db in
            let services = services.at(try await services.customerTime(session.customerID, on: db))
            if offer.totals.dueToday > 0 {
                _ = try await Charges.record(
                    newCharge(session: session, offer: offer, card: Charges.ChargeableCard(token: "", brand: brand, last4: last4, supportsInstallments: false),
                              paymentMethodID: nil, installments: installments, subscriptionID: nil),
                    result: .declined(decline), caller: session.caller, on: db, services: services)
            }
            try await attempts.recordFailure(session.id, lease: lease, now: now, on: db)
        }
    }

    private func newCharge(session: CheckoutSession, offer: CheckoutOffer, card: Charges.ChargeableCard, paymentMethodID: String?,
                           installments: Int64, subscriptionID: String?) -> Charges.NewCharge {
        let lines = offer.chargeLines(session)
        var metadata: [String: String] = [:]
        for (key, value) in session.metadata.objectValue?.entries ?? [] { metadata[key] = value.stringValue }
        var new = Charges.NewCharge(customerID: session.customerID, paymentMethodID: paymentMethodID, amount: offer.totals.dueToday,
                                       description: offer.product?.name ?? (lines.count == 1 ? lines[0].name : nil),
                                       installments: installments, metadata: metadata, card: card)
        new.lineItems = session.kind == .cart || session.kind == .mixed ? .array(session.lines.map(\.json)) : nil
        new.documentLines = lines.map { DocumentLine(description: $0.name, quantity: $0.quantity, unitAmount: $0.unitAmount) }
        new.checkoutSessionID = session.id
        new.subscriptionID = subscriptionID
        new.createDocument = session.createDocument
        new.capture = !session.manualCapture
        return new
    }

    /// The attempt's lease was taken over while the provider was working (this server was judged
    /// dead: a stall of 15 s or more). Nothing of it is recorded; what the provider did is undone.
    package struct LeaseLost: Error {}

    /// Charges what is due (if anything) and, on approval, records everything the success produces in one transaction.
    private func charge(session: CheckoutSession, offer: CheckoutOffer, card: PayingCard, installments: Int64,
                        lease: HostedSessionRows.Lease) async throws -> Outcome {
        if installments > 1, !card.supportsInstallments {
            try await attempts.release(session.id, lease: lease)
            return .invalid(["installments": .installmentsUnavailable])
        }
        let due = offer.totals.dueToday
        let result = due > 0
            ? await services.cardForm(for: session.caller).charge(token: card.token, amount: due, installments: Int(installments), capture: !session.manualCapture, idempotencyKey: nil)
            : nil
        if case .declined(let decline) = result {
            try await recordDecline(decline, session: session, offer: offer, brand: card.brand, last4: card.last4, installments: installments, lease: lease)
            return .declined(decline)
        }
        let now = services.clock.now()
        let caller = session.caller
        do {
            return .succeeded(try await complete(session: session, offer: offer, card: card, installments: installments, result: result, lease: lease, now: now))
        } catch is LeaseLost {
            // Another attempt owns the session now: this one must not leave money taken with no record of it.
            if case .approved = result {
                let undone = await Charges.undo(result, amount: due, authorizationOnly: session.manualCapture, caller: caller, services: services)
                services.logger.log(level: undone ? .warning : .critical, "A payment attempt lost its session to another server after the provider approved it",
                                    metadata: ["session": "\(session.id)", "undone": "\(undone)"])
            }
            return try await busyOutcome(session.id)
        } catch {
            // Recording failed and rolled back: the money goes back rather than staying taken with no record.
            if case .approved = result {
                let undone = await Charges.undo(result, amount: due, authorizationOnly: session.manualCapture, caller: caller, services: services)
                services.logger.critical("A payment could not be recorded after the provider approved it",
                                         metadata: ["session": "\(session.id)", "undone": "\(undone)", "error": "\(String(reflecting: type(of: error)))"])
            }
            throw error
        }
    }

    /// Records an approved (or free) attempt: the charge, the saved card and subscription of a plan,
    /// the session's completion and its event, in one transaction, if `lease` still holds the session.
    package func complete(session: CheckoutSession, offer: CheckoutOffer, card: PayingCard, installments: Int64, result: ProviderResult?,
                          lease: HostedSessionRows.Lease, now: Timestamp, provider: String = "sandbox") async throws -> CheckoutSession {
        let caller = session.caller
        return try await services.database.transaction { db in
            // Records are dated on the customer's time (a test clock's), the session's lease on the server's.
            let services = try await services.forCustomer(session.customerID, on: db)
            var paymentMethodID = card.paymentMethodID
            if offer.plan != nil, paymentMethodID == nil, let providerCard = card.providerCard {
                // Renewals charge this card, so a plan's checkout saves it to the customer.
                let attached = try await PaymentMethods.attach(providerCard, provider: provider, customerID: session.customerID, metadata: [:],
                                                                  caller: caller, on: db, services: services)
                paymentMethodID = attached["id"]?.stringValue
            }
            // A customer who already has a plan changes it; anyone else starts one.
            let subscriptionID = offer.planSwitch?.subscriptionID ?? (offer.plan != nil ? services.ids.make(.subscription) : nil)
            let chargeID = result != nil ? services.ids.make(.charge) : nil
            // subscription.created comes before the first charge.succeeded (as CHING's docs say); each names the other.
            if offer.planSwitch == nil, let plan = offer.plan, let subscriptionID, let priceID = session.priceID {
                try await Subscriptions.create(id: subscriptionID, status: plan.hasTrial ? .trialing : .active, customerID: session.customerID,
                                               priceID: priceID, plan: plan, paymentMethodID: paymentMethodID, chargeID: chargeID,
                                               sessionID: session.id, metadata: session.metadata, caller: caller, on: db, services: services)
            }
            if let result {
                var new = newCharge(session: session, offer: offer, card: card.chargeable, paymentMethodID: paymentMethodID,
                                    installments: installments, subscriptionID: subscriptionID)
                new.id = chargeID
                if provider == "grow" { new.capturableDays = Charges.growAuthorizationDays }
                _ = try await Charges.record(new, result: result, caller: caller, on: db, services: services)
            }
            if let change = offer.planSwitch, let priceID = session.priceID {
                // The subscription changed since the page was shown: nothing is recorded, and what was charged is given back.
                guard try await Subscriptions.applySwitch(change, to: priceID, chargeID: chargeID, paymentMethodID: paymentMethodID,
                                                          caller: caller, on: db, services: services)
                else { throw LeaseLost() }
            }
            let moved = try await db.hostedSessions(.checkout).apply(
                .complete, to: session.id, at: now, by: lease,
                results: .init(chargeID: chargeID, subscriptionID: subscriptionID, paymentMethodID: paymentMethodID))
            // The rollback leaves no half-recorded payment.
            guard moved else { throw LeaseLost() }
            let completed = try await db.checkoutSessions.find(session.id)!
            let json = try CheckoutSessions.json(completed, offer: offer, services: services)
            try await Events.record("checkout_session.completed", data: json, caller: caller, on: db, services: services)
            return completed
        }
    }
}

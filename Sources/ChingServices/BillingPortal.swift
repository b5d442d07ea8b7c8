import ChingDomain
import ChingStore
import Logging

/// The billing portal: a link (`/portal/<token>`) where a customer manages their plans, cards and
/// receipts. The token is the customer's only credential: 256 random bits, shown once in the
/// session's `url`, stored only as its SHA-256. Every action goes through the same operation the
/// API uses, so it writes the same events and documents.
package enum BillingPortal {
    /// How long a link works (the newest CHING docs).
    package static let lifetimeSeconds: Int64 = 30 * 60
    /// The receipts the page lists, newest first.
    package static let documentLimit: Int64 = 50

    package static func tokenHash(_ token: String) -> String { sha256Hex(token) }

    /// `POST /billing_portal_sessions`: a link for an active customer of the caller.
    package static func create(customerID: String, returnURL: String?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        let token = services.ids.hex(byteCount: 32)
        let session = PortalSession(id: services.ids.make(.portalSession), caller: caller, customerID: customerID, returnURL: returnURL,
                                    csrfToken: services.ids.hex(byteCount: 24), expiresAt: now.adding(seconds: lifetimeSeconds), created: now)
        try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            try await db.portalSessions.insert(session, tokenHash: tokenHash(token))
        }
        return json(session, token: token, services: services)
    }

    /// The session as `POST /billing_portal_sessions` answers it, with one of its links.
    package static func json(_ session: PortalSession, token: String?, services: AppServices) -> JSONValue {
        .object([
            "id": .string(session.id),
            "object": "billing_portal_session",
            "customer": .string(session.customerID),
            "url": .optional(token.map { "\(services.publicURL)/portal/\($0)" }),
            "return_url": .optional(session.returnURL),
            "expires_at": .string(session.expiresAt.iso8601),
            "livemode": .bool(session.caller.livemode),
            "created": .string(session.created.iso8601),
        ])
    }

    /// A new link to one of the caller's sessions (an `Idempotency-Key` replay: the answer is kept without its link).
    package static func newLink(_ sessionID: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let token = services.ids.hex(byteCount: 32)
        let session = try await services.database.transaction { db -> PortalSession in
            guard let session = try await db.portalSessions.find(sessionID, caller: caller) else { throw ServiceError.notFound("billing_portal_session", sessionID) }
            try await db.portalSessions.addToken(to: sessionID, tokenHash: tokenHash(token), at: services.clock.now())
            return session
        }
        return json(session, token: token, services: services)
    }

    /// The session a link's token opens (expired ones too: the page says so); nil for an unknown token.
    package static func session(token: String, services: AppServices) async throws -> PortalSession? {
        // Tokens are 64 hex digits; anything else is not looked up.
        guard token.utf8.count == 64, token.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return try await services.database.read { db in try await db.portalSessions.find(tokenHash: tokenHash(token)) }
    }

    /// One plan on the page: the subscription, what it sells, and what it costs per period.
    package struct Plan: Sendable {
        package let subscription: Subscription
        package let productName: String
        package let price: Price?
        /// VAT included; nil when the price is gone.
        package let periodAmount: Int64?
        /// The declined renewal of a `past_due` plan.
        package let failedCharge: Charge?
    }

    /// Everything the page shows.
    package struct View: Sendable {
        package let session: PortalSession
        package let customer: Customer
        package let project: Project?
        package let plans: [Plan]
        package let cards: [PaymentMethod]
        package let documents: [Document]
    }

    /// The page's content, or nil when the customer was deleted since the link was made.
    package static func view(_ session: PortalSession, services: AppServices) async throws -> View? {
        try await services.database.read { db in
            guard let customer = try await db.customers.find(session.customerID, caller: session.caller), !customer.deleted else { return nil }
            var plans: [Plan] = []
            for subscription in try await db.subscriptions.ofCustomer(customer.id, statuses: SubscriptionStatus.cancelable) {
                let sold = try await db.catalog.priceAndProduct(subscription.priceID ?? "", caller: session.caller)
                let (price, product) = (sold?.price, sold?.product)
                let failed = subscription.status == .pastDue ? try await db.charges.find(subscription.latestCharge ?? "", caller: session.caller) : nil
                plans.append(Plan(subscription: subscription, productName: product?.name ?? "", price: price,
                                  periodAmount: try? price?.plan?.periodAmount(), failedCharge: failed))
            }
            return View(session: session, customer: customer, project: try await db.projects.find(session.caller.projectID), plans: plans,
                        cards: try await db.paymentMethods.active(ofCustomer: customer.id).reversed(),
                        documents: try await db.documents.ofCustomer(customer.id, limit: documentLimit))
        }
    }

    // MARK: - Actions (each refuses what is not the session's customer's)

    /// Cancels one of the customer's plans, now or at the period end.
    package static func cancel(_ subscriptionID: String, atPeriodEnd: Bool, session: PortalSession, services: AppServices) async throws {
        try await requireOwn(subscriptionID: subscriptionID, session: session, services: services)
        _ = try await Subscriptions.cancel(subscriptionID, atPeriodEnd: atPeriodEnd, caller: session.caller, services: services)
    }

    /// Undoes a pending cancel at the period end.
    package static func resume(_ subscriptionID: String, session: PortalSession, services: AppServices) async throws {
        try await requireOwn(subscriptionID: subscriptionID, session: session, services: services)
        _ = try await Subscriptions.resume(subscriptionID, caller: session.caller, services: services)
    }

    package static func makeDefault(_ paymentMethodID: String, session: PortalSession, services: AppServices) async throws {
        try await requireOwn(paymentMethodID: paymentMethodID, session: session, services: services)
        _ = try await PaymentMethods.makeDefault(paymentMethodID, caller: session.caller, services: services)
    }

    /// Removes a card, unless it is the only card behind a plan that is still billed
    /// (`card_needed_for_plan`). When the default goes, the newest remaining card becomes the
    /// default. One transaction, with the customer's row held: two tabs cannot each remove one of
    /// the last two cards.
    package static func removeCard(_ paymentMethodID: String, session: PortalSession, services: AppServices) async throws {
        try await services.database.transaction { db in
            try await db.customers.hold(session.customerID)
            let cards = try await db.paymentMethods.active(ofCustomer: session.customerID)
            guard let card = cards.first(where: { $0.id == paymentMethodID }), card.caller == session.caller else {
                throw ServiceError.notFound("payment_method", paymentMethodID)
            }
            let others = cards.filter { $0.id != paymentMethodID }
            if others.isEmpty, try await db.subscriptions.hasPeriodRunning(customerID: session.customerID) {
                throw ServiceError.rule("card_needed_for_plan", "This is the only card paying for a plan; add another card before removing it.", kind: .conflict)
            }
            try await PaymentMethods.detach(paymentMethodID, caller: session.caller, on: db, services: services)
            if card.isDefault, let newest = others.last {
                try await PaymentMethods.setDefault(newest.id, customerID: session.customerID, caller: session.caller, on: db, services: services)
            }
        }
    }

    /// What the portal does when the customer comes back from the setup page.
    package enum Intent: Sendable, Equatable {
        case addCard
        /// Pay a `past_due` plan's failed renewal with the new card, at once.
        case recover(subscriptionID: String)

        var stored: String {
            switch self {
            case .addCard: "add_card"
            case .recover(let id): "recover:" + id
            }
        }

        init?(stored: String?) {
            guard let stored else { return nil }
            if stored == "add_card" { self = .addCard } else if stored.hasPrefix("recover:") {
                self = .recover(subscriptionID: String(stored.dropFirst("recover:".count)))
            } else { return nil }
        }
    }

    /// Opens a setup session for a new card whose success and cancel lead back to the portal
    /// (`/portal/return/<setup session>`); returns its id.
    package static func startSetup(_ intent: Intent, locale: Language, session: PortalSession, services: AppServices) async throws -> String {
        if case .recover(let subscriptionID) = intent {
            let subscription = try await requireOwn(subscriptionID: subscriptionID, session: session, services: services)
            guard subscription.status == .pastDue else {
                throw ServiceError.rule("subscription_not_past_due", "Only a plan whose payment failed can be paid now.", kind: .conflict)
            }
        }
        let back = "\(services.publicURL)/portal/return/\(SetupSession.idPlaceholder)?locale=\(locale.rawValue)"
        let setup = try await SetupSessions.create(customerID: session.customerID, successURL: back, cancelURL: back, metadata: [:],
                                                   caller: session.caller, services: services, portal: (session.id, intent.stored))
        return setup["id"]?.stringValue ?? ""
    }

    /// What coming back from the setup page did.
    package enum Return: Sendable, Equatable {
        case cardAdded, cardNotAdded, planPaid, planStillUnpaid
    }

    /// Where the way back from a setup session leads.
    package enum Back: Sendable {
        /// The portal on a new link, and what was done.
        case portal(token: String, outcome: Return)
        /// The way back was used already, or the portal session has expired (nil: not a portal's setup session).
        case expired(PortalSession?)
    }

    /// The customer is back from a setup session the portal opened (once): a setup left without a
    /// card is canceled, the portal gets a new link (the session's other links keep working), and
    /// the new card pays a past-due plan at once when that is what it was added for.
    package static func returnFromSetup(_ setupID: String, services: AppServices) async throws -> Back {
        let now = services.clock.now()
        let token = services.ids.hex(byteCount: 32)
        let found = try await services.database.transaction { db -> (SetupSession?, PortalSession?, Bool) in
            guard let setup = try await db.setupSessions.find(setupID), let portalID = setup.portalSessionID,
                  let portal = try await db.portalSessions.find(portalID) else { return (nil, nil, false) }
            // Leaving the card form (its cancel link) leaves the setup pending: coming back ends it.
            var ended = setup.storedStatus != .pending
            if !ended { ended = try await db.hostedSessions(.setup).apply(.cancel, to: setupID, at: now) }
            guard portal.expiresAt > now, ended, try await db.setupSessions.takePortalReturn(setupID) else { return (setup, portal, false) }
            try await db.portalSessions.addToken(to: portal.id, tokenHash: tokenHash(token), at: now)
            return (try await db.setupSessions.find(setupID), portal, true)
        }
        guard case (let setup?, let portal?, true) = found else { return .expired(found.1) }
        guard setup.storedStatus == .succeeded, let card = setup.paymentMethodID else { return .portal(token: token, outcome: .cardNotAdded) }
        guard case .recover(let subscriptionID) = Intent(stored: setup.portalIntent) else { return .portal(token: token, outcome: .cardAdded) }
        do {
            return .portal(token: token, outcome: try await payNow(subscriptionID, with: card, portal: portal, services: services) ? .planPaid : .planStillUnpaid)
        } catch {
            // The card is saved either way; the plan stays as the page will show it.
            services.logger.warning("Paying a past-due plan from the portal failed", metadata: ["subscription": "\(subscriptionID)",
                                                                                                  "error": "\(String(reflecting: type(of: error)))"])
            return .portal(token: token, outcome: .planStillUnpaid)
        }
    }

    /// Makes `card` the customer's and the plan's card and charges the failed renewal to it now; true when the plan is paid.
    private static func payNow(_ subscriptionID: String, with card: String, portal: PortalSession, services: AppServices) async throws -> Bool {
        _ = try await PaymentMethods.makeDefault(card, caller: portal.caller, services: services)
        _ = try await Subscriptions.update(subscriptionID, .init(metadata: nil, defaultPaymentMethod: card), caller: portal.caller, services: services)
        let clocked = try await services.forSubscription(subscriptionID)
        _ = try await Renewals.renew(subscriptionID, now: clocked.clock.now(), services: clocked, customerCard: card)
        let after = try await services.database.read { db in try await db.subscriptions.find(subscriptionID, caller: portal.caller) }
        return after?.status == .active
    }

    @discardableResult
    private static func requireOwn(subscriptionID: String, session: PortalSession, services: AppServices) async throws -> Subscription {
        let subscription = try await services.database.read { db in try await db.subscriptions.find(subscriptionID, caller: session.caller) }
        guard let subscription, subscription.customerID == session.customerID else { throw ServiceError.notFound("subscription", subscriptionID) }
        return subscription
    }

    @discardableResult
    private static func requireOwn(paymentMethodID: String, session: PortalSession, services: AppServices) async throws -> PaymentMethod {
        let card = try await services.database.read { db in try await db.paymentMethods.find(paymentMethodID, caller: session.caller) }
        guard let card, card.customerID == session.customerID, card.isActive else { throw ServiceError.notFound("payment_method", paymentMethodID) }
        return card
    }
}

import ChingDomain
import ChingStore
import Crypto

/// The billing portal: a link (`/portal/<token>`) where a customer manages their plans, cards and
/// receipts. The token is the customer's only credential: 256 random bits, shown once in the
/// session's `url`, stored only as its SHA-256. Every action goes through the same operation the
/// API uses, so it writes the same events and documents.
package enum BillingPortal {
    /// How long a link works (the newest CHING docs).
    package static let lifetimeSeconds: Int64 = 30 * 60
    /// The receipts the page lists, newest first.
    package static let documentLimit: Int64 = 50

    package static func tokenHash(_ token: String) -> String { hexString(SHA256.hash(data: Array(token.utf8))) }

    /// `POST /billing_portal_sessions`: a link for an active customer of the caller.
    package static func create(customerID: String, returnURL: String?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let now = services.clock.now()
        let token = services.ids.hex(byteCount: 32)
        let session = PortalSession(id: services.ids.make(.portalSession), caller: caller, customerID: customerID, tokenHash: tokenHash(token),
                                    returnURL: returnURL, csrfToken: services.ids.hex(byteCount: 24), expiresAt: now.adding(seconds: lifetimeSeconds),
                                    created: now)
        try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID, caller: caller, on: db)
            try await db.portalSessions.insert(session)
        }
        return .object([
            "id": .string(session.id),
            "object": "billing_portal_session",
            "customer": .string(customerID),
            "url": .string(url(token, services: services)),
            "return_url": .optional(returnURL),
            "expires_at": .string(session.expiresAt.iso8601),
            "livemode": .bool(caller.livemode),
            "created": .string(now.iso8601),
        ])
    }

    package static func url(_ token: String, services: AppServices) -> String { "\(services.publicURL)/portal/\(token)" }

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
        /// The customer's time (a test clock's, or the server's).
        package let now: Timestamp
    }

    /// The page's content, or nil when the customer was deleted since the link was made.
    package static func view(_ session: PortalSession, services: AppServices) async throws -> View? {
        try await services.database.read { db in
            guard let customer = try await db.customers.find(session.customerID, caller: session.caller), !customer.deleted else { return nil }
            var plans: [Plan] = []
            for subscription in try await db.subscriptions.ofCustomer(customer.id, statuses: SubscriptionStatus.cancelable) {
                let price = try await db.catalog.price(subscription.priceID ?? "", caller: session.caller)
                let product = if let price { try await db.catalog.product(price.productID, caller: session.caller) } else { Product?.none }
                let failed = subscription.status == .pastDue ? try await db.charges.find(subscription.latestCharge ?? "", caller: session.caller) : nil
                plans.append(Plan(subscription: subscription, productName: product?.name ?? "", price: price,
                                  periodAmount: try? price?.plan?.periodAmount(), failedCharge: failed))
            }
            return View(session: session, customer: customer, project: try await db.projects.find(session.caller.projectID), plans: plans,
                        cards: try await db.paymentMethods.active(ofCustomer: customer.id).reversed(),
                        documents: try await db.documents.ofCustomer(customer.id, limit: documentLimit),
                        now: try await services.customerTime(customer.id, on: db))
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
    /// (`card_needed_for_plan`). When the default goes, the newest remaining card becomes the default.
    package static func removeCard(_ paymentMethodID: String, session: PortalSession, services: AppServices) async throws {
        let card = try await requireOwn(paymentMethodID: paymentMethodID, session: session, services: services)
        let (others, billed) = try await services.database.read { db in
            (try await db.paymentMethods.active(ofCustomer: session.customerID).filter { $0.id != paymentMethodID },
             try await db.subscriptions.hasPeriodRunning(customerID: session.customerID))
        }
        if others.isEmpty, billed {
            throw ServiceError.rule("card_needed_for_plan", "This is the only card paying for a plan; add another card before removing it.", kind: .conflict)
        }
        _ = try await PaymentMethods.detachCard(paymentMethodID, caller: session.caller, services: services)
        if card.isDefault, let newest = others.last {
            _ = try await PaymentMethods.makeDefault(newest.id, caller: session.caller, services: services)
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

    /// The customer is back from a setup session the portal opened (once per setup session): the
    /// card is in place, a failed plan is retried with it at once, and the portal gets a new link,
    /// since the old one was the way into the card form. Nil when the link back was used already,
    /// is not a portal's, or its portal session has expired.
    package static func returnFromSetup(_ setupID: String, services: AppServices) async throws -> (token: String, outcome: Return)? {
        let now = services.clock.now()
        let found = try await services.database.transaction { db -> (SetupSession, PortalSession)? in
            guard let setup = try await db.setupSessions.find(setupID), let portalID = setup.portalSessionID,
                  let portal = try await db.portalSessions.find(portalID), portal.expiresAt > now,
                  try await db.setupSessions.takePortalReturn(setupID) else { return nil }
            return (setup, portal)
        }
        guard let (setup, portal) = found else { return nil }
        var outcome = Return.cardNotAdded
        if setup.storedStatus == .succeeded, let card = setup.paymentMethodID {
            outcome = .cardAdded
            if case .recover(let subscriptionID) = Intent(stored: setup.portalIntent) {
                outcome = try await payNow(subscriptionID, with: card, portal: portal, services: services) ? .planPaid : .planStillUnpaid
            }
        }
        let token = services.ids.hex(byteCount: 32)
        try await services.database.transaction { db in try await db.portalSessions.replaceToken(portal.id, tokenHash: tokenHash(token)) }
        return (token, outcome)
    }

    /// Makes `card` the customer's and the plan's card and retries the failed renewal now; true when the plan is paid.
    private static func payNow(_ subscriptionID: String, with card: String, portal: PortalSession, services: AppServices) async throws -> Bool {
        _ = try await PaymentMethods.makeDefault(card, caller: portal.caller, services: services)
        _ = try await Subscriptions.update(subscriptionID, .init(metadata: nil, defaultPaymentMethod: card), caller: portal.caller, services: services)
        let clocked = try await services.forSubscription(subscriptionID)
        let now = clocked.clock.now()
        guard try await clocked.database.transaction({ db in try await db.subscriptions.retryNow(subscriptionID, at: now) }) else { return false }
        _ = try await Renewals.renew(subscriptionID, now: now, services: clocked)
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

import ChingDomain
import ChingStore
import SQLKit

/// A checkout session as stored.
package struct CheckoutSession: HostedSession {
    package enum Kind: String, Sendable { case oneTime = "one_time", subscription, cart, mixed }

    package let id: String
    package let caller: Caller
    package let customerID: String
    package let kind: Kind
    package let priceID: String?
    package let lines: [CartLine]
    package let successURL: String
    package let cancelURL: String
    package let createDocument: Bool
    package let manualCapture: Bool
    package let locale: Language?
    package let storedStatus: HostedSessionStatus
    package let csrfToken: String
    package let failedAttempts: Int64
    package let lockedUntil: Timestamp?
    package let attemptStartedAt: Timestamp?
    package let chargeID: String?
    package let subscriptionID: String?
    package let paymentMethodID: String?
    package let metadata: JSONValue
    package let expiresAt: Timestamp
    package let completedAt: Timestamp?
    package let created: Timestamp

    package init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
        customerID = try row.string("customer_id")
        kind = Kind(rawValue: try row.string("kind")) ?? .cart
        priceID = try row.optionalString("price_id")
        lines = CheckoutSessions.cartLines(try row.optionalJSON("line_items") ?? .null)
        successURL = try row.string("success_url")
        cancelURL = try row.string("cancel_url")
        createDocument = try row.bool("create_document")
        manualCapture = try row.string("capture_method") == "manual"
        locale = try row.optionalString("locale").flatMap(Language.init(rawValue:))
        storedStatus = HostedSessionStatus(rawValue: try row.string("status")) ?? .pending
        csrfToken = try row.string("csrf_token")
        failedAttempts = try row.int("failed_attempts")
        lockedUntil = try row.optionalTimestamp("locked_until")
        attemptStartedAt = try row.optionalTimestamp("attempt_started_at")
        chargeID = try row.optionalString("charge_id")
        subscriptionID = try row.optionalString("subscription_id")
        paymentMethodID = try row.optionalString("payment_method_id")
        metadata = try row.metadata()
        expiresAt = try row.timestamp("expires_at")
        completedAt = try row.optionalTimestamp("completed_at")
        created = try row.timestamp("created")
    }

    package static let idPlaceholder = "{CHECKOUT_SESSION_ID}"

    package static func load(_ id: String, on db: any SQLDatabase) async throws -> CheckoutSession? {
        try await db.raw("SELECT * FROM checkout_sessions WHERE id = \(bind: id)").first().map(CheckoutSession.init)
    }
}

/// What a session sells, read from its price and product: the page, the totals and the charge use it.
package struct CheckoutOffer: Sendable {
    package struct Product: Sendable {
        package let name: String
        package let description: String?
        package let imageURL: String?
        package let features: [(title: String, subtitle: String?)]
    }

    package let product: Product?
    package let oneTimePrice: (amount: Int64, vatExclusive: Bool)?
    package let plan: Plan?
    package let totals: CheckoutTotals

    /// The lines of the charge and its document: the cart, then the price or the plan's first period when billed now.
    package func chargeLines(_ session: CheckoutSession) -> [CartLine] {
        var lines = session.lines
        if let product, let price = oneTimePrice {
            // The totals were computed (and checked) from the same price: this sum fits.
            lines.append(CartLine(name: product.name, unitAmount: price.vatExclusive ? (try? VAT.gross(ofExclusive: price.amount)) ?? 0 : price.amount, quantity: 1))
        }
        if let product, plan?.hasTrial == false, let period = totals.recurringAmount {
            lines.append(CartLine(name: product.name, unitAmount: period, quantity: 1))
        }
        return lines
    }

    package static func load(for session: CheckoutSession, now: Timestamp, on db: any SQLDatabase) async throws -> CheckoutOffer {
        var product: Product?, oneTime: (Int64, Bool)?, plan: Plan?
        if let priceID = session.priceID,
           let price = try await db.raw("SELECT * FROM prices WHERE id = \(bind: priceID)").first(),
           let productRow = try await db.raw("SELECT * FROM products WHERE id = \(bind: try price.string("product_id"))").first() {
            let features = (try productRow.json("features").arrayValue ?? []).map {
                (title: $0["title"]?.stringValue ?? "", subtitle: $0["subtitle"]?.stringValue)
            }
            product = Product(name: try productRow.string("name"), description: try productRow.optionalString("description"),
                              imageURL: try productRow.optionalString("image_url"), features: features)
            let exclusive = try price.string("tax_mode") == "exclusive"
            if let interval = try price.optionalString("recurring_interval").flatMap(BillingInterval.init(rawValue:)) {
                plan = Plan(unitAmount: try price.int("unit_amount"), interval: interval, intervalCount: try price.optionalInt("interval_count") ?? 1,
                            trialDays: try price.optionalInt("trial_period_days") ?? 0, vatExclusive: exclusive)
            } else {
                oneTime = (try price.int("unit_amount"), exclusive)
            }
        }
        let totals = try CheckoutTotals.compute(lines: session.lines, oneTimePrice: oneTime, plan: plan, now: now)
        return CheckoutOffer(product: product, oneTimePrice: oneTime, plan: plan, totals: totals)
    }
}

/// Checkout sessions as the API returns them.
package enum CheckoutSessions {
    package static let lifetimeSeconds: Int64 = 30 * 60

    package enum CaptureMethod: String, CaseIterable { case automatic, manual }

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue? {
        guard let session = try await db.scopedRow("checkout_sessions", id: id, caller: caller).map(CheckoutSession.init) else { return nil }
        return try json(session, offer: try await CheckoutOffer.load(for: session, now: services.clock.now(), on: db), services: services)
    }

    package static func json(_ line: CartLine) -> JSONValue {
        .object(["name": .string(line.name), "amount_agorot": .int(line.unitAmount), "quantity": .int(line.quantity),
                 "description": .optional(line.description), "image_url": .optional(line.imageURL)])
    }

    package static func cartLines(_ json: JSONValue) -> [CartLine] {
        (json.arrayValue ?? []).map {
            CartLine(name: $0["name"]?.stringValue ?? "", description: $0["description"]?.stringValue, imageURL: $0["image_url"]?.stringValue,
                     unitAmount: $0["amount_agorot"]?.intValue ?? 0, quantity: $0["quantity"]?.intValue ?? 1)
        }
    }

    package static func json(_ session: CheckoutSession, offer: CheckoutOffer, services: AppServices) throws -> JSONValue {
        let totals = offer.totals
        return .object([
            "id": .string(session.id),
            "object": "checkout_session",
            "url": .string("\(services.publicURL)/checkout/\(session.id)"),
            "customer": .string(session.customerID),
            "kind": .string(session.kind.rawValue),
            "status": .string(session.status(at: services.clock.now()).rawValue),
            "price": .optional(session.priceID),
            "line_items": session.kind == .cart || session.kind == .mixed ? .array(session.lines.map(json)) : .null,
            "currency": "ils",
            "amount_subtotal": .int(totals.subtotal),
            "amount_discount": .int(-totals.discounts),
            "amount_due_today": .int(totals.dueToday),
            "amount_vat": .int(totals.vat),
            "recurring": offer.plan.map { plan in
                .object(["amount": .optional(totals.recurringAmount), "interval": .string(plan.interval.rawValue),
                         "interval_count": .int(plan.intervalCount), "trial_period_days": .int(plan.trialDays),
                         "first_billing_at": .optional(totals.firstBillingAt?.iso8601)])
            } ?? .null,
            "capture_method": .string(session.manualCapture ? "manual" : "automatic"),
            "create_document": .bool(session.createDocument),
            "locale": .optional(session.locale?.rawValue),
            "success_url": .string(session.successURL),
            "cancel_url": .string(session.cancelURL),
            "charge": .optional(session.chargeID),
            "subscription": .optional(session.subscriptionID),
            "payment_method": .optional(session.paymentMethodID),
            "metadata": session.metadata,
            "livemode": .bool(session.caller.livemode),
            "expires_at": .string(session.expiresAt.iso8601),
            "completed_at": .optional(session.completedAt?.iso8601),
            "created": .string(session.created.iso8601),
        ])
    }
}

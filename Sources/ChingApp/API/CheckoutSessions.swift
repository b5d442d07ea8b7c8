import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// A checkout session as stored.
struct CheckoutSession: HostedSession {
    enum Kind: String, Sendable { case oneTime = "one_time", subscription, cart, mixed }

    let id: String
    let caller: Caller
    let customerID: String
    let kind: Kind
    let priceID: String?
    let lines: [CartLine]
    let successURL: String
    let cancelURL: String
    let createDocument: Bool
    let manualCapture: Bool
    let locale: Language?
    let storedStatus: HostedSessionStatus
    let csrfToken: String
    let failedAttempts: Int64
    let lockedUntil: Timestamp?
    let attemptStartedAt: Timestamp?
    let chargeID: String?
    let subscriptionID: String?
    let paymentMethodID: String?
    let metadata: JSONValue
    let expiresAt: Timestamp
    let completedAt: Timestamp?
    let created: Timestamp

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = Caller(projectID: try row.string("project_id"), livemode: try row.bool("livemode"))
        customerID = try row.string("customer_id")
        kind = Kind(rawValue: try row.string("kind")) ?? .cart
        priceID = try row.optionalString("price_id")
        lines = CheckoutSessionsAPI.cartLines(try row.optionalJSON("line_items") ?? .null)
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

    static let idPlaceholder = "{CHECKOUT_SESSION_ID}"

    static func load(_ id: String, on db: any SQLDatabase) async throws -> CheckoutSession? {
        try await db.raw("SELECT * FROM checkout_sessions WHERE id = \(bind: id)").first().map(CheckoutSession.init)
    }
}

/// What a session sells, read from its price and product: the page, the totals and the charge use it.
struct CheckoutOffer: Sendable {
    struct Product: Sendable {
        let name: String
        let description: String?
        let imageURL: String?
        let features: [(title: String, subtitle: String?)]
    }

    let product: Product?
    let oneTimePrice: (amount: Int64, vatExclusive: Bool)?
    let plan: Plan?
    let totals: CheckoutTotals

    /// The lines of the charge and its document: the cart, then the price or the plan's first period when billed now.
    func chargeLines(_ session: CheckoutSession) -> [CartLine] {
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

    static func load(for session: CheckoutSession, now: Timestamp, on db: any SQLDatabase) async throws -> CheckoutOffer {
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

/// `/checkout_sessions`: a hosted page for one payment (a price, a cart, or a plan plus items).
struct CheckoutSessionsAPI: Sendable {
    let services: AppServices
    static let lifetimeSeconds: Int64 = 30 * 60

    enum CaptureMethod: String, CaseIterable { case automatic, manual }

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("checkout_sessions", use: endpoint(create))
        group.get("checkout_sessions", use: endpoint(list))
        group.get("checkout_sessions/:id", use: endpoint(retrieve))
        group.post("checkout_sessions/:id/expire", use: endpoint(expire))
    }

    /// POST /checkout_sessions
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "price", "line_items", "success_url", "cancel_url", "create_document",
                                            "capture_method", "metadata", "locale"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let priceID = reader.id("price", prefix: .price)
        var lines: [CartLine]?
        if let items = reader.array("line_items", count: 1...50) {
            lines = []
            for var item in items {
                item.rejectUnknownFields(allowing: ["name", "amount_agorot", "quantity", "description", "image_url"])
                let name = item.string("name", required: true, maxLength: 255)
                let amount = item.integer("amount_agorot", required: true, in: -Money.maximumAmount...Money.maximumAmount)
                let quantity = item.integer("quantity", in: 1...1000) ?? 1
                let description = item.string("description", maxLength: 500)
                let imageURL = item.url("image_url", allowHTTP: false)
                reader.merge(item)
                if let name, let amount {
                    lines?.append(CartLine(name: name, description: description, imageURL: imageURL, unitAmount: amount, quantity: quantity))
                }
            }
        }
        if priceID == nil, !reader.hasValue("line_items"), !reader.hasValue("price") {
            reader.fail("price", "Send price, line_items, or both (a recurring price with items).")
        }
        let successURL = reader.url("success_url", required: true, allowHTTP: !call.caller.livemode)
        let cancelURL = reader.url("cancel_url", required: true, allowHTTP: !call.caller.livemode)
        let createDocument = reader.boolean("create_document") ?? true
        let capture: CaptureMethod = reader.choice("capture_method") ?? .automatic
        let metadata = reader.metadata() ?? [:]
        let locale: Language? = reader.choice("locale")
        try reader.throwIfInvalid()

        let caller = call.caller, cart = lines
        let now = services.clock.now()
        let id = services.ids.make(.checkoutSession)
        let session = try await services.database.transaction { db in
            _ = try await CustomersAPI.requireActive(customerID!, caller: caller, on: db)
            var kind = CheckoutSession.Kind.cart
            if let priceID {
                guard let price = try await CatalogAPI.priceRow(priceID, caller: caller, on: db) else { throw APIError.notFound("price", priceID) }
                guard try price.bool("active") else { throw APIError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
                let recurring = try price.string("type") == "recurring"
                if cart != nil {
                    guard recurring else {
                        throw APIError.rule("mixed_requires_recurring_price", "A price with line_items must be recurring; send a one-time price's amount as a line item instead.")
                    }
                    kind = .mixed
                } else {
                    kind = recurring ? .subscription : .oneTime
                }
            }
            if capture == .manual {
                if kind == .subscription { throw APIError.rule("capture_method_not_supported_for_recurring", "Manual capture is only for one-time prices and carts.") }
                if kind == .mixed { throw APIError.rule("capture_method_not_supported_for_mixed", "Manual capture is only for one-time prices and carts.") }
            }
            do {
                _ = try CheckoutTotals.compute(lines: cart ?? [], now: now)
            } catch let problem as CheckoutTotals.Problem {
                throw APIError.rule("cart_total_invalid", problem == .negativeTotal
                    ? "The line items add up to less than zero; discounts cannot exceed the cart."
                    : "The line items add up to more than one charge can carry.")
            }
            let items: JSONValue? = cart.map { .array($0.map(Self.json)) }
            try await db.raw("""
                INSERT INTO checkout_sessions (id, project_id, livemode, customer_id, kind, price_id, line_items, success_url, cancel_url,
                  create_document, capture_method, locale, status, csrf_token, metadata, expires_at, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID!), \(bind: kind.rawValue),
                  \(bind: priceID), \(bind: items?.serialized()), \(bind: successURL!), \(bind: cancelURL!), \(bind: createDocument.stored),
                  \(bind: capture.rawValue), \(bind: locale?.rawValue), 'pending', \(bind: services.ids.hex(byteCount: 24)),
                  \(bind: metadata.storedJSON), \(bind: now.adding(seconds: Self.lifetimeSeconds).milliseconds), \(bind: now.milliseconds))
                """).run()
            let session = try await CheckoutSession.load(id, on: db)!
            let offer = try await CheckoutOffer.load(for: session, now: now, on: db)
            if offer.totals.dueToday > Money.maximumAmount {
                throw APIError.rule("cart_total_invalid", "The amount due is more than one charge can carry.")
            }
            return try Self.json(session, offer: offer, services: services)
        }
        return APIResponse(session)
    }

    /// GET /checkout_sessions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let session = try await services.database.read { db in try await Self.load(call.id, caller: call.caller, on: db, services: services) }
        guard let session else { throw APIError.notFound("checkout_session", call.id) }
        return APIResponse(session)
    }

    /// GET /checkout_sessions
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await services.database.read { db in
            let page = try await ListPage.read(call, table: "checkout_sessions", on: db)
            let rows = try await page.rows(on: db)
            var sessions: [JSONValue] = []
            for row in rows {
                let session = try CheckoutSession(row)
                sessions.append(try Self.json(session, offer: try await CheckoutOffer.load(for: session, now: services.clock.now(), on: db), services: services))
            }
            return page.response(sessions)
        }
    }

    /// POST /checkout_sessions/:id/expire: the merchant withdraws a pending session (it becomes `canceled`).
    @Sendable func expire(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        let now = services.clock.now()
        let session = try await services.database.transaction { db in
            guard let session = try await db.scopedRow("checkout_sessions", id: call.id, caller: call.caller).map(CheckoutSession.init)
            else { throw APIError.notFound("checkout_session", call.id) }
            guard try await HostedSessionRows(.checkout).apply(.cancel, to: call.id, at: now, on: db) else {
                throw APIError.rule("SESSION_NOT_PENDING", "Only a pending session can be expired; this one is \(session.status(at: now).rawValue).", status: .conflict)
            }
            return try await Self.load(call.id, caller: call.caller, on: db, services: services)!
        }
        return APIResponse(session)
    }

    // MARK: - JSON

    static func load(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue? {
        guard let session = try await db.scopedRow("checkout_sessions", id: id, caller: caller).map(CheckoutSession.init) else { return nil }
        return try json(session, offer: try await CheckoutOffer.load(for: session, now: services.clock.now(), on: db), services: services)
    }

    static func json(_ line: CartLine) -> JSONValue {
        .object(["name": .string(line.name), "amount_agorot": .int(line.unitAmount), "quantity": .int(line.quantity),
                 "description": .optional(line.description), "image_url": .optional(line.imageURL)])
    }

    static func cartLines(_ json: JSONValue) -> [CartLine] {
        (json.arrayValue ?? []).map {
            CartLine(name: $0["name"]?.stringValue ?? "", description: $0["description"]?.stringValue, imageURL: $0["image_url"]?.stringValue,
                     unitAmount: $0["amount_agorot"]?.intValue ?? 0, quantity: $0["quantity"]?.intValue ?? 1)
        }
    }

    static func json(_ session: CheckoutSession, offer: CheckoutOffer, services: AppServices) throws -> JSONValue {
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

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// `/checkout_sessions`: a hosted page for one payment (a price, a cart, or a plan plus items).
struct CheckoutSessionsAPI: Sendable {
    let services: AppServices

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
        let capture: CheckoutSessions.CaptureMethod = reader.choice("capture_method") ?? .automatic
        let metadata = reader.metadata() ?? [:]
        let locale: Language? = reader.choice("locale")
        try reader.throwIfInvalid()

        let caller = call.caller, cart = lines
        let now = services.clock.now()
        let id = services.ids.make(.checkoutSession)
        let session = try await services.database.transaction { db in
            _ = try await Customers.requireActive(customerID!, caller: caller, on: db)
            var kind = CheckoutSession.Kind.cart
            if let priceID {
                guard let price = try await Catalog.priceRow(priceID, caller: caller, on: db) else { throw ServiceError.notFound("price", priceID) }
                guard try price.bool("active") else { throw ServiceError.rule("price_archived", "The price \(priceID) is archived and cannot be sold.") }
                let recurring = try price.string("type") == "recurring"
                if cart != nil {
                    guard recurring else {
                        throw ServiceError.rule("mixed_requires_recurring_price", "A price with line_items must be recurring; send a one-time price's amount as a line item instead.")
                    }
                    kind = .mixed
                } else {
                    kind = recurring ? .subscription : .oneTime
                }
            }
            if capture == .manual {
                if kind == .subscription { throw ServiceError.rule("capture_method_not_supported_for_recurring", "Manual capture is only for one-time prices and carts.") }
                if kind == .mixed { throw ServiceError.rule("capture_method_not_supported_for_mixed", "Manual capture is only for one-time prices and carts.") }
            }
            do {
                _ = try CheckoutTotals.compute(lines: cart ?? [], now: now)
            } catch let problem as CheckoutTotals.Problem {
                throw ServiceError.rule("cart_total_invalid", problem == .negativeTotal
                    ? "The line items add up to less than zero; discounts cannot exceed the cart."
                    : "The line items add up to more than one charge can carry.")
            }
            let items: JSONValue? = cart.map { .array($0.map(CheckoutSessions.json)) }
            try await db.raw("""
                INSERT INTO checkout_sessions (id, project_id, livemode, customer_id, kind, price_id, line_items, success_url, cancel_url,
                  create_document, capture_method, locale, status, csrf_token, metadata, expires_at, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID!), \(bind: kind.rawValue),
                  \(bind: priceID), \(bind: items?.serialized()), \(bind: successURL!), \(bind: cancelURL!), \(bind: createDocument.stored),
                  \(bind: capture.rawValue), \(bind: locale?.rawValue), 'pending', \(bind: services.ids.hex(byteCount: 24)),
                  \(bind: metadata.storedJSON), \(bind: now.adding(seconds: CheckoutSessions.lifetimeSeconds).milliseconds), \(bind: now.milliseconds))
                """).run()
            let session = try await CheckoutSession.load(id, on: db)!
            let offer = try await CheckoutOffer.load(for: session, now: now, on: db)
            if offer.totals.dueToday > Money.maximumAmount {
                throw ServiceError.rule("cart_total_invalid", "The amount due is more than one charge can carry.")
            }
            return try CheckoutSessions.json(session, offer: offer, services: services)
        }
        return APIResponse(session)
    }

    /// GET /checkout_sessions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let session = try await services.database.read { db in try await CheckoutSessions.load(call.id, caller: call.caller, on: db, services: services) }
        guard let session else { throw ServiceError.notFound("checkout_session", call.id) }
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
                sessions.append(try CheckoutSessions.json(session, offer: try await CheckoutOffer.load(for: session, now: services.clock.now(), on: db), services: services))
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
            else { throw ServiceError.notFound("checkout_session", call.id) }
            guard try await HostedSessionRows(.checkout).apply(.cancel, to: call.id, at: now, on: db) else {
                throw ServiceError.rule("SESSION_NOT_PENDING", "Only a pending session can be expired; this one is \(session.status(at: now).rawValue).", kind: .conflict)
            }
            return try await CheckoutSessions.load(call.id, caller: call.caller, on: db, services: services)!
        }
        return APIResponse(session)
    }

    // MARK: - JSON

}

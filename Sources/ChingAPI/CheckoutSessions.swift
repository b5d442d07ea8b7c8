import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird

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
        return APIResponse(try await CheckoutSessions.create(
            CheckoutSessions.NewSession(customerID: customerID!, priceID: priceID, lines: lines, successURL: successURL!, cancelURL: cancelURL!,
                                        createDocument: createDocument, capture: capture, metadata: metadata, locale: locale),
            caller: call.caller, services: services))
    }

    /// GET /checkout_sessions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let session = try await services.database.read { db in try await CheckoutSessions.load(call.id, caller: call.caller, on: db, services: services) }
        guard let session else { throw ServiceError.notFound("checkout_session", call.id) }
        return APIResponse(session)
    }

    /// GET /checkout_sessions
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, request in
            let page = try await db.checkoutSessions.list(caller: call.caller, request)
            var sessions: [JSONValue] = []
            for session in page.items {
                let offer = try await CheckoutOffer.load(for: session, now: try await services.customerTime(session.customerID, on: db), on: db)
                sessions.append(try CheckoutSessions.json(session, offer: offer, services: services))
            }
            return Page(items: sessions, hasMore: page.hasMore)
        }, json: { $0 })
    }

    /// POST /checkout_sessions/:id/expire: the merchant withdraws a pending session (it becomes `canceled`).
    @Sendable func expire(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await CheckoutSessions.expire(call.id, caller: call.caller, services: services))
    }

    // MARK: - JSON

}

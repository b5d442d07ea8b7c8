import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `/subscriptions`: a customer's plan. Created by a checkout with a recurring price; changed,
/// canceled (now or at the period end) and resumed here. Renewals come with the rest of issue 15.
struct SubscriptionsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("subscriptions", use: endpoint(create))
        group.get("subscriptions", use: endpoint(list))
        group.get("subscriptions/:id", use: endpoint(retrieve))
        group.post("subscriptions/:id", use: endpoint(update))
        group.post("subscriptions/:id/cancel", use: endpoint(cancel))
        group.post("subscriptions/:id/resume", use: endpoint(resume))
        group.post("subscriptions/:id/change_price", use: endpoint(changePrice))
    }

    /// POST /subscriptions: `customer`, a recurring `price`, `payment_method` (unless the price is free), `metadata`.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "price", "payment_method", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let priceID = reader.id("price", required: true, prefix: .price)
        let paymentMethodID = reader.id("payment_method", prefix: .paymentMethod)
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        return APIResponse(try await Subscriptions.start(customerID: customerID!, priceID: priceID!, paymentMethodID: paymentMethodID,
                                                         metadata: metadata, caller: call.caller, services: services))
    }

    /// POST /subscriptions/:id: `metadata`, `default_payment_method` (an active card of the customer).
    @Sendable func update(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["metadata", "default_payment_method"])
        let changes = Subscriptions.Changes(metadata: reader.metadata(),
                                            defaultPaymentMethod: reader.id("default_payment_method", prefix: .paymentMethod))
        try reader.throwIfInvalid()
        return APIResponse(try await Subscriptions.update(call.id, changes, caller: call.caller, services: services))
    }

    /// POST /subscriptions/:id/cancel: now (default), or `cancel_at_period_end: true`.
    @Sendable func cancel(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["cancel_at_period_end"])
        let atPeriodEnd = reader.boolean("cancel_at_period_end") ?? false
        try reader.throwIfInvalid()
        return APIResponse(try await Subscriptions.cancel(call.id, atPeriodEnd: atPeriodEnd, caller: call.caller, services: services))
    }

    /// POST /subscriptions/:id/change_price: `price`, `change_timing` (`immediately` | `at_period_end`).
    @Sendable func changePrice(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["price", "change_timing"])
        let priceID = reader.id("price", required: true, prefix: .price)
        let timing: Subscriptions.ChangeTiming? = reader.choice("change_timing")
        try reader.throwIfInvalid()
        return APIResponse(try await Subscriptions.changePrice(call.id, to: priceID!, timing: timing, caller: call.caller, services: services))
    }

    /// POST /subscriptions/:id/resume: undoes a pending cancel at the period end.
    @Sendable func resume(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await Subscriptions.resume(call.id, caller: call.caller, services: services))
    }

    /// GET /subscriptions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let subscription = try await services.database.read { db in try await Subscriptions.load(call.id, caller: call.caller, on: db) }
        guard let subscription else { throw ServiceError.notFound("subscription", call.id) }
        return APIResponse(subscription)
    }

    /// GET /subscriptions (`?customer=`, `?status=`, `?price=`); rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        var reader = call.queryReader
        let customer = reader.id("customer", prefix: .customer), price = reader.id("price", prefix: .price)
        let status: Subscriptions.Status? = reader.choice("status")
        try reader.throwIfInvalid()
        return try await ListPage.respond(call, services: services, { db, page in
            try await db.subscriptions.list(caller: call.caller, page, customerID: customer, status: status, priceID: price)
        }, json: { ListPage.withCustomerName(Subscriptions.json($0), $0.customerName) })
    }

}

import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `/charges`: money taken from a saved card. A successful charge issues its tax document in the
/// same transaction that records it.
struct ChargesAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("charges", use: endpoint(create))
        group.get("charges", use: endpoint(list))
        group.get("charges/:id", use: endpoint(retrieve))
        group.post("charges/:id/capture", use: endpoint(capture))
        group.post("charges/:id/cancel", use: endpoint(cancel))
    }

    enum CancellationReason: String, CaseIterable { case requestedByCustomer = "requested_by_customer", fraudulent, abandoned }

    /// POST /charges/:id/capture: takes `amount` (default all) of an authorization; the rest is released.
    @Sendable func capture(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["amount"])
        let requested = reader.integer("amount", in: 1...Money.maximumAmount)
        try reader.throwIfInvalid()
        return APIResponse(try await Charges.capture(call.id, amount: requested, caller: call.caller, services: services))
    }

    /// POST /charges/:id/cancel: releases an authorization.
    @Sendable func cancel(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["cancellation_reason"])
        let reason: CancellationReason = reader.choice("cancellation_reason") ?? .requestedByCustomer
        try reader.throwIfInvalid()
        return APIResponse(try await Charges.cancel(call.id, reason: reason.rawValue, caller: call.caller, services: services))
    }

    /// POST /charges: create and confirm in one call.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "payment_method", "amount", "currency", "description", "installments", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let paymentMethodID = reader.id("payment_method", required: true, prefix: .paymentMethod)
        let amount = reader.integer("amount", required: true, in: 1...Money.maximumAmount)
        let _: Catalog.Currency? = reader.choice("currency")
        let description = reader.string("description", maxLength: 500)
        let metadata = reader.metadata() ?? [:]
        var installments: Int64 = 1
        if var nested = reader.nested("installments") {
            nested.rejectUnknownFields(allowing: ["count"])
            installments = nested.integer("count", in: 1...12) ?? 1
            reader.merge(nested)
        }
        try reader.throwIfInvalid()
        return APIResponse(try await Charges.create(customerID: customerID!, paymentMethodID: paymentMethodID!, amount: amount!, description: description,
                                                          installments: installments, metadata: metadata, idempotencyKey: call.idempotencyKey,
                                                          caller: call.caller, services: services))
    }

    /// GET /charges/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let charge = try await services.database.read { db in try await Charges.load(call.id, caller: call.caller, on: db) }
        guard let charge else { throw ServiceError.notFound("charge", call.id) }
        return APIResponse(charge)
    }

    /// GET /charges (`?customer=`); rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let customer = call.query["customer"]
        return try await ListPage.respond(call, services: services, { db, page in try await db.charges.list(caller: call.caller, page, customerID: customer) },
                                          json: { ListPage.withCustomerName(Charges.json($0), $0.customerName) })
    }

}

import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `/refunds`: money given back on a succeeded charge, never more than was captured.
struct RefundsAPI: Sendable {
    let services: AppServices

    enum Reason: String, CaseIterable { case requestedByCustomer = "requested_by_customer", duplicate, fraudulent }

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("refunds", use: endpoint(create))
        group.get("refunds", use: endpoint(list))
        group.get("refunds/:id", use: endpoint(retrieve))
    }

    /// POST /refunds
    ///
    /// 1. One conditional UPDATE reserves the amount on the charge (it only matches while
    ///    `amount_captured - refunded_amount` covers it), so concurrent refunds can never exceed
    ///    the charge; the refund row is written `pending` in the same transaction.
    /// 2. The provider is asked outside any transaction.
    /// 3. Success marks the refund `succeeded` with its credit note, event and email; failure
    ///    gives the reserved amount back.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["charge", "amount", "reason", "metadata"])
        let chargeID = reader.id("charge", required: true, prefix: .charge)
        let amount = reader.integer("amount", required: true, in: 1...Money.maximumAmount)
        let reason: Reason? = reader.choice("reason")
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        return APIResponse(try await Refunds.create(chargeID: chargeID!, amount: amount!, reason: reason?.rawValue, metadata: metadata, caller: call.caller,
                                                         services: services))
    }

    /// GET /refunds/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let refund = try await services.database.read { db in try await Refunds.load(call.id, caller: call.caller, on: db) }
        guard let refund else { throw ServiceError.notFound("refund", call.id) }
        return APIResponse(refund)
    }

    /// GET /refunds; rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in try await db.refunds.list(caller: call.caller, page) },
                                   json: { ListPage.withCustomerName(Refunds.json($0), $0.customerName) })
    }

}

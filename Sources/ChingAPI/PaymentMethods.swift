import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `/payment_methods`: saved cards. Only the provider's token and what a customer may see of the
/// card (brand, last four, expiry) are stored.
struct PaymentMethodsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("payment_methods/test-card", use: endpoint(testCard))
        group.get("payment_methods/:id", use: endpoint(retrieve))
        group.post("payment_methods/:id/detach", use: endpoint(detach))
        group.post("payment_methods/:id/set_default", use: endpoint(setDefault))
    }

    /// POST /payment_methods/test-card: attaches a sandbox card (test mode only), Israeli-issued
    /// whatever its number (API.md's decision). `card_index` 0 Visa 4242, 1 Mastercard 5555, 2 Amex 0005, 3 Visa 4580.
    @Sendable func testCard(_ call: APICall) async throws -> APIResponse {
        guard !call.caller.livemode else {
            throw ServiceError.rule("livemode_not_allowed", "Test cards exist only in test mode; use a setup session in live mode.", kind: .forbidden)
        }
        var reader = call.reader(allowing: ["customer", "card_index", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let index = reader.integer("card_index", in: 0...Int64(SandboxProvider.testCards.count - 1)) ?? 0
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        return APIResponse(try await PaymentMethods.attachTestCard(customerID: customerID!, index: Int(index), metadata: metadata, caller: call.caller, services: services))
    }

    /// GET /payment_methods/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let paymentMethod = try await services.database.read { db in try await PaymentMethods.load(call.id, caller: call.caller, on: db) }
        guard let paymentMethod else { throw ServiceError.notFound("payment_method", call.id) }
        return APIResponse(paymentMethod)
    }

    /// POST /payment_methods/:id/detach: the card moves to the customer's inactive list.
    @Sendable func detach(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await PaymentMethods.detachCard(call.id, caller: call.caller, services: services))
    }

    /// POST /payment_methods/:id/set_default
    @Sendable func setDefault(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await PaymentMethods.makeDefault(call.id, caller: call.caller, services: services))
    }

    // MARK: - Rows

}

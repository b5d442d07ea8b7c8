import ChingDomain
import ChingHTTP
import ChingServices
import Hummingbird

/// `/billing_portal_sessions`: a link to the hosted billing portal for one customer.
struct BillingPortalAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        // The answer carries the link's token, which is stored only hashed: it is never kept for an
        // `Idempotency-Key` replay (a second link is harmless; a stored token would not be).
        group.post("billing_portal_sessions", use: endpoint(create, replayable: false))
    }

    /// POST /billing_portal_sessions: `customer` (required), `return_url` (the rules of a checkout's redirect URLs).
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "return_url"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let returnURL = reader.url("return_url", allowHTTP: !call.caller.livemode)
        try reader.throwIfInvalid()
        return APIResponse(try await BillingPortal.create(customerID: customerID!, returnURL: returnURL, caller: call.caller, services: services))
    }
}

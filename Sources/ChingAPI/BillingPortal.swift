import ChingDomain
import ChingHTTP
import ChingServices
import Hummingbird

/// `/billing_portal_sessions`: a link to the hosted billing portal for one customer.
struct BillingPortalAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("billing_portal_sessions", use: endpoint(create, replay: replay))
    }

    /// The answer carries the link's token, which is stored only hashed: an `Idempotency-Key` keeps
    /// the answer without its `url`, and a replay answers the same session with a new link.
    var replay: Idempotency.Replay {
        Idempotency.Replay(
            stored: { response in
                guard var data = (try? JSONValue.parse(response.body))?["data"]?.objectValue, data["url"] != nil else { return response }
                data["url"] = .null
                return RenderedResponse(APIResponse(.object(data), status: response.status))
            },
            answer: { [services] stored, caller in
                guard let id = (try? JSONValue.parse(stored.body))?["data"]?["id"]?.stringValue else { return stored }
                return RenderedResponse(APIResponse(try await BillingPortal.newLink(id, caller: caller, services: services)))
            })
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

import ChingDomain
import ChingServices
import Hummingbird

/// The first start's demo sessions, made through the same endpoints a merchant calls (so they are
/// valid by the same rules): a customer, a checkout for a cart with a discount line, a setup session.
package enum DemoSessions {
    /// The checkout page's and the setup page's URLs.
    package static func create(projectID: String, services: AppServices) async throws -> (checkout: String, setup: String) {
        let caller = Caller(projectID: projectID, livemode: false)
        func call(_ body: JSONValue) -> APICall { APICall(caller: caller, body: body, parameters: Parameters(), query: [:]) }

        let customer = try await CustomersAPI(services: services).create(call([
            "name": "Dana Levi", "email": "dana@example.com", "locale": "he",
        ]))
        let customerID = customer.data["id"]?.stringValue ?? ""
        let checkout = try await CheckoutSessionsAPI(services: services).create(call([
            "customer": .string(customerID),
            "line_items": [
                ["name": "Coffee beans, 1 kg", "amount_agorot": 8900, "quantity": 2],
                ["name": "Ceramic cup", "amount_agorot": 4500],
                ["name": "Welcome discount", "amount_agorot": -2000],
            ],
            "success_url": "https://example.com/thanks?session={CHECKOUT_SESSION_ID}",
            "cancel_url": "https://example.com/cart",
        ]))
        let setup = try await SetupSessionsAPI(services: services).create(call([
            "customer": .string(customerID),
            "success_url": "https://example.com/card-saved?session={SETUP_SESSION_ID}",
            "cancel_url": "https://example.com/account",
        ]))
        return (checkout.data["url"]?.stringValue ?? "", setup.data["url"]?.stringValue ?? "")
    }
}

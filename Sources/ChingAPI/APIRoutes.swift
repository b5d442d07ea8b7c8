import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Hummingbird

/// The JSON API: every endpoint under `/v1` and `/ching/v1`, the customers' PDF links, `/healthz`,
/// and the envelope for anything thrown outside an endpoint (add it first).
package enum APIRoutes {
    package static func add(to router: Router<AppRequestContext>, services: AppServices, limiter: AttemptLimiter) {
        let database = services.database
        router.get("healthz") { _, _ in
            do {
                try await database.ping()
                return RenderedResponse(status: .ok, body: #"{"status":"ok","database":"\#(database.kind.rawValue)"}"#).response
            } catch {
                return RenderedResponse(status: .serviceUnavailable, body: #"{"status":"unavailable","database":"\#(database.kind.rawValue)"}"#).response
            }
        }
        let endpoint = EndpointWrapper(services: services)
        for prefix in ["v1", "ching/v1"] {
            let group = router.group(RouterPath(prefix))
            CustomersAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            PaymentMethodsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            CatalogAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            ChargesAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            RefundsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            DocumentsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            EventsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            CheckoutSessionsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            CheckoutPublicAPI(services: services, limiter: limiter).addRoutes(to: group, endpoint: endpoint)
            SubscriptionsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            SetupSessionsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            BillingPortalAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            EmailsAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            WebhooksAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            OperatorAPI(services: services).addRoutes(to: group, endpoint: endpoint)
            TestClocksAPI(services: services).addRoutes(to: group, endpoint: endpoint)
        }
        DocumentsAPI.addPublicRoute(to: router, services: services)
    }
}

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/subscriptions`: a customer's plan. Created by a checkout with a recurring price; renewals
/// and the rest of the lifecycle come in a later issue.
struct SubscriptionsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("subscriptions", use: endpoint(list))
        group.get("subscriptions/:id", use: endpoint(retrieve))
    }

    /// GET /subscriptions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let subscription = try await services.database.read { db in try await Subscriptions.load(call.id, caller: call.caller, on: db) }
        guard let subscription else { throw ServiceError.notFound("subscription", call.id) }
        return APIResponse(subscription)
    }

    /// GET /subscriptions (`?customer=`); rows add `customer_name`.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let customer: SQLQueryString = call.query["customer"].map { " AND customer_id = \(bind: $0)" } ?? ""
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "subscriptions", on: db)
            let rows = try await page.rows("*, (SELECT name FROM customers c WHERE c.id = subscriptions.customer_id) AS customer_name",
                                           filter: customer, on: db)
            return page.response(try rows.map { try withCustomerName($0, Subscriptions.json) })
        }
    }

}

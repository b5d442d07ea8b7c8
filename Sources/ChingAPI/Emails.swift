import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Hummingbird

/// `/emails`: the customer emails the outbox holds (receipts, refund confirmations, notices), with
/// their delivery state; test and live mode apart, like every resource.
struct EmailsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("emails", use: endpoint(list))
        group.get("emails/:id", use: endpoint(retrieve))
    }

    /// GET /emails
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in try await db.emailOutbox.list(caller: call.caller, page) },
                                   json: { Emails.json($0) })
    }

    /// GET /emails/:id, with every try.
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let email = try await services.database.read { db -> JSONValue? in
            guard let email = try await db.emailOutbox.find(call.id, caller: call.caller) else { return nil }
            return Emails.json(email, attempts: try await db.emailOutbox.attempts(of: email.id))
        }
        guard let email else { throw ServiceError.notFound("email", call.id) }
        return APIResponse(email)
    }
}

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// `/events`: what changed, in order; delivery to webhooks comes from these rows.
struct EventsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("events", use: endpoint(list))
        group.get("events/:id", use: endpoint(retrieve))
        group.post("events/:id/resend", use: endpoint(resend))
    }

    /// POST /events/:id/resend: a new delivery to every endpoint that listens for it now.
    @Sendable func resend(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await Events.resend(call.id, caller: call.caller, services: services))
    }

    /// GET /events (`?type=charge.succeeded`)
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        let type = call.query["type"]
        return try await ListPage.respond(call, services: services, { db, page in try await db.events.list(caller: call.caller, page, type: type) },
                                          json: Events.json)
    }

    /// GET /events/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let event = try await services.database.read { db -> JSONValue? in
            guard let event = try await db.events.find(call.id, caller: call.caller) else { return nil }
            return try await Events.jsonWithDeliveries(event, on: db)
        }
        guard let event else { throw ServiceError.notFound("event", call.id) }
        return APIResponse(event)
    }

}

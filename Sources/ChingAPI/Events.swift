import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

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
        let type: SQLQueryString = call.query["type"].map { " AND type = \(bind: $0)" } ?? ""
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "events", on: db)
            let rows = try await page.rows(filter: type, on: db)
            return page.response(try rows.map { try Events.json(try EventLog.event($0)) })
        }
    }

    /// GET /events/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let event = try await services.database.read { db -> JSONValue? in
            guard let event = try await EventLog(db).find(call.id, caller: call.caller) else { return nil }
            return try await Events.jsonWithDeliveries(event, on: db)
        }
        guard let event else { throw ServiceError.notFound("event", call.id) }
        return APIResponse(event)
    }

}

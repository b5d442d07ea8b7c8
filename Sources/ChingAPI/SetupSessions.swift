import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird

/// `/setup_sessions`: save a card for later, on a hosted page.
struct SetupSessionsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("setup_sessions", use: endpoint(create))
        group.get("setup_sessions", use: endpoint(list))
        group.get("setup_sessions/:id", use: endpoint(retrieve))
        group.post("setup_sessions/:id/cancel", use: endpoint(cancel))
        group.get("setup_sessions/:id/public", use: endpoint.unauthenticated { _, context in
            let id = context.parameters.get("id") ?? ""
            let view = try await services.database.read { db -> JSONValue? in
                guard let session = try await db.setupSessions.find(id) else { return nil }
                let customer = try await db.customers.find(session.customerID)
                let project = try await db.projects.find(session.caller.projectID)
                return .object([
                    "id": .string(session.id), "object": "setup_session_public", "status": .string(session.status(at: services.clock.now()).rawValue),
                    "merchant": .object(["name": .string(project?.name ?? "")]),
                    "customer": .object(["name": .string(customer?.name ?? ""), "email": .optional(customer?.email)]),
                    "cancel_url": .string(session.cancelURL), "expires_at": .string(session.expiresAt.iso8601),
                ])
            }
            guard let view else { throw ServiceError.notFound("setup_session", id) }
            return APIResponse(view)
        })
    }

    /// POST /setup_sessions
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["customer", "success_url", "cancel_url", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let successURL = reader.url("success_url", required: true, allowHTTP: !call.caller.livemode)
        let cancelURL = reader.url("cancel_url", required: true, allowHTTP: !call.caller.livemode)
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        return APIResponse(try await SetupSessions.create(customerID: customerID!, successURL: successURL!, cancelURL: cancelURL!, metadata: metadata, caller: call.caller,
                                                              services: services))
    }

    /// GET /setup_sessions/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let session = try await services.database.read { db in try await SetupSessions.load(call.id, caller: call.caller, on: db, services: services) }
        guard let session else { throw ServiceError.notFound("setup_session", call.id) }
        return APIResponse(session)
    }

    /// GET /setup_sessions
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in try await db.setupSessions.list(caller: call.caller, page) },
                                   json: { try SetupSessions.json($0, services: services) })
    }

    /// POST /setup_sessions/:id/cancel (pending only): answers `{id, status: "canceled"}`.
    @Sendable func cancel(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        return APIResponse(try await SetupSessions.cancel(call.id, caller: call.caller, services: services))
    }

}

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Hummingbird

/// `/auth/me` and `/projects/current`: who a key belongs to, as the official CHING CLI asks at
/// `ching login --with-key`. Keys are listed masked; the key itself is never stored.
struct OperatorAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.get("auth/me", use: endpoint(me))
        group.get("projects/current", use: endpoint(currentProject))
    }

    /// GET /auth/me: the project's owner. The project has one owner, so its id is the project's.
    @Sendable func me(_ call: APICall) async throws -> APIResponse {
        let project = try await services.database.read { db in try await Self.project(call.caller, on: db) }
        return APIResponse(.object([
            "id": .string(project.id),
            "email": .optional(project.ownerEmail),
            "firstName": .optional(project.ownerFirstName),
            "lastName": .optional(project.ownerLastName),
        ]))
    }

    /// GET /projects/current: the project and its keys (both modes), oldest first (test before live), masked.
    @Sendable func currentProject(_ call: APICall) async throws -> APIResponse {
        let (project, keys) = try await services.database.read { db in
            (try await Self.project(call.caller, on: db),
             try await db.projects.keys(of: call.caller.projectID))
        }
        return APIResponse(.object([
            "id": .string(project.id),
            "object": "project",
            "name": .string(project.name),
            "apiKeys": .array(keys.map { key in
                .object([
                    "id": .optional(key.id),
                    "name": .optional(key.name),
                    "livemode": .bool(key.livemode),
                    "active": .bool(key.active),
                    "key": .optional(key.preview),
                    "createdAt": .string(key.created.iso8601),
                    "lastUsed": .optional(key.lastUsed?.iso8601),
                ])
            }),
        ]))
    }

    private static func project(_ caller: Caller, on db: Store) async throws -> Project {
        guard let project = try await db.projects.find(caller.projectID) else { throw ServiceError.noAccess }
        return project
    }
}

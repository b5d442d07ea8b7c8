import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Hummingbird
import SQLKit

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
            "id": .string(try project.string("id")),
            "email": .optional(try project.optionalString("owner_email")),
            "firstName": .optional(try project.optionalString("owner_first_name")),
            "lastName": .optional(try project.optionalString("owner_last_name")),
        ]))
    }

    /// GET /projects/current: the project and its keys (both modes), oldest first (test before live), masked.
    @Sendable func currentProject(_ call: APICall) async throws -> APIResponse {
        let (project, keys) = try await services.database.read { db in
            (try await Self.project(call.caller, on: db),
             try await db.raw("SELECT * FROM api_keys WHERE project_id = \(bind: call.caller.projectID) ORDER BY created, livemode, id").all())
        }
        return APIResponse(.object([
            "id": .string(try project.string("id")),
            "object": "project",
            "name": .string(try project.string("name")),
            "apiKeys": .array(try keys.map { key in
                .object([
                    "id": .string(try key.string("id")),
                    "name": .optional(try key.optionalString("name")),
                    "livemode": .bool(try key.bool("livemode")),
                    "active": .bool(try key.bool("active")),
                    "key": .optional(try key.optionalString("preview")),
                    "createdAt": .string(try key.timestamp("created").iso8601),
                    "lastUsed": .optional(try key.optionalTimestamp("last_used")?.iso8601),
                ])
            }),
        ]))
    }

    private static func project(_ caller: Caller, on db: any SQLDatabase) async throws -> any SQLRow {
        guard let row = try await db.raw("SELECT * FROM projects WHERE id = \(bind: caller.projectID)").first() else {
            throw ServiceError.noAccess
        }
        return row
    }
}

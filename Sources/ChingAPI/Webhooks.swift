import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SQLKit

/// `/webhooks`: where a merchant's server hears about events, and the queueing of deliveries.
struct WebhooksAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("webhooks", use: endpoint(create))
        group.get("webhooks", use: endpoint(list))
        group.delete("webhooks/:id", use: endpoint(delete))
    }

    /// POST /webhooks: the `whsec_` secret is returned here and never again.
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["url", "events"])
        let url = reader.url("url", required: true, allowHTTP: !call.caller.livemode)
        var events: [String] = []
        if let list = reader.object["events"] {
            if case .array(let values) = list, !values.isEmpty, values.count <= 50 {
                for (index, value) in values.enumerated() {
                    guard let type = value.stringValue, type == "*" || Webhooks.eventTypes.contains(type) else {
                        reader.fail("events.\(index)", "Unknown event type; use one of API.md's event types, or \"*\".")
                        continue
                    }
                    events.append(type)
                }
            } else {
                reader.fail("events", "Must be a non-empty list of event types, or [\"*\"].")
            }
        } else {
            reader.fail("events", "This field is required.")
        }
        if let url, call.caller.livemode, WebAddress.isLoopback(url) {
            reader.fail("url", "Live endpoints cannot point at this machine's loopback address.")
        }
        try reader.throwIfInvalid()
        let secret = "whsec_" + services.ids.hex(byteCount: 32)
        let eventsJSON = JSONValue.array(events.map { .string($0) }).serialized()
        let endpoint = try await services.database.transaction { db in
            let row = try await db.raw("""
                INSERT INTO webhook_endpoints (project_id, livemode, url, events, secret, created)
                VALUES (\(bind: call.caller.projectID), \(bind: call.caller.mode), \(bind: url!), \(bind: eventsJSON),
                  \(bind: secret), \(bind: services.clock.now().milliseconds))
                RETURNING *
                """).first()!
            return try Self.json(row)
        }
        var object = endpoint.objectValue!
        object["secret"] = .string(secret)
        return APIResponse(.object(object))
    }

    /// GET /webhooks (without secrets)
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        try await services.database.read { db in
            let rows = try await db.raw("""
                SELECT * FROM webhook_endpoints WHERE project_id = \(bind: call.caller.projectID) AND livemode = \(bind: call.caller.mode)
                  AND deleted = 0 ORDER BY id DESC LIMIT 100
                """).all()
            return APIResponse(.array(try rows.map(Self.json)))
        }
    }

    /// DELETE /webhooks/:id answers `{"success": true}`; pending deliveries to it stop.
    @Sendable func delete(_ call: APICall) async throws -> APIResponse {
        guard let id = Int64(call.id) else { throw ServiceError.notFound("webhook endpoint", call.id) }
        let deleted = try await services.database.transaction { db in
            try await db.raw("""
                UPDATE webhook_endpoints SET deleted = 1 WHERE id = \(bind: id) AND project_id = \(bind: call.caller.projectID)
                  AND livemode = \(bind: call.caller.mode) AND deleted = 0 RETURNING id
                """).first()
        }
        guard deleted != nil else { throw ServiceError.notFound("webhook endpoint", call.id) }
        return APIResponse(.null, bare: true)
    }

    static func json(_ row: any SQLRow) throws -> JSONValue {
        .object([
            "id": .int(try row.int("id")),
            "object": "webhook_endpoint",
            "url": .string(try row.string("url")),
            "events": try row.json("events"),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}


import ChingDomain
import ChingStore
import SQLKit

/// Events: every state change writes one in the same transaction, with `data` exactly as `GET` returns the object.
package enum Events {
    /// `previousAttributes`: for `*.updated`, the changed fields' old values (sent beside `data`).
    package static func record(_ type: String, data: JSONValue, previousAttributes: JSONObject? = nil, caller: Caller, on db: any SQLDatabase,
                               services: AppServices) async throws {
        let id = services.ids.make(.event)
        try await db.raw("""
            INSERT INTO events (id, project_id, livemode, type, data, previous_attributes, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: type), \(bind: data.serialized()),
              \(bind: previousAttributes.map { JSONValue.object($0).serialized() }), \(bind: services.clock.now().milliseconds))
            """).run()
        try await Webhooks.queue(eventID: id, type: type, caller: caller, on: db, services: services)
    }

    /// An event as the API returns it.
    package static func json(_ row: any SQLRow) throws -> JSONValue {
        var event: JSONObject = [
            "id": .string(try row.string("id")),
            "object": "event",
            "type": .string(try row.string("type")),
            "data": try row.json("data"),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ]
        if let previous = try row.optionalJSON("previous_attributes") { event["previous_attributes"] = previous }
        return .object(event)
    }

    /// Queues a new delivery of the event to every endpoint that listens for it now; answers the event with its attempts.
    package static func resend(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            guard let row = try await db.scopedRow("events", id: id, caller: caller) else { throw ServiceError.notFound("event", id) }
            try await Webhooks.queue(eventID: id, type: try row.string("type"), caller: caller, on: db, services: services)
            var event = try json(row).objectValue!
            event["delivery_attempts"] = try await Webhooks.deliveries(eventID: id, on: db)
            return JSONValue.object(event)
        }
    }
}

import ChingDomain
import ChingStore

/// Events: every state change writes one in the same transaction, with `data` exactly as `GET` returns the object.
package enum Events {
    /// `previousAttributes`: for `*.updated`, the changed fields' old values (sent beside `data`).
    package static func record(_ type: String, data: JSONValue, previousAttributes: JSONObject? = nil, caller: Caller, on db: Store,
                               services: AppServices) async throws {
        let event = StoredEvent(id: services.ids.make(.event), caller: caller, type: type, data: data.serialized(),
                                previousAttributes: previousAttributes.map { JSONValue.object($0).serialized() }, created: services.clock.now())
        try await db.events.append(event)
        try await Webhooks.queue(event, on: db, services: services)
    }

    /// An event as the API returns it.
    package static func json(_ event: StoredEvent) throws -> JSONValue {
        var object: JSONObject = [
            "id": .string(event.id),
            "object": "event",
            "type": .string(event.type),
            "data": try JSONValue.parse(event.data),
            "livemode": .bool(event.caller.livemode),
            "created": .string(event.created.iso8601),
        ]
        if let previous = event.previousAttributes { object["previous_attributes"] = try JSONValue.parse(previous) }
        return .object(object)
    }

    /// An event with what `GET /events/:id` adds: every endpoint's delivery and its attempts.
    package static func jsonWithDeliveries(_ event: StoredEvent, on db: Store) async throws -> JSONValue {
        var object = try json(event).objectValue!
        object["delivery_attempts"] = try await Webhooks.deliveries(eventID: event.id, on: db)
        return .object(object)
    }

    /// Queues a new delivery of the event to every endpoint that listens for it now; answers the event with its attempts.
    package static func resend(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in
            guard let event = try await db.events.find(id, caller: caller) else { throw ServiceError.notFound("event", id) }
            try await Webhooks.queue(event, on: db, services: services)
            return try await jsonWithDeliveries(event, on: db)
        }
    }
}

import ChingDomain
import ChingStore
import Crypto
import SQLKit

/// The delivery side that the rest of the product touches: queueing (in the event's own
/// transaction), the signature, the body, and what `GET /events/:id` shows of attempts.
package enum Webhooks {
    package static let eventTypes: Set<String> = [
        "charge.succeeded", "charge.failed", "charge.authorized", "charge.captured", "charge.canceled", "refund.created",
        "checkout_session.completed", "checkout_session.expired", "setup_session.succeeded", "setup_session.expired",
        "payment_method.attached", "payment_method.detached", "customer.created", "customer.updated", "customer.deleted",
        "subscription.created", "subscription.updated", "subscription.canceled", "subscription.past_due",
        "subscription.trial_will_end", "document.issued",
    ]

    /// One delivery row per endpoint of the event's project and mode that listens for its type.
    package static func queue(eventID: String, type: String, caller: Caller, on db: any SQLDatabase, services: AppServices,
                      onlyEndpoint: Int64? = nil) async throws {
        let endpoints = try await db.raw("""
            SELECT id, events FROM webhook_endpoints WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND deleted = 0
            """).all()
        // Delivery runs in real time, even for an event stamped with a test clock's time.
        let now = services.wallClock.now().milliseconds
        for endpoint in endpoints {
            let types = (try endpoint.json("events").arrayValue ?? []).compactMap(\.stringValue)
            guard types.contains("*") || types.contains(type) else { continue }
            try await db.raw("""
                INSERT INTO webhook_deliveries (event_id, endpoint_id, project_id, livemode, status, attempt_count, next_attempt_at, created)
                VALUES (\(bind: eventID), \(bind: try endpoint.int("id")), \(bind: caller.projectID), \(bind: caller.mode), 'pending', 0, \(bind: now), \(bind: now))
                """).run()
        }
    }

    /// The request body, built from the stored event so that every retry sends the same bytes:
    /// `{"id", "type", "data" (the stored object's own bytes), "livemode", "created", "previous_attributes"?}`.
    package static func body(eventRow row: any SQLRow) throws -> String {
        let head = JSONValue.object(["id": .string(try row.string("id")), "type": .string(try row.string("type"))]).serialized()
        var tail: JSONObject = ["livemode": .bool(try row.bool("livemode")), "created": .string(try row.timestamp("created").iso8601)]
        if let previous = try row.optionalJSON("previous_attributes") { tail["previous_attributes"] = previous }
        return head.dropLast() + #","data":"# + (try row.string("data")) + "," + JSONValue.object(tail).serialized().dropFirst()
    }

    /// `Ching-Signature`: lowercase hex HMAC-SHA256 of the exact body, keyed with the whole secret.
    package static func signature(body: [UInt8], secret: String) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    /// What `GET /events/:id` adds: every endpoint's delivery and its attempts.
    package static func deliveries(eventID: String, on db: any SQLDatabase) async throws -> JSONValue {
        let rows = try await db.raw("""
            SELECT d.seq, d.endpoint_id, d.status, d.attempt_count, d.next_attempt_at, e.url FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.event_id = \(bind: eventID) ORDER BY d.seq
            """).all()
        var result: [JSONValue] = []
        for row in rows {
            let attempts = try await db.raw("""
                SELECT * FROM webhook_attempts WHERE delivery_seq = \(bind: try row.int("seq")) ORDER BY seq
                """).all()
            result.append(.object([
                "endpoint": .int(try row.int("endpoint_id")),
                "url": .string(try row.string("url")),
                "status": .string(try row.string("status")),
                "next_attempt_at": try row.string("status") == "pending" ? .string(try row.timestamp("next_attempt_at").iso8601) : .null,
                "attempts": .array(try attempts.map { attempt in
                    .object(["attempted_at": .string(try attempt.timestamp("attempted_at").iso8601),
                             "status_code": .optional(try attempt.optionalInt("status_code")),
                             "duration_ms": .int(try attempt.int("duration_ms")),
                             "error": .optional(try attempt.optionalString("error"))])
                }),
            ]))
        }
        return .array(result)
    }

    /// A webhook endpoint as the API returns it (never with its secret).
    package static func endpointJSON(_ row: any SQLRow) throws -> JSONValue {
        .object([
            "id": .int(try row.int("id")),
            "object": "webhook_endpoint",
            "url": .string(try row.string("url")),
            "events": try row.json("events"),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    /// Adds an endpoint; the answer carries its `whsec_` secret, shown only this once.
    package static func createEndpoint(url: String, events: [String], caller: Caller, services: AppServices) async throws -> JSONValue {
        let secret = "whsec_" + services.ids.hex(byteCount: 32)
        let eventsJSON = JSONValue.array(events.map { .string($0) }).serialized()
        let endpoint = try await services.database.transaction { db in
            let row = try await db.raw("""
                INSERT INTO webhook_endpoints (project_id, livemode, url, events, secret, created)
                VALUES (\(bind: caller.projectID), \(bind: caller.mode), \(bind: url), \(bind: eventsJSON),
                  \(bind: secret), \(bind: services.clock.now().milliseconds))
                RETURNING *
                """).first()!
            return try endpointJSON(row)
        }
        var object = endpoint.objectValue!
        object["secret"] = .string(secret)
        return .object(object)
    }

    /// Deletes an endpoint; its pending deliveries stop.
    package static func deleteEndpoint(_ id: Int64, caller: Caller, services: AppServices) async throws {
        let deleted = try await services.database.transaction { db in
            try await db.raw("""
                UPDATE webhook_endpoints SET deleted = 1 WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID)
                  AND livemode = \(bind: caller.mode) AND deleted = 0 RETURNING id
                """).first()
        }
        guard deleted != nil else { throw ServiceError.notFound("webhook endpoint", String(id)) }
    }
}

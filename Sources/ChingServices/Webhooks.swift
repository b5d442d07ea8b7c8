import ChingDomain
import ChingStore
import Crypto

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

    /// One delivery per endpoint of the event's project and mode that listens for its type, due now
    /// in real time (even for an event stamped with a test clock's time).
    package static func queue(_ event: StoredEvent, on db: Store, services: AppServices) async throws {
        try await db.events.queueDeliveries(eventID: event.id, type: event.type, caller: event.caller, dueAt: services.wallClock.now())
    }

    /// The request body, built from the stored event so that every retry sends the same bytes:
    /// `{"id", "type", "data" (the stored object's own bytes), "livemode", "created", "previous_attributes"?}`.
    package static func body(_ event: StoredEvent) throws -> String {
        let head = JSONValue.object(["id": .string(event.id), "type": .string(event.type)]).serialized()
        var tail: JSONObject = ["livemode": .bool(event.caller.livemode), "created": .string(event.created.iso8601)]
        if let previous = event.previousAttributes { tail["previous_attributes"] = try JSONValue.parse(previous) }
        return head.dropLast() + #","data":"# + event.data + "," + JSONValue.object(tail).serialized().dropFirst()
    }

    /// `Ching-Signature`: lowercase hex HMAC-SHA256 of the exact body, keyed with the whole secret.
    package static func signature(body: [UInt8], secret: String) -> String {
        hexString(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8))))
    }

    /// What `GET /events/:id` adds: every endpoint's delivery and its attempts.
    package static func deliveries(eventID: String, on db: Store) async throws -> JSONValue {
        .array(try await db.webhookDeliveries.forEvent(eventID).map { delivery in
            .object([
                "endpoint": .int(delivery.endpointID),
                "url": .string(delivery.url),
                "status": .string(delivery.status),
                "next_attempt_at": delivery.status == "pending" ? .string(delivery.nextAttemptAt.iso8601) : .null,
                "attempts": .array(delivery.attempts.map { attempt in
                    .object(["attempted_at": .string(attempt.attemptedAt.iso8601), "status_code": .optional(attempt.statusCode),
                             "duration_ms": .int(attempt.durationMilliseconds), "error": .optional(attempt.error)])
                }),
            ])
        })
    }

    /// A webhook endpoint as the API returns it (never with its secret).
    package static func endpointJSON(_ endpoint: WebhookEndpoint) -> JSONValue {
        .object([
            "id": .int(endpoint.id),
            "object": "webhook_endpoint",
            "url": .string(endpoint.url),
            "events": .array(endpoint.events.map { .string($0) }),
            "livemode": .bool(endpoint.caller.livemode),
            "created": .string(endpoint.created.iso8601),
        ])
    }

    /// Adds an endpoint; the answer carries its `whsec_` secret, shown only this once.
    package static func createEndpoint(url: String, events: [String], caller: Caller, services: AppServices) async throws -> JSONValue {
        let secret = "whsec_" + services.ids.hex(byteCount: 32)
        let endpoint = try await services.database.transaction { db in
            try await db.webhookEndpoints.insert(caller: caller, url: url, events: events, secret: secret, created: services.clock.now())
        }
        var object = endpointJSON(endpoint).objectValue!
        object["secret"] = .string(secret)
        return .object(object)
    }

    /// Deletes an endpoint; its pending deliveries stop.
    package static func deleteEndpoint(_ id: Int64, caller: Caller, services: AppServices) async throws {
        let deleted = try await services.database.transaction { db in try await db.webhookEndpoints.markDeleted(id, caller: caller) }
        guard deleted else { throw ServiceError.notFound("webhook endpoint", String(id)) }
    }
}

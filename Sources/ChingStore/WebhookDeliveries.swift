import ChingDomain
import SQLKit

/// Webhook deliveries: one row per event and endpoint, leased by a worker while it sends, with
/// every attempt recorded.
public struct WebhookDeliveries: Sendable {
    let db: any SQLDatabase

    /// A delivery leased for sending, with its endpoint.
    public struct Claimed: Sendable {
        public let seq: Int64
        public let eventID: String
        public let attemptCount: Int64
        public let created: Timestamp
        public let url: String
        public let secret: String
        public let livemode: Bool
        public let endpointDeleted: Bool
    }

    /// One attempt as `GET /events/:id` shows it.
    public struct Attempt: Sendable {
        public let attemptedAt: Timestamp
        public let statusCode: Int64?
        public let durationMilliseconds: Int64
        public let error: String?

        public init(attemptedAt: Timestamp, statusCode: Int64?, durationMilliseconds: Int64, error: String?) {
            self.attemptedAt = attemptedAt; self.statusCode = statusCode; self.durationMilliseconds = durationMilliseconds; self.error = error
        }
    }

    /// A delivery of one event to one endpoint, with its attempts.
    public struct Delivery: Sendable {
        public let endpointID: Int64
        public let url: String
        public let status: String
        public let nextAttemptAt: Timestamp
        public let attempts: [Attempt]
    }

    /// Leases up to `limit` due deliveries until `leaseUntil` (skipping rows another server holds
    /// on PostgreSQL); `projectID` narrows them (tests on a shared database).
    public func claim(now: Timestamp, leaseUntil: Timestamp, limit: Int, projectID: String?, skipLocked: Bool) async throws -> [Claimed] {
        let lock: SQLQueryString = skipLocked ? " FOR UPDATE SKIP LOCKED" : ""
        let scope = projectScope(projectID)
        let rows = try await db.raw("""
            UPDATE webhook_deliveries SET lease_until = \(bind: leaseUntil.milliseconds)
            WHERE seq IN (SELECT seq FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= \(bind: now.milliseconds)
              AND (lease_until IS NULL OR lease_until <= \(bind: now.milliseconds))
            """ + scope + " ORDER BY next_attempt_at, seq LIMIT \(bind: Int64(limit))" + lock + """
            ) RETURNING seq, event_id, endpoint_id, attempt_count, created
            """).all()
        var claimed: [Claimed] = []
        for row in rows {
            guard let endpoint = try await db.raw("SELECT url, secret, livemode, deleted FROM webhook_endpoints WHERE id = \(bind: try row.int("endpoint_id"))").first()
            else { continue }
            claimed.append(Claimed(seq: try row.int("seq"), eventID: try row.string("event_id"), attemptCount: try row.int("attempt_count"),
                                   created: try row.timestamp("created"), url: try endpoint.string("url"), secret: try endpoint.string("secret"),
                                   livemode: try endpoint.bool("livemode"), endpointDeleted: try endpoint.bool("deleted")))
        }
        return claimed
    }

    /// Records an attempt and moves the delivery on (`delivered`, `failed`, or `pending` until `nextAttemptAt`).
    public func finish(_ seq: Int64, attempt: Attempt, status: String, attemptCount: Int64, nextAttemptAt: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO webhook_attempts (delivery_seq, attempted_at, status_code, duration_ms, error)
            VALUES (\(bind: seq), \(bind: attempt.attemptedAt.milliseconds), \(bind: attempt.statusCode), \(bind: attempt.durationMilliseconds),
              \(bind: attempt.error))
            """).run()
        try await db.raw("""
            UPDATE webhook_deliveries SET status = \(bind: status), attempt_count = \(bind: attemptCount), lease_until = NULL,
              next_attempt_at = \(bind: nextAttemptAt.milliseconds) WHERE seq = \(bind: seq)
            """).run()
    }

    /// Every delivery of an event, oldest first, with its attempts.
    public func forEvent(_ eventID: String) async throws -> [Delivery] {
        let rows = try await db.raw("""
            SELECT d.seq, d.endpoint_id, d.status, d.next_attempt_at, e.url FROM webhook_deliveries d
            JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.event_id = \(bind: eventID) ORDER BY d.seq
            """).all()
        var deliveries: [Delivery] = []
        for row in rows {
            let attempts = try await db.raw("SELECT * FROM webhook_attempts WHERE delivery_seq = \(bind: try row.int("seq")) ORDER BY seq").all().map { attempt in
                Attempt(attemptedAt: try attempt.timestamp("attempted_at"), statusCode: try attempt.optionalInt("status_code"),
                        durationMilliseconds: try attempt.int("duration_ms"), error: try attempt.optionalString("error"))
            }
            deliveries.append(Delivery(endpointID: try row.int("endpoint_id"), url: try row.string("url"), status: try row.string("status"),
                                       nextAttemptAt: try row.timestamp("next_attempt_at"), attempts: attempts))
        }
        return deliveries
    }
}

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import SQLKit

/// `Idempotency-Key` on POST: the same key and the same request within 24 hours replays the first
/// response; the same key with another request is `409 idempotency_key_reused`; a key whose first
/// request is still running is `409 idempotency_key_in_use`.
///
/// The key is claimed in its own short transaction before the work starts, so two concurrent
/// requests with one key can never both run. Server errors (5xx) release the key so the client
/// can retry; a claim left behind by a crashed process is taken over after 5 minutes.
struct Idempotency: Sendable {
    let database: Database
    let clock: AppClock
    static let lifetimeSeconds: Int64 = 24 * 3600
    static let abandonedAfterSeconds: Int64 = 5 * 60

    func run(caller: Caller, key: String, fingerprint: String, _ work: @Sendable () async -> RenderedResponse) async throws -> RenderedResponse {
        guard !key.isEmpty, key.count <= 255 else {
            throw ServiceError.invalid("Idempotency-Key", "Must be 1 to 255 characters.")
        }
        if let replay = try await claim(caller: caller, key: key, fingerprint: fingerprint) { return replay }
        let response = await work()
        try await database.transaction { db in
            if response.status.code >= 500 {
                try await db.raw("""
                    DELETE FROM idempotency_keys WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND key = \(bind: key)
                    """).run()
            } else {
                try await db.raw("""
                    UPDATE idempotency_keys SET state = 'done', response_status = \(bind: Int64(response.status.code)), response_body = \(bind: response.body)
                    WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND key = \(bind: key)
                    """).run()
            }
        }
        return response
    }

    /// Claims the key, or returns the stored response to replay.
    private func claim(caller: Caller, key: String, fingerprint: String) async throws -> RenderedResponse? {
        let now = clock.now()
        do {
            return try await database.transaction { db in
                let row = try await db.raw("""
                    SELECT request_hash, state, response_status, response_body, created FROM idempotency_keys
                    WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND key = \(bind: key)
                    """).first()
                if let row {
                    let created = try row.decode(column: "created", as: Int64.self)
                    let state = try row.decode(column: "state", as: String.self)
                    let expired = created < now.adding(seconds: -Self.lifetimeSeconds).milliseconds
                    let abandoned = state == "in_flight" && created < now.adding(seconds: -Self.abandonedAfterSeconds).milliseconds
                    if !expired && !abandoned {
                        guard try row.decode(column: "request_hash", as: String.self) == fingerprint else {
                            throw ServiceError.rule("idempotency_key_reused", "This Idempotency-Key was used with a different request.", kind: .conflict)
                        }
                        guard state == "done" else {
                            throw ServiceError.rule("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed.", kind: .conflict)
                        }
                        return RenderedResponse(
                            status: .init(code: Int(try row.decode(column: "response_status", as: Int64.self))),
                            body: try row.decode(column: "response_body", as: String.self))
                    }
                    try await db.raw("""
                        DELETE FROM idempotency_keys WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND key = \(bind: key)
                        """).run()
                }
                try await db.raw("""
                    INSERT INTO idempotency_keys (project_id, livemode, key, request_hash, state, created)
                    VALUES (\(bind: caller.projectID), \(bind: caller.mode), \(bind: key), \(bind: fingerprint), 'in_flight', \(bind: now.milliseconds))
                    """).run()
                return nil
            }
        } catch where Database.isUniqueViolation(error) {
            // Another request inserted the same key between our read and our insert (PostgreSQL).
            throw ServiceError.rule("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed.", kind: .conflict)
        }
    }
}

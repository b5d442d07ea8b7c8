import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes

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

    /// What is stored of a response, and how a replay answers from it. Most endpoints store their
    /// answer and replay it as it was; one whose answer carries a secret kept only hashed (a portal
    /// link) stores it without the secret and mints a new one for the replay.
    struct Replay: Sendable {
        let stored: @Sendable (RenderedResponse) -> RenderedResponse
        let answer: @Sendable (RenderedResponse, Caller) async throws -> RenderedResponse

        static let stored = Replay(stored: { $0 }, answer: { response, _ in response })
    }

    func run(caller: Caller, key: String, fingerprint: String, replay: Replay = .stored,
             _ work: @Sendable () async -> RenderedResponse) async throws -> RenderedResponse {
        guard !key.isEmpty, key.count <= 255 else {
            throw ServiceError.invalid("Idempotency-Key", "Must be 1 to 255 characters.")
        }
        if let stored = try await claim(caller: caller, key: key, fingerprint: fingerprint) { return try await replay.answer(stored, caller) }
        let response = await work()
        let kept = replay.stored(response)
        try await database.transaction { db in
            if response.status.code >= 500 {
                try await db.idempotencyKeys.release(key, caller: caller)
            } else {
                try await db.idempotencyKeys.finish(key, caller: caller, status: Int64(kept.status.code), body: kept.body)
            }
        }
        return response
    }

    /// Claims the key, or returns the stored response to replay.
    private func claim(caller: Caller, key: String, fingerprint: String) async throws -> RenderedResponse? {
        let now = clock.now()
        do {
            return try await database.transaction { db in
                if let stored = try await db.idempotencyKeys.find(key, caller: caller) {
                    let expired = stored.created < now.adding(seconds: -Self.lifetimeSeconds)
                    let abandoned = stored.state == "in_flight" && stored.created < now.adding(seconds: -Self.abandonedAfterSeconds)
                    if !expired && !abandoned {
                        guard stored.requestHash == fingerprint else {
                            throw ServiceError.rule("idempotency_key_reused", "This Idempotency-Key was used with a different request.", kind: .conflict)
                        }
                        guard stored.state == "done", let status = stored.responseStatus, let body = stored.responseBody else {
                            throw ServiceError.rule("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed.", kind: .conflict)
                        }
                        return RenderedResponse(status: .init(code: Int(status)), body: body)
                    }
                    try await db.idempotencyKeys.release(key, caller: caller)
                }
                try await db.idempotencyKeys.claim(key, caller: caller, requestHash: fingerprint, at: now)
                return nil
            }
        } catch where Database.isUniqueViolation(error) {
            // Another request inserted the same key between our read and our insert (PostgreSQL).
            throw ServiceError.rule("idempotency_key_in_use", "A request with this Idempotency-Key is still being processed.", kind: .conflict)
        }
    }
}

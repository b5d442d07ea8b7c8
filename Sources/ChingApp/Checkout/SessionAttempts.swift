import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// What the checkout and setup sessions share about card attempts: one attempt in flight per
/// session (a lease on the row's `attempt_started_at`), the lock after five failures, and cards
/// waiting for their 3-D Secure answer. `table` is `checkout_sessions` or `setup_sessions`.
struct SessionAttempts: Sendable {
    let services: AppServices
    let table: String

    /// The longest an attempt may run while its server is alive (a provider call hung past its timeouts).
    static let leaseSeconds: Int64 = 120
    static let failuresBeforeLock: Int64 = 5
    static let lockSeconds: Int64 = 15 * 60

    /// The condition, on a session row, that no attempt is running: none was started, or its lease
    /// has run out, or the server that took it has stopped beating (it died mid-attempt). Every
    /// state change of a pending session checks this one condition.
    static func noLiveAttempt(now: Timestamp) -> SQLQueryString {
        """
        (attempt_started_at IS NULL OR attempt_started_at < \(bind: now.adding(seconds: -leaseSeconds).milliseconds)
          OR attempt_owner IS NULL OR attempt_owner NOT IN (SELECT id FROM server_instances
            WHERE heartbeat_at >= \(bind: now.adding(seconds: -ServerInstance.deadAfterSeconds).milliseconds)))
        """
    }

    /// Takes the session's attempt lease; false when another attempt holds it (or the session is no longer payable).
    func claim(_ id: String, now: Timestamp) async throws -> Bool {
        try await services.database.transaction { db in
            try await db.raw("""
                UPDATE \(unsafeRaw: table) SET attempt_started_at = \(bind: now.milliseconds), attempt_owner = \(bind: services.instanceID)
                WHERE id = \(bind: id) AND status = 'pending' AND expires_at > \(bind: now.milliseconds)
                  AND (locked_until IS NULL OR locked_until <= \(bind: now.milliseconds)) AND \(Self.noLiveAttempt(now: now))
                RETURNING id
                """).first() != nil
        }
    }

    func release(_ id: String) async throws {
        try await services.database.transaction { db in
            try await db.raw("UPDATE \(unsafeRaw: table) SET attempt_started_at = NULL WHERE id = \(bind: id)").run()
        }
    }

    /// Ends the attempt as a failure, inside the caller's transaction: every fifth failure locks the session.
    func recordFailure(_ id: String, now: Timestamp, on db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE \(unsafeRaw: table) SET attempt_started_at = NULL, failed_attempts = failed_attempts + 1,
              locked_until = CASE WHEN (failed_attempts + 1) % \(bind: Self.failuresBeforeLock) = 0
                THEN \(bind: now.adding(seconds: Self.lockSeconds).milliseconds) ELSE locked_until END
            WHERE id = \(bind: id)
            """).run()
    }

    /// Parks a tokenized card until the customer answers the 3-D Secure challenge; returns the attempt id.
    func startAuthentication(_ sessionID: String, card: ProviderCard, installments: Int64) async throws -> String {
        let id = "auth_" + services.ids.hex(byteCount: 18)
        try await services.database.transaction { db in
            try await db.raw("""
                INSERT INTO authentication_attempts (id, session_id, token, brand, last4, exp_month, exp_year, issuer_country,
                  supports_installments, installments, status, created)
                VALUES (\(bind: id), \(bind: sessionID), \(bind: card.token), \(bind: card.brand.rawValue), \(bind: card.last4),
                  \(bind: Int64(card.expMonth)), \(bind: Int64(card.expYear)), \(bind: card.issuerCountry), \(bind: card.supportsInstallments.stored),
                  \(bind: installments), 'pending', \(bind: services.clock.now().milliseconds))
                """).run()
            try await db.raw("UPDATE \(unsafeRaw: table) SET attempt_started_at = NULL WHERE id = \(bind: sessionID)").run()
        }
        return id
    }

    /// Uses up a pending challenge (once) and returns its card and installments; nil when there is no such pending challenge.
    func answerAuthentication(_ sessionID: String, attemptID: String, passed: Bool) async throws -> (card: ProviderCard, installments: Int64)? {
        let row = try await services.database.transaction { db in
            try await db.raw("""
                UPDATE authentication_attempts SET status = \(bind: passed ? "passed" : "failed")
                WHERE id = \(bind: attemptID) AND session_id = \(bind: sessionID) AND status = 'pending' RETURNING *
                """).first()
        }
        guard let row else { return nil }
        let card = try ProviderCard(
            token: row.string("token"), brand: CardBrand(rawValue: try row.string("brand")) ?? .unknown, last4: row.string("last4"),
            expMonth: Int(row.int("exp_month")), expYear: Int(row.int("exp_year")), issuerCountry: row.string("issuer_country"),
            supportsInstallments: row.bool("supports_installments"), supportsRecurring: true)
        return (card, try row.int("installments"))
    }
}

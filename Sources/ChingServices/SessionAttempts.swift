import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// What the checkout and setup sessions share about card attempts: one attempt in flight per
/// session (a lease on the row's `attempt_started_at`), the lock after five failures, and cards
/// waiting for their 3-D Secure answer. `table` is `checkout_sessions` or `setup_sessions`.
package struct SessionAttempts: Sendable {
    package let services: AppServices
    package let rows: HostedSessionRows

    package init(services: AppServices, table: HostedSessionRows.Table) {
        self.services = services
        self.rows = HostedSessionRows(table)
    }

    package static let failuresBeforeLock: Int64 = 5
    package static let lockSeconds: Int64 = 15 * 60

    /// Takes the session's attempt lease for this server; nil when another attempt holds it (or the session is no longer payable).
    package func claim(_ id: String, now: Timestamp) async throws -> HostedSessionRows.Lease? {
        try await services.database.transaction { db in
            try await rows.claimAttempt(id, owner: services.instanceID, at: now, on: db)
        }
    }

    package func release(_ id: String, lease: HostedSessionRows.Lease) async throws {
        try await services.database.transaction { db in try await rows.releaseAttempt(id, lease: lease, on: db) }
    }

    /// Counts a failure, inside the caller's transaction (ending the attempt `lease` holds, if any): every fifth locks the session.
    package func recordFailure(_ id: String, lease: HostedSessionRows.Lease?, now: Timestamp, on db: any SQLDatabase) async throws {
        try await rows.recordFailedAttempt(id, lease: lease, failuresBeforeLock: Self.failuresBeforeLock, lockedUntil: now.adding(seconds: Self.lockSeconds), on: db)
    }

    /// Parks a tokenized card until the customer answers the 3-D Secure challenge; returns the attempt id.
    package func startAuthentication(_ sessionID: String, card: ProviderCard, installments: Int64, lease: HostedSessionRows.Lease) async throws -> String {
        let id = "auth_" + services.ids.hex(byteCount: 18)
        try await services.database.transaction { db in
            try await db.raw("""
                INSERT INTO authentication_attempts (id, session_id, token, brand, last4, exp_month, exp_year, issuer_country,
                  supports_installments, installments, status, created)
                VALUES (\(bind: id), \(bind: sessionID), \(bind: card.token), \(bind: card.brand.rawValue), \(bind: card.last4),
                  \(bind: Int64(card.expMonth)), \(bind: Int64(card.expYear)), \(bind: card.issuerCountry), \(bind: card.supportsInstallments.stored),
                  \(bind: installments), 'pending', \(bind: services.clock.now().milliseconds))
                """).run()
            try await rows.releaseAttempt(sessionID, lease: lease, on: db)
        }
        return id
    }

    /// Uses up a pending challenge (once) and returns its card and installments; nil when there is no such pending challenge.
    package func answerAuthentication(_ sessionID: String, attemptID: String, passed: Bool) async throws -> (card: ProviderCard, installments: Int64)? {
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

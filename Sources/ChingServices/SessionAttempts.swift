import ChingDomain
import ChingProviders
import ChingStore

/// What the checkout and setup sessions share about card attempts: one attempt in flight per
/// session (a lease on the row's `attempt_started_at`), the lock after five failures, and cards
/// waiting for their 3-D Secure answer. `table` is `checkout_sessions` or `setup_sessions`.
package struct SessionAttempts: Sendable {
    package let services: AppServices
    package let table: HostedSessionRows.Table

    package init(services: AppServices, table: HostedSessionRows.Table) {
        self.services = services
        self.table = table
    }

    package static let failuresBeforeLock: Int64 = 5
    package static let lockSeconds: Int64 = 15 * 60

    /// Takes the session's attempt lease for this server; nil when another attempt holds it (or the session is no longer payable).
    package func claim(_ id: String, now: Timestamp) async throws -> HostedSessionRows.Lease? {
        try await services.database.transaction { db in
            try await db.hostedSessions(table).claimAttempt(id, owner: services.instanceID, at: now)
        }
    }

    package func release(_ id: String, lease: HostedSessionRows.Lease) async throws {
        try await services.database.transaction { db in try await db.hostedSessions(table).releaseAttempt(id, lease: lease) }
    }

    /// Counts a failure, inside the caller's transaction (ending the attempt `lease` holds, if any): every fifth locks the session.
    package func recordFailure(_ id: String, lease: HostedSessionRows.Lease?, now: Timestamp, on db: Store) async throws {
        try await db.hostedSessions(table).recordFailedAttempt(id, lease: lease, failuresBeforeLock: Self.failuresBeforeLock,
                                                               lockedUntil: now.adding(seconds: Self.lockSeconds))
    }

    /// Parks a tokenized card until the customer answers the 3-D Secure challenge; returns the attempt id.
    package func startAuthentication(_ sessionID: String, card: ProviderCard, installments: Int64, lease: HostedSessionRows.Lease) async throws -> String {
        let attempt = AuthenticationAttempt(
            id: "auth_" + services.ids.hex(byteCount: 18), sessionID: sessionID, token: card.token, brand: card.brand.rawValue, last4: card.last4,
            expMonth: Int64(card.expMonth), expYear: Int64(card.expYear), issuerCountry: card.issuerCountry,
            supportsInstallments: card.supportsInstallments, installments: installments, created: services.clock.now())
        try await services.database.transaction { db in try await db.hostedSessions(table).startAuthentication(attempt, lease: lease) }
        return attempt.id
    }

    /// Uses up a pending challenge (once) and returns its card and installments; nil when there is no such pending challenge.
    package func answerAuthentication(_ sessionID: String, attemptID: String, passed: Bool) async throws -> (card: ProviderCard, installments: Int64)? {
        let attempt = try await services.database.transaction { db in
            try await db.hostedSessions(table).answerAuthentication(attemptID, sessionID: sessionID, passed: passed)
        }
        guard let attempt else { return nil }
        let card = ProviderCard(
            token: attempt.token, brand: CardBrand(rawValue: attempt.brand) ?? .unknown, last4: attempt.last4, expMonth: Int(attempt.expMonth),
            expYear: Int(attempt.expYear), issuerCountry: attempt.issuerCountry, supportsInstallments: attempt.supportsInstallments,
            supportsRecurring: true)
        return (card, attempt.installments)
    }
}

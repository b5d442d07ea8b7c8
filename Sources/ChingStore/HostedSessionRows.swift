import ChingDomain
import SQLKit

/// The rows of hosted sessions (`checkout_sessions`, `setup_sessions`): every change of their
/// status, and of the attempt lease that keeps two payments off one session, is written here,
/// with the conditions of `HostedSessionStatus.after(_:at:expiresAt:)` spelled in SQL so that two
/// racing changes cannot both happen.
public struct HostedSessionRows: Sendable {
    public enum Table: String, Sendable { case checkout = "checkout_sessions", setup = "setup_sessions" }

    public let table: Table

    public init(_ table: Table) { self.table = table }

    /// The longest an attempt may run while its server is alive (a provider call hung past its own timeouts).
    public static let leaseSeconds: Int64 = 120
    /// A server that has not written its heartbeat for this long is taken to have died (three missed beats).
    public static let silentServerSeconds: Int64 = 15

    /// The condition that no attempt is running on the row: none was started, or its lease has
    /// run out, or the server that took it has stopped beating (it died mid-attempt).
    public static func noLiveAttempt(now: Timestamp) -> SQLQueryString {
        """
        (attempt_started_at IS NULL OR attempt_started_at < \(bind: now.adding(seconds: -leaseSeconds).milliseconds)
          OR attempt_owner IS NULL OR attempt_owner NOT IN (SELECT id FROM server_instances
            WHERE heartbeat_at >= \(bind: now.adding(seconds: -silentServerSeconds).milliseconds)))
        """
    }

    /// Makes `change` if the session may make it now; false when it may not (no longer pending,
    /// the wrong side of its expiry, or an attempt still running). `set` adds columns to write
    /// (a completed session's charge, say); a completion also ends the attempt that made it.
    public func apply(_ change: HostedSessionStatus.Change, to id: String, at now: Timestamp, on db: any SQLDatabase,
                      set: SQLQueryString = "") async throws -> Bool {
        let condition: SQLQueryString = switch change {
        // The attempt completing holds the lease, so only `pending` is checked.
        case .complete: ""
        case .expire: " AND expires_at <= \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        case .cancel: " AND expires_at > \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        }
        let ending: SQLQueryString = change == .complete ? ", attempt_started_at = NULL, completed_at = \(bind: now.milliseconds)" : ""
        return try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET status = \(bind: change.outcome.rawValue)" + ending + set
                                + " WHERE id = \(bind: id) AND status = 'pending'" + condition + " RETURNING id").first() != nil
    }

    /// Takes the session's attempt lease for `owner` (a server instance); false when another
    /// attempt holds it, or the session is locked or no longer payable.
    public func claimAttempt(_ id: String, owner: String, at now: Timestamp, on db: any SQLDatabase) async throws -> Bool {
        try await db.raw("""
            UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = \(bind: now.milliseconds), attempt_owner = \(bind: owner)
            WHERE id = \(bind: id) AND status = 'pending' AND expires_at > \(bind: now.milliseconds)
              AND (locked_until IS NULL OR locked_until <= \(bind: now.milliseconds)) AND \(Self.noLiveAttempt(now: now))
            RETURNING id
            """).first() != nil
    }

    /// Ends the attempt without a result (it was handed to 3-D Secure, or failed on our side).
    public func releaseAttempt(_ id: String, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = NULL WHERE id = \(bind: id)").run()
    }

    /// Ends the attempt as a failure: every `failuresBeforeLock`-th failure locks the session until `lockedUntil`.
    public func recordFailedAttempt(_ id: String, failuresBeforeLock: Int64, lockedUntil: Timestamp, on db: any SQLDatabase) async throws {
        try await db.raw("""
            UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = NULL, failed_attempts = failed_attempts + 1,
              locked_until = CASE WHEN (failed_attempts + 1) % \(bind: failuresBeforeLock) = 0 THEN \(bind: lockedUntil.milliseconds) ELSE locked_until END
            WHERE id = \(bind: id)
            """).run()
    }
}

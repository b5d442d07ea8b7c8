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

    /// One attempt's hold on a session: who took it and when. Every write that ends the attempt
    /// names it, so an attempt whose lease was taken over (its server was judged dead) can no
    /// longer complete, release or fail the session under the new holder.
    public struct Lease: Sendable, Equatable {
        public let owner: String
        public let startedAt: Timestamp
    }

    /// The condition that no attempt is running on the row: none was started, or its lease has
    /// run out, or the server that took it has stopped beating (it died mid-attempt). A lease taken
    /// before servers were named (no owner) only runs out.
    public static func noLiveAttempt(now: Timestamp) -> SQLQueryString {
        """
        (attempt_started_at IS NULL OR attempt_started_at < \(bind: now.adding(seconds: -leaseSeconds).milliseconds)
          OR (attempt_owner IS NOT NULL AND attempt_owner NOT IN (SELECT id FROM server_instances
            WHERE heartbeat_at >= \(bind: now.adding(seconds: -silentServerSeconds).milliseconds))))
        """
    }

    private static func held(by lease: Lease) -> SQLQueryString {
        " AND attempt_owner = \(bind: lease.owner) AND attempt_started_at = \(bind: lease.startedAt.milliseconds)"
    }

    /// Writes `server`'s heartbeat (and its row, if it was cleared away).
    public static func beat(_ server: String, at now: Timestamp, on db: any SQLDatabase) async throws {
        try await db.raw("""
            INSERT INTO server_instances (id, started, heartbeat_at) VALUES (\(bind: server), \(bind: now.milliseconds), \(bind: now.milliseconds))
            ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
            """).run()
    }

    /// Makes `change` if the session may make it now; false when it may not (no longer pending,
    /// the wrong side of its expiry, an attempt still running, or, for a completion, the lease
    /// `by` no longer held). `set` adds columns to write (a completed session's charge, say); a
    /// completion also ends the attempt that made it.
    public func apply(_ change: HostedSessionStatus.Change, to id: String, at now: Timestamp, by lease: Lease? = nil, on db: any SQLDatabase,
                      set: SQLQueryString = "") async throws -> Bool {
        let condition: SQLQueryString = switch change {
        case .complete: lease.map(Self.held(by:)) ?? ""
        case .expire: " AND expires_at <= \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        case .cancel: " AND expires_at > \(bind: now.milliseconds) AND \(Self.noLiveAttempt(now: now))"
        }
        let ending: SQLQueryString = change == .complete ? ", attempt_started_at = NULL, completed_at = \(bind: now.milliseconds)" : ""
        return try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET status = \(bind: change.outcome.rawValue)" + ending + set
                                + " WHERE id = \(bind: id) AND status = 'pending'" + condition + " RETURNING id").first() != nil
    }

    /// Takes the session's attempt lease for `owner` (this server, whose heartbeat is written in
    /// the same transaction: a server that takes a lease is alive); nil when another attempt holds
    /// it, or the session is locked or no longer payable.
    public func claimAttempt(_ id: String, owner: String, at now: Timestamp, on db: any SQLDatabase) async throws -> Lease? {
        try await Self.beat(owner, at: now, on: db)
        let claimed = try await db.raw("""
            UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = \(bind: now.milliseconds), attempt_owner = \(bind: owner)
            WHERE id = \(bind: id) AND status = 'pending' AND expires_at > \(bind: now.milliseconds)
              AND (locked_until IS NULL OR locked_until <= \(bind: now.milliseconds)) AND \(Self.noLiveAttempt(now: now))
            RETURNING id
            """).first() != nil
        return claimed ? Lease(owner: owner, startedAt: now) : nil
    }

    /// Ends the attempt without a result (it was handed to 3-D Secure, or failed on our side), if `lease` still holds it.
    public func releaseAttempt(_ id: String, lease: Lease, on db: any SQLDatabase) async throws {
        try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET attempt_started_at = NULL WHERE id = \(bind: id)" + Self.held(by: lease)).run()
    }

    /// Counts a failed attempt: every `failuresBeforeLock`-th failure locks the session until
    /// `lockedUntil`. With the attempt's `lease`, it also ends that attempt (if it still holds the
    /// session); without one (a 3-D Secure challenge failed, no attempt running), it only counts.
    public func recordFailedAttempt(_ id: String, lease: Lease?, failuresBeforeLock: Int64, lockedUntil: Timestamp, on db: any SQLDatabase) async throws {
        let ending: SQLQueryString = lease.map { lease in
            "attempt_started_at = CASE WHEN attempt_owner = \(bind: lease.owner) AND attempt_started_at = \(bind: lease.startedAt.milliseconds) THEN NULL ELSE attempt_started_at END, "
        } ?? ""
        try await db.raw("UPDATE \(unsafeRaw: table.rawValue) SET " + ending + """
            failed_attempts = failed_attempts + 1,
              locked_until = CASE WHEN (failed_attempts + 1) % \(bind: failuresBeforeLock) = 0 THEN \(bind: lockedUntil.milliseconds) ELSE locked_until END
            WHERE id = \(bind: id)
            """).run()
    }
}

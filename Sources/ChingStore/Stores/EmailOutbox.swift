import ChingDomain
import SQLKit

/// An email to a customer, as the outbox keeps it from the moment the change that caused it is
/// written until a sender has delivered it (or given up).
public struct OutgoingEmail: Sendable {
    public enum Status: String, Sendable, CaseIterable {
        /// Waiting for its (next) try.
        case pending
        /// The receiving server accepted it.
        case sent
        /// Refused for good (a 5xx reply), or still not accepted 3 days after it was written.
        case failed
        /// Never sent: the customer has no email address.
        case skipped
        /// Still waiting when sending was configured more than 3 days later: stale, never sent.
        case expired
    }

    public let id: String
    public let caller: Caller
    /// `receipt`, `refund_confirmation`, `payment_failed`.
    public let kind: String
    public let to: String
    public let locale: Language
    public let subject: String
    public let body: String
    /// The document or customer it is about.
    public let relatedID: String
    public let status: Status
    public let attemptCount: Int64
    public let nextAttemptAt: Timestamp
    /// The last refusal or failure, or why it was skipped.
    public let lastError: String?
    public let sentAt: Timestamp?
    public let created: Timestamp

    public init(id: String, caller: Caller, kind: String, to: String, locale: Language, subject: String, body: String, relatedID: String,
                created: Timestamp, skipped reason: String? = nil) {
        self.id = id; self.caller = caller; self.kind = kind; self.to = to; self.locale = locale; self.subject = subject; self.body = body
        self.relatedID = relatedID; self.status = reason == nil ? .pending : .skipped; self.attemptCount = 0; self.nextAttemptAt = created
        self.lastError = reason; self.sentAt = nil; self.created = created
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        kind = try row.string("kind")
        to = try row.string("to_address")
        locale = Language(rawValue: try row.string("locale")) ?? .he
        subject = try row.string("subject")
        body = try row.string("body")
        relatedID = try row.string("related_id")
        status = Status(rawValue: try row.string("status")) ?? .pending
        attemptCount = try row.int("attempt_count")
        nextAttemptAt = try row.timestamp("next_attempt_at")
        lastError = try row.optionalString("last_error")
        sentAt = try row.optionalTimestamp("sent_at")
        created = try row.timestamp("created")
    }
}

/// One try at sending an email.
public struct EmailAttempt: Sendable {
    public let attemptedAt: Timestamp
    /// `accepted`, `temporary` or `permanent`.
    public let outcome: String
    /// The server's reply, or why the connection failed.
    public let reply: String?

    public init(attemptedAt: Timestamp, outcome: String, reply: String?) { self.attemptedAt = attemptedAt; self.outcome = outcome; self.reply = reply }
}

/// The email outbox: emails are written in the transaction that caused them, so none is lost; a
/// sender leases due rows (so several servers never send one twice at once) and records each try.
public struct EmailOutbox: Sendable {
    let db: any SQLDatabase

    public func queue(_ email: OutgoingEmail) async throws {
        try await db.raw("""
            INSERT INTO email_outbox (id, project_id, livemode, kind, to_address, locale, subject, body, related_id, status, last_error,
              next_attempt_at, created)
            VALUES (\(bind: email.id), \(bind: email.caller.projectID), \(bind: email.caller.mode), \(bind: email.kind), \(bind: email.to),
              \(bind: email.locale.rawValue), \(bind: email.subject), \(bind: email.body), \(bind: email.relatedID), \(bind: email.status.rawValue),
              \(bind: email.lastError), \(bind: email.nextAttemptAt.milliseconds), \(bind: email.created.milliseconds))
            """).run()
    }

    /// Leases up to `limit` due emails until `leaseUntil` (skipping rows another server holds on PostgreSQL).
    public func claim(now: Timestamp, leaseUntil: Timestamp, limit: Int, projectID: String?, skipLocked: Bool) async throws -> [OutgoingEmail] {
        let lock: SQLQueryString = skipLocked ? " FOR UPDATE SKIP LOCKED" : ""
        let scope = projectScope(projectID)
        return try await db.raw("""
            UPDATE email_outbox SET lease_until = \(bind: leaseUntil.milliseconds)
            WHERE seq IN (SELECT seq FROM email_outbox WHERE status = 'pending' AND next_attempt_at <= \(bind: now.milliseconds)
              AND (lease_until IS NULL OR lease_until <= \(bind: now.milliseconds))
            """ + scope + " ORDER BY next_attempt_at, seq LIMIT \(bind: Int64(limit))" + lock + ") RETURNING *").all().map(OutgoingEmail.init)
    }

    /// Records a try and what follows: `sent`, `failed`, or `pending` again at `nextAttemptAt`; the lease ends.
    public func record(_ id: String, attempt: EmailAttempt, status: OutgoingEmail.Status, nextAttemptAt: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO email_attempts (email_id, attempted_at, outcome, reply)
            VALUES (\(bind: id), \(bind: attempt.attemptedAt.milliseconds), \(bind: attempt.outcome), \(bind: attempt.reply))
            """).run()
        try await db.raw("""
            UPDATE email_outbox SET status = \(bind: status.rawValue), attempt_count = attempt_count + 1, lease_until = NULL,
              next_attempt_at = \(bind: nextAttemptAt.milliseconds), last_error = \(bind: status == .sent ? nil : attempt.reply),
              sent_at = \(bind: status == .sent ? attempt.attemptedAt.milliseconds : nil)
            WHERE id = \(bind: id)
            """).run()
    }

    /// Emails still waiting that were written before `writtenBefore` become `expired` (sending was
    /// configured long after they were due: they would be stale); how many.
    public func expire(writtenBefore: Timestamp, projectID: String?) async throws -> Int {
        let scope = projectScope(projectID)
        return try await db.raw("""
            UPDATE email_outbox SET status = 'expired', last_error = 'not sent within 3 days of being written', lease_until = NULL
            WHERE status = 'pending' AND attempt_count = 0 AND created < \(bind: writtenBefore.milliseconds)
            """ + scope + " RETURNING id").all().count
    }

    public func find(_ id: String, caller: Caller) async throws -> OutgoingEmail? {
        try await db.scopedRow("email_outbox", id: id, caller: caller).map(OutgoingEmail.init)
    }

    public func attempts(of id: String) async throws -> [EmailAttempt] {
        try await db.raw("SELECT * FROM email_attempts WHERE email_id = \(bind: id) ORDER BY seq").all().map { row in
            EmailAttempt(attemptedAt: try row.timestamp("attempted_at"), outcome: try row.string("outcome"), reply: try row.optionalString("reply"))
        }
    }

    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<OutgoingEmail> {
        try await db.page("email_outbox", caller: caller, request, as: OutgoingEmail.init)
    }
}

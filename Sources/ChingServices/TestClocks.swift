import ChingDomain
import ChingStore
import Logging
import SQLKit

/// Test clocks (test mode only; shaped like Stripe's, CHING has none): a customer created on a
/// clock lives on its frozen time. Advancing the clock runs, in time order, every step of that
/// customer's subscriptions that falls due on the way (renewals, retries, trial notices, ends), each
/// at its own moment, so a year of renewals takes one call.
package enum TestClocks {
    package static let maximumAdvanceYears: Int64 = 2
    /// An advance still `advancing` after this long (real time) was cut off (its server stopped):
    /// the clock can be advanced or deleted again, and the walk resumes from where it stopped.
    package static let abandonedAdvanceSeconds: Int64 = 10 * 60

    /// `status = 'ready'`, or an advance that was cut off.
    private static func free(at now: Timestamp) -> SQLQueryString {
        "(status = 'ready' OR advance_started_at <= \(bind: now.adding(seconds: -abandonedAdvanceSeconds).milliseconds))"
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        if try row.bool("deleted") { return .object(["id": .string(try row.string("id")), "object": "test_clock", "deleted": true]) }
        return .object([
            "id": .string(try row.string("id")),
            "object": "test_clock",
            "name": .optional(try row.optionalString("name")),
            "frozen_time": .string(try row.timestamp("frozen_time").iso8601),
            "status": .string(try row.string("status")),
            "livemode": false,
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    package static func create(frozenTime: Timestamp, name: String?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.testClock)
        return try await services.database.transaction { db in
            try await db.raw("""
                INSERT INTO test_clocks (id, project_id, livemode, name, frozen_time, status, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: name), \(bind: frozenTime.milliseconds), 'ready',
                  \(bind: services.clock.now().milliseconds))
                """).run()
            return try json(try await existing(id, caller: caller, on: db))
        }
    }

    /// The clock's row (not deleted), or 404.
    package static func existing(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> any SQLRow {
        guard let row = try await db.scopedRow("test_clocks", id: id, caller: caller), try !row.bool("deleted") else {
            throw ServiceError.notFound("test_clock", id)
        }
        return row
    }

    /// Deletes the clock; its customers' live subscriptions are canceled at the clock's time.
    package static func delete(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let row = try await services.database.read { db in try await existing(id, caller: caller, on: db) }
        let available = try await services.database.read { db in
            try await db.raw("SELECT id FROM test_clocks WHERE id = \(bind: id) AND " + free(at: services.wallClock.now())).first()
        }
        guard available != nil else {
            throw ServiceError.rule("test_clock_advancing", "The clock is still advancing; delete it once its status is ready.", kind: .conflict)
        }
        let clocked = services.at(try row.timestamp("frozen_time"))
        let live = try await services.database.read { db in
            try await db.raw("""
                SELECT s.id FROM subscriptions s JOIN customers c ON c.id = s.customer_id
                WHERE c.test_clock = \(bind: id) AND s.status IN (\(Subscriptions.Status.sqlList(Subscriptions.Status.cancelable))) ORDER BY s.seq
                """).all().map { try $0.string("id") }
        }
        for subscription in live { _ = try await Subscriptions.cancel(subscription, atPeriodEnd: false, caller: caller, services: clocked) }
        try await services.database.transaction { db in
            try await db.raw("UPDATE test_clocks SET deleted = 1 WHERE id = \(bind: id)").run()
        }
        return .object(["id": .string(id), "object": "test_clock", "deleted": true])
    }

    /// Starts moving the clock to `target` and answers at once (`advancing`); the steps run in the
    /// background (`runAdvance`) and the clock is `ready` at `target` when they are done.
    package static func advance(_ id: String, to target: Timestamp, caller: Caller, services: AppServices) async throws -> JSONValue {
        let started = services.wallClock.now()
        let (clock, frozen) = try await services.database.transaction { db in
            let row = try await existing(id, caller: caller, on: db)
            let frozen = try row.timestamp("frozen_time")
            guard target > frozen else { throw ServiceError.invalid("frozen_time", "Must be later than the clock's time, \(frozen.iso8601).") }
            // Each step writes charges, documents and events: a bounded walk keeps one request from occupying the database for long.
            guard target <= BillingCalendar.add(.year, count: maximumAdvanceYears, to: frozen) else {
                throw ServiceError.invalid("frozen_time", "A clock moves at most \(maximumAdvanceYears) years at a time; advance it again from there.")
            }
            let moved = try await db.raw("""
                UPDATE test_clocks SET status = 'advancing', advance_started_at = \(bind: started.milliseconds) WHERE id = \(bind: id) AND
                """ + free(at: started) + " RETURNING id").first()
            guard moved != nil else {
                throw ServiceError.rule("test_clock_advancing", "The clock is still advancing; wait until its status is ready.", kind: .conflict)
            }
            return (try json(try await existing(id, caller: caller, on: db)), frozen)
        }
        Task { await runAdvance(id, from: frozen, to: target, startedAt: started, services: services) }
        return clock
    }

    /// Runs every due step of the clock's customers up to `target`, earliest first, each at its own
    /// time; then sets the clock to `target` and `ready`.
    package static func runAdvance(_ id: String, from start: Timestamp, to target: Timestamp, startedAt: Timestamp, services: AppServices) async {
        do {
            // Steps come earliest first, never before the clock's time. A step that moves nothing
            // (a subscription whose data is broken) is passed over, so it cannot stop the others.
            var now = start, passed: Timestamp? = nil, idle = 0
            // A subscription that fails every time it is tried would otherwise be stepped to every 5 minutes until the target.
            for _ in 0..<100_000 where idle < 10 {
                guard let next = try await nextStep(of: id, after: passed, until: target, services: services) else { break }
                now = max(now, next)
                let at = now
                try await services.database.transaction { db in
                    try await db.raw("UPDATE test_clocks SET frozen_time = \(bind: at.milliseconds) WHERE id = \(bind: id) AND frozen_time < \(bind: at.milliseconds)").run()
                }
                let report = try await Sweeper(services: services.at(now), testClockID: id).sweep()
                let moved = report != Sweeper.Report()
                (passed, idle) = moved ? (nil, 0) : (now, idle + 1)
            }
        } catch {
            services.logger.error("A test clock's advance stopped", metadata: ["clock": "\(id)", "error": "\(String(reflecting: type(of: error)))"])
        }
        // Only the walk that still owns the advance ends it (one taken over after a stall must not).
        _ = try? await services.database.transaction { db in
            try await db.raw("""
                UPDATE test_clocks SET frozen_time = \(bind: target.milliseconds), status = 'ready'
                WHERE id = \(bind: id) AND advance_started_at = \(bind: startedAt.milliseconds)
                """).run()
        }
    }

    /// The earliest moment at or before `target` (and after `passed`, when given) when one of the
    /// clock's subscriptions has something due; a renewal in flight is due again when its lease runs out.
    private static func nextStep(of id: String, after passed: Timestamp?, until target: Timestamp, services: AppServices) async throws -> Timestamp? {
        let rows = try await services.database.read { db in
            try await db.raw("""
                SELECT s.status, s.cancel_at_period_end, s.current_period_end, s.next_retry_at, s.trial_end, s.trial_will_end_sent, s.created,
                  s.renewal_started_at
                FROM subscriptions s JOIN customers c ON c.id = s.customer_id
                WHERE c.test_clock = \(bind: id) AND s.status IN (\(Subscriptions.Status.sqlList(Subscriptions.Status.cancelable)))
                """).all()
        }
        var times: [Timestamp] = []
        for row in rows {
            let leasedUntil = try row.optionalTimestamp("renewal_started_at")?.adding(seconds: Renewals.leaseSeconds)
            func due(_ time: Timestamp) -> Timestamp { leasedUntil.map { max($0, time) } ?? time }
            switch try row.string("status") {
            case "trialing", "active":
                times.append(due(try row.timestamp("current_period_end")))
                if try row.string("status") == "trialing", try !row.bool("trial_will_end_sent"), let trialEnd = try row.optionalTimestamp("trial_end") {
                    times.append(trialEnd.adding(days: -Renewals.trialNoticeDays))
                }
            case "past_due":
                if let retry = try row.optionalTimestamp("next_retry_at") { times.append(due(retry)) }
            default:
                times.append(try row.timestamp("created").adding(seconds: Subscriptions.incompleteLifetimeSeconds))
            }
        }
        return times.filter { time in time <= target && passed.map { time > $0 } ?? true }.min()
    }
}

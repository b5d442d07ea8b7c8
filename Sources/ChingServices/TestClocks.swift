import ChingDomain
import ChingStore
import Logging

/// Test clocks (test mode only; shaped like Stripe's, CHING has none): a customer created on a
/// clock lives on its frozen time. Advancing the clock runs, in time order, every step of that
/// customer's subscriptions that falls due on the way (renewals, retries, trial notices, ends), each
/// at its own moment, so a year of renewals takes one call.
package enum TestClocks {
    package static let maximumAdvanceYears: Int64 = 2
    /// An advance still `advancing` after this long (real time) was cut off (its server stopped):
    /// the clock can be advanced or deleted again, and the walk resumes from where it stopped.
    package static let abandonedAdvanceSeconds: Int64 = 10 * 60

    /// An advance started before this was cut off.
    private static func abandonedBefore(_ now: Timestamp) -> Timestamp { now.adding(seconds: -abandonedAdvanceSeconds) }

    package static func json(_ clock: TestClock) -> JSONValue {
        if clock.deleted { return .object(["id": .string(clock.id), "object": "test_clock", "deleted": true]) }
        return .object([
            "id": .string(clock.id),
            "object": "test_clock",
            "name": .optional(clock.name),
            "frozen_time": .string(clock.frozenTime.iso8601),
            "status": .string(clock.status),
            "livemode": false,
            "created": .string(clock.created.iso8601),
        ])
    }

    package static func create(frozenTime: Timestamp, name: String?, caller: Caller, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.testClock)
        return try await services.database.transaction { db in
            try await db.testClocks.insert(id: id, caller: caller, name: name, frozenTime: frozenTime, created: services.clock.now())
            return json(try await existing(id, caller: caller, on: db))
        }
    }

    /// The clock (not deleted), or 404.
    package static func existing(_ id: String, caller: Caller, on db: Store) async throws -> TestClock {
        guard let clock = try await db.testClocks.find(id, caller: caller), !clock.deleted else {
            throw ServiceError.notFound("test_clock", id)
        }
        return clock
    }

    /// Deletes the clock; its customers' live subscriptions are canceled at the clock's time.
    package static func delete(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        let clock = try await services.database.read { db in try await existing(id, caller: caller, on: db) }
        let available = try await services.database.read { db in
            try await db.testClocks.isFree(id, abandonedBefore: abandonedBefore(services.wallClock.now()))
        }
        guard available else {
            throw ServiceError.rule("test_clock_advancing", "The clock is still advancing; delete it once its status is ready.", kind: .conflict)
        }
        let clocked = services.at(clock.frozenTime)
        let live = try await services.database.read { db in
            try await db.subscriptions.onClock(id, statuses: Subscriptions.Status.cancelable).map(\.id)
        }
        for subscription in live { _ = try await Subscriptions.cancel(subscription, atPeriodEnd: false, caller: caller, services: clocked) }
        try await services.database.transaction { db in try await db.testClocks.markDeleted(id) }
        return .object(["id": .string(id), "object": "test_clock", "deleted": true])
    }

    /// Starts moving the clock to `target` and answers at once (`advancing`); the steps run in the
    /// background (`runAdvance`) and the clock is `ready` at `target` when they are done.
    package static func advance(_ id: String, to target: Timestamp, caller: Caller, services: AppServices) async throws -> JSONValue {
        let started = services.wallClock.now()
        let (clock, frozen) = try await services.database.transaction { db in
            let frozen = try await existing(id, caller: caller, on: db).frozenTime
            guard target > frozen else { throw ServiceError.invalid("frozen_time", "Must be later than the clock's time, \(frozen.iso8601).") }
            // Each step writes charges, documents and events: a bounded walk keeps one request from occupying the database for long.
            guard target <= BillingCalendar.add(.year, count: maximumAdvanceYears, to: frozen) else {
                throw ServiceError.invalid("frozen_time", "A clock moves at most \(maximumAdvanceYears) years at a time; advance it again from there.")
            }
            guard try await db.testClocks.startAdvance(id, startedAt: started, abandonedBefore: abandonedBefore(started)) else {
                throw ServiceError.rule("test_clock_advancing", "The clock is still advancing; wait until its status is ready.", kind: .conflict)
            }
            return (json(try await existing(id, caller: caller, on: db)), frozen)
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
                try await services.database.transaction { db in try await db.testClocks.moveForward(id, to: at) }
                let report = try await Sweeper(services: services.at(now), testClockID: id).sweep()
                let moved = report != Sweeper.Report()
                (passed, idle) = moved ? (nil, 0) : (now, idle + 1)
            }
        } catch {
            services.logger.error("A test clock's advance stopped", metadata: ["clock": "\(id)", "error": "\(String(reflecting: type(of: error)))"])
        }
        // Only the walk that still owns the advance ends it (one taken over after a stall must not).
        _ = try? await services.database.transaction { db in try await db.testClocks.finishAdvance(id, startedAt: startedAt, at: target) }
    }

    /// The earliest moment at or before `target` (and after `passed`, when given) when one of the
    /// clock's subscriptions has something due; a renewal in flight is due again when its lease runs out.
    private static func nextStep(of id: String, after passed: Timestamp?, until target: Timestamp, services: AppServices) async throws -> Timestamp? {
        let subscriptions = try await services.database.read { db in
            try await db.subscriptions.onClock(id, statuses: Subscriptions.Status.cancelable)
        }
        var times: [Timestamp] = []
        for subscription in subscriptions {
            let leasedUntil = subscription.renewalStartedAt?.adding(seconds: Renewals.leaseSeconds)
            func due(_ time: Timestamp) -> Timestamp { leasedUntil.map { max($0, time) } ?? time }
            switch subscription.status {
            case .trialing, .active:
                if let periodEnd = subscription.currentPeriodEnd { times.append(due(periodEnd)) }
                if subscription.status == .trialing, !subscription.trialWillEndSent, let trialEnd = subscription.trialEnd {
                    times.append(trialEnd.adding(days: -Renewals.trialNoticeDays))
                }
            case .pastDue:
                if let retry = subscription.nextRetryAt { times.append(due(retry)) }
            default:
                times.append(subscription.created.adding(seconds: Subscriptions.incompleteLifetimeSeconds))
            }
        }
        return times.filter { time in time <= target && passed.map { time > $0 } ?? true }.min()
    }
}

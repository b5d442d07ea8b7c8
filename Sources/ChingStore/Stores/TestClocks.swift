import ChingDomain
import SQLKit

/// A test clock as stored: the frozen time its customers live on.
public struct TestClock: Sendable {
    public let id: String
    public let caller: Caller
    public let name: String?
    public let frozenTime: Timestamp
    /// `ready` or `advancing`.
    public let status: String
    public let deleted: Bool
    public let created: Timestamp

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        name = try row.optionalString("name")
        frozenTime = try row.timestamp("frozen_time")
        status = try row.string("status")
        deleted = try row.bool("deleted")
        created = try row.timestamp("created")
    }
}

/// The `test_clocks` table. An advance holds the clock (`advancing`) from its start; one started
/// before `abandonedBefore` was cut off (its server stopped), so the clock is free again.
public struct TestClockStore: Sendable {
    let db: any SQLDatabase

    /// `status = 'ready'`, or an advance that started before `abandonedBefore`.
    private static func free(abandonedBefore: Timestamp) -> SQLQueryString {
        "(status = 'ready' OR advance_started_at <= \(bind: abandonedBefore.milliseconds))"
    }

    public func find(_ id: String, caller: Caller) async throws -> TestClock? {
        try await db.scopedRow("test_clocks", id: id, caller: caller).map(TestClock.init)
    }

    /// The clock a customer lives on, if any (deleted ones too).
    public func clock(ofCustomer customerID: String) async throws -> TestClock? {
        try await db.raw("SELECT t.* FROM customers c JOIN test_clocks t ON t.id = c.test_clock WHERE c.id = \(bind: customerID)")
            .first().map(TestClock.init)
    }

    public func insert(id: String, caller: Caller, name: String?, frozenTime: Timestamp, created: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO test_clocks (id, project_id, livemode, name, frozen_time, status, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: name), \(bind: frozenTime.milliseconds), 'ready',
              \(bind: created.milliseconds))
            """).run()
    }

    /// Whether no advance holds the clock.
    public func isFree(_ id: String, abandonedBefore: Timestamp) async throws -> Bool {
        try await db.raw("SELECT id FROM test_clocks WHERE id = \(bind: id) AND " + Self.free(abandonedBefore: abandonedBefore)).first() != nil
    }

    /// Marks the clock `advancing` from `startedAt`; false when another advance holds it.
    public func startAdvance(_ id: String, startedAt: Timestamp, abandonedBefore: Timestamp) async throws -> Bool {
        try await db.raw("UPDATE test_clocks SET status = 'advancing', advance_started_at = \(bind: startedAt.milliseconds) WHERE id = \(bind: id) AND "
                         + Self.free(abandonedBefore: abandonedBefore) + " RETURNING id").first() != nil
    }

    /// Moves the clock forward to `time` (never back).
    public func moveForward(_ id: String, to time: Timestamp) async throws {
        try await db.raw("UPDATE test_clocks SET frozen_time = \(bind: time.milliseconds) WHERE id = \(bind: id) AND frozen_time < \(bind: time.milliseconds)").run()
    }

    /// Ends the advance started at `startedAt` at `target` (only if that advance still holds the clock).
    public func finishAdvance(_ id: String, startedAt: Timestamp, at target: Timestamp) async throws {
        try await db.raw("""
            UPDATE test_clocks SET frozen_time = \(bind: target.milliseconds), status = 'ready'
            WHERE id = \(bind: id) AND advance_started_at = \(bind: startedAt.milliseconds)
            """).run()
    }

    public func markDeleted(_ id: String) async throws {
        try await db.raw("UPDATE test_clocks SET deleted = 1 WHERE id = \(bind: id)").run()
    }

    /// The caller's clocks that are not deleted, newest first.
    public func list(caller: Caller, _ request: PageRequest) async throws -> Page<TestClock> {
        try await db.page("test_clocks", caller: caller, request, filter: " AND deleted = 0", as: TestClock.init)
    }
}

extension SQLDatabase {
    public var testClocks: TestClockStore { TestClockStore(db: self) }
}

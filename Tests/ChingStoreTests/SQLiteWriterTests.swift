import Foundation
import Logging
import SQLKit
import SQLiteNIO
import Synchronization
import Testing
@testable import ChingStore

/// The SQLite writer's group commit: several callers' transactions share one COMMIT, and each
/// caller still gets all-or-nothing for its own writes, visible to readers once it returns.
@Suite("SQLite writer")
struct SQLiteWriterTests {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("ching-writer-\(UUID().uuidString).sqlite").path
    let logger = Logger(label: "test")

    func open() throws -> (SQLiteWriter, SQLiteHandle) {
        let handle = try SQLiteHandle(path: path)
        try handle.execute("PRAGMA journal_mode=WAL")
        try handle.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, note TEXT NOT NULL UNIQUE, owner TEXT, kind TEXT, seq INTEGER)")
        try handle.execute("CREATE INDEX IF NOT EXISTS items_owner ON items (owner, kind)")
        return (SQLiteWriter(handle: handle), try SQLiteHandle(path: path))
    }

    func count(_ reader: SQLiteHandle, _ sql: String = "SELECT count(*) AS n FROM items") throws -> Int {
        var result = -1
        try reader.run(sql, binds: []) { row in result = (try? row.decode(column: "n", as: Int.self)) ?? -1 }
        return result
    }

    struct Refused: Error {}

    @Test("40 transactions commit with 2 COMMITs; the ones that throw leave nothing, the rest all land")
    func groupsAndIsolatesFailures() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        let gate = Gate()
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            // The first caller holds the writer until the other 39 are queued behind it.
            group.addTask {
                try await writer.transaction(logger: logger) { db in
                    try await db.raw("INSERT INTO items (id, note) VALUES (0, 'first')").run()
                    await gate.wait()
                }
                return (0, true)
            }
            await gate.untilWaiting()
            for index in 1..<40 {
                group.addTask {
                    do {
                        try await writer.transaction(logger: logger) { db in
                            try await db.raw("INSERT INTO items (id, note) VALUES (\(bind: index), \(bind: "item \(index)"))").run()
                            if index % 3 == 0 { throw Refused() }
                        }
                        return (index, true)
                    } catch is Refused {
                        return (index, false)
                    }
                }
            }
            while writer.waiting < 39 { await Task.yield() }
            gate.open()
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(results.filter { !$0.value }.keys.sorted() == Array(stride(from: 3, to: 40, by: 3)))
        #expect(try count(reader) == 27)
        #expect(try count(reader, "SELECT count(*) AS n FROM items WHERE id % 3 = 0 AND id > 0") == 0)
        // The first alone (it ran before the others queued), then the other 39 as one group.
        #expect(writer.commits == 2)
        await writer.close(logger: logger)
    }

    @Test("When the whole transaction is lost mid-group, the callers before it get the error and the ones after it still land")
    func abandonedTransaction() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        struct Lost: Error {}
        let gate = Gate()
        let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            group.addTask {
                try await writer.transaction(logger: logger) { _ in
                    await gate.wait()
                }
                return (0, "ok")
            }
            await gate.untilWaiting()
            // Queued one at a time, so the group runs them in this order.
            for index in 1...5 {
                group.addTask {
                    do {
                        try await writer.transaction(logger: logger) { db in
                            try await db.raw("INSERT INTO items (id, note) VALUES (\(bind: index), \(bind: "n\(index)"))").run()
                            if index == 3 {
                                // As SQLite does after an I/O error: the whole transaction is gone.
                                try await db.raw("ROLLBACK").run()
                                throw Lost()
                            }
                        }
                        return (index, "ok")
                    } catch is Lost {
                        return (index, "lost")
                    } catch is TransactionLost {
                        return (index, "rolled back with the group")
                    } catch {
                        return (index, "error")
                    }
                }
                while writer.waiting < index { await Task.yield() }
            }
            gate.open()
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        // 3 gets its own error; 1 and 2, whose writes went with it, are told their transaction was lost.
        #expect(results == [0: "ok", 1: "rolled back with the group", 2: "rolled back with the group", 3: "lost", 4: "ok", 5: "ok"])
        var ids: [Int] = []
        try reader.run("SELECT id FROM items ORDER BY id", binds: []) { row in ids.append((try? row.decode(column: "id", as: Int.self)) ?? -1) }
        #expect(ids == [4, 5])
        await writer.close(logger: logger)
    }

    @Test("Cancelling the task that leads the queue does not roll back the group it runs")
    func leaderCancelled() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        let gate = Gate()
        let leader = Task {
            try await writer.transaction(logger: logger) { db in
                try await db.raw("INSERT INTO items (id, note) VALUES (0, 'leader')").run()
                await gate.wait()
            }
        }
        await gate.untilWaiting()
        let others = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1...3 {
                    group.addTask {
                        try await writer.transaction(logger: logger) { db in
                            try await db.raw("INSERT INTO items (id, note) VALUES (\(bind: index), \(bind: "n\(index)"))").run()
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        while writer.waiting < 3 { await Task.yield() }
        leader.cancel()
        gate.open()
        try await leader.value
        try await others.value
        #expect(try count(reader) == 4)
        await writer.close(logger: logger)
    }

    @Test("After close, transactions are refused instead of reaching a closed connection; queued ones still ran")
    func closeDrainsThenRefuses() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        let gate = Gate()
        let first = Task {
            try await writer.transaction(logger: logger) { db in
                try await db.raw("INSERT INTO items (id, note) VALUES (1, 'before close')").run()
                await gate.wait()
            }
        }
        await gate.untilWaiting()
        let queued = Task {
            try await writer.transaction(logger: logger) { db in try await db.raw("INSERT INTO items (id, note) VALUES (2, 'queued')").run() }
        }
        while writer.waiting < 1 { await Task.yield() }
        let closing = Task { await writer.close(logger: logger) }
        while writer.waiting < 2 { await Task.yield() }
        await #expect(throws: SQLiteFailure.self) {
            try await writer.transaction(logger: logger) { db in try await db.raw("INSERT INTO items (id, note) VALUES (3, 'after close')").run() }
        }
        gate.open()
        try await first.value
        try await queued.value
        await closing.value
        #expect(try count(reader) == 2)
    }

    @Test("A caller's writes are visible to other connections as soon as its transaction returns")
    func committedOnReturn() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        let reads = Shared<[Int: Int]>([:])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<30 {
                group.addTask {
                    try await writer.transaction(logger: logger) { db in
                        try await db.raw("INSERT INTO items (id, note) VALUES (\(bind: index), \(bind: "n\(index)"))").run()
                    }
                    // A fresh connection, as another request's read would use.
                    let other = try SQLiteHandle(path: path)
                    defer { other.close() }
                    let seen = try count(other, "SELECT count(*) AS n FROM items WHERE id = \(index)")
                    reads.value.withLock { $0[index] = seen }
                }
            }
            try await group.waitForAll()
        }
        #expect(reads.value.withLock { $0 } == Dictionary(uniqueKeysWithValues: (0..<30).map { ($0, 1) }))
        await writer.close(logger: logger)
    }

    @Test("A unique violation caught inside the body leaves the transaction usable")
    func caughtConstraintError() async throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        try await writer.transaction(logger: logger) { db in
            try await db.raw("INSERT INTO items (id, note) VALUES (1, 'same')").run()
            do {
                try await db.raw("INSERT INTO items (id, note) VALUES (2, 'same')").run()
                Issue.record("the duplicate was accepted")
            } catch {
                #expect(Database.isUniqueViolation(error))
            }
            try await db.raw("INSERT INTO items (id, note) VALUES (3, 'other')").run()
        }
        #expect(try count(reader) == 2)
        await writer.close(logger: logger)
    }

    @Test("Statements are compiled once per connection, whatever is bound (the saved-cards query of every page view)")
    func statementsAreKept() throws {
        let (writer, reader) = try open()
        defer { reader.close(); try? FileManager.default.removeItem(atPath: path) }
        _ = writer
        for id in 0..<5 {
            try reader.run("SELECT id AS n FROM items WHERE owner = ?1 AND kind = 'active' ORDER BY seq DESC", binds: [.text("x\(id)")]) { _ in }
        }
        #expect(reader.recompilations == 0)
        #expect(reader.compiledStatements == 1)
    }
}

/// A value several test tasks share.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}

/// Holds a transaction body (and so the writer) until the test opens it.
final class Gate: Sendable {
    private let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
    func wait() async { await withCheckedContinuation { continuation in waiter.withLock { $0 = continuation } } }
    func untilWaiting() async { while waiter.withLock({ $0 == nil }) { await Task.yield() } }
    func open() { waiter.withLock { $0?.resume() } }
}

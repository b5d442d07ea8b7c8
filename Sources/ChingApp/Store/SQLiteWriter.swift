import Logging
import NIOPosix
import SQLKit
import Synchronization

/// The SQLite writer connection, with group commit.
///
/// SQLite has one writer at a time, so transactions take turns on one connection, first come
/// first served. With `synchronous=FULL` every COMMIT waits for the disk (an fsync), and while
/// it waits nobody else can write: that fsync, not the SQL, was what limited charges per second.
/// So a transaction that finishes while others are queued does not commit on its own. It
/// releases its savepoint and hands the open transaction to the next in line, and waits; the
/// last of the group (nobody waiting, or `groupLimit` reached) commits for all of them, and
/// then each caller returns. Nobody returns before its writes are on disk, so "committed" means
/// the same as before: durable.
///
/// Each caller's body runs inside its own savepoint, so a body that throws undoes only its own
/// writes. If SQLite itself abandons the transaction (a full disk, an I/O error), or the COMMIT
/// fails, every caller of the group gets the error, and none of their writes land.
final class SQLiteWriter: Sendable {
    let handle: SQLiteHandle
    private let state = Mutex<State>(State())
    /// The most transactions one COMMIT covers: bounds how long the first of a group waits.
    static let groupLimit = 16

    private struct State {
        var busy = false
        /// Callers waiting for their turn, first come first served.
        var queue: [CheckedContinuation<Void, Never>] = []
        /// Callers whose bodies succeeded inside the open transaction, waiting for its COMMIT
        /// (resumed with `true` once it is on disk).
        var group: [CheckedContinuation<Bool, any Error>] = []
        var commits = 0
    }

    /// Callers waiting for their turn, and COMMITs so far: what the tests observe of grouping.
    var waiting: Int { state.withLock { $0.queue.count } }
    var commits: Int { state.withLock { $0.commits } }

    init(handle: SQLiteHandle) { self.handle = handle }

    func transaction<T: Sendable>(logger: Logger, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        await takeTurn()
        let outcome: Result<T, any Error>
        do {
            if !handle.inTransaction { try handle.execute("BEGIN IMMEDIATE") }
            try handle.execute("SAVEPOINT caller")
            outcome = .success(try await body(SQLiteSession(handle: handle, logger: logger)))
            try handle.execute("RELEASE caller")
        } catch {
            return try await finish(failed: error)
        }
        // Join the group and let the next caller write (true once the group's COMMIT is on
        // disk), or be the last and commit (false).
        let grouped = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.queue.isEmpty, state.group.count + 1 < Self.groupLimit else { return nil }
                state.group.append(continuation)
                return state.queue.removeFirst()
            }
            if let next { next.resume() } else { continuation.resume(returning: false) }
        }
        if !grouped {
            defer { passTurn() }
            try await commit()
        }
        return try outcome.get()
    }

    /// A caller's body threw. Undo its writes, keep the group's, and pass the turn on.
    private func finish<T>(failed error: any Error) async throws -> T {
        if handle.inTransaction {
            try? handle.execute("ROLLBACK TO caller")
            try? handle.execute("RELEASE caller")
            // Commit the group's writes unless someone else is queued to carry them on.
            if state.withLock({ $0.queue.isEmpty }) { try? await commit() }
        } else {
            // SQLite rolled the whole transaction back: the group's writes are gone with it.
            failGroup(error)
        }
        passTurn()
        throw error
    }

    /// Commits the open transaction for the whole group and tells each member. The COMMIT waits
    /// for the disk, so it runs on NIO's blocking-I/O pool rather than on one of the few threads
    /// that serve requests.
    private func commit() async throws {
        do {
            try await NIOThreadPool.singleton.runIfActive { [handle] in try handle.execute("COMMIT") }
        } catch {
            if handle.inTransaction { try? handle.execute("ROLLBACK") }
            failGroup(error)
            throw error
        }
        let members = state.withLock { state in
            state.commits += 1
            defer { state.group = [] }
            return state.group
        }
        for member in members { member.resume(returning: true) }
    }

    private func failGroup(_ error: any Error) {
        for member in state.withLock({ state in defer { state.group = [] }; return state.group }) { member.resume(throwing: error) }
    }

    private func takeTurn() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if !state.busy { state.busy = true; return true }
                state.queue.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func passTurn() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.queue.isEmpty { state.busy = false; return nil }
            return state.queue.removeFirst()
        }
        next?.resume()
    }

    /// Closes the connection once no transaction is using it.
    func close() async {
        await takeTurn()
        if handle.inTransaction { try? await commit() }  // a group that handed its turn to this close
        handle.close()
    }
}

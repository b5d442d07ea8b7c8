import Logging
import NIOCore
import NIOPosix
import SQLKit
import Synchronization

/// The SQLite writer connection, with group commit.
///
/// SQLite has one writer at a time, so transactions take turns on one connection, first come
/// first served. Two things made those turns slow under load. With `synchronous=FULL` every
/// COMMIT waits for the disk (an fsync) while nobody else can write. And handing the turn from
/// one request's task to the next waited for that task to be scheduled on a busy thread pool,
/// with the writer idle meanwhile.
///
/// So callers queue their transaction bodies, and one of them, the leader, runs the queue: it
/// opens a transaction, runs up to `groupLimit` bodies one after the other (each in its own
/// savepoint), commits them all with one COMMIT, and only then tells each caller its outcome.
/// Nobody returns before its writes are on disk, so "committed" means the same as before. When
/// the leader's own body is done and others are queued, the first of them leads next.
///
/// A body that throws undoes only its own writes. If SQLite itself abandons the transaction (a
/// full disk, an I/O error) or the COMMIT fails, every caller whose writes were in it gets the
/// error, and none of those writes land.
final class SQLiteWriter: Sendable {
    let handle: SQLiteHandle
    private let state = Mutex<State>(State())
    /// The most transactions one COMMIT covers: bounds how long the first of a group waits.
    static let groupLimit = 64

    private struct State {
        var leading = false
        var queue: [Job] = []
        var commits = 0
    }

    /// One caller's transaction. The leader writes `result` before resuming `waiter`, and the
    /// caller reads it after: the continuation orders the two, hence `@unchecked Sendable`.
    private final class Job: @unchecked Sendable {
        let body: @Sendable (any SQLDatabase) async throws -> any Sendable
        var result: Result<any Sendable, any Error> = .failure(CancellationError())
        /// Resumed with `true` to lead, `false` once `result` is final.
        var waiter: CheckedContinuation<Bool, Never>?
        init(_ body: @escaping @Sendable (any SQLDatabase) async throws -> any Sendable) { self.body = body }
    }

    /// Callers waiting, and COMMITs so far: what the tests observe of grouping.
    var waiting: Int { state.withLock { $0.queue.count } }
    var commits: Int { state.withLock { $0.commits } }

    init(handle: SQLiteHandle) { self.handle = handle }

    func transaction<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let job = Job { try await body($0) }
        let lead = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let now = state.withLock { state -> Bool in
                state.queue.append(job)
                if state.leading {
                    job.waiter = continuation
                    return false
                }
                state.leading = true
                return true
            }
            if now { continuation.resume(returning: true) }
        }
        if lead { await runQueue(until: job, logger: logger) }
        return try job.result.get() as! T
    }

    /// Runs queued transactions in groups until `own` is done, then passes the lead on.
    private func runQueue(until own: Job, logger: Logger) async {
        while true {
            let group = state.withLock { state in
                let group = Array(state.queue.prefix(Self.groupLimit))
                state.queue.removeFirst(group.count)
                return group
            }
            await run(group, logger: logger)
            for job in group where job !== own { job.waiter?.resume(returning: false) }
            guard group.contains(where: { $0 === own }) else { continue }
            // The next leader's job stays queued: it runs it in its own first group.
            let nextLeader = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let next = state.queue.first else {
                    state.leading = false
                    return nil
                }
                defer { next.waiter = nil }
                return next.waiter
            }
            nextLeader?.resume(returning: true)
            return
        }
    }

    /// One transaction for the whole group, each body in its own savepoint, then one COMMIT.
    private func run(_ group: [Job], logger: Logger) async {
        let session = SQLiteSession(handle: handle, logger: logger)
        var landed: [Job] = []  // bodies that succeeded in the open transaction
        for job in group {
            do {
                if !handle.inTransaction { try handle.execute("BEGIN IMMEDIATE") }
                try handle.execute("SAVEPOINT caller")
            } catch {
                job.result = .failure(error)
                continue
            }
            do {
                job.result = .success(try await job.body(session))
                try handle.execute("RELEASE caller")
                landed.append(job)
            } catch {
                job.result = .failure(error)
                if handle.inTransaction {
                    try? handle.execute("ROLLBACK TO caller")
                    try? handle.execute("RELEASE caller")
                } else {
                    // SQLite rolled the whole transaction back: the writes before this one are gone too.
                    for earlier in landed { earlier.result = .failure(error) }
                    landed = []
                }
            }
        }
        guard handle.inTransaction else { return }
        do {
            // The COMMIT waits for the disk: on NIO's blocking-I/O pool, not a request thread. Not
            // the cancellable variant: the leader's request being cancelled (its client gone) must
            // not roll back the group's writes.
            try await NIOThreadPool.singleton.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any()) { [handle] in
                try handle.execute("COMMIT")
            }.get()
            state.withLock { $0.commits += 1 }
        } catch {
            if handle.inTransaction { try? handle.execute("ROLLBACK") }
            for job in landed { job.result = .failure(error) }
        }
    }

    /// Closes the connection once no transaction is using it.
    func close(logger: Logger) async {
        _ = try? await transaction(logger: logger) { _ in }
        handle.close()
    }
}

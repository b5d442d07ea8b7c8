import Logging
import NIOCore
import NIOPosix
import SQLKit
import VaporCSQLite
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
        /// Set by `close`: later transactions are refused rather than run on a closed connection.
        var closed = false
        var queue: [Job] = []
        var commits = 0
    }

    /// One caller's transaction. The leader writes `result` before resuming `waiter`, and the
    /// caller reads it after: the continuation orders the two, hence `@unchecked Sendable`.
    private final class Job: @unchecked Sendable {
        let body: @Sendable (any SQLDatabase) async throws -> any Sendable
        var result: Result<any Sendable, any Error> = .failure(CancellationError())
        /// Resumed with `.lead` to lead the queue, or `.done` once `result` is final.
        var waiter: CheckedContinuation<Turn, Never>?
        init(_ body: @escaping @Sendable (any SQLDatabase) async throws -> any Sendable) { self.body = body }
    }

    /// Callers waiting, and COMMITs so far: what the tests observe of grouping.
    var waiting: Int { state.withLock { $0.queue.count } }
    var commits: Int { state.withLock { $0.commits } }

    init(handle: SQLiteHandle) { self.handle = handle }

    func transaction<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await run(Job { try await body($0) }, closing: false, logger: logger).get() as! T
    }

    /// Closes the connection after every transaction queued before this call; later ones are refused.
    func close(logger: Logger) async {
        _ = try? await run(Job { _ in }, closing: true, logger: logger).get()
        handle.close()
    }

    /// What a queued caller is told: lead the queue, its outcome is final, or the database is closed.
    private enum Turn { case lead, done, refused }

    /// Queues `job` and waits for its outcome, leading the queue if nobody else does.
    private func run(_ job: Job, closing: Bool, logger: Logger) async throws -> Result<any Sendable, any Error> {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let now = state.withLock { state -> Turn? in
                if state.closed { return .refused }
                if closing { state.closed = true }
                state.queue.append(job)
                if state.leading {
                    job.waiter = continuation  // resumed by the leader
                    return nil
                }
                state.leading = true
                return .lead
            }
            if let now { continuation.resume(returning: now) }
        }
        switch turn {
        case .refused: throw SQLiteFailure(code: SQLITE_MISUSE, message: "The database is closed.")
        case .lead: await runQueue(until: job, logger: logger)
        case .done: break
        }
        return job.result
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
            for job in group where job !== own { job.waiter?.resume(returning: .done) }
            guard group.contains(where: { $0 === own }) else { continue }
            // The next leader's job stays queued: it runs it in its own first group.
            let nextLeader = state.withLock { state -> CheckedContinuation<Turn, Never>? in
                guard let next = state.queue.first else {
                    state.leading = false
                    return nil
                }
                defer { next.waiter = nil }
                return next.waiter
            }
            nextLeader?.resume(returning: .lead)
            return
        }
    }

    /// One transaction for the whole group, each body in its own savepoint, then one COMMIT.
    private func run(_ group: [Job], logger: Logger) async {
        let session = SQLiteSession(handle: handle, logger: logger)
        // Never carry writes from one group into the next: a transaction left open by a failed
        // ROLLBACK is dropped here.
        if handle.inTransaction { try? handle.execute("ROLLBACK") }
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
                let undone = handle.inTransaction
                    && (try? handle.execute("ROLLBACK TO caller")) != nil && (try? handle.execute("RELEASE caller")) != nil
                if !undone {
                    // SQLite rolled the whole transaction back, or this body's writes could not be
                    // undone alone: the group's writes so far go too, and their callers are told.
                    if handle.inTransaction { try? handle.execute("ROLLBACK") }
                    for earlier in landed { earlier.result = .failure(TransactionLost(cause: error)) }
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

}

/// A transaction whose writes were lost with its group's, because a later caller's failure took
/// the whole SQLite transaction with it. Carries that failure for the logs; it is not the
/// caller's own, so it is not shown to API clients.
struct TransactionLost: Error, CustomStringConvertible {
    let cause: any Error
    var description: String { "The transaction was rolled back with its group: \(cause)" }
}

import ChingDomain
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import ServiceLifecycle
import Synchronization

/// The one way the product reaches its database: SQLite (one file, the default) or PostgreSQL.
///
/// Every state change goes through `transaction`, which on SQLite is a `BEGIN IMMEDIATE`
/// transaction on the single writer connection (SQLite has one writer at a time anyway; taking
/// the write lock up front means a transaction never fails half-way on a lock upgrade), and on
/// PostgreSQL a `BEGIN … COMMIT` on one pooled connection. Reads outside a transaction go to a
/// separate reader connection (SQLite, WAL mode) or any pooled connection (PostgreSQL).
public final class Database: Sendable {
    public enum Kind: String, Sendable { case sqlite, postgres }

    public let kind: Kind
    private let backend: Backend
    let logger: Logger

    private enum Backend: Sendable {
        case sqlite(writer: SQLiteConnection, readers: [SQLiteConnection], writeLock: AsyncLock, next: ReaderCounter)
        case postgres(PostgresClient)
    }

    private init(kind: Kind, backend: Backend, logger: Logger) {
        self.kind = kind
        self.backend = backend
        self.logger = logger
    }

    /// SQLite reader connections per database.
    static let readerCount = 3

    /// Opens `urlOrPath`: a `postgres://` (or `postgresql://`) URL selects PostgreSQL, anything
    /// else is an SQLite file path.
    public static func open(_ urlOrPath: String, logger: Logger) async throws -> Database {
        if urlOrPath.hasPrefix("postgres://") || urlOrPath.hasPrefix("postgresql://") {
            var configuration = try postgresConfiguration(urlOrPath)
            configuration.options.maximumConnections = 20
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            return Database(kind: .postgres, backend: .postgres(client), logger: logger)
        }
        let path = urlOrPath.hasPrefix("sqlite://") ? String(urlOrPath.dropFirst("sqlite://".count)) : urlOrPath
        let writer = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000"] {
            _ = try await writer.query(pragma)
        }
        // WAL lets readers run beside the writer and each other: a few reader connections let
        // page views read in parallel instead of queueing on one connection.
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            for pragma in ["PRAGMA synchronous=FULL", "PRAGMA busy_timeout=10000"] {
                _ = try await reader.query(pragma)
            }
            readers.append(reader)
        }
        return Database(kind: .sqlite, backend: .sqlite(writer: writer, readers: readers, writeLock: AsyncLock(), next: ReaderCounter()), logger: logger)
    }

    /// `postgres://user:password@host:port/database?sslmode=require`. Parsed here rather than by
    /// postgres-kit, whose parser builds a TLS context even when TLS is off (and that is not safe
    /// to do from several tasks at once).
    static func postgresConfiguration(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty,
              let user = components.user.flatMap({ $0.removingPercentEncoding }) ?? components.user
        else { throw DatabaseURLError(url: url) }
        let database = String(components.path.drop { $0 == "/" })
        let sslmode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS = ["require", "verify-ca", "verify-full"].contains(sslmode)
            ? .require(.makeClientConfiguration()) : .disable
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user,
            password: components.password.flatMap { $0.removingPercentEncoding }, database: database.isEmpty ? nil : database, tls: tls)
    }

    /// The PostgreSQL client runs as a service (it owns its connection pool); SQLite needs none.
    public var service: (any Service)? {
        if case .postgres(let client) = backend { return client }
        return nil
    }

    /// Runs `body` for reading, outside any transaction.
    public func read<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(_, let readers, _, let next):
            return try await body(readers[next.take() % readers.count].sql(queryLogLevel: .trace))
        case .postgres(let client):
            return try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace))
            }
        }
    }

    /// Runs `body` in one transaction: all of its writes land, or none do.
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let writer, _, let lock, _):
            return try await lock.withLock {
                try await Self.run(body, on: writer.sql(queryLogLevel: .trace), begin: "BEGIN IMMEDIATE")
            }
        case .postgres(let client):
            return try await client.withConnection { connection in
                try await Self.run(body, on: connection.sql(queryLogLevel: .trace), begin: "BEGIN")
            }
        }
    }

    private static func run<T>(_ body: (any SQLDatabase) async throws -> T, on database: any SQLDatabase, begin: String) async throws -> T {
        try await database.raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(database)
            try await database.raw("COMMIT").run()
            return result
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }

    public func close() async {
        switch backend {
        case .sqlite(let writer, let readers, _, _):
            // In a task of its own: a cancelled caller (a failed test, a shutdown) must still close,
            // or SQLite's connection traps in its deinit.
            await Task {
                for reader in readers { try? await reader.close() }
                try? await writer.close()
            }.value
        case .postgres:
            break  // the client closes when its service ends
        }
    }

    /// Whether `error` is a unique-constraint violation, on either database.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteError { return error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed || "\(error)".contains("UNIQUE") }
        return false
    }
}

struct DatabaseURLError: Error, CustomStringConvertible {
    let url: String
    var description: String { "Not a usable database URL (expected postgres://user:password@host:port/database): the host or user is missing." }
}

/// Round-robin over the reader connections.
final class ReaderCounter: Sendable {
    private let value = Mutex<Int>(0)
    func take() -> Int { value.withLock { $0 &+= 1; return $0 & Int.max } }
}

/// A first-in-first-out async mutex: the SQLite writer runs one transaction at a time.
final class AsyncLock: Sendable {
    private let state = Mutex<(locked: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if !state.locked { state.locked = true; return true }
                state.waiters.append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty { state.locked = false; return nil }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

import ChingDomain
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import ServiceLifecycle
import Synchronization
import VaporCSQLite

/// The one way the product reaches its database: SQLite (one file, the default) or PostgreSQL.
///
/// Every state change goes through `transaction`. On SQLite that is `SQLiteWriter`: the single
/// writer connection, in `BEGIN IMMEDIATE` transactions (SQLite has one writer at a time anyway;
/// taking the write lock up front means a transaction never fails half-way on a lock upgrade)
/// shared by the callers queued at the time, each in its own savepoint (group commit). On
/// PostgreSQL it is a `BEGIN … COMMIT` on one pooled connection. Reads outside a transaction go
/// to a reader connection from `SQLiteReaders` (WAL mode) or any pooled connection (PostgreSQL).
public final class Database: Sendable {
    public enum Kind: String, Sendable { case sqlite, postgres }

    public let kind: Kind
    private let backend: Backend
    let logger: Logger

    private enum Backend: Sendable {
        case sqlite(writer: SQLiteWriter, readers: SQLiteReaders)
        case postgres(PostgresClient)
    }

    private init(kind: Kind, backend: Backend, logger: Logger) {
        self.kind = kind
        self.backend = backend
        self.logger = logger
    }

    /// Opens `urlOrPath`: a `postgres://` (or `postgresql://`) URL selects PostgreSQL, anything
    /// else is an SQLite file path.
    public static func open(_ urlOrPath: String, logger given: Logger) async throws -> Database {
        // The drivers log every statement with its bound values below `info`: tokens, phone numbers
        // and the payer's details must not reach the logs even when the server's level is lowered.
        var logger = given
        if logger.logLevel < .info { logger.logLevel = .info }
        if urlOrPath.hasPrefix("postgres://") || urlOrPath.hasPrefix("postgresql://") {
            var configuration = try postgresConfiguration(urlOrPath)
            configuration.options.maximumConnections = 20
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            return Database(kind: .postgres, backend: .postgres(client), logger: logger)
        }
        let path = urlOrPath.hasPrefix("sqlite://") ? String(urlOrPath.dropFirst("sqlite://".count)) : urlOrPath
        let writer = try SQLiteHandle(path: path)
        do {
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"] {
                try writer.execute(pragma)
            }
        } catch {
            writer.close()
            throw error
        }
        return Database(kind: .sqlite, backend: .sqlite(writer: SQLiteWriter(handle: writer), readers: SQLiteReaders(path: path)), logger: logger)
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
        case .sqlite(_, let readers):
            let reader = try readers.take()
            defer { readers.give(reader) }
            return try await body(SQLiteSession(handle: reader, logger: logger))
        case .postgres(let client):
            return try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace))
            }
        }
    }

    /// Answers when the database does (`/healthz`).
    public func ping() async throws {
        _ = try await read { db in try await db.raw("SELECT 1 AS ok").first() }
    }

    /// Runs `body` in one transaction: all of its writes land, or none do.
    public func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let writer, _):
            return try await writer.transaction(logger: logger, body)
        case .postgres(let client):
            return try await client.withConnection { connection in
                let database = connection.sql(queryLogLevel: .trace)
                try await database.raw("BEGIN").run()
                do {
                    let result = try await body(database)
                    try await database.raw("COMMIT").run()
                    return result
                } catch {
                    try? await database.raw("ROLLBACK").run()
                    throw error
                }
            }
        }
    }

    public func close() async {
        switch backend {
        case .sqlite(let writer, let readers):
            readers.close()
            await writer.close(logger: logger)
        case .postgres:
            break  // the client closes when its service ends
        }
    }

    /// Whether `error` is a unique-constraint violation, on either database.
    public static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteFailure { return error.isUniqueViolation }
        return false
    }
}

struct DatabaseURLError: Error, CustomStringConvertible {
    let url: String
    var description: String { "Not a usable database URL (expected postgres://user:password@host:port/database): the host or user is missing." }
}

/// SQLite reader connections, opened as needed and kept for the next read. WAL mode lets readers
/// run beside the writer and each other; a read holds its connection only while its body runs.
final class SQLiteReaders: Sendable {
    private let path: String
    private let idle = Mutex<(handles: [SQLiteHandle], closed: Bool)>(([], false))
    /// Idle connections kept open; more are opened when more reads run at once, then closed.
    private static let kept = 4

    init(path: String) { self.path = path }

    func take() throws -> SQLiteHandle {
        let (handle, closed) = idle.withLock { ($0.handles.popLast(), $0.closed) }
        if let handle { return handle }
        guard !closed else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "The database is closed.") }
        return try SQLiteHandle(path: path)
    }

    func give(_ handle: SQLiteHandle) {
        let keep = idle.withLock { idle -> Bool in
            guard !idle.closed, idle.handles.count < Self.kept else { return false }
            idle.handles.append(handle)
            return true
        }
        if !keep { handle.close() }
    }

    func close() {
        let handles = idle.withLock { idle -> [SQLiteHandle] in
            idle.closed = true
            defer { idle.handles = [] }
            return idle.handles
        }
        for handle in handles { handle.close() }
    }
}

extension Database {
    /// Runs `work` with the connection pool running (PostgreSQL's client is a service that must
    /// run before it can be used; outside an application, this runs it just long enough).
    public func whileRunning<T: Sendable>(_ work: @Sendable () async throws -> T) async throws -> T {
        guard let service else { return try await work() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            defer { group.cancelAll() }
            return try await work()
        }
    }

    /// Opens and migrates the database at `url`, runs `work`, and closes it: for the command line.
    public static func withMigrated<T: Sendable>(_ url: String, logger: Logger, _ work: @Sendable (Database) async throws -> T) async throws -> T {
        let database = try await Database.open(url, logger: logger)
        defer { Task { await database.close() } }
        return try await database.whileRunning {
            try await Migrations.run(on: database)
            return try await work(database)
        }
    }
}

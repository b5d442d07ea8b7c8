import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization
import VaporCSQLite

/// One SQLite connection, called synchronously, with its prepared statements kept.
///
/// SQLiteNIO runs every statement as a job on a thread pool and comes back through a future: a
/// charge's fifteen statements were forty-five thread hand-offs, and every statement was compiled
/// again (the benchmark's profile: 30% in futex wake-ups, 12.6% in the SQL compiler). SQLite's
/// calls take microseconds once the pages are cached, so the product calls the library SQLiteNIO
/// vendors directly, in the task that runs the transaction, and keeps each compiled statement for
/// the next time its text comes by. Queries are still built and bound by SQLKit.
///
/// A handle is used by one task at a time: the writer under `Database`'s write lock, a reader
/// while checked out of the pool. That is what makes `@unchecked Sendable` true.
final class SQLiteHandle: @unchecked Sendable {
    private let raw: OpaquePointer
    private var statements: [String: Statement] = [:]
    /// Distinct SQL texts kept compiled. The product's queries are a few hundred at most; the
    /// bound only stops a pathological caller (say, IN-lists of every length) from growing it.
    private static let statementLimit = 512

    private struct Statement {
        let pointer: OpaquePointer
        var columnCount: Int32
        var columns: [String: Int32]
    }

    init(path: String) throws {
        Self.initializeLibrary
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let code = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw SQLiteFailure(code: code, message: "Cannot open the SQLite database at \(path): \(message)")
        }
        // Wait up to 10 s for another connection's lock (another process, or the WAL switch of a
        // first open) before answering SQLITE_BUSY.
        sqlite_nio_sqlite3_busy_timeout(handle, 10_000)
        raw = handle
    }

    /// `sqlite3_initialize` is not safe to race with a first `open`; run it once, before any.
    private static let initializeLibrary: Void = { _ = sqlite_nio_sqlite3_initialize() }()

    /// Whether a transaction is open (SQLite rolls one back by itself after some errors).
    var inTransaction: Bool { sqlite_nio_sqlite3_get_autocommit(raw) == 0 }

    /// Runs a statement that takes no binds and returns no rows (pragmas, BEGIN, COMMIT).
    func execute(_ sql: String) throws {
        try run(sql, binds: []) { _ in }
    }

    /// Runs `sql` with `binds`, handing each result row to `onRow`.
    func run(_ sql: String, binds: [SQLiteData], onRow: (SQLiteStoreRow) -> Void) throws {
        var statement = try prepared(sql)
        let pointer = statement.pointer
        // Reset, but keep the bindings: every run binds all parameters again, and clearing them
        // would mark a statement whose plan looked at a parameter as expired, to be compiled again.
        defer { sqlite_nio_sqlite3_reset(pointer) }
        for (index, value) in binds.enumerated() {
            try check(bind(value, at: Int32(index + 1), to: pointer))
        }
        while true {
            let code = sqlite_nio_sqlite3_step(pointer)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw failure(code) }
            let count = sqlite_nio_sqlite3_column_count(pointer)
            if statement.columnCount != count {
                // A schema change recompiled the statement with other columns: name them again.
                statement = Statement(pointer: pointer, columnCount: count, columns: Self.columnNames(pointer))
                statements[sql] = statement
            }
            onRow(SQLiteStoreRow(columns: statement.columns, values: (0..<count).map { Self.value(pointer, $0) }))
        }
    }

    /// Statements kept compiled, and how often SQLite had to compile one of them again.
    var compiledStatements: Int { statements.count }
    var recompilations: Int {
        statements.values.reduce(0) { $0 + Int(sqlite_nio_sqlite3_stmt_status($1.pointer, SQLITE_STMTSTATUS_REPREPARE, 0)) }
    }

    private var closed = false

    /// Closes the connection; a second call does nothing.
    func close() {
        guard !closed else { return }
        closed = true
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
        statements = [:]
        sqlite_nio_sqlite3_close_v2(raw)
    }

    private func prepared(_ sql: String) throws -> Statement {
        if let statement = statements[sql] { return statement }
        if statements.count >= Self.statementLimit {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.pointer) }
            statements = [:]
        }
        var pointer: OpaquePointer?
        let code = sqlite_nio_sqlite3_prepare_v3(raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil)
        guard code == SQLITE_OK else { throw failure(code) }
        guard let pointer else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "No statement in: \(sql)") }
        let statement = Statement(pointer: pointer, columnCount: sqlite_nio_sqlite3_column_count(pointer), columns: Self.columnNames(pointer))
        statements[sql] = statement
        return statement
    }

    private static func columnNames(_ pointer: OpaquePointer) -> [String: Int32] {
        var names: [String: Int32] = [:]
        for index in 0..<sqlite_nio_sqlite3_column_count(pointer) {
            guard let name = sqlite_nio_sqlite3_column_name(pointer, index) else { continue }
            names[String(cString: name)] = names[String(cString: name)] ?? index  // the first of a repeated name wins
        }
        return names
    }

    private func bind(_ value: SQLiteData, at index: Int32, to pointer: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let value): sqlite_nio_sqlite3_bind_int64(pointer, index, Int64(value))
        case .float(let value): sqlite_nio_sqlite3_bind_double(pointer, index, value)
        case .text(let value): sqlite_nio_sqlite3_bind_text64(pointer, index, value, UInt64(value.utf8.count), transient, UInt8(SQLITE_UTF8))
        case .blob(let value):
            value.withUnsafeReadableBytes { sqlite_nio_sqlite3_bind_blob64(pointer, index, $0.baseAddress, UInt64($0.count), transient) }
        case .null: sqlite_nio_sqlite3_bind_null(pointer, index)
        }
    }

    private static func value(_ pointer: OpaquePointer, _ index: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(pointer, index) {
        case SQLITE_INTEGER: return .integer(.init(sqlite_nio_sqlite3_column_int64(pointer, index)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(pointer, index))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(pointer, index) else { return .null }
            let count = Int(sqlite_nio_sqlite3_column_bytes(pointer, index))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(pointer, index))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if let bytes = sqlite_nio_sqlite3_column_blob(pointer, index) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else { throw failure(code) }
    }

    private func failure(_ code: Int32) -> SQLiteFailure {
        SQLiteFailure(code: sqlite_nio_sqlite3_extended_errcode(raw), message: String(cString: sqlite_nio_sqlite3_errmsg(raw)))
    }
}

/// SQLite's `SQLITE_TRANSIENT`: the library copies the bound text or blob before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// An SQLite error, with its extended result code.
struct SQLiteFailure: Error, CustomStringConvertible {
    let code: Int32
    let message: String
    var description: String { "SQLite error \(code): \(message)" }

    /// `SQLITE_CONSTRAINT_UNIQUE` or `SQLITE_CONSTRAINT_PRIMARYKEY`.
    var isUniqueViolation: Bool { code == 2067 || code == 1555 }
}

/// A result row: the statement's column names and this row's values.
struct SQLiteStoreRow: SQLRow {
    let columns: [String: Int32]
    let values: [SQLiteData]

    var allColumns: [String] { columns.sorted { $0.value < $1.value }.map(\.key) }
    func contains(column: String) -> Bool { columns[column] != nil }
    func decodeNil(column: String) throws -> Bool { columns[column].map { values[Int($0)] == .null } ?? true }
    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns[column] else { throw SQLiteFailure(code: SQLITE_ERROR, message: "No column \(column) in the result") }
        return try SQLiteDataDecoder().decode(D.self, from: values[Int(index)])
    }
}

/// SQLKit's view of a handle: statements run synchronously, in the caller's task.
struct SQLiteSession: SQLDatabase {
    let handle: SQLiteHandle
    let logger: Logger
    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { .trace }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = serialize(query)
        logger.trace("\(sql)")
        let encoder = SQLiteDataEncoder()
        try handle.run(sql, binds: binds.map { try encoder.encode($0) }) { onRow($0) }
    }
}

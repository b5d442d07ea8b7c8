import ChingDomain
import SQLKit

/// Typed reads of a row's columns. Booleans are stored as 0/1 and times as milliseconds, so the
/// same schema works on SQLite and PostgreSQL.
extension SQLRow {
    package func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    package func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    package func int(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    package func optionalInt(_ column: String) throws -> Int64? { try decode(column: column, as: Int64?.self) }
    package func bool(_ column: String) throws -> Bool { try int(column) != 0 }
    package func timestamp(_ column: String) throws -> Timestamp { Timestamp(milliseconds: try int(column)) }
    package func optionalTimestamp(_ column: String) throws -> Timestamp? { try optionalInt(column).map(Timestamp.init) }
    /// A column holding serialized JSON.
    package func json(_ column: String) throws -> JSONValue { (try? JSONValue.parse(try string(column))) ?? .null }
    package func optionalJSON(_ column: String) throws -> JSONValue? {
        try optionalString(column).map { (try? JSONValue.parse($0)) ?? .null }
    }
    /// The row's project and mode.
    package func caller() throws -> Caller { Caller(projectID: try string("project_id"), livemode: try bool("livemode")) }
    /// The customer's name a list read adds (`customer_name`), nil when the read did not select it.
    func listedCustomerName() throws -> String? { allColumns.contains("customer_name") ? try optionalString("customer_name") : nil }
    /// The metadata column, as the API returns it.
    package func metadata() throws -> JSONValue { try json("metadata") }
}

extension Bool {
    /// Booleans are stored as 0 or 1.
    var stored: Int64 { self ? 1 : 0 }
}

/// `" AND project_id = ?"` when a background round is kept to one project (tests on a shared database), else nothing.
func projectScope(_ projectID: String?) -> SQLQueryString {
    projectID.map { " AND project_id = \(bind: $0)" } ?? ""
}

extension Caller {
    /// The mode as stored: 0 (test) or 1 (live).
    var mode: Int64 { livemode ? 1 : 0 }
}

extension SQLDatabase {
    /// One row of `table` by id, only within the caller's project and mode: another project's or
    /// mode's id reads as missing, which the API answers with 404.
    func scopedRow(_ table: String, id: String, caller: Caller, columns: String = "*") async throws -> (any SQLRow)? {
        try await raw("""
            SELECT \(unsafeRaw: columns) FROM \(unsafeRaw: table) WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
            """).first()
    }
}


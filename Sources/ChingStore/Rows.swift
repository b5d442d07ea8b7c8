import ChingDomain
import SQLKit

/// Typed reads of a row's columns. Booleans are stored as 0/1 and times as milliseconds, so the
/// same schema works on SQLite and PostgreSQL.
extension SQLRow {
    public func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    public func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    public func int(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    public func optionalInt(_ column: String) throws -> Int64? { try decode(column: column, as: Int64?.self) }
    public func bool(_ column: String) throws -> Bool { try int(column) != 0 }
    public func timestamp(_ column: String) throws -> Timestamp { Timestamp(milliseconds: try int(column)) }
    public func optionalTimestamp(_ column: String) throws -> Timestamp? { try optionalInt(column).map(Timestamp.init) }
    /// A column holding serialized JSON.
    public func json(_ column: String) throws -> JSONValue { (try? JSONValue.parse(try string(column))) ?? .null }
    public func optionalJSON(_ column: String) throws -> JSONValue? {
        try optionalString(column).map { (try? JSONValue.parse($0)) ?? .null }
    }
    /// The row's project and mode.
    public func caller() throws -> Caller { Caller(projectID: try string("project_id"), livemode: try bool("livemode")) }
    /// The metadata column, as the API returns it.
    public func metadata() throws -> JSONValue { try json("metadata") }
}

extension Dictionary where Key == String, Value == String {
    /// Metadata as stored: a JSON object with sorted keys.
    public var storedJSON: String { JSONValue.strings(self).serialized() }
}

extension Bool {
    public var stored: Int64 { self ? 1 : 0 }
}

extension SQLDatabase {
    /// One row of `table` by id, only within the caller's project and mode: another project's or
    /// mode's id reads as missing, which the API answers with 404.
    public func scopedRow(_ table: String, id: String, caller: Caller, columns: String = "*") async throws -> (any SQLRow)? {
        try await raw("""
            SELECT \(unsafeRaw: columns) FROM \(unsafeRaw: table) WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
            """).first()
    }
}


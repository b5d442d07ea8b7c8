import ChingDomain
import SQLKit

/// Which page of a list to read: lists run newest first, `limit` rows after the row named
/// `startingAfter` (an id of the same list in the caller's scope).
public struct PageRequest: Sendable {
    public let limit: Int64
    public let startingAfter: String?

    public init(limit: Int64, startingAfter: String?) { self.limit = limit; self.startingAfter = startingAfter }
}

/// One page of a list, and whether more rows follow it.
public struct Page<Item> {
    public let items: [Item]
    public let hasMore: Bool

    public init(items: [Item], hasMore: Bool) { self.items = items; self.hasMore = hasMore }

    public func map<T>(_ transform: (Item) throws -> T) rethrows -> Page<T> {
        Page<T>(items: try items.map(transform), hasMore: hasMore)
    }
}

extension Page: Sendable where Item: Sendable {}

/// `startingAfter` names no row of the list in the caller's scope.
public struct UnknownPageCursor: Error, Sendable {
    public let id: String
}

extension SQLDatabase {
    /// A page of `table`'s rows in the caller's scope, newest first; `filter` narrows them (`" AND ..."`).
    func page(_ table: String, caller: Caller, _ request: PageRequest, columns: SQLQueryString = "*",
              filter: SQLQueryString = "") async throws -> Page<any SQLRow> {
        var after: SQLQueryString = ""
        if let cursor = request.startingAfter {
            guard let row = try await scopedRow(table, id: cursor, caller: caller, columns: "seq") else { throw UnknownPageCursor(id: cursor) }
            after = " AND seq < \(bind: try row.int("seq"))"
        }
        // One row more than the limit tells whether there is more.
        let rows = try await raw("SELECT " + columns + " FROM \(unsafeRaw: table) WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)"
                                 + filter + after + " ORDER BY seq DESC LIMIT \(bind: request.limit + 1)").all()
        return Page(items: Array(rows.prefix(Int(request.limit))), hasMore: rows.count > Int(request.limit))
    }

    /// The same, each row read as a record.
    func page<Record>(_ table: String, caller: Caller, _ request: PageRequest, columns: SQLQueryString = "*", filter: SQLQueryString = "",
                      as record: (any SQLRow) throws -> Record) async throws -> Page<Record> {
        try await page(table, caller: caller, request, columns: columns, filter: filter).map(record)
    }
}

/// The database as the layers above see it, inside `Database.read` or `Database.transaction`:
/// every table is reached through its store, a property of it (`db.customers`, `db.charges`...).
/// They name this type only, and never SQLKit.
public typealias Store = any SQLDatabase

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import SQLKit

/// List rows of charges, refunds and subscriptions carry the customer's name (selected as `customer_name`).
func withCustomerName(_ row: any SQLRow, _ json: (any SQLRow) throws -> JSONValue) throws -> JSONValue {
    var object = try json(row).objectValue ?? JSONObject()
    object["customer_name"] = .optional(try row.optionalString("customer_name"))
    return .object(object)
}

/// The list rule every collection follows: newest first, `limit` 1 to 100 (default 100),
/// `starting_after=<id>` to page, and `has_more`.
struct ListPage {
    let table: String
    let caller: Caller
    let limit: Int64
    let afterSeq: Int64?

    /// Reads `limit` and `starting_after` from the query; `starting_after` must be an id of this table in the caller's scope.
    static func read(_ call: APICall, table: String, on db: any SQLDatabase) async throws -> ListPage {
        var limit: Int64 = 100
        if let raw = call.query["limit"] {
            guard let value = Int64(raw), (1...100).contains(value) else { throw ServiceError.invalid("limit", "Must be an integer between 1 and 100.") }
            limit = value
        }
        guard let after = call.query["starting_after"] else { return ListPage(table: table, caller: call.caller, limit: limit, afterSeq: nil) }
        guard let row = try await db.scopedRow(table, id: after, caller: call.caller, columns: "seq") else {
            throw ServiceError.invalid("starting_after", "No such object in this list: \(after).")
        }
        return ListPage(table: table, caller: call.caller, limit: limit, afterSeq: try row.int("seq"))
    }

    /// This page's rows of the table in the caller's scope, newest first (one more than the limit,
    /// to tell whether there is more); `filter` narrows them (`" AND ..."`).
    func rows(_ columns: SQLQueryString = "*", filter: SQLQueryString = "", on db: any SQLDatabase) async throws -> [any SQLRow] {
        let after: SQLQueryString = afterSeq.map { " AND seq < \(bind: $0)" } ?? ""
        return try await db.raw("SELECT " + columns + " FROM \(unsafeRaw: table) WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)"
                                + filter + after + " ORDER BY seq DESC LIMIT \(bind: limit + 1)").all()
    }

    /// The response for the rows fetched with `rows` (one more than the limit means there is more).
    func response(_ rows: [JSONValue]) -> APIResponse {
        let hasMore = rows.count > Int(limit)
        return APIResponse(.array(Array(rows.prefix(Int(limit)))), extra: ["has_more": .bool(hasMore)])
    }
}

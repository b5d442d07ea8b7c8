import ChingDomain
import ChingStore
import SQLKit

/// Refunds as the API returns them.
package enum Refunds {
    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await db.scopedRow("refunds", id: id, caller: caller).map(json)
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        .object([
            "id": .string(try row.string("id")),
            "object": "refund",
            "charge": .string(try row.string("charge_id")),
            "amount": .int(try row.int("amount")),
            "currency": .string(try row.string("currency")),
            "reason": .optional(try row.optionalString("reason")),
            "status": .string(try row.string("status")),
            "document": .optional(try row.optionalString("document_id")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}

import ChingDomain
import ChingStore
import SQLKit

/// Customers as the API returns them, and the check that one is active.
package enum Customers {
    package static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("customers", id: id, caller: caller)
    }

    /// The customer as the API returns it, or nil when there is none in the caller's scope.
    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    /// An active (not deleted) customer's row, or 404.
    package static func requireActive(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> any SQLRow {
        guard let row = try await row(id, caller: caller, on: db), try !row.bool("deleted") else {
            throw ServiceError.notFound("customer", id)
        }
        return row
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        if try row.bool("deleted") {
            return .object(["id": .string(try row.string("id")), "object": "customer", "deleted": true])
        }
        return .object([
            "id": .string(try row.string("id")),
            "object": "customer",
            "name": .string(try row.string("name")),
            "email": .optional(try row.optionalString("email")),
            "phone": .optional(try row.optionalString("phone")),
            "locale": .string(try row.string("locale")),
            "taxId": .optional(try row.optionalString("tax_id")),
            "metadata": try row.metadata(),
            "default_payment_method": .optional(try row.optionalString("default_payment_method")),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}

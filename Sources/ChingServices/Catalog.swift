import ChingDomain
import ChingStore
import SQLKit

/// Products and prices as the API returns them.
package enum Catalog {
    package static func productRow(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("products", id: id, caller: caller)
    }

    package static func loadProduct(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await productRow(id, caller: caller, on: db).map(productJSON)
    }

    package static func productJSON(_ row: any SQLRow) throws -> JSONValue {
        .object([
            "id": .string(try row.string("id")),
            "object": "product",
            "name": .string(try row.string("name")),
            "description": .optional(try row.optionalString("description")),
            "image_url": .optional(try row.optionalString("image_url")),
            "features": try row.json("features"),
            "active": .bool(try row.bool("active")),
            "unlisted": .bool(try row.bool("unlisted")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    package enum PriceType: String, CaseIterable { case oneTime = "one_time", recurring }

    package enum Interval: String, CaseIterable { case day, week, month, year }

    package enum TaxMode: String, CaseIterable { case inclusive, exclusive }

    package enum Currency: String, CaseIterable { case ils }

    package static func priceRow(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("prices", id: id, caller: caller)
    }

    package static func loadPrice(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await priceRow(id, caller: caller, on: db).map(priceJSON)
    }

    package static func priceJSON(_ row: any SQLRow) throws -> JSONValue {
        var recurring = JSONValue.null
        if let interval = try row.optionalString("recurring_interval") {
            recurring = .object([
                "interval": .string(interval),
                "interval_count": .optional(try row.optionalInt("interval_count")),
                "trial_period_days": .optional(try row.optionalInt("trial_period_days")),
            ])
        }
        return .object([
            "id": .string(try row.string("id")),
            "object": "price",
            "product": .string(try row.string("product_id")),
            "unit_amount": .int(try row.int("unit_amount")),
            "currency": .string(try row.string("currency")),
            "type": .string(try row.string("type")),
            "recurring": recurring,
            "tax_mode": .string(try row.string("tax_mode")),
            "active": .bool(try row.bool("active")),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}

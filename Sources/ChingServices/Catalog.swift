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

    package struct ProductFields {
        package var name: String?
        package var description: String??
        package var imageURL: String??
        package var features: [JSONValue]?
        package var active: Bool?
        package var unlisted: Bool?
        package var metadata: [String: String]?

        package static func read(_ reader: inout FieldReader) -> ProductFields {
            var fields = ProductFields()
            fields.name = reader.string("name", maxLength: 255)
            if reader.isNull("name") { reader.fail("name", "Must not be null.") }
            fields.description = reader.isNull("description") ? .some(nil) : reader.string("description", maxLength: 2000).map { .some($0) }
            fields.imageURL = reader.isNull("image_url") ? .some(nil) : reader.url("image_url", allowHTTP: false).map { .some($0) }
            if let items = reader.array("features", count: 0...20) {
                var features: [JSONValue] = []
                for var item in items {
                    item.rejectUnknownFields(allowing: ["title", "subtitle"])
                    let title = item.string("title", required: true, maxLength: 120)
                    let subtitle = item.string("subtitle", maxLength: 255)
                    reader.merge(item)
                    if let title { features.append(.object(["title": .string(title), "subtitle": .optional(subtitle)])) }
                }
                fields.features = features
            }
            fields.active = reader.boolean("active")
            fields.unlisted = reader.boolean("unlisted")
            fields.metadata = reader.metadata()
            return fields
        }
    }

    package static let productFieldNames: Set<String> = ["name", "description", "image_url", "features", "active", "unlisted", "metadata"]

    /// Creates a product (`name` is required and checked by the caller).
    package static func createProduct(_ fields: ProductFields, caller: Caller, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.product)
        return try await services.database.transaction { db in
            try await db.raw("""
                INSERT INTO products (id, project_id, livemode, name, description, image_url, features, active, unlisted, metadata, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: fields.name!),
                  \(bind: fields.description ?? nil), \(bind: fields.imageURL ?? nil), \(bind: JSONValue.array(fields.features ?? []).serialized()),
                  \(bind: (fields.active ?? true).stored), \(bind: (fields.unlisted ?? false).stored), \(bind: (fields.metadata ?? [:]).storedJSON),
                  \(bind: services.clock.now().milliseconds))
                """).run()
            return try await loadProduct(id, caller: caller, on: db)!
        }
    }

    /// Changes the fields sent.
    package static func updateProduct(_ id: String, _ fields: ProductFields, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            guard let row = try await productRow(id, caller: caller, on: db) else { throw ServiceError.notFound("product", id) }
            try await db.raw("""
                UPDATE products SET name = \(bind: fields.name ?? row.string("name")),
                  description = \(bind: fields.description ?? row.optionalString("description")),
                  image_url = \(bind: fields.imageURL ?? row.optionalString("image_url")),
                  features = \(bind: fields.features.map { JSONValue.array($0).serialized() } ?? row.string("features")),
                  active = \(bind: fields.active?.stored ?? row.int("active")),
                  unlisted = \(bind: fields.unlisted?.stored ?? row.int("unlisted")),
                  metadata = \(bind: fields.metadata?.storedJSON ?? row.string("metadata"))
                WHERE id = \(bind: id)
                """).run()
            return try await loadProduct(id, caller: caller, on: db)!
        }
    }

    /// Creates a price of one of the caller's products.
    package static func createPrice(productID: String, unitAmount: Int64, type: PriceType, currency: Currency, taxMode: TaxMode,
                                    recurring: (interval: Interval?, count: Int64?, trialDays: Int64?), active: Bool, metadata: [String: String],
                                    caller: Caller, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.price)
        return try await services.database.transaction { db in
            guard try await productRow(productID, caller: caller, on: db) != nil else { throw ServiceError.notFound("product", productID) }
            try await db.raw("""
                INSERT INTO prices (id, project_id, livemode, product_id, unit_amount, currency, type, recurring_interval, interval_count,
                  trial_period_days, tax_mode, active, metadata, created)
                VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: productID), \(bind: unitAmount),
                  \(bind: currency.rawValue), \(bind: type.rawValue), \(bind: recurring.interval?.rawValue), \(bind: recurring.count), \(bind: recurring.trialDays),
                  \(bind: taxMode.rawValue), \(bind: active.stored), \(bind: metadata.storedJSON), \(bind: services.clock.now().milliseconds))
                """).run()
            return try await loadPrice(id, caller: caller, on: db)!
        }
    }

    /// Archives or restores a price and changes its metadata; its amount never changes.
    package static func updatePrice(_ id: String, active: Bool?, metadata: [String: String]?, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            guard let row = try await priceRow(id, caller: caller, on: db) else { throw ServiceError.notFound("price", id) }
            try await db.raw("""
                UPDATE prices SET active = \(bind: active?.stored ?? row.int("active")),
                  metadata = \(bind: metadata?.storedJSON ?? row.string("metadata")) WHERE id = \(bind: id)
                """).run()
            return try await loadPrice(id, caller: caller, on: db)!
        }
    }

    /// A recurring price's plan (nil for a one-time price).
    package static func plan(_ price: any SQLRow) throws -> Plan? {
        guard let interval = try price.optionalString("recurring_interval").flatMap(BillingInterval.init(rawValue:)) else { return nil }
        return Plan(unitAmount: try price.int("unit_amount"), interval: interval, intervalCount: try price.optionalInt("interval_count") ?? 1,
                    trialDays: try price.optionalInt("trial_period_days") ?? 0, vatExclusive: try price.string("tax_mode") == "exclusive")
    }
}

import ChingDomain
import ChingStore

/// Products and prices as the API returns them.
package enum Catalog {
    package static func loadProduct(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.catalog.product(id, caller: caller).map(productJSON)
    }

    package static func productJSON(_ product: Product) -> JSONValue {
        .object([
            "id": .string(product.id),
            "object": "product",
            "name": .string(product.name),
            "description": .optional(product.description),
            "image_url": .optional(product.imageURL),
            "features": product.features,
            "active": .bool(product.active),
            "unlisted": .bool(product.unlisted),
            "metadata": product.metadata,
            "livemode": .bool(product.caller.livemode),
            "created": .string(product.created.iso8601),
        ])
    }

    package enum PriceType: String, CaseIterable { case oneTime = "one_time", recurring }

    package enum Interval: String, CaseIterable { case day, week, month, year }

    package enum TaxMode: String, CaseIterable { case inclusive, exclusive }

    package enum Currency: String, CaseIterable { case ils }

    package static func loadPrice(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.catalog.price(id, caller: caller).map(priceJSON)
    }

    package static func priceJSON(_ price: Price) -> JSONValue {
        var recurring = JSONValue.null
        if let interval = price.recurringInterval {
            recurring = .object([
                "interval": .string(interval),
                "interval_count": .optional(price.intervalCount),
                "trial_period_days": .optional(price.trialPeriodDays),
            ])
        }
        return .object([
            "id": .string(price.id),
            "object": "price",
            "product": .string(price.productID),
            "unit_amount": .int(price.unitAmount),
            "currency": .string(price.currency),
            "type": .string(price.type),
            "recurring": recurring,
            "tax_mode": .string(price.taxMode),
            "active": .bool(price.active),
            "metadata": price.metadata,
            "livemode": .bool(price.caller.livemode),
            "created": .string(price.created.iso8601),
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
        let product = Product(id: services.ids.make(.product), caller: caller, name: fields.name!, description: fields.description ?? nil,
                              imageURL: fields.imageURL ?? nil, features: .array(fields.features ?? []), active: fields.active ?? true,
                              unlisted: fields.unlisted ?? false, metadata: .strings(fields.metadata ?? [:]), created: services.clock.now())
        try await services.database.transaction { db in try await db.catalog.save(product, new: true) }
        return productJSON(product)
    }

    /// Changes the fields sent.
    package static func updateProduct(_ id: String, _ fields: ProductFields, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            guard var product = try await db.catalog.product(id, caller: caller) else { throw ServiceError.notFound("product", id) }
            if let name = fields.name { product.name = name }
            if let description = fields.description { product.description = description }
            if let imageURL = fields.imageURL { product.imageURL = imageURL }
            if let features = fields.features { product.features = .array(features) }
            if let active = fields.active { product.active = active }
            if let unlisted = fields.unlisted { product.unlisted = unlisted }
            if let metadata = fields.metadata { product.metadata = .strings(metadata) }
            try await db.catalog.save(product, new: false)
            return productJSON(product)
        }
    }

    /// Creates a price of one of the caller's products.
    package static func createPrice(productID: String, unitAmount: Int64, type: PriceType, currency: Currency, taxMode: TaxMode,
                                    recurring: (interval: Interval?, count: Int64?, trialDays: Int64?), active: Bool, metadata: [String: String],
                                    caller: Caller, services: AppServices) async throws -> JSONValue {
        let price = Price(id: services.ids.make(.price), caller: caller, productID: productID, unitAmount: unitAmount, currency: currency.rawValue,
                          type: type.rawValue, recurringInterval: recurring.interval?.rawValue, intervalCount: recurring.count,
                          trialPeriodDays: recurring.trialDays, taxMode: taxMode.rawValue, active: active, metadata: .strings(metadata),
                          created: services.clock.now())
        return try await services.database.transaction { db in
            guard try await db.catalog.product(productID, caller: caller) != nil else { throw ServiceError.notFound("product", productID) }
            try await db.catalog.insert(price)
            return priceJSON(price)
        }
    }

    /// Archives or restores a price and changes its metadata; its amount never changes.
    package static func updatePrice(_ id: String, active: Bool?, metadata: [String: String]?, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            guard var price = try await db.catalog.price(id, caller: caller) else { throw ServiceError.notFound("price", id) }
            if let active { price.active = active }
            if let metadata { price.metadata = .strings(metadata) }
            try await db.catalog.update(price)
            return priceJSON(price)
        }
    }
}

import ChingDomain
import SQLKit

/// A product as stored.
public struct Product: Sendable {
    public let id: String
    public let caller: Caller
    public var name: String
    public var description: String?
    public var imageURL: String?
    /// `[{title, subtitle}]`, as the API takes it.
    public var features: JSONValue
    public var active: Bool
    public var unlisted: Bool
    public var metadata: JSONValue
    public let created: Timestamp

    public init(id: String, caller: Caller, name: String, description: String?, imageURL: String?, features: JSONValue, active: Bool,
                unlisted: Bool, metadata: JSONValue, created: Timestamp) {
        self.id = id; self.caller = caller; self.name = name; self.description = description; self.imageURL = imageURL
        self.features = features; self.active = active; self.unlisted = unlisted; self.metadata = metadata; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), caller: try row.caller(), name: try row.string("name"), description: try row.optionalString("description"),
                  imageURL: try row.optionalString("image_url"), features: try row.json("features"), active: try row.bool("active"),
                  unlisted: try row.bool("unlisted"), metadata: try row.metadata(), created: try row.timestamp("created"))
    }
}

/// A price as stored. Its amount never changes once created.
public struct Price: Sendable {
    public let id: String
    public let caller: Caller
    public let productID: String
    public let unitAmount: Int64
    public let currency: String
    /// `one_time` or `recurring`.
    public let type: String
    public let recurringInterval: String?
    public let intervalCount: Int64?
    public let trialPeriodDays: Int64?
    /// `inclusive` or `exclusive` (VAT added on top).
    public let taxMode: String
    public var active: Bool
    public var metadata: JSONValue
    public let created: Timestamp

    public init(id: String, caller: Caller, productID: String, unitAmount: Int64, currency: String, type: String, recurringInterval: String?,
                intervalCount: Int64?, trialPeriodDays: Int64?, taxMode: String, active: Bool, metadata: JSONValue, created: Timestamp) {
        self.id = id; self.caller = caller; self.productID = productID; self.unitAmount = unitAmount; self.currency = currency; self.type = type
        self.recurringInterval = recurringInterval; self.intervalCount = intervalCount; self.trialPeriodDays = trialPeriodDays
        self.taxMode = taxMode; self.active = active; self.metadata = metadata; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), caller: try row.caller(), productID: try row.string("product_id"), unitAmount: try row.int("unit_amount"),
                  currency: try row.string("currency"), type: try row.string("type"), recurringInterval: try row.optionalString("recurring_interval"),
                  intervalCount: try row.optionalInt("interval_count"), trialPeriodDays: try row.optionalInt("trial_period_days"),
                  taxMode: try row.string("tax_mode"), active: try row.bool("active"), metadata: try row.metadata(), created: try row.timestamp("created"))
    }

    /// The plan a recurring price bills (nil for a one-time price).
    public var plan: Plan? {
        guard let interval = recurringInterval.flatMap(BillingInterval.init(rawValue:)) else { return nil }
        return Plan(unitAmount: unitAmount, interval: interval, intervalCount: intervalCount ?? 1, trialDays: trialPeriodDays ?? 0,
                    vatExclusive: taxMode == "exclusive")
    }
}

/// The `products` and `prices` tables.
public struct CatalogStore: Sendable {
    let db: any SQLDatabase

    public func product(_ id: String, caller: Caller) async throws -> Product? {
        try await db.scopedRow("products", id: id, caller: caller).map(Product.init)
    }

    /// A product by id alone (a session's price already names the project).
    public func product(_ id: String) async throws -> Product? {
        try await db.raw("SELECT * FROM products WHERE id = \(bind: id)").first().map(Product.init)
    }

    public func price(_ id: String, caller: Caller) async throws -> Price? {
        try await db.scopedRow("prices", id: id, caller: caller).map(Price.init)
    }

    /// A price and the product it sells (nil when there is no such price; the product nil when it is gone).
    public func priceAndProduct(_ priceID: String, caller: Caller) async throws -> (price: Price, product: Product?)? {
        guard let price = try await price(priceID, caller: caller) else { return nil }
        return (price, try await product(price.productID, caller: caller))
    }

    /// A price by id alone.
    public func price(_ id: String) async throws -> Price? {
        try await db.raw("SELECT * FROM prices WHERE id = \(bind: id)").first().map(Price.init)
    }

    /// Writes a new product, or every field of an existing one.
    public func save(_ product: Product, new: Bool) async throws {
        if new {
            try await db.raw("""
                INSERT INTO products (id, project_id, livemode, name, description, image_url, features, active, unlisted, metadata, created)
                VALUES (\(bind: product.id), \(bind: product.caller.projectID), \(bind: product.caller.mode), \(bind: product.name),
                  \(bind: product.description), \(bind: product.imageURL), \(bind: product.features.serialized()), \(bind: product.active.stored),
                  \(bind: product.unlisted.stored), \(bind: product.metadata.serialized()), \(bind: product.created.milliseconds))
                """).run()
        } else {
            try await db.raw("""
                UPDATE products SET name = \(bind: product.name), description = \(bind: product.description), image_url = \(bind: product.imageURL),
                  features = \(bind: product.features.serialized()), active = \(bind: product.active.stored), unlisted = \(bind: product.unlisted.stored),
                  metadata = \(bind: product.metadata.serialized())
                WHERE id = \(bind: product.id)
                """).run()
        }
    }

    public func insert(_ price: Price) async throws {
        try await db.raw("""
            INSERT INTO prices (id, project_id, livemode, product_id, unit_amount, currency, type, recurring_interval, interval_count,
              trial_period_days, tax_mode, active, metadata, created)
            VALUES (\(bind: price.id), \(bind: price.caller.projectID), \(bind: price.caller.mode), \(bind: price.productID), \(bind: price.unitAmount),
              \(bind: price.currency), \(bind: price.type), \(bind: price.recurringInterval), \(bind: price.intervalCount), \(bind: price.trialPeriodDays),
              \(bind: price.taxMode), \(bind: price.active.stored), \(bind: price.metadata.serialized()), \(bind: price.created.milliseconds))
            """).run()
    }

    /// Writes what may change of a price: whether it is sold, and its metadata.
    public func update(_ price: Price) async throws {
        try await db.raw("UPDATE prices SET active = \(bind: price.active.stored), metadata = \(bind: price.metadata.serialized()) WHERE id = \(bind: price.id)").run()
    }

    /// A page of products, newest first: only active (or inactive) ones when `active` is given; unlisted ones only with `includeUnlisted`.
    public func products(caller: Caller, _ request: PageRequest, active: Bool?, includeUnlisted: Bool) async throws -> Page<Product> {
        var filter: SQLQueryString = active.map { " AND active = \(bind: $0.stored)" } ?? ""
        if !includeUnlisted { filter = filter + " AND unlisted = 0" }
        return try await db.page("products", caller: caller, request, filter: filter, as: Product.init)
    }

    /// A page of prices, newest first, of one product when given, active (or inactive) ones when `active` is given.
    public func prices(caller: Caller, _ request: PageRequest, productID: String?, active: Bool?) async throws -> Page<Price> {
        var filter: SQLQueryString = productID.map { " AND product_id = \(bind: $0)" } ?? ""
        if let active { filter = filter + " AND active = \(bind: active.stored)" }
        return try await db.page("prices", caller: caller, request, filter: filter, as: Price.init)
    }
}

extension SQLDatabase {
    public var catalog: CatalogStore { CatalogStore(db: self) }
}

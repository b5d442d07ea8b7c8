import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/products` and `/prices`: what a merchant sells, shown on the hosted checkout page.
struct CatalogAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("products", use: endpoint(createProduct))
        group.get("products", use: endpoint(listProducts))
        group.get("products/:id", use: endpoint(retrieveProduct))
        group.post("products/:id", use: endpoint(updateProduct))
        group.post("prices", use: endpoint(createPrice))
        group.get("prices", use: endpoint(listPrices))
        group.get("prices/:id", use: endpoint(retrievePrice))
        group.post("prices/:id", use: endpoint(updatePrice))
    }

    // MARK: - Products

    struct ProductFields {
        var name: String?
        var description: String??
        var imageURL: String??
        var features: [JSONValue]?
        var active: Bool?
        var unlisted: Bool?
        var metadata: [String: String]?

        static func read(_ reader: inout FieldReader) -> ProductFields {
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

    static let productFieldNames: Set<String> = ["name", "description", "image_url", "features", "active", "unlisted", "metadata"]

    /// POST /products
    @Sendable func createProduct(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Self.productFieldNames)
        if !reader.has("name") { reader.fail("name", "This field is required.") }
        let fields = ProductFields.read(&reader)
        try reader.throwIfInvalid()
        let id = services.ids.make(.product)
        let product = try await services.database.transaction { db in
            try await db.raw("""
                INSERT INTO products (id, project_id, livemode, name, description, image_url, features, active, unlisted, metadata, created)
                VALUES (\(bind: id), \(bind: call.caller.projectID), \(bind: call.caller.mode), \(bind: fields.name!),
                  \(bind: fields.description ?? nil), \(bind: fields.imageURL ?? nil), \(bind: JSONValue.array(fields.features ?? []).serialized()),
                  \(bind: (fields.active ?? true).stored), \(bind: (fields.unlisted ?? false).stored), \(bind: (fields.metadata ?? [:]).storedJSON),
                  \(bind: services.clock.now().milliseconds))
                """).run()
            return try await Catalog.loadProduct(id, caller: call.caller, on: db)!
        }
        return APIResponse(product)
    }

    /// POST /products/:id
    @Sendable func updateProduct(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Self.productFieldNames)
        let fields = ProductFields.read(&reader)
        try reader.throwIfInvalid()
        let product = try await services.database.transaction { db in
            guard let row = try await Catalog.productRow(call.id, caller: call.caller, on: db) else { throw ServiceError.notFound("product", call.id) }
            try await db.raw("""
                UPDATE products SET name = \(bind: fields.name ?? row.string("name")),
                  description = \(bind: fields.description ?? row.optionalString("description")),
                  image_url = \(bind: fields.imageURL ?? row.optionalString("image_url")),
                  features = \(bind: fields.features.map { JSONValue.array($0).serialized() } ?? row.string("features")),
                  active = \(bind: fields.active?.stored ?? row.int("active")),
                  unlisted = \(bind: fields.unlisted?.stored ?? row.int("unlisted")),
                  metadata = \(bind: fields.metadata?.storedJSON ?? row.string("metadata"))
                WHERE id = \(bind: call.id)
                """).run()
            return try await Catalog.loadProduct(call.id, caller: call.caller, on: db)!
        }
        return APIResponse(product)
    }

    /// GET /products/:id
    @Sendable func retrieveProduct(_ call: APICall) async throws -> APIResponse {
        let product = try await services.database.read { db in try await Catalog.loadProduct(call.id, caller: call.caller, on: db) }
        guard let product else { throw ServiceError.notFound("product", call.id) }
        return APIResponse(product)
    }

    /// GET /products (`?active=true|false|all`, default all); unlisted products only with `?include_unlisted=true`.
    @Sendable func listProducts(_ call: APICall) async throws -> APIResponse {
        let active = try Self.activeFilter(call)
        let unlisted: SQLQueryString = switch call.query["include_unlisted"] {
        case nil, "false": " AND unlisted = 0"
        case "true": ""
        default: throw ServiceError.invalid("include_unlisted", "Must be \"true\" or \"false\".")
        }
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "products", on: db)
            let rows = try await page.rows(filter: active + unlisted, on: db)
            return page.response(try rows.map(Catalog.productJSON))
        }
    }

    static func activeFilter(_ call: APICall) throws -> SQLQueryString {
        switch call.query["active"] {
        case nil, "all": return ""
        case "true": return " AND active = 1"
        case "false": return " AND active = 0"
        default: throw ServiceError.invalid("active", "Must be one of \"true\", \"false\", \"all\".")
        }
    }

    // MARK: - Prices

    /// POST /prices
    @Sendable func createPrice(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["product", "unit_amount", "type", "recurring", "currency", "tax_mode", "metadata", "active"])
        let productID = reader.id("product", required: true, prefix: .product)
        let unitAmount = reader.integer("unit_amount", required: true, in: 0...Money.maximumAmount)
        let type: Catalog.PriceType? = reader.choice("type", required: true)
        let currency: Catalog.Currency = reader.choice("currency") ?? .ils
        let taxMode: Catalog.TaxMode = reader.choice("tax_mode") ?? .inclusive
        let metadata = reader.metadata() ?? [:]
        let active = reader.boolean("active") ?? true
        var interval: Catalog.Interval?
        var intervalCount: Int64?
        var trialDays: Int64?
        if type == .recurring {
            if var recurring = reader.nested("recurring", required: true) {
                recurring.rejectUnknownFields(allowing: ["interval", "interval_count", "trial_period_days"])
                interval = recurring.choice("interval", required: true)
                intervalCount = recurring.integer("interval_count", in: 1...365) ?? 1
                trialDays = recurring.integer("trial_period_days", in: 0...730) ?? 0
                reader.merge(recurring)
            }
        } else if type == .oneTime, reader.has("recurring"), !reader.isNull("recurring") {
            reader.fail("recurring", "Only recurring prices take this field.")
        }
        try reader.throwIfInvalid()
        let (interval_, intervalCount_, trialDays_) = (interval, intervalCount, trialDays)
        let id = services.ids.make(.price)
        let price = try await services.database.transaction { db in
            guard try await Catalog.productRow(productID!, caller: call.caller, on: db) != nil else { throw ServiceError.notFound("product", productID!) }
            try await db.raw("""
                INSERT INTO prices (id, project_id, livemode, product_id, unit_amount, currency, type, recurring_interval, interval_count,
                  trial_period_days, tax_mode, active, metadata, created)
                VALUES (\(bind: id), \(bind: call.caller.projectID), \(bind: call.caller.mode), \(bind: productID!), \(bind: unitAmount!),
                  \(bind: currency.rawValue), \(bind: type!.rawValue), \(bind: interval_?.rawValue), \(bind: intervalCount_), \(bind: trialDays_),
                  \(bind: taxMode.rawValue), \(bind: active.stored), \(bind: metadata.storedJSON), \(bind: services.clock.now().milliseconds))
                """).run()
            return try await Catalog.loadPrice(id, caller: call.caller, on: db)!
        }
        return APIResponse(price)
    }

    /// POST /prices/:id: `active` (false archives) and `metadata`; the amount of a price never changes.
    @Sendable func updatePrice(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["active", "metadata"])
        let active = reader.boolean("active")
        let metadata = reader.metadata()
        try reader.throwIfInvalid()
        let price = try await services.database.transaction { db in
            guard let row = try await Catalog.priceRow(call.id, caller: call.caller, on: db) else { throw ServiceError.notFound("price", call.id) }
            try await db.raw("""
                UPDATE prices SET active = \(bind: active?.stored ?? row.int("active")),
                  metadata = \(bind: metadata?.storedJSON ?? row.string("metadata")) WHERE id = \(bind: call.id)
                """).run()
            return try await Catalog.loadPrice(call.id, caller: call.caller, on: db)!
        }
        return APIResponse(price)
    }

    /// GET /prices/:id
    @Sendable func retrievePrice(_ call: APICall) async throws -> APIResponse {
        let price = try await services.database.read { db in try await Catalog.loadPrice(call.id, caller: call.caller, on: db) }
        guard let price else { throw ServiceError.notFound("price", call.id) }
        return APIResponse(price)
    }

    /// GET /prices (`?product=`, `?active=true|false|all`)
    @Sendable func listPrices(_ call: APICall) async throws -> APIResponse {
        let active = try Self.activeFilter(call)
        let product: SQLQueryString = call.query["product"].map { " AND product_id = \(bind: $0)" } ?? ""
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "prices", on: db)
            let rows = try await page.rows(filter: product + active, on: db)
            return page.response(try rows.map(Catalog.priceJSON))
        }
    }

}

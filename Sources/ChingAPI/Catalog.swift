import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

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

    /// POST /products
    @Sendable func createProduct(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Catalog.productFieldNames)
        if !reader.has("name") { reader.fail("name", "This field is required.") }
        let fields = Catalog.ProductFields.read(&reader)
        try reader.throwIfInvalid()
        return APIResponse(try await Catalog.createProduct(fields, caller: call.caller, services: services))
    }

    /// POST /products/:id
    @Sendable func updateProduct(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Catalog.productFieldNames)
        let fields = Catalog.ProductFields.read(&reader)
        try reader.throwIfInvalid()
        return APIResponse(try await Catalog.updateProduct(call.id, fields, caller: call.caller, services: services))
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
        let includeUnlisted = switch call.query["include_unlisted"] {
        case nil, "false": false
        case "true": true
        default: throw ServiceError.invalid("include_unlisted", "Must be \"true\" or \"false\".")
        }
        return try await ListPage.respond(call, services: services, { db, page in
            try await db.catalog.products(caller: call.caller, page, active: active, includeUnlisted: includeUnlisted)
        }, json: Catalog.productJSON)
    }

    /// `?active=`: only active (true) or archived (false) ones; nil for all.
    static func activeFilter(_ call: APICall) throws -> Bool? {
        switch call.query["active"] {
        case nil, "all": return nil
        case "true": return true
        case "false": return false
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
        return APIResponse(try await Catalog.createPrice(productID: productID!, unitAmount: unitAmount!, type: type!, currency: currency, taxMode: taxMode,
                                                              recurring: (interval, intervalCount, trialDays), active: active, metadata: metadata,
                                                              caller: call.caller, services: services))
    }

    /// POST /prices/:id: `active` (false archives) and `metadata`; the amount of a price never changes.
    @Sendable func updatePrice(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: ["active", "metadata"])
        let active = reader.boolean("active")
        let metadata = reader.metadata()
        try reader.throwIfInvalid()
        return APIResponse(try await Catalog.updatePrice(call.id, active: active, metadata: metadata, caller: call.caller, services: services))
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
        let product = call.query["product"]
        return try await ListPage.respond(call, services: services, { db, page in
            try await db.catalog.prices(caller: call.caller, page, productID: product, active: active)
        }, json: Catalog.priceJSON)
    }

}

import ChingDomain
import ChingProviders
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/payment_methods`: saved cards. Only the provider's token and what a customer may see of the
/// card (brand, last four, expiry) are stored.
struct PaymentMethodsAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("payment_methods/test-card", use: endpoint(testCard))
        group.get("payment_methods/:id", use: endpoint(retrieve))
        group.post("payment_methods/:id/detach", use: endpoint(detach))
        group.post("payment_methods/:id/set_default", use: endpoint(setDefault))
    }

    /// POST /payment_methods/test-card: attaches a sandbox card (test mode only), Israeli-issued
    /// whatever its number (API.md's decision). `card_index` 0 Visa 4242, 1 Mastercard 5555, 2 Amex 0005, 3 Visa 4580.
    @Sendable func testCard(_ call: APICall) async throws -> APIResponse {
        guard !call.caller.livemode else {
            throw APIError.rule("livemode_not_allowed", "Test cards exist only in test mode; use a setup session in live mode.", status: .forbidden)
        }
        var reader = call.reader(allowing: ["customer", "card_index", "metadata"])
        let customerID = reader.id("customer", required: true, prefix: .customer)
        let index = reader.integer("card_index", in: 0...Int64(SandboxProvider.testCards.count - 1)) ?? 0
        let metadata = reader.metadata() ?? [:]
        try reader.throwIfInvalid()
        _ = try await services.database.read { db in try await CustomersAPI.requireActive(customerID!, caller: call.caller, on: db) }
        let saved = await services.provider(for: call.caller).saveCard(SandboxProvider.testCards[Int(index)])
        guard case .success(let card) = saved else { throw APIError.rule("provider_error", "The sandbox refused its own test card.", status: .badGateway) }
        let paymentMethod = try await services.database.transaction { db in
            try await Self.attach(card.issuedInIsrael, customerID: customerID!, metadata: metadata, caller: call.caller, on: db, services: services)
        }
        return APIResponse(paymentMethod)
    }

    /// Saves a provider card to a customer (`payment_method.attached`). The first card becomes the default.
    static func attach(_ card: ProviderCard, customerID: String, metadata: [String: String], caller: Caller,
                       on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        let customer = try await CustomersAPI.requireActive(customerID, caller: caller, on: db)
        let id = services.ids.make(.paymentMethod)
        try await db.raw("""
            INSERT INTO payment_methods (id, project_id, livemode, customer_id, status, provider, token, brand, last4, exp_month,
              exp_year, issuer_country, supports_installments, supports_recurring, metadata, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: customerID), 'active',
              \(bind: services.provider(for: caller).name), \(bind: card.token), \(bind: card.brand.rawValue), \(bind: card.last4),
              \(bind: Int64(card.expMonth)), \(bind: Int64(card.expYear)), \(bind: card.issuerCountry),
              \(bind: card.supportsInstallments.stored), \(bind: card.supportsRecurring.stored), \(bind: metadata.storedJSON),
              \(bind: services.clock.now().milliseconds))
            """).run()
        // The first card becomes the default; the attach event then shows it as such, as GET does.
        let becomesDefault = try customer.optionalString("default_payment_method") == nil
        if becomesDefault {
            try await db.raw("UPDATE customers SET default_payment_method = \(bind: id) WHERE id = \(bind: customerID)").run()
        }
        let paymentMethod = try await load(id, caller: caller, on: db)!
        try await Events.record("payment_method.attached", data: paymentMethod, caller: caller, on: db, services: services)
        if becomesDefault {
            try await setDefault(id, customerID: customerID, caller: caller, on: db, services: services)
        }
        return paymentMethod
    }

    /// GET /payment_methods/:id
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let paymentMethod = try await services.database.read { db in try await Self.load(call.id, caller: call.caller, on: db) }
        guard let paymentMethod else { throw APIError.notFound("payment_method", call.id) }
        return APIResponse(paymentMethod)
    }

    /// POST /payment_methods/:id/detach: the card moves to the customer's inactive list.
    @Sendable func detach(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        let paymentMethod = try await services.database.transaction { db in
            guard let row = try await Self.row(call.id, caller: call.caller, on: db) else { throw APIError.notFound("payment_method", call.id) }
            guard try row.string("status") == "active" else {
                throw APIError.rule("payment_method_inactive", "This payment method is already detached.")
            }
            return try await Self.detach(call.id, caller: call.caller, on: db, services: services)
        }
        return APIResponse(paymentMethod)
    }

    /// Marks a card inactive, clears it as the default, and writes `payment_method.detached`.
    @discardableResult
    static func detach(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        try await db.raw("UPDATE payment_methods SET status = 'inactive' WHERE id = \(bind: id)").run()
        let paymentMethod = try await load(id, caller: caller, on: db)!
        try await Events.record("payment_method.detached", data: paymentMethod, caller: caller, on: db, services: services)
        if paymentMethod["is_default"] == true, let customerID = paymentMethod["customer"]?.stringValue {
            try await setDefault(nil, customerID: customerID, caller: caller, on: db, services: services)
            return try await load(id, caller: caller, on: db)!
        }
        return paymentMethod
    }

    /// POST /payment_methods/:id/set_default
    @Sendable func setDefault(_ call: APICall) async throws -> APIResponse {
        try call.reader(allowing: []).throwIfInvalid()
        let paymentMethod = try await services.database.transaction { db in
            guard let row = try await Self.row(call.id, caller: call.caller, on: db) else { throw APIError.notFound("payment_method", call.id) }
            guard try row.string("status") == "active" else {
                throw APIError.rule("payment_method_inactive", "A detached payment method cannot be the default.")
            }
            try await Self.setDefault(call.id, customerID: try row.string("customer_id"), caller: call.caller, on: db, services: services)
            return try await Self.load(call.id, caller: call.caller, on: db)!
        }
        return APIResponse(paymentMethod)
    }

    /// Changes the customer's default card (nil: none) and writes `customer.updated`.
    static func setDefault(_ id: String?, customerID: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws {
        try await db.raw("UPDATE customers SET default_payment_method = \(bind: id) WHERE id = \(bind: customerID)").run()
        let customer = try await CustomersAPI.load(customerID, caller: caller, on: db)!
        try await Events.record("customer.updated", data: customer, caller: caller, on: db, services: services)
    }

    // MARK: - Rows

    static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("payment_methods", id: id, caller: caller, columns: selectColumns)
    }

    static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    /// The columns `json` reads: the card and whether it is its customer's default.
    static let selectColumns = "*, (SELECT default_payment_method FROM customers c WHERE c.id = payment_methods.customer_id) AS default_payment_method"

    static func json(_ row: any SQLRow) throws -> JSONValue {
        let id = try row.string("id")
        let isDefault = try row.optionalString("default_payment_method") == id
        return .object([
            "id": .string(id),
            "object": "payment_method",
            "customer": .string(try row.string("customer_id")),
            "type": "card",
            "status": .string(try row.string("status")),
            "is_default": .bool(isDefault),
            "card": .object([
                "brand": .string(try row.string("brand")),
                "last4": .string(try row.string("last4")),
                "exp_month": .int(try row.int("exp_month")),
                "exp_year": .int(try row.int("exp_year")),
                "issuer_country": .string(try row.string("issuer_country")),
                "supports_installments": .bool(try row.bool("supports_installments")),
                "supports_recurring": .bool(try row.bool("supports_recurring")),
            ]),
            "metadata": try row.metadata(),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }
}

import ChingDomain
import ChingProviders
import ChingStore
import SQLKit

/// Saved cards: attaching one to a customer, detaching it, the default card; the object as the API returns it.
package enum PaymentMethods {
    /// Saves a provider card to a customer (`payment_method.attached`). The first card becomes the default.
    package static func attach(_ card: ProviderCard, customerID: String, metadata: [String: String], caller: Caller,
                       on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        let customer = try await Customers.requireActive(customerID, caller: caller, on: db)
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

    /// Marks a card inactive, clears it as the default, and writes `payment_method.detached`.
    @discardableResult
    package static func detach(_ id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        try await db.raw("UPDATE payment_methods SET status = 'inactive' WHERE id = \(bind: id)").run()
        let paymentMethod = try await load(id, caller: caller, on: db)!
        try await Events.record("payment_method.detached", data: paymentMethod, caller: caller, on: db, services: services)
        if paymentMethod["is_default"] == true, let customerID = paymentMethod["customer"]?.stringValue {
            try await setDefault(nil, customerID: customerID, caller: caller, on: db, services: services)
            return try await load(id, caller: caller, on: db)!
        }
        return paymentMethod
    }

    /// Changes the customer's default card (nil: none) and writes `customer.updated`.
    package static func setDefault(_ id: String?, customerID: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws {
        try await db.raw("UPDATE customers SET default_payment_method = \(bind: id) WHERE id = \(bind: customerID)").run()
        let customer = try await Customers.load(customerID, caller: caller, on: db)!
        try await Events.record("customer.updated", data: customer, caller: caller, on: db, services: services)
    }

    package static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("payment_methods", id: id, caller: caller, columns: selectColumns)
    }

    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    /// The columns `json` reads: the card and whether it is its customer's default.
    package static let selectColumns = "*, (SELECT default_payment_method FROM customers c WHERE c.id = payment_methods.customer_id) AS default_payment_method"

    package static func json(_ row: any SQLRow) throws -> JSONValue {
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

    /// Saves the sandbox's test card `index` to the customer, Israeli-issued whatever its number (API.md's decision).
    package static func attachTestCard(customerID: String, index: Int, metadata: [String: String], caller: Caller, services: AppServices) async throws -> JSONValue {
        _ = try await services.database.read { db in try await Customers.requireActive(customerID, caller: caller, on: db) }
        let saved = await services.provider(for: caller).saveCard(SandboxProvider.testCards[index])
        guard case .success(let card) = saved else { throw ServiceError.rule("provider_error", "The sandbox refused its own test card.", kind: .upstream) }
        return try await services.database.transaction { db in
            try await attach(card.issuedInIsrael, customerID: customerID, metadata: metadata, caller: caller, on: db, services: services)
        }
    }

    /// Detaches an active card (`payment_method.detached`); the card moves to the customer's inactive list.
    package static func detachCard(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            _ = try await activeRow(id, caller: caller, on: db, refusal: "This payment method is already detached.")
            return try await detach(id, caller: caller, on: db, services: services)
        }
    }

    /// Makes an active card its customer's default (`customer.updated`).
    package static func makeDefault(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            let row = try await activeRow(id, caller: caller, on: db, refusal: "A detached payment method cannot be the default.")
            try await setDefault(id, customerID: try row.string("customer_id"), caller: caller, on: db, services: services)
            return try await load(id, caller: caller, on: db)!
        }
    }

    /// The card's row when it is active; `payment_method_inactive` with `refusal` otherwise.
    private static func activeRow(_ id: String, caller: Caller, on db: any SQLDatabase, refusal: String) async throws -> any SQLRow {
        guard let row = try await row(id, caller: caller, on: db) else { throw ServiceError.notFound("payment_method", id) }
        guard try row.string("status") == "active" else { throw ServiceError.rule("payment_method_inactive", refusal) }
        return row
    }
}

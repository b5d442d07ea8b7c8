import ChingDomain
import ChingProviders
import ChingStore

/// Saved cards: attaching one to a customer, detaching it, the default card; the object as the API returns it.
package enum PaymentMethods {
    /// Saves a provider card to a customer (`payment_method.attached`). The first card becomes the default.
    package static func attach(_ card: ProviderCard, provider: String = "sandbox", customerID: String, metadata: [String: String], caller: Caller,
                       on db: Store, services: AppServices) async throws -> JSONValue {
        let customer = try await Customers.requireActive(customerID, caller: caller, on: db)
        let id = services.ids.make(.paymentMethod)
        try await db.paymentMethods.insert(PaymentMethod(
            id: id, caller: caller, customerID: customerID, provider: provider, token: card.token,
            brand: card.brand.rawValue, last4: card.last4, expMonth: Int64(card.expMonth), expYear: Int64(card.expYear),
            issuerCountry: card.issuerCountry, supportsInstallments: card.supportsInstallments, supportsRecurring: card.supportsRecurring,
            metadata: .strings(metadata), created: services.clock.now()))
        // The first card becomes the default; the attach event then shows it as such, as GET does.
        let becomesDefault = customer.defaultPaymentMethod == nil
        if becomesDefault { try await db.customers.setDefaultPaymentMethod(id, of: customerID) }
        let paymentMethod = try await load(id, caller: caller, on: db)!
        try await Events.record("payment_method.attached", data: paymentMethod, caller: caller, on: db, services: services)
        if becomesDefault {
            try await setDefault(id, customerID: customerID, caller: caller, on: db, services: services)
        }
        return paymentMethod
    }

    /// Marks a card inactive, clears it as the default, and writes `payment_method.detached`.
    @discardableResult
    package static func detach(_ id: String, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue {
        try await db.paymentMethods.deactivate(id)
        let paymentMethod = try await load(id, caller: caller, on: db)!
        try await Events.record("payment_method.detached", data: paymentMethod, caller: caller, on: db, services: services)
        if paymentMethod["is_default"] == true, let customerID = paymentMethod["customer"]?.stringValue {
            try await setDefault(nil, customerID: customerID, caller: caller, on: db, services: services)
            return try await load(id, caller: caller, on: db)!
        }
        return paymentMethod
    }

    /// Changes the customer's default card (nil: none) and writes `customer.updated`.
    package static func setDefault(_ id: String?, customerID: String, caller: Caller, on db: Store, services: AppServices) async throws {
        try await db.customers.setDefaultPaymentMethod(id, of: customerID)
        let customer = try await Customers.load(customerID, caller: caller, on: db)!
        try await Events.record("customer.updated", data: customer, caller: caller, on: db, services: services)
    }

    package static func load(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.paymentMethods.find(id, caller: caller).map(json)
    }

    package static func json(_ card: PaymentMethod) -> JSONValue {
        .object([
            "id": .string(card.id),
            "object": "payment_method",
            "customer": .string(card.customerID),
            "type": "card",
            "status": .string(card.status),
            "is_default": .bool(card.isDefault),
            "card": .object([
                "brand": .string(card.brand),
                "last4": .string(card.last4),
                "exp_month": .int(card.expMonth),
                "exp_year": .int(card.expYear),
                "issuer_country": .string(card.issuerCountry),
                "supports_installments": .bool(card.supportsInstallments),
                "supports_recurring": .bool(card.supportsRecurring),
            ]),
            "metadata": card.metadata,
            "livemode": .bool(card.caller.livemode),
            "created": .string(card.created.iso8601),
        ])
    }

    /// Saves the sandbox's test card `index` to the customer, Israeli-issued whatever its number (API.md's decision).
    package static func attachTestCard(customerID: String, index: Int, metadata: [String: String], caller: Caller, services: AppServices) async throws -> JSONValue {
        _ = try await services.database.read { db in try await Customers.requireActive(customerID, caller: caller, on: db) }
        let saved = await services.cardForm(for: caller).saveCard(SandboxProvider.testCards[index])
        guard case .success(let card) = saved else { throw ServiceError.rule("provider_error", "The sandbox refused its own test card.", kind: .upstream) }
        return try await services.database.transaction { db in
            try await attach(card.issuedInIsrael, customerID: customerID, metadata: metadata, caller: caller, on: db, services: services)
        }
    }

    /// Detaches an active card (`payment_method.detached`); the card moves to the customer's inactive list.
    package static func detachCard(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            _ = try await active(id, caller: caller, on: db, refusal: "This payment method is already detached.")
            return try await detach(id, caller: caller, on: db, services: services)
        }
    }

    /// Makes an active card its customer's default (`customer.updated`).
    package static func makeDefault(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        return try await services.database.transaction { db in
            let card = try await active(id, caller: caller, on: db, refusal: "A detached payment method cannot be the default.")
            try await setDefault(id, customerID: card.customerID, caller: caller, on: db, services: services)
            return try await load(id, caller: caller, on: db)!
        }
    }

    /// The card when it is active; `payment_method_inactive` with `refusal` otherwise.
    private static func active(_ id: String, caller: Caller, on db: Store, refusal: String) async throws -> PaymentMethod {
        guard let card = try await db.paymentMethods.find(id, caller: caller) else { throw ServiceError.notFound("payment_method", id) }
        guard card.isActive else { throw ServiceError.rule("payment_method_inactive", refusal) }
        return card
    }
}

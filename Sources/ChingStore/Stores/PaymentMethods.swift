import ChingDomain
import SQLKit

/// A saved card as stored: the provider's token and what a customer may see of the card.
public struct PaymentMethod: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    /// `active` or `inactive` (detached).
    public let status: String
    public let provider: String
    public let token: String
    public let brand: String
    public let last4: String
    public let expMonth: Int64
    public let expYear: Int64
    public let issuerCountry: String
    public let supportsInstallments: Bool
    public let supportsRecurring: Bool
    public let metadata: JSONValue
    public let created: Timestamp
    /// Whether it is its customer's default card (read with it).
    public let isDefault: Bool

    public init(id: String, caller: Caller, customerID: String, provider: String, token: String, brand: String, last4: String,
                expMonth: Int64, expYear: Int64, issuerCountry: String, supportsInstallments: Bool, supportsRecurring: Bool,
                metadata: JSONValue, created: Timestamp) {
        self.id = id; self.caller = caller; self.customerID = customerID; self.status = "active"; self.provider = provider
        self.token = token; self.brand = brand; self.last4 = last4; self.expMonth = expMonth; self.expYear = expYear
        self.issuerCountry = issuerCountry; self.supportsInstallments = supportsInstallments; self.supportsRecurring = supportsRecurring
        self.metadata = metadata; self.created = created; self.isDefault = false
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        customerID = try row.string("customer_id")
        status = try row.string("status")
        provider = try row.string("provider")
        token = try row.string("token")
        brand = try row.string("brand")
        last4 = try row.string("last4")
        expMonth = try row.int("exp_month")
        expYear = try row.int("exp_year")
        issuerCountry = try row.string("issuer_country")
        supportsInstallments = try row.bool("supports_installments")
        supportsRecurring = try row.bool("supports_recurring")
        metadata = try row.metadata()
        created = try row.timestamp("created")
        isDefault = try row.optionalString("default_payment_method") == id
    }

    public var isActive: Bool { status == "active" }
}

/// The `payment_methods` table.
public struct PaymentMethodStore: Sendable {
    let db: any SQLDatabase

    /// Every column, and whether the card is its customer's default.
    private static let columns: SQLQueryString =
        "*, (SELECT default_payment_method FROM customers c WHERE c.id = payment_methods.customer_id) AS default_payment_method"

    public func find(_ id: String, caller: Caller) async throws -> PaymentMethod? {
        try await db.raw("SELECT " + Self.columns + " FROM payment_methods WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)")
            .first().map(PaymentMethod.init)
    }

    public func insert(_ card: PaymentMethod) async throws {
        try await db.raw("""
            INSERT INTO payment_methods (id, project_id, livemode, customer_id, status, provider, token, brand, last4, exp_month,
              exp_year, issuer_country, supports_installments, supports_recurring, metadata, created)
            VALUES (\(bind: card.id), \(bind: card.caller.projectID), \(bind: card.caller.mode), \(bind: card.customerID), \(bind: card.status),
              \(bind: card.provider), \(bind: card.token), \(bind: card.brand), \(bind: card.last4), \(bind: card.expMonth), \(bind: card.expYear),
              \(bind: card.issuerCountry), \(bind: card.supportsInstallments.stored), \(bind: card.supportsRecurring.stored),
              \(bind: card.metadata.serialized()), \(bind: card.created.milliseconds))
            """).run()
    }

    /// Detaches the card: it stays for the charges made with it.
    public func deactivate(_ id: String) async throws {
        try await db.raw("UPDATE payment_methods SET status = 'inactive' WHERE id = \(bind: id)").run()
    }

    /// The customer's active cards, oldest first.
    public func active(ofCustomer customerID: String) async throws -> [PaymentMethod] {
        try await db.raw("SELECT " + Self.columns + " FROM payment_methods WHERE customer_id = \(bind: customerID) AND status = 'active' ORDER BY seq")
            .all().map(PaymentMethod.init)
    }

    /// A page of the customer's cards with `status`, newest first.
    public func list(ofCustomer customerID: String, status: String, caller: Caller, _ request: PageRequest) async throws -> Page<PaymentMethod> {
        try await db.page("payment_methods", caller: caller, request, columns: Self.columns,
                          filter: " AND customer_id = \(bind: customerID) AND status = \(bind: status)", as: PaymentMethod.init)
    }
}

extension SQLDatabase {
    public var paymentMethods: PaymentMethodStore { PaymentMethodStore(db: self) }
}

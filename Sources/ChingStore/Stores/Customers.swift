import ChingDomain
import SQLKit

/// A customer as stored.
public struct Customer: Sendable {
    public let id: String
    public let caller: Caller
    public var name: String
    public var email: String?
    public var phone: String?
    /// `he` or `en`.
    public var locale: String
    public var taxID: String?
    public let testClock: String?
    public var metadata: JSONValue
    public let defaultPaymentMethod: String?
    public let deleted: Bool
    public let created: Timestamp

    public init(id: String, caller: Caller, name: String, email: String?, phone: String?, locale: String, taxID: String?, testClock: String?,
                metadata: JSONValue, created: Timestamp) {
        self.id = id; self.caller = caller; self.name = name; self.email = email; self.phone = phone; self.locale = locale
        self.taxID = taxID; self.testClock = testClock; self.metadata = metadata; self.defaultPaymentMethod = nil; self.deleted = false
        self.created = created
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        name = try row.string("name")
        email = try row.optionalString("email")
        phone = try row.optionalString("phone")
        locale = try row.string("locale")
        taxID = try row.optionalString("tax_id")
        testClock = try row.optionalString("test_clock")
        metadata = try row.metadata()
        defaultPaymentMethod = try row.optionalString("default_payment_method")
        deleted = try row.bool("deleted")
        created = try row.timestamp("created")
    }

    /// The customer's language (Hebrew when unknown).
    public var language: Language { Language(rawValue: locale) ?? .he }
}

/// The `customers` table.
public struct CustomerStore: Sendable {
    let db: any SQLDatabase

    /// What a customer can be looked up by (`POST /customers/upsert`, `GET /customers` filters).
    public enum Key: Sendable {
        case email(String), phone(String), taxID(String)

        var condition: SQLQueryString {
            switch self {
            case .email(let value): " AND email = \(bind: value)"
            case .phone(let value): " AND phone = \(bind: value)"
            case .taxID(let value): " AND tax_id = \(bind: value)"
            }
        }
    }

    /// A customer in the caller's project and mode (deleted ones too).
    public func find(_ id: String, caller: Caller) async throws -> Customer? {
        try await db.scopedRow("customers", id: id, caller: caller).map(Customer.init)
    }

    /// A customer by id alone (its session or document already names the project).
    public func find(_ id: String) async throws -> Customer? {
        try await db.raw("SELECT * FROM customers WHERE id = \(bind: id)").first().map(Customer.init)
    }

    /// A customer with the time of the test clock they live on, if any, in one read (a hosted page's first).
    public func findWithClockTime(_ id: String) async throws -> (customer: Customer, clockTime: Timestamp?)? {
        guard let row = try await db.raw("""
            SELECT c.*, t.frozen_time AS clock_time FROM customers c LEFT JOIN test_clocks t ON t.id = c.test_clock WHERE c.id = \(bind: id)
            """).first() else { return nil }
        return (try Customer(row), try row.optionalTimestamp("clock_time"))
    }

    public func insert(_ customer: Customer) async throws {
        try await db.raw("""
            INSERT INTO customers (id, project_id, livemode, name, email, phone, locale, tax_id, metadata, test_clock, created)
            VALUES (\(bind: customer.id), \(bind: customer.caller.projectID), \(bind: customer.caller.mode), \(bind: customer.name), \(bind: customer.email),
              \(bind: customer.phone), \(bind: customer.locale), \(bind: customer.taxID), \(bind: customer.metadata.serialized()),
              \(bind: customer.testClock), \(bind: customer.created.milliseconds))
            """).run()
    }

    /// Writes the fields a merchant may change.
    public func update(_ customer: Customer) async throws {
        try await db.raw("""
            UPDATE customers SET name = \(bind: customer.name), email = \(bind: customer.email), phone = \(bind: customer.phone),
              locale = \(bind: customer.locale), tax_id = \(bind: customer.taxID), metadata = \(bind: customer.metadata.serialized())
            WHERE id = \(bind: customer.id)
            """).run()
    }

    /// Whether another active customer of the caller has `email`.
    public func emailInUse(_ email: String, except id: String?, caller: Caller) async throws -> Bool {
        try await db.raw("""
            SELECT id FROM customers WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
              AND email = \(bind: email) AND deleted = 0 AND id <> \(bind: id ?? "")
            """).first() != nil
    }

    /// The newest active customer of the caller with `key`.
    public func newest(with key: Key, caller: Caller) async throws -> Customer? {
        try await db.raw("""
            SELECT * FROM customers WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND deleted = 0
            """ + key.condition + " ORDER BY seq DESC LIMIT 1").first().map(Customer.init)
    }

    /// Active customers, newest first, with every key given.
    public func list(caller: Caller, _ request: PageRequest, matching keys: [Key]) async throws -> Page<Customer> {
        let filter = keys.reduce(" AND deleted = 0" as SQLQueryString) { $0 + $1.condition }
        return try await db.page("customers", caller: caller, request, filter: filter, as: Customer.init)
    }

    public func setDefaultPaymentMethod(_ paymentMethodID: String?, of customerID: String) async throws {
        try await db.raw("UPDATE customers SET default_payment_method = \(bind: paymentMethodID) WHERE id = \(bind: customerID)").run()
    }

    /// Holds the customer's row until the transaction ends (PostgreSQL's row lock; SQLite's
    /// transactions already run one at a time): a check and a change about their cards cannot interleave.
    public func hold(_ id: String) async throws {
        try await db.raw("UPDATE customers SET deleted = deleted WHERE id = \(bind: id)").run()
    }

    /// Soft-deletes the customer (its row stays for its charges and documents).
    public func markDeleted(_ id: String) async throws {
        try await db.raw("UPDATE customers SET deleted = 1, default_payment_method = NULL WHERE id = \(bind: id)").run()
    }
}

extension SQLDatabase {
    public var customers: CustomerStore { CustomerStore(db: self) }
}

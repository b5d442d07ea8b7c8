import ChingDomain
import ChingStore
import SQLKit

/// Customers as the API returns them, and the check that one is active.
package enum Customers {
    package static func row(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> (any SQLRow)? {
        try await db.scopedRow("customers", id: id, caller: caller)
    }

    /// The customer as the API returns it, or nil when there is none in the caller's scope.
    package static func load(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue? {
        try await row(id, caller: caller, on: db).map(json)
    }

    /// An active (not deleted) customer's row, or 404.
    package static func requireActive(_ id: String, caller: Caller, on db: any SQLDatabase) async throws -> any SQLRow {
        guard let row = try await Self.row(id, caller: caller, on: db), try !row.bool("deleted") else {
            throw ServiceError.notFound("customer", id)
        }
        return row
    }

    package static func json(_ row: any SQLRow) throws -> JSONValue {
        if try row.bool("deleted") {
            return .object(["id": .string(try row.string("id")), "object": "customer", "deleted": true])
        }
        return .object([
            "id": .string(try row.string("id")),
            "object": "customer",
            "name": .string(try row.string("name")),
            "email": .optional(try row.optionalString("email")),
            "phone": .optional(try row.optionalString("phone")),
            "locale": .string(try row.string("locale")),
            "taxId": .optional(try row.optionalString("tax_id")),
            "test_clock": .optional(try row.optionalString("test_clock")),
            "metadata": try row.metadata(),
            "default_payment_method": .optional(try row.optionalString("default_payment_method")),
            "livemode": .bool(try row.bool("livemode")),
            "created": .string(try row.timestamp("created").iso8601),
        ])
    }

    /// The fields a create, update or upsert may send. `nil` = not sent; `.some(nil)` = sent as null (cleared).
    package struct Fields {
        package var name: String?
        package var email: String??
        package var phone: String??
        package var locale: Language?
        package var taxID: String??
        package var metadata: [String: String]?

        package static let names: Set<String> = ["name", "email", "phone", "locale", "taxId", "metadata"]

        package static func read(_ reader: inout FieldReader) -> Fields {
            var fields = Fields()
            fields.name = reader.string("name", maxLength: 255)
            if reader.isNull("name") { reader.fail("name", "Must not be null.") }
            fields.email = reader.isNull("email") ? .some(nil) : reader.email("email").map { .some($0) }
            fields.phone = reader.isNull("phone") ? .some(nil) : reader.phone("phone").map { .some($0) }
            fields.locale = reader.choice("locale")
            fields.taxID = reader.isNull("taxId") ? .some(nil) : reader.string("taxId", maxLength: 32).map { .some($0) }
            fields.metadata = reader.metadata()
            return fields
        }
    }

    /// `testClock`: the test clock the customer lives on (test mode only); then it is created at the clock's time.
    private static func insert(_ fields: Fields, testClock: String? = nil, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.customer)
        let email = fields.email ?? nil
        if let email { try await ensureEmailFree(email, except: nil, caller: caller, on: db) }
        var services = services
        if let testClock {
            guard !caller.livemode else {
                throw ServiceError.rule("livemode_not_allowed", "Test clocks exist only in test mode.", kind: .forbidden)
            }
            services = services.at(try await TestClocks.existing(testClock, caller: caller, on: db).timestamp("frozen_time"))
        }
        try await db.raw("""
            INSERT INTO customers (id, project_id, livemode, name, email, phone, locale, tax_id, metadata, test_clock, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: fields.name ?? ""), \(bind: email),
              \(bind: fields.phone ?? nil), \(bind: (fields.locale ?? .he).rawValue), \(bind: fields.taxID ?? nil),
              \(bind: (fields.metadata ?? [:]).storedJSON), \(bind: testClock), \(bind: services.clock.now().milliseconds))
            """).run()
        let customer = try await load(id, caller: caller, on: db)!
        try await Events.record("customer.created", data: customer, caller: caller, on: db, services: services)
        return customer
    }

    private static func ensureEmailFree(_ email: String, except id: String?, caller: Caller, on db: any SQLDatabase) async throws {
        let row = try await db.raw("""
            SELECT id FROM customers WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
              AND email = \(bind: email) AND deleted = 0 AND id <> \(bind: id ?? "")
            """).first()
        if row != nil {
            throw ServiceError.rule("EMAIL_EXISTS", "A customer with the email \(email) already exists.", kind: .conflict)
        }
    }

    private static func apply(_ fields: Fields, to id: String, caller: Caller, on db: any SQLDatabase, services: AppServices) async throws -> JSONValue {
        guard let row = try await Self.row(id, caller: caller, on: db), try !row.bool("deleted") else {
            throw ServiceError.notFound("customer", id)
        }
        if case .some(.some(let email)) = fields.email { try await ensureEmailFree(email, except: id, caller: caller, on: db) }
        let metadata = try fields.metadata.map(\.storedJSON) ?? row.string("metadata")
        try await db.raw("""
            UPDATE customers SET name = \(bind: fields.name ?? row.string("name")),
              email = \(bind: fields.email ?? row.optionalString("email")),
              phone = \(bind: fields.phone ?? row.optionalString("phone")),
              locale = \(bind: fields.locale?.rawValue ?? row.string("locale")),
              tax_id = \(bind: fields.taxID ?? row.optionalString("tax_id")),
              metadata = \(bind: metadata)
            WHERE id = \(bind: id)
            """).run()
        let customer = try await load(id, caller: caller, on: db)!
        try await Events.record("customer.updated", data: customer, caller: caller, on: db, services: services)
        return customer
    }

    /// Creates a customer (`customer.created`); an email already in use is `EMAIL_EXISTS`.
    package static func create(_ fields: Fields, testClock: String? = nil, caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in try await insert(fields, testClock: testClock, caller: caller, on: db, services: services) }
    }

    /// Changes the fields sent (`customer.updated`).
    package static func update(_ id: String, _ fields: Fields, caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in try await apply(fields, to: id, caller: caller, on: db, services: services) }
    }

    /// Soft-deletes a customer and detaches its cards (`customer.deleted`); refused while a subscription is live.
    package static func delete(_ id: String, caller: Caller, services: AppServices) async throws -> JSONValue {
        try await services.database.transaction { db in
            guard let row = try await Self.row(id, caller: caller, on: db), try !row.bool("deleted") else {
                throw ServiceError.notFound("customer", id)
            }
            let active = try await db.raw("""
                SELECT id FROM subscriptions WHERE customer_id = \(bind: id) AND status IN ('active', 'trialing', 'past_due')
                """).first()
            if active != nil {
                throw ServiceError.rule("CUSTOMER_HAS_ACTIVE_SUBSCRIPTION", "Cancel the customer's subscriptions before deleting the customer.", kind: .conflict)
            }
            let cards = try await db.raw("""
                SELECT id FROM payment_methods WHERE customer_id = \(bind: id) AND status = 'active' ORDER BY seq
                """).all()
            for card in cards {
                try await PaymentMethods.detach(try card.string("id"), caller: caller, on: db, services: services)
            }
            try await db.raw("UPDATE customers SET deleted = 1, default_payment_method = NULL WHERE id = \(bind: id)").run()
            let deleted: JSONValue = .object(["id": .string(id), "object": "customer", "deleted": true])
            try await Events.record("customer.deleted", data: deleted, caller: caller, on: db, services: services)
            return deleted
        }
    }

    /// What `POST /customers/upsert` matches a customer by.
    package enum IdentifyBy: String, CaseIterable, Sendable {
        case email, taxId, phone
        var column: String { switch self { case .email: "email"; case .taxId: "tax_id"; case .phone: "phone" } }
    }

    /// Updates the newest customer whose `identifyBy` field is `key`, or creates one; true when created.
    package static func upsert(matching identifyBy: IdentifyBy, _ key: String, _ fields: Fields, caller: Caller, services: AppServices) async throws -> (JSONValue, Bool) {
        try await services.database.transaction { db in
            let match = try await db.raw("""
                SELECT id FROM customers WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
                  AND deleted = 0 AND \(unsafeRaw: identifyBy.column) = \(bind: key) ORDER BY seq DESC LIMIT 1
                """).first()
            if let match {
                return (try await apply(fields, to: try match.string("id"), caller: caller, on: db, services: services), false)
            }
            guard fields.name != nil else { throw ServiceError.invalid("name", "Required to create a customer: no customer matches.") }
            return (try await insert(fields, caller: caller, on: db, services: services), true)
        }
    }
}

import ChingDomain
import ChingStore

/// Customers as the API returns them, and the check that one is active.
package enum Customers {
    /// The customer as the API returns it, or nil when there is none in the caller's scope.
    package static func load(_ id: String, caller: Caller, on db: Store) async throws -> JSONValue? {
        try await db.customers.find(id, caller: caller).map(json)
    }

    /// An active (not deleted) customer, or 404.
    package static func requireActive(_ id: String, caller: Caller, on db: Store) async throws -> Customer {
        guard let customer = try await db.customers.find(id, caller: caller), !customer.deleted else {
            throw ServiceError.notFound("customer", id)
        }
        return customer
    }

    package static func json(_ customer: Customer) -> JSONValue {
        if customer.deleted {
            return .object(["id": .string(customer.id), "object": "customer", "deleted": true])
        }
        return .object([
            "id": .string(customer.id),
            "object": "customer",
            "name": .string(customer.name),
            "email": .optional(customer.email),
            "phone": .optional(customer.phone),
            "locale": .string(customer.locale),
            "taxId": .optional(customer.taxID),
            "test_clock": .optional(customer.testClock),
            "metadata": customer.metadata,
            "default_payment_method": .optional(customer.defaultPaymentMethod),
            "livemode": .bool(customer.caller.livemode),
            "created": .string(customer.created.iso8601),
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
    private static func insert(_ fields: Fields, testClock: String? = nil, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue {
        let id = services.ids.make(.customer)
        let email = fields.email ?? nil
        if let email { try await ensureEmailFree(email, except: nil, caller: caller, on: db) }
        var services = services
        if let testClock {
            guard !caller.livemode else {
                throw ServiceError.rule("livemode_not_allowed", "Test clocks exist only in test mode.", kind: .forbidden)
            }
            services = services.at(try await TestClocks.existing(testClock, caller: caller, on: db).frozenTime)
        }
        let customer = Customer(id: id, caller: caller, name: fields.name ?? "", email: email, phone: fields.phone ?? nil,
                                locale: (fields.locale ?? .he).rawValue, taxID: fields.taxID ?? nil, testClock: testClock,
                                metadata: .strings(fields.metadata ?? [:]), created: services.clock.now())
        try await db.customers.insert(customer)
        let created = json(customer)
        try await Events.record("customer.created", data: created, caller: caller, on: db, services: services)
        return created
    }

    private static func ensureEmailFree(_ email: String, except id: String?, caller: Caller, on db: Store) async throws {
        if try await db.customers.emailInUse(email, except: id, caller: caller) {
            throw ServiceError.rule("EMAIL_EXISTS", "A customer with the email \(email) already exists.", kind: .conflict)
        }
    }

    private static func apply(_ fields: Fields, to id: String, caller: Caller, on db: Store, services: AppServices) async throws -> JSONValue {
        var customer = try await requireActive(id, caller: caller, on: db)
        if case .some(.some(let email)) = fields.email { try await ensureEmailFree(email, except: id, caller: caller, on: db) }
        if let name = fields.name { customer.name = name }
        if let email = fields.email { customer.email = email }
        if let phone = fields.phone { customer.phone = phone }
        if let locale = fields.locale { customer.locale = locale.rawValue }
        if let taxID = fields.taxID { customer.taxID = taxID }
        if let metadata = fields.metadata { customer.metadata = .strings(metadata) }
        try await db.customers.update(customer)
        let updated = json(customer)
        try await Events.record("customer.updated", data: updated, caller: caller, on: db, services: services)
        return updated
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
            _ = try await requireActive(id, caller: caller, on: db)
            if try await db.subscriptions.hasPeriodRunning(customerID: id) {
                throw ServiceError.rule("CUSTOMER_HAS_ACTIVE_SUBSCRIPTION", "Cancel the customer's subscriptions before deleting the customer.", kind: .conflict)
            }
            for card in try await db.paymentMethods.active(ofCustomer: id) {
                try await PaymentMethods.detach(card.id, caller: caller, on: db, services: services)
            }
            try await db.customers.markDeleted(id)
            let deleted: JSONValue = .object(["id": .string(id), "object": "customer", "deleted": true])
            try await Events.record("customer.deleted", data: deleted, caller: caller, on: db, services: services)
            return deleted
        }
    }

    /// What `POST /customers/upsert` matches a customer by.
    package enum IdentifyBy: String, CaseIterable, Sendable {
        case email, taxId, phone
        func key(_ value: String) -> CustomerStore.Key {
            switch self { case .email: .email(value); case .taxId: .taxID(value); case .phone: .phone(value) }
        }
    }

    /// Updates the newest customer whose `identifyBy` field is `key`, or creates one; true when created.
    package static func upsert(matching identifyBy: IdentifyBy, _ key: String, _ fields: Fields, caller: Caller, services: AppServices) async throws -> (JSONValue, Bool) {
        try await services.database.transaction { db in
            if let match = try await db.customers.newest(with: identifyBy.key(key), caller: caller) {
                return (try await apply(fields, to: match.id, caller: caller, on: db, services: services), false)
            }
            guard fields.name != nil else { throw ServiceError.invalid("name", "Required to create a customer: no customer matches.") }
            return (try await insert(fields, caller: caller, on: db, services: services), true)
        }
    }
}

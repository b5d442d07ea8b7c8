import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// `/customers`: one person in the merchant's system, for life.
struct CustomersAPI: Sendable {
    let services: AppServices

    func addRoutes(to group: RouterGroup<AppRequestContext>, endpoint: EndpointWrapper) {
        group.post("customers", use: endpoint(create))
        group.get("customers", use: endpoint(list))
        group.post("customers/upsert", use: endpoint(upsert))
        group.get("customers/:id", use: endpoint(retrieve))
        group.post("customers/:id", use: endpoint(update))
        group.delete("customers/:id", use: endpoint(delete))
        group.get("customers/:id/payment_methods", use: endpoint { try await paymentMethods($0, status: "active") })
        group.get("customers/:id/payment_methods/inactive", use: endpoint { try await paymentMethods($0, status: "inactive") })
    }

    /// The fields a create, update or upsert may send. `nil` = not sent; `.some(nil)` = sent as null (cleared).
    struct Fields {
        var name: String?
        var email: String??
        var phone: String??
        var locale: Language?
        var taxID: String??
        var metadata: [String: String]?

        static let names: Set<String> = ["name", "email", "phone", "locale", "taxId", "metadata"]

        static func read(_ reader: inout FieldReader) -> Fields {
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

    /// POST /customers
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Fields.names)
        let fields = Fields.read(&reader)
        if !reader.has("name") { reader.fail("name", "This field is required.") }
        try reader.throwIfInvalid()
        let customer = try await services.database.transaction { db in
            try await insert(fields, caller: call.caller, on: db)
        }
        return APIResponse(customer)
    }

    private func insert(_ fields: Fields, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue {
        let id = services.ids.make(.customer)
        let email = fields.email ?? nil
        if let email { try await ensureEmailFree(email, except: nil, caller: caller, on: db) }
        try await db.raw("""
            INSERT INTO customers (id, project_id, livemode, name, email, phone, locale, tax_id, metadata, created)
            VALUES (\(bind: id), \(bind: caller.projectID), \(bind: caller.mode), \(bind: fields.name ?? ""), \(bind: email),
              \(bind: fields.phone ?? nil), \(bind: (fields.locale ?? .he).rawValue), \(bind: fields.taxID ?? nil),
              \(bind: (fields.metadata ?? [:]).storedJSON), \(bind: services.clock.now().milliseconds))
            """).run()
        let customer = try await Customers.load(id, caller: caller, on: db)!
        try await Events.record("customer.created", data: customer, caller: caller, on: db, services: services)
        return customer
    }

    private func ensureEmailFree(_ email: String, except id: String?, caller: Caller, on db: any SQLDatabase) async throws {
        let row = try await db.raw("""
            SELECT id FROM customers WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
              AND email = \(bind: email) AND deleted = 0 AND id <> \(bind: id ?? "")
            """).first()
        if row != nil {
            throw ServiceError.rule("EMAIL_EXISTS", "A customer with the email \(email) already exists.", kind: .conflict)
        }
    }

    /// GET /customers/:id (a deleted customer reads back as `{id, object, deleted: true}`)
    @Sendable func retrieve(_ call: APICall) async throws -> APIResponse {
        let customer = try await services.database.read { db in try await Customers.load(call.id, caller: call.caller, on: db) }
        guard let customer else { throw ServiceError.notFound("customer", call.id) }
        return APIResponse(customer)
    }

    /// GET /customers (deleted customers are left out). Filters `email` (exact, case-insensitive),
    /// `phone` (normalised as on create) and `taxId`: clients look a customer up and take the first row.
    @Sendable func list(_ call: APICall) async throws -> APIResponse {
        var reader = FieldReader(body: .strings(call.query))
        let email = reader.email("email"), phone = reader.phone("phone"), taxID = reader.string("taxId", maxLength: 32)
        try reader.throwIfInvalid()
        var filter: SQLQueryString = " AND deleted = 0"
        if let email { filter = filter + " AND email = \(bind: email)" }
        if let phone { filter = filter + " AND phone = \(bind: phone)" }
        if let taxID { filter = filter + " AND tax_id = \(bind: taxID)" }
        let customers = filter
        return try await services.database.read { db in
            let page = try await ListPage.read(call, table: "customers", on: db)
            let rows = try await page.rows(filter: customers, on: db)
            return page.response(try rows.map(Customers.json))
        }
    }

    /// POST /customers/:id: only the fields sent change.
    @Sendable func update(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Fields.names)
        let fields = Fields.read(&reader)
        try reader.throwIfInvalid()
        let customer = try await services.database.transaction { db in
            try await apply(fields, to: call.id, caller: call.caller, on: db)
        }
        return APIResponse(customer)
    }

    private func apply(_ fields: Fields, to id: String, caller: Caller, on db: any SQLDatabase) async throws -> JSONValue {
        guard let row = try await Customers.row(id, caller: caller, on: db), try !row.bool("deleted") else {
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
        let customer = try await Customers.load(id, caller: caller, on: db)!
        try await Events.record("customer.updated", data: customer, caller: caller, on: db, services: services)
        return customer
    }

    /// DELETE /customers/:id: soft delete; detaches the customer's cards.
    @Sendable func delete(_ call: APICall) async throws -> APIResponse {
        let deleted = try await services.database.transaction { db in
            guard let row = try await Customers.row(call.id, caller: call.caller, on: db), try !row.bool("deleted") else {
                throw ServiceError.notFound("customer", call.id)
            }
            let active = try await db.raw("""
                SELECT id FROM subscriptions WHERE customer_id = \(bind: call.id) AND status IN ('active', 'trialing', 'past_due')
                """).first()
            if active != nil {
                throw ServiceError.rule("CUSTOMER_HAS_ACTIVE_SUBSCRIPTION", "Cancel the customer's subscriptions before deleting the customer.", kind: .conflict)
            }
            let cards = try await db.raw("""
                SELECT id FROM payment_methods WHERE customer_id = \(bind: call.id) AND status = 'active' ORDER BY seq
                """).all()
            for card in cards {
                try await PaymentMethods.detach(try card.string("id"), caller: call.caller, on: db, services: services)
            }
            try await db.raw("UPDATE customers SET deleted = 1, default_payment_method = NULL WHERE id = \(bind: call.id)").run()
            let deleted: JSONValue = .object(["id": .string(call.id), "object": "customer", "deleted": true])
            try await Events.record("customer.deleted", data: deleted, caller: call.caller, on: db, services: services)
            return deleted
        }
        return APIResponse(deleted)
    }

    enum IdentifyBy: String, CaseIterable { case email, taxId, phone }

    /// POST /customers/upsert: updates the most recent customer matching `identifyBy`, or creates one.
    @Sendable func upsert(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Fields.names.union(["identifyBy"]))
        let identifyBy: IdentifyBy? = reader.choice("identifyBy", required: true)
        let fields = Fields.read(&reader)
        let key: String? = switch identifyBy {
        case .email: fields.email ?? nil
        case .taxId: fields.taxID ?? nil
        case .phone: fields.phone ?? nil
        case nil: nil
        }
        if let identifyBy, key == nil, !reader.issues.contains(where: { $0.path == identifyBy.rawValue }) {
            reader.fail(identifyBy.rawValue, "Required: the customer is identified by this field.")
        }
        try reader.throwIfInvalid()
        let column = switch identifyBy! { case .email: "email"; case .taxId: "tax_id"; case .phone: "phone" }
        let (customer, created) = try await services.database.transaction { db in
            let match = try await db.raw("""
                SELECT id FROM customers WHERE project_id = \(bind: call.caller.projectID) AND livemode = \(bind: call.caller.mode)
                  AND deleted = 0 AND \(unsafeRaw: column) = \(bind: key!) ORDER BY seq DESC LIMIT 1
                """).first()
            if let match {
                return (try await apply(fields, to: try match.string("id"), caller: call.caller, on: db), false)
            }
            guard fields.name != nil else { throw ServiceError.invalid("name", "Required to create a customer: no customer matches.") }
            return (try await insert(fields, caller: call.caller, on: db), true)
        }
        return APIResponse(customer, extra: ["action": .string(created ? "created" : "updated")])
    }

    /// GET /customers/:id/payment_methods[/inactive]
    func paymentMethods(_ call: APICall, status: String) async throws -> APIResponse {
        try await services.database.read { db in
            guard try await Customers.row(call.id, caller: call.caller, on: db) != nil else { throw ServiceError.notFound("customer", call.id) }
            let page = try await ListPage.read(call, table: "payment_methods", on: db)
            let rows = try await page.rows("\(unsafeRaw: PaymentMethods.selectColumns)",
                                           filter: " AND customer_id = \(bind: call.id) AND status = \(bind: status)", on: db)
            return page.response(try rows.map(PaymentMethods.json))
        }
    }

    // MARK: - Rows

}

import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

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

    /// POST /customers
    @Sendable func create(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Customers.Fields.names.union(["test_clock"]))
        let fields = Customers.Fields.read(&reader)
        let testClock = reader.id("test_clock", prefix: .testClock)
        if !reader.has("name") { reader.fail("name", "This field is required.") }
        try reader.throwIfInvalid()
        return APIResponse(try await Customers.create(fields, testClock: testClock, caller: call.caller, services: services))
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
        var reader = call.queryReader
        let email = reader.email("email"), phone = reader.phone("phone"), taxID = reader.string("taxId", maxLength: 32)
        try reader.throwIfInvalid()
        let keys = [email.map(CustomerStore.Key.email), phone.map(CustomerStore.Key.phone), taxID.map(CustomerStore.Key.taxID)].compactMap { $0 }
        return try await ListPage.respond(call, services: services, { db, page in
            try await db.customers.list(caller: call.caller, page, matching: keys)
        }, json: Customers.json)
    }

    /// POST /customers/:id: only the fields sent change.
    @Sendable func update(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Customers.Fields.names)
        let fields = Customers.Fields.read(&reader)
        try reader.throwIfInvalid()
        return APIResponse(try await Customers.update(call.id, fields, caller: call.caller, services: services))
    }

    /// DELETE /customers/:id: soft delete; detaches the customer's cards.
    @Sendable func delete(_ call: APICall) async throws -> APIResponse {
        return APIResponse(try await Customers.delete(call.id, caller: call.caller, services: services))
    }

    /// POST /customers/upsert: updates the most recent customer matching `identifyBy`, or creates one.
    @Sendable func upsert(_ call: APICall) async throws -> APIResponse {
        var reader = call.reader(allowing: Customers.Fields.names.union(["identifyBy"]))
        let identifyBy: Customers.IdentifyBy? = reader.choice("identifyBy", required: true)
        let fields = Customers.Fields.read(&reader)
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
        let (customer, created) = try await Customers.upsert(matching: identifyBy!, key!, fields, caller: call.caller, services: services)
        return APIResponse(customer, extra: ["action": .string(created ? "created" : "updated")])
    }

    /// GET /customers/:id/payment_methods[/inactive]
    func paymentMethods(_ call: APICall, status: String) async throws -> APIResponse {
        try await ListPage.respond(call, services: services, { db, page in
            guard try await db.customers.find(call.id, caller: call.caller) != nil else { throw ServiceError.notFound("customer", call.id) }
            return try await db.paymentMethods.list(ofCustomer: call.id, status: status, caller: call.caller, page)
        }, json: PaymentMethods.json)
    }
}

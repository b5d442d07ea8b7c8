import ChingApp
import ChingDomain
import ChingStore
import HTTPTypes
import SQLKit
import Testing

@Suite("Customers")
struct CustomersTests {
    @Test("Creating a customer stores the phone in E.164 and returns the full object")
    func create() async throws {
        try await TestApp().run { api in
            let result = try await api.post("/customers", ["name": " Tal Levi ", "email": "Tal@Example.com", "phone": "050-1234567",
                                                          "locale": "en", "taxId": "123456782", "metadata": ["crm": "42"]])
            #expect(result.status == 200)
            #expect(result.id.hasPrefix("cus_") && result.id.count == 16)
            #expect(result.data["object"] == "customer")
            #expect(result.data["name"] == "Tal Levi")
            #expect(result.data["email"] == "tal@example.com")
            #expect(result.data["phone"] == "+972501234567")
            #expect(result.data["locale"] == "en")
            #expect(result.data["taxId"] == "123456782")
            #expect(result.data["metadata"] == ["crm": "42"])
            #expect(result.data["livemode"] == false)
            #expect(result.data["created"] == "2026-04-19T09:15:22.000Z")
            #expect(try await api.get("/customers/\(result.id)").data == result.data)
            #expect(try await api.eventTypes() == ["customer.created"])
        }
    }

    @Test("The locale defaults to Hebrew")
    func defaultLocale() async throws {
        try await TestApp().run { api in
            let result = try await api.post("/customers", ["name": "Dana"])
            #expect(result.data["locale"] == "he")
        }
    }

    @Test("Each invalid customer field is refused with INVALID_FIELD at its path", arguments: [
        (JSONValue.object([:]), "name"),
        (["name": ""], "name"),
        (["name": "   "], "name"),
        (["name": .string(String(repeating: "x", count: 256))], "name"),
        (["name": 5], "name"),
        (["name": "A", "email": "not-an-email"], "email"),
        (["name": "A", "email": "a@b"], "email"),
        (["name": "A", "phone": "12345"], "phone"),
        (["name": "A", "phone": "+0501234567"], "phone"),
        (["name": "A", "locale": "fr"], "locale"),
        (["name": "A", "taxId": .string(String(repeating: "1", count: 33))], "taxId"),
        (["name": "A", "metadata": ["n": 1]], "metadata.n"),
        (["name": "A", "metadata": "x"], "metadata"),
        (["name": "A", "nickname": "T"], "nickname"),
    ] as [(JSONValue, String)])
    func invalidFields(body: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let result = try await api.post("/customers", body)
            #expect(result.status == 400)
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
            #expect(try await api.get("/customers").data == [])
        }
    }

    @Test("A second customer with the same email is refused with EMAIL_EXISTS")
    func duplicateEmail() async throws {
        try await TestApp().run { api in
            _ = try await api.customer(email: "tal@example.com")
            let result = try await api.post("/customers", ["name": "Other", "email": "TAL@example.com"])
            #expect(result.status == 409)
            #expect(result.errorCode == "EMAIL_EXISTS")
        }
    }

    @Test("Updating changes only the fields sent, and null clears an optional field")
    func update() async throws {
        try await TestApp().run { api in
            let id = try await api.customer(email: "tal@example.com")
            let renamed = try await api.post("/customers/\(id)", ["name": "Tal Cohen", "phone": "+14155550100"])
            #expect(renamed.data["name"] == "Tal Cohen")
            #expect(renamed.data["email"] == "tal@example.com")
            #expect(renamed.data["phone"] == "+14155550100")
            let cleared = try await api.post("/customers/\(id)", ["email": nil])
            #expect(cleared.data["email"] == .null)
            #expect(cleared.data["name"] == "Tal Cohen")
            let bad = try await api.post("/customers/\(id)", ["name": nil])
            #expect(bad.errorCode == "INVALID_FIELD")
            #expect(bad.issuePaths == ["name"])
            #expect(try await api.eventTypes() == ["customer.created", "customer.updated", "customer.updated"])
        }
    }

    @Test("Lists are newest first and page with limit, starting_after and has_more")
    func listPaging() async throws {
        try await TestApp().run { api in
            var ids: [String] = []
            for index in 0..<5 { ids.append(try await api.customer("Customer \(index)")) }
            let first = try await api.get("/customers?limit=2")
            #expect(first.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[4], ids[3]])
            #expect(first.json["has_more"] == true)
            let rest = try await api.get("/customers?limit=10&starting_after=\(ids[3])")
            #expect(rest.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [ids[2], ids[1], ids[0]])
            #expect(rest.json["has_more"] == false)
            #expect(try await api.get("/customers?limit=0").issuePaths == ["limit"])
            #expect(try await api.get("/customers?limit=101").issuePaths == ["limit"])
            #expect(try await api.get("/customers?starting_after=cus_nothere").issuePaths == ["starting_after"])
        }
    }

    @Test("Deleting a customer detaches its cards and leaves a deleted stub")
    func delete() async throws {
        try await TestApp().run { api in
            let id = try await api.customer(email: "tal@example.com")
            let card = try await api.testCard(customer: id)
            let deleted = try await api.request(.delete, "/customers/\(id)")
            #expect(deleted.status == 200)
            #expect(deleted.data == ["id": .string(id), "object": "customer", "deleted": true])
            #expect(try await api.get("/customers/\(id)").data == ["id": .string(id), "object": "customer", "deleted": true])
            #expect(try await api.get("/customers").data == [])
            #expect(try await api.get("/payment_methods/\(card)").data["status"] == "inactive")
            #expect(try await api.request(.delete, "/customers/\(id)").status == 404)
            // The email is free again.
            #expect(try await api.post("/customers", ["name": "New Tal", "email": "tal@example.com"]).status == 200)
            #expect(try await api.eventTypes().contains("customer.deleted"))
        }
    }

    @Test("A customer with an active subscription cannot be deleted")
    func deleteWithSubscription() async throws {
        let app = TestApp()
        try await app.run { api in
            let id = try await api.customer()
            try await app.withDatabase { database in
                try await database.transaction { db in
                    try await db.raw("""
                        INSERT INTO subscriptions (id, project_id, livemode, customer_id, status, metadata, created)
                        VALUES ('sub_test00000001', \(bind: api.projectID), 0, \(bind: id), 'trialing', '{}', 0)
                        """).run()
                }
            }
            let result = try await api.request(.delete, "/customers/\(id)")
            #expect(result.status == 409)
            #expect(result.errorCode == "CUSTOMER_HAS_ACTIVE_SUBSCRIPTION")
            #expect(try await api.get("/customers/\(id)").data["name"] == "Tal Levi")
        }
    }

    @Test("Upsert creates when nothing matches and updates the most recent match", arguments: [
        ("email", JSONValue.string("tal@example.com")), ("taxId", "123456782"), ("phone", "050-1234567"),
    ])
    func upsert(field: String, value: JSONValue) async throws {
        try await TestApp().run { api in
            let created = try await api.post("/customers/upsert", ["identifyBy": .string(field), .init(stringLiteral: field): value, "name": "Tal"])
            #expect(created.status == 200, "\(created.text)")
            #expect(created.json["action"] == "created")
            let updated = try await api.post("/customers/upsert", ["identifyBy": .string(field), .init(stringLiteral: field): value, "name": "Tal Levi"])
            #expect(updated.json["action"] == "updated")
            #expect(updated.id == created.id)
            #expect(updated.data["name"] == "Tal Levi")
            #expect(try await api.get("/customers").data.arrayValue?.count == 1)
        }
    }

    @Test("Upsert needs identifyBy, its field, and a name to create")
    func upsertValidation() async throws {
        try await TestApp().run { api in
            let cases: [(JSONValue, String)] = [
                (["name": "Tal"], "identifyBy"),
                (["identifyBy": "name", "name": "Tal"], "identifyBy"),
                (["identifyBy": "email", "name": "Tal"], "email"),
                (["identifyBy": "email", "email": "new@example.com"], "name"),
            ]
            for (body, path) in cases {
                let result = try await api.post("/customers/upsert", body)
                #expect(result.status == 400)
                #expect(result.issuePaths == [path], "\(body.serialized())")
            }
        }
    }

    @Test("A customer's card lists split active and detached cards")
    func paymentMethodLists() async throws {
        try await TestApp().run { api in
            let id = try await api.customer()
            let visa = try await api.testCard(customer: id, index: 0)
            let mastercard = try await api.testCard(customer: id, index: 1)
            try await api.post("/payment_methods/\(visa)/detach")
            let active = try await api.get("/customers/\(id)/payment_methods")
            #expect(active.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [mastercard])
            let inactive = try await api.get("/customers/\(id)/payment_methods/inactive")
            #expect(inactive.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [visa])
            #expect(try await api.get("/customers/cus_nothere12345/payment_methods").status == 404)
        }
    }
}

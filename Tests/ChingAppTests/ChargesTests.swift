import ChingApp
import ChingDomain
import ChingStore
import HTTPTypes
import SQLKit
import Testing

@Suite("Charges")
struct ChargesTests {
    @Test("A successful charge is stored with its tax document, events and receipt email")
    func success() async throws {
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer(email: "tal@example.com")
            let card = try await api.testCard(customer: customer)
            let result = try await api.charge(customer: customer, paymentMethod: card, amount: 9900,
                                              extra: ["description": "One-off order #1234", "metadata": ["order": "1234"]])
            #expect(result.status == 200)
            let charge = result.data
            #expect(result.id.hasPrefix("ch_"))
            #expect(charge["status"] == "succeeded")
            #expect(charge["amount"] == 9900)
            #expect(charge["currency"] == "ils")
            #expect(charge["captured"] == true)
            #expect(charge["refunded_amount"] == 0)
            #expect(charge["installments"] == ["count": 1])
            #expect(charge["failure_code"] == .null)
            #expect(charge["metadata"] == ["order": "1234"])
            let documentID = try #require(charge["document"]?.stringValue)
            let document = try await api.get("/documents/\(documentID)")
            #expect(document.data["type"] == "tax_invoice_receipt")
            #expect(document.data["amount"] == 9900)
            #expect(document.data["vat_amount"] == 1510)
            #expect(document.data["charge"] == .string(result.id))
            #expect(try await api.get("/charges/\(result.id)").data == charge)
            #expect(try await api.eventTypes() == ["customer.created", "payment_method.attached", "customer.updated", "document.issued", "charge.succeeded"])
            let emails = try await app.withDatabase { database in
                try await database.read { db in
                    try await db.raw("SELECT kind, to_address FROM email_outbox WHERE project_id = \(bind: api.projectID)").all()
                }
            }
            #expect(emails.count == 1)
            #expect(try emails.first?.decode(column: "to_address", as: String.self) == "tal@example.com")
        }
    }

    @Test("A declined card answers 402 CHARGE_FAILED with the failed charge, which is stored without a document")
    func decline() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.attachCard(number: "4000000000000341", customer: customer)
            let result = try await api.charge(customer: customer, paymentMethod: card, amount: 5000)
            #expect(result.status == 402)
            #expect(result.errorCode == "CHARGE_FAILED")
            let charge = try #require(result.json["error"]?["charge"])
            #expect(charge["status"] == "failed")
            #expect(charge["failure_code"] == "card_declined")
            #expect(charge["captured"] == false)
            #expect(charge["document"] == .null)
            let id = try #require(charge["id"]?.stringValue)
            #expect(try await api.get("/charges/\(id)").data == charge)
            #expect(try await api.get("/documents").data == [])
            #expect(try await api.eventTypes().last == "charge.failed")
        }
    }

    @Test("Each invalid charge field is refused at its path", arguments: [
        (JSONValue.object(["amount": 0]), "amount"),
        (["amount": -5], "amount"),
        (["amount": .number(99.5)], "amount"),
        (["amount": "9900"], "amount"),
        (["amount": 1_000_000_000], "amount"),
        (["amount": nil], "amount"),
        (["currency": "usd"], "currency"),
        (["installments": ["count": 0]], "installments.count"),
        (["installments": ["count": 13]], "installments.count"),
        (["installments": 3], "installments"),
        (["description": .string(String(repeating: "d", count: 501))], "description"),
        (["metadata": ["k": true]], "metadata.k"),
        (["customer": "pm_123456789012"], "customer"),
        (["payment_method": nil], "payment_method"),
        (["capture": true], "capture"),
    ] as [(JSONValue, String)])
    func invalidFields(override: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            var body: JSONObject = ["customer": .string(customer), "payment_method": .string(card), "amount": 9900]
            for (key, value) in override.objectValue!.entries { body[key] = value }
            if override["amount"] == .null { body["amount"] = nil }
            if override["payment_method"] == .null { body["payment_method"] = nil }
            let result = try await api.post("/charges", .object(body))
            #expect(result.status == 400)
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("A card must be the customer's own and still attached")
    func paymentMethodRules() async throws {
        try await TestApp().run { api in
            let tal = try await api.customer("Tal")
            let dana = try await api.customer("Dana")
            let talsCard = try await api.testCard(customer: tal)
            let notOwned = try await api.charge(customer: dana, paymentMethod: talsCard, amount: 100)
            #expect(notOwned.errorCode == "payment_method_not_owned")
            try await api.post("/payment_methods/\(talsCard)/detach")
            let inactive = try await api.charge(customer: tal, paymentMethod: talsCard, amount: 100)
            #expect(inactive.errorCode == "payment_method_inactive")
            let unknown = try await api.charge(customer: tal, paymentMethod: "pm_nothere12345", amount: 100)
            #expect(unknown.status == 404)
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("Installments need a card issued in Israel (every test-card is) and stay within the project's maximum")
    func installments() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            // A Visa 4242 typed on a page is issued abroad; the test-card 4242 is Israeli (API.md's decision).
            let typed = try await api.attachCard(number: "4242424242424242", customer: customer)
            let foreign = try await api.charge(customer: customer, paymentMethod: typed, amount: 30000, extra: ["installments": ["count": 3]])
            #expect(foreign.issuePaths == ["installments.count"])
            for index: Int64 in 0...3 {
                let card = try await api.testCard(customer: customer, index: index)
                let details = try await api.get("/payment_methods/\(card)").data["card"]
                #expect(details?["issuer_country"] == "IL")
                #expect(details?["supports_installments"] == true)
                #expect(details?["supports_recurring"] == true)
                let split = try await api.charge(customer: customer, paymentMethod: card, amount: 30000, extra: ["installments": ["count": 3]])
                #expect(split.status == 200, "card_index \(index): \(split.text)")
                #expect(split.data["installments"] == ["count": 3])
            }
            let israeli = try await api.testCard(customer: customer, index: 3)
            let twelve = try await api.charge(customer: customer, paymentMethod: israeli, amount: 30000, extra: ["installments": ["count": 12]])
            #expect(twelve.data["installments"] == ["count": 12])
        }
    }

    @Test("A project's lower installment maximum is enforced")
    func projectMaximum() async throws {
        let app = TestApp()
        try await app.run { api in
            let project = try await app.createProject(maxInstallments: 6)
            let shop = api.with(key: project.testKey)
            let customer = try await shop.customer()
            let israeli = try await shop.testCard(customer: customer, index: 3)
            let tooMany = try await shop.charge(customer: customer, paymentMethod: israeli, amount: 30000, extra: ["installments": ["count": 7]])
            #expect(tooMany.issuePaths == ["installments.count"])
            let six = try await shop.charge(customer: customer, paymentMethod: israeli, amount: 30000, extra: ["installments": ["count": 6]])
            #expect(six.status == 200)
        }
    }

    @Test("The charge list filters by customer and carries the customer's name")
    func list() async throws {
        try await TestApp().run { api in
            let (tal, _, talsCharge) = try await api.paidCharge()
            _ = try await api.paidCharge(amount: 500)
            let all = try await api.get("/charges")
            #expect(all.data.arrayValue?.count == 2)
            let talsOnly = try await api.get("/charges?customer=\(tal)")
            #expect(talsOnly.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [talsCharge.id])
            #expect(talsOnly.data[0]?["customer_name"] == "Tal Levi")
        }
    }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard let array = arrayValue, array.indices.contains(index) else { return nil }
        return array[index]
    }
}

import ChingApp
import Foundation
import ChingDomain
import HTTPTypes
import Testing

@Suite("Payment methods")
struct PaymentMethodsTests {
    @Test("Each test card index attaches the card the spec names", arguments: [
        // Every test-card is Israeli-issued (API.md's decision), so each offers installments.
        (Int64(0), "visa", "4242", true), (1, "mastercard", "4444", true), (2, "amex", "0005", true), (3, "visa", "0000", true),
    ])
    func testCards(index: Int64, brand: String, last4: String, installments: Bool) async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let result = try await api.post("/payment_methods/test-card", ["customer": .string(customer), "card_index": .int(index)])
            #expect(result.status == 200)
            #expect(result.id.hasPrefix("pm_"))
            #expect(result.data["object"] == "payment_method")
            #expect(result.data["customer"] == .string(customer))
            #expect(result.data["type"] == "card")
            #expect(result.data["status"] == "active")
            #expect(result.data["is_default"] == true)
            #expect(result.data["card"]?["brand"] == .string(brand))
            #expect(result.data["card"]?["last4"] == .string(last4))
            #expect(result.data["card"]?["supports_installments"] == .bool(installments))
            #expect(try await api.get("/customers/\(customer)").data["default_payment_method"] == .string(result.id))
            #expect(try await api.eventTypes() == ["customer.created", "payment_method.attached", "customer.updated"])
        }
    }

    @Test("A test card needs an existing customer of this project and a known card index")
    func testCardValidation() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let missing = try await api.post("/payment_methods/test-card", [:])
            #expect(missing.issuePaths == ["customer"])
            let badIndex = try await api.post("/payment_methods/test-card", ["customer": .string(customer), "card_index": 7])
            #expect(badIndex.issuePaths == ["card_index"])
            let wrongKind = try await api.post("/payment_methods/test-card", ["customer": "pm_123456789012"])
            #expect(wrongKind.issuePaths == ["customer"])
            let unknown = try await api.post("/payment_methods/test-card", ["customer": "cus_nothere12345"])
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "NOT_FOUND")
        }
    }

    @Test("Detaching moves a card to inactive, clears it as default, and cannot be repeated")
    func detach() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            let detached = try await api.post("/payment_methods/\(card)/detach")
            #expect(detached.data["status"] == "inactive")
            #expect(detached.data["is_default"] == false)
            #expect(try await api.get("/customers/\(customer)").data["default_payment_method"] == .null)
            let again = try await api.post("/payment_methods/\(card)/detach")
            #expect(again.errorCode == "payment_method_inactive")
            let setDefault = try await api.post("/payment_methods/\(card)/set_default")
            #expect(setDefault.errorCode == "payment_method_inactive")
            #expect(try await api.eventTypes().suffix(2) == ["payment_method.detached", "customer.updated"])
        }
    }

    @Test("set_default makes another card the customer's default")
    func setDefault() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let first = try await api.testCard(customer: customer, index: 0)
            let second = try await api.testCard(customer: customer, index: 1)
            #expect(try await api.get("/payment_methods/\(second)").data["is_default"] == false)
            let result = try await api.post("/payment_methods/\(second)/set_default")
            #expect(result.data["is_default"] == true)
            #expect(try await api.get("/payment_methods/\(first)").data["is_default"] == false)
            #expect(try await api.get("/customers/\(customer)").data["default_payment_method"] == .string(second))
            #expect(try await api.get("/payment_methods/pm_nothere12345").status == 404)
        }
    }
}

@Suite("Products and prices")
struct CatalogTests {
    @Test("A product keeps its description, image and features, and can be archived")
    func product() async throws {
        try await TestApp().run { api in
            let created = try await api.post("/products", [
                "name": "Pro plan", "description": "Everything", "image_url": "https://cdn.example.com/pro.png",
                "features": [["title": "Unlimited"], ["title": "Support", "subtitle": "24/7"]], "metadata": ["sku": "PRO"],
            ])
            #expect(created.status == 200, "\(created.text)")
            #expect(created.id.hasPrefix("prod_"))
            #expect(created.data["features"] == [["title": "Unlimited", "subtitle": nil], ["title": "Support", "subtitle": "24/7"]])
            #expect(created.data["active"] == true)
            let archived = try await api.post("/products/\(created.id)", ["active": false])
            #expect(archived.data["active"] == false)
            #expect(archived.data["name"] == "Pro plan")
            #expect(try await api.get("/products?active=true").data == [])
            #expect(try await api.get("/products?active=false").data.arrayValue?.count == 1)
            #expect(try await api.get("/products?active=maybe").issuePaths == ["active"])
        }
    }

    @Test("Each invalid product field is refused at its path", arguments: [
        (JSONValue.object([:]), "name"),
        (["name": "P", "image_url": "http://cdn.example.com/a.png"], "image_url"),
        (["name": "P", "image_url": "javascript:alert(1)"], "image_url"),
        (["name": "P", "features": [["subtitle": "no title"]]], "features.0.title"),
        (["name": "P", "features": "x"], "features"),
        (["name": "P", "active": "yes"], "active"),
    ] as [(JSONValue, String)])
    func invalidProduct(body: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let result = try await api.post("/products", body)
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
        }
    }

    @Test("One-time and recurring prices are created, filtered by product, and archived")
    func prices() async throws {
        try await TestApp().run { api in
            let product = try await api.post("/products", ["name": "Pro"]).id
            let other = try await api.post("/products", ["name": "Other"]).id
            let oneTime = try await api.post("/prices", ["product": .string(product), "unit_amount": 9900, "type": "one_time"])
            #expect(oneTime.status == 200, "\(oneTime.text)")
            #expect(oneTime.data["currency"] == "ils")
            #expect(oneTime.data["tax_mode"] == "inclusive")
            #expect(oneTime.data["recurring"] == .null)
            let monthly = try await api.post("/prices", [
                "product": .string(product), "unit_amount": 4900, "type": "recurring", "tax_mode": "exclusive",
                "recurring": ["interval": "month", "trial_period_days": 14],
            ])
            #expect(monthly.data["recurring"] == ["interval": "month", "interval_count": 1, "trial_period_days": 14])
            _ = try await api.post("/prices", ["product": .string(other), "unit_amount": 100, "type": "one_time"])
            let forProduct = try await api.get("/prices?product=\(product)")
            #expect(forProduct.data.arrayValue?.compactMap { $0["id"]?.stringValue } == [monthly.id, oneTime.id])
            let archived = try await api.post("/prices/\(oneTime.id)", ["active": false])
            #expect(archived.data["active"] == false)
            #expect(try await api.get("/prices?product=\(product)&active=true").data.arrayValue?.count == 1)
            #expect(try await api.get("/prices?active=all").data.arrayValue?.count == 3)
            #expect(try await api.post("/prices/\(oneTime.id)", ["unit_amount": 1]).issuePaths == ["unit_amount"])
        }
    }

    @Test("Each invalid price field is refused at its path", arguments: [
        (JSONValue.object(["unit_amount": 100, "type": "one_time"]), "product"),
        (["product": "PRODUCT", "unit_amount": -1, "type": "one_time"], "unit_amount"),
        (["product": "PRODUCT", "unit_amount": .number(1.5), "type": "one_time"], "unit_amount"),
        (["product": "PRODUCT", "unit_amount": "100", "type": "one_time"], "unit_amount"),
        (["product": "PRODUCT", "type": "one_time"], "unit_amount"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "weekly"], "type"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "recurring"], "recurring"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "recurring", "recurring": ["interval": "hour"]], "recurring.interval"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "recurring", "recurring": ["interval": "month", "interval_count": 0]], "recurring.interval_count"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "recurring", "recurring": ["interval": "month", "trial_period_days": -1]], "recurring.trial_period_days"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "one_time", "recurring": ["interval": "month"]], "recurring"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "one_time", "currency": "usd"], "currency"),
        (["product": "PRODUCT", "unit_amount": 100, "type": "one_time", "tax_mode": "none"], "tax_mode"),
    ] as [(JSONValue, String)])
    func invalidPrice(body: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            let product = try await api.post("/products", ["name": "Pro"]).id
            let text = body.serialized().replacingOccurrences(of: "PRODUCT", with: product)
            let result = try await api.request(.post, "/prices", text)
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
            #expect(try await api.get("/prices").data == [])
        }
    }

    @Test("A price for another project's product is not found")
    func priceForUnknownProduct() async throws {
        try await TestApp().run { api in
            let result = try await api.post("/prices", ["product": "prod_nothere1234", "unit_amount": 100, "type": "one_time"])
            #expect(result.status == 404)
        }
    }
}

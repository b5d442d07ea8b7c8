import ChingApp
import ChingDomain
import ChingServices
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Checkout sessions API")
struct CheckoutSessionsTests {
    static let cart: JSONValue = [["name": "Coffee beans", "amount_agorot": 4500, "quantity": 2], ["name": "Welcome discount", "amount_agorot": -1000]]

    @Test("A cart session is created with its url, 30-minute expiry and totals")
    func createCart() async throws {
        try await TestApp().run { api in
            let result = try await api.checkoutSession(["line_items": Self.cart, "metadata": ["order": "1234"], "locale": "en"])
            #expect(result.status == 200, "\(result.text)")
            let session = result.data
            #expect(result.id.hasPrefix("co_") && result.id.count == 27)
            #expect(session["object"] == "checkout_session")
            #expect(session["url"] == .string("https://pay.example.test/checkout/\(result.id)"))
            #expect(session["status"] == "pending")
            #expect(session["kind"] == "cart")
            #expect(session["amount_subtotal"] == 9000)
            #expect(session["amount_discount"] == 1000)
            #expect(session["amount_due_today"] == 8000)
            #expect(session["amount_vat"] == 1220)
            #expect(session["expires_at"] == "2026-04-19T09:45:22.000Z")
            #expect(session["create_document"] == true)
            #expect(session["capture_method"] == "automatic")
            #expect(session["metadata"] == ["order": "1234"])
            #expect(try await api.get("/checkout_sessions/\(result.id)").data == session)
            #expect(try await api.get("/checkout_sessions").data.arrayValue?.count == 1)
        }
    }

    @Test("Each invalid field of a create is refused with INVALID_FIELD at its path", arguments: [
        (JSONValue.object(["line_items": []]), "line_items"),
        (["line_items": .array(Array(repeating: ["name": "x", "amount_agorot": 1], count: 51))], "line_items"),
        (["line_items": [["name": "", "amount_agorot": 100]]], "line_items.0.name"),
        (["line_items": [["name": .string(String(repeating: "n", count: 256)), "amount_agorot": 100]]], "line_items.0.name"),
        (["line_items": [["name": "A", "amount_agorot": 100], ["amount_agorot": 100]]], "line_items.1.name"),
        (["line_items": [["name": "A"]]], "line_items.0.amount_agorot"),
        (["line_items": [["name": "A", "amount_agorot": .number(10.5)]]], "line_items.0.amount_agorot"),
        (["line_items": [["name": "A", "amount_agorot": 100, "quantity": 0]]], "line_items.0.quantity"),
        (["line_items": [["name": "A", "amount_agorot": 100, "quantity": 1001]]], "line_items.0.quantity"),
        (["line_items": [["name": "A", "amount_agorot": 100, "description": .string(String(repeating: "d", count: 501))]]], "line_items.0.description"),
        (["line_items": [["name": "A", "amount_agorot": 100, "image_url": "http://cdn.example.com/a.png"]]], "line_items.0.image_url"),
        (["line_items": [["name": "A", "amount_agorot": 100, "image_url": .string("https://cdn.example.com/" + String(repeating: "a", count: 2030))]]], "line_items.0.image_url"),
        (["line_items": [["name": "A", "amount_agorot": 100, "sku": "X"]]], "line_items.0.sku"),
        (["line_items": "cart"], "line_items"),
        (JSONValue.object([:]), "price"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "javascript:alert(1)"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "data:text/html,hi"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "/thanks"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "cancel_url": "ftp://shop.example.com"], "cancel_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": nil], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "capture_method": "later"], "capture_method"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "locale": "fr"], "locale"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "create_document": "yes"], "create_document"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "price": "prod_123456789012"], "price"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "mode": "payment"], "mode"),
        // null is "not given", so a null cart with no price is neither a cart nor a price (issue 12).
        (["line_items": .null], "price"),
        (["line_items": .null, "price": .null], "price"),
        (["line_items": [["name": "A\u{0}B", "amount_agorot": 100]]], "line_items.0.name"),
        (["line_items": [["name": "\u{0}\u{0}", "amount_agorot": 100]]], "line_items.0.name"),
        (["line_items": [["name": "A", "amount_agorot": 100, "description": "one\u{7}bell"]]], "line_items.0.description"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "https://user:pass@shop.example.com/ok"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "https://shop.example.com:99999/ok"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "https://shop.example.com:-1/ok"], "success_url"),
        (["line_items": [["name": "A", "amount_agorot": 100]], "cancel_url": "https://.../cart"], "cancel_url"),
    ] as [(JSONValue, String)])
    func invalidFields(body: JSONValue, path: String) async throws {
        try await TestApp().run { api in
            var fields = body.objectValue!
            let customer = try await api.customer()
            fields["customer"] = .string(customer)
            if fields["success_url"] == nil { fields["success_url"] = "https://shop.example.com/ok" }
            if fields["success_url"] == .null { fields["success_url"] = nil }
            if fields["cancel_url"] == nil { fields["cancel_url"] = "https://shop.example.com/cart" }
            let result = try await api.post("/checkout_sessions", .object(fields))
            #expect(result.status == 400, "\(result.text)")
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [path])
            #expect(try await api.get("/checkout_sessions").data == [])
        }
    }

    @Test("Business rules of a create answer their own codes", arguments: [
        ("negative cart", "cart_total_invalid"), ("one-time price with items", "mixed_requires_recurring_price"),
        ("manual recurring", "capture_method_not_supported_for_recurring"), ("manual mixed", "capture_method_not_supported_for_mixed"),
        ("archived price", "price_archived"),
    ])
    func rules(name: String, code: String) async throws {
        try await TestApp().run { api in
            let oneTime = try await api.product(price: ["unit_amount": 9900, "type": "one_time"])
            let monthly = try await api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month"]])
            let items: JSONValue = [["name": "Setup", "amount_agorot": 5000]]
            let body: JSONObject = switch name {
            case "negative cart": ["line_items": [["name": "A", "amount_agorot": 100], ["name": "Too much off", "amount_agorot": -101]]]
            case "one-time price with items": ["price": .string(oneTime), "line_items": items]
            case "manual recurring": ["price": .string(monthly), "capture_method": "manual"]
            case "manual mixed": ["price": .string(monthly), "line_items": items, "capture_method": "manual"]
            default: ["price": .string(oneTime)]
            }
            if name == "archived price" { try await api.post("/prices/\(oneTime)", ["active": false]) }
            let result = try await api.checkoutSession(body)
            #expect(result.status == 400)
            #expect(result.errorCode == code)
            #expect(try await api.get("/checkout_sessions").data == [])
        }
    }

    @Test("http redirect URLs are allowed in test mode; another project's customer or price is not found")
    func urlsAndScope() async throws {
        let app = TestApp()
        try await app.run { api in
            let local = try await api.checkoutSession(["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "http://localhost:3000/ok"])
            #expect(local.status == 200)
            let plain = try await api.checkoutSession(["line_items": [["name": "A", "amount_agorot": 100]], "success_url": "http://shop.example.com/ok"])
            #expect(plain.status == 200)
            let other = api.with(key: try await app.createProject(name: "Other").testKey)
            let foreignCustomer = try await other.checkoutSession(["line_items": [["name": "A", "amount_agorot": 100]]], customer: try await api.customer())
            #expect(foreignCustomer.status == 404)
            let price = try await api.product(price: ["unit_amount": 100, "type": "one_time"])
            #expect(try await other.checkoutSession(["price": .string(price)]).status == 404)
            #expect(try await other.get("/checkout_sessions/\(local.id)").status == 404)
            #expect(try await other.post("/checkout_sessions/\(local.id)/expire").status == 404)
        }
    }

    @Test("Expire cancels a pending session once; then it is SESSION_NOT_PENDING and its page is gone")
    func expire() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            let canceled = try await api.post("/checkout_sessions/\(session.id)/expire")
            #expect(canceled.data["status"] == "canceled")
            let again = try await api.post("/checkout_sessions/\(session.id)/expire")
            #expect(again.status == 409)
            #expect(again.errorCode == "SESSION_NOT_PENDING")
            let page = try await api.page("/checkout/\(session.id)")
            #expect(page.status == 410)
        }
    }

    @Test("A session past 30 minutes reads as expired before any sweep, and the sweep fires checkout_session.expired once")
    func expiry() async throws {
        let app = TestApp()
        try await app.run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            app.clock.advance(seconds: 30 * 60)
            #expect(try await api.get("/checkout_sessions/\(session.id)").data["status"] == "expired")
            #expect(try await api.eventTypes().contains("checkout_session.expired") == false)
            #expect(try await app.sweep(api.projectID).expiredSessions == 1)
            #expect(try await app.sweep(api.projectID).expiredSessions == 0)
            let events = try await api.get("/events?type=checkout_session.expired").data.arrayValue ?? []
            #expect(events.count == 1)
            #expect(events.first?["data"]?["id"] == .string(session.id))
            #expect(try await api.post("/checkout_sessions/\(session.id)/expire").errorCode == "SESSION_NOT_PENDING")
        }
    }

    @Test("The public JSON view shows what the page shows, without the merchant's metadata")
    func publicView() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            _ = try await api.testCard(customer: customer)
            let session = try await api.checkoutSession(["line_items": Self.cart, "metadata": ["secret": "x"]], customer: customer)
            let view = try await api.client.execute(uri: "/v1/checkout_sessions/\(session.id)/public", method: .get, headers: [:], body: nil)
            let json = try JSONValue.parse(String(buffer: view.body))
            #expect(view.status == .ok)
            #expect(json["data"]?["amount_due_today"] == 8000)
            #expect(json["data"]?["merchant"]?["name"] == "Test Shop")
            #expect(json["data"]?["saved_cards"]?.arrayValue?.count == 1)
            #expect(json["data"]?["metadata"] == nil)
            #expect(!String(buffer: view.body).contains("secret"))
            let missing = try await api.client.execute(uri: "/v1/checkout_sessions/co_nothere/public", method: .get, headers: [:], body: nil)
            #expect(missing.status == .notFound)
        }
    }

    @Test("Confirm pays as JSON: validation, decline, 3-D Secure and success")
    func confirm() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": Self.cart])
            func confirm(_ body: JSONValue) async throws -> APIResult {
                let response = try await api.client.execute(uri: "/v1/checkout_sessions/\(session.id)/confirm", method: .post,
                                                            headers: [.contentType: "application/json"], body: .init(string: body.serialized()))
                let text = String(buffer: response.body)
                return APIResult(status: Int(response.status.code), json: (try? JSONValue.parse(text)) ?? .null, headers: response.headers, text: text)
            }
            let card = { (number: String) -> JSONValue in ["card": ["number": .string(number), "exp_month": 12, "exp_year": 2030, "cvc": "123"]] }
            let invalid = try await confirm(card("4242424242424241"))
            #expect(invalid.status == 400)
            #expect(invalid.issuePaths == ["card.number"])
            let nothing = try await confirm([:])
            #expect(nothing.issuePaths == ["card"])
            let declined = try await confirm(card("4000000000000002"))
            #expect(declined.status == 402)
            #expect(declined.errorCode == "CHARGE_FAILED")
            #expect(declined.json["error"]?["decline_code"] == "card_declined")
            let challenge = try await confirm(card("4000002760003184"))
            #expect(challenge.data["status"] == "requires_action")
            #expect(challenge.data["next_action"]?["url"]?.stringValue?.hasPrefix("https://pay.example.test/checkout/\(session.id)/3ds/") == true)
            let paid = try await confirm(card("5555555555554444"))
            #expect(paid.status == 200)
            #expect(paid.data["status"] == "succeeded")
            #expect(paid.data["redirect_url"] == .string("https://shop.example.com/thanks?session=\(session.id)"))
            let again = try await confirm(card("5555555555554444"))
            #expect(again.errorCode == "SESSION_NOT_PENDING")
            #expect(try await api.get("/charges?limit=10").data.arrayValue?.filter { $0["status"] == "succeeded" }.count == 1)
        }
    }
}

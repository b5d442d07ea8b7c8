import ChingApp
import ChingDomain
import ChingServices
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

extension API {
    func setupSession(customer: String? = nil, _ extra: JSONObject = JSONObject()) async throws -> APIResult {
        var body: JSONObject = ["success_url": "https://shop.example.com/billing/return?s={SETUP_SESSION_ID}", "cancel_url": "https://shop.example.com/billing"]
        if let customer { body["customer"] = .string(customer) } else { body["customer"] = .string(try await self.customer(email: "tal@example.com")) }
        for (key, value) in extra.entries { body[key] = value }
        return try await post("/setup_sessions", .object(body))
    }

    /// Opens the setup page and submits a card.
    func saveCard(_ sessionID: String, number: String = "4242424242424242", cvc: String = "123", exp: String = "12/30", locale: String = "en") async throws -> Page {
        let page = try await page("/setup/\(sessionID)?locale=\(locale)")
        let csrf = try #require(page.csrf, "no form on the setup page: \(page.status)")
        return try await submit("/setup/\(sessionID)?locale=\(locale)", [("csrf", csrf), ("name", "Tal Levi"), ("number", number), ("exp", exp), ("cvc", cvc)])
    }
}

@Suite("Setup sessions")
struct SetupTests {
    @Test("A setup session is created with its url and a 24-hour expiry, and read back, listed and canceled once")
    func api() async throws {
        try await TestApp().run { api in
            let created = try await api.setupSession(["metadata": ["plan": "pro"]])
            #expect(created.status == 200, "\(created.text)")
            #expect(created.id.hasPrefix("seti_") && created.id.count == 29)
            #expect(created.data["object"] == "setup_session")
            #expect(created.data["status"] == "pending")
            #expect(created.data["url"] == .string("https://pay.example.test/setup/\(created.id)"))
            #expect(created.data["expires_at"] == "2026-04-20T09:15:22.000Z")
            #expect(created.data["payment_method"] == .null)
            #expect(created.data["metadata"] == ["plan": "pro"])
            #expect(try await api.get("/setup_sessions/\(created.id)").data == created.data)
            #expect(try await api.get("/setup_sessions").data.arrayValue?.count == 1)
            let canceled = try await api.post("/setup_sessions/\(created.id)/cancel")
            #expect(canceled.data == ["id": .string(created.id), "status": "canceled"])
            let again = try await api.post("/setup_sessions/\(created.id)/cancel")
            #expect(again.status == 409)
            #expect(again.errorCode == "SESSION_NOT_PENDING")
            #expect(try await api.page("/setup/\(created.id)").status == 410)
        }
    }

    @Test("Each invalid field of a setup session is refused at its path", arguments: [
        ("customer", JSONValue.null), ("customer", "pm_123456789012"), ("success_url", "javascript:alert(1)"), ("success_url", nil),
        ("cancel_url", "/billing"), ("metadata", "x"), ("amount", 100),
    ] as [(String, JSONValue?)])
    func invalid(field: String, value: JSONValue?) async throws {
        try await TestApp().run { api in
            var body: JSONObject = ["customer": .string(try await api.customer()), "success_url": "https://shop.example.com/ok", "cancel_url": "https://shop.example.com/no"]
            body[field] = value
            if value == .null { body[field] = nil }
            let result = try await api.post("/setup_sessions", .object(body))
            #expect(result.errorCode == "INVALID_FIELD")
            #expect(result.issuePaths == [field])
        }
    }

    @Test("Another project's setup session, or a session for another project's customer, is not found")
    func isolation() async throws {
        let app = TestApp()
        try await app.run { api in
            let session = try await api.setupSession()
            let other = api.with(key: try await app.createProject(name: "Other").testKey)
            #expect(try await other.get("/setup_sessions/\(session.id)").status == 404)
            #expect(try await other.post("/setup_sessions/\(session.id)/cancel").status == 404)
            #expect(try await other.setupSession(customer: try await api.customer()).status == 404)
        }
    }

    @Test("The page names the customer, says nothing is charged, and has no amount or installments")
    func page() async throws {
        try await TestApp().run { api in
            let session = try await api.setupSession()
            let page = try await api.page("/setup/\(session.id)?locale=en")
            #expect(page.status == 200)
            #expect(page.contains("Card for Tal Levi"))
            #expect(page.contains("Nothing is charged now."))
            #expect(page.contains(#"autocomplete="cc-number""#))
            #expect(!page.contains("₪"))
            #expect(!page.contains(#"name="installments""#))
            #expect(page.contains(#"href="/setup/\#(session.id)/cancel""#))
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(try await api.page("/setup/\(session.id)").contains(#"<html lang="he" dir="rtl">"#))
        }
    }

    @Test("Saving a card attaches it, completes the session, redirects with the id, and the card then pays and shows at checkout")
    func success() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer(email: "tal@example.com")
            let session = try await api.setupSession(customer: customer)
            let saved = try await api.saveCard(session.id, number: "4580 0000 0000 0000")
            #expect(saved.status == 303)
            #expect(saved.location == "https://shop.example.com/billing/return?s=\(session.id)")
            let done = try await api.get("/setup_sessions/\(session.id)").data
            #expect(done["status"] == "succeeded")
            let paymentMethodID = try #require(done["payment_method"]?.stringValue)
            let card = try await api.get("/payment_methods/\(paymentMethodID)").data
            #expect(card["customer"] == .string(customer))
            #expect(card["status"] == "active")
            #expect(card["card"] == ["brand": "visa", "last4": "0000", "exp_month": 12, "exp_year": 2030, "issuer_country": "IL",
                                     "supports_installments": true, "supports_recurring": true])
            let types = try await api.eventTypes()
            #expect(types.contains("payment_method.attached"))
            #expect(types.last == "setup_session.succeeded")
            let charge = try await api.charge(customer: customer, paymentMethod: paymentMethodID, amount: 12000, extra: ["installments": ["count": 3]])
            #expect(charge.status == 200)
            let checkout = try await api.checkoutSession(["line_items": [["name": "A", "amount_agorot": 100]], "locale": "en"], customer: customer)
            #expect(try await api.page("/checkout/\(checkout.id)").contains("Visa ending in 0000"))
            let revisit = try await api.page("/setup/\(session.id)?locale=en")
            #expect(revisit.status == 200)
            #expect(revisit.contains("Card saved"))
            #expect(!revisit.contains(#"name="number""#))
        }
    }

    @Test("A card that cannot be saved, a bad field, and a failed 3-D Secure leave the session pending; a passed one saves")
    func errors() async throws {
        try await TestApp().run { api in
            let session = try await api.setupSession()
            let declined = try await api.saveCard(session.id, number: "4000000000000002")
            #expect(declined.status == 402)
            #expect(declined.contains("Your card was declined."))
            let invalid = try await api.saveCard(session.id, number: "4242424242424241", cvc: "12")
            #expect(invalid.status == 422)
            #expect(invalid.contains(#"role="alert""#))
            #expect(!invalid.contains("4242424242424241"))
            let challenge = try await api.saveCard(session.id, number: "4000002760003184")
            let path = try #require(challenge.location)
            #expect(path.hasPrefix("/setup/\(session.id)/3ds/"))
            let form = try await api.page(path)
            let failed = try await api.submit(path, [("csrf", form.csrf ?? ""), ("result", "fail")])
            #expect(failed.status == 402)
            #expect(try await api.get("/setup_sessions/\(session.id)").data["status"] == "pending")
            let second = try await api.saveCard(session.id, number: "4000002760003184")
            let passed = try await api.submit(second.location ?? "", [("csrf", form.csrf ?? ""), ("result", "pass")])
            #expect(passed.status == 303)
            #expect(try await api.get("/setup_sessions/\(session.id)").data["status"] == "succeeded")
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("Expired, canceled, unknown sessions and a bad CSRF token get their own pages; the sweeper fires setup_session.expired")
    func states() async throws {
        let app = TestApp()
        try await app.run { api in
            let session = try await api.setupSession()
            let form = try await api.page("/setup/\(session.id)")
            #expect(try await api.submit("/setup/\(session.id)", [("csrf", "forged"), ("number", "4242424242424242")]).status == 403)
            app.clock.advance(seconds: 24 * 3600)
            #expect(try await api.get("/setup_sessions/\(session.id)").data["status"] == "expired")
            let expired = try await api.page("/setup/\(session.id)?locale=en")
            #expect(expired.status == 410)
            #expect(expired.contains("No card was saved."))
            let late = try await api.submit("/setup/\(session.id)", [("csrf", form.csrf ?? ""), ("number", "4242424242424242"), ("exp", "12/30"), ("cvc", "123")])
            #expect(late.status == 410)
            #expect(try await app.sweep(api.projectID).expiredSetupSessions == 1)
            #expect(try await api.get("/events?type=setup_session.expired").data.arrayValue?.count == 1)
            #expect(try await api.page("/setup/seti_nothere").status == 404)
            #expect(try await api.page("/setup/\(session.id)/cancel").location == "https://shop.example.com/billing")
        }
    }

    @Test("Concurrent submits save exactly one card")
    func doubleSubmit() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let session = try await api.setupSession(customer: customer)
            let csrf = try #require(try await api.page("/setup/\(session.id)").csrf)
            let fields = [("csrf", csrf), ("number", "4242424242424242"), ("exp", "12/30"), ("cvc", "123")]
            let pages = try await withThrowingTaskGroup(of: Page.self) { group in
                for _ in 0..<10 { group.addTask { try await api.submit("/setup/\(session.id)", fields) } }
                return try await group.reduce(into: [Page]()) { $0.append($1) }
            }
            #expect(pages.allSatisfy { $0.status == 303 || $0.status == 409 })
            #expect(try await api.get("/customers/\(customer)/payment_methods").data.arrayValue?.count == 1)
            #expect(try await api.get("/events?type=setup_session.succeeded").data.arrayValue?.count == 1)
        }
    }

    @Test("Five failed attempts lock the setup page for 15 minutes")
    func lock() async throws {
        let app = TestApp()
        try await app.run { api in
            let session = try await api.setupSession()
            for _ in 0..<5 { #expect(try await api.saveCard(session.id, number: "4000000000000002").status == 402) }
            #expect(try await api.page("/setup/\(session.id)").status == 429)
            app.clock.advance(seconds: 15 * 60)
            #expect(try await api.saveCard(session.id).status == 303)
        }
    }
}

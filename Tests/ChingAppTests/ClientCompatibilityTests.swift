import ChingApp
import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import Logging
import SQLKit
import Testing

/// What real CHING client programs read and rely on (issue 14), each as the client would see it.
@Suite("CHING clients")
struct ClientCompatibilityTests {
    @Test("GET /customers?email= finds that customer (case-insensitive), and phone and taxId filter the same way")
    func customerFilters() async throws {
        try await TestApp().run { api in
            let dana = try await api.post("/customers", ["name": "Dana", "email": "dana@example.com", "phone": "050-1234567", "taxId": "123456782"]).id
            let noa = try await api.post("/customers", ["name": "Noa", "email": "noa@example.com", "phone": "+972521111111", "taxId": "000000018"]).id
            func ids(_ query: String) async throws -> [String] {
                let result = try await api.get("/customers?\(query)")
                #expect(result.status == 200, "\(result.text)")
                return (result.data.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            }
            // Unfiltered, the newest comes first: a client taking the first row would get Noa.
            #expect(try await ids("") == [noa, dana])
            #expect(try await ids("email=DANA@Example.com") == [dana])
            #expect(try await ids("email=dana%40example.com") == [dana])
            #expect(try await ids("email=nobody@example.com") == [])
            #expect(try await ids("phone=0501234567") == [dana])
            #expect(try await ids("phone=%2B972521111111") == [noa])
            #expect(try await ids("taxId=000000018") == [noa])
            #expect(try await ids("email=noa@example.com&taxId=123456782") == [])
            #expect(try await ids("email=noa@example.com&limit=1") == [noa])
            // A deleted customer is not found again.
            #expect(try await api.request(.delete, "/customers/\(dana)").status == 200)
            #expect(try await ids("email=dana@example.com") == [])

            let badEmail = try await api.get("/customers?email=not-an-email")
            #expect(badEmail.status == 400)
            #expect(badEmail.issuePaths == ["email"])
            #expect(try await api.get("/customers?phone=12").issuePaths == ["phone"])
        }
    }

    @Test("A failed charge carries failure_reason, in the 402 answer, on GET and in charge.failed")
    func failureReason() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.attachCard(number: "4000000000000341", customer: customer)
            let declined = try await api.charge(customer: customer, paymentMethod: card, amount: 5000)
            #expect(declined.status == 402)
            let charge = try #require(declined.json["error"]?["charge"])
            #expect(charge["failure_reason"] == "card_declined")
            #expect(charge["failure_code"] == "card_declined")
            #expect(charge["failure_message"]?.stringValue?.isEmpty == false)
            #expect(try await api.get("/charges/\(charge["id"]?.stringValue ?? "")").data["failure_reason"] == "card_declined")
            let event = try await api.get("/events?type=charge.failed").data[0]
            #expect(event?["data"]?["failure_reason"] == "card_declined")

            let paid = try await api.paidCharge()
            #expect(paid.charge.data["failure_reason"] == .null)
        }
    }

    @Test("Every charge says how it was captured and when, and which card paid")
    func chargeFields() async throws {
        try await TestApp().run { api in
            let automatic = try await api.paidCharge(amount: 7000).charge.data
            #expect(automatic["capture_method"] == "automatic")
            #expect(automatic["amount_captured"] == 7000)
            #expect(automatic["authorized_at"] == "2026-04-19T09:15:22.000Z")
            #expect(automatic["captured_at"] == "2026-04-19T09:15:22.000Z")
            #expect(automatic["card_brand"] == "visa")
            #expect(automatic["card_last4"] == "4242")
            #expect(automatic["wallet_method"] == .null)
            #expect(automatic.objectValue?.keys.contains("wallet_method") == true)

            let session = try await api.checkoutSession(["line_items": [["name": "Cake", "amount_agorot": 20000]], "capture_method": "manual"])
            #expect(try await api.pay(session.id, number: "5555555555554444").status == 303)
            let chargeID = try await api.get("/checkout_sessions/\(session.id)").data["charge"]?.stringValue ?? ""
            let authorized = try await api.get("/charges/\(chargeID)").data
            #expect(authorized["capture_method"] == "manual")
            #expect(authorized["amount_captured"] == 0)
            #expect(authorized["authorized_at"] == "2026-04-19T09:15:22.000Z")
            #expect(authorized["captured_at"] == .null)
            #expect(authorized["card_brand"] == "mastercard")
            #expect(authorized["card_last4"] == "4444")
            api.app.clock.advance(seconds: 3600)
            let captured = try await api.post("/charges/\(chargeID)/capture", ["amount": 15000]).data
            #expect(captured["amount_captured"] == 15000)
            #expect(captured["captured_at"] == "2026-04-19T10:15:22.000Z")
            #expect(captured["authorized_at"] == "2026-04-19T09:15:22.000Z")

            let customer = try await api.customer()
            let card = try await api.attachCard(number: "4000000000000341", customer: customer)
            let failed = try #require(try await api.charge(customer: customer, paymentMethod: card, amount: 100).json["error"]?["charge"])
            #expect(failed["authorized_at"] == .null)
            #expect(failed["captured_at"] == .null)
            #expect(failed["amount_captured"] == 0)
            #expect(failed["card_last4"] == "0341")
        }
    }

    @Test("An unlisted product is sold by id but left out of GET /products unless include_unlisted=true")
    func unlistedProducts() async throws {
        try await TestApp().run { api in
            let listed = try await api.post("/products", ["name": "T-shirt"]).id
            let hidden = try await api.post("/products", ["name": "Staff discount pack", "unlisted": true])
            #expect(hidden.status == 200)
            #expect(hidden.data["unlisted"] == true)
            func ids(_ query: String) async throws -> [String] {
                try await api.get("/products\(query)").data.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            #expect(try await ids("") == [listed])
            #expect(try await ids("?include_unlisted=true") == [hidden.id, listed])
            #expect(try await api.get("/products/\(hidden.id)").data["unlisted"] == true)
            #expect(try await api.get("/products/\(listed)").data["unlisted"] == false)
            #expect(try await api.get("/products?include_unlisted=yes").issuePaths == ["include_unlisted"])
            #expect(try await api.post("/products", ["name": "X", "unlisted": "yes"]).issuePaths == ["unlisted"])

            let price = try await api.post("/prices", ["product": .string(hidden.id), "unit_amount": 2500, "type": "one_time"]).id
            let session = try await api.checkoutSession(["price": .string(price)])
            #expect(session.status == 200, "\(session.text)")
            #expect(try await api.pay(session.id).status == 303)

            // Listed again by an update; other fields are kept.
            let relisted = try await api.post("/products/\(hidden.id)", ["unlisted": false]).data
            #expect(relisted["unlisted"] == false)
            #expect(relisted["name"] == "Staff discount pack")
            #expect(try await ids("") == [hidden.id, listed])
        }
    }

    @Test("GET /auth/me names the project's owner; GET /projects/current lists its keys masked, with last use to the minute")
    func operatorIdentity() async throws {
        let app = TestApp()
        let (ids, clock) = (app.ids, app.clock.clock)
        let owned = try await Database.withMigrated(app.databaseURL, logger: Logger(label: "setup")) { database in
            try await Projects.create(name: "Owned Shop", owner: Projects.Owner(email: "owner@shop.example", firstName: "Dana", lastName: "Levi"),
                                      database: database, ids: ids, clock: clock)
        }
        try await app.run { api in
            let anonymous = try await api.get("/auth/me")
            #expect(anonymous.status == 200)
            #expect(anonymous.data == ["id": .string(api.projectID), "email": nil, "firstName": nil, "lastName": nil])
            let owner = api.with(key: owned.testKey)
            #expect(try await owner.request(.get, "/auth/me", prefix: "/ching/v1").data
                    == ["id": .string(owned.projectID), "email": "owner@shop.example", "firstName": "Dana", "lastName": "Levi"])
            #expect(try await api.with(key: "ck_test_" + String(repeating: "0", count: 64)).get("/auth/me").status == 401)

            let liveKey = try await app.withDatabase { database in
                try await Projects.createLiveKey(projectID: owned.projectID, database: database, ids: ids, clock: clock)
            }
            app.clock.advance(seconds: 30)
            let project = try await owner.get("/projects/current")
            #expect(project.status == 200)
            #expect(project.data["id"] == .string(owned.projectID))
            #expect(project.data["name"] == "Owned Shop")
            let keys = try #require(project.data["apiKeys"]?.arrayValue)
            #expect(keys.count == 2)
            let test = keys[0], live = keys[1]
            #expect(test["id"]?.stringValue?.hasPrefix("key_") == true)
            #expect(test["name"] == "Test key")
            #expect(test["livemode"] == false)
            #expect(test["active"] == true)
            #expect(test["key"] == .string("ck_test_…" + owned.testKey.suffix(4)))
            #expect(test["createdAt"] == "2026-04-19T09:15:22.000Z")
            // Noted at the first use (/auth/me above), and not again within the minute.
            #expect(test["lastUsed"] == "2026-04-19T09:15:22.000Z")
            #expect(live["name"] == "Live key")
            #expect(live["livemode"] == true)
            #expect(live["key"] == .string("ck_live_…" + liveKey.suffix(4)))
            #expect(live["lastUsed"] == .null)
            // The keys themselves appear nowhere in the answer.
            #expect(!project.text.contains(owned.testKey) && !project.text.contains(liveKey))
            #expect(!project.text.contains(String(owned.testKey.dropFirst(8).prefix(16))))

            app.clock.advance(seconds: 31)
            _ = try await owner.get("/auth/me")
            let later = try await owner.get("/projects/current").data["apiKeys"]?[0]
            #expect(later?["lastUsed"] == "2026-04-19T09:16:23.000Z")
        }
    }

    @Test("The first start's demo: a cart with a discount line on the example brand, and a setup page, both open")
    func demoSessions() async throws {
        let app = TestApp()
        let created = try await app.createProject(name: "Demo")
        let configuration = app.configuration
        let links = try await app.withDatabase { database in
            try await Demo.createSessions(projectID: created.projectID, configuration: configuration, database: database)
        }
        #expect(links.checkoutURL.hasPrefix("https://pay.example.test/checkout/co_"))
        #expect(links.setupURL.hasPrefix("https://pay.example.test/setup/seti_"))
        try await app.run { api in
            let checkout = try await api.page(String(links.checkoutURL.dropFirst("https://pay.example.test".count)))
            #expect(checkout.status == 200)
            #expect(checkout.contains("Welcome discount"))
            #expect(checkout.contains("Coffee beans, 1 kg"))
            #expect(checkout.contains("203.00 ₪"))
            let setup = try await api.page(String(links.setupURL.dropFirst("https://pay.example.test".count)))
            #expect(setup.status == 200)
            #expect(setup.csrf != nil)
        }
    }
}

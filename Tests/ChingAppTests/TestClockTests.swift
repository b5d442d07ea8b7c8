import ChingApp
import ChingDomain
import ChingProviders
import ChingServices
import ChingStore
import Foundation
import HTTPTypes
import SQLKit
import Testing

extension API {
    /// Waits for a test clock's advance, which runs in the background, to finish. This polls for
    /// completion of work already started; no outcome depends on how long it takes.
    func waitUntilReady(_ clock: String) async throws -> JSONValue {
        for _ in 0..<5_000 {
            let state = try await get("/test_helpers/test_clocks/\(clock)").data
            if state["status"] == "ready" { return state }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw TestFailure("the clock \(clock) never became ready")
    }
}

@Suite("Test clocks")
struct TestClockTests {
    @Test("A customer on a test clock: a year of monthly renewals in one advance, every step at its own time; the server's clock leaves them alone")
    func yearInOneAdvance() async throws {
        let app = TestApp()
        try await app.run { api in
            let clock = try await api.post("/test_helpers/test_clocks", ["frozen_time": "2027-01-31T09:15:22Z", "name": "A year"])
            #expect(clock.status == 200, "\(clock.text)")
            #expect(clock.id.hasPrefix("clock_"))
            #expect(clock.data["status"] == "ready")
            #expect(clock.data["frozen_time"] == "2027-01-31T09:15:22.000Z")
            #expect(clock.data["livemode"] == false)

            let customer = try await api.post("/customers", ["name": "Dana", "email": "dana@example.com", "test_clock": .string(clock.id)])
            #expect(customer.data["test_clock"] == .string(clock.id))
            #expect(customer.data["created"] == "2027-01-31T09:15:22.000Z")
            let card = try await api.testCard(customer: customer.id)
            let price = try await api.monthlyPrice()
            let subscription = try await api.post("/subscriptions", ["customer": .string(customer.id), "price": .string(price), "payment_method": .string(card)])
            #expect(subscription.data["current_period_end"] == "2027-02-28T09:15:22.000Z")

            // The server's own sweeper never moves a test clock's customer.
            app.clock.advance(seconds: 700 * 86_400)
            #expect(try await app.sweep(api.projectID).renewals == 0)

            let advancing = try await api.post("/test_helpers/test_clocks/\(clock.id)/advance", ["frozen_time": "2028-02-01T00:00:00Z"])
            #expect(advancing.status == 200, "\(advancing.text)")
            #expect(advancing.data["status"] == "advancing")
            let ready = try await api.waitUntilReady(clock.id)
            #expect(ready["frozen_time"] == "2028-02-01T00:00:00.000Z")

            let renewed = try await api.get("/subscriptions/\(subscription.id)").data
            #expect(renewed["current_period_start"] == "2028-01-31T09:15:22.000Z")
            #expect(renewed["current_period_end"] == "2028-02-29T09:15:22.000Z")
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.count == 13)
            #expect(charges.first?["created"] == "2028-01-31T09:15:22.000Z")
            #expect(charges.last?["created"] == "2027-01-31T09:15:22.000Z")
            #expect(try await api.lastEvent("subscription.updated")?["created"] == "2028-01-31T09:15:22.000Z")
            #expect(try await api.get("/documents").data.arrayValue?.first?["issued_at"] == "2028-01-31T09:15:22.000Z")
        }
    }

    @Test("Advancing walks dunning too: a declined renewal is retried on its days, and cancels after the last")
    func dunningOnAClock() async throws {
        let provider = ScriptedProvider()
        let app = ProviderCallsTests.app(provider)
        try await app.run { api in
            let clock = try await api.post("/test_helpers/test_clocks", ["frozen_time": 1_800_000_000]).id
            let customer = try await api.post("/customers", ["name": "Dana", "test_clock": .string(clock)]).id
            let card = try await api.testCard(customer: customer)
            let subscription = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(try await api.monthlyPrice()),
                                                                     "payment_method": .string(card)]).id
            provider.script(.declined(.cardDeclined), .declined(.cardDeclined), .declined(.cardDeclined), .declined(.cardDeclined))
            _ = try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2027-03-02T00:00:00Z"])
            _ = try await api.waitUntilReady(clock)
            let ended = try await api.get("/subscriptions/\(subscription)").data
            #expect(ended["status"] == "canceled")
            #expect(ended["canceled_at"] == "2027-03-01T08:00:00.000Z")
            let failed = (try await api.get("/charges").data.arrayValue ?? []).filter { $0["status"] == "failed" }
            // The first failure at the period end (1,800,000,000 s is 2027-01-15T08:00:00Z), then 3, 7 and 14 days later.
            #expect(failed.reversed().map { $0["created"]?.stringValue ?? "" } == [
                "2027-02-15T08:00:00.000Z", "2027-02-18T08:00:00.000Z", "2027-02-22T08:00:00.000Z", "2027-03-01T08:00:00.000Z",
            ])
        }
    }

    @Test("Test clocks refuse a live key, a time that is not later, bad fields and unknown ids; deleting one cancels its subscriptions")
    func refusalsAndDelete() async throws {
        let app = TestApp()
        try await app.run { api in
            let liveKey = try await app.withDatabase { database in
                try await Projects.createLiveKey(projectID: api.projectID, database: database, ids: .random, clock: app.clock.clock)
            }
            try await app.withDatabase { database in try await Projects.configureLiveProvider("sandbox", projectID: api.projectID, database: database) }
            let live = try await api.with(key: liveKey).post("/test_helpers/test_clocks", ["frozen_time": "2027-01-31T09:15:22Z"])
            #expect(live.status == 403)
            #expect(live.errorCode == "livemode_not_allowed")

            #expect(try await api.post("/test_helpers/test_clocks", ["frozen_time": "tomorrow"]).issuePaths == ["frozen_time"])
            #expect(try await api.post("/test_helpers/test_clocks", [:]).issuePaths == ["frozen_time"])
            let clock = try await api.post("/test_helpers/test_clocks", ["frozen_time": "2027-01-31T09:15:22Z"]).id
            #expect(try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2027-01-31T09:15:22Z"]).issuePaths == ["frozen_time"])
            #expect(try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2029-02-01T00:00:00Z"]).issuePaths == ["frozen_time"],
                    "more than two years at once")
            #expect(try await api.post("/test_helpers/test_clocks/clock_nothere12345/advance", ["frozen_time": "2028-01-01T00:00:00Z"]).status == 404)
            #expect(try await api.post("/customers", ["name": "Noa", "test_clock": "clock_nothere12345"]).status == 404)
            #expect(try await api.post("/customers", ["name": "Noa", "test_clock": "cus_wrongprefix1"]).issuePaths == ["test_clock"])

            let customer = try await api.post("/customers", ["name": "Dana", "test_clock": .string(clock)]).id
            let card = try await api.testCard(customer: customer)
            let subscription = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(try await api.monthlyPrice()),
                                                                     "payment_method": .string(card)]).id
            #expect(try await api.get("/test_helpers/test_clocks").data.arrayValue?.count == 1)
            let deleted = try await api.request(.delete, "/test_helpers/test_clocks/\(clock)")
            #expect(deleted.data == ["id": .string(clock), "object": "test_clock", "deleted": true])
            let canceled = try await api.get("/subscriptions/\(subscription)").data
            #expect(canceled["status"] == "canceled")
            #expect(canceled["canceled_at"] == "2027-01-31T09:15:22.000Z")
            #expect(try await api.get("/test_helpers/test_clocks/\(clock)").status == 404)
            #expect(try await api.get("/test_helpers/test_clocks").data == [])
            // Nothing moves a deleted clock's customers any more, so nothing new starts for them.
            let again = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(try await api.monthlyPrice()),
                                                              "payment_method": .string(card)])
            #expect(again.status == 409)
            #expect(again.errorCode == "test_clock_deleted")
        }
    }

    @Test("An advance cut off by a stopped server does not stick: after ten minutes the clock can be advanced again and the walk resumes")
    func cutOffAdvance() async throws {
        let app = TestApp()
        try await app.run { api in
            let clock = try await api.post("/test_helpers/test_clocks", ["frozen_time": "2027-01-31T09:15:22Z"]).id
            let customer = try await api.post("/customers", ["name": "Dana", "test_clock": .string(clock)]).id
            let card = try await api.testCard(customer: customer)
            let subscription = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(try await api.monthlyPrice()),
                                                                     "payment_method": .string(card)]).id
            // As a server that died mid-walk leaves it: advancing, started now (real time).
            let now = app.clock.time.milliseconds
            try await app.withDatabase { database in
                try await database.transaction { db in
                    try await db.raw("UPDATE test_clocks SET status = 'advancing', advance_started_at = \(bind: now) WHERE id = \(bind: clock)").run()
                }
            }
            let busy = try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2027-03-01T00:00:00Z"])
            #expect(busy.status == 409)
            #expect(busy.errorCode == "test_clock_advancing")
            #expect(try await api.request(.delete, "/test_helpers/test_clocks/\(clock)").errorCode == "test_clock_advancing")
            app.clock.advance(seconds: TestClocks.abandonedAdvanceSeconds)
            #expect(try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2027-03-01T00:00:00Z"]).status == 200)
            _ = try await api.waitUntilReady(clock)
            #expect(try await api.get("/subscriptions/\(subscription)").data["current_period_end"] == "2027-03-31T09:15:22.000Z")
        }
    }

    @Test("A customer on a test clock who buys a plan on the hosted checkout gets it on the clock's time, and the clock renews it")
    func checkoutOnAClock() async throws {
        try await TestApp().run { api in
            let clock = try await api.post("/test_helpers/test_clocks", ["frozen_time": "2027-01-31T09:15:22Z"]).id
            let customer = try await api.post("/customers", ["name": "Dana", "test_clock": .string(clock)]).id
            let price = try await api.monthlyPrice()
            let session = try await api.checkoutSession(["price": .string(price), "locale": "en"], customer: customer)
            #expect(try await api.page("/checkout/\(session.id)").contains("then ₪49.00 every month from 28 February 2027"))
            #expect(try await api.pay(session.id).status == 303)
            let completed = try await api.get("/checkout_sessions/\(session.id)").data
            let subscription = try #require(completed["subscription"]?.stringValue)
            let started = try await api.get("/subscriptions/\(subscription)").data
            #expect(started["created"] == "2027-01-31T09:15:22.000Z")
            #expect(started["current_period_end"] == "2027-02-28T09:15:22.000Z")
            #expect(try await api.get("/charges/\(completed["charge"]?.stringValue ?? "")").data["created"] == "2027-01-31T09:15:22.000Z")
            _ = try await api.post("/test_helpers/test_clocks/\(clock)/advance", ["frozen_time": "2027-03-01T00:00:00Z"])
            _ = try await api.waitUntilReady(clock)
            #expect(try await api.get("/subscriptions/\(subscription)").data["current_period_end"] == "2027-03-31T09:15:22.000Z")
        }
    }
}

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
    /// A customer (with an email) subscribed through `POST /subscriptions` to `price`, paying with a test card.
    func subscribe(to price: String, email: String? = "dana@example.com") async throws -> (subscription: String, customer: String) {
        let customer = try await customer("Dana", email: email)
        let card = try await testCard(customer: customer)
        let created = try await post("/subscriptions", ["customer": .string(customer), "price": .string(price), "payment_method": .string(card)])
        #expect(created.status == 200, "\(created.text)")
        return (created.id, customer)
    }

    func monthlyPrice(_ amount: Int64 = 4900, trialDays: Int64 = 0) async throws -> String {
        try await product(price: ["unit_amount": .int(amount), "type": "recurring",
                                  "recurring": ["interval": "month", "trial_period_days": .int(trialDays)]])
    }
}

extension TestApp {
    /// Moves the clock to the subscription's period end (which falls on a whole hour from the start).
    func moveToPeriodEnd(_ subscription: String, api: API) async throws {
        let end = try #require(try await api.get("/subscriptions/\(subscription)").data["current_period_end"]?.stringValue)
        while clock.time.iso8601 < end { clock.advance(seconds: 3600) }
    }

    /// Moves the clock to the subscription's period end and runs one sweep there.
    func sweepAtPeriodEnd(_ subscription: String, api: API) async throws -> Sweeper.Report {
        try await moveToPeriodEnd(subscription, api: api)
        return try await sweep(api.projectID)
    }
}

@Suite("Subscriptions: renewals and dunning")
struct SubscriptionRenewalTests {
    @Test("A year of monthly renewals from 31 January: every period from the anchor (28 Feb, 31 Mar, ... 29 Feb), one charge and document each")
    func yearFromThe31st() async throws {
        let app = TestApp()
        try await app.run { api in
            app.clock.advance(seconds: 287 * 86_400)
            #expect(app.clock.time.iso8601 == "2027-01-31T09:15:22.000Z")
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice())
            let start = try await api.get("/subscriptions/\(subscription)").data
            #expect(start["billing_cycle_anchor"] == "2027-01-31T09:15:22.000Z")
            #expect(start["current_period_end"] == "2027-02-28T09:15:22.000Z")
            var ends: [String] = []
            for _ in 0..<12 {
                #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
                #expect(try await app.sweep(api.projectID).renewals == 0, "a renewed period is not charged again")
                ends.append(try await api.get("/subscriptions/\(subscription)").data["current_period_end"]?.stringValue ?? "")
            }
            #expect(ends.map { String($0.prefix(10)) } == [
                "2027-03-31", "2027-04-30", "2027-05-31", "2027-06-30", "2027-07-31", "2027-08-31",
                "2027-09-30", "2027-10-31", "2027-11-30", "2027-12-31", "2028-01-31", "2028-02-29",
            ])
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.count == 13)
            #expect(charges.allSatisfy { $0["status"] == "succeeded" && $0["amount"] == 4900 && $0["subscription"] == .string(subscription) })
            #expect(try await api.get("/documents").data.arrayValue?.count == 13)
            let renewed = try await api.get("/subscriptions/\(subscription)").data
            #expect(renewed["status"] == "active")
            #expect(renewed["current_period_start"] == "2028-01-31T09:15:22.000Z")
            #expect(renewed["latest_charge"] == charges.first?["id"])
            let update = try await api.lastEvent("subscription.updated")
            #expect(update?["previous_attributes"]?["current_period_end"] == "2028-01-31T09:15:22.000Z")
            // Every receipt is waiting in the email outbox.
            let projectID = api.projectID
            let receipts = try await app.withDatabase { database in
                try await database.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM email_outbox WHERE kind = 'receipt' AND project_id = \(bind: projectID)").first()?.int("n")
                }
            }
            #expect(receipts == 13)
        }
    }

    @Test("A trial sends trial_will_end 3 days before it ends (at once when shorter), and ends with the first charge")
    func trialEnds() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice(trialDays: 14))
            #expect(try await app.sweep(api.projectID).trialNotices == 0)
            app.clock.advance(seconds: 11 * 86_400 - 60)
            #expect(try await app.sweep(api.projectID).trialNotices == 0)
            app.clock.advance(seconds: 60)
            #expect(try await app.sweep(api.projectID).trialNotices == 1)
            #expect(try await app.sweep(api.projectID).trialNotices == 0)
            #expect(try await api.lastEvent("subscription.trial_will_end")?["data"]?["id"] == .string(subscription))
            #expect(try await api.get("/charges").data == [])

            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            let active = try await api.get("/subscriptions/\(subscription)").data
            #expect(active["status"] == "active")
            #expect(active["current_period_start"] == "2026-05-03T09:15:22.000Z")
            #expect(active["current_period_end"] == "2026-06-03T09:15:22.000Z")
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"]?["status"] == "trialing")

            let (short, _) = try await api.subscribe(to: try await api.monthlyPrice(trialDays: 2), email: "noa@example.com")
            #expect(try await app.sweep(api.projectID).trialNotices == 1)
            #expect(try await api.lastEvent("subscription.trial_will_end")?["data"]?["id"] == .string(short))
        }
    }

    @Test("A declined renewal goes past_due, is retried 3, 7 and 14 days after the first failure, then cancels")
    func dunningToCanceled() async throws {
        let provider = ScriptedProvider()
        let app = ProviderCallsTests.app(provider)
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice())
            provider.script(.declined(.insufficientFunds), .declined(.insufficientFunds), .declined(.insufficientFunds), .declined(.cardDeclined))
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            var state = try await api.get("/subscriptions/\(subscription)").data
            #expect(state["status"] == "past_due")
            #expect(state["current_period_end"] == "2026-05-19T09:15:22.000Z", "an unpaid period does not start")
            #expect(try await api.eventTypes().suffix(3) == ["charge.failed", "subscription.past_due", "subscription.updated"])

            for (days, expected) in [(Int64(3), "past_due"), (7, "past_due"), (14, "canceled")] {
                // The day before the retry nothing happens; on the day it is tried.
                app.clock.set(Timestamp(milliseconds: 1_779_182_122_000).adding(days: days - 1))
                #expect(try await app.sweep(api.projectID).renewals == 0, "day \(days - 1)")
                app.clock.set(Timestamp(milliseconds: 1_779_182_122_000).adding(days: days))
                #expect(try await app.sweep(api.projectID).renewals == 1, "day \(days)")
                state = try await api.get("/subscriptions/\(subscription)").data
                #expect(state["status"] == .string(expected))
            }
            #expect(state["canceled_at"] == "2026-06-02T09:15:22.000Z")
            #expect(try await api.eventTypes().last == "subscription.canceled")
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.map { $0["status"]?.stringValue ?? "" } == ["failed", "failed", "failed", "failed", "succeeded"])
            #expect(try await api.get("/events?type=subscription.past_due").data.arrayValue?.count == 1)
            let projectID = api.projectID
            let notices = try await app.withDatabase { database in
                try await database.read { db in
                    try await db.raw("SELECT COUNT(*) AS n FROM email_outbox WHERE kind = 'payment_failed' AND project_id = \(bind: projectID)").first()?.int("n")
                }
            }
            #expect(notices == 4)
            app.clock.advance(seconds: 60 * 86_400)
            #expect(try await app.sweep(api.projectID).renewals == 0)
        }
    }

    @Test("A retry charges the customer's current default card: a replaced card recovers the subscription")
    func recoveryWithNewCard() async throws {
        let provider = ScriptedProvider()
        let app = ProviderCallsTests.app(provider)
        try await app.run { api in
            let (subscription, customer) = try await api.subscribe(to: try await api.monthlyPrice())
            provider.script(.declined(.expiredCard))
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            let replacement = try await api.testCard(customer: customer, index: 1)
            #expect(try await api.post("/payment_methods/\(replacement)/set_default").status == 200)
            app.clock.advance(seconds: 3 * 86_400)
            #expect(try await app.sweep(api.projectID).renewals == 1)
            let recovered = try await api.get("/subscriptions/\(subscription)").data
            #expect(recovered["status"] == "active")
            #expect(recovered["current_period_start"] == "2026-05-19T09:15:22.000Z")
            #expect(recovered["current_period_end"] == "2026-06-19T09:15:22.000Z")
            // The first card (scr_tok_1) paid the first period and was declined at renewal; the retry charged the new default (scr_tok_4).
            #expect(provider.charges == [.charge(token: "scr_tok_1", amount: 4900), .charge(token: "scr_tok_1", amount: 4900),
                                         .charge(token: "scr_tok_4", amount: 4900)])
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"]?["status"] == "past_due")
            // The next renewal is on the anchor's day, a month after the period that was paid late.
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            #expect(try await api.get("/subscriptions/\(subscription)").data["current_period_end"] == "2026-07-19T09:15:22.000Z")
        }
    }

    @Test("A renewal whose server stalls after the provider answered is taken over with the same idempotency key and recorded once")
    func takeoverAfterStall() async throws {
        let provider = ScriptedProvider()
        let app = ProviderCallsTests.app(provider)
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice())
            try await app.moveToPeriodEnd(subscription, api: api)
            // While the first worker waits for the provider, its lease runs out and a second worker renews.
            provider.whileCharging {
                app.clock.advance(seconds: Renewals.leaseSeconds + 1)
                let takeover = try await app.sweep(api.projectID)
                #expect(takeover.renewals == 1)
            }
            #expect(try await app.sweep(api.projectID).renewals == 0, "the stalled worker records nothing")
            let keys = provider.chargeKeys
            #expect(keys.count == 3)
            #expect(keys[1] == "renewal:\(subscription):1:0")
            #expect(keys[1] == keys[2], "both asked with the same key, so a real provider charges once")
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.count == 2)
            #expect(try await api.get("/events?type=subscription.updated").data.arrayValue?.count == 1)
        }
    }

    @Test("Two workers renewing the same due subscriptions at once: exactly one charge per subscription and period")
    func twoWorkers() async throws {
        let app = TestApp()
        try await app.run { api in
            let price = try await api.monthlyPrice()
            var subscriptions: [String] = []
            for i in 0..<8 { subscriptions.append(try await api.subscribe(to: price, email: "c\(i)@example.com").subscription) }
            app.clock.advance(seconds: 31 * 86_400)
            async let first = app.sweep(api.projectID)
            async let second = app.sweep(api.projectID)
            let (a, b) = try await (first, second)
            #expect(a.renewals + b.renewals == 8)
            let charges = try await api.get("/charges").data.arrayValue ?? []
            #expect(charges.count == 16)
            for subscription in subscriptions {
                #expect(charges.filter { $0["subscription"] == .string(subscription) }.count == 2)
                #expect(try await api.get("/subscriptions/\(subscription)").data["current_period_end"] == "2026-06-19T09:15:22.000Z")
            }
        }
    }

    @Test("A scheduled downgrade takes effect at the renewal: the new period is charged at the lower price")
    func downgradeAtRenewal() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice())
            let lite = try await api.monthlyPrice(1900)
            #expect(try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(lite)]).data["applied"] == false)
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            let renewed = try await api.get("/subscriptions/\(subscription)").data
            #expect(renewed["items"]?[0]?["price"] == .string(lite))
            #expect(renewed["pending_price"] == .null)
            #expect(renewed["pending_effective_at"] == .null)
            #expect(try await api.get("/charges").data[0]?["amount"] == 1900)
            let previous = try await api.lastEvent("subscription.updated")?["previous_attributes"]
            #expect(previous?["pending_price"] == .string(lite))
        }
    }

    @Test("A change asked for while a renewal is charging waits (409 subscription_renewing) instead of being overwritten by it")
    func changeDuringRenewal() async throws {
        let provider = ScriptedProvider()
        let app = ProviderCallsTests.app(provider)
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice())
            try await app.moveToPeriodEnd(subscription, api: api)
            provider.whileCharging {
                let cancel = try await api.post("/subscriptions/\(subscription)/cancel")
                #expect(cancel.status == 409)
                #expect(cancel.errorCode == "subscription_renewing")
                let atEnd = try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": true])
                #expect(atEnd.errorCode == "subscription_renewing")
            }
            #expect(try await app.sweep(api.projectID).renewals == 1)
            let renewed = try await api.get("/subscriptions/\(subscription)").data
            #expect(renewed["status"] == "active")
            #expect(renewed["cancel_at_period_end"] == false)
            // Once the renewal is recorded, the change goes through.
            #expect(try await api.post("/subscriptions/\(subscription)/cancel").data["status"] == "canceled")
        }
    }

    @Test("A free plan renews without a charge, and its latest_charge stays the last real one")
    func freePlanRenewal() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _) = try await api.subscribe(to: try await api.monthlyPrice(0))
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            let renewed = try await api.get("/subscriptions/\(subscription)").data
            #expect(renewed["current_period_end"] == "2026-06-19T09:15:22.000Z")
            #expect(renewed["latest_charge"] == .null)
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("A pending session for another interval does not stop the sweeper once the customer has a plan; a paid session keeps its amounts")
    func sweeperSurvivesOddSessions() async throws {
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer()
            let yearly = try await api.product(price: ["unit_amount": 49000, "type": "recurring", "recurring": ["interval": "year"]])
            let waiting = try await api.checkoutSession(["price": .string(yearly)], customer: customer)
            #expect(waiting.status == 200)
            let monthly = try await api.checkoutSession(["price": .string(try await api.monthlyPrice())], customer: customer)
            #expect(try await api.pay(monthly.id).status == 303)
            #expect(try await api.get("/checkout_sessions/\(monthly.id)").data["amount_due_today"] == 4900)
            #expect(try await api.get("/checkout_sessions/\(waiting.id)").status == 200)
            #expect(try await api.get("/checkout_sessions").status == 200)
            app.clock.advance(seconds: 31 * 60)
            #expect(try await app.sweep(api.projectID).expiredSessions == 1)
        }
    }

    @Test("A plan sold with create_document: false renews without documents")
    func renewalWithoutDocuments() async throws {
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer()
            let session = try await api.checkoutSession(["price": .string(try await api.monthlyPrice()), "create_document": false], customer: customer)
            #expect(try await api.pay(session.id).status == 303)
            let subscription = try await api.get("/checkout_sessions/\(session.id)").data["subscription"]?.stringValue ?? ""
            #expect(try await app.sweepAtPeriodEnd(subscription, api: api).renewals == 1)
            #expect(try await api.get("/charges").data.arrayValue?.count == 2)
            #expect(try await api.get("/documents").data == [])
        }
    }
}

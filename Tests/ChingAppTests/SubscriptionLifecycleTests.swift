import ChingApp
import ChingDomain
import ChingServices
import Foundation
import HTTPTypes
import Testing

extension API {
    /// A customer who bought the monthly ₪49 plan on the hosted checkout (at 2026-04-19T09:15:22Z,
    /// so the period ends 2026-05-19T09:15:22Z): the subscription, customer and price ids.
    func subscribed() async throws -> (subscription: String, customer: String, price: String) {
        let price = try await product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month"]])
        let customer = try await customer()
        let session = try await checkoutSession(["price": .string(price)], customer: customer)
        #expect(try await pay(session.id).status == 303)
        let subscription = try await get("/checkout_sessions/\(session.id)").data["subscription"]?.stringValue ?? ""
        return (subscription, customer, price)
    }

    /// The newest event of `type`, as `GET /events` lists it.
    func lastEvent(_ type: String) async throws -> JSONValue? {
        try await get("/events?type=\(type)&limit=1").data[0]
    }
}

@Suite("Subscriptions: cancel, resume, change")
struct SubscriptionLifecycleTests {
    @Test("Cancel now: canceled at once with subscription.canceled; a second cancel is refused; the customer can then be deleted")
    func cancelNow() async throws {
        try await TestApp().run { api in
            let (subscription, customer, _) = try await api.subscribed()
            #expect(try await api.request(.delete, "/customers/\(customer)").errorCode == "CUSTOMER_HAS_ACTIVE_SUBSCRIPTION")
            let canceled = try await api.post("/subscriptions/\(subscription)/cancel")
            #expect(canceled.status == 200, "\(canceled.text)")
            #expect(canceled.data["status"] == "canceled")
            #expect(canceled.data["canceled_at"] == "2026-04-19T09:15:22.000Z")
            #expect(canceled.data["cancel_at_period_end"] == false)
            #expect(try await api.eventTypes().last == "subscription.canceled")
            #expect(try await api.lastEvent("subscription.canceled")?["data"] == canceled.data)
            // Nothing is refunded: the period's charge stays as it was.
            let charge = try await api.get("/charges/\(canceled.data["latest_charge"]?.stringValue ?? "")").data
            #expect(charge["refunded_amount"] == 0)

            let again = try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": true])
            #expect(again.status == 409)
            #expect(again.errorCode == "subscription_not_cancelable")
            #expect(try await api.post("/subscriptions/\(subscription)/cancel").errorCode == "subscription_not_cancelable")
            #expect(try await api.request(.delete, "/customers/\(customer)").status == 200)
        }
    }

    @Test("Cancel at period end: stays active and flagged (subscription.updated with previous_attributes) until the sweeper ends it at the period's end")
    func cancelAtPeriodEnd() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _, _) = try await api.subscribed()
            let pending = try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": true])
            #expect(pending.status == 200, "\(pending.text)")
            #expect(pending.data["status"] == "active")
            #expect(pending.data["cancel_at_period_end"] == true)
            #expect(pending.data["canceled_at"] == .null)
            let updated = try #require(try await api.lastEvent("subscription.updated"))
            #expect(updated["previous_attributes"] == ["cancel_at_period_end": false])
            #expect(updated["data"] == pending.data)

            app.clock.advance(seconds: 29 * 86_400)
            #expect(try await app.sweep(api.projectID).endedSubscriptions == 0, "the period has a day left")
            app.clock.advance(seconds: 86_400)
            #expect(try await app.sweep(api.projectID).endedSubscriptions == 1)
            #expect(try await app.sweep(api.projectID).endedSubscriptions == 0)
            let ended = try await api.get("/subscriptions/\(subscription)").data
            #expect(ended["status"] == "canceled")
            #expect(ended["canceled_at"] == "2026-05-19T09:15:22.000Z")
            #expect(ended["cancel_at_period_end"] == false)
            #expect(try await api.lastEvent("subscription.canceled")?["data"] == ended)
            // No renewal charge was made.
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
        }
    }

    @Test("Resume undoes a pending cancel: the subscription then outlives its period end; resuming twice is refused")
    func resume() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _, _) = try await api.subscribed()
            #expect(try await api.post("/subscriptions/\(subscription)/resume").errorCode == "subscription_not_canceling")
            _ = try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": true])
            let resumed = try await api.post("/subscriptions/\(subscription)/resume")
            #expect(resumed.status == 200, "\(resumed.text)")
            #expect(resumed.data["cancel_at_period_end"] == false)
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"] == ["cancel_at_period_end": true])
            let again = try await api.post("/subscriptions/\(subscription)/resume")
            #expect(again.status == 409)
            #expect(again.errorCode == "subscription_not_canceling")
            app.clock.advance(seconds: 31 * 86_400)
            #expect(try await app.sweep(api.projectID).endedSubscriptions == 0)
            #expect(try await api.get("/subscriptions/\(subscription)").data["status"] == "active")
        }
    }

    @Test("POST /subscriptions/:id changes metadata and the default card (one of the customer's active cards), with previous_attributes")
    func update() async throws {
        try await TestApp().run { api in
            let (subscription, customer, _) = try await api.subscribed()
            let before = try await api.get("/subscriptions/\(subscription)").data
            let tagged = try await api.post("/subscriptions/\(subscription)", ["metadata": ["order": "1234"]])
            #expect(tagged.status == 200, "\(tagged.text)")
            #expect(tagged.data["metadata"] == ["order": "1234"])
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"] == ["metadata": [:]])

            let newCard = try await api.testCard(customer: customer, index: 1)
            let switched = try await api.post("/subscriptions/\(subscription)", ["default_payment_method": .string(newCard)])
            #expect(switched.data["default_payment_method"] == .string(newCard))
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"]
                    == ["default_payment_method": before["default_payment_method"] ?? .null])

            let updatesSoFar = try await api.get("/events?type=subscription.updated").data.arrayValue?.count
            #expect(try await api.post("/subscriptions/\(subscription)", ["metadata": ["order": "1234"]]).status == 200)
            #expect(try await api.get("/events?type=subscription.updated").data.arrayValue?.count == updatesSoFar, "nothing changed, no event")

            let stranger = try await api.testCard(customer: try await api.customer("Noa"))
            #expect(try await api.post("/subscriptions/\(subscription)", ["default_payment_method": .string(stranger)]).errorCode == "payment_method_not_owned")
            #expect(try await api.post("/payment_methods/\(newCard)/detach").status == 200)
            #expect(try await api.post("/subscriptions/\(subscription)", ["default_payment_method": .string(newCard)]).errorCode == "payment_method_inactive")
            #expect(try await api.post("/subscriptions/\(subscription)", ["default_payment_method": "cus_wrongprefix1"]).issuePaths == ["default_payment_method"])
            #expect(try await api.post("/subscriptions/\(subscription)", ["status": "canceled"]).issuePaths == ["status"])
            #expect(try await api.post("/subscriptions/sub_nothere12345", ["metadata": [:]]).status == 404)
            #expect(try await api.post("/subscriptions/sub_nothere12345/cancel").status == 404)
            #expect(try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": "yes"]).issuePaths == ["cancel_at_period_end"])
        }
    }

    @Test("GET /subscriptions filters by status, price and customer")
    func listFilters() async throws {
        try await TestApp().run { api in
            let first = try await api.subscribed()
            let second = try await api.subscribed()
            _ = try await api.post("/subscriptions/\(first.subscription)/cancel")
            func ids(_ query: String) async throws -> [String] {
                let result = try await api.get("/subscriptions?\(query)")
                #expect(result.status == 200, "\(result.text)")
                return result.data.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            #expect(try await ids("status=canceled") == [first.subscription])
            #expect(try await ids("status=active") == [second.subscription])
            #expect(try await ids("price=\(second.price)") == [second.subscription])
            #expect(try await ids("customer=\(first.customer)&status=active") == [])
            #expect(try await api.get("/subscriptions?status=paused").issuePaths == ["status"])
            #expect(try await api.get("/subscriptions?price=prod_123456789012").issuePaths == ["price"])
        }
    }

    @Test("A webhook for subscription.updated carries previous_attributes beside data")
    func webhookPreviousAttributes() async throws {
        let app = TestApp()
        try await app.runWithReceiver { api, receiver, url in
            _ = try await api.post("/webhooks", ["url": .string(url), "events": ["subscription.updated"]])
            let (subscription, _, _) = try await api.subscribed()
            _ = try await api.post("/subscriptions/\(subscription)/cancel", ["cancel_at_period_end": true])
            #expect(try await app.deliver(api.projectID) == 1)
            let body = try #require(receiver.received.first?.json)
            #expect(body["type"] == "subscription.updated")
            #expect(body["previous_attributes"] == ["cancel_at_period_end": false])
            #expect(body["data"]?["cancel_at_period_end"] == true)
            #expect(body.objectValue?.keys == ["id", "type", "data", "livemode", "created", "previous_attributes"])
        }
    }

    @Test("POST /subscriptions charges the first period now; subscription.created comes before its charge's events")
    func createPaid() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            // VAT exclusive: ₪100.00 + 18% is charged.
            let price = try await api.product(price: ["unit_amount": 10000, "type": "recurring", "tax_mode": "exclusive", "recurring": ["interval": "month"]])
            let created = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(price), "payment_method": .string(card),
                                                                "metadata": ["plan": "pro"]])
            #expect(created.status == 200, "\(created.text)")
            #expect(created.data["status"] == "active")
            #expect(created.data["default_payment_method"] == .string(card))
            #expect(created.data["current_period_end"] == "2026-05-19T09:15:22.000Z")
            #expect(created.data["metadata"] == ["plan": "pro"])
            let charge = try await api.get("/charges/\(created.data["latest_charge"]?.stringValue ?? "")").data
            #expect(charge["status"] == "succeeded")
            #expect(charge["amount"] == 11800)
            #expect(charge["subscription"] == .string(created.id))
            #expect(charge["document"] != .null)
            #expect(try await api.eventTypes().suffix(3) == ["subscription.created", "document.issued", "charge.succeeded"])
        }
    }

    @Test("POST /subscriptions with a trial or a free price charges nothing; a price that is not free needs a card")
    func createTrialAndFree() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let trial = try await api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month", "trial_period_days": 14]])
            #expect(try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(trial)]).issuePaths == ["payment_method"])
            let card = try await api.testCard(customer: customer)
            let trialing = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(trial), "payment_method": .string(card)])
            #expect(trialing.data["status"] == "trialing")
            #expect(trialing.data["trial_end"] == "2026-05-03T09:15:22.000Z")
            #expect(trialing.data["latest_charge"] == .null)
            let free = try await api.product(price: ["unit_amount": 0, "type": "recurring", "recurring": ["interval": "year"]])
            let freeSubscription = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(free)])
            #expect(freeSubscription.data["status"] == "active")
            #expect(freeSubscription.data["latest_charge"] == .null)
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("A declined first charge answers 200 with status incomplete and the failed charge; unpaid, it expires after 23 hours")
    func createDeclined() async throws {
        let app = TestApp()
        try await app.run { api in
            let customer = try await api.customer()
            let card = try await api.attachCard(number: "4000000000000341", customer: customer)
            let price = try await api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month"]])
            let incomplete = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(price), "payment_method": .string(card)])
            #expect(incomplete.status == 200, "\(incomplete.text)")
            #expect(incomplete.data["status"] == "incomplete")
            let charge = try await api.get("/charges/\(incomplete.data["latest_charge"]?.stringValue ?? "")").data
            #expect(charge["status"] == "failed")
            #expect(charge["failure_code"] == "card_declined")
            #expect(try await api.eventTypes().suffix(2) == ["subscription.created", "charge.failed"])
            // Incomplete has no period to finish: it can only be canceled now.
            #expect(try await api.post("/subscriptions/\(incomplete.id)/cancel", ["cancel_at_period_end": true]).errorCode == "subscription_not_cancelable")

            app.clock.advance(seconds: 22 * 3600)
            #expect(try await app.sweep(api.projectID).expiredSubscriptions == 0)
            app.clock.advance(seconds: 3600)
            #expect(try await app.sweep(api.projectID).expiredSubscriptions == 1)
            let expired = try await api.get("/subscriptions/\(incomplete.id)").data
            #expect(expired["status"] == "incomplete_expired")
            let updated = try await api.lastEvent("subscription.updated")
            #expect(updated?["previous_attributes"] == ["status": "incomplete"])
            #expect(try await app.sweep(api.projectID).expiredSubscriptions == 0)
        }
    }

    @Test("POST /subscriptions refuses a one-time or archived price, another customer's card, and bad fields")
    func createRefusals() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            let oneTime = try await api.product(price: ["unit_amount": 4900, "type": "one_time"])
            let monthly = try await api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month"]])
            func create(_ body: JSONObject) async throws -> APIResult { try await api.post("/subscriptions", .object(body)) }
            #expect(try await create(["customer": .string(customer), "price": .string(oneTime), "payment_method": .string(card)]).errorCode == "price_not_recurring")
            let stranger = try await api.testCard(customer: try await api.customer("Noa"))
            #expect(try await create(["customer": .string(customer), "price": .string(monthly), "payment_method": .string(stranger)]).errorCode
                    == "payment_method_not_owned")
            #expect(try await create([:]).issuePaths == ["customer", "price"])
            #expect(try await create(["customer": .string(customer), "price": .string(monthly), "payment_method": .string(card), "trial_days": 3]).issuePaths
                    == ["trial_days"])
            #expect(try await create(["customer": .string(customer), "price": "price_nothere12345", "payment_method": .string(card)]).status == 404)
            #expect(try await api.post("/prices/\(monthly)", ["active": false]).status == 200)
            #expect(try await create(["customer": .string(customer), "price": .string(monthly), "payment_method": .string(card)]).errorCode == "price_archived")
            #expect(try await api.get("/subscriptions").data == [])
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("An upgrade applies now and charges the prorated rest of the period; the billing dates stay")
    func upgrade() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, _, _) = try await api.subscribed()
            let pro = try await api.product("Pro", price: ["unit_amount": 9900, "type": "recurring", "recurring": ["interval": "month"]])
            app.clock.advance(seconds: 10 * 86_400)
            let changed = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(pro)])
            #expect(changed.status == 200, "\(changed.text)")
            // (9,900 − 4,900) × 20 / 30 days = 3,333.33 agorot.
            #expect(changed.data["kind"] == "upgrade")
            #expect(changed.data["applied"] == true)
            #expect(changed.data["scheduled_for"] == .null)
            #expect(changed.data["charge_amount"] == 3333)
            #expect(changed.data["charge_currency"] == "ils")
            let after = try #require(changed.data["subscription"])
            #expect(after["items"]?[0]?["price"] == .string(pro))
            #expect(after["current_period_end"] == "2026-05-19T09:15:22.000Z")
            let charge = try await api.get("/charges/\(after["latest_charge"]?.stringValue ?? "")").data
            #expect(charge["amount"] == 3333)
            #expect(charge["subscription"] == .string(subscription))
            #expect(charge["document"] != .null)
            let previous = try await api.lastEvent("subscription.updated")?["previous_attributes"]
            #expect(previous?["items"]?[0]?["price"] != .string(pro))
            #expect(previous?["latest_charge"] != nil)
            #expect(try await api.eventTypes().suffix(3) == ["document.issued", "charge.succeeded", "subscription.updated"])
            // The same price again changes nothing.
            let same = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(pro)])
            #expect(same.data["kind"] == "same")
            #expect(same.data["applied"] == false)
            #expect(try await api.eventTypes().last == "subscription.updated")
            #expect(try await api.get("/charges").data.arrayValue?.count == 2)
        }
    }

    @Test("A downgrade waits for the period end (pending_price); asked for immediately, it is refused")
    func downgrade() async throws {
        try await TestApp().run { api in
            let (subscription, _, price) = try await api.subscribed()
            let lite = try await api.product("Lite", price: ["unit_amount": 1900, "type": "recurring", "recurring": ["interval": "month"]])
            let now = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(lite), "change_timing": "immediately"])
            #expect(now.status == 400)
            #expect(now.errorCode == "DOWNGRADE_IMMEDIATE_NOT_SUPPORTED")
            let scheduled = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(lite)])
            #expect(scheduled.status == 200, "\(scheduled.text)")
            #expect(scheduled.data["kind"] == "downgrade")
            #expect(scheduled.data["applied"] == false)
            #expect(scheduled.data["scheduled_for"] == "2026-05-19T09:15:22.000Z")
            #expect(scheduled.data["charge_amount"] == 0)
            let after = try #require(scheduled.data["subscription"])
            #expect(after["items"]?[0]?["price"] == .string(price))
            #expect(after["pending_price"] == .string(lite))
            #expect(after["pending_effective_at"] == "2026-05-19T09:15:22.000Z")
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"] == ["pending_price": nil, "pending_effective_at": nil])
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
        }
    }

    @Test("change_price refuses another interval, a one-time price, an ended subscription; a declined prorated charge changes nothing")
    func changeRefusals() async throws {
        try await TestApp().run { api in
            let (subscription, customer, price) = try await api.subscribed()
            let yearly = try await api.product(price: ["unit_amount": 49000, "type": "recurring", "recurring": ["interval": "year"]])
            #expect(try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(yearly)]).errorCode == "price_interval_mismatch")
            let oneTime = try await api.product(price: ["unit_amount": 9900, "type": "one_time"])
            #expect(try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(oneTime)]).errorCode == "price_not_recurring")
            #expect(try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(price), "change_timing": "later"]).issuePaths
                    == ["change_timing"])
            #expect(try await api.post("/subscriptions/\(subscription)/change_price").issuePaths == ["price"])

            let declining = try await api.attachCard(number: "4000000000000341", customer: customer)
            #expect(try await api.post("/subscriptions/\(subscription)", ["default_payment_method": .string(declining)]).status == 200)
            let pro = try await api.product("Pro", price: ["unit_amount": 9900, "type": "recurring", "recurring": ["interval": "month"]])
            let declined = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(pro)])
            #expect(declined.status == 402)
            #expect(declined.errorCode == "CHARGE_FAILED")
            #expect(declined.json["error"]?["charge"]?["subscription"] == .string(subscription))
            #expect(try await api.get("/subscriptions/\(subscription)").data["items"]?[0]?["price"] == .string(price))

            _ = try await api.post("/subscriptions/\(subscription)/cancel")
            #expect(try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(pro)]).errorCode == "subscription_not_changeable")
        }
    }

    @Test("An upgrade during a trial applies at once and charges nothing")
    func upgradeDuringTrial() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let card = try await api.testCard(customer: customer)
            let trial = try await api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month", "trial_period_days": 14]])
            let subscription = try await api.post("/subscriptions", ["customer": .string(customer), "price": .string(trial), "payment_method": .string(card)]).id
            let pro = try await api.product("Pro", price: ["unit_amount": 9900, "type": "recurring", "recurring": ["interval": "month"]])
            let changed = try await api.post("/subscriptions/\(subscription)/change_price", ["price": .string(pro)])
            #expect(changed.data["kind"] == "upgrade")
            #expect(changed.data["applied"] == true)
            #expect(changed.data["charge_amount"] == 0)
            #expect(changed.data["subscription"]?["status"] == "trialing")
            #expect(try await api.get("/charges").data == [])
        }
    }

    @Test("A checkout for a customer who already has a plan is a plan change: the page says so, charges the prorated difference, and switches the plan")
    func checkoutUpgrade() async throws {
        let app = TestApp()
        try await app.run { api in
            let (subscription, customer, _) = try await api.subscribed()
            let pro = try await api.product("Pro", price: ["unit_amount": 9900, "type": "recurring", "recurring": ["interval": "month"]])
            app.clock.advance(seconds: 10 * 86_400)
            let session = try await api.checkoutSession(["price": .string(pro), "locale": "en"], customer: customer)
            #expect(session.data["amount_due_today"] == 3333)
            let page = try await api.page("/checkout/\(session.id)")
            #expect(page.contains(#"<p class="plan-change" id="plan-change">Change plan from Pro plan to Pro</p>"#))
            #expect(page.contains(#"<dd id="due-today">₪33.33</dd>"#))
            #expect(page.contains("then ₪99.00 every month from 19 May 2026"))
            #expect(try await api.pay(session.id).status == 303)

            let completed = try await api.get("/checkout_sessions/\(session.id)").data
            #expect(completed["subscription"] == .string(subscription))
            let changed = try await api.get("/subscriptions/\(subscription)").data
            #expect(changed["items"]?[0]?["price"] == .string(pro))
            #expect(changed["current_period_end"] == "2026-05-19T09:15:22.000Z")
            #expect(changed["latest_charge"] == completed["charge"])
            let charge = try await api.get("/charges/\(completed["charge"]?.stringValue ?? "")").data
            #expect(charge["amount"] == 3333)
            #expect(charge["subscription"] == .string(subscription))
            #expect(try await api.get("/subscriptions?customer=\(customer)").data.arrayValue?.count == 1, "no second subscription")
            #expect(try await api.eventTypes().suffix(4) == ["document.issued", "charge.succeeded", "subscription.updated", "checkout_session.completed"])
        }
    }

    @Test("A checkout that downgrades charges nothing and schedules the new plan for the period end")
    func checkoutDowngrade() async throws {
        try await TestApp().run { api in
            let (subscription, customer, price) = try await api.subscribed()
            let lite = try await api.product("Lite", price: ["unit_amount": 1900, "type": "recurring", "recurring": ["interval": "month"]])
            let session = try await api.checkoutSession(["price": .string(lite), "locale": "en"], customer: customer)
            let page = try await api.page("/checkout/\(session.id)")
            #expect(page.contains("Change plan from Pro plan to Lite"))
            #expect(page.contains("Your plan changes on 19 May 2026; nothing is charged today."))
            #expect(page.contains(#"<dd id="due-today">₪0.00</dd>"#))
            #expect(try await api.pay(session.id).status == 303)
            let changed = try await api.get("/subscriptions/\(subscription)").data
            #expect(changed["items"]?[0]?["price"] == .string(price))
            #expect(changed["pending_price"] == .string(lite))
            #expect(try await api.get("/charges").data.arrayValue?.count == 1)
            // A yearly price cannot replace a monthly plan (the billing dates stay): refused when the session is made.
            let yearly = try await api.product(price: ["unit_amount": 49000, "type": "recurring", "recurring": ["interval": "year"]])
            #expect(try await api.checkoutSession(["price": .string(yearly)], customer: customer).errorCode == "price_interval_mismatch")
        }
    }
}

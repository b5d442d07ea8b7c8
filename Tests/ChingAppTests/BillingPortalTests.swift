import ChingApp
import ChingDomain
import ChingServices
import Foundation
import HTTPTypes
import Testing

extension API {
    /// A portal link for `customer`; returns the session and the page's path (`/portal/<token>`).
    func portal(customer: String, returnURL: String? = "https://shop.example.com/account") async throws -> (session: APIResult, path: String) {
        var body: JSONObject = ["customer": .string(customer)]
        if let returnURL { body["return_url"] = .string(returnURL) }
        let session = try await post("/billing_portal_sessions", .object(body))
        #expect(session.status == 200, "\(session.text)")
        let url = session.data["url"]?.stringValue ?? ""
        return (session, String(url.dropFirst("https://pay.example.test".count)))
    }

    /// Posts one of the portal's forms (its CSRF token read from the page at `path`).
    func portalForm(_ path: String, action: String, _ fields: [(String, String)] = [], locale: String = "en") async throws -> Page {
        let page = try await page("\(path)?locale=\(locale)")
        let csrf = try #require(page.csrf, "no form on the portal: \(page.status)")
        return try await submit("\(path)\(action)?locale=\(locale)", [("csrf", csrf)] + fields)
    }

    /// A customer on a monthly ₪49 plan paid with Visa 4242 (its first period paid now, so with a receipt).
    func planCustomer(email: String = "dana@example.com") async throws -> (customer: String, subscription: String, card: String) {
        let (subscription, customer) = try await subscribe(to: try await monthlyPrice(), email: email)
        let card = try await get("/subscriptions/\(subscription)").data["default_payment_method"]?.stringValue ?? ""
        return (customer, subscription, card)
    }

    /// A customer whose trial ended with a card that saves but declines every later charge: `past_due`.
    func pastDueCustomer() async throws -> (customer: String, subscription: String) {
        let customer = try await customer("Dana", email: "dana@example.com")
        let setup = try await setupSession(customer: customer)
        #expect(try await saveCard(setup.id, number: "4000000000000341").status == 303)
        let card = try await get("/setup_sessions/\(setup.id)").data["payment_method"]?.stringValue ?? ""
        let subscription = try await post("/subscriptions", ["customer": .string(customer), "price": .string(try await monthlyPrice(trialDays: 7)),
                                                             "payment_method": .string(card)]).id
        _ = try await app.sweepAtPeriodEnd(subscription, api: self)
        #expect(try await get("/subscriptions/\(subscription)").data["status"] == "past_due")
        return (customer, subscription)
    }
}

@Suite("Billing portal")
struct BillingPortalTests {
    @Test("A portal session answers its link for 30 minutes; the token is 256 random bits, not derived from the id, and stored only hashed")
    func session() async throws {
        let app = TestApp()
        try await app.run(keepDatabase: true) { api in
            let (customer, _, _) = try await api.planCustomer()
            let (session, path) = try await api.portal(customer: customer)
            #expect(session.id.hasPrefix("bps_"))
            #expect(session.data["object"] == "billing_portal_session")
            #expect(session.data["customer"] == .string(customer))
            #expect(session.data["return_url"] == "https://shop.example.com/account")
            #expect(session.data["expires_at"] == "2026-04-19T09:45:22.000Z")
            #expect(session.data["livemode"] == false)
            let token = String(path.dropFirst("/portal/".count))
            #expect(token.count == 64 && token.allSatisfy(\.isHexDigit))
            #expect(!token.contains(session.id.dropFirst(4)))
            let second = try await api.portal(customer: customer, returnURL: nil)
            #expect(second.path != path)
            #expect(second.session.data["return_url"] == .null)
            #expect(try await api.page(path).status == 200)
            // An Idempotency-Key replays the same session, with a new link: the first link's token is not kept for the replay.
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "portal-1"]
            let keyed = try await api.post("/billing_portal_sessions", ["customer": .string(customer)], headers: key)
            let again = try await api.post("/billing_portal_sessions", ["customer": .string(customer)], headers: key)
            #expect(keyed.status == 200 && again.status == 200)
            #expect(again.id == keyed.id && again.data["expires_at"] == keyed.data["expires_at"])
            let (firstLink, replayedLink) = (keyed.data["url"]?.stringValue ?? "", again.data["url"]?.stringValue ?? "")
            #expect(firstLink != replayedLink && replayedLink.hasPrefix("https://pay.example.test/portal/"))
            for link in [firstLink, replayedLink] { #expect(try await api.page(String(link.dropFirst("https://pay.example.test".count))).status == 200) }
            let reused = try await api.post("/billing_portal_sessions", ["customer": .string(customer), "return_url": "https://shop.example.com/x"], headers: key)
            #expect(reused.status == 409 && reused.errorCode == "idempotency_key_reused")
            if let bytes = app.databaseFileBytes() {
                for token in [token, String(second.path.dropFirst("/portal/".count)), String(firstLink.suffix(64)), String(replayedLink.suffix(64))] {
                    #expect(bytes.range(of: Data(token.utf8)) == nil, "a portal token is stored in clear")
                }
            }
            #expect(!app.logs.text.contains(token), "a portal token is in a log line")
        }
        app.removeDatabaseFiles()
    }

    @Test("Each invalid field of a portal session is refused at its path", arguments: [
        ("customer", JSONValue.null), ("customer", "pm_123456789012"), ("customer", 42), ("return_url", "javascript:alert(1)"),
        ("return_url", "/account"), ("return_url", 7), ("amount", 100),
    ] as [(String, JSONValue?)])
    func invalid(field: String, value: JSONValue?) async throws {
        try await TestApp().run { api in
            var body: JSONObject = ["customer": .string(try await api.customer())]
            body[field] = value == .null ? nil : value
            let result = try await api.post("/billing_portal_sessions", .object(body))
            #expect(result.status == 400, "\(result.text)")
            #expect(result.issuePaths == [field])
        }
    }

    @Test("Another project's customer, a deleted customer and an unknown one are 404; an unknown token is the not-found page")
    func notFound() async throws {
        try await TestApp().run { api in
            let other = try await api.app.createProject(name: "Other Shop")
            let theirs = try await api.with(key: other.testKey).customer("Someone else")
            #expect(try await api.post("/billing_portal_sessions", ["customer": .string(theirs)]).status == 404)
            #expect(try await api.post("/billing_portal_sessions", ["customer": "cus_000000000000"]).status == 404)
            let gone = try await api.customer("Gone")
            #expect(try await api.request(.delete, "/customers/\(gone)").status == 200)
            #expect(try await api.post("/billing_portal_sessions", ["customer": .string(gone)]).errorCode == "NOT_FOUND")
            let page = try await api.page("/portal/\(String(repeating: "ab", count: 32))")
            #expect(page.status == 404)
            #expect(try await api.page("/portal/not-a-token").status == 404)
        }
    }

    @Test("After 30 minutes the link says it has expired and leads back to the merchant; without a return_url there is no such link")
    func expired() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let (_, path) = try await api.portal(customer: customer)
            let (_, bare) = try await api.portal(customer: customer, returnURL: nil)
            api.app.clock.advance(seconds: 30 * 60)
            let page = try await api.page("\(path)?locale=en")
            #expect(page.status == 410)
            #expect(page.contains("This link has expired"))
            #expect(page.contains(#"href="https://shop.example.com/account""#))
            let hebrew = try await api.page(bare)
            #expect(hebrew.status == 410)
            #expect(hebrew.contains(#"dir="rtl""#) && hebrew.contains("תוקף הקישור פג"))
            #expect(!hebrew.contains("shop.example.com"))
            #expect(try await api.submit("\(path)/cards/new", [("csrf", "x")]).status == 410)
        }
    }

    @Test("The page shows the customer, the plan with its next payment, the card, the receipt with its PDF, in English and Hebrew, with the security headers")
    func page() async throws {
        try await TestApp().run { api in
            let (customer, subscription, card) = try await api.planCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let page = try await api.page("\(path)?locale=en")
            #expect(page.status == 200)
            #expect(page.contains("Dana") && page.contains("dana@example.com"))
            #expect(page.contains("₪49.00 / month"))
            #expect(page.contains("Next payment: ₪49.00 on 19 May 2026"))
            #expect(page.contains("Visa ending in 4242") && page.contains(#"<span class="badge">Default</span>"#))
            #expect(page.contains("\(path)/subscriptions/\(subscription)/cancel?locale=en"))
            #expect(page.contains("\(path)/cards/\(card)/remove?locale=en"))
            #expect(page.contains("Back to Test Shop"))
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("frame-ancestors 'none'") == true)
            let document = try #require(try await api.get("/documents").data[0])
            let pdfURL = try #require(document["pdf_url"]?.stringValue)
            #expect(page.contains("Tax invoice / receipt \(document["number"]?.intValue ?? 0)"))
            #expect(page.contains(pdfURL))
            #expect(try await api.page(String(pdfURL.dropFirst("https://pay.example.test".count))).headers[.contentType] == "application/pdf")

            let hebrew = try await api.page(path)
            #expect(hebrew.contains(#"<html lang="he" dir="rtl">"#), "the customer's locale is Hebrew")
            #expect(hebrew.contains("החיובים שלך") && hebrew.contains("התשלום הבא"))
            #expect(hebrew.contains("חשבונית מס / קבלה"))
        }
    }

    @Test("Cancel at the period end goes through a confirmation step, then resume undoes it; each writes what the API would, and the page says so")
    func cancelAtPeriodEndAndResume() async throws {
        try await TestApp().run { api in
            let (customer, subscription, _) = try await api.planCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let step = try await api.page("\(path)/subscriptions/\(subscription)/cancel?locale=en")
            #expect(step.status == 200)
            #expect(step.contains("Cancel Pro plan?"))
            #expect(step.contains("You keep access until 19 May 2026. You will not be charged again, and nothing is refunded."))
            #expect(step.contains("Access ends now. The current period is not refunded."))

            let canceled = try await api.portalForm(path, action: "/subscriptions/\(subscription)/cancel", [("when", "period_end")])
            #expect(canceled.status == 303)
            #expect(canceled.location == "\(path)?locale=en&notice=cancels_at_period_end")
            #expect(try await api.get("/subscriptions/\(subscription)").data["cancel_at_period_end"] == true)
            #expect(try await api.lastEvent("subscription.updated")?["previous_attributes"] == ["cancel_at_period_end": false])
            let after = try await api.page(try #require(canceled.location))
            #expect(after.contains(#"role="status">Your plan will end at the end of the period."#))
            #expect(after.contains("Cancels on 19 May 2026"))

            let resumed = try await api.portalForm(path, action: "/subscriptions/\(subscription)/resume", locale: "he")
            #expect(resumed.location == "\(path)?locale=he&notice=resumed")
            #expect(try await api.get("/subscriptions/\(subscription)").data["cancel_at_period_end"] == false)
            #expect(try await api.page(try #require(resumed.location)).contains("המנוי ממשיך ויתחדש כרגיל."))
            // A second resume is refused in words, and changes nothing.
            let again = try await api.portalForm(path, action: "/subscriptions/\(subscription)/resume")
            #expect(again.location == "\(path)?locale=en&notice=plan_changed")
            #expect(try await api.page(try #require(again.location)).contains(#"role="alert""#))
        }
    }

    @Test("Cancel now ends the plan at once (subscription.canceled); the page then has no plans")
    func cancelNow() async throws {
        try await TestApp().run { api in
            let (customer, subscription, _) = try await api.planCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let canceled = try await api.portalForm(path, action: "/subscriptions/\(subscription)/cancel", [("when", "now")])
            #expect(canceled.location == "\(path)?locale=en&notice=canceled_now")
            #expect(try await api.get("/subscriptions/\(subscription)").data["status"] == "canceled")
            #expect(try await api.lastEvent("subscription.canceled")?["data"]?["id"] == .string(subscription))
            let page = try await api.page(try #require(canceled.location))
            #expect(page.contains("Your plan is canceled.") && page.contains("You have no active plans."))
            #expect(!page.contains("/subscriptions/"))
        }
    }

    @Test("A form without the page's CSRF token is refused (403) and changes nothing; another customer's plan or card is not found")
    func refusals() async throws {
        try await TestApp().run { api in
            let (customer, subscription, _) = try await api.planCustomer()
            let (other, otherSubscription, otherCard) = try await api.planCustomer(email: "noa@example.com")
            let (_, path) = try await api.portal(customer: customer)
            let forged = try await api.submit("\(path)/subscriptions/\(subscription)/cancel", [("csrf", "0"), ("when", "now")])
            #expect(forged.status == 403)
            let foreign = try await api.submit("\(path)/subscriptions/\(subscription)/cancel", [("csrf", try #require(try await api.page(path).csrf)), ("when", "now")],
                                               headers: [HTTPField.Name("Origin")!: "https://evil.example"])
            #expect(foreign.status == 403)
            #expect(try await api.get("/subscriptions/\(subscription)").data["status"] == "active")

            let theirs = try await api.portalForm(path, action: "/subscriptions/\(otherSubscription)/cancel", [("when", "now")])
            #expect(theirs.location == "\(path)?locale=en&notice=not_found")
            #expect(try await api.get("/subscriptions/\(otherSubscription)").data["status"] == "active")
            let theirCard = try await api.portalForm(path, action: "/cards/\(otherCard)/default")
            #expect(theirCard.location == "\(path)?locale=en&notice=not_found")
            #expect(try await api.get("/customers/\(other)").data["default_payment_method"] == .string(otherCard))
        }
    }

    @Test("The only card behind a live plan cannot be removed; a card added through the setup page can be made the default, and then the old one removed")
    func cards() async throws {
        try await TestApp().run { api in
            let (customer, subscription, first) = try await api.planCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let refused = try await api.portalForm(path, action: "/cards/\(first)/remove", locale: "he")
            #expect(refused.location == "\(path)?locale=he&notice=card_needed")
            #expect(try await api.page(try #require(refused.location)).contains("זה הכרטיס היחיד שמשלם על המנוי"))
            #expect(try await api.get("/payment_methods/\(first)").data["status"] == "active")

            // Add a card: the setup page, then back to the portal on a new link.
            let toSetup = try await api.portalForm(path, action: "/cards/new")
            let setupPath = try #require(toSetup.location)
            #expect(setupPath.hasPrefix("/setup/seti_") && setupPath.hasSuffix("?locale=en"))
            let setupID = String(setupPath.dropFirst("/setup/".count).prefix { $0 != "?" })

            let saved = try await api.saveCard(setupID, number: "5555555555554444")
            let back = try #require(saved.location)
            #expect(back == "https://pay.example.test/portal/return/\(setupID)?locale=en")
            let returned = try await api.page(String(back.dropFirst("https://pay.example.test".count)))
            let newPath = String(try #require(returned.location).prefix { $0 != "?" })
            #expect(returned.location?.hasSuffix("?locale=en&notice=card_added") == true)
            #expect(newPath != path && newPath.hasPrefix("/portal/"))
            #expect(try await api.page(path).status == 200, "the first link keeps working (another tab, the back button)")
            #expect(try await api.page(String(back.dropFirst("https://pay.example.test".count))).status == 410, "the way back works once")
            let withTwo = try await api.page(try #require(returned.location))
            #expect(withTwo.contains("Mastercard ending in 4444") && withTwo.contains("Your new card is saved."))

            let second = try #require(try await api.get("/customers/\(customer)/payment_methods").data[0]?["id"]?.stringValue)
            let madeDefault = try await api.portalForm(newPath, action: "/cards/\(second)/default")
            #expect(madeDefault.location == "\(newPath)?locale=en&notice=default_changed")
            #expect(try await api.get("/customers/\(customer)").data["default_payment_method"] == .string(second))
            let removed = try await api.portalForm(newPath, action: "/cards/\(first)/remove")
            #expect(removed.location == "\(newPath)?locale=en&notice=card_removed")
            #expect(try await api.get("/payment_methods/\(first)").data["status"] == "inactive")
            #expect(try await api.lastEvent("payment_method.detached")?["data"]?["id"] == .string(first))
            _ = subscription
        }
    }

    @Test("Leaving the setup page without a card returns to the portal saying no card was added")
    func setupCanceled() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let (_, path) = try await api.portal(customer: customer)
            let setupPath = try #require(try await api.portalForm(path, action: "/cards/new").location)
            let setupID = String(setupPath.dropFirst("/setup/".count).prefix { $0 != "?" })
            let canceled = try await api.page("/setup/\(setupID)/cancel")
            let back = try await api.page(String(try #require(canceled.location).dropFirst("https://pay.example.test".count)))
            #expect(back.location?.hasSuffix("notice=card_not_added") == true)
            let page = try await api.page(try #require(back.location))
            #expect(page.contains("No card was added.") && page.contains(#"role="alert""#))
            // The card form it left is closed: a card posted there later is not saved, and the way back is used up.
            #expect(try await api.page("/setup/\(setupID)?locale=en").status == 410)
            #expect(try await api.get("/customers/\(customer)/payment_methods").data.arrayValue?.isEmpty == true)
            #expect(try await api.page(String(try #require(canceled.location).dropFirst("https://pay.example.test".count))).status == 410)
        }
    }

    @Test("A past-due plan shows its failed payment; paying now with another card retries at once and the plan is active again")
    func pastDueRecovery() async throws {
        try await TestApp().run { api in
            let (customer, subscription) = try await api.pastDueCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let page = try await api.page("\(path)?locale=en")
            #expect(page.contains("Payment failed"))
            #expect(page.contains("The payment of ₪49.00 on 26 April 2026 did not go through: Your card was declined. Try another card."))
            #expect(page.contains("We will try your card again on 29 April 2026."))
            #expect(page.contains("Pay now with another card"))

            let toSetup = try await api.portalForm(path, action: "/subscriptions/\(subscription)/pay")
            let setupID = String(try #require(toSetup.location).dropFirst("/setup/".count).prefix { $0 != "?" })
            let saved = try await api.saveCard(setupID, number: "4242424242424242")
            let returned = try await api.page(String(try #require(saved.location).dropFirst("https://pay.example.test".count)))
            #expect(returned.location?.hasSuffix("notice=plan_paid") == true)
            let state = try await api.get("/subscriptions/\(subscription)").data
            #expect(state["status"] == "active")
            #expect(state["current_period_end"] == "2026-05-26T09:15:22.000Z")
            let paid = try #require(try await api.get("/charges").data[0])
            #expect(paid["status"] == "succeeded" && paid["card_last4"] == "4242" && paid["amount"] == 4900)
            #expect(try await api.get("/customers/\(customer)").data["default_payment_method"] == state["default_payment_method"])
            let after = try await api.page(try #require(returned.location))
            #expect(after.contains("Payment received. Your plan is active again.") && !after.contains("Payment failed"))
        }
    }

    @Test("Paying a past-due plan with cards that are declined too says so each time; the customer's tries never use up the dunning schedule")
    func pastDueDeclinedAgain() async throws {
        try await TestApp().run { api in
            let (customer, subscription) = try await api.pastDueCustomer()
            let (_, path) = try await api.portal(customer: customer)
            let step = try await api.page("\(path)/subscriptions/\(subscription)/cancel?locale=en")
            #expect(step.contains("Cancel now") && !step.contains("Cancel at the end of the period"), "an unpaid period has nothing to finish")
            for _ in 1...4 {
                let toSetup = try await api.portalForm(path, action: "/subscriptions/\(subscription)/pay", locale: "he")
                let setupID = String(try #require(toSetup.location).dropFirst("/setup/".count).prefix { $0 != "?" })
                let saved = try await api.saveCard(setupID, number: "4000000000000341", locale: "he")
                let returned = try await api.page(String(try #require(saved.location).dropFirst("https://pay.example.test".count)))
                #expect(returned.location?.hasSuffix("?locale=he&notice=plan_still_unpaid") == true)
                #expect(try await api.page(try #require(returned.location)).contains("גם הכרטיס החדש נדחה"))
            }
            #expect(try await api.get("/subscriptions/\(subscription)").data["status"] == "past_due", "four declined tries did not cancel it")
            #expect(try await api.get("/events?type=subscription.past_due").data.arrayValue?.count == 1)
            #expect(try await api.get("/charges?customer=\(customer)").data.arrayValue?.count == 5, "the renewal and the customer's four tries")
            // The schedule is as the renewal left it: the first retry, 3 days after it failed, still comes (and declines).
            api.app.clock.advance(seconds: 3 * 86_400)
            #expect(try await api.app.sweep(api.projectID).renewals == 1)
            #expect(try await api.get("/subscriptions/\(subscription)").data["status"] == "past_due")
        }
    }

    @Test("A deleted customer's link says it is no longer available")
    func deletedCustomer() async throws {
        try await TestApp().run { api in
            let customer = try await api.customer()
            let (_, path) = try await api.portal(customer: customer)
            #expect(try await api.request(.delete, "/customers/\(customer)").status == 200)
            #expect(try await api.page(path).status == 410)
        }
    }

    /// The banner an action leaves, as the locale file words it.
    static func notice(_ key: String, _ language: Language) throws -> String {
        let file = URL(fileURLWithPath: API.resources).appendingPathComponent("Templates/locales/\(language.rawValue).json")
        return try #require(try JSONValue.parse(Array(Data(contentsOf: file)))["portal_notice_\(key)"]?.stringValue)
    }

    @Test("Every action and refusal answers with its banner in the page's language", arguments: Language.allCases)
    func banners(language: Language) async throws {
        try await TestApp().run { api in
            let (customer, subscription, first) = try await api.planCustomer()
            let second = try await api.testCard(customer: customer, index: 1)
            let (_, path) = try await api.portal(customer: customer)
            let locale = language.rawValue
            let steps: [(String, [(String, String)], String, Bool)] = [
                ("/subscriptions/\(subscription)/cancel", [("when", "period_end")], "cancels_at_period_end", false),
                ("/subscriptions/\(subscription)/cancel", [("when", "period_end")], "cancels_at_period_end", false),
                ("/subscriptions/\(subscription)/resume", [], "resumed", false),
                ("/subscriptions/\(subscription)/resume", [], "plan_changed", true),
                ("/subscriptions/\(subscription)/pay", [], "plan_changed", true),
                ("/cards/\(second)/default", [], "default_changed", false),
                ("/cards/\(first)/remove", [], "card_removed", false),
                ("/cards/\(second)/remove", [], "card_needed", true),
                ("/cards/\(first)/default", [], "not_found", true),
                ("/subscriptions/\(subscription)/cancel", [("when", "now")], "canceled_now", false),
                ("/cards/\(second)/remove", [], "card_removed", false),
            ]
            for (action, fields, key, refused) in steps {
                let answer = try await api.portalForm(path, action: action, fields, locale: locale)
                #expect(answer.location == "\(path)?locale=\(locale)&notice=\(key)", "\(action)")
                let page = try await api.page(try #require(answer.location))
                let banner = #"role="\#(refused ? "alert" : "status")">\#(try Self.notice(key, language))</p>"#
                #expect(page.contains(banner), "\(action): \(key)")
            }
            #expect(try await api.get("/customers/\(customer)/payment_methods").data.arrayValue?.isEmpty == true)
        }
    }
}

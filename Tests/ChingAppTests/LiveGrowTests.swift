import ChingApp
import ChingDomain
import ChingProviders
import ChingServices
import ChingStore
import FakeGrow
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import SQLKit
import Testing

/// Live mode against the fake Grow (GROW.md section 7): every flow of issue 18, on both databases.
@Suite struct LiveGrowTests {
    /// A project configured with the fake Grow, its live key, and the fake delivering its callbacks into the app.
    struct Live: Sendable {
        let api: API
        let grow: FakeGrow
        var app: TestApp { api.app }

        /// A customer Grow will take (two-word name, Israeli mobile).
        func customer(email: String = "tal@example.com") async throws -> String {
            let result = try await api.post("/customers", ["name": "Tal Levi", "email": .string(email), "phone": "050-1234567"])
            #expect(result.status == 200, "\(result.text)")
            return result.id
        }

        /// Opens a live checkout and presses pay: returns the session id and Grow's page.
        func openCheckout(_ fields: JSONObject, installments: Int = 1, email: String = "tal@example.com") async throws -> (session: String, growURL: String) {
            var body = fields
            body["customer"] = .string(try await customer(email: email))
            let session = try await api.checkoutSession(body)
            #expect(session.status == 200, "\(session.text)")
            let page = try await api.page("/checkout/\(session.id)")
            let csrf = try #require(page.csrf)
            let posted = try await api.submit("/checkout/\(session.id)",
                                              [("csrf", csrf), ("payer_name", "Tal Levi"), ("payer_phone", "050-1234567"), ("installments", "\(installments)")])
            #expect(posted.status == 303, "\(posted.html)")
            return (session.id, try #require(posted.location))
        }

        /// Our path of a URL the app gave Grow (`https://pay.example.test/...`).
        func path(_ url: String) -> String { String(url.dropFirst("https://pay.example.test".count)) }

        func charges() async throws -> [JSONValue] { try await api.get("/charges").data.arrayValue ?? [] }

        func sweep(afterSeconds seconds: Int64 = 120) async throws -> Sweeper.Report {
            app.clock.advance(seconds: seconds)
            return try await app.sweep(api.projectID)
        }

        func requests(_ method: String) -> [FakeGrow.Request] { grow.requests.filter { $0.method == method } }
    }

    static let cart: JSONObject = ["line_items": [["name": "Coffee beans", "amount_agorot": 4990, "quantity": 2]]]

    func live(_ body: @Sendable (Live) async throws -> Void) async throws {
        let grow = try await FakeGrow.start()
        let app = TestApp()
        do {
            try await app.run { test in
                let projectID = test.projectID
                let account = GrowAccount(userID: FakeGrow.standardUserID, pageCode: FakeGrow.standardPageCode,
                                          recurringPageCode: FakeGrow.standardRecurringPageCode, baseURL: grow.baseURL)
                let key = try await app.withDatabase { database in
                    try await Projects.configureGrow(projectID: projectID, account: account, secretKey: "test-secret", database: database)
                    return try await Projects.createKey(projectID: projectID, live: true, name: nil, database: database, ids: .random, clock: app.clock.clock)
                }
                let client = test.client
                grow.setDelivery { callback in
                    let path = String(callback.url.dropFirst("https://pay.example.test".count))
                    let response = try? await client.execute(uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                             body: ByteBuffer(string: callback.body))
                    return Int(response?.status.code ?? 0)
                }
                try await body(Live(api: test.with(key: key), grow: grow))
            }
        } catch {
            await grow.stop()
            throw error
        }
        await grow.stop()
    }

    // MARK: - Configuration

    @Test func liveKeysWorkOnceGrowIsConfiguredAndItsSettingsAreSealed() async throws {
        let app = TestApp()
        try await app.run { api in
            let projectID = api.projectID
            let key = try await app.withDatabase { database in
                try await Projects.createKey(projectID: projectID, live: true, name: nil, database: database, ids: .random, clock: app.clock.clock)
            }
            #expect(try await api.with(key: key).get("/customers").errorCode == "LIVE_KEY_INACTIVE")
            let shown = try await app.withDatabase { database in
                try await Projects.configureGrow(projectID: projectID, account: GrowAccount(userID: "4ec1d595ae764243", pageCode: "0b7a16e03b25"),
                                                 secretKey: "k", database: database)
                return try await Projects.providerDescription(projectID: projectID, secretKey: "k", database: database)
            }
            #expect(try await api.with(key: key).get("/customers").status == 200)
            #expect(shown.contains("••••4243") && !shown.contains("4ec1d595ae764243") && shown.contains("sealed with CHING_SECRET_KEY"))
            let withoutKey = try await app.withDatabase { database in
                try await Projects.providerDescription(projectID: projectID, secretKey: nil, database: database)
            }
            #expect(withoutKey.contains("set CHING_SECRET_KEY"))
            if let bytes = app.databaseFileBytes() {
                #expect(bytes.range(of: Data("4ec1d595ae764243".utf8)) == nil)
                #expect(bytes.range(of: Data("0b7a16e03b25".utf8)) == nil)
            }
        }
    }

    // MARK: - Checkout

    @Test func paidCheckoutCallbackFirst() async throws {
        try await live { live in
            let (session, growURL) = try await live.openCheckout(Self.cart)
            #expect(growURL.hasPrefix(live.grow.origin + "/far?l="))
            let page = try await live.api.page("/checkout/\(session)")
            #expect(page.contains("name=\"payer_phone\"") && !page.contains("name=\"number\"") && !page.contains("name=\"cvc\""))

            let back = try await live.grow.pay(url: growURL)
            // The callback came during the payment; the charge is recorded, once, and acknowledged.
            #expect(live.grow.sentCallbacks.map(\.1) == [200])
            let charges = try await live.charges()
            #expect(charges.count == 1)
            #expect(charges.first?["status"]?.stringValue == "succeeded" && charges.first?["amount"]?.intValue == 9980)
            #expect(charges.first?["livemode"]?.boolValue == true && charges.first?["card_last4"]?.stringValue == "4580")
            #expect(live.requests("approveTransaction").count == 1)
            #expect(live.grow.transactions.first?.approved == true)

            let returned = try await live.api.page(live.path(back))
            #expect(returned.status == 303 && returned.location == "https://shop.example.com/thanks?session=\(session)")
            #expect(try await live.charges().count == 1)
        }
    }

    @Test func paidCheckoutReturnFirstThenTheCallback() async throws {
        try await live { live in
            live.grow.setCallbackMode(.hold)
            let (session, growURL) = try await live.openCheckout(Self.cart)
            let back = try await live.grow.pay(url: growURL)
            let returned = try await live.api.page(live.path(back))
            #expect(returned.status == 303 && returned.location == "https://shop.example.com/thanks?session=\(session)")
            #expect(try await live.charges().count == 1)
            await live.grow.releaseHeldCallbacks()
            #expect(live.grow.sentCallbacks.map(\.1) == [200])
            #expect(try await live.charges().count == 1)
            #expect(try await live.api.get("/checkout_sessions/\(session)").data["status"]?.stringValue == "succeeded")
        }
    }

    @Test func duplicateForgedAndUnknownCallbacksRecordNothingMore() async throws {
        try await live { live in
            live.grow.setCallbackMode(.duplicate)
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            #expect(live.grow.sentCallbacks.map(\.1) == [200, 200])
            #expect(try await live.charges().count == 1)

            // A callback with another process token is refused and logged; so is one for a process we never opened.
            let forged = try #require(live.grow.callback(forProcessURL: growURL, overrides: ["processToken": String(repeating: "0", count: 32)]))
            let refused = try await live.api.client.execute(uri: live.path(forged.url), method: .post,
                                                            headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: forged.body))
            #expect(refused.status == .badRequest)
            let unknown = try await live.api.client.execute(uri: "/grow/notify/gpr_00000000000000000000000000000000", method: .post,
                                                            headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: forged.body))
            #expect(unknown.status == .badRequest)
            #expect(live.app.logs.text.contains("does not match its process") && live.app.logs.text.contains("unknown process"))
            #expect(try await live.charges().count == 1)
        }
    }

    @Test func aPaymentThatDisagreesWithWhatWasOpenedIsNotRecorded() async throws {
        try await live { live in
            let (session, growURL) = try await live.openCheckout(Self.cart)
            // As if the page had been opened for another amount: Grow's record of 99.80 no longer matches.
            try await live.app.withDatabase { database in try await database.transaction { db in
                try await db.raw("UPDATE provider_processes SET amount = 1 WHERE session_id = \(bind: session)").run()
            } }
            _ = try await live.grow.pay(url: growURL)
            #expect(live.grow.sentCallbacks.map(\.1) == [400])
            #expect(try await live.charges().isEmpty)
            #expect(live.app.logs.text.contains("disagrees with what was opened"))
        }
    }

    @Test func declinedCardCancelledPageAndExpiredProcessChargeNothing() async throws {
        try await live { live in
            let (session, growURL) = try await live.openCheckout(Self.cart)
            await #expect(throws: FakeGrow.PageError.declined) { try await live.grow.pay(url: growURL, card: "4000000000000002") }
            let cancelURL = try await live.grow.cancel(url: growURL)
            let back = try await live.api.page(live.path(cancelURL))
            #expect(back.status == 200 && back.contains("name=\"payer_name\""))
            #expect(try await live.charges().isEmpty)

            // A new page for the same session; left 10 minutes, Grow refuses it and the reconciler lets it go.
            live.app.clock.advance(seconds: 600)
            let page = try await live.api.page("/checkout/\(session)")
            let again = try await live.api.submit("/checkout/\(session)", [("csrf", try #require(page.csrf)), ("payer_name", "Tal Levi"),
                                                                          ("payer_phone", "0501234567"), ("installments", "1")])
            let secondURL = try #require(again.location)
            #expect(secondURL != growURL)
            live.grow.advance(seconds: 11 * 60)
            await #expect(throws: FakeGrow.PageError.expired) { try await live.grow.pay(url: secondURL) }
            let report = try await live.sweep(afterSeconds: 25 * 60)
            #expect(report.reconciled.processes == 0)
            #expect(try await live.charges().isEmpty)
        }
    }

    @Test func installmentsAreChosenOnOurPageAndSentToGrow() async throws {
        try await live { live in
            let (_, growURL) = try await live.openCheckout(Self.cart, installments: 3)
            #expect(live.requests("createPaymentProcess").last?["paymentNum"] == "3")
            _ = try await live.grow.pay(url: growURL, payments: 3)
            let charge = try #require(try await live.charges().first)
            #expect(charge["installments"]?["count"]?.intValue == 3 && charge["status"]?.stringValue == "succeeded")
        }
    }

    @Test func manualCaptureIsAJ5HoldSettledInPart() async throws {
        try await live { live in
            var fields = Self.cart
            fields["capture_method"] = "manual"
            let (_, growURL) = try await live.openCheckout(fields)
            #expect(live.requests("createPaymentProcess").last?["chargeType"] == "2")
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first)
            #expect(charge["status"]?.stringValue == "requires_capture")
            // No acknowledgement for a hold (GROW.md 2.4).
            #expect(live.requests("approveTransaction").isEmpty)

            let captured = try await live.api.post("/charges/\(charge["id"]!.stringValue!)/capture", ["amount": 5000])
            #expect(captured.status == 200 && captured.data["amount_captured"]?.intValue == 5000, "\(captured.text)")
            let settle = try #require(live.requests("settleSuspendedTransaction").last)
            let hold = try #require(live.grow.transactions.first)
            #expect(settle["sum"] == "50.00" && settle["userId"] == FakeGrow.standardUserID)
            #expect(settle["transactionId"] == String(hold.id) && settle["transactionToken"] == hold.token && settle["pageCode"] == nil)
            #expect(live.grow.transactions.first?.status == .paid)
        }
    }

    // MARK: - Saved cards: plans, renewals, POST /charges

    /// A monthly plan bought live: Grow saves the card on the recurring page.
    func subscribe(_ live: Live) async throws -> (customer: String, paymentMethod: String) {
        let price = try await live.api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month"]])
        let (session, growURL) = try await live.openCheckout(["price": .string(price)])
        let create = try #require(live.requests("createPaymentProcess").last)
        #expect(create["saveCardToken"] == "1" && create["pageCode"] == FakeGrow.standardRecurringPageCode)
        _ = try await live.grow.pay(url: growURL)
        let done = try await live.api.get("/checkout_sessions/\(session)")
        let subscription = try await live.api.get("/subscriptions/\(done.data["subscription"]?.stringValue ?? "")")
        #expect(subscription.data["status"]?.stringValue == "active", "\(subscription.text)")
        let paymentMethod = try #require(subscription.data["default_payment_method"]?.stringValue)
        return (try #require(done.data["customer"]?.stringValue), paymentMethod)
    }

    @Test func aPlanSavesAGrowTokenThatChargesAndRenews() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            let charged = try await live.api.charge(customer: customer, paymentMethod: paymentMethod, amount: 1500)
            #expect(charged.status == 200 && charged.data["status"]?.stringValue == "succeeded", "\(charged.text)")
            let tokenCharge = try #require(live.requests("createTransactionWithToken").last)
            #expect(Int64(tokenCharge["transactionUniqueIdentifier"] ?? "") != nil)

            // A month on, the sweeper renews through the same token under a new identifier.
            live.app.clock.advance(seconds: 32 * 86_400)
            _ = try await live.app.sweep(live.api.projectID)
            let identifiers = live.requests("createTransactionWithToken").compactMap { $0["transactionUniqueIdentifier"] }
            #expect(identifiers.count == 2 && Set(identifiers).count == 2)
            #expect(try await live.charges().filter { $0["status"]?.stringValue == "succeeded" }.count == 3)
        }
    }

    @Test func aTimeoutOnATokenChargeIsPendingUntilTheReconcilerKnows() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            // Grow charges, the answer is lost, and Grow cannot be asked right then: the state a crash leaves too.
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            let pending = try await live.api.charge(customer: customer, paymentMethod: paymentMethod, amount: 1500)
            #expect(pending.status == 200 && pending.data["status"]?.stringValue == "pending", "\(pending.text)")
            let report = try await live.sweep()
            #expect(report.reconciled.charges == 1)
            let settled = try await live.api.get("/charges/\(pending.id)")
            #expect(settled.data["status"]?.stringValue == "succeeded" && settled.data["document"] != .null)
            #expect(live.grow.transactions.filter { $0.kind == .token }.count == 1)

            // A charge that never reached Grow is failed once Grow has no record of it for ten minutes.
            live.grow.failNext("createTransactionWithToken", with: .http500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            let lost = try await live.api.charge(customer: customer, paymentMethod: paymentMethod, amount: 1500)
            #expect(lost.data["status"]?.stringValue == "pending")
            #expect(try await live.sweep().reconciled.charges == 0)
            #expect(try await live.sweep(afterSeconds: 600).reconciled.charges == 1)
            #expect(try await live.api.get("/charges/\(lost.id)").data["status"]?.stringValue == "failed")
            #expect(live.grow.transactions.filter { $0.kind == .token }.count == 1)
        }
    }

    @Test func aDeclinedTokenIsAFailedCharge() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            let token = try #require(live.grow.transactions.first?.cardToken)
            live.grow.declineToken(token, errorID: 451)
            let declined = try await live.api.charge(customer: customer, paymentMethod: paymentMethod, amount: 1500)
            #expect(declined.status == 402 && declined.json["error"]?["charge"]?["failure_code"]?.stringValue == "expired_card", "\(declined.text)")
        }
    }

    // MARK: - Refunds

    @Test func refundsFollowGrowsSameDayRule() async throws {
        try await live { live in
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            let partial = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 1000])
            #expect(partial.status == 400 && partial.errorCode == "refund_same_day_partial", "\(partial.text)")
            live.grow.advance(seconds: 86_400)
            let tomorrow = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 1000])
            #expect(tomorrow.status == 200 && tomorrow.data["status"]?.stringValue == "succeeded", "\(tomorrow.text)")
            #expect(live.requests("refundTransaction").last?["refundSum"] == "10.00")
            let rest = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 8980])
            #expect(rest.status == 200, "\(rest.text)")
            #expect(live.grow.transactions.first?.status == .refunded)
        }
    }

    @Test func aFullRefundOnTheSameDayIsAllowed() async throws {
        try await live { live in
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            let full = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 9980])
            #expect(full.status == 200 && full.data["status"]?.stringValue == "succeeded", "\(full.text)")
        }
    }

    // MARK: - Setup sessions

    @Test func aLiveSetupSessionSavesTheCardOnGrowsPage() async throws {
        try await live { live in
            let customer = try await live.customer()
            let created = try await live.api.post("/setup_sessions", ["customer": .string(customer), "success_url": "https://shop.example.com/saved",
                                                                       "cancel_url": "https://shop.example.com/account"])
            #expect(created.status == 200 && created.data["status"]?.stringValue == "requires_action", "\(created.text)")
            let opened = try await live.api.page("/setup/\(created.id)")
            #expect(opened.status == 303, "\(live.app.logs.text.suffix(3000))")
            let growURL = try #require(opened.location)
            #expect(live.requests("createPaymentProcess").last?["chargeType"] == "3")
            let back = try await live.grow.pay(url: growURL)
            let session = try await live.api.get("/setup_sessions/\(created.id)")
            #expect(session.data["status"]?.stringValue == "succeeded" && session.data["payment_method"] != .null, "\(session.text)")
            #expect(live.requests("approveTransaction").isEmpty)
            let returned = try await live.api.page(live.path(back))
            #expect(returned.status == 303 && returned.location == "https://shop.example.com/saved")
        }
    }

    // MARK: - Unknown outcomes on the page's calls

    @Test func aLostCallbackAndAnUnanswerableGrowAreReconciled() async throws {
        try await live { live in
            live.grow.setCallbackMode(.drop)
            let (session, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            // The customer never comes back, and Grow cannot be asked at the first round.
            live.grow.failNext("getPaymentProcessInfo", with: .http500)
            #expect(try await live.sweep().reconciled.processes == 0)
            #expect(try await live.sweep().reconciled.processes == 1)
            #expect(try await live.api.get("/checkout_sessions/\(session)").data["status"]?.stringValue == "succeeded")
            #expect(try await live.charges().count == 1)
        }
    }

    @Test func growNotAnsweringOnTheReturnShowsAConfirmingPage() async throws {
        try await live { live in
            live.grow.setCallbackMode(.hold)
            let (_, growURL) = try await live.openCheckout(Self.cart)
            let back = try await live.grow.pay(url: growURL)
            live.grow.failNext("getPaymentProcessInfo", with: .http500)
            let waiting = try await live.api.page(live.path(back))
            #expect(waiting.status == 202 && waiting.contains("/return?process="))
            #expect(try await live.charges().isEmpty)
            let again = try await live.api.page(live.path(back))
            #expect(again.status == 303)
        }
    }

    @Test func aCaptureWhoseAnswerWasLostSucceedsOnTheRetry() async throws {
        try await live { live in
            var fields = Self.cart
            fields["capture_method"] = "manual"
            let (_, growURL) = try await live.openCheckout(fields)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            live.grow.failNext("settleSuspendedTransaction", with: .applyThenHTTP500)
            let first = try await live.api.post("/charges/\(charge)/capture")
            #expect(first.status == 502)
            let retry = try await live.api.post("/charges/\(charge)/capture")
            #expect(retry.status == 200 && retry.data["status"]?.stringValue == "succeeded", "\(retry.text)")
        }
    }

    @Test func growRefusingToOpenThePageIsAnErrorPageAndNothingIsStored() async throws {
        try await live { live in
            live.grow.failNext("createPaymentProcess", with: .http500)
            let customer = try await live.customer()
            var body = Self.cart
            body["customer"] = .string(customer)
            let session = try await live.api.checkoutSession(body)
            let page = try await live.api.page("/checkout/\(session.id)")
            let posted = try await live.api.submit("/checkout/\(session.id)", [("csrf", try #require(page.csrf)), ("payer_name", "Tal Levi"),
                                                                              ("payer_phone", "0501234567"), ("installments", "1")])
            #expect(posted.status == 502)
            let invalid = try await live.api.submit("/checkout/\(session.id)", [("csrf", try #require(page.csrf)), ("payer_name", "Tal"),
                                                                               ("payer_phone", "12345"), ("installments", "1")])
            #expect(invalid.status == 422 && invalid.contains("payer_phone-error"))
            #expect(live.grow.processes.isEmpty)
        }
    }

    // MARK: - The wire

    @Test func everyCallSendsGrowsFieldsFormEncoded() async throws {
        try await live { live in
            let (session, growURL) = try await live.openCheckout(Self.cart)
            let create = try #require(live.requests("createPaymentProcess").last)
            #expect(create.contentType.hasPrefix("application/x-www-form-urlencoded"))
            #expect(create["pageCode"] == FakeGrow.standardPageCode && create["userId"] == FakeGrow.standardUserID)
            #expect(create["chargeType"] == "1" && create["sum"] == "99.80" && create["paymentNum"] == "1")
            #expect(create["successUrl"]?.hasPrefix("https://pay.example.test/checkout/\(session)/return?process=gpr_") == true)
            #expect(create["cancelUrl"] == "https://pay.example.test/checkout/\(session)?canceled=1")
            #expect(create["notifyUrl"]?.hasPrefix("https://pay.example.test/grow/notify/gpr_") == true)
            #expect(create["pageField[fullName]"] == "Tal Levi" && create["pageField[phone]"] == "0501234567")
            #expect(create["pageField[email]"] == "tal@example.com" && create["cField1"] == session && create["description"] == "Coffee beans")
            #expect(create["maxPaymentNum"] == nil && create["saveCardToken"] == nil)

            _ = try await live.grow.pay(url: growURL)
            let info = try #require(live.requests("getPaymentProcessInfo").last)
            let process = try #require(live.grow.processes.last)
            #expect(info["pageCode"] == FakeGrow.standardPageCode && info["processId"] == String(process.id) && info["processToken"] == process.token)
            let approve = try #require(live.requests("approveTransaction").last)
            let transaction = try #require(live.grow.transactions.last)
            #expect(approve["pageCode"] == FakeGrow.standardPageCode && approve["transactionId"] == String(transaction.id))
            #expect(approve["transactionToken"] == transaction.token && approve["sum"] != nil && approve["asmachta"] == transaction.asmachta)

            live.grow.advance(seconds: 86_400)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            _ = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 990])
            let refund = try #require(live.requests("refundTransaction").last)
            #expect(refund["userId"] == FakeGrow.standardUserID && refund["transactionId"] == String(transaction.id))
            #expect(refund["transactionToken"] == transaction.token && refund["refundSum"] == "9.90" && refund["sum"] == nil)
        }
    }

    @Test func tokenCallsSendTheirFields() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            _ = try await live.api.charge(customer: customer, paymentMethod: paymentMethod, amount: 1234)
            let charge = try #require(live.requests("createTransactionWithToken").last)
            let token = try #require(live.grow.transactions.first?.cardToken)
            #expect(charge["userId"] == FakeGrow.standardUserID && charge["cardToken"] == token && charge["sum"] == "12.34")
            #expect(charge["paymentType"] == "2" && charge["paymentNum"] == "1" && charge["description"] == "Payment")
            #expect(charge["pageField[fullName]"] == "Tal Levi" && charge["pageField[phone]"] == "0501234567")
            let identifier = try #require(Int64(charge["transactionUniqueIdentifier"] ?? ""))
            #expect(identifier > 0 && identifier <= Int64(Int32.max))
            let lookup = try #require(live.requests("getTokenTransactionsByExternalIdentifiers").last)
            #expect(lookup["userId"] == FakeGrow.standardUserID && lookup["cardToken"] == token)
            #expect(lookup["transactionUniqueIdentifier"] == String(identifier) && lookup["transactionGroupIdentifier"] == nil)
            // The lookup found the lost charge: recorded at once.
            #expect(try await live.charges().first?["status"]?.stringValue == "succeeded")
        }
    }

    // MARK: - More of Grow's ways

    @Test func aLostAcknowledgementIsSentAgainWhenGrowResendsTheCallback() async throws {
        try await live { live in
            live.grow.failNext("approveTransaction", with: .http500)
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            #expect(live.grow.transactions.first?.approved == false)
            await live.grow.resendUnapproved()
            #expect(live.grow.sentCallbacks.map(\.1) == [200, 200])
            #expect(live.grow.transactions.first?.approved == true)
            #expect(try await live.charges().count == 1)
        }
    }

    @Test func aRenewalWhoseAnswerWasLostIsAskedAgainUnderTheSameNumber() async throws {
        try await live { live in
            let (_, _) = try await subscribe(live)
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            live.app.clock.advance(seconds: 32 * 86_400)
            #expect(try await live.app.sweep(live.api.projectID).renewals == 0)
            #expect(try await live.charges().count == 1)
            // The renewal's lease goes stale; the retry sends the same identifier, Grow says 1010, and the lookup finds the charge.
            live.app.clock.advance(seconds: 6 * 60)
            #expect(try await live.app.sweep(live.api.projectID).renewals == 1)
            let identifiers = live.requests("createTransactionWithToken").compactMap { $0["transactionUniqueIdentifier"] }
            #expect(identifiers.count == 2 && Set(identifiers).count == 1)
            #expect(live.grow.transactions.filter { $0.kind == .token }.count == 1)
            #expect(try await live.charges().filter { $0["status"]?.stringValue == "succeeded" }.count == 2)
        }
    }

    @Test func theLivePageAsksForThePayerInBothLanguages() async throws {
        try await live { live in
            var body = Self.cart
            body["customer"] = .string(try await live.api.post("/customers", ["name": "Tal"]).id)
            let session = try await live.api.checkoutSession(body)
            for (locale, dir, phone, note) in [("he", "rtl", "טלפון נייד", "עמוד התשלום המאובטח של Grow"), ("en", "ltr", "Mobile phone", "Grow's secure payment page")] {
                let page = try await live.api.page("/checkout/\(session.id)?locale=\(locale)")
                #expect(page.status == 200 && page.contains("lang=\"\(locale)\" dir=\"\(dir)\""))
                #expect(page.contains("<label for=\"payer_phone\">\(phone)</label>") && page.contains(note.replacingOccurrences(of: "'", with: "&#39;")))
                #expect(page.contains("<label for=\"payer_name\">") && page.contains("id=\"installments\""))
                #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("form-action 'self' \(live.grow.origin)") == true)
            }
            // A one-word name and a landline are refused beside their fields, in the page's language.
            let page = try await live.api.page("/checkout/\(session.id)?locale=en")
            let refused = try await live.api.submit("/checkout/\(session.id)?locale=en", [("csrf", try #require(page.csrf)), ("payer_name", "Tal"),
                                                                                        ("payer_phone", "03-1234567"), ("installments", "1")])
            #expect(refused.status == 422 && refused.contains("Enter your first and last name.") && refused.contains("Enter an Israeli mobile number"))
            #expect(live.grow.processes.isEmpty)
        }
    }

    @Test func growsSecretsStayOutOfTheLogs() async throws {
        try await live { live in
            let (_, paymentMethod) = try await subscribe(live)
            _ = paymentMethod
            let process = try #require(live.grow.processes.last)
            let transaction = try #require(live.grow.transactions.last)
            let logs = live.app.logs.text
            for secret in [process.token, transaction.token, transaction.cardToken ?? "-", FakeGrow.standardUserID, FakeGrow.standardPageCode, "0501234567"] {
                #expect(!logs.contains(secret), "\(secret) is in the logs")
            }
        }
    }

    @Test func aSubscriptionWhoseFirstChargeWasLostStartsWhenTheReconcilerFindsItPaid() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            let monthly = try await live.api.product("Extra seat", price: ["unit_amount": 1900, "type": "recurring", "recurring": ["interval": "month"]])
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            // One plan per customer: the first one ends now.
            let first = try #require(try await live.api.get("/subscriptions?customer=\(customer)").data.arrayValue?.first?["id"]?.stringValue)
            #expect(try await live.api.post("/subscriptions/\(first)/cancel", ["cancel_at_period_end": false]).status == 200)
            let created = try await live.api.post("/subscriptions", ["customer": .string(customer), "price": .string(monthly),
                                                                    "payment_method": .string(paymentMethod)])
            #expect(created.status == 200 && created.data["status"]?.stringValue == "incomplete", "\(created.text)")
            #expect(try await live.sweep().reconciled.charges == 1)
            let after = try await live.api.get("/subscriptions/\(created.id)")
            #expect(after.data["status"]?.stringValue == "active", "\(after.text)")
            #expect(try await live.api.eventTypes().last == "subscription.updated")
        }
    }

    @Test func aPlanWithATrialSavesTheCardWithoutChargingAndTooManyInstallmentsAreRefused() async throws {
        try await live { live in
            let price = try await live.api.product(price: ["unit_amount": 4900, "type": "recurring", "recurring": ["interval": "month", "trial_period_days": 14]])
            let (session, growURL) = try await live.openCheckout(["price": .string(price)])
            #expect(live.requests("createPaymentProcess").last?["chargeType"] == "3")
            _ = try await live.grow.pay(url: growURL)
            let done = try await live.api.get("/checkout_sessions/\(session)")
            #expect(done.data["status"]?.stringValue == "succeeded" && done.data["charge"] == .null, "\(done.text)")
            let subscription = try await live.api.get("/subscriptions/\(done.data["subscription"]?.stringValue ?? "")")
            #expect(subscription.data["status"]?.stringValue == "trialing" && subscription.data["default_payment_method"] != .null)
            #expect(try await live.charges().isEmpty && live.requests("approveTransaction").isEmpty)

            var body = Self.cart
            body["customer"] = .string(try await live.api.post("/customers", ["name": "Noa Levi", "phone": "0521234567"]).id)
            let cart = try await live.api.checkoutSession(body)
            let page = try await live.api.page("/checkout/\(cart.id)")
            let refused = try await live.api.submit("/checkout/\(cart.id)", [("csrf", try #require(page.csrf)), ("payer_name", "Tal Levi"),
                                                                             ("payer_phone", "0501234567"), ("installments", "99")])
            #expect(refused.status == 422 && refused.contains("installments-error"))
        }
    }

    @Test func aFullRefundWhoseAnswerWasLostIsReconciledAPartialOneWaits() async throws {
        try await live { live in
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            live.grow.advance(seconds: 86_400)
            live.grow.failNext("refundTransaction", with: .applyThenHTTP500)
            let partial = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 1000])
            #expect(partial.status == 200 && partial.data["status"]?.stringValue == "pending", "\(partial.text)")
            // The rest is still refundable (the pending part stays reserved).
            live.grow.failNext("refundTransaction", with: .applyThenHTTP500)
            let rest = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 8980])
            #expect(rest.data["status"]?.stringValue == "pending")
            #expect(try await live.api.post("/refunds", ["charge": .string(charge), "amount": 1]).errorCode == "refund_amount_too_large")
            // Grow reads the charge refunded: every pending refund of it happened.
            let report = try await live.sweep()
            #expect(report.reconciled.refunds == 2)
            #expect(try await live.api.get("/refunds/\(partial.id)").data["status"]?.stringValue == "succeeded")
            #expect(try await live.api.get("/refunds/\(rest.id)").data["status"]?.stringValue == "succeeded")
            #expect(try await live.api.get("/charges/\(charge)").data["refunded_amount"]?.intValue == 9980)
            #expect(live.requests("getTransactionInfo").last?["pageCode"] == FakeGrow.standardPageCode)
        }
    }

    @Test func aFullRefundThatNeverReachedGrowFailsAfterTenMinutes() async throws {
        try await live { live in
            let (_, growURL) = try await live.openCheckout(Self.cart)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first?["id"]?.stringValue)
            live.grow.failNext("refundTransaction", with: .http500)
            let refund = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 9980])
            #expect(refund.data["status"]?.stringValue == "pending")
            #expect(try await live.sweep().reconciled.refunds == 0)
            #expect(try await live.sweep(afterSeconds: 600).reconciled.refunds == 1)
            #expect(try await live.api.get("/refunds/\(refund.id)").data["status"]?.stringValue == "failed")
            #expect(try await live.api.get("/charges/\(charge)").data["refunded_amount"]?.intValue == 0)
            let again = try await live.api.post("/refunds", ["charge": .string(charge), "amount": 9980])
            #expect(again.data["status"]?.stringValue == "succeeded", "\(again.text)")
        }
    }

    @Test func theCallbackAndTheReturnAtOnceRecordOneCharge() async throws {
        try await live { live in
            for round in 0..<3 {
                live.grow.setCallbackMode(.hold)
                let (session, growURL) = try await live.openCheckout(Self.cart, email: "race\(round)@example.com")
                let back = try await live.grow.pay(url: growURL)
                async let returned = live.api.page(live.path(back))
                async let called: Void = live.grow.releaseHeldCallbacks()
                let (page, _) = try await (returned, called)
                // One of them recorded it; the other found it recorded, or asked to be sent again (503, a "confirming" page).
                #expect([303, 202].contains(page.status))
                let charges = try await live.charges().filter { $0["checkout_session"]?.stringValue == session }
                #expect(charges.count == 1)
                if live.grow.sentCallbacks.last?.1 == 503 { await live.grow.resendUnapproved() }
                #expect(try await live.api.page(live.path(back)).status == 303)
                #expect(try await live.charges().filter { $0["checkout_session"]?.stringValue == session }.count == 1)
            }
            #expect(live.grow.transactions.count == 3)
        }
    }

    @Test func theCardFormIsNotUsedInLiveMode() async throws {
        try await live { live in
            var body = Self.cart
            body["customer"] = .string(try await live.customer())
            let session = try await live.api.checkoutSession(body)
            let response = try await live.api.client.execute(
                uri: "/v1/checkout_sessions/\(session.id)/confirm", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}"#))
            let text = String(buffer: response.body)
            #expect(response.status == .badRequest && text.contains("card_form_unavailable"), "\(text)")
            #expect(!text.contains("4242424242424242") && !live.app.logs.text.contains("4242424242424242"))
            #expect(try await live.charges().isEmpty)
        }
    }

    @Test func aRetriedChargeWithTheSameIdempotencyKeyFindsTheFirstOne() async throws {
        try await live { live in
            let (customer, paymentMethod) = try await subscribe(live)
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            let body: JSONValue = ["customer": .string(customer), "payment_method": .string(paymentMethod), "amount": 1500]
            let first = try await live.api.post("/charges", body, headers: [HTTPField.Name("Idempotency-Key")!: "order-7"])
            #expect(first.data["status"]?.stringValue == "pending")
            // As if the server had died before keeping the answer for the key: the retry reaches the charge code again.
            try await live.app.withDatabase { database in try await database.transaction { db in
                try await db.raw("DELETE FROM idempotency_keys WHERE key = 'order-7'").run()
            } }
            let retry = try await live.api.post("/charges", body, headers: [HTTPField.Name("Idempotency-Key")!: "order-7"])
            #expect(retry.id == first.id, "\(retry.text)")
            #expect(live.grow.transactions.filter { $0.kind == .token }.count == 1)
            #expect(live.requests("createTransactionWithToken").count == 1)
            #expect(try await live.sweep().reconciled.charges == 1)
            #expect(try await live.charges().filter { $0["amount"]?.intValue == 1500 }.count == 1)
        }
    }

    @Test func aDeclinedRenewalWhoseAnswerWasLostIsADeclineOnTheRetry() async throws {
        try await live { live in
            let (_, _) = try await subscribe(live)
            let token = try #require(live.grow.transactions.first?.cardToken)
            live.grow.declineToken(token, errorID: 103)
            live.grow.failNext("createTransactionWithToken", with: .applyThenHTTP500)
            live.grow.failNext("getTokenTransactionsByExternalIdentifiers", with: .http500)
            live.app.clock.advance(seconds: 32 * 86_400)
            #expect(try await live.app.sweep(live.api.projectID).renewals == 0)
            live.app.clock.advance(seconds: 6 * 60)
            #expect(try await live.app.sweep(live.api.projectID).renewals == 1)
            let subscriptions = try await live.api.get("/subscriptions").data.arrayValue ?? []
            #expect(subscriptions.first?["status"]?.stringValue == "past_due")
            #expect(live.grow.transactions.filter { $0.kind == .token }.isEmpty)
        }
    }

    @Test func aHoldSettledByALostCaptureIsNotRecordedCanceled() async throws {
        try await live { live in
            var fields = Self.cart
            fields["capture_method"] = "manual"
            let (_, growURL) = try await live.openCheckout(fields)
            _ = try await live.grow.pay(url: growURL)
            let charge = try #require(try await live.charges().first)
            // Grow's J5 window, not the sandbox's week.
            let authorized = try #require(charge["authorized_at"]?.stringValue), until = try #require(charge["capturable_until"]?.stringValue)
            #expect(Timestamp(iso8601: until)!.milliseconds - Timestamp(iso8601: authorized)!.milliseconds == 3 * 86_400_000)
            let id = try #require(charge["id"]?.stringValue)
            live.grow.failNext("settleSuspendedTransaction", with: .applyThenHTTP500)
            #expect(try await live.api.post("/charges/\(id)/capture", ["amount": 4000]).status == 502)
            let cancel = try await live.api.post("/charges/\(id)/cancel")
            #expect(cancel.status == 400 && cancel.errorCode == "charge_not_cancelable", "\(cancel.text)")
            #expect(live.app.logs.text.contains("was captured at the provider"))
            // Asked again for another amount than Grow settled: refused in words, not recorded.
            let other = try await live.api.post("/charges/\(id)/capture", ["amount": 5000])
            #expect(other.status == 400 && other.errorCode == "charge_already_captured", "\(other.text)")
            let same = try await live.api.post("/charges/\(id)/capture", ["amount": 4000])
            #expect(same.status == 200 && same.data["amount_captured"]?.intValue == 4000, "\(same.text)")
        }
    }
}

import FakeGrow
import Foundation
import Testing

/// The fake Grow server keeps the rules of GROW.md section 7, so that the adapter's tests against it mean something.
@Suite("Fake Grow")
struct FakeGrowTests {
    static let user = FakeGrow.standardUserID
    static let page = FakeGrow.standardPageCode
    /// 2024-03-05 23:30 in Israel (21:30 UTC): an hour before an Israeli midnight that UTC does not see.
    static let lateEvening = Date(timeIntervalSince1970: 1_709_674_200)

    /// A valid createPaymentProcess request; `changes` replace or add fields, a nil value removes one.
    static func processFields(_ changes: [String: String?] = [:]) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("pageCode", page), ("userId", user), ("chargeType", "1"), ("sum", "100"),
            ("successUrl", "https://shop.example/ok?order=7"), ("cancelUrl", "https://shop.example/cancel"),
            ("notifyUrl", "https://shop.example/notify"), ("description", "Coffee beans"),
            ("pageField[fullName]", "Tal Levi"), ("pageField[phone]", "0501234567"), ("cField1", "order-7"),
        ]
        for (name, value) in changes.sorted(by: { $0.key < $1.key }) {
            fields.removeAll { $0.0 == name }
            if let value { fields.append((name, value)) }
        }
        return fields
    }

    /// A started fake whose callbacks are answered 200 in process (nothing leaves the machine), stopped after `body`.
    static func withFake(accounts: [FakeGrow.Account] = [.standard], _ body: (FakeGrow) async throws -> Void) async throws {
        let fake = try await FakeGrow.start(accounts: accounts)
        fake.setDelivery { _ in 200 }
        fake.setNow(lateEvening)
        do {
            try await body(fake)
        } catch {
            await fake.stop()
            throw error
        }
        await fake.stop()
    }

    struct Created {
        let id: String
        let token: String
        let url: String
    }

    static func create(_ fake: FakeGrow, _ changes: [String: String?] = [:]) async throws -> Created {
        let answer = try await fake.call("createPaymentProcess", fields: processFields(changes))
        try #require(answer.status == "1", "\(answer.text)")
        return Created(id: answer[data: "processId"] ?? "", token: answer[data: "processToken"] ?? "", url: answer[data: "url"] ?? "")
    }

    /// A process paid on the page; its transaction.
    static func paid(_ fake: FakeGrow, _ changes: [String: String?] = [:]) async throws -> FakeGrow.Transaction {
        let process = try await create(fake, changes)
        _ = try await fake.pay(url: process.url)
        return try #require(fake.transactions.last)
    }

    static func ids(_ transaction: FakeGrow.Transaction) -> [(String, String)] {
        [("transactionId", String(transaction.id)), ("transactionToken", transaction.token)]
    }

    // MARK: - Wire format

    @Test("Answers come in Grow's envelope, with or without a trailing slash; an unknown method has its own shape")
    func envelope() async throws {
        try await Self.withFake { fake in
            let created = try await fake.call("createPaymentProcess/", fields: Self.processFields())
            #expect(created.httpStatus == 200)
            #expect(created.json["status"] as? Int == 1)
            #expect(created.json["err"] as? String == "")
            let url = try #require(created[data: "url"])
            let token = try #require(created[data: "processToken"])
            #expect(url.hasPrefix(fake.origin + "/far?l="))
            #expect(!url.contains(token))
            #expect(token.count == 32 && token.allSatisfy { $0.isHexDigit && !$0.isUppercase })

            let refused = try await fake.call("createPaymentProcess", fields: Self.processFields(["pageCode": nil]))
            #expect(refused.httpStatus == 200)
            #expect(refused.json["status"] as? Int == 0)
            #expect(refused.json["data"] as? String == "")
            #expect(refused.errorID == 54)
            #expect(refused.errorMessage == "חסרים נתונים:pageCode")

            let unknown = try await fake.call("getTokenOnly", fields: [("userId", Self.user)])
            #expect(unknown.json["err"] as? String == "unknown method")
            #expect(unknown.json["status"] as? String == "0")
            #expect(unknown[data: "message"] == "מתודה לא קיימת")
            #expect(fake.requests.map(\.method) == ["createPaymentProcess", "createPaymentProcess", "getTokenOnly"])
        }
    }

    @Test("Multipart and urlencoded bodies are both read; a JSON body reads as no fields at all")
    func bodies() async throws {
        try await Self.withFake { fake in
            let multipart = try await fake.call("createPaymentProcess", fields: Self.processFields(), multipart: true)
            #expect(multipart.status == "1", "\(multipart.text)")
            #expect(fake.requests.last?.contentType.hasPrefix("multipart/form-data; boundary=") == true)
            #expect(fake.requests.last?["pageField[fullName]"] == "Tal Levi")

            let urlencoded = try await fake.call("createPaymentProcess", fields: Self.processFields(["description": "Beans & cups"]))
            #expect(urlencoded.status == "1", "\(urlencoded.text)")
            #expect(fake.requests.last?["description"] == "Beans & cups")

            let json = try await fake.send("createPaymentProcess", body: #"{"userId":"\#(Self.user)","pageCode":"\#(Self.page)"}"#, contentType: "application/json")
            #expect(json.errorID == 701)
            #expect(fake.requests.last?.fields.isEmpty == true)
        }
    }

    @Test("createPaymentProcess refuses what Grow refuses, with Grow's error ids")
    func createValidation() async throws {
        try await Self.withFake { fake in
            let cases: [([String: String?], Int)] = [
                (["userId": "0000000000000000"], 701),
                (["userId": nil], 701),
                (["pageCode": "ffffffffffff"], 731),
                (["chargeType": nil], 54),
                (["sum": "0"], 707),
                (["sum": nil], 707),
                (["description": nil], 54),
                (["successUrl": nil], 54),
                (["pageField[fullName]": "Tal"], 717),
                (["pageField[phone]": "0301234567"], 717),
                (["paymentNum": "3", "maxPaymentNum": "6"], 736),
                (["paymentNum": "13"], 735),
                (["maxPaymentNum": "0"], 735),
                (["productData[0][price]": "60", "productData[0][quantity]": "1", "productData[1][price]": "30"], 617),
            ]
            for (changes, expected) in cases {
                let answer = try await fake.call("createPaymentProcess", fields: Self.processFields(changes))
                #expect(answer.errorID == expected, "\(changes): \(answer.text)")
            }
            let sum = try await fake.call("createPaymentProcess", fields: Self.processFields(["sum": "-5"]))
            #expect(sum.errorMessage == "לא ניתן לשלם בסכום הנמוך מ- 0")
            let lines = try await fake.call(
                "createPaymentProcess",
                fields: Self.processFields(["productData[0][price]": "40", "productData[0][quantity]": "2", "productData[1][price]": "20"])
            )
            #expect(lines.status == "1", "\(lines.text)")
            // The recurring page needs no chargeType.
            let recurring = try await fake.call(
                "createPaymentProcess",
                fields: Self.processFields(["pageCode": FakeGrow.standardRecurringPageCode, "chargeType": nil, "paymentNum": "12"])
            )
            #expect(recurring.status == "1", "\(recurring.text)")
        }
    }

    @Test("A page without J5 or tokens refuses them (714); a platform account needs its apiKey (723, 801)")
    func permissions() async throws {
        let account = FakeGrow.Account(userID: "1111222233334444", apiKey: "57ce86548429", pages: [FakeGrow.Page(code: "c0ffee000001")])
        try await Self.withFake(accounts: [.standard, account]) { fake in
            let fields = { (changes: [String: String?]) in
                Self.processFields(["userId": account.userID, "pageCode": "c0ffee000001", "apiKey": "57ce86548429"].merging(changes) { $1 })
            }
            let created = try await fake.call("createPaymentProcess", fields: fields([:]))
            #expect(created.status == "1", "\(created.text)")
            #expect(try await fake.call("createPaymentProcess", fields: fields(["apiKey": nil])).errorID == 723)
            #expect(try await fake.call("createPaymentProcess", fields: fields(["apiKey": "000000000000"])).errorID == 801)
            #expect(try await fake.call("createPaymentProcess", fields: fields(["chargeType": "2"])).errorID == 714)
            #expect(try await fake.call("createPaymentProcess", fields: fields(["chargeType": "3"])).errorID == 714)
            #expect(try await fake.call("createPaymentProcess", fields: fields(["saveCardToken": "1"])).errorID == 714)
            // Another business's page.
            #expect(try await fake.call("createPaymentProcess", fields: Self.processFields(["pageCode": "c0ffee000001"])).errorID == 731)
        }
    }

    // MARK: - The page and the callback

    @Test("Paying sends the browser to successUrl and posts the form-encoded callback of GROW.md section 3")
    func payAndCallback() async throws {
        try await Self.withFake { fake in
            let process = try await Self.create(fake, ["sum": "16.50", "cField2": "a b"])
            let redirect = try await fake.pay(url: process.url)
            #expect(redirect == "https://shop.example/ok?order=7&response=success&cField1=order-7&cField2=a+b")

            let (callback, answer) = try #require(fake.sentCallbacks.first)
            #expect(fake.sentCallbacks.count == 1 && answer == 200)
            #expect(callback.url == "https://shop.example/notify")
            let body = callback.body
            #expect(body.hasPrefix("err=&status=1&data%5B"))
            #expect(body.contains("&data%5Bstatus%5D=%D7%A9%D7%95%D7%9C%D7%9D&"))
            #expect(body.contains("&data%5BstatusCode%5D=2&"))
            #expect(body.contains("&data%5Bsum%5D=16.5&"))
            #expect(body.contains("&data%5BpaymentDate%5D=05%2F3%2F24&"))
            #expect(body.contains("&data%5BcardSuffix%5D=4580&"))
            #expect(body.contains("&data%5BprocessId%5D=\(process.id)&"))
            #expect(body.contains("&data%5BprocessToken%5D=\(process.token)&"))
            #expect(body.contains("&data%5BtransactionId%5D=\(callback.transactionID)&"))
            #expect(body.hasSuffix("&data%5BcustomFields%5D%5BcField1%5D=order-7&data%5BcustomFields%5D%5BcField2%5D=a+b"))
            #expect(!body.contains("cardToken"))

            let info = try await fake.call(
                "getPaymentProcessInfo", fields: [("pageCode", Self.page), ("processId", process.id), ("processToken", process.token)]
            )
            #expect(info.transactions.count == 1)
            #expect(info.transactions.first?["statusCode"] == "2")
            #expect(info.transactions.first?["transactionId"] == String(callback.transactionID))
            #expect((info.data["customField"] as? [String: String])?["cField1"] == "order-7")
            await #expect(throws: FakeGrow.PageError.notPayable) { try await fake.pay(url: process.url) }
        }
    }

    @Test("A declined card keeps the customer on the page; the page pays and cancels over HTTP too")
    func hostedPage() async throws {
        try await Self.withFake { fake in
            let process = try await Self.create(fake)
            await #expect(throws: FakeGrow.PageError.declined) { try await fake.pay(url: process.url, card: "4000000000000002") }
            let link = try #require(URLComponents(string: process.url)?.queryItems?.first { $0.name == "l" }?.value)

            let page = try await fake.browse(process.url)
            #expect(page.httpStatus == 200 && page.html.contains("action=\"/far/pay\""))
            let declined = try await fake.browse("/far/pay", form: [("l", link), ("card", "4000000000000002"), ("payments", "1")])
            #expect(declined.httpStatus == 200 && declined.html.contains("כרטיס האשראי לא אושר"))
            let paid = try await fake.browse("/far/pay", form: [("l", link), ("card", "4580000000000000"), ("payments", "1")])
            #expect(paid.httpStatus == 303)
            #expect(paid.location == "https://shop.example/ok?order=7&response=success&cField1=order-7")
            #expect(fake.processes.last?.status == .paid)

            let other = try await Self.create(fake)
            let otherLink = try #require(URLComponents(string: other.url)?.queryItems?.first { $0.name == "l" }?.value)
            let cancelled = try await fake.browse("/far/cancel", form: [("l", otherLink)])
            #expect(cancelled.httpStatus == 303 && cancelled.location == "https://shop.example/cancel")
            #expect(fake.processes.last?.status == .cancelled)
        }
    }

    @Test("After 10 minutes the page refuses with 709 and the process shows only the placeholder")
    func expiry() async throws {
        try await Self.withFake { fake in
            let process = try await Self.create(fake)
            fake.advance(seconds: 600)
            await #expect(throws: FakeGrow.PageError.expired) { try await fake.pay(url: process.url) }
            #expect(fake.processes.last?.status == .expired)

            let fields = [("pageCode", Self.page), ("processId", process.id), ("processToken", process.token)]
            let info = try await fake.call("getPaymentProcessInfo", fields: fields)
            #expect(info.transactions.count == 1)
            #expect(info.transactions.first?["statusCode"] == "0" && info.transactions.first?["transactionId"] == "0")
            fake.setPlaceholderForUnpaid(false)
            #expect(try await fake.call("getPaymentProcessInfo", fields: fields).transactions.isEmpty)

            #expect(try await fake.call("getPaymentProcessInfo", fields: Array(fields.dropLast())).errorID == 54)
            #expect(try await fake.call("getPaymentProcessInfo", fields: Array(fields.dropLast()) + [("processToken", "0")]).errorID == 730)
            let recurringPage = [("pageCode", FakeGrow.standardRecurringPageCode)] + fields.dropFirst()
            #expect(try await fake.call("getPaymentProcessInfo", fields: recurringPage).errorID == 731)
        }
    }

    @Test("Callback modes: held until released, sent twice, dropped; unapproved ones are resent at most 5 times")
    func callbackModes() async throws {
        try await Self.withFake { fake in
            fake.setCallbackMode(.hold)
            _ = try await Self.paid(fake)
            #expect(fake.sentCallbacks.isEmpty)
            await fake.releaseHeldCallbacks()
            #expect(fake.sentCallbacks.count == 1)

            fake.setCallbackMode(.duplicate)
            _ = try await Self.paid(fake)
            #expect(fake.sentCallbacks.count == 3)

            fake.setCallbackMode(.drop)
            let dropped = try await Self.paid(fake)
            #expect(fake.sentCallbacks.count == 3)

            // Approve all but the dropped one: only it is resent, five times and no more.
            for transaction in fake.transactions where transaction.id != dropped.id {
                let approve = try await fake.call("approveTransaction", fields: [("pageCode", Self.page)] + Self.ids(transaction))
                #expect(approve.status == "1")
            }
            for _ in 0..<7 { await fake.resendUnapproved() }
            #expect(fake.sentCallbacks.count == 8)
            #expect(fake.sentCallbacks.dropFirst(3).allSatisfy { $0.0.transactionID == dropped.id })
        }
    }

    @Test("The default delivery POSTs the form body over HTTP; its bracket keys decode to flat names")
    func defaultDelivery() async throws {
        let fake = try await FakeGrow.start()
        // The fake's own API stands in for the merchant: it records what arrived and answers 200.
        let process = try await Self.create(fake, ["notifyUrl": fake.baseURL + "updateMyUrl"])
        _ = try await fake.pay(url: process.url)
        let received = fake.requests.last
        await fake.stop()

        #expect(fake.sentCallbacks.map(\.1) == [200])
        #expect(received?.method == "updateMyUrl")
        #expect(received?.contentType == "application/x-www-form-urlencoded")
        #expect(received?["status"] == "1" && received?["err"] == "")
        #expect(received?["data[status]"] == "שולם" && received?["data[processToken]"] == process.token)
        #expect(received?["data[customFields][cField1]"] == "order-7")
    }

    @Test("A forged callback is the real one with fields changed, and is not sent")
    func forgedCallback() async throws {
        try await Self.withFake { fake in
            let process = try await Self.create(fake)
            let forged = try #require(fake.callback(forProcessURL: process.url, overrides: ["sum": "1", "cField1": "order-8"]))
            #expect(forged.body.contains("&data%5Bsum%5D=1&"))
            #expect(forged.body.hasSuffix("data%5BcustomFields%5D%5BcField1%5D=order-8"))
            #expect(fake.sentCallbacks.isEmpty && fake.transactions.isEmpty)
        }
    }

    // MARK: - Server calls

    @Test("approveTransaction is idempotent on a paid transaction and refuses a J5 hold (722) or a wrong token (716)")
    func approve() async throws {
        try await Self.withFake { fake in
            let paid = try await Self.paid(fake)
            let fields = [("pageCode", Self.page)] + Self.ids(paid)
            for _ in 0..<2 {
                let answer = try await fake.call("approveTransaction", fields: fields)
                #expect(answer.text == #"{"status":1,"err":"","data":""}"#)
            }
            #expect(fake.transactions.first?.approved == true)
            #expect(try await fake.call("approveTransaction", fields: [("pageCode", Self.page), ("transactionId", String(paid.id))]).errorID == 54)
            let wrongToken = [("pageCode", Self.page), ("transactionId", String(paid.id)), ("transactionToken", String(repeating: "0", count: 32))]
            #expect(try await fake.call("approveTransaction", fields: wrongToken).errorID == 716)

            let held = try await Self.paid(fake, ["chargeType": "2"])
            #expect(held.statusCode == 11)
            #expect(try await fake.call("approveTransaction", fields: [("pageCode", Self.page)] + Self.ids(held)).errorID == 722)
        }
    }

    @Test("getTransactionInfo is flat, carries the saved cardToken, and answers 716 / 731 on a mismatch")
    func transactionInfo() async throws {
        try await Self.withFake { fake in
            let paid = try await Self.paid(fake, ["saveCardToken": "1"])
            let cardToken = try #require(paid.cardToken)
            #expect(fake.sentCallbacks.first?.0.body.contains("data%5BcardToken%5D=\(cardToken)") == true)

            let info = try await fake.call("getTransactionInfo", fields: [("pageCode", Self.page)] + Self.ids(paid))
            #expect(info[data: "statusCode"] == "2" && info[data: "status"] == "שולם")
            #expect(info[data: "sum"] == "100" && info[data: "cardToken"] == cardToken)
            #expect(info[data: "processId"] == String(paid.processID ?? 0))
            let wrongPage = [("pageCode", FakeGrow.standardRecurringPageCode)] + Self.ids(paid)
            #expect(try await fake.call("getTransactionInfo", fields: wrongPage).errorID == 731)
            let wrongID = [("pageCode", Self.page), ("transactionId", "1"), ("transactionToken", paid.token)]
            #expect(try await fake.call("getTransactionInfo", fields: wrongID).errorID == 716)
        }
    }

    @Test("Installments split the sum, the first payment taking the rounding")
    func installments() async throws {
        try await Self.withFake { fake in
            let process = try await Self.create(fake, ["maxPaymentNum": "6"])
            await #expect(throws: FakeGrow.PageError.invalidPayments) { try await fake.pay(url: process.url, payments: 7) }
            _ = try await fake.pay(url: process.url, payments: 3)
            let body = try #require(fake.sentCallbacks.first?.0.body)
            #expect(body.contains("&data%5BpaymentType%5D=4&"))
            #expect(body.contains("&data%5BallPaymentsNum%5D=3&"))
            #expect(body.contains("&data%5BfirstPaymentSum%5D=33.34&"))
            #expect(body.contains("&data%5BperiodicalPaymentSum%5D=33.33&"))
        }
    }

    @Test("A token charge is synchronous; its transactionUniqueIdentifier can never be used again, even after a decline")
    func tokenCharges() async throws {
        try await Self.withFake { fake in
            let cardToken = try #require(try await Self.paid(fake, ["saveCardToken": "1"]).cardToken)
            let charge = { (identifier: String, changes: [String: String?]) in
                var fields: [(String, String)] = [
                    ("userId", Self.user), ("cardToken", cardToken), ("sum", "25"), ("description", "Monthly beans"),
                    ("paymentType", "2"), ("paymentNum", "1"), ("pageField[fullName]", "Tal Levi"), ("pageField[phone]", "0501234567"),
                    ("transactionUniqueIdentifier", identifier),
                ]
                for (name, value) in changes {
                    fields.removeAll { $0.0 == name }
                    if let value { fields.append((name, value)) }
                }
                return try await fake.call("createTransactionWithToken", fields: fields)
            }

            let first = try await charge("77", [:])
            #expect(first[data: "statusCode"] == "2" && first[data: "status"] == "שולם" && first[data: "sum"] == "25", "\(first.text)")
            #expect(try await charge("77", [:]).errorID == 1010)
            #expect(try await charge("78", ["cardToken": String(repeating: "a", count: 32)]).errorID == 140)
            #expect(try await charge("79", ["pageField[phone]": nil]).errorID == 54)
            #expect(try await charge("80", ["pageField[fullName]": "Tal"]).errorID == 717)
            #expect(try await charge("2147483648", [:]).errorID == 54)

            fake.declineToken(cardToken, errorID: 103)
            let declined = try await charge("81", [:])
            #expect(declined.errorID == 103 && declined.errorMessage == "כרטיס האשראי לא אושר")
            #expect(try await charge("81", [:]).errorID == 1010)
            #expect(fake.sentCallbacks.count == 1)  // the hosted payment's only

            let lookup = [("userId", Self.user), ("cardToken", cardToken)]
            let found = try await fake.call("getTokenTransactionsByExternalIdentifiers", fields: lookup + [("transactionUniqueIdentifier", "77")])
            #expect(found.transactions.map { $0["transactionId"] } == [first[data: "transactionId"]])
            #expect(found.transactions.first?["received_time"] == "2024-03-05 23:30:00")
            let none = try await fake.call("getTokenTransactionsByExternalIdentifiers", fields: lookup + [("transactionUniqueIdentifier", "81")])
            #expect(none.status == "1" && none.transactions.isEmpty)
            let both = lookup + [("transactionUniqueIdentifier", "77"), ("transactionGroupIdentifier", "1")]
            #expect(try await fake.call("getTokenTransactionsByExternalIdentifiers", fields: both).errorID == 54)
            #expect(try await fake.call("getTokenTransactionsByExternalIdentifiers", fields: lookup).errorID == 54)
        }
    }

    @Test("Refunds: on the payment's Israeli calendar day only the whole sum (130); a partial one from the next day")
    func refunds() async throws {
        try await Self.withFake { fake in
            let paid = try await Self.paid(fake)
            let refund = { (fields: [(String, String)]) in
                try await fake.call("refundTransaction", fields: [("userId", Self.user)] + Self.ids(paid) + fields)
            }
            #expect(try await refund([("refundSum", "30")]).errorID == 130)
            #expect(try await refund([("sum", "30")]).errorID == 707)
            // 00:30 in Israel, still 22:30 of the same day in UTC.
            fake.advance(seconds: 3600)
            let partial = try await refund([("refundSum", "30")])
            #expect(partial.status == "1", "\(partial.text)")
            #expect(partial[data: "statusCode"] == "3" && partial[data: "status"] == "תשלום שזוכה")
            #expect(partial[data: "refundedTransactionId"] == String(paid.id) && partial[data: "sum"] == "30")
            #expect(partial[data: "transactionId"] != String(paid.id))
            #expect(try await refund([("refundSum", "80")]).errorID == 105)
            #expect(try await refund([("refundSum", "30"), ("pageCode", FakeGrow.standardRecurringPageCode)]).errorID == 731)
            #expect(try await refund([("refundSum", "70")]).status == "1")
            #expect(try await refund([("refundSum", "1")]).errorID == 210)
            #expect(fake.transactions.first?.status == .refunded)

            let sameDay = try await Self.paid(fake)
            let whole = try await fake.call("refundTransaction", fields: [("userId", Self.user), ("refundSum", "100")] + Self.ids(sameDay))
            #expect(whole.status == "1", "\(whole.text)")
        }
    }

    @Test("Settling a J5 hold: not above it (804, 814), once (808), within 3 days (803)")
    func settle() async throws {
        try await Self.withFake { fake in
            let held = try await Self.paid(fake, ["chargeType": "2"])
            #expect(fake.sentCallbacks.first?.0.body.contains("data%5BstatusCode%5D=11") == true)
            let settle = { (transaction: FakeGrow.Transaction, sum: String) in
                try await fake.call("settleSuspendedTransaction", fields: [("userId", Self.user), ("sum", sum)] + Self.ids(transaction))
            }
            #expect(try await settle(held, "120").errorID == 804)
            #expect(try await settle(held, "131").errorID == 814)
            let settled = try await settle(held, "80")
            #expect(settled[data: "statusCode"] == "2" && settled[data: "sum"] == "80" && settled[data: "asmachta"] != nil)
            #expect(settled[data: "transactionId"] == String(held.id))
            #expect(try await settle(held, "80").errorID == 808)

            let late = try await Self.paid(fake, ["chargeType": "2"])
            fake.advance(seconds: 3 * 24 * 3600)
            #expect(try await settle(late, "100").errorID == 803)
            #expect(fake.transactions.first { $0.id == late.id }?.status == .expired)
        }
    }

    @Test("Failure injection: a 500 that did nothing, a 500 after the work was done, an error envelope")
    func failures() async throws {
        try await Self.withFake { fake in
            let paid = try await Self.paid(fake)
            let info = [("pageCode", Self.page)] + Self.ids(paid)
            fake.failNext("getTransactionInfo", with: .http500)
            let failed = try await fake.call("getTransactionInfo", fields: info)
            #expect(failed.httpStatus == 500 && failed.json.isEmpty)
            #expect(try await fake.call("getTransactionInfo", fields: info).status == "1")

            fake.failNext("refundTransaction", with: .applyThenHTTP500)
            let lost = try await fake.call("refundTransaction", fields: [("userId", Self.user), ("refundSum", "100")] + Self.ids(paid))
            #expect(lost.httpStatus == 500)
            #expect(fake.transactions.first?.status == .refunded)

            fake.failNext("approveTransaction", with: .error(id: 819, message: "לא ניתן לבצע תשלום כרגע"))
            let refused = try await fake.call("approveTransaction", fields: info)
            #expect(refused.httpStatus == 200 && refused.errorID == 819)
            #expect(fake.requests.count == 5)
        }
    }
}

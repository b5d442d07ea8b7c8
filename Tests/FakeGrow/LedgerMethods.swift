import Foundation

/// A request's fields by name. An empty value counts as not sent, as Grow's PHP `empty()` reads it.
struct Fields {
    let pairs: [(String, String)]

    subscript(name: String) -> String? {
        guard let value = pairs.first(where: { $0.0 == name })?.1.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        return value
    }

    func required(_ name: String) throws(GrowError) -> String {
        guard let value = self[name] else { throw .missing(name) }
        return value
    }
}

/// What an API method answers: data for the success envelope, a refusal, or "unknown method".
enum MethodOutcome {
    case data(JSON)
    case refused(GrowError)
    case unknownMethod
}

extension Ledger {
    mutating func perform(_ method: String, _ fields: Fields) -> MethodOutcome {
        expireOverdue()
        do throws(GrowError) {
            switch method {
            case "createPaymentProcess": return .data(try createPaymentProcess(fields))
            case "getPaymentProcessInfo": return .data(try getPaymentProcessInfo(fields))
            case "getTransactionInfo": return .data(try getTransactionInfo(fields))
            case "approveTransaction": return .data(try approveTransaction(fields))
            case "createTransactionWithToken": return .data(try createTransactionWithToken(fields))
            case "getTokenTransactionsByExternalIdentifiers": return .data(try getTokenTransactions(fields))
            case "refundTransaction": return .data(try refundTransaction(fields))
            case "settleSuspendedTransaction": return .data(try settleSuspendedTransaction(fields))
            case "cancelBitTransaction": return .data(try cancelBitTransaction(fields))
            default: return .unknownMethod
            }
        } catch {
            return .refused(error)
        }
    }

    // MARK: - Credentials

    /// The business named by `userId` (701 when missing or unknown), and its apiKey checked.
    func business(_ fields: Fields) throws(GrowError) -> FakeGrow.Account {
        guard let userID = fields["userId"], let account = accounts.first(where: { $0.userID == userID }) else { throw .unknownUser }
        try checkAPIKey(fields, account)
        return account
    }

    /// The page named by `pageCode` (54 when missing, 731 when no business has it), and its business's apiKey checked.
    func page(_ fields: Fields) throws(GrowError) -> (FakeGrow.Account, FakeGrow.Page) {
        let code = try fields.required("pageCode")
        guard let account = account(ofPage: code), let page = page(code) else { throw .pageMismatch }
        try checkAPIKey(fields, account)
        return (account, page)
    }

    func checkAPIKey(_ fields: Fields, _ account: FakeGrow.Account) throws(GrowError) {
        guard let key = account.apiKey else { return }
        guard let sent = fields["apiKey"] else { throw .apiKeyRequired }
        guard sent == key else { throw .apiKeyInvalid }
    }

    /// The transaction named by `transactionId` + `transactionToken` (716 when they do not match one of this business's).
    func transactionIndex(_ fields: Fields, userID: String? = nil) throws(GrowError) -> Int {
        let idText = try fields.required("transactionId")
        let token = try fields.required("transactionToken")
        guard let id = Int(idText),
              let index = transactions.firstIndex(where: { $0.id == id && $0.token == token }),
              userID == nil || transactions[index].userID == userID
        else { throw .unknownTransaction }
        return index
    }

    /// A transaction answers to the page it was made on; a token charge made without one, to any page of its business.
    func pageMatches(_ transaction: Transaction, page: FakeGrow.Page, of account: FakeGrow.Account) -> Bool {
        if let own = transaction.pageCode { return own == page.code }
        return transaction.userID == account.userID
    }

    /// The optional `pageCode` of refund and settle: when sent it must be this business's and the transaction's (731).
    func checkOptionalPage(_ fields: Fields, account: FakeGrow.Account, transaction: Transaction) throws(GrowError) {
        guard let code = fields["pageCode"] else { return }
        guard let page = account.pages.first(where: { $0.code == code }), pageMatches(transaction, page: page, of: account) else {
            throw .pageMismatch
        }
    }

    // MARK: - createPaymentProcess

    mutating func createPaymentProcess(_ fields: Fields) throws(GrowError) -> JSON {
        let account = try business(fields)
        let code = try fields.required("pageCode")
        guard let page = account.pages.first(where: { $0.code == code }) else { throw .pageMismatch }

        let chargeType: Int
        if let text = fields["chargeType"] {
            guard let value = Int(text), (1...3).contains(value) else { throw .missing("chargeType") }
            chargeType = value
        } else if page.kind == .recurring {
            chargeType = 1
        } else {
            throw .missing("chargeType")
        }
        guard let sum = fields["sum"].flatMap(Shekels.agorot), sum > 0 else { throw .sumBelowZero }
        let successURL = try fields.required("successUrl")
        let cancelURL = try fields.required("cancelUrl")
        let description = try fields.required("description")
        let fullName = fields["pageField[fullName]"] ?? ""
        let phone = fields["pageField[phone]"] ?? ""
        guard Self.isFullName(fullName), Self.isMobile(phone) else { throw .nameOrPhone }

        let paymentNumText = fields["paymentNum"], maxPaymentNumText = fields["maxPaymentNum"]
        if paymentNumText != nil, maxPaymentNumText != nil { throw .bothPaymentCounts }
        let paymentNum = try Self.paymentCount(paymentNumText, most: page.maxPayments)
        let maxPaymentNum = try Self.paymentCount(maxPaymentNumText, most: page.maxPayments)
        let saveCardToken = fields["saveCardToken"] == "1"
        if chargeType == 2, !page.j5 { throw .notPermitted }
        if chargeType == 3 || saveCardToken, !page.tokens { throw .notPermitted }
        if let total = try Self.productTotal(fields), total != sum { throw .productTotal }

        let link = Self.newToken()
        let process = Process(
            id: newProcessID(), token: Self.newToken(), url: "\(origin)/far?l=\(link)",
            userID: account.userID, pageCode: page.code, status: .created, sum: sum, chargeType: chargeType,
            cFields: Dictionary(uniqueKeysWithValues: (1...9).compactMap { n in fields["cField\(n)"].map { ("cField\(n)", $0) } }),
            successURL: successURL, cancelURL: cancelURL, notifyURL: fields["notifyUrl"], description: description,
            fullName: fullName, phone: phone, email: fields["pageField[email]"] ?? "",
            paymentNum: paymentNum, maxPaymentNum: maxPaymentNum, saveCardToken: saveCardToken,
            createdAt: now, transactionID: nil, fields: fields.pairs, link: link
        )
        processes.append(process)
        return .object([("processId", .number(process.id)), ("processToken", .string(process.token)), ("url", .string(process.url))])
    }

    /// At least two words.
    static func isFullName(_ text: String) -> Bool {
        text.split(whereSeparator: \.isWhitespace).count >= 2
    }

    /// An Israeli mobile: `05` and eight digits.
    static func isMobile(_ text: String) -> Bool {
        text.count == 10 && text.hasPrefix("05") && text.allSatisfy(\.isASCIIDigit)
    }

    /// paymentNum / maxPaymentNum: 1 up to the page's maximum, else 735.
    static func paymentCount(_ text: String?, most: Int) throws(GrowError) -> Int? {
        guard let text else { return nil }
        guard let count = Int(text), (1...max(most, 1)).contains(count) else { throw .paymentCount }
        return count
    }

    /// The total of the `productData[i][price]` × `productData[i][quantity]` lines in agorot, nil without lines.
    static func productTotal(_ fields: Fields) throws(GrowError) -> Int? {
        var prices: [String: String] = [:], quantities: [String: String] = [:]
        for (name, value) in fields.pairs where name.hasPrefix("productData[") && name.hasSuffix("]") {
            let parts = name.dropFirst("productData[".count).dropLast().components(separatedBy: "][")
            guard parts.count == 2 else { continue }
            if parts[1] == "price" { prices[parts[0]] = value }
            if parts[1] == "quantity" { quantities[parts[0]] = value }
        }
        let lines = Set(prices.keys).union(quantities.keys)
        guard !lines.isEmpty else { return nil }
        var total = 0
        for line in lines {
            guard let price = prices[line].flatMap(Shekels.agorot) else { throw .invalidProductData }
            guard let quantity = Int(quantities[line] ?? "1"), quantity > 0 else { throw .invalidProductData }
            total += price * quantity
        }
        return total
    }

    // MARK: - getPaymentProcessInfo

    /// The process a call names by `processId` and `processToken`, on the page it was made on.
    func namedProcess(_ fields: Fields) throws(GrowError) -> Process {
        let (account, page) = try self.page(fields)
        let idText = try fields.required("processId")
        let token = try fields.required("processToken")
        guard let id = Int(idText), let process = processes.first(where: { $0.id == id && $0.token == token }) else {
            throw .unknownProcess
        }
        guard process.pageCode == page.code, process.userID == account.userID else { throw .pageMismatch }
        return process
    }

    func getPaymentProcessInfo(_ fields: Fields) throws(GrowError) -> JSON {
        let process = try namedProcess(fields)
        let transactions: [JSON]
        if let transaction = process.transactionID.flatMap({ id in self.transactions.first { $0.id == id } }) {
            transactions = [stringObject(transactionFields(transaction))]
        } else {
            transactions = placeholderForUnpaid ? [Self.placeholderTransaction] : []
        }
        return .object([
            ("processId", .string(String(process.id))), ("processToken", .string(process.token)),
            ("customField", customFieldJSON(process.cFields)), ("transactions", .array(transactions)),
        ])
    }

    // MARK: - getTransactionInfo

    func getTransactionInfo(_ fields: Fields) throws(GrowError) -> JSON {
        let (account, page) = try self.page(fields)
        let transaction = transactions[try transactionIndex(fields)]
        guard pageMatches(transaction, page: page, of: account) else { throw .pageMismatch }
        let process = transaction.processID.flatMap { id in processes.first { $0.id == id } }
        guard case .object(let members) = stringObject(transactionFields(transaction)) else { return .string("") }
        let extra: [(String, JSON)] = [
            ("processId", .string(process.map { String($0.id) } ?? "")), ("processToken", .string(process?.token ?? "")),
            ("paymentLinkProcessId", .string("")), ("paymentLinkProcessToken", .string("")),
            ("customField", customFieldJSON(transaction.cFields)),
        ]
        let missingDebits: [(String, JSON)] = ["directDebitId", "recurringDebitId"]
            .filter { name in !members.contains { $0.0 == name } }.map { ($0, .string("")) }
        return .object(members + extra + missingDebits)
    }

    // MARK: - approveTransaction

    /// Changes nothing but the flag: the charge stands either way (GROW.md 2.4).
    mutating func approveTransaction(_ fields: Fields) throws(GrowError) -> JSON {
        let (account, page) = try self.page(fields)
        let index = try transactionIndex(fields)
        guard pageMatches(transactions[index], page: page, of: account) else { throw .pageMismatch }
        guard transactions[index].statusCode == 2 else { throw .notPaid }
        transactions[index].approved = true
        return .string("")
    }

    // MARK: - createTransactionWithToken

    /// A synchronous charge of a saved card; no callback.
    mutating func createTransactionWithToken(_ fields: Fields) throws(GrowError) -> JSON {
        let account = try business(fields)
        // The identifier is spent as soon as it arrives: a later call with it gets 1010 whatever became of this one.
        let identifier = try Self.identifier(try fields.required("transactionUniqueIdentifier"), name: "transactionUniqueIdentifier")
        guard usedIdentifiers[account.userID, default: []].insert(identifier).inserted else { throw .duplicateIdentifier }

        let cardToken = try fields.required("cardToken")
        let sumText = try fields.required("sum")
        let description = try fields.required("description")
        let paymentTypeText = try fields.required("paymentType")
        let paymentNumText = try fields.required("paymentNum")
        let fullName = try fields.required("pageField[fullName]")
        let phone = try fields.required("pageField[phone]")
        guard let sum = Shekels.agorot(sumText), sum > 0 else { throw .sumBelowZero }
        guard Self.isFullName(fullName), Self.isMobile(phone) else { throw .nameOrPhone }
        guard let paymentType = Int(paymentTypeText), [1, 2, 4].contains(paymentType) else { throw .missing("paymentType") }
        // 1 direct debit: 1–48 runs; 2 regular: one payment; 4 installments: up to 12.
        let most = paymentType == 1 ? 48 : paymentType == 2 ? 1 : 12
        guard let payments = Int(paymentNumText), (1...most).contains(payments) else { throw .paymentCount }
        guard let saved = savedCards[cardToken], saved.userID == account.userID else { throw .unknownToken }
        if let errorID = declinedTokens[cardToken] { throw .tokenDeclined(errorID) }

        let group = try fields["transactionGroupIdentifier"].map { text throws(GrowError) in
            try Self.identifier(text, name: "transactionGroupIdentifier")
        }
        let transaction = Transaction(
            id: newTransactionID(), token: Self.newToken(), kind: .token, userID: account.userID,
            pageCode: fields["pageCode"].flatMap { code in account.pages.first { $0.code == code }?.code },
            processID: nil, status: .paid, sum: sum, refunded: 0, cardToken: cardToken, card: saved.card,
            payments: payments, paymentType: paymentType, transactionTypeID: 1,
            uniqueIdentifier: identifier, groupIdentifier: group, refundedTransactionID: nil, approved: false,
            asmachta: Self.newAsmachta(), description: description, fullName: fullName, phone: phone,
            email: fields["pageField[email]"] ?? "",
            cFields: Dictionary(uniqueKeysWithValues: (1...9).compactMap { n in fields["cField\(n)"].map { ("cField\(n)", $0) } }),
            createdAt: now, paidAt: now, heldSum: nil,
            directDebitID: paymentType == 1 ? newDebitID() : nil,
            recurringDebitID: fields["isRecurringDebitPayment"] == "1" ? newDebitID() : Int(fields["recurringDebitId"] ?? "")
        )
        transactions.append(transaction)
        // The response has no cardToken: the caller sent it.
        return stringObject(transactionFields(transaction).filter { $0.0 != "cardToken" })
    }

    /// transactionUniqueIdentifier / transactionGroupIdentifier: a positive 31-bit integer, else 54 naming it.
    static func identifier(_ text: String, name: String) throws(GrowError) -> Int {
        guard let value = Int(text), (1...Int(Int32.max)).contains(value) else { throw .missing(name) }
        return value
    }

    // MARK: - getTokenTransactionsByExternalIdentifiers

    func getTokenTransactions(_ fields: Fields) throws(GrowError) -> JSON {
        let account = try business(fields)
        let cardToken = try fields.required("cardToken")
        let unique = fields["transactionUniqueIdentifier"], group = fields["transactionGroupIdentifier"]
        if unique != nil, group != nil {
            throw GrowError(id: 54, message: "יש לשלוח transactionUniqueIdentifier או transactionGroupIdentifier, לא את שניהם")
        }
        guard let text = unique ?? group else { throw .missing("transactionUniqueIdentifier") }
        let identifier = try Self.identifier(text, name: unique != nil ? "transactionUniqueIdentifier" : "transactionGroupIdentifier")
        guard let saved = savedCards[cardToken], saved.userID == account.userID else { throw .unknownToken }
        let found = transactions.filter { transaction in
            transaction.kind == .token && transaction.cardToken == cardToken
                && (unique != nil ? transaction.uniqueIdentifier == identifier : transaction.groupIdentifier == identifier)
        }
        return .object([
            ("transactions", .array(found.map { transaction in
                stringObject(
                    transactionFields(transaction) + [
                        ("received_time", GrowCalendar.timestamp(transaction.createdAt)),
                        ("complete_time", GrowCalendar.timestamp(transaction.paidAt)),
                    ]
                )
            }))
        ])
    }

    // MARK: - refundTransaction

    /// A new refund transaction (statusCode 3) against a paid one; same day only the whole sum.
    mutating func refundTransaction(_ fields: Fields) throws(GrowError) -> JSON {
        let account = try business(fields)
        _ = try fields.required("transactionId")
        _ = try fields.required("transactionToken")
        // Grow reads only refundSum: a `sum` in its place is an invalid amount.
        guard let amount = fields["refundSum"].flatMap(Shekels.agorot), amount > 0 else { throw .invalidSum }
        let index = try transactionIndex(fields, userID: account.userID)
        let original = transactions[index]
        try checkOptionalPage(fields, account: account, transaction: original)
        switch (original.kind, original.status) {
        case (.hosted, .refunded), (.token, .refunded): throw .alreadyRefunded
        case (.hosted, .paid), (.hosted, .partiallyRefunded), (.token, .paid), (.token, .partiallyRefunded): break
        default: throw .notPaid
        }
        let remaining = original.sum - original.refunded
        guard amount <= remaining else { throw .refundAboveCharge }
        if GrowCalendar.sameDay(original.paidAt, now), !(amount == original.sum && original.refunded == 0) {
            throw .sameDayPartialRefund
        }

        transactions[index].refunded += amount
        transactions[index].status = transactions[index].refunded == original.sum ? .refunded : .partiallyRefunded
        let refund = Transaction(
            id: newTransactionID(), token: Self.newToken(), kind: .refund, userID: original.userID,
            pageCode: original.pageCode, processID: nil, status: .refunded, sum: amount, refunded: 0,
            cardToken: nil, card: original.card, payments: 1, paymentType: original.paymentType,
            transactionTypeID: original.transactionTypeID, uniqueIdentifier: nil, groupIdentifier: nil,
            refundedTransactionID: original.id, approved: false, asmachta: Self.newAsmachta(),
            description: original.description, fullName: original.fullName, phone: original.phone, email: original.email,
            cFields: [:], createdAt: now, paidAt: now, heldSum: nil, directDebitID: nil, recurringDebitID: nil
        )
        transactions.append(refund)
        guard case .object(let members) = stringObject(transactionFields(refund)) else { return .string("") }
        return .object(members + [("payerBankAccountDetails", .string(""))])
    }

    // MARK: - settleSuspendedTransaction

    /// Captures a J5 hold (any sum up to the hold) within 3 days; no callback.
    mutating func settleSuspendedTransaction(_ fields: Fields) throws(GrowError) -> JSON {
        let account = try business(fields)
        _ = try fields.required("transactionId")
        _ = try fields.required("transactionToken")
        let sumText = try fields.required("sum")
        guard let sum = Shekels.agorot(sumText), sum > 0 else { throw .invalidSum }
        let index = try transactionIndex(fields, userID: account.userID)
        let transaction = transactions[index]
        try checkOptionalPage(fields, account: account, transaction: transaction)
        switch transaction.status {
        case .suspended: break
        case .expired: throw .holdExpired
        case .paid, .partiallyRefunded, .refunded: throw .alreadySettled
        }
        let hold = transaction.heldSum ?? transaction.sum
        if sum * 10 > hold * 13 { throw .settleFarAboveHold }
        if sum > hold { throw .settleAboveHold }
        transactions[index].status = .paid
        transactions[index].sum = sum
        transactions[index].paidAt = now
        return stringObject(transactionFields(transactions[index]))
    }

    // MARK: - cancelBitTransaction

    /// Cancels a Bit payment by its process (GROW.md 2.9); any other process gets 722.
    mutating func cancelBitTransaction(_ fields: Fields) throws(GrowError) -> JSON {
        let process = try namedProcess(fields)
        guard let index = transactions.firstIndex(where: { $0.id == process.transactionID }),
              transactions[index].transactionTypeID == 6, transactions[index].status == .paid
        else { throw .notPaid }
        transactions[index].refunded = transactions[index].sum
        transactions[index].status = .refunded
        return .string("")
    }
}

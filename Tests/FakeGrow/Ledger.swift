import Foundation

/// Grow's side of the fake: accounts, processes, transactions, saved cards and the clock, with the
/// rules of GROW.md section 7. No I/O: the server and the test driver call in under one lock, and
/// the callbacks it builds are sent by the caller.
struct Ledger {
    typealias Process = FakeGrow.Process
    typealias Transaction = FakeGrow.Transaction
    typealias Callback = FakeGrow.Callback

    /// A page is payable for 10 minutes after createPaymentProcess.
    static let processLifetime: TimeInterval = 10 * 60
    /// A J5 hold can be settled for 3 days.
    static let holdWindow: TimeInterval = 3 * 24 * 60 * 60
    /// The sandbox cards of GROW.md section 6: they pay whether or not they pass the Luhn check.
    static let sandboxCards: Set<String> = ["4580458045804580", "4580000000000000", "4580111111111121"]

    struct SavedCard {
        let userID: String
        let card: FakeGrow.Card
    }

    let accounts: [FakeGrow.Account]
    var origin = ""
    var now: Date
    var placeholderForUnpaid = true
    var processes: [Process] = []
    var transactions: [Transaction] = []
    var savedCards: [String: SavedCard] = [:]
    /// transactionUniqueIdentifier values per userId: unique forever, whatever became of the call.
    var usedIdentifiers: [String: Set<Int>] = [:]
    var declinedTokens: [String: Int] = [:]
    var declinedCards: Set<String> = ["4000000000000002"]
    /// The update each hosted transaction produced, kept for resends.
    var callbacks: [Int: Callback] = [:]
    var resendCounts: [Int: Int] = [:]
    /// Different ranges for the two ids, so that a mix-up in the caller shows.
    private var nextProcessID = 100_001
    private var nextTransactionID = 400_001
    private var nextDebitID = 170_001

    init(accounts: [FakeGrow.Account], now: Date) {
        self.accounts = accounts
        self.now = now
    }

    // MARK: - Time

    /// Processes left unpaid for 10 minutes expire; J5 holds not settled in 3 days expire.
    mutating func expireOverdue() {
        for index in processes.indices
        where processes[index].status == .created && now >= processes[index].createdAt + Self.processLifetime {
            processes[index].status = .expired
        }
        for index in transactions.indices
        where transactions[index].status == .suspended && now >= transactions[index].createdAt + Self.holdWindow {
            transactions[index].status = .expired
        }
    }

    // MARK: - Ids

    mutating func newProcessID() -> Int {
        defer { nextProcessID += 1 }
        return nextProcessID
    }

    mutating func newTransactionID() -> Int {
        defer { nextTransactionID += 1 }
        return nextTransactionID
    }

    mutating func newDebitID() -> Int {
        defer { nextDebitID += 1 }
        return nextDebitID
    }

    /// 32 lowercase hex characters: processToken, transactionToken, cardToken, the page link.
    static func newToken() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }

    /// The issuer's approval number: 7 digits, leading zeros kept ("0289199").
    static func newAsmachta() -> String {
        String(format: "%07d", Int.random(in: 0..<10_000_000))
    }

    // MARK: - Accounts

    func page(_ code: String) -> FakeGrow.Page? {
        accounts.lazy.flatMap(\.pages).first { $0.code == code }
    }

    func account(ofPage code: String) -> FakeGrow.Account? {
        accounts.first { $0.pages.contains { $0.code == code } }
    }

    // MARK: - The hosted page

    /// The customer pays on the page. Returns where the browser goes, and the update for notifyUrl.
    mutating func pay(link: String, cardNumber: String, payments: Int?, saveCard: Bool) throws(FakeGrow.PageError) -> (redirect: String, callback: Callback?) {
        expireOverdue()
        guard let index = processes.firstIndex(where: { $0.link == link }) else { throw .unknownProcess }
        let process = processes[index]
        switch process.status {
        case .created: break
        case .expired: throw .expired
        case .paid, .suspended, .tokenized, .cancelled: throw .notPayable
        }
        guard let page = page(process.pageCode) else { throw .unknownProcess }
        // A recurring page's paymentNum counts monthly charges, not installments of this one.
        let chosen = page.kind == .card ? payments ?? process.paymentNum ?? 1 : payments ?? 1
        guard allowedPayments(process, page).contains(chosen) else { throw .invalidPayments }
        guard let card = card(for: cardNumber, on: page) else { throw .declined }

        let saves = page.tokens && (process.chargeType == 3 || (process.saveCardToken && saveCard))
        let cardToken = saves ? Self.newToken() : nil
        if let cardToken { savedCards[cardToken] = SavedCard(userID: process.userID, card: card) }
        let transaction = hostedTransaction(for: process, page: page, card: card, payments: chosen, cardToken: cardToken)
        transactions.append(transaction)
        processes[index].transactionID = transaction.id
        processes[index].status = switch process.chargeType {
        case 2: .suspended
        case 3: .tokenized
        default: .paid
        }

        let callback = process.notifyURL.map { callbackFor(transaction, process: process, url: $0) }
        if let callback { callbacks[transaction.id] = callback }
        return (successRedirect(process), callback)
    }

    /// The customer presses X.
    mutating func cancel(link: String) throws(FakeGrow.PageError) -> String {
        expireOverdue()
        guard let index = processes.firstIndex(where: { $0.link == link }) else { throw .unknownProcess }
        switch processes[index].status {
        case .created:
            processes[index].status = .cancelled
            return processes[index].cancelURL
        case .expired: throw .expired
        case .paid, .suspended, .tokenized, .cancelled: throw .notPayable
        }
    }

    /// `successUrl&response=success&cField1=..`: Grow appends with `&`; `?` when the URL has no query.
    func successRedirect(_ process: Process) -> String {
        let separator = process.successURL.contains("?") ? "&" : "?"
        let cFields = process.cFields.sorted { $0.key < $1.key }.map { "&\($0.key)=\(formEscape($0.value))" }
        return process.successURL + separator + "response=success" + cFields.joined()
    }

    func allowedPayments(_ process: Process, _ page: FakeGrow.Page) -> ClosedRange<Int> {
        guard page.kind == .card else { return 1...1 }
        if let fixed = process.paymentNum { return fixed...fixed }
        if let most = process.maxPaymentNum { return 1...most }
        return 1...1
    }

    /// The sandbox cards and any other Luhn-valid number pay; the decline list does not.
    func card(for number: String, on page: FakeGrow.Page) -> FakeGrow.Card? {
        let digits = number.filter { $0 != " " && $0 != "-" }
        guard !declinedCards.contains(digits), (12...19).contains(digits.count), digits.allSatisfy(\.isASCIIDigit),
              Self.sandboxCards.contains(digits) || Self.passesLuhn(digits)
        else { return nil }
        // Bit pays from the customer's app: no card details reach the merchant.
        if page.kind == .bit { return FakeGrow.Card(suffix: "", type: "", typeCode: 0, brand: "", brandCode: 0, exp: "") }
        let (brand, brandCode) = switch digits.first {
        case "4": ("Visa", 3)
        case "5", "2": ("Mastercard", 2)
        case "3": ("Diners", 8)
        default: ("Isracard", 5)
        }
        return FakeGrow.Card(suffix: String(digits.suffix(4)), type: "Local", typeCode: 1, brand: brand, brandCode: brandCode, exp: "1230")
    }

    static func passesLuhn(_ digits: String) -> Bool {
        var total = 0
        for (offset, character) in digits.reversed().enumerated() {
            guard let digit = character.wholeNumberValue else { return false }
            let weighted = offset % 2 == 1 ? digit * 2 : digit
            total += weighted > 9 ? weighted - 9 : weighted
        }
        return total % 10 == 0
    }

    /// The transaction a payment on this process makes (chargeType 1 paid, 2 held, 3 a card saved).
    mutating func hostedTransaction(for process: Process, page: FakeGrow.Page, card: FakeGrow.Card, payments: Int, cardToken: String?) -> Transaction {
        let recurring = page.kind == .recurring
        return Transaction(
            id: newTransactionID(), token: Self.newToken(), kind: process.chargeType == 3 ? .tokenOnly : .hosted,
            userID: process.userID, pageCode: process.pageCode, processID: process.id,
            status: process.chargeType == 2 ? .suspended : .paid, sum: process.sum, refunded: 0,
            cardToken: cardToken, card: card,
            payments: recurring ? process.paymentNum ?? 1 : payments,
            paymentType: recurring ? 1 : payments > 1 ? 4 : 2,
            transactionTypeID: page.kind == .bit ? 6 : 1,
            uniqueIdentifier: nil, groupIdentifier: nil, refundedTransactionID: nil, approved: false,
            asmachta: Self.newAsmachta(), description: process.description,
            fullName: process.fullName, phone: process.phone, email: process.email, cFields: process.cFields,
            createdAt: now, paidAt: now, heldSum: process.chargeType == 2 ? process.sum : nil,
            directDebitID: recurring ? newDebitID() : nil, recurringDebitID: nil
        )
    }

    // MARK: - Callbacks

    /// The form body of GROW.md section 3: `err=&status=1&data[..]=..&data[customFields][cFieldN]=..`, all strings.
    /// `overrides` replace (or add) data fields; a `cFieldN` key replaces a custom field.
    func callbackFor(_ transaction: Transaction, process: Process, url: String, overrides: [String: String] = [:]) -> Callback {
        var data = transactionFields(transaction) + [("processId", String(process.id)), ("processToken", process.token)]
        var cFields = transaction.cFields
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) {
            if name.hasPrefix("cField") {
                cFields[name] = value
            } else if let index = data.firstIndex(where: { $0.0 == name }) {
                data[index].1 = value
            } else {
                data.append((name, value))
            }
        }
        let body = [("err", ""), ("status", "1")]
            + data.map { ("data[\($0.0)]", $0.1) }
            + cFields.sorted { $0.key < $1.key }.map { ("data[customFields][\($0.key)]", $0.value) }
        return Callback(url: url, body: formEncode(body), transactionID: transaction.id)
    }

    /// The update for a process as a forged-callback test wants it: the real one if it was paid,
    /// else one as if paid with the first sandbox card (its transaction recorded nowhere).
    mutating func callback(forLink link: String, overrides: [String: String]) -> Callback? {
        guard let process = processes.first(where: { $0.link == link }), let page = page(process.pageCode) else { return nil }
        let transaction = process.transactionID.flatMap { id in transactions.first { $0.id == id } }
            ?? hostedTransaction(
                for: process, page: page, card: FakeGrow.Card(suffix: "4580", type: "Local", typeCode: 1, brand: "Visa", brandCode: 3, exp: "1230"),
                payments: process.paymentNum ?? 1, cardToken: process.saveCardToken ? Self.newToken() : nil
            )
        return callbackFor(transaction, process: process, url: process.notifyURL ?? "", overrides: overrides)
    }

    // MARK: - Transaction fields

    /// The fields of one transaction as Grow lists them (getTransactionInfo, callbacks, token charges), all strings.
    func transactionFields(_ transaction: Transaction) -> [(String, String)] {
        let card = transaction.card
        let code = { (value: Int) in value == 0 ? "" : String(value) }
        // Installments: the first payment absorbs the rounding; single payments show 0.
        var first = 0, periodical = 0
        if transaction.payments > 1, transaction.paymentType == 4 {
            periodical = transaction.sum / transaction.payments
            first = transaction.sum - periodical * (transaction.payments - 1)
        }
        var fields: [(String, String)] = [
            ("asmachta", transaction.asmachta),
            ("cardSuffix", card.suffix), ("cardType", card.type), ("cardTypeCode", code(card.typeCode)),
            ("cardBrand", card.brand), ("cardBrandCode", code(card.brandCode)), ("cardExp", card.exp),
            ("firstPaymentSum", Shekels.text(first)), ("periodicalPaymentSum", Shekels.text(periodical)),
            ("status", transaction.statusText), ("statusCode", String(transaction.statusCode)),
            ("transactionTypeId", String(transaction.transactionTypeID)), ("paymentType", String(transaction.paymentType)),
            ("sum", Shekels.text(transaction.sum)),
            ("paymentsNum", "1"), ("allPaymentsNum", String(transaction.payments)),
            ("paymentDate", GrowCalendar.paymentDate(transaction.paidAt)),
            ("description", transaction.description), ("fullName", transaction.fullName),
            ("payerPhone", transaction.phone), ("payerEmail", transaction.email),
        ]
        if let cardToken = transaction.cardToken { fields.append(("cardToken", cardToken)) }
        fields += [("transactionId", String(transaction.id)), ("transactionToken", transaction.token)]
        if let original = transaction.refundedTransactionID { fields.append(("refundedTransactionId", String(original))) }
        if let debit = transaction.directDebitID { fields.append(("directDebitId", String(debit))) }
        if let debit = transaction.recurringDebitID { fields.append(("recurringDebitId", String(debit))) }
        return fields
    }

    /// What getPaymentProcessInfo shows for a process with no transaction, when the knob asks for it.
    static let placeholderTransaction: JSON = .object(
        ["asmachta", "cardSuffix", "cardType", "cardTypeCode", "cardBrand", "cardBrandCode", "cardExp",
         "firstPaymentSum", "periodicalPaymentSum", "status"].map { ($0, .string("")) }
            + [("statusCode", .string("0"))]
            + ["transactionTypeId", "paymentType", "sum", "paymentsNum", "allPaymentsNum", "paymentDate",
               "description", "fullName", "payerPhone", "payerEmail"].map { ($0, .string("")) }
            + [("transactionId", .string("0")), ("transactionToken", .string(""))]
    )
}

/// A JSON object of strings, in order.
func stringObject(_ pairs: [(String, String)]) -> JSON {
    .object(pairs.map { ($0.0, .string($0.1)) })
}

/// `customField`: `{cField1: ..}`, or `[]` when there are none (as Grow writes an empty PHP array).
func customFieldJSON(_ cFields: [String: String]) -> JSON {
    cFields.isEmpty ? .array([]) : stringObject(cFields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
}

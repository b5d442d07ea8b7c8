import AsyncHTTPClient
import ChingDomain
import ChingProviders
import Logging
import NIOCore
import NIOHTTP1

/// The live card provider: Grow's Light API (GROW.md), one project's account.
///
/// Grow takes the card on its own page (`createPaymentProcess`); everything after that is a
/// server call with the transaction's id and token, or a charge of a saved card token. A
/// transport error, a timeout, a 5xx or a body that is not Grow's envelope is `.unknown`, never
/// a failure: the caller keeps the attempt pending and asks again.
public struct GrowProvider: HostedPageProvider {
    public let name = "grow"
    let account: GrowAccount
    let http: HTTPClient
    let timeout: TimeAmount
    let logger: Logger

    public init(account: GrowAccount, http: HTTPClient, timeout: TimeAmount = .seconds(30), logger: Logger) {
        self.account = account; self.http = http; self.timeout = timeout; self.logger = logger
    }

    // MARK: - Calls

    /// One call: `POST {base}{method}` with a form body. Only the method name and Grow's answer
    /// code are logged: the fields carry tokens and the payer's details.
    func call(_ method: String, _ fields: [(String, String)]) async -> GrowWire.Answer {
        let base = account.baseURL.hasSuffix("/") ? account.baseURL : account.baseURL + "/"
        var request = HTTPClientRequest(url: base + method)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(string: GrowWire.formBody(fields)))
        let answer: GrowWire.Answer
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            answer = GrowWire.answer(status: Int(response.status.code), body: Array(buffer: body))
        } catch {
            answer = .unknown("\(type(of: error))")
        }
        switch answer {
        case .success: logger.debug("Grow answered", metadata: ["method": "\(method)"])
        case .failure(let id, _): logger.info("Grow refused a call", metadata: ["method": "\(method)", "err": "\(id)"])
        case .unknown(let why): logger.warning("Grow's answer is unknown", metadata: ["method": "\(method)", "why": "\(why)"])
        }
        return answer
    }

    /// `apiKey`, for platforms acting for many businesses only.
    private var platform: [(String, String)] { account.apiKey.map { [("apiKey", $0)] } ?? [] }

    /// `userId` (and `apiKey`): what identifies the business on server calls.
    private var business: [(String, String)] { [("userId", account.userID)] + platform }

    /// `pageCode` (and `apiKey`): the page a process or transaction was made on, which calls about it must name.
    private func page(recurring: Bool) -> [(String, String)] { [("pageCode", pageCode(recurring: recurring))] + platform }

    private func pageCode(recurring: Bool) -> String { recurring ? account.recurringPageCode ?? account.pageCode : account.pageCode }

    // MARK: - The hosted page

    public func startPayment(_ request: HostedPaymentRequest) async -> HostedPaymentStartResult {
        let saveOnly = request.amount == 0
        var fields: [(String, String)] = [("pageCode", pageCode(recurring: request.recurring))] + business
        fields += [
            ("chargeType", saveOnly ? "3" : request.authorizeOnly ? "2" : "1"),
            // A token-only process still needs a sum; it charges nothing (GROW.md section 5).
            ("sum", GrowWire.shekels(saveOnly ? 100 : request.amount)),
            ("successUrl", request.successURL),
            ("cancelUrl", request.cancelURL),
            ("notifyUrl", request.notifyURL),
            ("description", Self.description(request.description)),
        ]
        if !saveOnly { fields.append(("paymentNum", String(request.installments))) }
        fields += [("pageField[fullName]", GrowWire.plain(request.customerName, limit: 60)), ("pageField[phone]", request.customerPhone)]
        if let email = request.customerEmail { fields.append(("pageField[email]", email)) }
        fields.append(("cField1", request.reference))
        if request.saveCard || saveOnly { fields.append(("saveCardToken", "1")) }

        switch await call("createPaymentProcess", fields) {
        case .success(let data):
            guard let id = GrowWire.text(data["processId"]), let token = GrowWire.text(data["processToken"]), let url = GrowWire.text(data["url"]) else {
                return .unknown
            }
            return .started(HostedProcess(id: id, token: token, url: url, recurring: request.recurring))
        case .failure(let id, let message): return .refused(code: id, message: message)
        case .unknown: return .unknown
        }
    }

    public func outcome(of process: HostedProcess) async -> HostedPaymentOutcome {
        switch await call("getPaymentProcessInfo", page(recurring: process.recurring) + [("processId", process.id), ("processToken", process.token)]) {
        case .success(let data):
            // Only a real transaction (an id other than "0") that is paid (2) or held (11) is a fact; an unpaid process may show a placeholder.
            let customField = data["customField"]?.objectValue
            for entry in data["transactions"]?.arrayValue ?? [] {
                guard let transaction = entry.objectValue, let payment = Self.payment(transaction, customField: customField) else { continue }
                return .paid(payment)
            }
            return .pending
        case .failure(730, _), .failure(709, _): return .gone
        case .failure, .unknown: return .unknown
        }
    }

    /// Grow's callback (GROW.md section 3) is form-encoded with bracket keys (`data[processId]`);
    /// its docs show it as JSON (`{"data": {"processId": …}}`), which is read too.
    public func callbackProcess(body: String, contentType: String) -> (id: String, token: String)? {
        let id: String?, token: String?
        if contentType.lowercased().contains("json") {
            guard case .object(let envelope)? = try? JSONValue.parse(body), let data = envelope["data"]?.objectValue else { return nil }
            (id, token) = (GrowWire.text(data["processId"]), GrowWire.text(data["processToken"]))
        } else {
            let fields = GrowWire.formFields(body)
            (id, token) = (fields.first { $0.0 == "data[processId]" }?.1, fields.first { $0.0 == "data[processToken]" }?.1)
        }
        guard let id, let token else { return nil }
        return (id, token)
    }

    public func acknowledge(_ payment: HostedPayment, of process: HostedProcess) async {
        let received = payment.fields.filter { !["pageCode", "apiKey", "processId", "processToken"].contains($0.0) }
        _ = await call("approveTransaction", page(recurring: process.recurring) + received + [("processId", process.id), ("processToken", process.token)])
    }

    /// A transaction record of Grow's (a process's entry, a token charge's answer) as a payment; nil unless it is paid or held.
    static func payment(_ record: JSONObject, customField: JSONObject?) -> HostedPayment? {
        let statusCode = GrowWire.text(record["statusCode"])
        guard let id = GrowWire.text(record["transactionId"]), id != "0", !id.isEmpty,
              let token = GrowWire.text(record["transactionToken"]), statusCode == "2" || statusCode == "11",
              let amount = GrowWire.agorot(record["sum"])
        else { return nil }
        let last4 = GrowWire.text(record["cardSuffix"]) ?? ""
        let brand = Self.brand(GrowWire.text(record["cardBrandCode"]))
        var card: ProviderCard?
        if let cardToken = GrowWire.text(record["cardToken"]), !cardToken.isEmpty {
            let expiry = GrowWire.text(record["cardExp"]) ?? ""
            let local = (GrowWire.text(record["cardTypeCode"]) ?? "1") != "2"
            card = ProviderCard(
                token: SavedToken(cardToken: cardToken, fullName: GrowWire.text(record["fullName"]) ?? "",
                                  phone: GrowWire.text(record["payerPhone"]) ?? "").stored,
                brand: brand, last4: last4, expMonth: Int(expiry.prefix(2)) ?? 0, expYear: 2000 + (Int(expiry.suffix(2)) ?? 0),
                issuerCountry: local ? "IL" : "", supportsInstallments: local, supportsRecurring: true)
        }
        let payments = Int(GrowWire.text(record["allPaymentsNum"]) ?? "") ?? 1
        let fields = record.entries.compactMap { entry in GrowWire.text(entry.value).map { (entry.key, $0) } }
        return HostedPayment(reference: "\(id):\(token)", requestReference: GrowWire.text(customField?["cField1"]) ?? "", amount: amount,
                             authorizedOnly: statusCode == "11", installments: max(payments, 1), brand: brand, last4: last4,
                             card: card, fields: fields)
    }

    /// A description Grow takes: letters, digits and spaces, never empty.
    static func description(_ text: String) -> String {
        let plain = GrowWire.plain(text)
        return plain.isEmpty ? "Payment" : plain
    }

    /// Grow's `cardBrandCode`: 2 Mastercard, 3 Visa, 5 Isracard, 7 Discover, 8 Diners.
    static func brand(_ code: String?) -> CardBrand {
        switch code {
        case "2": .mastercard
        case "3": .visa
        case "5": .isracard
        case "7": .discover
        case "8": .diners
        default: .unknown
        }
    }

    // MARK: - Saved cards

    /// What we keep as a Grow card's token: Grow's `cardToken` and the payer's name and phone as
    /// typed on Grow's page, which every token charge must send again.
    struct SavedToken {
        let cardToken: String
        let fullName: String
        let phone: String

        var stored: String { "grow1|" + [cardToken, phone, fullName].map(GrowWire.percentEncoded).joined(separator: "|") }

        init(cardToken: String, fullName: String, phone: String) { self.cardToken = cardToken; self.fullName = fullName; self.phone = phone }

        init?(stored: String) {
            let parts = stored.split(separator: "|", omittingEmptySubsequences: false).map { GrowWire.percentDecoded(String($0)) }
            guard parts.count == 4, parts[0] == "grow1" else { return nil }
            cardToken = parts[1]; phone = parts[2]; fullName = parts[3]
        }
    }

    /// Charges a saved card. `idempotencyKey` must be the attempt's numeric identifier (Grow's
    /// `transactionUniqueIdentifier`, unique per business forever): asked again, Grow answers 1010
    /// and we read what the first request did instead of charging twice.
    public func charge(token: String, amount: Int64, installments: Int, capture: Bool, idempotencyKey: String?) async -> ProviderResult {
        guard let saved = SavedToken(stored: token), let key = idempotencyKey, let identifier = Int64(key), identifier > 0, identifier <= Int64(Int32.max) else {
            return .declined(Decline(code: "processing_error", message: "This card cannot be charged through Grow."))
        }
        guard capture else { return .declined(Decline(code: "processing_error", message: "Grow cannot authorize a saved card without charging it.")) }
        var fields = business + [
            ("cardToken", saved.cardToken),
            ("sum", GrowWire.shekels(amount)),
            ("description", "Payment"),
            ("paymentType", installments > 1 ? "4" : "2"),
            ("paymentNum", String(installments)),
            ("pageField[fullName]", GrowWire.plain(saved.fullName, limit: 60)),
            ("pageField[phone]", saved.phone),
        ]
        fields.append(("transactionUniqueIdentifier", key))
        switch await call("createTransactionWithToken", fields) {
        case .success(let data):
            guard let id = GrowWire.text(data["transactionId"]), let transactionToken = GrowWire.text(data["transactionToken"]) else { return .unknown }
            return .approved(reference: "\(id):\(transactionToken)")
        case .failure(1010, _):
            // Grow has seen this number: its record says what the first request did. No successful charge under it: it did not charge.
            return await chargeOutcome(token: token, idempotencyKey: key)
                ?? .declined(Decline(code: "card_declined", message: "Grow declined an earlier attempt of this charge."))
        case .failure(let id, let message):
            return .declined(Self.tokenDecline(id, message: message))
        case .unknown:
            return await chargeOutcome(token: token, idempotencyKey: key) ?? .unknown
        }
    }

    /// What an earlier token charge with this identifier came to: nil when Grow has no record of
    /// it (it never arrived), `.unknown` when Grow cannot say yet.
    public func chargeOutcome(token: String, idempotencyKey: String) async -> ProviderResult? {
        guard let saved = SavedToken(stored: token) else { return nil }
        let fields = business + [("cardToken", saved.cardToken), ("transactionUniqueIdentifier", idempotencyKey)]
        switch await call("getTokenTransactionsByExternalIdentifiers", fields) {
        case .success(let data):
            let records = data["transactions"]?.arrayValue?.compactMap(\.objectValue) ?? []
            guard let record = records.first else { return nil }
            guard let id = GrowWire.text(record["transactionId"]), let transactionToken = GrowWire.text(record["transactionToken"]),
                  GrowWire.text(record["statusCode"]) == "2"
            else { return .unknown }
            return .approved(reference: "\(id):\(transactionToken)")
        case .failure, .unknown: return .unknown
        }
    }

    /// Grow's refusals of a token charge in our words (GROW.md section 1.5).
    static func tokenDecline(_ id: Int, message: String) -> Decline {
        switch id {
        case 451: Decline(code: "expired_card", message: "The card has expired.")
        case 103, 452, 453: Decline(code: "card_declined", message: "The card was declined.")
        case 140: Decline(code: "card_declined", message: "The saved card can no longer be charged; ask the customer for a new card.")
        case 819: Decline(code: "processing_error", message: "The card could not be processed. Try again.", retryable: true)
        default: Decline(code: "processing_error", message: "Grow refused the charge (error \(id)).")
        }
    }

    // MARK: - After the payment

    private func transaction(_ reference: String) -> [(String, String)]? {
        let parts = reference.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        return [("transactionId", parts[0]), ("transactionToken", parts[1])]
    }

    /// Whether the transaction reads fully refunded (statusCode 3).
    public func isFullyRefunded(reference: String) async -> Bool? {
        await record(reference).map { GrowWire.text($0["statusCode"]) == "3" }
    }

    /// Grow's record of a transaction (`getTransactionInfo`), read on the page it may have been made on; nil when Grow cannot say.
    func record(_ reference: String) async -> JSONObject? {
        guard let transaction = transaction(reference) else { return nil }
        let pages = account.recurringPageCode == nil ? [false] : [false, true]
        for recurring in pages {
            switch await call("getTransactionInfo", page(recurring: recurring) + transaction) {
            case .success(let data): return data
            case .failure(731, _): continue
            case .failure, .unknown: return nil
            }
        }
        return nil
    }

    /// Settles (part of) a J5 hold.
    public func capture(reference: String, amount: Int64) async -> ProviderResult {
        guard let transaction = transaction(reference) else { return .declined(.processingError) }
        switch await call("settleSuspendedTransaction", business + transaction + [("sum", GrowWire.shekels(amount))]) {
        case .success: return .approved(reference: reference)
        // Settled already: an earlier try whose answer was lost, if it settled this amount.
        case .failure(808, _):
            switch await record(reference) {
            case let record? where GrowWire.text(record["statusCode"]) == "2" && GrowWire.agorot(record["sum"]) == amount:
                return .approved(reference: reference)
            case .some: return .declined(Decline(code: "charge_already_captured", message: "Grow settled this hold already, for another amount."))
            case nil: return .unknown
            }
        case .failure(803, _): return .declined(Decline(code: "charge_authorization_expired", message: "Grow's hold on the card has expired."))
        case .failure(let id, _): return .declined(Decline(code: "processing_error", message: "Grow refused the capture (error \(id))."))
        case .unknown: return .unknown
        }
    }

    /// Grow has no void (GROW.md section 5): a J5 hold that is never settled is released by the
    /// card company on its own, within 10 days. Only the hold's state is read, so that a hold
    /// settled by a capture whose answer was lost is not recorded canceled.
    public func void(reference: String) async -> ProviderResult {
        switch await record(reference).map({ GrowWire.text($0["statusCode"]) }) {
        case "11"?: return .approved(reference: reference)
        case "2"?, "3"?: return .declined(Decline(code: "charge_already_captured", message: "Grow settled this hold."))
        case .some: return .approved(reference: reference)
        case nil: return .unknown
        }
    }

    public func refund(reference: String, amount: Int64) async -> ProviderResult {
        guard let transaction = transaction(reference) else { return .declined(.processingError) }
        switch await call("refundTransaction", business + transaction + [("refundSum", GrowWire.shekels(amount))]) {
        case .success(let data):
            guard let id = GrowWire.text(data["transactionId"]) else { return .unknown }
            return .approved(reference: id)
        case .failure(130, _):
            return .declined(Decline(code: "refund_same_day_partial",
                                     message: "On the day of the payment Grow refunds only the whole amount; a partial refund is possible from tomorrow."))
        case .failure(let id, _) where [105, 190, 218, 210].contains(id):
            return .declined(Decline(code: "refund_amount_too_large", message: "Grow says the charge has less left to refund (error \(id))."))
        case .failure(let id, _):
            return .declined(Decline(code: "processing_error", message: "Grow refused the refund (error \(id))."))
        case .unknown: return .unknown
        }
    }
}

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// A fake of Grow's Light API (GROW.md section 7) for tests: an HTTP server on 127.0.0.1 with the
/// API, the hosted payment page, and the server-to-server callbacks, driven by an injected clock.
///
/// Start one per test with `FakeGrow.start()`, point the adapter at `baseURL`, drive the hosted page
/// with `pay(url:)` / `cancel(url:)` (or over HTTP at `url`), and `stop()` it at the end. Nothing sleeps:
/// time moves only with `advance(seconds:)` / `setNow(_:)`.
///
/// Where GROW.md leaves a choice, this fake decided:
/// - Wire: an empty field counts as not sent. Ids: processId from 100001, transactionId from 400001
///   (different ranges, so that a mix-up shows); asmachta 7 digits; tokens and the page link 32 hex.
/// - pageCode: missing → 54 naming it; unknown, of another business, or not the one the process or
///   transaction was made with → 731. A token charge made without a pageCode answers to any page of
///   its business (getTransactionInfo, approveTransaction). userId missing or unknown → 701.
/// - createPaymentProcess: an invalid chargeType (not 1, 2, 3) → 54 naming chargeType; a recurring page
///   defaults to 1. Missing or malformed name/phone → 717. paymentNum/maxPaymentNum that is not a
///   number → 735. J5 or tokens on a page without them → 714. A productData line without a valid
///   price or quantity → 763. processId is a JSON number here; info answers write ids as strings.
/// - getPaymentProcessInfo on an unpaid (also expired or cancelled) process: one placeholder
///   transaction with statusCode "0" and transactionId "0" (`setPlaceholderForUnpaid(false)`: `[]`).
/// - chargeType 3 (token only): no charge; the process becomes `tokenized` and one record of kind
///   `.tokenOnly` holds the cardToken, the sum as sent, statusCode 2 / שולם. Its callback carries the
///   cardToken. It cannot be refunded or settled (722, 808); approving it is accepted (it changes nothing).
/// - Transaction states on the wire: paid and partially refunded read 2 / שולם (the refunded part is
///   visible only through the refund records); fully refunded 3 / תשלום שזוכה; held 11 / עסקה מושהית;
///   a J5 hold past its 3 days reads statusCode 0 / פג תוקף (any code but 2 and 11 means "not paid").
///   paymentsNum is always "1" (the current payment), allPaymentsNum the number of payments.
/// - approveTransaction: 722 for anything whose statusCode is not 2 (held, refunded, expired hold).
/// - createTransactionWithToken: the transactionUniqueIdentifier is spent as soon as a call with a valid
///   userId and a valid identifier arrives, before any other check: a reuse is 1010 whatever became of
///   the first call. A non-numeric, zero or above-2147483647 identifier → 54 naming it. paymentType not
///   1/2/4 → 54; paymentNum outside 1–48 (type 1), 1 (type 2), 1–12 (type 4) → 735. A token of another
///   business → 140. The response has no cardToken.
/// - getTokenTransactionsByExternalIdentifiers: neither identifier → 54 naming transactionUniqueIdentifier;
///   both → 54 with its own message; an unknown token → 140; only successful token charges are listed
///   (declined attempts leave no record). received_time / complete_time read "yyyy-MM-dd HH:mm:ss", Israel time.
/// - refundTransaction: refundSum missing or invalid (also when `sum` is sent instead) → 707. Held,
///   expired, token-only and refund records → 722. The same-day rule compares Asia/Jerusalem calendar
///   days of the payment date (for a settled J5 hold, the settle time) and the fake clock.
/// - settleSuspendedTransaction: anything already paid or refunded → 808; more than 130% of the hold → 814,
///   above the hold → 804. The hold's window ends exactly 3 days after authorisation (at that instant it
///   has expired). The transaction keeps its id and asmachta; its payment date becomes the settle time.
/// - Hosted page: the sandbox cards of GROW.md section 6 and any Luhn-valid number pay; 4000000000000002
///   (and numbers added with `declineCard`) decline. A process expires exactly 10 minutes after creation.
///   Card fields: Local/1, Visa/3 for 4…, Mastercard/2 for 5… and 2…, exp "1230". Without the customer's
///   consent (`saveCard: false`) saveCardToken=1 saves nothing. Installments: paymentType 4, the first
///   payment absorbs the rounding. A recurring page: paymentType 1, a directDebitId, allPaymentsNum =
///   paymentNum, one payment on the page. A Bit page: transactionTypeId 6, empty card fields. The HTML
///   page answers 303 to successUrl / cancelUrl and emits no postMessage.
/// - Callbacks: form-encoded like PHP's http_build_query (brackets as %5B %5D, space as `+`); no
///   `customFields` keys when there are none. Resends (resendUnapproved) go out whatever the mode, for
///   hosted transactions that read statusCode 2 and have no approval — not for J5 holds or token-only
///   saves, which Grow says must not be approved.
/// - cancelBitTransaction: only a paid Bit (transactionTypeId 6) process; anything else → 722.
/// - Failure injection queues per method name and is used by the next call of that name, whatever its
///   fields; the call is recorded in `requests` either way.
public final class FakeGrow: Sendable {
    struct State {
        var ledger: Ledger
        var callbackMode: CallbackMode = .immediate
        var deliver: @Sendable (Callback) async -> Int = FakeGrow.postForm
        var held: [Callback] = []
        var sent: [(Callback, Int)] = []
        var failures: [String: [Failure]] = [:]
        var requests: [Request] = []
        var server: (group: ServiceGroup, task: Task<Void, Never>)?
    }

    let state: Mutex<State>

    private init(accounts: [Account]) {
        state = Mutex(State(ledger: Ledger(accounts: accounts, now: Date())))
    }

    deinit {
        state.withLock { $0.server?.task.cancel() }
    }

    // MARK: - Server

    struct StartError: Error {}

    /// Starts an HTTP server on 127.0.0.1 with an OS-chosen port; returns once it listens.
    public static func start(accounts: [Account] = [.standard]) async throws -> FakeGrow {
        let fake = FakeGrow(accounts: accounts)
        var logger = Logger(label: "FakeGrow")
        logger.logLevel = .warning
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: fake.router(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "FakeGrow"),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        // Our own group, without signal handlers (a test process may run many fakes), so that stop() can end it gracefully.
        let group = ServiceGroup(services: [app], logger: logger)
        let task = Task {
            try? await group.run()
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw StartError()
        }
        fake.state.withLock {
            $0.server = (group, task)
            $0.ledger.origin = "http://127.0.0.1:\(port)"
        }
        return fake
    }

    /// Stops the server and waits until it has closed.
    public func stop() async {
        let server = state.withLock { state in
            defer { state.server = nil }
            return state.server
        }
        guard let server else { return }
        await server.group.triggerGracefulShutdown()
        await server.task.value
    }

    /// "http://127.0.0.1:<port>/api/light/server/1.0/"
    public var baseURL: String { origin + "/api/light/server/1.0/" }

    /// "http://127.0.0.1:<port>"
    public var origin: String { state.withLock { $0.ledger.origin } }

    // MARK: - Clock

    public var now: Date { state.withLock { $0.ledger.now } }

    public func advance(seconds: Int) {
        state.withLock { $0.ledger.now += TimeInterval(seconds) }
    }

    public func setNow(_ date: Date) {
        state.withLock { $0.ledger.now = date }
    }

    // MARK: - Knobs

    /// Whether getPaymentProcessInfo shows one placeholder transaction (statusCode "0", transactionId "0")
    /// for a process with none, as one integration reports; `false` gives `transactions: []`. Default true.
    public func setPlaceholderForUnpaid(_ placeholder: Bool) {
        state.withLock { $0.ledger.placeholderForUnpaid = placeholder }
    }

    /// The next call of `method` meets `failure`.
    public func failNext(_ method: String, with failure: Failure) {
        state.withLock { $0.failures[method, default: []].append(failure) }
    }

    /// Token charges with this cardToken decline with this error id (103, 451, 452, 453, 819…).
    public func declineToken(_ cardToken: String, errorID: Int) {
        state.withLock { $0.ledger.declinedTokens[cardToken] = errorID }
    }

    /// The hosted page refuses this card number (as it refuses 4000000000000002).
    public func declineCard(_ number: String) {
        state.withLock { _ = $0.ledger.declinedCards.insert(number) }
    }

    // MARK: - The hosted page as a test driver

    /// Pays the process behind `url` and returns where the browser is sent:
    /// `successUrl&response=success&cField1=..`. The callback (if any) is handled per the callback mode
    /// before this returns. A declined card throws `.declined` and leaves the process payable.
    public func pay(url: String, card: String = "4580458045804580", payments: Int? = nil, saveCard: Bool = true) async throws -> String {
        try await pay(link: Self.link(in: url), card: card, payments: payments, saveCard: saveCard)
    }

    func pay(link: String, card: String, payments: Int?, saveCard: Bool) async throws(PageError) -> String {
        let paid = try state.withLock { state throws(PageError) in
            try state.ledger.pay(link: link, cardNumber: card, payments: payments, saveCard: saveCard)
        }
        if let callback = paid.callback { await emit(callback) }
        return paid.redirect
    }

    /// The customer presses X: returns cancelUrl; the process becomes cancelled.
    public func cancel(url: String) async throws -> String {
        try state.withLock { state throws(PageError) in try state.ledger.cancel(link: Self.link(in: url)) }
    }

    /// The `l` of `<origin>/far?l=<32 hex>`.
    static func link(in url: String) -> String {
        URLComponents(string: url)?.queryItems?.first { $0.name == "l" }?.value ?? ""
    }

    // MARK: - Callbacks

    public func setCallbackMode(_ mode: CallbackMode) {
        state.withLock { $0.callbackMode = mode }
    }

    /// How a callback is sent; the answer is the HTTP status (0 on a transport error).
    /// Default: a POST with Content-Type application/x-www-form-urlencoded through AsyncHTTPClient.
    public func setDelivery(_ deliver: @escaping @Sendable (Callback) async -> Int) {
        state.withLock { $0.deliver = deliver }
    }

    /// Held callbacks (mode .hold) are sent now, in order.
    public func releaseHeldCallbacks() async {
        let held = state.withLock { state in
            defer { state.held = [] }
            return state.held
        }
        for callback in held { await send(callback) }
    }

    /// Sends again the callback of every hosted transaction that reads paid and was never approved,
    /// at most 5 extra times each: each call is "the next retry" of Grow's schedule.
    public func resendUnapproved() async {
        let due = state.withLock { state in
            let ledger = state.ledger
            let unapproved = ledger.transactions.filter { transaction in
                transaction.kind == .hosted && transaction.statusCode == 2 && !transaction.approved
                    && ledger.callbacks[transaction.id] != nil && ledger.resendCounts[transaction.id, default: 0] < 5
            }
            for transaction in unapproved { state.ledger.resendCounts[transaction.id, default: 0] += 1 }
            return unapproved.compactMap { ledger.callbacks[$0.id] }
        }
        for callback in due { await send(callback) }
    }

    /// The callback the fake would send for this process, `overrides` applied to the `data[...]` fields
    /// (a `cFieldN` key replaces a custom field). For a process not paid, one as if paid with the first
    /// sandbox card, for a transaction that does not exist. Not sent.
    public func callback(forProcessURL url: String, overrides: [String: String] = [:]) -> Callback? {
        state.withLock { $0.ledger.callback(forLink: Self.link(in: url), overrides: overrides) }
    }

    /// Every callback sent so far, with the delivery's answer.
    public var sentCallbacks: [(Callback, Int)] { state.withLock { $0.sent } }

    /// A callback of a payment just made, per the mode.
    func emit(_ callback: Callback) async {
        let mode = state.withLock { state in
            if state.callbackMode == .hold { state.held.append(callback) }
            return state.callbackMode
        }
        switch mode {
        case .immediate: await send(callback)
        case .duplicate:
            await send(callback)
            await send(callback)
        case .hold, .drop: break
        }
    }

    func send(_ callback: Callback) async {
        let deliver = state.withLock { $0.deliver }
        let answer = await deliver(callback)
        state.withLock { $0.sent.append((callback, answer)) }
    }

    /// The default delivery: Grow's POST, form-encoded.
    @Sendable static func postForm(_ callback: Callback) async -> Int {
        var request = HTTPClientRequest(url: callback.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: callback.body))
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            return Int(response.status.code)
        } catch {
            return 0
        }
    }

    // MARK: - Inspection

    /// Every API call received, in order (also refused and failed ones).
    public var requests: [Request] { state.withLock { $0.requests } }

    public var transactions: [Transaction] {
        state.withLock { state in
            state.ledger.expireOverdue()
            return state.ledger.transactions
        }
    }

    public var processes: [Process] {
        state.withLock { state in
            state.ledger.expireOverdue()
            return state.ledger.processes
        }
    }

    // MARK: - The API

    /// One API call: recorded, then failure injection, then the ledger's answer.
    func answer(method: String, contentType: String, body: String) -> (status: HTTPResponse.Status, json: String) {
        let fields = formFields(body: body, contentType: contentType)
        return state.withLock { state in
            state.requests.append(Request(method: method, contentType: contentType, fields: fields))
            let failure = state.failures[method]?.isEmpty == false ? state.failures[method]?.removeFirst() : nil
            switch failure {
            case .http500: return (.internalServerError, Self.serverErrorBody)
            case .error(let id, let message): return (.ok, Envelope.failure(GrowError(id: id, message: message)))
            case .applyThenHTTP500, nil: break
            }
            let json = switch state.ledger.perform(method, Fields(pairs: fields)) {
            case .data(let data): Envelope.success(data)
            case .refused(let error): Envelope.failure(error)
            case .unknownMethod: Envelope.unknownMethod
            }
            return failure == nil ? (.ok, json) : (.internalServerError, Self.serverErrorBody)
        }
    }

    static let serverErrorBody = "<html><body><h1>500 Internal Server Error</h1></body></html>"
}

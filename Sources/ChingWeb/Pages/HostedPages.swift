import ChingDomain
import ChingHTTP
import ChingServices
import HTTPTypes
import Hummingbird

/// What a hosted page needs of one session, whatever the flow.
protocol HostedPageState: Sendable {
    associatedtype Session: HostedSession
    var session: Session { get }
    var merchantName: String { get }
    var brand: BrandContext? { get }
    /// The language when the URL names none (the session's, the customer's, the brand's default).
    var preferredLanguage: Language? { get }
    /// Live mode with Grow: the card is taken on Grow's page, and these are the payer's details we have.
    var payer: LivePayments.Payer? { get }
}

/// One kind of hosted page (checkout, setup, and next the billing portal): how it loads its
/// session, shows its form and ended states, and what submitting the card does. Everything else
/// (routes, the form's checks, 3-D Secure, refusals, redirects) is `HostedPages`'s, the same for all.
protocol HostedFlow: Sendable {
    associatedtype State: HostedPageState
    /// The path's first segment: `/checkout/:id`, `/setup/:id`.
    var path: String { get }
    /// What a live session of this flow opens on the provider's page.
    var liveKind: LivePayments.Kind { get }
    func state(_ id: String) async throws -> State?
    /// The form (fresh, or with what was typed and its field errors or decline).
    func page(_ state: State, locale: Language, status: HTTPResponse.Status, typed: TypedForm,
              errors: [String: CheckoutPayment.FieldError], decline: String?) -> Response
    /// The card form was posted (CSRF and rate limit already checked).
    func submit(_ card: CheckoutPayment.CardForm, typed: TypedForm, state: State) async throws -> HostedOutcome<State.Session>
    /// The 3-D Secure challenge was answered.
    func authenticate(sessionID: String, attemptID: String, passed: Bool) async throws -> HostedOutcome<State.Session>
    /// The message of an ended session: its heading key, its text, and a receipt link when there is one.
    func ended(_ state: State, status: HostedSessionStatus, locale: Language) -> (heading: String, body: String, receiptURL: String?)
    /// What the 3-D Secure page says.
    func challengeText(_ state: State, locale: Language) -> String
}

/// The hosted page controller, generic over the flow: `GET` shows the form or the session's state,
/// `POST` submits the card, `/cancel` goes back to the merchant, `/3ds/:attempt` is the challenge.
/// It works without JavaScript: every step is a form POST answered by a page or a 303.
struct HostedPages<Flow: HostedFlow>: Sendable {
    let flow: Flow
    let services: AppServices
    let pages: PageRenderer
    let limiter: AttemptLimiter
    var kit: HostedPageKit { HostedPageKit(services: services, pages: pages) }

    func addRoutes(to router: RouterGroup<AppRequestContext>) {
        let path = flow.path
        router.get("\(path)/:id") { request, context in try await show(request, context) }
        router.post("\(path)/:id") { request, context in try await submit(request, context) }
        router.get("\(path)/:id/cancel") { request, context in try await cancel(request, context) }
        router.post("\(path)/:id/cancel") { request, context in try await cancel(request, context) }
        router.get("\(path)/:id/return") { request, context in try await providerReturn(request, context) }
        router.get("\(path)/:id/3ds/:attempt") { request, context in try await showChallenge(request, context) }
        router.post("\(path)/:id/3ds/:attempt") { request, context in try await answerChallenge(request, context) }
    }

    /// `?locale=` first, then what the session prefers, then Hebrew.
    func locale(_ request: Request, _ state: Flow.State?) -> Language {
        request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) } ?? state?.preferredLanguage ?? .he
    }

    // MARK: - Routes

    func show(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let state = try await flow.state(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let ended = stateResponse(state, locale: locale) { return ended }
        // A live setup page has nothing to choose: with the payer's details on file it goes straight to Grow's page.
        if flow.liveKind == .setup, let payer = state.payer, payer.problems.isEmpty, request.uri.queryParameters["canceled"] == nil {
            return try await startOnProvider(state, locale: locale, installments: 1, payer: payer, typed: TypedForm())
        }
        return page(state, locale: locale)
    }

    /// Live mode: the pay button opens the payment on Grow's page and sends the customer there.
    func startOnProvider(_ state: Flow.State, locale: Language, installments: Int64, payer: LivePayments.Payer, typed: TypedForm) async throws -> Response {
        switch try await LivePayments(services: services).start(flow.liveKind, sessionID: state.session.id, installments: installments, payer: payer) {
        case .redirect(let url):
            return PageRenderer.redirect(to: url, redirectOrigins: HostedPageKit.origins(url), https: kit.https)
        case .invalid(let errors):
            return page(state, locale: locale, status: .unprocessableContent, typed: typed, errors: errors)
        case .refused:
            let fresh = try await flow.state(state.session.id) ?? state
            return stateResponse(fresh, locale: locale) ?? message(state, locale, status: .conflict, heading: "busy_title", body: text("busy_body", locale))
        }
    }

    /// The customer is back from Grow's page. Their arrival proves nothing: Grow is asked, and the
    /// payment recorded if it says so (or found recorded, when its callback came first).
    func providerReturn(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let state = try await flow.state(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state), session = state.session
        let process = request.uri.queryParameters["process"].map(String.init) ?? ""
        let settled = try await LivePayments(services: services).customerReturned(sessionID: session.id, processID: process)
        let fresh = try await flow.state(session.id) ?? state
        let status = fresh.session.status(at: services.clock.now())
        if settled == .unknown, status != .succeeded {
            return message(state, locale, status: .accepted, heading: "confirming_title", body: text("confirming_body", locale),
                           link: ("/\(flow.path)/\(session.id)/return?process=\(process)&locale=\(locale.rawValue)", text("confirming_link", locale)))
        }
        // Paid: on to the merchant's success URL; otherwise the session's page as it now is.
        return try await respond(to: .notPayable(fresh.session, status: status), state: fresh, locale: locale, typed: TypedForm())
    }

    func submit(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let state = try await flow.state(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        let form: HostedForm
        switch await verifiedForm(request, state: state, locale: locale, limit: 64 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return refusal.response
        }
        if let retry = limiter.attempt(from: limiter.clientAddress(request, context), at: services.clock.now()) {
            var response = message(state, locale, status: .tooManyRequests, heading: "locked_title", body: text("rate_limited_body", locale))
            response.headers[.retryAfter] = String(retry)
            return response
        }
        let (card, typed) = HostedPageKit.cardForm(form)
        if let payer = state.payer {
            let typedPayer = LivePayments.Payer(name: typed.payerName ?? payer.name, phone: typed.payerPhone ?? payer.phone, email: payer.email)
            return try await startOnProvider(state, locale: locale, installments: typed.installments, payer: typedPayer, typed: typed)
        }
        return try await respond(to: try await flow.submit(card, typed: typed, state: state), state: state, locale: locale, typed: typed)
    }

    func respond(to outcome: HostedOutcome<Flow.State.Session>, state: Flow.State, locale: Language, typed: TypedForm) async throws -> Response {
        let id = state.session.id
        switch outcome {
        case .succeeded(let session), .notPayable(let session, .succeeded):
            return PageRenderer.redirect(to: session.successRedirect, redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL),
                                         https: kit.https)
        case .requiresAuthentication(let attemptID):
            return PageRenderer.redirect(to: "/\(flow.path)/\(id)/3ds/\(attemptID)?locale=\(locale.rawValue)", https: kit.https)
        case .declined(let decline):
            // Fresh: the decline may have locked the session.
            return page(try await flow.state(id) ?? state, locale: locale, status: .init(code: 402, reasonPhrase: "Payment Required"), typed: typed,
                        decline: kit.declineText(decline, locale))
        case .invalid(let errors):
            return page(state, locale: locale, status: .unprocessableContent, typed: typed, errors: errors)
        case .busy:
            return message(state, locale, status: .conflict, heading: "busy_title", body: text("busy_body", locale),
                           link: ("/\(flow.path)/\(id)?locale=\(locale.rawValue)", text("reload_link", locale)))
        case .locked(let until):
            return locked(state, locale: locale, until: until)
        case .notPayable:
            let fresh = try await flow.state(id) ?? state
            return stateResponse(fresh, locale: locale) ?? page(fresh, locale: locale)
        }
    }

    func cancel(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let state = try await flow.state(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let session = state.session
        return PageRenderer.redirect(to: session.cancelRedirect, redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL), https: kit.https)
    }

    func showChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let state = try await flow.state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let response = stateResponse(state, locale: locale) { return response }
        return kit.challengePage(locale: locale, merchantName: state.merchantName, testMode: !state.session.caller.livemode, brand: state.brand,
                                 body: flow.challengeText(state, locale: locale),
                                 formAction: "/\(flow.path)/\(id)/3ds/\(attempt)?locale=\(locale.rawValue)", csrfToken: state.session.csrfToken)
    }

    func answerChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let state = try await flow.state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        let form: HostedForm
        switch await verifiedForm(request, state: state, locale: locale, limit: 16 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return refusal.response
        }
        do {
            let outcome = try await flow.authenticate(sessionID: id, attemptID: attempt, passed: form.result == "pass")
            return try await respond(to: outcome, state: state, locale: locale, typed: TypedForm())
        } catch let error as ServiceError where error.kind == .notFound {
            return stateResponse(state, locale: locale) ?? page(state, locale: locale)
        }
    }

    /// A page's answer instead of the form: too large, unreadable, or not from this page (CSRF).
    struct Refused: Error { let response: Response }

    /// The posted form, read within `limit` bytes and carrying this session's CSRF token.
    func verifiedForm(_ request: Request, state: Flow.State, locale: Language, limit: Int) async -> Result<HostedForm, Refused> {
        await kit.verifiedForm(request, csrfToken: state.session.csrfToken, limit: limit).mapError { refusal in
            Refused(response: refusal.status == .forbidden ? forbidden(state, locale)
                : message(state, locale, status: refusal.status, heading: refusal.heading, body: text(refusal.body, locale)))
        }
    }

    // MARK: - Pages

    func page(_ state: Flow.State, locale: Language, status: HTTPResponse.Status = .ok, typed: TypedForm = TypedForm(),
              errors: [String: CheckoutPayment.FieldError] = [:], decline: String? = nil) -> Response {
        flow.page(state, locale: locale, status: status, typed: typed, errors: errors, decline: decline)
    }

    /// The page for a session that has ended or is locked, or nil when the form should show.
    func stateResponse(_ state: Flow.State, locale: Language) -> Response? {
        let session = state.session, now = services.clock.now()
        let status = session.status(at: now)
        if status == .pending {
            guard let until = session.lockedUntil, until > now else { return nil }
            return locked(state, locale: locale, until: until)
        }
        let merchant = ["merchant": state.merchantName]
        let (heading, body, receiptURL) = flow.ended(state, status: status, locale: locale)
        let link = status == .succeeded ? (session.successRedirect, text("continue_link", locale, merchant))
            : (session.cancelRedirect, text("return_link", locale, merchant))
        return message(state, locale, status: status == .succeeded ? .ok : .gone, heading: heading, body: body, link: link, receiptURL: receiptURL)
    }

    /// 429 until the lock after five failed attempts lifts, with `Retry-After`.
    func locked(_ state: Flow.State, locale: Language, until: Timestamp) -> Response {
        var response = message(state, locale, status: .tooManyRequests, heading: "locked_title",
                               body: text("locked_body", locale, ["time": HostedPageKit.clockTime(until)]))
        response.headers[.retryAfter] = String(max(1, (until.milliseconds - services.clock.now().milliseconds) / 1000))
        return response
    }

    func message(_ state: Flow.State, _ locale: Language, status: HTTPResponse.Status, heading: String, body: String,
                 link: (String, String)? = nil, receiptURL: String? = nil) -> Response {
        pages.message(status: status, locale: locale, merchantName: state.merchantName, testMode: !state.session.caller.livemode,
                      heading: text(heading, locale), body: body, link: link.map { (url: $0.0, label: $0.1) }, receiptURL: receiptURL, brand: state.brand)
    }

    func forbidden(_ state: Flow.State, _ locale: Language) -> Response {
        message(state, locale, status: .forbidden, heading: "forbidden_title", body: text("forbidden_body", locale),
                link: ("/\(flow.path)/\(state.session.id)?locale=\(locale.rawValue)", text("reload_link", locale)))
    }

    private func text(_ key: String, _ locale: Language, _ values: [String: String] = [:]) -> String {
        pages.localization.text(key, locale, values)
    }
}

import ChingDomain
import ChingStore
import Foundation
import Crypto
import HTTPTypes
import Hummingbird
import NIOCore
import SQLKit

/// The hosted checkout page: `/checkout/:id` (GET shows it, POST pays), the 3-D Secure step and
/// cancel. It works without JavaScript: every step is a form POST answered by a page or a 303.
struct CheckoutPages: Sendable {
    let services: AppServices
    let pages: PageRenderer
    let limiter: AttemptLimiter
    let cache: PageCache<CheckoutPageModel>
    var payment: CheckoutPayment { CheckoutPayment(services: services) }
    var kit: HostedPageKit { HostedPageKit(services: services, pages: pages) }
    var https: Bool { kit.https }

    func addRoutes(to router: RouterGroup<AppRequestContext>) {
        router.get("checkout/:id") { request, context in try await show(request, context) }
        router.post("checkout/:id") { request, context in try await submit(request, context) }
        router.get("checkout/:id/cancel") { request, context in try await cancel(request, context) }
        router.post("checkout/:id/cancel") { request, context in try await cancel(request, context) }
        router.get("checkout/:id/3ds/:attempt") { request, context in try await showChallenge(request, context) }
        router.post("checkout/:id/3ds/:attempt") { request, context in try await answerChallenge(request, context) }
    }

    func state(_ id: String) async throws -> CheckoutView? { try await CheckoutView.load(id, services: services) }

    /// `?locale=` first, then the session's, then the customer's, then Hebrew.
    func locale(_ request: Request, _ state: CheckoutView?) -> Language {
        request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) }
            ?? state?.session.locale ?? state?.customerLocale ?? state?.brand?.brand.defaultLocale ?? .he
    }

    // MARK: - Routes

    func show(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let state = try await state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let response = stateResponse(state, locale: locale) { return response }
        return page(state, locale: locale, status: .ok)
    }

    func submit(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let state = try await state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        let form: HostedForm
        switch await HostedForm.read(request, limit: 64 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return message(state, locale, status: refusal.status, heading: refusal.heading, body: pages.localization.text(refusal.body, locale))
        }
        guard kit.verify(form.csrf, expected: state.session.csrfToken, request) else { return forbidden(state, locale) }
        let client = limiter.clientAddress(request, context)
        if let retry = limiter.attempt(from: client, at: services.clock.now()) {
            var response = message(state, locale, status: .tooManyRequests, heading: "locked_title", body: pages.localization.text("rate_limited_body", locale))
            response.headers[.retryAfter] = String(retry)
            return response
        }
        let (card, typed) = HostedPageKit.cardForm(form)
        let method: CheckoutPayment.Method = typed.paymentMethod == "new" ? .newCard(card) : .savedCard(typed.paymentMethod ?? "")
        let outcome = try await payment.pay(sessionID: id, method: method, installments: typed.installments)
        return try await respond(to: outcome, state: state, locale: locale, typed: typed)
    }

    func respond(to outcome: CheckoutPayment.Outcome, state: CheckoutView, locale: Language, typed: TypedForm) async throws -> Response {
        let l = pages.localization
        switch outcome {
        case .succeeded(let session):
            return PageRenderer.redirect(to: session.successRedirect, redirectOrigins: HostedPageKit.origins(state.session.successURL, state.session.cancelURL), https: https)
        case .requiresAuthentication(let attemptID):
            return PageRenderer.redirect(to: "/checkout/\(state.session.id)/3ds/\(attemptID)?locale=\(locale.rawValue)", https: https)
        case .declined(let decline):
            let text = kit.declineText(decline, locale)
            return page(try await self.state(state.session.id) ?? state, locale: locale, status: .init(code: 402, reasonPhrase: "Payment Required"),
                        typed: typed, decline: text)
        case .invalid(let errors):
            return page(state, locale: locale, status: .unprocessableContent, typed: typed, errors: errors)
        case .busy:
            return message(state, locale, status: .conflict, heading: "busy_title", body: l.text("busy_body", locale),
                           link: ("/checkout/\(state.session.id)?locale=\(locale.rawValue)", l.text("reload_link", locale)))
        case .locked(let until):
            var response = message(state, locale, status: .tooManyRequests, heading: "locked_title",
                                   body: l.text("locked_body", locale, ["time": HostedPageKit.clockTime(until)]))
            response.headers[.retryAfter] = String(max(1, (until.milliseconds - services.clock.now().milliseconds) / 1000))
            return response
        case .notPayable(let session, let status):
            if status == .succeeded {
                return PageRenderer.redirect(to: session.successRedirect, redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL), https: https)
            }
            let fresh = try await self.state(session.id) ?? state
            return stateResponse(fresh, locale: locale) ?? page(fresh, locale: locale, status: .ok)
        }
    }

    func cancel(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let state = try await state(id) else { return kit.notFound(locale(request, nil)) }
        return PageRenderer.redirect(to: state.session.cancelRedirect, redirectOrigins: HostedPageKit.origins(state.session.successURL, state.session.cancelURL), https: https)
    }

    func showChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let state = try await state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let response = stateResponse(state, locale: locale) { return response }
        let l = pages.localization
        return kit.challengePage(locale: locale, merchantName: state.merchantName, testMode: !state.session.caller.livemode, brand: state.brand,
                                 body: l.text("three_ds_body", locale, ["amount": l.money(state.offer.totals.dueToday, locale), "merchant": state.merchantName]), formAction: "/checkout/\(id)/3ds/\(attempt)?locale=\(locale.rawValue)",
                                 csrfToken: state.session.csrfToken)
    }

    func answerChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let state = try await state(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, state)
        let form: HostedForm
        switch await HostedForm.read(request, limit: 16 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return message(state, locale, status: refusal.status, heading: refusal.heading, body: pages.localization.text(refusal.body, locale))
        }
        guard kit.verify(form.csrf, expected: state.session.csrfToken, request) else { return forbidden(state, locale) }
        do {
            let outcome = try await payment.authenticate(sessionID: id, attemptID: attempt, passed: form.result == "pass")
            return try await respond(to: outcome, state: state, locale: locale, typed: TypedForm())
        } catch let error as APIError where error.status == .notFound {
            return stateResponse(state, locale: locale) ?? page(state, locale: locale, status: .ok)
        }
    }

    // MARK: - Pages

    func page(_ state: CheckoutView, locale: Language, status: HTTPResponse.Status, typed: TypedForm = TypedForm(),
              errors: [String: CheckoutPayment.FieldError] = [:], decline: String? = nil) -> Response {
        let model = CheckoutPageModel(state, language: locale, typed: typed, errors: errors, decline: decline, localization: pages.localization)
        // The untouched form (no errors, nothing typed) is the page most visits get: kept while its model is the same.
        let cacheable = status == .ok && errors.isEmpty && decline == nil && typed == TypedForm()
        let cacheKey = state.session.id + "|" + locale.rawValue
        if cacheable, let cached = cache.response(for: cacheKey, model: model) { return cached }
        guard let (headers, body) = pages.renderParts("checkout", context: model.context(pages.localization), redirectOrigins: model.redirectOrigins,
                                                      brand: state.brand)
        else { return pages.failure(locale) }
        if cacheable { cache.store(cacheKey, model: model, headers: headers, body: body) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// The page for a session that is not pending (or is locked), or nil when the form should show.
    func stateResponse(_ state: CheckoutView, locale: Language) -> Response? {
        let l = pages.localization
        let merchant = ["merchant": state.merchantName]
        switch state.session.status(at: services.clock.now()) {
        case .succeeded:
            return message(state, locale, status: .ok, heading: "paid_title",
                           body: l.text(state.session.chargeID == nil ? "paid_body_no_charge" : "paid_body", locale, merchant),
                           link: (state.session.successRedirect, l.text("continue_link", locale, merchant)), receiptURL: state.receiptURL)
        case .expired:
            return message(state, locale, status: .gone, heading: "expired_title", body: l.text("expired_body", locale),
                           link: (state.session.cancelRedirect, l.text("return_link", locale, merchant)))
        case .canceled:
            return message(state, locale, status: .gone, heading: "canceled_title", body: l.text("canceled_body", locale),
                           link: (state.session.cancelRedirect, l.text("return_link", locale, merchant)))
        default:
            if let until = state.session.lockedUntil, until > services.clock.now() {
                return message(state, locale, status: .tooManyRequests, heading: "locked_title",
                               body: l.text("locked_body", locale, ["time": HostedPageKit.clockTime(until)]))
            }
            return nil
        }
    }

    func message(_ state: CheckoutView, _ locale: Language, status: HTTPResponse.Status, heading: String, body: String,
                 link: (String, String)? = nil, receiptURL: String? = nil) -> Response {
        pages.message(status: status, locale: locale, merchantName: state.merchantName, testMode: !state.session.caller.livemode,
                      heading: pages.localization.text(heading, locale), body: body, link: link.map { (url: $0.0, label: $0.1) }, receiptURL: receiptURL,
                      brand: state.brand)
    }

    func forbidden(_ state: CheckoutView, _ locale: Language) -> Response {
        message(state, locale, status: .forbidden, heading: "forbidden_title", body: pages.localization.text("forbidden_body", locale),
                link: ("/checkout/\(state.session.id)?locale=\(locale.rawValue)", pages.localization.text("reload_link", locale)))
    }

}

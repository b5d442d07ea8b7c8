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
    let cache: PageCache
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
        let l = pages.localization
        let session = state.session, totals = state.offer.totals
        // The untouched form (no errors, nothing typed) is the page most visits get: cached by what it shows.
        let cacheable = status == .ok && errors.isEmpty && decline == nil && typed == TypedForm()
        let cacheKey = session.id + "|" + locale.rawValue
        let fingerprint = cacheable ? Self.fingerprint(state, totals: totals) : ""
        if cacheable, let cached = cache.response(for: cacheKey, fingerprint: fingerprint) { return cached }
        let money = { (agorot: Int64) in l.money(agorot, locale) }
        let switchTo: Language = locale == .he ? .en : .he
        var page = pages.base(locale: locale, title: l.text("title_checkout", locale), merchantName: state.merchantName,
                              testMode: !session.caller.livemode, switchURL: "/checkout/\(session.id)?locale=\(switchTo.rawValue)", brand: state.brand)

        page.merge(kit.formContext(locale: locale, typed: typed, errors: errors, requireIsraeliID: state.limits.requireIsraeliID)) { $1 }
        if let decline { page["decline"] = decline }

        if let product = state.offer.product {
            page["product"] = HostedPageKit.present(["name": product.name, "description": product.description, "imageURL": product.imageURL,
                                            "hasFeatures": !product.features.isEmpty,
                                            "features": product.features.map { HostedPageKit.present(["title": $0.title, "subtitle": $0.subtitle]) }])
        }
        page["lines"] = session.lines.map { line in
            HostedPageKit.present(["name": line.name, "description": line.description, "imageURL": line.imageURL, "isDiscount": line.isDiscount,
                          "quantityLabel": l.text("quantity_times", locale, ["quantity": String(line.quantity), "amount": money(line.unitAmount)]),
                          // Every line's total was checked when the session was created.
                          "total": (try? line.total()).map(money)])
        }
        page["hasLines"] = !session.lines.isEmpty
        page["subtotal"] = money(totals.subtotal)
        if totals.discounts < 0 { page["discounts"] = money(totals.discounts) }
        page["showVAT"] = state.brand?.brand.showVATLine ?? true
        page["vatLabel"] = l.text(totals.vatIncluded ? "vat_included" : "vat_added", locale, ["rate": VAT.percentLabel])
        page["vat"] = money(totals.vat)
        page["dueToday"] = money(totals.dueToday)
        if let plan = state.offer.plan, let recurring = totals.recurringAmount, let first = totals.firstBillingAt {
            page["planLine"] = l.text("plan_then", locale, ["amount": money(recurring), "interval": l.interval(plan.interval, count: plan.intervalCount, locale),
                                                            "date": l.date(first, locale)])
            if plan.hasTrial { page["trialLine"] = l.text("plan_trial", locale, ["days": String(plan.trialDays)]) }
        }
        page["manualCapture"] = session.manualCapture

        let firstCard = state.savedCards.first?.id
        let chosen = typed.paymentMethod ?? firstCard ?? "new"
        page["savedCards"] = state.savedCards.map { card -> [String: Any] in
            ["id": card.id, "checked": chosen == card.id,
             "label": l.text("saved_card", locale, ["brand": card.brand.displayName, "last4": card.last4,
                                                     "month": (card.expMonth < 10 ? "0" : "") + String(card.expMonth), "year": String(card.expYear % 100)])]
        }
        page["hasSavedCards"] = !state.savedCards.isEmpty
        page["newCardChecked"] = chosen == "new" || !state.savedCards.contains { $0.id == chosen }
        if state.limits.maxInstallments > 1 {
            page["installments"] = (1...state.limits.maxInstallments).map { count -> [String: Any] in
                let each = money(Installments.split(totals.dueToday, count: count).each)
                return ["value": count, "selected": count == typed.installments,
                        "label": count == 1 ? l.text("installments_one", locale, ["amount": each]) : l.text("installments_many", locale, ["count": String(count), "amount": each])]
            }
            page["hasInstallments"] = true
        }
        page["formAction"] = "/checkout/\(session.id)?locale=\(locale.rawValue)"
        page["csrfToken"] = session.csrfToken
        page["payLabel"] = totals.dueToday == 0 ? l.text("start_button", locale)
            : l.text(session.manualCapture ? "authorize_button" : "pay_button", locale, ["amount": money(totals.dueToday)])
        page["cancelAction"] = "/checkout/\(session.id)/cancel"
        page["cancelLabel"] = l.text("cancel_link", locale, ["merchant": state.merchantName])
        guard let (headers, body) = pages.renderParts("checkout", context: page, redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL),
                                                      brand: state.brand)
        else { return pages.failure(locale) }
        if cacheable { cache.store(cacheKey, fingerprint: fingerprint, headers: headers, body: body) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// Everything the untouched checkout page shows that can change while the session is pending.
    static func fingerprint(_ state: CheckoutView, totals: CheckoutTotals) -> String {
        let product = state.offer.product.map { [$0.name, $0.description ?? "", $0.imageURL ?? "", $0.features.map { $0.title + ($0.subtitle ?? "") }.joined()] } ?? []
        let cards = state.savedCards.map { "\($0.id)\($0.expMonth)\($0.expYear)" }
        let brand = state.brand.map { [$0.brand.version] } ?? []
        return ([state.session.storedStatus, String(state.session.lockedUntil?.milliseconds ?? 0), state.merchantName,
                 String(state.limits.maxInstallments), String(state.limits.requireIsraeliID),
                 // The first billing time moves with the clock; the page shows only its day.
                 "\(totals.subtotal) \(totals.discounts) \(totals.dueToday) \(totals.vat) \(totals.vatIncluded) \(totals.recurringAmount ?? -1)",
                 totals.firstBillingAt?.date.isoString ?? "", "\(state.offer.plan.map { "\($0)" } ?? "")"]
                + product + cards + brand).joined(separator: "\u{1}")
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

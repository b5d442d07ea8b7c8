import ChingDomain
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
    var payment: CheckoutPayment { CheckoutPayment(services: services) }
    var https: Bool { services.publicURL.hasPrefix("https://") }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("checkout/:id") { request, context in try await show(request, context) }
        router.post("checkout/:id") { request, context in try await submit(request, context) }
        router.get("checkout/:id/cancel") { request, context in try await cancel(request, context) }
        router.post("checkout/:id/cancel") { request, context in try await cancel(request, context) }
        router.get("checkout/:id/3ds/:attempt") { request, context in try await showChallenge(request, context) }
        router.post("checkout/:id/3ds/:attempt") { request, context in try await answerChallenge(request, context) }
    }

    func state(_ id: String) async throws -> CheckoutView? { try await CheckoutView.load(id, services: services) }

    /// `?locale=` first, then the session's, then the customer's, then Hebrew.
    func locale(_ request: Request, _ state: CheckoutView?) -> ChingDomain.Locale {
        request.uri.queryParameters["locale"].flatMap { ChingDomain.Locale(rawValue: String($0)) }
            ?? state?.session.locale ?? state?.customerLocale ?? .he
    }

    // MARK: - Routes

    func show(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let state = try await state(id) else { return notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let response = stateResponse(state, locale: locale) { return response }
        return page(state, locale: locale, status: .ok)
    }

    func submit(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        let form = FormBody.parse(try await request.body.collect(upTo: 64 * 1024))
        guard let state = try await state(id) else { return notFound(locale(request, nil)) }
        let locale = locale(request, state)
        guard verify(form["csrf"], state.session, request) else { return forbidden(state, locale) }
        if let retry = limiter.attempt(from: context.clientAddress, at: services.clock.now()) {
            var response = message(state, locale, status: .tooManyRequests, heading: "locked_title", body: pages.localization.text("rate_limited_body", locale))
            response.headers[.retryAfter] = String(retry)
            return response
        }
        var card = CheckoutPayment.CardForm()
        card.number = form["number"] ?? ""
        card.cvc = (form["cvc"] ?? "").trimmingWhitespace()
        card.holderName = form["name"].map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        card.israeliID = form["israeli_id"].map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        (card.expMonth, card.expYear) = Self.parseExpiry(form["exp"] ?? "")
        let choice = form["payment_method"] ?? "new"
        let method: CheckoutPayment.Method = choice == "new" || choice.isEmpty ? .newCard(card) : .savedCard(choice)
        let installments = Int64(form["installments"] ?? "1") ?? 0
        let typed = TypedForm(name: card.holderName ?? "", exp: form["exp"] ?? "", israeliID: card.israeliID ?? "",
                              installments: installments, paymentMethod: choice)

        let outcome = try await payment.pay(sessionID: id, method: method, installments: installments)
        return try await respond(to: outcome, state: state, locale: locale, typed: typed)
    }

    func respond(to outcome: CheckoutPayment.Outcome, state: CheckoutView, locale: ChingDomain.Locale, typed: TypedForm) async throws -> Response {
        let l = pages.localization
        switch outcome {
        case .succeeded(let session):
            return PageRenderer.redirect(to: session.successRedirect, redirectOrigins: redirectOrigins(state.session), https: https)
        case .requiresAuthentication(let attemptID):
            return PageRenderer.redirect(to: "/checkout/\(state.session.id)/3ds/\(attemptID)?locale=\(locale.rawValue)", https: https)
        case .declined(let decline):
            let key = "decline_\(decline.code)"
            let text = l.table(locale)[key] != nil ? l.text(key, locale) : l.text("decline_other", locale)
            return page(try await self.state(state.session.id) ?? state, locale: locale, status: .init(code: 402, reasonPhrase: "Payment Required"),
                        typed: typed, decline: text)
        case .invalid(let errors):
            return page(state, locale: locale, status: .unprocessableContent, typed: typed, errors: errors)
        case .busy:
            return message(state, locale, status: .conflict, heading: "busy_title", body: l.text("busy_body", locale),
                           link: ("/checkout/\(state.session.id)?locale=\(locale.rawValue)", l.text("reload_link", locale)))
        case .locked(let until):
            var response = message(state, locale, status: .tooManyRequests, heading: "locked_title",
                                   body: l.text("locked_body", locale, ["time": Self.clockTime(until)]))
            response.headers[.retryAfter] = String(max(1, (until.milliseconds - services.clock.now().milliseconds) / 1000))
            return response
        case .notPayable(let session, let status):
            if status == "succeeded" {
                return PageRenderer.redirect(to: session.successRedirect, redirectOrigins: redirectOrigins(session), https: https)
            }
            let fresh = try await self.state(session.id) ?? state
            return stateResponse(fresh, locale: locale) ?? page(fresh, locale: locale, status: .ok)
        }
    }

    func cancel(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? ""
        guard let state = try await state(id) else { return notFound(locale(request, nil)) }
        return PageRenderer.redirect(to: state.session.cancelRedirect, redirectOrigins: redirectOrigins(state.session), https: https)
    }

    func showChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let state = try await state(id) else { return notFound(locale(request, nil)) }
        let locale = locale(request, state)
        if let response = stateResponse(state, locale: locale) { return response }
        let l = pages.localization
        var page = pages.base(locale: locale, title: l.text("three_ds_title", locale), merchantName: state.merchantName,
                              testMode: !state.session.caller.livemode, switchURL: nil)
        page["body"] = l.text("three_ds_body", locale, ["amount": l.money(state.offer.totals.dueToday, locale), "merchant": state.merchantName])
        page["formAction"] = "/checkout/\(id)/3ds/\(attempt)?locale=\(locale.rawValue)"
        page["csrfToken"] = state.session.csrfToken
        return pages.render("three_d_secure", context: page)
    }

    func answerChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        let form = FormBody.parse(try await request.body.collect(upTo: 16 * 1024))
        guard let state = try await state(id) else { return notFound(locale(request, nil)) }
        let locale = locale(request, state)
        guard verify(form["csrf"], state.session, request) else { return forbidden(state, locale) }
        do {
            let outcome = try await payment.authenticate(sessionID: id, attemptID: attempt, passed: form["result"] == "pass")
            return try await respond(to: outcome, state: state, locale: locale, typed: TypedForm())
        } catch let error as APIError where error.status == .notFound {
            return stateResponse(state, locale: locale) ?? page(state, locale: locale, status: .ok)
        }
    }

    // MARK: - Pages

    /// What the customer typed that may be shown again (never the card number or the CVC).
    struct TypedForm: Sendable {
        var name = ""
        var exp = ""
        var israeliID = ""
        var installments: Int64 = 1
        var paymentMethod: String?
    }

    func page(_ state: CheckoutView, locale: ChingDomain.Locale, status: HTTPResponse.Status, typed: TypedForm = TypedForm(),
              errors: [String: CheckoutPayment.FieldError] = [:], decline: String? = nil) -> Response {
        let l = pages.localization
        let session = state.session, totals = state.offer.totals
        let money = { (agorot: Int64) in l.money(agorot, locale) }
        let switchTo: ChingDomain.Locale = locale == .he ? .en : .he
        var page = pages.base(locale: locale, title: l.text("title_checkout", locale), merchantName: state.merchantName,
                              testMode: !session.caller.livemode, switchURL: "/checkout/\(session.id)?locale=\(switchTo.rawValue)")

        let order: [(field: String, anchor: String)] = [("payment_method", "payment_method"), ("name", "name"), ("number", "number"),
                                                        ("expiry", "exp"), ("cvc", "cvc"), ("israeli_id", "israeli_id"), ("installments", "installments")]
        var fieldErrors: [String: String] = [:]
        for (field, error) in errors { fieldErrors[field] = l.text("error_\(error.rawValue)", locale) }
        page["fieldErrors"] = fieldErrors
        page["errors"] = order.compactMap { item in fieldErrors[item.field].map { ["field": item.anchor, "message": $0] } }
        page["hasErrors"] = !errors.isEmpty
        if let decline { page["decline"] = decline }

        if let product = state.offer.product {
            page["product"] = Self.present(["name": product.name, "description": product.description, "imageURL": product.imageURL,
                                            "hasFeatures": !product.features.isEmpty,
                                            "features": product.features.map { Self.present(["title": $0.title, "subtitle": $0.subtitle]) }])
        }
        page["lines"] = session.lines.map { line in
            Self.present(["name": line.name, "description": line.description, "imageURL": line.imageURL, "isDiscount": line.isDiscount,
                          "quantityLabel": l.text("quantity_times", locale, ["quantity": String(line.quantity), "amount": money(line.unitAmount)]),
                          "total": money(line.unitAmount &* line.quantity)])
        }
        page["hasLines"] = !session.lines.isEmpty
        page["subtotal"] = money(totals.subtotal)
        if totals.discounts < 0 { page["discounts"] = money(totals.discounts) }
        page["vatLabel"] = l.text(totals.vatIncluded ? "vat_included" : "vat_added", locale)
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
        page["form"] = ["name": typed.name, "exp": typed.exp, "israeliID": typed.israeliID]
        page["askIsraeliID"] = state.limits.requireIsraeliID
        page["requireIsraeliID"] = state.limits.requireIsraeliID
        if state.limits.maxInstallments > 1 {
            page["installments"] = (1...state.limits.maxInstallments).map { count -> [String: Any] in
                let each = money(totals.dueToday / count)
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
        return pages.render("checkout", status: status, context: page, redirectOrigins: redirectOrigins(session))
    }

    /// The page for a session that is not pending (or is locked), or nil when the form should show.
    func stateResponse(_ state: CheckoutView, locale: ChingDomain.Locale) -> Response? {
        let l = pages.localization
        let merchant = ["merchant": state.merchantName]
        switch state.session.status(at: services.clock.now()) {
        case "succeeded":
            return message(state, locale, status: .ok, heading: "paid_title",
                           body: l.text(state.session.chargeID == nil ? "paid_body_no_charge" : "paid_body", locale, merchant),
                           link: (state.session.successRedirect, l.text("continue_link", locale, merchant)), receiptURL: state.receiptURL)
        case "expired":
            return message(state, locale, status: .gone, heading: "expired_title", body: l.text("expired_body", locale),
                           link: (state.session.cancelRedirect, l.text("return_link", locale, merchant)))
        case "canceled":
            return message(state, locale, status: .gone, heading: "canceled_title", body: l.text("canceled_body", locale),
                           link: (state.session.cancelRedirect, l.text("return_link", locale, merchant)))
        default:
            if let until = state.session.lockedUntil, until > services.clock.now() {
                return message(state, locale, status: .tooManyRequests, heading: "locked_title",
                               body: l.text("locked_body", locale, ["time": Self.clockTime(until)]))
            }
            return nil
        }
    }

    func message(_ state: CheckoutView, _ locale: ChingDomain.Locale, status: HTTPResponse.Status, heading: String, body: String,
                 link: (String, String)? = nil, receiptURL: String? = nil) -> Response {
        pages.message(status: status, locale: locale, merchantName: state.merchantName, testMode: !state.session.caller.livemode,
                      heading: pages.localization.text(heading, locale), body: body, link: link.map { (url: $0.0, label: $0.1) }, receiptURL: receiptURL)
    }

    func notFound(_ locale: ChingDomain.Locale) -> Response {
        let l = pages.localization
        return pages.message(status: .notFound, locale: locale, merchantName: l.text("secure_payment", locale), testMode: false,
                             heading: l.text("not_found_title", locale), body: l.text("not_found_body", locale))
    }

    func forbidden(_ state: CheckoutView, _ locale: ChingDomain.Locale) -> Response {
        message(state, locale, status: .forbidden, heading: "forbidden_title", body: pages.localization.text("forbidden_body", locale),
                link: ("/checkout/\(state.session.id)?locale=\(locale.rawValue)", pages.localization.text("reload_link", locale)))
    }

    // MARK: - Helpers

    /// A view model without its nil values: Mustache would print an `Optional` as "nil" and treat it as true.
    static func present(_ values: [String: Any?]) -> [String: Any] { values.compactMapValues { $0 } }

    /// The form's token must be the session's, and a present `Origin` must be this server's.
    func verify(_ token: String?, _ session: CheckoutSession, _ request: Request) -> Bool {
        guard let token, Self.constantTimeEqual(token, session.csrfToken) else { return false }
        if let origin = request.headers[HTTPField.Name("Origin")!] {
            return origin == PageRenderer.origin(of: services.publicURL)
        }
        return true
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    func redirectOrigins(_ session: CheckoutSession) -> [String] {
        [PageRenderer.origin(of: session.successURL), PageRenderer.origin(of: session.cancelURL)].compactMap { $0 }
    }

    /// "MM/YY", "MM / YYYY", "MMYY" → (month, year); (nil, nil) when empty; (0, 0) when unreadable.
    static func parseExpiry(_ text: String) -> (Int?, Int?) {
        let trimmed = text.trimmingWhitespace()
        if trimmed.isEmpty { return (nil, nil) }
        let digits = trimmed.filter(\.isASCIIDigit)
        let parts = trimmed.split { $0 == "/" || $0 == "-" || $0 == " " }.map { String($0) }.filter { !$0.isEmpty }
        if parts.count == 2, let month = Int(parts[0]), let year = Int(parts[1]), parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) {
            return (month, year < 100 ? 2000 + year : year)
        }
        if parts.count == 1, digits.count == 4 || digits.count == 6, digits.count == trimmed.count,
           let month = Int(digits.prefix(2)), let year = Int(digits.dropFirst(2)) {
            return (month, year < 100 ? 2000 + year : year)
        }
        return (0, 0)
    }

    /// "14:05" (UTC).
    static func clockTime(_ time: Timestamp) -> String {
        let minutes = ((time.milliseconds / 60_000) % 1440 + 1440) % 1440
        return (minutes / 60 < 10 ? "0" : "") + String(minutes / 60) + ":" + (minutes % 60 < 10 ? "0" : "") + String(minutes % 60)
    }
}

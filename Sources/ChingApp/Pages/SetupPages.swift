import ChingDomain
import ChingStore
import HTTPTypes
import Hummingbird
import SQLKit

/// The hosted setup page: `/setup/:id` saves a card to the customer without charging it. Same
/// form, checks, 3-D Secure step and states as the checkout page, through `HostedPageKit`.
struct SetupPages: Sendable {
    let services: AppServices
    let pages: PageRenderer
    let limiter: AttemptLimiter
    var kit: HostedPageKit { HostedPageKit(services: services, pages: pages) }
    var saving: SetupCardSaving { SetupCardSaving(services: services) }

    func addRoutes(to router: RouterGroup<AppRequestContext>) {
        router.get("setup/:id") { request, context in try await show(request, context) }
        router.post("setup/:id") { request, context in try await submit(request, context) }
        router.get("setup/:id/cancel") { request, context in try await cancel(request, context) }
        router.post("setup/:id/cancel") { request, context in try await cancel(request, context) }
        router.get("setup/:id/3ds/:attempt") { request, context in try await showChallenge(request, context) }
        router.post("setup/:id/3ds/:attempt") { request, context in try await answerChallenge(request, context) }
    }

    struct View: Sendable {
        let session: SetupSession
        let merchantName: String
        let customerLabel: String
        let customerLocale: Language?
        let requireIsraeliID: Bool
        let brand: BrandContext?
    }

    func view(_ id: String) async throws -> View? {
        try await services.database.read { db in
            guard let session = try await SetupSession.load(id, on: db) else { return nil }
            let project = try await db.raw("SELECT name, require_israeli_id, branding FROM projects WHERE id = \(bind: session.caller.projectID)").first()
            let brand = services.brand(projectID: session.caller.projectID, folderName: try project?.optionalString("branding"))
            let customer = try await db.raw("SELECT name, email, locale FROM customers WHERE id = \(bind: session.customerID)").first()
            let name = try customer?.string("name") ?? ""
            return View(session: session, merchantName: try brand?.brand.displayName ?? project?.string("name") ?? "",
                        customerLabel: name.isEmpty ? (try customer?.optionalString("email") ?? "") : name,
                        customerLocale: try customer?.optionalString("locale").flatMap(Language.init(rawValue:)),
                        requireIsraeliID: try brand?.brand.requireIsraeliID ?? project?.bool("require_israeli_id") ?? false, brand: brand)
        }
    }

    func locale(_ request: Request, _ view: View?) -> Language {
        request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) } ?? view?.customerLocale ?? view?.brand?.brand.defaultLocale ?? .he
    }

    func show(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let view = try await view(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, view)
        return stateResponse(view, locale: locale) ?? page(view, locale: locale, status: .ok)
    }

    func submit(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let view = try await view(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, view)
        let form: HostedForm
        switch await HostedForm.read(request, limit: 64 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return message(view, locale, status: refusal.status, heading: refusal.heading, body: pages.localization.text(refusal.body, locale))
        }
        guard kit.verify(form.csrf, expected: view.session.csrfToken, request) else { return forbidden(view, locale) }
        let client = limiter.clientAddress(request, context)
        if let retry = limiter.attempt(from: client, at: services.clock.now()) {
            var response = message(view, locale, status: .tooManyRequests, heading: "locked_title", body: pages.localization.text("rate_limited_body", locale))
            response.headers[.retryAfter] = String(retry)
            return response
        }
        let (card, typed) = HostedPageKit.cardForm(form)
        return try await respond(to: try await saving.save(sessionID: view.session.id, form: card), view: view, locale: locale, typed: typed)
    }

    func respond(to outcome: SetupCardSaving.Outcome, view: View, locale: Language, typed: TypedForm) async throws -> Response {
        let l = pages.localization, session = view.session
        switch outcome {
        case .succeeded(let done), .notPayable(let done, .succeeded):
            return PageRenderer.redirect(to: done.successRedirect, redirectOrigins: HostedPageKit.origins(done.successURL, done.cancelURL), https: kit.https)
        case .requiresAuthentication(let attemptID):
            return PageRenderer.redirect(to: "/setup/\(session.id)/3ds/\(attemptID)?locale=\(locale.rawValue)", https: kit.https)
        case .declined(let decline):
            return page(view, locale: locale, status: .init(code: 402, reasonPhrase: "Payment Required"), typed: typed, decline: kit.declineText(decline, locale))
        case .invalid(let errors):
            return page(view, locale: locale, status: .unprocessableContent, typed: typed, errors: errors)
        case .busy:
            return message(view, locale, status: .conflict, heading: "busy_title", body: l.text("busy_body", locale),
                           link: ("/setup/\(session.id)?locale=\(locale.rawValue)", l.text("reload_link", locale)))
        case .locked, .notPayable:
            let fresh = try await self.view(session.id) ?? view
            return stateResponse(fresh, locale: locale) ?? page(fresh, locale: locale, status: .ok)
        }
    }

    func cancel(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        guard let view = try await view(context.parameters.get("id") ?? "") else { return kit.notFound(locale(request, nil)) }
        return PageRenderer.redirect(to: view.session.cancelRedirect, redirectOrigins: HostedPageKit.origins(view.session.successURL, view.session.cancelURL),
                                     https: kit.https)
    }

    func showChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let view = try await view(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, view)
        if let response = stateResponse(view, locale: locale) { return response }
        let l = pages.localization
        return kit.challengePage(locale: locale, merchantName: view.merchantName, testMode: !view.session.caller.livemode, brand: view.brand,
                                 body: l.text("three_ds_body_setup", locale, ["merchant": view.merchantName]), formAction: "/setup/\(id)/3ds/\(attempt)?locale=\(locale.rawValue)",
                                 csrfToken: view.session.csrfToken)
    }

    func answerChallenge(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let id = context.parameters.get("id") ?? "", attempt = context.parameters.get("attempt") ?? ""
        guard let view = try await view(id) else { return kit.notFound(locale(request, nil)) }
        let locale = locale(request, view)
        let form: HostedForm
        switch await HostedForm.read(request, limit: 16 * 1024) {
        case .success(let fields): form = fields
        case .failure(let refusal): return message(view, locale, status: refusal.status, heading: refusal.heading, body: pages.localization.text(refusal.body, locale))
        }
        guard kit.verify(form.csrf, expected: view.session.csrfToken, request) else { return forbidden(view, locale) }
        do {
            let outcome = try await saving.authenticate(sessionID: id, attemptID: attempt, passed: form.result == "pass")
            return try await respond(to: outcome, view: view, locale: locale, typed: TypedForm())
        } catch let error as APIError where error.status == .notFound {
            return stateResponse(view, locale: locale) ?? page(view, locale: locale, status: .ok)
        }
    }

    // MARK: - Pages

    func page(_ view: View, locale: Language, status: HTTPResponse.Status, typed: TypedForm = TypedForm(),
              errors: [String: CheckoutPayment.FieldError] = [:], decline: String? = nil) -> Response {
        let l = pages.localization, session = view.session
        let switchTo: Language = locale == .he ? .en : .he
        var page = pages.base(locale: locale, title: l.text("title_setup", locale), merchantName: view.merchantName,
                              testMode: !session.caller.livemode, switchURL: "/setup/\(session.id)?locale=\(switchTo.rawValue)", brand: view.brand)
        page.merge(kit.formContext(locale: locale, typed: typed, errors: errors, requireIsraeliID: view.requireIsraeliID)) { $1 }
        if let decline { page["decline"] = decline }
        page["forLine"] = l.text("setup_for", locale, ["name": view.customerLabel])
        page["formAction"] = "/setup/\(session.id)?locale=\(locale.rawValue)"
        page["csrfToken"] = session.csrfToken
        page["cancelAction"] = "/setup/\(session.id)/cancel"
        page["cancelLabel"] = l.text("cancel_link", locale, ["merchant": view.merchantName])
        return pages.render("setup", status: status, context: page, redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL),
                            brand: view.brand)
    }

    /// The page for a session that is not pending (or is locked), or nil when the form should show.
    func stateResponse(_ view: View, locale: Language) -> Response? {
        let l = pages.localization, session = view.session, merchant = ["merchant": view.merchantName]
        let back = (session.cancelRedirect, l.text("return_link", locale, merchant))
        switch session.status(at: services.clock.now()) {
        case .succeeded:
            return message(view, locale, status: .ok, heading: "setup_done_title", body: l.text("setup_done_body", locale, merchant),
                           link: (session.successRedirect, l.text("continue_link", locale, merchant)))
        case .expired:
            return message(view, locale, status: .gone, heading: "expired_title", body: l.text("setup_expired_body", locale), link: back)
        case .canceled:
            return message(view, locale, status: .gone, heading: "canceled_title", body: l.text("setup_canceled_body", locale), link: back)
        default:
            if let until = session.lockedUntil, until > services.clock.now() {
                var response = message(view, locale, status: .tooManyRequests, heading: "locked_title",
                                       body: l.text("locked_body", locale, ["time": HostedPageKit.clockTime(until)]))
                response.headers[.retryAfter] = String(max(1, (until.milliseconds - services.clock.now().milliseconds) / 1000))
                return response
            }
            return nil
        }
    }

    func message(_ view: View, _ locale: Language, status: HTTPResponse.Status, heading: String, body: String,
                 link: (String, String)? = nil) -> Response {
        pages.message(status: status, locale: locale, merchantName: view.merchantName, testMode: !view.session.caller.livemode,
                      heading: pages.localization.text(heading, locale), body: body, link: link.map { (url: $0.0, label: $0.1) }, brand: view.brand)
    }

    func forbidden(_ view: View, _ locale: Language) -> Response {
        message(view, locale, status: .forbidden, heading: "forbidden_title", body: pages.localization.text("forbidden_body", locale),
                link: ("/setup/\(view.session.id)?locale=\(locale.rawValue)", pages.localization.text("reload_link", locale)))
    }
}

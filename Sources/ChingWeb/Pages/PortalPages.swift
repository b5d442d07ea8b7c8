import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// The billing portal (`/portal/:token`): the customer's plans, cards and receipts, with an action
/// per form. Every form carries the session's CSRF token and is answered with a 303 back to the
/// portal and a banner (post/redirect/get), so a refresh never repeats an action. Adding a card
/// goes through the setup page, whose success and cancel lead back through `/portal/return/:setup`.
struct PortalPages: Sendable {
    let services: AppServices
    let pages: PageRenderer
    var kit: HostedPageKit { HostedPageKit(services: services, pages: pages) }

    func addRoutes(to router: RouterGroup<AppRequestContext>) {
        router.get("portal/return/:setup") { request, context in try await comeBack(request, context) }
        router.get("portal/:token") { request, context in try await show(request, context) }
        router.get("portal/:token/subscriptions/:id/cancel") { request, context in try await confirmCancel(request, context) }
        router.post("portal/:token/subscriptions/:id/cancel") { request, context in
            try await act(request, context) { portal, form in
                let atPeriodEnd = form.when != "now"
                try await BillingPortal.cancel(id(context), atPeriodEnd: atPeriodEnd, session: portal.session, services: services)
                return atPeriodEnd ? "cancels_at_period_end" : "canceled_now"
            }
        }
        router.post("portal/:token/subscriptions/:id/resume") { request, context in
            try await act(request, context) { portal, _ in
                try await BillingPortal.resume(id(context), session: portal.session, services: services)
                return "resumed"
            }
        }
        router.post("portal/:token/subscriptions/:id/pay") { request, context in
            try await toSetup(request, context) { .recover(subscriptionID: id(context)) }
        }
        router.post("portal/:token/cards/new") { request, context in try await toSetup(request, context) { .addCard } }
        router.post("portal/:token/cards/:id/default") { request, context in
            try await act(request, context) { portal, _ in
                try await BillingPortal.makeDefault(id(context), session: portal.session, services: services)
                return "default_changed"
            }
        }
        router.post("portal/:token/cards/:id/remove") { request, context in
            try await act(request, context) { portal, _ in
                try await BillingPortal.removeCard(id(context), session: portal.session, services: services)
                return "card_removed"
            }
        }
    }

    private func id(_ context: AppRequestContext) -> String { context.parameters.get("id") ?? "" }

    /// An open portal: its session, what it shows, the page's language and brand.
    struct Portal {
        let token: String
        let view: BillingPortal.View
        let locale: Language
        let brand: BrandContext?
        var session: PortalSession { view.session }
        var merchantName: String { brand?.brand.displayName ?? view.project?.name ?? "" }
        /// `/portal/<token>` plus `suffix`, in the page's language.
        func path(_ suffix: String = "", notice: String? = nil) -> String {
            "/portal/\(token)\(suffix)?locale=\(locale.rawValue)" + (notice.map { "&notice=\($0)" } ?? "")
        }
    }

    /// The portal a request names, or the page that answers instead (unknown, expired, customer gone).
    func open(_ request: Request, _ context: AppRequestContext) async throws -> Result<Portal, Refused> {
        let token = context.parameters.get("token") ?? ""
        let asked = request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) }
        guard let session = try await BillingPortal.session(token: token, services: services) else {
            return .failure(Refused(response: kit.notFound(asked ?? .he)))
        }
        let view = services.clock.now() < session.expiresAt ? try await BillingPortal.view(session, services: services) : nil
        // The view has read the project already; an expired link reads it for the page that says so.
        let brand = try await self.brand(of: session, project: view.map(\.project))
        let locale = asked ?? view?.customer.language ?? brand.context?.brand.defaultLocale ?? .he
        guard let view else { return .failure(Refused(response: gone(session, locale: locale, brand: brand))) }
        return .success(Portal(token: token, view: view, locale: locale, brand: brand.context))
    }

    /// The session's project's brand, and the merchant's name it shows (`project`: when it was read already).
    func brand(of session: PortalSession, project known: Project?? = nil) async throws -> (context: BrandContext?, merchant: String) {
        var project = known ?? nil
        if known == nil { project = try await services.database.read { db in try await db.projects.find(session.caller.projectID) } }
        let brand = services.brand(projectID: session.caller.projectID, folderName: project?.branding)
        return (brand, brand?.brand.displayName ?? project?.name ?? "")
    }

    /// 410: the link has expired (or its customer is gone); "Back to <merchant>" when the session has a `return_url`.
    func gone(_ session: PortalSession, locale: Language, brand: (context: BrandContext?, merchant: String)) -> Response {
        let l = pages.localization
        let back = session.returnURL.map { (url: $0, label: l.text("portal_back", locale, ["merchant": brand.merchant])) }
        return pages.message(status: .gone, locale: locale, merchantName: brand.merchant, testMode: !session.caller.livemode,
                             heading: l.text("portal_expired_title", locale), body: l.text("portal_expired_body", locale), link: back,
                             brand: brand.context)
    }

    struct Refused: Error { let response: Response }

    // MARK: - Pages

    func show(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        switch try await open(request, context) {
        case .failure(let refused): return refused.response
        case .success(let portal):
            let notice = request.uri.queryParameters["notice"].map(String.init)
            return page(portal, notice: notice)
        }
    }

    func page(_ portal: Portal, notice: String?) -> Response {
        let model = PortalPageModel(portal: portal, publicURL: services.publicURL, localization: pages.localization)
        var context = pages.base(locale: portal.locale, title: pages.localization.text("title_portal", portal.locale), merchantName: portal.merchantName,
                                 testMode: !portal.session.caller.livemode,
                                 switchURL: "/portal/\(portal.token)?locale=\(portal.locale == .he ? "en" : "he")", brand: portal.brand)
        context.merge(model.context(notice: notice)) { $1 }
        return pages.render("portal", context: context, brand: portal.brand)
    }

    /// The step before a cancel: what each choice does to access and money.
    func confirmCancel(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let portal: Portal
        switch try await open(request, context) {
        case .failure(let refused): return refused.response
        case .success(let opened): portal = opened
        }
        let subscriptionID = id(context)
        guard let plan = portal.view.plans.first(where: { $0.subscription.id == subscriptionID }) else {
            return PageRenderer.redirect(to: portal.path(), https: kit.https)
        }
        let model = PortalPageModel(portal: portal, publicURL: services.publicURL, localization: pages.localization)
        var context = pages.base(locale: portal.locale, title: pages.localization.text("portal_cancel_title", portal.locale, ["plan": plan.productName]),
                                 merchantName: portal.merchantName, testMode: !portal.session.caller.livemode, switchURL: nil, brand: portal.brand)
        context.merge(model.cancelContext(plan)) { $1 }
        return pages.render("portal_cancel", context: context, brand: portal.brand)
    }

    // MARK: - Actions

    /// Checks the form, runs `action`, and sends the customer back to the portal with the banner
    /// `action` names, or the refusal's.
    func act(_ request: Request, _ context: AppRequestContext,
             _ action: (Portal, HostedForm) async throws -> String) async throws -> Response {
        let portal: Portal, form: HostedForm
        switch try await verified(request, context) {
        case .failure(let refused): return refused.response
        case .success(let (opened, fields)): (portal, form) = (opened, fields)
        }
        let notice: String
        do {
            notice = try await action(portal, form)
        } catch let refusal as ServiceError {
            notice = PortalPageModel.refusalNotice(refusal)
        }
        return PageRenderer.redirect(to: portal.path(notice: notice), https: kit.https)
    }

    /// Opens the setup page for a new card (for the portal, or to pay a failed plan with it).
    func toSetup(_ request: Request, _ context: AppRequestContext, _ intent: () -> BillingPortal.Intent) async throws -> Response {
        let portal: Portal
        switch try await verified(request, context) {
        case .failure(let refused): return refused.response
        case .success(let (opened, _)): portal = opened
        }
        do {
            let setupID = try await BillingPortal.startSetup(intent(), locale: portal.locale, session: portal.session, services: services)
            return PageRenderer.redirect(to: "/setup/\(setupID)?locale=\(portal.locale.rawValue)", https: kit.https)
        } catch let refusal as ServiceError {
            return PageRenderer.redirect(to: portal.path(notice: PortalPageModel.refusalNotice(refusal)), https: kit.https)
        }
    }

    /// The posted form of an open portal, with its CSRF token checked.
    func verified(_ request: Request, _ context: AppRequestContext) async throws -> Result<(Portal, HostedForm), Refused> {
        let portal: Portal
        switch try await open(request, context) {
        case .failure(let refused): return .failure(refused)
        case .success(let opened): portal = opened
        }
        let l = pages.localization
        return await kit.verifiedForm(request, csrfToken: portal.session.csrfToken, limit: 16 * 1024).map { (portal, $0) }.mapError { refusal in
            Refused(response: pages.message(status: refusal.status, locale: portal.locale, merchantName: portal.merchantName,
                                            testMode: !portal.session.caller.livemode, heading: l.text(refusal.heading, portal.locale),
                                            body: l.text(refusal.body, portal.locale),
                                            link: (url: portal.path(), label: l.text("reload_link", portal.locale)), brand: portal.brand))
        }
    }

    /// The setup page sends the customer here, done or not: the portal opens again on a new link.
    func comeBack(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        let locale = request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) } ?? .he
        let token: String, outcome: BillingPortal.Return
        switch try await BillingPortal.returnFromSetup(context.parameters.get("setup") ?? "", services: services) {
        case .portal(let newToken, let done): (token, outcome) = (newToken, done)
        case .expired(let session?): return gone(session, locale: locale, brand: try await brand(of: session))
        case .expired(nil): return kit.notFound(locale)
        }
        let notice = switch outcome {
        case .cardAdded: "card_added"
        case .cardNotAdded: "card_not_added"
        case .planPaid: "plan_paid"
        case .planStillUnpaid: "plan_still_unpaid"
        }
        return PageRenderer.redirect(to: "/portal/\(token)?locale=\(locale.rawValue)&notice=\(notice)", https: kit.https)
    }
}

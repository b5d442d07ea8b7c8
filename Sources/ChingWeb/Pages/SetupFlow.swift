import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// The hosted setup page (`/setup/:id`): saves a card to the customer without charging it,
/// through `SetupCardSaving`. The routes and the rest are `HostedPages`'s.
struct SetupFlow: HostedFlow {
    let services: AppServices
    let pages: PageRenderer
    var saving: SetupCardSaving { SetupCardSaving(services: services) }
    let path = "setup"
    let liveKind = LivePayments.Kind.setup

    struct View: HostedPageState {
        let session: SetupSession
        let merchantName: String
        let customerLabel: String
        let customerLocale: Language?
        let requireIsraeliID: Bool
        let brand: BrandContext?
        var payer: LivePayments.Payer? = nil
        var providerOrigin: String? = nil
        /// The customer's language, then the brand's default.
        var preferredLanguage: Language? { customerLocale ?? brand?.brand.defaultLocale }
    }

    func state(_ id: String) async throws -> View? {
        try await services.database.read { db in
            guard let session = try await db.setupSessions.find(id) else { return nil }
            let project = try await db.projects.find(session.caller.projectID)
            let brand = services.brand(projectID: session.caller.projectID, folderName: project?.branding)
            let customer = try await db.customers.find(session.customerID)
            let name = customer?.name ?? ""
            var view = View(session: session, merchantName: brand?.brand.displayName ?? project?.name ?? "",
                            customerLabel: name.isEmpty ? (customer?.email ?? "") : name,
                            customerLocale: customer?.language,
                            requireIsraeliID: services.paymentSettings(project: project, projectID: session.caller.projectID, brand: .some(brand)).requireIsraeliID,
                            brand: brand)
            if let origin = try await services.providerPage(session.caller, on: db) {
                view.payer = LivePayments.Payer(name: name, phone: customer?.phone ?? "", email: customer?.email)
                view.providerOrigin = origin
            }
            return view
        }
    }

    func submit(_ card: CheckoutPayment.CardForm, typed: TypedForm, state: View) async throws -> SetupCardSaving.Outcome {
        try await saving.save(sessionID: state.session.id, form: card)
    }

    func authenticate(sessionID: String, attemptID: String, passed: Bool) async throws -> SetupCardSaving.Outcome {
        try await saving.authenticate(sessionID: sessionID, attemptID: attemptID, passed: passed)
    }

    func ended(_ view: View, status: HostedSessionStatus, locale: Language) -> (heading: String, body: String, receiptURL: String?) {
        let l = pages.localization
        return switch status {
        case .succeeded: ("setup_done_title", l.text("setup_done_body", locale, ["merchant": view.merchantName]), nil)
        case .canceled: ("canceled_title", l.text("setup_canceled_body", locale), nil)
        case .expired, .pending: ("expired_title", l.text("setup_expired_body", locale), nil)
        }
    }

    func challengeText(_ view: View, locale: Language) -> String {
        pages.localization.text("three_ds_body_setup", locale, ["merchant": view.merchantName])
    }

    func page(_ view: View, locale: Language, status: HTTPResponse.Status, typed: TypedForm,
              errors: [String: CheckoutPayment.FieldError], decline: String?) -> Response {
        let l = pages.localization, session = view.session
        let switchTo: Language = locale == .he ? .en : .he
        var page = pages.base(locale: locale, title: l.text("title_setup", locale), merchantName: view.merchantName,
                              testMode: !session.caller.livemode, switchURL: "/setup/\(session.id)?locale=\(switchTo.rawValue)", brand: view.brand)
        page.merge(HostedPageKit(services: services, pages: pages).formContext(locale: locale, typed: typed, errors: errors, requireIsraeliID: view.requireIsraeliID,
                                                                                payer: view.payer)) { $1 }
        if let decline { page["decline"] = decline }
        page["forLine"] = l.text("setup_for", locale, ["name": view.customerLabel])
        page["formAction"] = "/setup/\(session.id)?locale=\(locale.rawValue)"
        page["csrfToken"] = session.csrfToken
        page["cancelAction"] = "/setup/\(session.id)/cancel"
        page["cancelLabel"] = l.text("cancel_link", locale, ["merchant": view.merchantName])
        return pages.render("setup", status: status, context: page,
                            redirectOrigins: HostedPageKit.origins(session.successURL, session.cancelURL) + (view.providerOrigin.map { [$0] } ?? []),
                            brand: view.brand)
    }
}

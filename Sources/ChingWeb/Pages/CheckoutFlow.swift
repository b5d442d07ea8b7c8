import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import HTTPTypes
import Hummingbird

/// The hosted checkout page (`/checkout/:id`): a cart, a price, a plan or both, paid with a new or
/// saved card through `CheckoutPayment`. The routes and the rest are `HostedPages`'s.
struct CheckoutFlow: HostedFlow {
    let services: AppServices
    let pages: PageRenderer
    let cache: PageCache<CheckoutPageModel>
    var payment: CheckoutPayment { CheckoutPayment(services: services) }
    let path = "checkout"
    let liveKind = LivePayments.Kind.checkout

    func state(_ id: String) async throws -> CheckoutView? { try await CheckoutView.load(id, services: services) }

    func submit(_ card: CheckoutPayment.CardForm, typed: TypedForm, state: CheckoutView) async throws -> CheckoutPayment.Outcome {
        let method: CheckoutPayment.Method = typed.paymentMethod == "new" ? .newCard(card) : .savedCard(typed.paymentMethod ?? "")
        return try await payment.pay(sessionID: state.session.id, method: method, installments: typed.installments)
    }

    func authenticate(sessionID: String, attemptID: String, passed: Bool) async throws -> CheckoutPayment.Outcome {
        try await payment.authenticate(sessionID: sessionID, attemptID: attemptID, passed: passed)
    }

    func ended(_ state: CheckoutView, status: HostedSessionStatus, locale: Language) -> (heading: String, body: String, receiptURL: String?) {
        let l = pages.localization, merchant = ["merchant": state.merchantName]
        return switch status {
        case .succeeded: ("paid_title", l.text(state.session.chargeID == nil ? "paid_body_no_charge" : "paid_body", locale, merchant), state.receiptURL)
        case .canceled: ("canceled_title", l.text("canceled_body", locale), nil)
        case .expired, .pending: ("expired_title", l.text("expired_body", locale), nil)
        }
    }

    func challengeText(_ state: CheckoutView, locale: Language) -> String {
        let l = pages.localization
        return l.text("three_ds_body", locale, ["amount": l.money(state.offer.totals.dueToday, locale), "merchant": state.merchantName])
    }

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
}

extension CheckoutView: HostedPageState {
    /// The brand the branding store handed the view (this layer's own type).
    var brand: BrandContext? { projectBrand as? BrandContext }
    /// The session's language, then the customer's, then the brand's default.
    var preferredLanguage: Language? { session.locale ?? customerLocale ?? brand?.brand.defaultLocale }
}

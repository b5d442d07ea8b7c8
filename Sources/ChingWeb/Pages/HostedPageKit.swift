import ChingDomain
import ChingHTTP
import ChingProviders
import ChingServices
import Foundation
import HTTPTypes
import Hummingbird

/// What the customer typed that may be shown again (never the card number or the CVC).
struct TypedForm: Sendable, Equatable {
    var name = ""
    var exp = ""
    var israeliID = ""
    var installments: Int64 = 1
    var paymentMethod: String?
    var payerName: String? = nil
    var payerPhone: String? = nil
}

/// The parts the checkout and setup pages share: the card form (its values, its errors beside
/// each field and in the summary), the CSRF and Origin check, decline wording.
struct HostedPageKit: Sendable {
    let services: AppServices
    let pages: PageRenderer
    var https: Bool { services.publicURL.hasPrefix("https://") }

    /// Reads the card form's fields; the number and CVC go only into the `CardForm`.
    static func cardForm(_ form: HostedForm) -> (CheckoutPayment.CardForm, TypedForm) {
        var card = CheckoutPayment.CardForm()
        card.number = form.number ?? ""
        card.cvc = (form.cvc ?? "").trimmingWhitespace()
        card.holderName = form.name.map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        card.israeliID = form.israeliID.map { $0.trimmingWhitespace() }.flatMap { $0.isEmpty ? nil : $0 }
        (card.expMonth, card.expYear) = parseExpiry(form.exp ?? "")
        let choice = form.paymentMethod.flatMap { $0.isEmpty ? nil : $0 } ?? "new"
        let typed = TypedForm(name: card.holderName ?? "", exp: form.exp ?? "", israeliID: card.israeliID ?? "",
                              installments: Int64(form.installments ?? "1") ?? 0, paymentMethod: choice,
                              payerName: form.payerName?.trimmingWhitespace(), payerPhone: form.payerPhone?.trimmingWhitespace())
        return (card, typed)
    }

    /// The card form's part of a page's view model.
    func formContext(locale: Language, typed: TypedForm, errors: [String: CheckoutPayment.FieldError], requireIsraeliID: Bool,
                     payer: LivePayments.Payer?) -> [String: Any] {
        CardFormModel(typed: typed, errors: errors, requireIsraeliID: requireIsraeliID, payer: payer).context(locale, pages.localization)
    }

    /// The page for a session id we do not know: not branded, since the project is unknown.
    func notFound(_ locale: Language) -> Response {
        let l = pages.localization
        return pages.message(status: .notFound, locale: locale, merchantName: l.text("secure_payment", locale), testMode: false,
                             heading: l.text("not_found_title", locale), body: l.text("not_found_body", locale))
    }

    /// The sandbox's 3-D Secure challenge: pass and fail buttons posting back to `formAction`.
    func challengePage(locale: Language, merchantName: String, testMode: Bool, brand: BrandContext?, body: String,
                       formAction: String, csrfToken: String) -> Response {
        var page = pages.base(locale: locale, title: pages.localization.text("three_ds_title", locale), merchantName: merchantName,
                              testMode: testMode, switchURL: nil, brand: brand)
        page["body"] = body
        page["formAction"] = formAction
        page["csrfToken"] = csrfToken
        return pages.render("three_d_secure", context: page, brand: brand)
    }

    /// The provider's reason in the customer's language.
    func declineText(_ decline: Decline, _ locale: Language) -> String { pages.localization.declineText(decline.code, locale) }

    /// Why a posted form is not taken: the status, and the locale keys of the page that says so.
    struct FormRefusal: Error {
        let status: HTTPResponse.Status
        let heading: String
        let body: String
    }

    /// The posted form, read within `limit` bytes and carrying `csrfToken` (and, when the browser
    /// names one, this server's `Origin`).
    func verifiedForm(_ request: Request, csrfToken: String, limit: Int) async -> Result<HostedForm, FormRefusal> {
        switch await HostedForm.read(request, limit: limit) {
        case .failure(let refusal): return .failure(FormRefusal(status: refusal.status, heading: refusal.heading, body: refusal.body))
        case .success(let form):
            guard verify(form.csrf, expected: csrfToken, request) else {
                return .failure(FormRefusal(status: .forbidden, heading: "forbidden_title", body: "forbidden_body"))
            }
            return .success(form)
        }
    }

    /// The origins a page's form may be redirected to: the merchant's success and cancel URLs.
    static func origins(_ urls: String...) -> [String] { urls.compactMap(WebAddress.origin(of:)) }

    /// A view model without its nil values: Mustache would print an `Optional` as "nil" and treat it as true.
    static func present(_ values: [String: Any?]) -> [String: Any] { values.compactMapValues { $0 } }

    /// The form's token must be the session's, and a present `Origin` must be this server's.
    func verify(_ token: String?, expected: String, _ request: Request) -> Bool {
        guard let token, constantTimeEqual(token, expected) else { return false }
        // Browsers send `Origin: null` when the page's Referrer-Policy is no-referrer (as ours is):
        // that says nothing about where the post came from, so only a named origin is compared.
        if let origin = request.headers[HTTPField.Name("Origin")!], origin != "null" {
            return origin == WebAddress.origin(of: services.publicURL)
        }
        return true
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

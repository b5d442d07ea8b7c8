import ChingDomain
import ChingHTTP
import ChingServices
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore

/// Renders the hosted pages: templates loaded once at start, strings from `Localization`, and
/// the security headers of PAGES.md on every response.
struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let localization: Localization
    let publicURL: String
    var logger = Logger(label: "ching")

    static let templateNames = ["layout", "checkout", "checkout_page", "setup", "setup_page", "card_fields", "form_errors", "three_d_secure", "message",
                                "portal", "portal_cancel", "email"]

    static func load(templatesDirectory: String, publicURL: String, logger: Logger) async throws -> PageRenderer {
        let library = try await MustacheLibrary(directory: templatesDirectory)
        for name in templateNames where library.getTemplate(named: name) == nil {
            throw ConfigurationError("The template \(templatesDirectory)/\(name).mustache is missing.")
        }
        return PageRenderer(library: library, localization: try Localization.load(directory: templatesDirectory), publicURL: publicURL, logger: logger)
    }

    /// The values every page has: language, direction, strings, the merchant's name and branding.
    func base(locale: Language, title: String, merchantName: String, testMode: Bool, switchURL: String?,
              brand: BrandContext? = nil) -> [String: Any] {
        PageFrame(language: locale, title: title, merchantName: merchantName, testMode: testMode, switchURL: switchURL, brand: brand).context(localization)
    }

    /// Renders with the project's templates when its branding has overrides, else the stock ones.
    /// A page that cannot be rendered is the error page (500), never an empty 200.
    func render(_ template: String, status: HTTPResponse.Status = .ok, context: [String: Any], redirectOrigins: [String] = [],
                brand: BrandContext? = nil) -> Response {
        guard let (headers, body) = renderParts(template, context: context, redirectOrigins: redirectOrigins, brand: brand) else {
            return failure(Language(rawValue: context["lang"] as? String ?? "") ?? .he)
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// The headers and body of a page, for callers that keep them (the page cache); nil (logged)
    /// when the template cannot be rendered.
    func renderParts(_ template: String, context: [String: Any], redirectOrigins: [String] = [], brand: BrandContext? = nil) -> (HTTPFields, ByteBuffer)? {
        guard let html = (brand?.library ?? library).render(context, withTemplate: template) else {
            logger.error("A hosted page could not be rendered", metadata: ["template": "\(template)", "branded": "\(brand != nil)"])
            return nil
        }
        var headers = Self.securityHeaders(formActionOrigins: redirectOrigins, https: publicURL.hasPrefix("https://"))
        headers[.contentType] = "text/html; charset=utf-8"
        return (headers, ByteBuffer(string: html))
    }

    /// The page for something that went wrong on our side (500): the stock message template,
    /// unbranded (the brand may be what failed), or plain HTML if even that cannot be rendered.
    func failure(_ locale: Language, providerDown: Bool = false) -> Response {
        let heading = localization.text(providerDown ? "provider_down_title" : "error_title", locale)
        let body = localization.text(providerDown ? "provider_down_body" : "error_body", locale)
        var context = base(locale: locale, title: heading, merchantName: localization.text("secure_payment", locale), testMode: false, switchURL: nil)
        context["heading"] = heading
        context["body"] = body
        var headers = Self.securityHeaders(formActionOrigins: [], https: publicURL.hasPrefix("https://"))
        headers[.contentType] = "text/html; charset=utf-8"
        let html = library.render(context, withTemplate: "message")
            ?? "<!doctype html><html lang=\"\(locale.rawValue)\" dir=\"\(locale == .he ? "rtl" : "ltr")\"><meta charset=\"utf-8\"><title>\(heading)</title><h1>\(heading)</h1><p>\(body)</p></html>"
        return Response(status: providerDown ? .badGateway : .internalServerError, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A plain message page (expired, canceled, paid, not found, locked...).
    func message(status: HTTPResponse.Status, locale: Language, merchantName: String, testMode: Bool, heading: String, body: String,
                 link: (url: String, label: String)? = nil, receiptURL: String? = nil, brand: BrandContext? = nil) -> Response {
        var context = base(locale: locale, title: heading, merchantName: merchantName, testMode: testMode, switchURL: nil, brand: brand)
        context["heading"] = heading
        context["body"] = body
        if let link { context["linkURL"] = link.url; context["linkLabel"] = link.label }
        if let receiptURL { context["receiptURL"] = receiptURL }
        return render("message", status: status, context: context, redirectOrigins: link.map { [WebAddress.origin(of: $0.url)].compactMap { $0 } } ?? [],
                      brand: brand)
    }

    static func redirect(to location: String, redirectOrigins: [String] = [], https: Bool) -> Response {
        var headers = securityHeaders(formActionOrigins: redirectOrigins, https: https)
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    /// PAGES.md: no caching, no referrer, no sniffing, a strict CSP; HSTS when served over TLS.
    /// `form-action` also names the origins a form's POST may be redirected to (the merchant's URLs).
    static func securityHeaders(formActionOrigins: [String], https: Bool) -> HTTPFields {
        let formAction = (["'self'"] + Set(formActionOrigins).sorted()).joined(separator: " ")
        var headers: HTTPFields = [
            .cacheControl: "no-store",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            HTTPField.Name("Content-Security-Policy")!:
                "default-src 'self'; img-src 'self' https:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action \(formAction)",
        ]
        if https { headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000" }
        return headers
    }

}

/// A project's brand as a page uses it: the values, and the template library with its overrides.
struct BrandContext: ProjectBrand {
    let projectID: String
    let brand: Brand
    let library: MustacheLibrary?

    var displayName: String? { brand.displayName }
    var maxInstallments: Int64? { brand.maxInstallments }
    var requiresIsraeliID: Bool? { brand.requireIsraeliID }
}

extension BrandingStore: BrandSource {
    package func projectBrand(projectID: String, folderName: String?) -> (any ProjectBrand)? {
        guard let (brand, library) = Optional(brand(projectID: projectID, folderName: folderName)), let brand else { return nil }
        return BrandContext(projectID: projectID, brand: brand, library: library)
    }
}

extension AppServices {
    /// The project's brand, if its folder exists and has ever loaded cleanly (the branding store is this layer's).
    func brand(projectID: String, folderName: String?) -> BrandContext? {
        branding?.projectBrand(projectID: projectID, folderName: folderName) as? BrandContext
    }
}

/// What the hosted pages' forms post (`application/x-www-form-urlencoded`), decoded by
/// Hummingbird. The number and the CVC live here only on their way to the provider.
struct HostedForm: Decodable, Sendable {
    var csrf: String?
    var paymentMethod: String?
    var name: String?
    var number: String?
    var exp: String?
    var cvc: String?
    var israeliID: String?
    var installments: String?
    /// Live mode: the payer's name and mobile number for Grow's page.
    var payerName: String?
    var payerPhone: String?
    /// The 3-D Secure answer: "pass" or "fail".
    var result: String?
    /// The billing portal's cancel: "period_end" or "now".
    var when: String?

    enum CodingKeys: String, CodingKey {
        case csrf, paymentMethod = "payment_method", name, number, exp, cvc, israeliID = "israeli_id", installments, result, when
        case payerName = "payer_name", payerPhone = "payer_phone"
    }

    /// Why a form body could not be read: the page answers with a message in the customer's language.
    enum Refusal: Error {
        case tooLarge, malformed
        var status: HTTPResponse.Status { self == .tooLarge ? .contentTooLarge : .badRequest }
        var heading: String { self == .tooLarge ? "too_large_title" : "bad_request_title" }
        var body: String { self == .tooLarge ? "too_large_body" : "bad_request_body" }
    }

    /// Reads and decodes the request's form, at most `limit` bytes. The decoder's errors quote the
    /// offending value (it could be a card number), so they are mapped here and never logged.
    static func read(_ request: Request, limit: Int) async -> Result<HostedForm, Refusal> {
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: limit)
        } catch {
            return .failure(error == .tooLarge ? .tooLarge : .malformed)
        }
        guard let form = try? URLEncodedFormDecoder().decode(HostedForm.self, from: String(buffer: body)) else { return .failure(.malformed) }
        return .success(form)
    }
}

/// Hosted pages answer with pages: anything a page route throws (the database gone, a bug) is
/// logged and answered with the error page in the customer's language, not the API's JSON.
struct HostedPageErrorMiddleware: RouterMiddleware {
    let pages: PageRenderer

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            context.logger.error("A hosted page failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            let locale = request.uri.queryParameters["locale"].flatMap { Language(rawValue: String($0)) } ?? .he
            // Grow did not answer or refused: the customer's bank was not reached through us, and trying again may work.
            return pages.failure(locale, providerDown: (error as? ServiceError)?.kind == .upstream)
        }
    }
}

/// A file the server needs at start (a template, a locale) is missing or broken.
package struct ConfigurationError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

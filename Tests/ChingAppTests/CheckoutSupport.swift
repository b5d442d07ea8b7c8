import ChingApp
import ChingDomain
import ChingServices
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// A hosted page as a browser would get it.
struct Page: Sendable {
    let status: Int
    let html: String
    let headers: HTTPFields

    var location: String? { headers[.location] }
    /// The form's CSRF token.
    var csrf: String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }
    func contains(_ text: String) -> Bool { html.contains(text) }
}

extension API {
    /// The repository root, where `Templates/` and `Public/` live.
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A customer, and a checkout session for them with `fields` (success and cancel URLs filled in).
    func checkoutSession(_ fields: JSONObject, customer: String? = nil, locale: String? = nil) async throws -> APIResult {
        var body = fields
        if body["customer"] == nil {
            if let customer { body["customer"] = .string(customer) } else { body["customer"] = .string(try await self.customer()) }
        }
        if body["success_url"] == nil { body["success_url"] = "https://shop.example.com/thanks?session={CHECKOUT_SESSION_ID}" }
        if body["cancel_url"] == nil { body["cancel_url"] = "https://shop.example.com/cart" }
        if let locale { body["locale"] = .string(locale) }
        let result = try await post("/checkout_sessions", .object(body))
        return result
    }

    func product(_ name: String = "Pro plan", price: JSONObject) async throws -> String {
        let product = try await post("/products", ["name": .string(name), "description": "Everything you need", "features": [["title": "Unlimited projects"]]])
        var body = price
        body["product"] = .string(product.id)
        let result = try await post("/prices", .object(body))
        #expect(result.status == 200, "\(result.text)")
        return result.id
    }

    func page(_ path: String, headers: HTTPFields = [:]) async throws -> Page {
        let response = try await client.execute(uri: path, method: .get, headers: headers, body: nil)
        return Page(status: Int(response.status.code), html: String(buffer: response.body), headers: response.headers)
    }

    /// Posts a form (URL-encoded) to a hosted page.
    func submit(_ path: String, _ fields: [(String, String)], headers: HTTPFields = [:]) async throws -> Page {
        let body = fields.map { "\(Self.formEncode($0.0))=\(Self.formEncode($0.1))" }.joined(separator: "&")
        var all: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        for field in headers { all[field.name] = field.value }
        let response = try await client.execute(uri: path, method: .post, headers: all, body: ByteBuffer(string: body))
        return Page(status: Int(response.status.code), html: String(buffer: response.body), headers: response.headers)
    }

    /// Opens the session's page and pays with `number` (and the other fields valid unless overridden).
    func pay(_ sessionID: String, number: String = "4242424242424242", cvc: String = "123", exp: String = "12/30",
             extra: [(String, String)] = [], locale: String? = nil) async throws -> Page {
        let page = try await page("/checkout/\(sessionID)")
        let csrf = try #require(page.csrf, "no form on the page: \(page.status)")
        var fields = [("csrf", csrf), ("payment_method", "new"), ("name", "Tal Levi"), ("number", number), ("exp", exp), ("cvc", cvc)]
        for (key, value) in extra {
            fields.removeAll { $0.0 == key }
            fields.append((key, value))
        }
        return try await submit("/checkout/\(sessionID)" + (locale.map { "?locale=\($0)" } ?? ""), fields)
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

extension TestApp {
    /// One round of the background sweeper over one project, at the test clock's time.
    func sweep(_ projectID: String) async throws -> Sweeper.Report {
        try await ChingApp.sweep(configuration, projectID: projectID)
    }
}

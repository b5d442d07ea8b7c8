import ChingApp
import ChingDomain
import ChingStore
import ChingWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import Testing

extension TestApp {
    /// Writes `files` (name → text) into the branding folder `folder` (a project id or a folder name).
    func writeBranding(_ folder: String, _ files: [String: String]) throws {
        let path = "\(brandingRoot)/\(folder)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(path)/\(name)")) }
    }

    func removeBranding(_ folder: String, _ file: String) throws { try FileManager.default.removeItem(atPath: "\(brandingRoot)/\(folder)/\(file)") }
}

@Suite("Branding")
struct BrandingTests {
    static let logo = ##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#123456"/></svg>"##
    static let brand = """
        {"display_name": "Café Negev", "logo": "logo.svg", "colors": {"primary": "#9a3412", "background": "#fffbf5", "text": "#292524", "accent": "#15803d"},
         "font": "serif", "corner_style": "square", "default_locale": "en", "support_email": "hello@cafe.example", "terms_url": "https://cafe.example/terms",
         "max_installments": 3, "show_vat_line": false}
        """

    func session(_ api: API) async throws -> String {
        try await api.checkoutSession(["line_items": [["name": "Espresso beans", "amount_agorot": 9000]]]).id
    }

    @Test("A project's folder brands its pages: name, logo and stylesheet at content-hash URLs, footer links, locale, installments, VAT line")
    func branded() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, ["brand.json": Self.brand, "logo.svg": Self.logo])
            let page = try await api.page("/checkout/\(try await session(api))?locale=en")
            #expect(page.contains(#"alt="Café Negev""#))
            #expect(page.contains("<title>Checkout · Café Negev</title>"))
            #expect(page.contains(#"href="mailto:hello@cafe.example""#))
            #expect(page.contains(#"href="https://cafe.example/terms""#))
            #expect(page.contains("Cancel and return to Café Negev"))
            #expect(!page.contains("Includes VAT"))
            #expect(page.contains("3 payments of ₪30.00"))
            #expect(!page.contains("4 payments"))
            let logoPath = try #require(page.html.range(of: #"src="/brand/[^"]+\.svg""#, options: .regularExpression).map { String(page.html[$0].dropFirst(5).dropLast()) })
            let logo = try await api.page(logoPath)
            #expect(logo.status == 200)
            #expect(logo.html == Self.logo)
            #expect(logo.headers[.cacheControl] == "public, max-age=31536000, immutable")
            #expect(logo.headers[.contentType] == "image/svg+xml")
            let cssPath = try #require(page.html.range(of: #"href="/brand/[^"]+\.css""#, options: .regularExpression).map { String(page.html[$0].dropFirst(6).dropLast()) })
            let css = try await api.page(cssPath)
            #expect(css.contains("--primary: #9a3412"))
            #expect(css.contains("--radius: 0"))
            #expect(css.contains("Georgia"))
            #expect(try await api.page("/brand/\(api.projectID)/0000000000000000.svg").status == 404)
        }
    }

    @Test("The brand's max_installments caps the page's choices and POST /charges alike (decisions.md: one rule)")
    func installmentCapIsOneRule() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "Café Negev", "max_installments": 3}"#])
            let page = try await api.page("/checkout/\(try await session(api))?locale=en")
            #expect(page.contains("3 payments of ₪30.00"))
            #expect(!page.contains("4 payments"))
            let customer = try await api.customer()
            let israeliCard = try await api.testCard(customer: customer, index: 3)
            let four = try await api.charge(customer: customer, paymentMethod: israeliCard, amount: 9000, extra: ["installments": ["count": 4]])
            #expect(four.status == 400, "\(four.text)")
            #expect(four.issuePaths == ["installments.count"])
            #expect(four.json["error"]?["message"] == "installments.count: Must be between 1 and 3 for this project.")
            let three = try await api.charge(customer: customer, paymentMethod: israeliCard, amount: 9000, extra: ["installments": ["count": 3]])
            #expect(three.status == 200, "\(three.text)")
        }
    }

    @Test("A change to brand.json or the logo shows on the next request, at a new logo URL")
    func hotReload() async throws {
        let app = TestApp()
        try await app.run { api in
            let id = try await session(api)
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "First name", "logo": "logo.svg"}"#, "logo.svg": Self.logo])
            let first = try await api.page("/checkout/\(id)")
            #expect(first.contains("First name"))
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "The second, longer name", "logo": "logo.svg"}"#,
                                                  "logo.svg": Self.logo.replacingOccurrences(of: "123456", with: "654321")])
            let second = try await api.page("/checkout/\(id)")
            #expect(second.contains("The second, longer name"))
            #expect(!second.contains("First name"))
            let logoURL = { (page: Page) in page.html.range(of: #"/brand/[^"]+\.svg"#, options: .regularExpression).map { String(page.html[$0]) } }
            #expect(logoURL(first) != nil && logoURL(first) != logoURL(second))
        }
    }

    @Test("A folder named for the project wins; otherwise the folder the project names is used, for checkout and setup pages")
    func folderByName() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding("shared-look", ["brand.json": #"{"display_name": "Shared Look Ltd"}"#])
            let project = try await app.withDatabase { database in
                try await Projects.create(name: "Branded", branding: "shared-look", database: database, ids: .random, clock: app.clock.clock)
            }
            let shop = api.with(key: project.testKey)
            let checkout = try await shop.checkoutSession(["line_items": [["name": "A", "amount_agorot": 100]]])
            #expect(try await shop.page("/checkout/\(checkout.id)").contains("Shared Look Ltd"))
            let setup = try await shop.setupSession()
            #expect(try await shop.page("/setup/\(setup.id)").contains("Shared Look Ltd"))
            #expect(!(try await api.page("/checkout/\(try await session(api))")).contains("Shared Look Ltd"))
        }
    }

    @Test("A slug folder whose brand.json names the project brands it")
    func slugFolder() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding("cafe-negev", ["brand.json": #"{"project": "\#(api.projectID)", "display_name": "Slug Café"}"#])
            #expect(try await api.page("/checkout/\(try await session(api))").contains("Slug Café"))
        }
    }

    @Test("An override template replaces only the block it names")
    func override() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, [
                "brand.json": #"{"display_name": "Override Shop"}"#,
                "checkout.mustache": #"{{<checkout_page}}{{$summary}}<p class="custom-summary">Hand-roasted for {{merchantName}}: {{dueToday}}</p>{{/summary}}{{/checkout_page}}"#,
            ])
            let page = try await api.page("/checkout/\(try await session(api))?locale=en")
            #expect(page.status == 200)
            #expect(page.contains(#"<p class="custom-summary">Hand-roasted for Override Shop: ₪90.00</p>"#))
            #expect(!page.contains("Order summary"))
            #expect(page.contains(#"autocomplete="cc-number""#))
            #expect(page.contains("Pay ₪90.00"))
            #expect(page.contains(#"<html lang="en" dir="ltr">"#))
        }
    }

    @Test("Each kind of broken brand.json keeps the last good branding, and is logged once naming file and field", arguments: [
        (#"{"display_name": "Broken" "#, ""),
        (##"{"display_name": "Broken", "colour": "#fff"}"##, "colour"),
        (#"{"display_name": "Broken", "colors": {"primary": "blue"}}"#, "colors.primary"),
        (#"{"display_name": "Broken", "logo": "missing.png"}"#, "logo"),
        (#"{"display_name": "Broken", "font": "Comic Sans"}"#, "font"),
    ])
    func brokenFallsBack(json: String, field: String) async throws {
        let app = TestApp()
        try await app.run { api in
            let id = try await session(api)
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "Good Shop"}"#])
            #expect(try await api.page("/checkout/\(id)").contains("Good Shop"))
            try app.writeBranding(api.projectID, ["brand.json": json])
            let first = try await api.page("/checkout/\(id)")
            let second = try await api.page("/checkout/\(id)")
            #expect(first.status == 200 && second.status == 200)
            #expect(second.contains("Good Shop"))
            let file = "\(app.brandingRoot)/\(api.projectID)/brand.json"
            let logged = app.logs.text.components(separatedBy: "\n").filter { $0.contains("Branding problem") && $0.contains("\(file): \(field)") }
            #expect(logged.count == 1, "\(app.logs.text.suffix(2000))")
            let checked = Projects.brandingProblems(root: app.brandingRoot)
            #expect(checked.contains { $0.hasPrefix("error: \(file): \(field)") })
            #expect(Projects.brandingHasErrors(root: app.brandingRoot))
        }
    }

    @Test("A folder broken from the start serves the stock look")
    func brokenFromStart() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "Never Shown", "font": "Papyrus"}"#])
            let page = try await api.page("/checkout/\(try await session(api))")
            #expect(page.status == 200)
            #expect(page.contains("Test Shop"))
            #expect(!page.contains("Never Shown"))
        }
    }

    @Test("Unsafe templates are refused with line and column, and the stock page is served", arguments: [
        "{{{merchantName}}}", "{{& merchantName}}", "{{%CONTENT_TYPE:TEXT}}", "{{=<% %>=}}", "{{>checkout}}", "{{>setup}}",
        "{{<../../etc/passwd}}{{/../../etc/passwd}}", "{{>*dynamic}}",
    ])
    func unsafeTemplates(template: String) async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, ["brand.json": #"{"display_name": "Safe Shop"}"#, "checkout.mustache": "<p>ok</p>\n  " + template])
            let page = try await api.page("/checkout/\(try await session(api))")
            #expect(page.status == 200)
            #expect(page.contains(#"autocomplete="cc-number""#))
            let problems = Projects.brandingProblems(root: app.brandingRoot)
            #expect(problems.contains { $0.contains("checkout.mustache: line 2, column 3") }, "\(problems)")
        }
    }

    @Test("A partial that includes itself, or a file named like a system template, is refused instead of recursing")
    func recursion() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, [
                "brand.json": #"{"display_name": "Loop Shop"}"#,
                "checkout.mustache": "{{<checkout_page}}{{$summary}}{{>banner}}{{/summary}}{{/checkout_page}}",
                "banner.mustache": "<p>banner</p>{{>banner}}",
                "layout.mustache": "{{>checkout_page}}",
            ])
            let page = try await api.page("/checkout/\(try await session(api))")
            #expect(page.status == 200)
            #expect(page.contains(#"autocomplete="cc-number""#))
            let problems = Projects.brandingProblems(root: app.brandingRoot)
            #expect(problems.contains { $0.contains("banner.mustache: line 1, column 14") })
            #expect(problems.contains { $0.contains("layout.mustache") && $0.contains("system template") })
        }
    }

    @Test("A page override may use the folder's own partials")
    func partials() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, [
                "brand.json": #"{"display_name": "Partial Shop"}"#,
                "checkout.mustache": "{{<checkout_page}}{{$header}}{{>banner}}{{/header}}{{/checkout_page}}",
                "banner.mustache": #"<p class="banner">Welcome to {{merchantName}}</p>"#,
            ])
            let page = try await api.page("/checkout/\(try await session(api))")
            #expect(page.contains(#"<p class="banner">Welcome to Partial Shop</p>"#))
            #expect(page.contains("סיכום הזמנה"))
        }
    }

    @Test("Low-contrast text is adjusted to pass WCAG AA and reported as a warning; a light primary gets dark button text")
    func contrast() async throws {
        let app = TestApp()
        try await app.run { api in
            try app.writeBranding(api.projectID, ["brand.json": ##"{"colors": {"text": "#cccccc", "background": "#ffffff", "primary": "#ffe066"}}"##])
            let page = try await api.page("/checkout/\(try await session(api))")
            let cssPath = try #require(page.html.range(of: #"/brand/[^"]+\.css"#, options: .regularExpression).map { String(page.html[$0]) })
            let css = try await api.page(cssPath).html
            #expect(!css.contains("--text: #cccccc"))
            #expect(css.contains("--on-primary: #111827"))
            let text = try #require(css.range(of: #"--text: #[0-9a-f]{6}"#, options: .regularExpression).map { String(css[$0].suffix(7)) })
            #expect(Self.contrast(text, "#ffffff") >= 4.5)
            let problems = Projects.brandingProblems(root: app.brandingRoot)
            #expect(problems.contains { $0.hasPrefix("warning:") && $0.contains("colors.text") })
            #expect(!Projects.brandingHasErrors(root: app.brandingRoot))
        }
    }

    @Test("The starter folder from `branding init` passes `branding check`")
    func starter() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ching-starter-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/proj_x", withIntermediateDirectories: true)
        try Data(BrandingStarter.brandJSON.utf8).write(to: URL(fileURLWithPath: "\(root)/proj_x/brand.json"))
        try Data(BrandingStarter.logo.utf8).write(to: URL(fileURLWithPath: "\(root)/proj_x/logo.svg"))
        #expect(Projects.brandingProblems(root: root) == [])
        let example = URL(fileURLWithPath: API.resources).appendingPathComponent("Branding").path
        #expect(Projects.brandingProblems(root: example) == [], "the shipped example branding must be clean")
    }

    /// WCAG contrast computed here independently of the product's code.
    static func contrast(_ a: String, _ b: String) -> Double {
        func luminance(_ hex: String) -> Double {
            let value = Int(hex.dropFirst(), radix: 16)!
            let channels = [value >> 16 & 255, value >> 8 & 255, value & 255].map { (c: Int) -> Double in
                let s = Double(c) / 255
                return s <= 0.03928 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4)
            }
            return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
        }
        let (x, y) = (luminance(a), luminance(b))
        return (max(x, y) + 0.05) / (min(x, y) + 0.05)
    }
}

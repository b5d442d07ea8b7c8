import ChingDomain
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTesting
import NIOCore
import Logging
import Mustache
import SQLKit
import Testing
@testable import ChingApp
@testable import ChingWeb

/// Hosted pages fail as pages: never an empty 200, never the API's JSON.
@Suite("Hosted page errors")
struct PageErrorTests {
    @Test("A page whose template cannot be rendered is a logged 500 error page, not an empty 200")
    func renderFailureIsAnErrorPage() async throws {
        let logs = LogCapture()
        let renderer = PageRenderer(library: MustacheLibrary(), localization: try Localization.load(directory: API.resources + "/Templates"),
                                    publicURL: "https://pay.example.test", logger: logs.logger)
        let response = renderer.render("checkout", context: ["lang": "en"])
        #expect(response.status == .internalServerError)
        #expect(response.headers[.contentType] == "text/html; charset=utf-8")
        #expect(response.headers[HTTPField.Name("Content-Security-Policy")!] != nil)
        let html = try await BodyCollector.text(of: response)
        #expect(html.contains("Something went wrong"))
        #expect(logs.text.contains("error A hosted page could not be rendered"))
    }

    @Test("A hosted page that fails (here: its database table is gone) answers the error page in the customer's language; the API still answers JSON",
          .enabled(if: !TestApp.usesPostgres, "renames a table of the shared database"))
    func failingPageIsHTML() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": [["name": "Coffee beans", "amount_agorot": 4500]]])
            try await api.app.withDatabase { database in
                try await database.transaction { db in try await db.raw("ALTER TABLE projects RENAME TO projects_gone").run() }
            }
            for (locale, heading) in [("he", "משהו השתבש"), ("en", "Something went wrong")] {
                let page = try await api.page("/checkout/\(session.id)?locale=\(locale)")
                #expect(page.status == 500)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.contains(heading))
                #expect(page.contains(#"lang="\#(locale)""#))
            }
            let json = try await api.get("/customers")
            #expect(json.status == 500)
            #expect(json.errorCode == "INTERNAL_ERROR")
            #expect(api.app.logs.text.contains("error A hosted page failed"))
        }
    }
}

@Suite("Hosted forms")
struct HostedFormTests {
    @Test("A form as browsers encode it (spaces as +, a plus as %2B) is read back exactly; duplicate or broken fields are a 400 page")
    func browserEncoding() async throws {
        try await TestApp().run { api in
            let session = try await api.checkoutSession(["line_items": [["name": "Coffee beans", "amount_agorot": 4500]]], locale: "en")
            let csrf = try #require(try await api.page("/checkout/\(session.id)").csrf)
            let typed = try await api.submitRaw("/checkout/\(session.id)",
                                                "csrf=\(csrf)&payment_method=new&name=Tal+Levi+%2B+Co&number=4242424242424241&exp=12%2F30&cvc=123")
            #expect(typed.status == 422)
            #expect(typed.contains(#"value="Tal Levi + Co""#))
            #expect(typed.contains(#"value="12/30""#))
            let duplicated = try await api.submitRaw("/checkout/\(session.id)", "csrf=\(csrf)&csrf=\(csrf)&number=4242424242424242")
            #expect(duplicated.status == 400)
            #expect(duplicated.contains("The form could not be read"))
            let broken = try await api.submitRaw("/checkout/\(session.id)", "csrf=\(csrf)&number=%ZZ")
            #expect(broken.status == 400)
        }
    }
}

extension API {
    /// Posts a body exactly as given, as a browser's form post.
    func submitRaw(_ path: String, _ body: String) async throws -> Page {
        let response = try await client.execute(uri: path, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                body: ByteBuffer(string: body))
        return Page(status: Int(response.status.code), html: String(buffer: response.body), headers: response.headers)
    }
}

/// Reads a `Response`'s body, as the server would write it.
final class BodyCollector: ResponseBodyWriter {
    var bytes = ByteBuffer()
    func write(_ buffer: ByteBuffer) async throws { var buffer = buffer; bytes.writeBuffer(&buffer) }
    func finish(_ trailingHeaders: HTTPFields?) async throws {}

    static func text(of response: Response) async throws -> String {
        let collector = BodyCollector()
        try await response.body.write(collector)
        return String(buffer: collector.bytes)
    }
}

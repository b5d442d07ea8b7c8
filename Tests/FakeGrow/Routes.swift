import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

// The fake's HTTP face: the API under /api/light/server/1.0/ and the hosted page under /far.

extension FakeGrow {
    func router() -> Router<BasicRequestContext> {
        let router = Router()
        // With or without a trailing slash: the router ignores empty path components.
        router.post("/api/light/server/1.0/:method") { [weak self] request, context -> Response in
            guard let self else { return Response(status: .serviceUnavailable) }
            let body = try await Self.text(of: request)
            let answer = self.answer(
                method: context.parameters.get("method") ?? "",
                contentType: request.headers[.contentType] ?? "",
                body: body
            )
            // Grow serves its JSON as text/html; a 500 is an HTML error page.
            return Self.response(answer.json, status: answer.status, contentType: answer.status == .ok ? "application/json" : "text/html")
        }
        router.get("/far") { [weak self] request, _ -> Response in
            guard let self else { return Response(status: .serviceUnavailable) }
            let link = Self.link(in: "\(request.uri)")
            return Self.response(self.pageHTML(link: link, error: nil), status: .ok, contentType: "text/html; charset=utf-8")
        }
        router.post("/far/pay") { [weak self] request, _ -> Response in
            guard let self else { return Response(status: .serviceUnavailable) }
            let form = Fields(pairs: urlencodedFields(try await Self.text(of: request)))
            let link = form["l"] ?? ""
            do {
                let redirect = try await self.pay(
                    link: link, card: form["card"] ?? "", payments: form["payments"].flatMap { Int($0) }, saveCard: form["saveCard"] == "1"
                )
                return Response(status: .seeOther, headers: [.location: redirect])
            } catch let error as PageError {
                return Self.response(self.pageHTML(link: link, error: error), status: .ok, contentType: "text/html; charset=utf-8")
            }
        }
        router.post("/far/cancel") { [weak self] request, _ -> Response in
            guard let self else { return Response(status: .serviceUnavailable) }
            let link = Fields(pairs: urlencodedFields(try await Self.text(of: request)))["l"] ?? ""
            do {
                let cancelURL = try self.state.withLock { state throws(PageError) in try state.ledger.cancel(link: link) }
                return Response(status: .seeOther, headers: [.location: cancelURL])
            } catch let error as PageError {
                return Self.response(self.pageHTML(link: link, error: error), status: .ok, contentType: "text/html; charset=utf-8")
            }
        }
        return router
    }

    static func text(of request: Hummingbird.Request) async throws -> String {
        var request = request
        return String(buffer: try await request.collectBody(upTo: 1 << 20))
    }

    static func response(_ text: String, status: HTTPResponse.Status, contentType: String) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - The page

    /// A small form: card number, installments when the process offers a choice, save-card consent, pay and X.
    func pageHTML(link: String, error: PageError?) -> String {
        let view = state.withLock { state -> (process: Process, page: Page, payments: ClosedRange<Int>)? in
            state.ledger.expireOverdue()
            guard let process = state.ledger.processes.first(where: { $0.link == link }),
                  let page = state.ledger.page(process.pageCode)
            else { return nil }
            return (process, page, state.ledger.allowedPayments(process, page))
        }
        guard let view else { return Self.htmlPage(body: "<p class=\"error\">\(Self.escaped(PageError.unknownProcess.message))</p>") }
        let process = view.process
        var body = "<h1>\(Self.escaped(process.description))</h1>\n<p class=\"sum\">₪\(Shekels.text(process.sum))</p>\n"
        if let error { body += "<p class=\"error\">\(Self.escaped(error.message))</p>\n" }
        switch process.status {
        case .created:
            body += "<form method=\"post\" action=\"/far/pay\">\n<input type=\"hidden\" name=\"l\" value=\"\(Self.escaped(link))\">\n"
            body += "<label>מספר כרטיס <input name=\"card\" inputmode=\"numeric\" autocomplete=\"cc-number\"></label>\n"
            if view.payments.count > 1 {
                let options = view.payments.map { "<option value=\"\($0)\">\($0)</option>" }.joined()
                body += "<label>תשלומים <select name=\"payments\">\(options)</select></label>\n"
            } else {
                body += "<input type=\"hidden\" name=\"payments\" value=\"\(view.payments.lowerBound)\">\n"
            }
            if view.page.tokens, process.saveCardToken, process.chargeType != 3 {
                body += "<label><input type=\"checkbox\" name=\"saveCard\" value=\"1\" checked> שמירת הכרטיס</label>\n"
            }
            body += "<button type=\"submit\">תשלום</button>\n</form>\n"
            body += "<form method=\"post\" action=\"/far/cancel\"><input type=\"hidden\" name=\"l\" value=\"\(Self.escaped(link))\">"
            body += "<button type=\"submit\" aria-label=\"סגירה\">X</button></form>\n"
        case .expired:
            if error == nil { body += "<p class=\"error\">\(Self.escaped(PageError.expired.message))</p>\n" }
        case .paid, .suspended, .tokenized, .cancelled:
            if error == nil { body += "<p class=\"error\">\(Self.escaped(PageError.notPayable.message))</p>\n" }
        }
        return Self.htmlPage(body: body)
    }

    static func htmlPage(body: String) -> String {
        "<!doctype html>\n<html lang=\"he\" dir=\"rtl\"><head><meta charset=\"utf-8\"><title>Grow (fake)</title></head>\n<body>\n\(body)</body></html>\n"
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

// A small client for tests of the fake itself (and for tests that want to poke at it over HTTP):
// the test targets do not depend on AsyncHTTPClient, and Foundation's networking is slow on Linux.

extension FakeGrow {
    /// An API answer as a test reads it: the HTTP status, the text, and the envelope's parts.
    public struct APIAnswer: Sendable {
        public let httpStatus: Int
        public let text: String

        /// The body as a JSON object ([:] when it is not one, e.g. the HTTP 500 page).
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        }

        /// The envelope's `status` as a string ("1", "0"), whether sent as a number or a string.
        public var status: String? { Self.string(json["status"]) }

        /// `err.id`, or nil on success (and for "unknown method", whose err is a string).
        public var errorID: Int? {
            (json["err"] as? [String: Any]).flatMap { Self.string($0["id"]) }.flatMap { Int($0) }
        }

        public var errorMessage: String? {
            (json["err"] as? [String: Any]).flatMap { Self.string($0["message"]) }
        }

        /// `data` when it is an object.
        public var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }

        /// One field of `data` as a string (numbers too).
        public subscript(data name: String) -> String? { Self.string(data[name]) }

        /// `data.transactions`, each field as a string.
        public var transactions: [[String: String]] {
            (data["transactions"] as? [[String: Any]] ?? []).map { $0.compactMapValues { Self.string($0) } }
        }

        static func string(_ value: Any?) -> String? {
            switch value {
            case let text as String: return text
            case let number as NSNumber: return number.stringValue
            default: return nil
            }
        }
    }

    /// A page answer: status, Location (redirects are not followed), and the HTML.
    public struct PageAnswer: Sendable {
        public let httpStatus: Int
        public let location: String?
        public let html: String
    }

    /// Calls an API method with form fields, urlencoded or multipart/form-data.
    public func call(_ method: String, fields: [(String, String)], multipart: Bool = false) async throws -> APIAnswer {
        if multipart {
            let boundary = "----FakeGrowBoundary" + Ledger.newToken()
            let parts = fields.map { "--\(boundary)\r\nContent-Disposition: form-data; name=\"\($0.0)\"\r\n\r\n\($0.1)\r\n" }
            return try await send(method, body: parts.joined() + "--\(boundary)--\r\n", contentType: "multipart/form-data; boundary=\(boundary)")
        }
        return try await send(method, body: formEncode(fields), contentType: "application/x-www-form-urlencoded")
    }

    /// Calls an API method with any body (a JSON body, say).
    public func send(_ method: String, body: String, contentType: String) async throws -> APIAnswer {
        let answer = try await Self.request(baseURL + method, method: .POST, body: body, contentType: contentType)
        return APIAnswer(httpStatus: answer.httpStatus, text: answer.html)
    }

    /// GETs a page (no form) or POSTs a urlencoded form to it, as a browser would.
    public func browse(_ url: String, form: [(String, String)]? = nil) async throws -> PageAnswer {
        let absolute = url.hasPrefix("http") ? url : origin + url
        if let form {
            return try await Self.request(absolute, method: .POST, body: formEncode(form), contentType: "application/x-www-form-urlencoded")
        }
        return try await Self.request(absolute, method: .GET, body: nil, contentType: nil)
    }

    /// Redirects stay visible to the test; a process-long client, never shut down.
    static let client = HTTPClient(configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    static func request(_ url: String, method: HTTPMethod, body: String?, contentType: String?) async throws -> PageAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return PageAnswer(httpStatus: Int(response.status.code), location: response.headers.first(name: "Location"), html: text)
    }
}

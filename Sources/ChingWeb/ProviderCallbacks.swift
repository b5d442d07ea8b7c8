import ChingDomain
import ChingHTTP
import ChingServices
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /grow/notify/:process`: Grow's server-to-server callback (GROW.md section 3). It is not
/// signed, so its fields only say which of our processes to ask Grow about (`LivePayments.callback`).
/// 200 when the payment is recorded or Grow says it is not paid; 503 while Grow cannot be asked
/// (Grow sends the callback again); 400 for a callback that does not match its process.
struct ProviderCallbacks: Sendable {
    let services: AppServices

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("grow/notify/:process") { request, context in
            let body = (try? await request.collectBody(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            let fields = Self.fields(body, contentType: request.headers[.contentType] ?? "")
            let settled = try await LivePayments(services: services).callback(context.parameters.get("process") ?? "", fields: fields)
            let status: HTTPResponse.Status = switch settled {
            case .recorded, .notPaid: .ok
            case .unknown: .serviceUnavailable
            case .refused: .badRequest
            }
            return Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: status == .ok ? "OK" : status.reasonPhrase)))
        }
    }

    /// The callback's fields by their form names (`data[processId]`): form-encoded as Grow sends it, or JSON as its docs show it.
    static func fields(_ body: String, contentType: String) -> [String: String] {
        var fields: [String: String] = [:]
        if contentType.lowercased().contains("json") {
            guard case .object(let object)? = try? JSONValue.parse(body) else { return [:] }
            func flatten(_ value: JSONValue, _ name: String) {
                switch value {
                case .object(let inner): for (key, item) in inner.entries { flatten(item, name.isEmpty ? key : "\(name)[\(key)]") }
                case .string(let text): fields[name] = text
                case .int(let number): fields[name] = String(number)
                case .number(let number): fields[name] = String(number)
                default: break
                }
            }
            flatten(.object(object), "")
            return fields
        }
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return fields
    }
}

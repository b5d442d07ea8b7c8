import ChingHTTP
import ChingServices
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /grow/notify/:process`: Grow's server-to-server callback (GROW.md section 3). It is not
/// signed, so it only says which of our processes to ask Grow about (`LivePayments.callback`).
/// 200 when the payment is recorded or Grow says it is not paid; 503 while Grow cannot be asked
/// (Grow sends the callback again); 400 for a callback that does not match its process.
struct ProviderCallbacks: Sendable {
    let services: AppServices

    func addRoutes(to router: Router<AppRequestContext>) {
        router.post("grow/notify/:process") { request, context in
            let body = (try? await request.collectBody(upTo: 64 * 1024)).map { String(buffer: $0) } ?? ""
            let settled = try await LivePayments(services: services).callback(context.parameters.get("process") ?? "", body: body,
                                                                              contentType: request.headers[.contentType] ?? "")
            let status: HTTPResponse.Status = switch settled {
            case .recorded, .notPaid: .ok
            case .unknown: .serviceUnavailable
            case .refused: .badRequest
            }
            return Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: status == .ok ? "OK" : status.reasonPhrase)))
        }
    }
}

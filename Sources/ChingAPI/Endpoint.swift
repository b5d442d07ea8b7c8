import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import Crypto
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// What a JSON endpoint receives: the authenticated caller, the parsed body (an empty object for
/// GET), the path parameters and the query.
struct APICall: Sendable {
    let caller: Caller
    let body: JSONValue
    let parameters: Parameters
    let query: [String: String]
    /// The request's `Idempotency-Key`, for operations that pass it on (a live token charge's number at Grow).
    var idempotencyKey: String? = nil

    /// The `:id` path parameter.
    var id: String { parameters.get("id") ?? "" }

    /// A reader of the query's filters, validated like body fields (`?email=` must be an email).
    var queryReader: FieldReader { FieldReader(body: .strings(query)) }

    /// A body reader that refuses fields not in `allowed`.
    func reader(allowing allowed: Set<String>) -> FieldReader {
        var reader = FieldReader(body: body)
        reader.rejectUnknownFields(allowing: allowed)
        return reader
    }
}

/// What a JSON endpoint answers: `{"success": true, "data": ...}` plus any top-level extras
/// (`has_more`, `action`).
struct APIResponse: Sendable {
    var status: HTTPResponse.Status = .ok
    var data: JSONValue
    var extra = JSONObject()
    /// `{"success": true}` without `data` (DELETE /webhooks/:id).
    var bare = false

    init(_ data: JSONValue, status: HTTPResponse.Status = .ok, extra: JSONObject = JSONObject(), bare: Bool = false) {
        self.data = data
        self.status = status
        self.extra = extra
        self.bare = bare
    }
}

/// A response as bytes, so it can be stored for idempotent replay.
struct RenderedResponse: Sendable {
    let status: HTTPResponse.Status
    let body: String
    var retryAfter: Int? = nil

    init(status: HTTPResponse.Status, body: String, retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }

    init(_ response: APIResponse) {
        var envelope: JSONObject = response.bare ? ["success": true] : ["success": true, "data": response.data]
        for (key, value) in response.extra.entries { envelope[key] = value }
        self.init(status: response.status, body: JSONValue.object(envelope).serialized())
    }

    init(_ error: ServiceError) {
        self.init(status: error.status, body: error.json.serialized(), retryAfter: error.retryAfter)
    }

    /// Maps any error to the envelope; unexpected ones are logged (never with request bodies) and become a 500.
    init(error: any Error, logger: Logger) {
        switch error {
        case let error as ServiceError:
            self.init(error)
        case is NIOTooManyBytesError:
            self.init(ServiceError.payloadTooLarge)
        case let error as HTTPError where error.status == .contentTooLarge:
            self.init(ServiceError.payloadTooLarge)
        case let error as HTTPError where error.status == .notFound:
            self.init(ServiceError.routeNotFound)
        case let error as HTTPError where error.status == .methodNotAllowed:
            self.init(ServiceError(.methodNotAllowed, "METHOD_NOT_ALLOWED", "This endpoint does not accept that method."))
        case let error as HTTPError where (400..<500).contains(error.status.code):
            let refusal = ServiceError(.invalid, "INVALID_REQUEST", error.body ?? error.status.reasonPhrase)
            self.init(status: error.status, body: refusal.envelope(status: error.status).serialized())
        default:
            logger.error("Unhandled error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
            self.init(ServiceError.internalError)
        }
    }

    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    static let livemode = HTTPField.Name("X-Livemode")!
}

/// Turns an endpoint function into a route handler: authentication, body parsing, idempotent
/// replay and the envelope are done here and nowhere else.
struct EndpointWrapper: Sendable {
    let services: AppServices

    /// `replay`: how an `Idempotency-Key` replay answers (the stored response, unless the endpoint's
    /// answer carries a secret that may not be stored).
    func callAsFunction(_ handler: @escaping @Sendable (APICall) async throws -> APIResponse, replay: Idempotency.Replay = .stored)
        -> @Sendable (Request, AppRequestContext) async throws -> Response
    {
        { request, context in
            do {
                let caller = try await Self.authenticate(request, services: services)
                var bodyBytes = ByteBuffer()
                var body = JSONValue.object(JSONObject())
                if request.method == .post {
                    bodyBytes = try await Self.collectBody(request, context)
                    body = try Self.parseBody(bodyBytes, contentType: request.headers[.contentType])
                }
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
                let call = APICall(caller: caller, body: body, parameters: context.parameters, query: query,
                                   idempotencyKey: request.method == .post ? request.headers[.idempotencyKey] : nil)

                guard request.method == .post, let key = request.headers[.idempotencyKey] else {
                    return RenderedResponse(try await handler(call)).response
                }
                let fingerprint = Self.fingerprint(method: request.method.rawValue, path: request.uri.path, body: bodyBytes)
                return try await Idempotency(database: services.database, clock: services.clock).run(caller: caller, key: key, fingerprint: fingerprint,
                                                                                                       replay: replay) {
                    do {
                        return RenderedResponse(try await handler(call))
                    } catch {
                        return RenderedResponse(error: error, logger: context.logger)
                    }
                }.response
            } catch {
                return RenderedResponse(error: error, logger: context.logger).response
            }
        }
    }

    /// The caller of the request's `Authorization: Bearer <key>` (`X-Livemode: false` forces test mode).
    static func authenticate(_ request: Request, services: AppServices) async throws -> Caller {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") else {
            throw ServiceError.noAccess
        }
        let key = String(authorization.dropFirst("Bearer ".count)).trimmingWhitespace()
        return try await services.caller(forKey: key, forceTestMode: request.headers[.livemode]?.lowercased() == "false")
    }

    /// A public endpoint (the hosted page's JSON twin): no API key, the same body parsing and envelope.
    func unauthenticated(_ handler: @escaping @Sendable (_ body: JSONValue, _ context: AppRequestContext) async throws -> APIResponse)
        -> @Sendable (Request, AppRequestContext) async throws -> Response
    {
        { request, context in
            do {
                var body = JSONValue.object(JSONObject())
                if request.method == .post {
                    body = try Self.parseBody(try await Self.collectBody(request, context), contentType: request.headers[.contentType])
                }
                return RenderedResponse(try await handler(body, context)).response
            } catch {
                return RenderedResponse(error: error, logger: context.logger).response
            }
        }
    }

    /// The whole body, at most `maxUploadSize`; one that cannot be read is a 400, not an error in our logs.
    static func collectBody(_ request: Request, _ context: AppRequestContext) async throws(ServiceError) -> ByteBuffer {
        do {
            return try await request.collectBody(upTo: context.maxUploadSize)
        } catch {
            switch error {
            case .tooLarge: throw ServiceError.payloadTooLarge
            case .unreadable: throw ServiceError(.invalid, "INVALID_REQUEST", "The request body could not be read.")
            }
        }
    }

    /// JSON only. An empty body reads as `{}`, so body-less POSTs (`/detach`) need no header.
    static func parseBody(_ bytes: ByteBuffer, contentType: String?) throws(ServiceError) -> JSONValue {
        if bytes.readableBytes == 0 { return .object(JSONObject()) }
        let mediaType = contentType?.split(separator: ";").first.map { String($0).trimmingWhitespace().lowercased() }
        guard mediaType == "application/json" else {
            throw ServiceError(.unsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with Content-Type: application/json.")
        }
        do {
            return try JSONValue.parse(bytes.readableBytesView)
        } catch {
            throw ServiceError.invalid("", "Malformed JSON at byte \(error.offset): \(error.message).")
        }
    }

    static func fingerprint(method: String, path: String, body: ByteBuffer) -> String {
        var hash = SHA256()
        hash.update(data: Array((method + " " + path + "\n").utf8))
        hash.update(data: Array(body.readableBytesView))
        return hexString(hash.finalize())
    }
}

/// Renders anything thrown outside an endpoint (an unknown route, an oversize body) as the JSON envelope.
package struct ErrorEnvelopeMiddleware: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return RenderedResponse(error: error, logger: context.logger).response
        }
    }
}

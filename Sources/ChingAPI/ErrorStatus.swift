import ChingDomain
import ChingHTTP
import ChingServices
import HTTPTypes

/// The one place a refusal becomes an HTTP status (and the envelope's `status`).
extension ServiceError.Kind {
    var status: HTTPResponse.Status {
        switch self {
        case .invalid: .badRequest
        case .unauthorized: .unauthorized
        case .paymentFailed: .init(code: 402, reasonPhrase: "Payment Required")
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .gone: .gone
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .tooManyRequests: .tooManyRequests
        case .upstream: .badGateway
        case .internal: .internalServerError
        }
    }
}

extension ServiceError {
    var status: HTTPResponse.Status { kind.status }

    /// `{"success": false, "error": {"status", "code", "message", "issues"?, ...extra}}`
    var json: JSONValue { envelope(status: status) }

    /// The envelope under another status (a framework's 4xx that has no kind of its own).
    func envelope(status: HTTPResponse.Status) -> JSONValue {
        var error: JSONObject = ["status": .int(Int64(status.code)), "code": .string(code), "message": .string(message)]
        if !issues.isEmpty {
            error["issues"] = .array(issues.map { .object(["path": .string($0.path), "message": .string($0.message)]) })
        }
        for (key, value) in extra.entries { error[key] = value }
        return .object(["success": false, "error": .object(error)])
    }
}

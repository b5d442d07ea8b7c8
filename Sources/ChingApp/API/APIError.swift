import ChingDomain
import HTTPTypes

/// Every error the JSON API answers with, rendered in one place as
/// `{"success": false, "error": {"status", "code", "message", "issues"?}}`.
public struct APIError: Error, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var issues: [FieldIssue] = []
    /// Extra members of `error` (a declined charge is returned in `error.charge`).
    public var extra = JSONObject()
    /// Seconds, for `Retry-After` on 429.
    public var retryAfter: Int? = nil

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static func invalid(_ issues: [FieldIssue]) -> APIError {
        var error = APIError(.badRequest, "INVALID_FIELD", issues.count == 1 ? issues[0].message : "\(issues.count) fields are invalid.")
        if issues.count == 1, !issues[0].path.isEmpty { error = APIError(.badRequest, "INVALID_FIELD", "\(issues[0].path): \(issues[0].message)") }
        error.issues = issues
        return error
    }

    public static func invalid(_ path: String, _ message: String) -> APIError {
        invalid([FieldIssue(path: path, message: message)])
    }

    public static func notFound(_ kind: String, _ id: String) -> APIError {
        APIError(.notFound, "NOT_FOUND", "No such \(kind): \(id)")
    }

    /// A business rule refused the request (`price_archived`, `refund_amount_too_large`, ...).
    public static func rule(_ code: String, _ message: String, status: HTTPResponse.Status = .badRequest) -> APIError {
        APIError(status, code, message)
    }

    public static let noAccess = APIError(.unauthorized, "NO_ACCESS", "Missing or invalid API key. Send Authorization: Bearer ck_test_...")
    public static let liveKeyInactive = APIError(.forbidden, "LIVE_KEY_INACTIVE", "Live keys work once a live payment provider is configured for this project.")
    public static let payloadTooLarge = APIError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB.")
    public static let routeNotFound = APIError(.notFound, "NOT_FOUND", "No such endpoint.")
    public static let internalError = APIError(.internalServerError, "INTERNAL_ERROR", "Something went wrong on our side. Nothing was changed; try again.")

    var json: JSONValue {
        var error: JSONObject = ["status": .int(Int64(status.code)), "code": .string(code), "message": .string(message)]
        if !issues.isEmpty {
            error["issues"] = .array(issues.map { .object(["path": .string($0.path), "message": .string($0.message)]) })
        }
        for (key, value) in extra.entries { error[key] = value }
        return .object(["success": false, "error": .object(error)])
    }
}

/// Reads a validated request: throws `INVALID_FIELD` with every issue found, or returns.
extension FieldReader {
    func throwIfInvalid() throws(APIError) {
        if !issues.isEmpty { throw APIError.invalid(issues) }
    }
}

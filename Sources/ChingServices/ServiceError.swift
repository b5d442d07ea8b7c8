import ChingDomain

/// Every refusal a request can meet, as a value: what kind of refusal, the stable code clients
/// match on, the message, the fields at fault. The API renders it as its error envelope and the
/// hosted pages as a page; the HTTP status of each kind is chosen there, in one place
/// (`ServiceError.Kind.status` in ChingAPI).
public struct ServiceError: Error, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Bad input: a field, a rule, a request that cannot be read.
        case invalid
        case unauthorized
        /// The card was declined; the failed charge is in `extra["charge"]`.
        case paymentFailed
        case forbidden
        case notFound
        case methodNotAllowed
        /// The object is not in a state that allows it (taken, in progress, already done).
        case conflict
        /// The object is gone for good (an expired session).
        case gone
        case tooLarge
        case unsupportedMediaType
        case tooManyRequests
        /// The card provider failed to answer usefully.
        case upstream
        case `internal`
    }

    public let kind: Kind
    public let code: String
    public let message: String
    public var issues: [FieldIssue] = []
    /// Extra members of `error` (a declined charge is returned in `error.charge`).
    public var extra = JSONObject()
    /// Seconds, for `Retry-After` on `tooManyRequests`.
    public var retryAfter: Int? = nil

    public init(_ kind: Kind, _ code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public static func invalid(_ issues: [FieldIssue]) -> ServiceError {
        var error = ServiceError(.invalid, "INVALID_FIELD", issues.count == 1 ? issues[0].message : "\(issues.count) fields are invalid.")
        if issues.count == 1, !issues[0].path.isEmpty { error = ServiceError(.invalid, "INVALID_FIELD", "\(issues[0].path): \(issues[0].message)") }
        error.issues = issues
        return error
    }

    public static func invalid(_ path: String, _ message: String) -> ServiceError {
        invalid([FieldIssue(path: path, message: message)])
    }

    public static func notFound(_ kind: String, _ id: String) -> ServiceError {
        ServiceError(.notFound, "NOT_FOUND", "No such \(kind): \(id)")
    }

    /// A business rule refused the request (`price_archived`, `refund_amount_too_large`, ...).
    public static func rule(_ code: String, _ message: String, kind: Kind = .invalid) -> ServiceError {
        ServiceError(kind, code, message)
    }

    public static let noAccess = ServiceError(.unauthorized, "NO_ACCESS", "Missing or invalid API key. Send Authorization: Bearer ck_test_...")
    public static let liveKeyInactive = ServiceError(.forbidden, "LIVE_KEY_INACTIVE", "Live keys work once a live payment provider is configured for this project.")
    public static let providerUnavailable = ServiceError(.upstream, "provider_unavailable", "Live payments are unavailable for this project right now; the operator has been told.")
    public static let payloadTooLarge = ServiceError(.tooLarge, "PAYLOAD_TOO_LARGE", "The request body is larger than 1 MiB.")
    public static let routeNotFound = ServiceError(.notFound, "NOT_FOUND", "No such endpoint.")
    public static let internalError = ServiceError(.internal, "INTERNAL_ERROR", "Something went wrong on our side. Nothing was changed; try again.")
}

/// Reads a validated request: throws `INVALID_FIELD` with every issue found, or returns.
extension FieldReader {
    package func throwIfInvalid() throws(ServiceError) {
        if !issues.isEmpty { throw ServiceError.invalid(issues) }
    }
}

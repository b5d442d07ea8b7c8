import ChingDomain
import SQLKit

/// A billing portal session as stored. Its link's token is the customer's only credential, so
/// only the token's SHA-256 is kept.
public struct PortalSession: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    public let tokenHash: String
    public let returnURL: String?
    public let csrfToken: String
    public let expiresAt: Timestamp
    public let created: Timestamp

    public init(id: String, caller: Caller, customerID: String, tokenHash: String, returnURL: String?, csrfToken: String,
                expiresAt: Timestamp, created: Timestamp) {
        self.id = id; self.caller = caller; self.customerID = customerID; self.tokenHash = tokenHash; self.returnURL = returnURL
        self.csrfToken = csrfToken; self.expiresAt = expiresAt; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), caller: try row.caller(), customerID: try row.string("customer_id"), tokenHash: try row.string("token_hash"),
                  returnURL: try row.optionalString("return_url"), csrfToken: try row.string("csrf_token"), expiresAt: try row.timestamp("expires_at"),
                  created: try row.timestamp("created"))
    }
}

/// The `billing_portal_sessions` table.
public struct PortalSessionStore: Sendable {
    let db: any SQLDatabase

    public func insert(_ session: PortalSession) async throws {
        try await db.raw("""
            INSERT INTO billing_portal_sessions (id, project_id, livemode, customer_id, token_hash, return_url, csrf_token, expires_at, created)
            VALUES (\(bind: session.id), \(bind: session.caller.projectID), \(bind: session.caller.mode), \(bind: session.customerID),
              \(bind: session.tokenHash), \(bind: session.returnURL), \(bind: session.csrfToken), \(bind: session.expiresAt.milliseconds),
              \(bind: session.created.milliseconds))
            """).run()
    }

    /// The session whose link's token hashes to `tokenHash`.
    public func find(tokenHash: String) async throws -> PortalSession? {
        try await db.raw("SELECT * FROM billing_portal_sessions WHERE token_hash = \(bind: tokenHash)").first().map(PortalSession.init)
    }

    public func find(_ id: String) async throws -> PortalSession? {
        try await db.raw("SELECT * FROM billing_portal_sessions WHERE id = \(bind: id)").first().map(PortalSession.init)
    }

    /// Gives the session a new link (the old one stops working).
    public func replaceToken(_ id: String, tokenHash: String) async throws {
        try await db.raw("UPDATE billing_portal_sessions SET token_hash = \(bind: tokenHash) WHERE id = \(bind: id)").run()
    }
}

extension SQLDatabase {
    public var portalSessions: PortalSessionStore { PortalSessionStore(db: self) }
}

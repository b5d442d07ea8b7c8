import ChingDomain
import SQLKit

/// A billing portal session as stored. Its links' tokens are the customer's only credential, so
/// only their SHA-256 is kept (`billing_portal_tokens`).
public struct PortalSession: Sendable {
    public let id: String
    public let caller: Caller
    public let customerID: String
    public let returnURL: String?
    public let csrfToken: String
    public let expiresAt: Timestamp
    public let created: Timestamp

    public init(id: String, caller: Caller, customerID: String, returnURL: String?, csrfToken: String, expiresAt: Timestamp, created: Timestamp) {
        self.id = id; self.caller = caller; self.customerID = customerID; self.returnURL = returnURL
        self.csrfToken = csrfToken; self.expiresAt = expiresAt; self.created = created
    }

    init(_ row: any SQLRow) throws {
        self.init(id: try row.string("id"), caller: try row.caller(), customerID: try row.string("customer_id"), returnURL: try row.optionalString("return_url"), csrfToken: try row.string("csrf_token"), expiresAt: try row.timestamp("expires_at"),
                  created: try row.timestamp("created"))
    }
}

/// The `billing_portal_sessions` table and its links' tokens.
public struct PortalSessionStore: Sendable {
    let db: any SQLDatabase

    /// A new session with its first link.
    public func insert(_ session: PortalSession, tokenHash: String) async throws {
        try await db.raw("""
            INSERT INTO billing_portal_sessions (id, project_id, livemode, customer_id, return_url, csrf_token, expires_at, created)
            VALUES (\(bind: session.id), \(bind: session.caller.projectID), \(bind: session.caller.mode), \(bind: session.customerID),
              \(bind: session.returnURL), \(bind: session.csrfToken), \(bind: session.expiresAt.milliseconds), \(bind: session.created.milliseconds))
            """).run()
        try await addToken(to: session.id, tokenHash: tokenHash, at: session.created)
    }

    /// Another link to the session (the old ones keep working until the session expires).
    public func addToken(to sessionID: String, tokenHash: String, at now: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO billing_portal_tokens (token_hash, session_id, created) VALUES (\(bind: tokenHash), \(bind: sessionID), \(bind: now.milliseconds))
            """).run()
    }

    /// The session a link's token hashes to.
    public func find(tokenHash: String) async throws -> PortalSession? {
        try await db.raw("""
            SELECT s.* FROM billing_portal_tokens t JOIN billing_portal_sessions s ON s.id = t.session_id WHERE t.token_hash = \(bind: tokenHash)
            """).first().map(PortalSession.init)
    }

    public func find(_ id: String) async throws -> PortalSession? {
        try await db.raw("SELECT * FROM billing_portal_sessions WHERE id = \(bind: id)").first().map(PortalSession.init)
    }

    public func find(_ id: String, caller: Caller) async throws -> PortalSession? {
        try await db.scopedRow("billing_portal_sessions", id: id, caller: caller).map(PortalSession.init)
    }
}

extension SQLDatabase {
    public var portalSessions: PortalSessionStore { PortalSessionStore(db: self) }
}

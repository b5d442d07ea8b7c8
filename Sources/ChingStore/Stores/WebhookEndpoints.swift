import ChingDomain
import SQLKit

/// A webhook endpoint as stored (its secret signs every delivery).
public struct WebhookEndpoint: Sendable {
    public let id: Int64
    public let caller: Caller
    public let url: String
    /// The event types it listens for (`*` for all).
    public let events: [String]
    public let secret: String
    public let deleted: Bool
    public let created: Timestamp

    init(_ row: any SQLRow) throws {
        id = try row.int("id")
        caller = try row.caller()
        url = try row.string("url")
        events = (try row.json("events").arrayValue ?? []).compactMap(\.stringValue)
        secret = try row.string("secret")
        deleted = try row.bool("deleted")
        created = try row.timestamp("created")
    }

    public func listens(for type: String) -> Bool { events.contains("*") || events.contains(type) }
}

/// The `webhook_endpoints` table.
public struct WebhookEndpointStore: Sendable {
    let db: any SQLDatabase

    public func insert(caller: Caller, url: String, events: [String], secret: String, created: Timestamp) async throws -> WebhookEndpoint {
        try await WebhookEndpoint(db.raw("""
            INSERT INTO webhook_endpoints (project_id, livemode, url, events, secret, created)
            VALUES (\(bind: caller.projectID), \(bind: caller.mode), \(bind: url), \(bind: JSONValue.array(events.map { .string($0) }).serialized()),
              \(bind: secret), \(bind: created.milliseconds))
            RETURNING *
            """).first()!)
    }

    /// Deletes one of the caller's endpoints; false when there is no such endpoint (or it is deleted already).
    public func markDeleted(_ id: Int64, caller: Caller) async throws -> Bool {
        try await db.raw("""
            UPDATE webhook_endpoints SET deleted = 1 WHERE id = \(bind: id) AND project_id = \(bind: caller.projectID)
              AND livemode = \(bind: caller.mode) AND deleted = 0 RETURNING id
            """).first() != nil
    }

    /// The caller's endpoints (not deleted), newest first, at most 100.
    public func active(caller: Caller) async throws -> [WebhookEndpoint] {
        try await db.raw("""
            SELECT * FROM webhook_endpoints WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode)
              AND deleted = 0 ORDER BY id DESC LIMIT 100
            """).all().map(WebhookEndpoint.init)
    }
}

extension SQLDatabase {
    public var webhookEndpoints: WebhookEndpointStore { WebhookEndpointStore(db: self) }
}

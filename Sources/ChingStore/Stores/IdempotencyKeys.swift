import ChingDomain
import SQLKit

/// An `Idempotency-Key` as stored: the request it was first sent with, and once done, the response to replay.
public struct IdempotencyRecord: Sendable {
    public let requestHash: String
    /// `in_flight` or `done`.
    public let state: String
    public let responseStatus: Int64?
    public let responseBody: String?
    public let created: Timestamp

    init(_ row: any SQLRow) throws {
        requestHash = try row.string("request_hash")
        state = try row.string("state")
        responseStatus = try row.optionalInt("response_status")
        responseBody = try row.optionalString("response_body")
        created = try row.timestamp("created")
    }
}

/// The `idempotency_keys` table: one row per caller and key.
public struct IdempotencyKeys: Sendable {
    let db: any SQLDatabase

    private func scope(_ caller: Caller, _ key: String) -> SQLQueryString {
        " WHERE project_id = \(bind: caller.projectID) AND livemode = \(bind: caller.mode) AND key = \(bind: key)"
    }

    public func find(_ key: String, caller: Caller) async throws -> IdempotencyRecord? {
        try await db.raw("SELECT request_hash, state, response_status, response_body, created FROM idempotency_keys" + scope(caller, key))
            .first().map(IdempotencyRecord.init)
    }

    /// Claims the key for a request (a unique violation when another claimed it first).
    public func claim(_ key: String, caller: Caller, requestHash: String, at now: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO idempotency_keys (project_id, livemode, key, request_hash, state, created)
            VALUES (\(bind: caller.projectID), \(bind: caller.mode), \(bind: key), \(bind: requestHash), 'in_flight', \(bind: now.milliseconds))
            """).run()
    }

    /// Stores the response the key replays.
    public func finish(_ key: String, caller: Caller, status: Int64, body: String) async throws {
        try await db.raw("UPDATE idempotency_keys SET state = 'done', response_status = \(bind: status), response_body = \(bind: body)" + scope(caller, key)).run()
    }

    /// Forgets the key (its request failed on our side, or its claim expired).
    public func release(_ key: String, caller: Caller) async throws {
        try await db.raw("DELETE FROM idempotency_keys" + scope(caller, key)).run()
    }
}

extension SQLDatabase {
    public var idempotencyKeys: IdempotencyKeys { IdempotencyKeys(db: self) }
}

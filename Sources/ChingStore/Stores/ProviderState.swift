import ChingDomain
import SQLKit

/// A payment process opened on the live provider's page for a hosted session.
public struct ProviderProcess: Sendable {
    /// Ours (`gpr_…`), in the notify URL.
    public let id: String
    public let caller: Caller
    /// `checkout` or `setup`.
    public let sessionKind: String
    public let sessionID: String
    /// The provider's process id and token (the token never leaves the server).
    public let processID: String
    public let processToken: String
    public let url: String
    public let amount: Int64
    public let installments: Int64
    public let recurring: Bool
    /// `open` until recorded (`paid`) or given up (`closed`).
    public let status: String
    public let created: Timestamp

    public init(id: String, caller: Caller, sessionKind: String, sessionID: String, processID: String, processToken: String, url: String,
                amount: Int64, installments: Int64, recurring: Bool, created: Timestamp) {
        self.id = id; self.caller = caller; self.sessionKind = sessionKind; self.sessionID = sessionID; self.processID = processID
        self.processToken = processToken; self.url = url; self.amount = amount; self.installments = installments; self.recurring = recurring
        self.status = "open"; self.created = created
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        caller = try row.caller()
        sessionKind = try row.string("session_kind")
        sessionID = try row.string("session_id")
        processID = try row.string("process_id")
        processToken = try row.string("process_token")
        url = try row.string("url")
        amount = try row.int("amount")
        installments = try row.int("installments")
        recurring = try row.bool("recurring")
        status = try row.string("status")
        created = try row.timestamp("created")
    }
}

/// What the live provider needs kept: its settings per project, the numeric identifiers of
/// token charges, the processes opened on its page, and the charges whose outcome is unknown.
public struct ProviderStateStore: Sendable {
    let db: any SQLDatabase

    // MARK: Settings

    public func settings(of projectID: String) async throws -> (provider: String?, sealed: String?) {
        guard let row = try await db.raw("SELECT live_provider, provider_settings FROM projects WHERE id = \(bind: projectID)").first() else {
            return (nil, nil)
        }
        return (try row.optionalString("live_provider"), try row.optionalString("provider_settings"))
    }

    /// Sets the project's live provider and its (sealed) settings; false when there is no such project.
    public func configure(_ projectID: String, provider: String, sealed: String) async throws -> Bool {
        try await db.raw("""
            UPDATE projects SET live_provider = \(bind: provider), provider_settings = \(bind: sealed) WHERE id = \(bind: projectID) RETURNING id
            """).first() != nil
    }

    // MARK: Identifiers

    /// The number standing for `key` in this project: the same number every time it is asked.
    public func identifier(for key: String, projectID: String, at now: Timestamp) async throws -> Int64 {
        try await db.raw("""
            INSERT INTO provider_keys (project_id, key, created) VALUES (\(bind: projectID), \(bind: key), \(bind: now.milliseconds))
            ON CONFLICT (project_id, key) DO NOTHING
            """).run()
        return try await db.raw("SELECT seq FROM provider_keys WHERE project_id = \(bind: projectID) AND key = \(bind: key)").first()!.int("seq")
    }

    // MARK: Processes

    public func insert(_ process: ProviderProcess) async throws {
        try await db.raw("""
            INSERT INTO provider_processes (id, project_id, livemode, session_kind, session_id, process_id, process_token, url, amount,
              installments, recurring, status, created)
            VALUES (\(bind: process.id), \(bind: process.caller.projectID), \(bind: process.caller.mode), \(bind: process.sessionKind),
              \(bind: process.sessionID), \(bind: process.processID), \(bind: process.processToken), \(bind: process.url), \(bind: process.amount),
              \(bind: process.installments), \(bind: process.recurring.stored), 'open', \(bind: process.created.milliseconds))
            """).run()
    }

    public func process(_ id: String) async throws -> ProviderProcess? {
        try await db.raw("SELECT * FROM provider_processes WHERE id = \(bind: id)").first().map(ProviderProcess.init)
    }

    /// The session's processes, newest first.
    public func processes(ofSession sessionID: String) async throws -> [ProviderProcess] {
        try await db.raw("SELECT * FROM provider_processes WHERE session_id = \(bind: sessionID) ORDER BY seq DESC").all().map(ProviderProcess.init)
    }

    /// Open → `paid` (with the transaction) or `closed`; false when it was not open any more.
    public func close(_ id: String, as status: String, transaction: String?) async throws -> Bool {
        try await db.raw("""
            UPDATE provider_processes SET status = \(bind: status), transaction_reference = \(bind: transaction)
            WHERE id = \(bind: id) AND status = 'open' RETURNING id
            """).first() != nil
    }

    /// Open processes not asked about since `before`, oldest first (only `projectID`'s when given); each is marked asked at `now`.
    public func dueForCheck(before: Timestamp, now: Timestamp, limit: Int, projectID: String?) async throws -> [ProviderProcess] {
        let rows = try await db.raw("""
            UPDATE provider_processes SET checked_at = \(bind: now.milliseconds)
            WHERE seq IN (SELECT seq FROM provider_processes WHERE status = 'open' AND COALESCE(checked_at, created) < \(bind: before.milliseconds)
            """ + projectScope(projectID) + " ORDER BY seq LIMIT \(bind: limit)) RETURNING *").all()
        return try rows.map(ProviderProcess.init)
    }

    // MARK: Pending charges

    public func setKey(_ key: String, ofCharge chargeID: String) async throws {
        try await db.raw("UPDATE charges SET provider_key = \(bind: key) WHERE id = \(bind: chargeID)").run()
    }

    /// Charges still `pending` that were created before `before` (only `projectID`'s when given), with their keys.
    public func pendingCharges(before: Timestamp, limit: Int, projectID: String?) async throws -> [(charge: Charge, key: String)] {
        try await db.raw("""
            SELECT * FROM charges WHERE status = 'pending' AND provider_key IS NOT NULL AND created < \(bind: before.milliseconds)
            """ + projectScope(projectID) + " ORDER BY seq LIMIT \(bind: limit)").all().map { (try Charge($0), try $0.string("provider_key")) }
    }

    /// The charge written under Grow number `key` (an earlier try of the same request), whatever became of it.
    public func charge(withKey key: String, projectID: String) async throws -> Charge? {
        try await db.raw("SELECT * FROM charges WHERE provider_key = \(bind: key) AND project_id = \(bind: projectID)").first().map(Charge.init)
    }

    /// Removes a pending charge so that its outcome can be recorded in its place; false when
    /// another server recorded it first (only one outcome is ever recorded).
    public func takePending(_ chargeID: String) async throws -> Bool {
        try await db.raw("DELETE FROM charges WHERE id = \(bind: chargeID) AND status = 'pending' RETURNING id").first() != nil
    }
}

extension SQLDatabase {
    public var providerState: ProviderStateStore { ProviderStateStore(db: self) }
}

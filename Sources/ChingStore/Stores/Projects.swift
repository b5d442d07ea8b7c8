import ChingDomain
import SQLKit

/// A project (a merchant): its name and the issuer details its documents print, its payment settings, and its owner.
public struct Project: Sendable {
    public let id: String
    public let name: String
    public let legalName: String?
    public let vatNumber: String?
    public let address: String?
    public let maxInstallments: Int64
    public let requireIsraeliID: Bool
    /// The branding folder used when none is named by the project's id.
    public let branding: String?
    /// The live card provider, once configured (live keys answer `LIVE_KEY_INACTIVE` until then).
    public let liveProvider: String?
    public let ownerEmail: String?
    public let ownerFirstName: String?
    public let ownerLastName: String?
    public let created: Timestamp

    public init(id: String, name: String, legalName: String?, vatNumber: String?, address: String?, maxInstallments: Int64, branding: String?,
                ownerEmail: String?, ownerFirstName: String?, ownerLastName: String?, created: Timestamp) {
        self.id = id; self.name = name; self.legalName = legalName; self.vatNumber = vatNumber; self.address = address
        self.maxInstallments = maxInstallments; self.requireIsraeliID = false; self.branding = branding; self.liveProvider = nil
        self.ownerEmail = ownerEmail; self.ownerFirstName = ownerFirstName; self.ownerLastName = ownerLastName; self.created = created
    }

    init(_ row: any SQLRow) throws {
        id = try row.string("id")
        name = try row.string("name")
        legalName = try row.optionalString("legal_name")
        vatNumber = try row.optionalString("vat_number")
        address = try row.optionalString("address")
        maxInstallments = try row.int("max_installments")
        requireIsraeliID = try row.bool("require_israeli_id")
        branding = try row.optionalString("branding")
        liveProvider = try row.optionalString("live_provider")
        ownerEmail = try row.optionalString("owner_email")
        ownerFirstName = try row.optionalString("owner_first_name")
        ownerLastName = try row.optionalString("owner_last_name")
        created = try row.timestamp("created")
    }
}

/// An API key as stored: only its SHA-256, and what a listing may show of it.
public struct APIKey: Sendable {
    public let id: String?
    public let projectID: String
    public let livemode: Bool
    public let name: String?
    /// Its mode prefix and last four digits.
    public let preview: String?
    public let active: Bool
    public let lastUsed: Timestamp?
    public let created: Timestamp

    init(_ row: any SQLRow) throws {
        id = try row.optionalString("id")
        projectID = try row.string("project_id")
        livemode = try row.bool("livemode")
        name = try row.optionalString("name")
        preview = try row.optionalString("preview")
        active = try row.bool("active")
        lastUsed = try row.optionalTimestamp("last_used")
        created = try row.timestamp("created")
    }
}

/// The `projects` and `api_keys` tables.
public struct ProjectStore: Sendable {
    let db: any SQLDatabase

    public func find(_ id: String) async throws -> Project? {
        try await db.raw("SELECT * FROM projects WHERE id = \(bind: id)").first().map(Project.init)
    }

    public func insert(_ project: Project) async throws {
        try await db.raw("""
            INSERT INTO projects (id, name, legal_name, vat_number, address, max_installments, branding, owner_email,
              owner_first_name, owner_last_name, created)
            VALUES (\(bind: project.id), \(bind: project.name), \(bind: project.legalName), \(bind: project.vatNumber), \(bind: project.address),
              \(bind: project.maxInstallments), \(bind: project.branding), \(bind: project.ownerEmail), \(bind: project.ownerFirstName),
              \(bind: project.ownerLastName), \(bind: project.created.milliseconds))
            """).run()
    }

    public func setLiveProvider(_ name: String, of projectID: String) async throws {
        try await db.raw("UPDATE projects SET live_provider = \(bind: name) WHERE id = \(bind: projectID)").run()
    }

    public func count() async throws -> Int64 {
        try await db.raw("SELECT COUNT(*) AS n FROM projects").first()?.int("n") ?? 0
    }

    // MARK: API keys

    /// An active key by its hash, with its project's live provider (one read: every API request makes it).
    public func activeKey(hash: String) async throws -> (key: APIKey, liveProvider: String?)? {
        guard let row = try await db.raw("""
            SELECT k.*, p.live_provider FROM api_keys k JOIN projects p ON p.id = k.project_id WHERE k.key_hash = \(bind: hash) AND k.active = 1
            """).first() else { return nil }
        return (try APIKey(row), try row.optionalString("live_provider"))
    }

    public func insertKey(hash: String, id: String, projectID: String, livemode: Bool, name: String, preview: String, created: Timestamp) async throws {
        try await db.raw("""
            INSERT INTO api_keys (key_hash, id, project_id, livemode, name, preview, active, created)
            VALUES (\(bind: hash), \(bind: id), \(bind: projectID), \(bind: livemode.stored), \(bind: name), \(bind: preview), 1, \(bind: created.milliseconds))
            """).run()
    }

    /// Notes the key's use at `now`, unless it was noted less than a minute before.
    public func noteKeyUse(hash: String, at now: Timestamp) async throws {
        try await db.raw("""
            UPDATE api_keys SET last_used = \(bind: now.milliseconds)
            WHERE key_hash = \(bind: hash) AND (last_used IS NULL OR last_used < \(bind: now.milliseconds - 60_000))
            """).run()
    }

    /// The project's keys, both modes, oldest first (test before live).
    public func keys(of projectID: String) async throws -> [APIKey] {
        try await db.raw("SELECT * FROM api_keys WHERE project_id = \(bind: projectID) ORDER BY created, livemode, id").all().map(APIKey.init)
    }
}

extension SQLDatabase {
    public var projects: ProjectStore { ProjectStore(db: self) }
}

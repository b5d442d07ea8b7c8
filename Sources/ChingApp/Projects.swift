import ChingDomain
import ChingStore
import SQLKit

/// Operator actions on projects (the command line's, and tests'): there is no public endpoint for them.
public enum Projects {
    public struct Created: Sendable {
        public let projectID: String
        public let testKey: String
    }

    /// Creates a project with its test key and its document counters.
    /// - Parameter branding: the folder under the branding root to use when none is named by the project's id.
    public static func create(name: String, legalName: String? = nil, vatNumber: String? = nil, address: String? = nil,
                              maxInstallments: Int64 = 12, branding: String? = nil, database: Database, ids: IDGenerator, clock: AppClock) async throws -> Created {
        let projectID = ids.make(.project)
        let testKey = "ck_test_" + ids.hex(byteCount: 32)
        let now = clock.now().milliseconds
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO projects (id, name, legal_name, vat_number, address, max_installments, branding, created)
                VALUES (\(bind: projectID), \(bind: name), \(bind: legalName), \(bind: vatNumber), \(bind: address), \(bind: maxInstallments),
                  \(bind: branding), \(bind: now))
                """).run()
            try await db.raw("INSERT INTO api_keys (key_hash, project_id, livemode, created) VALUES (\(bind: APIKeys.hash(testKey)), \(bind: projectID), 0, \(bind: now))").run()
            for mode: Int64 in [0, 1] {
                try await db.raw("INSERT INTO document_counters (project_id, livemode, last_number) VALUES (\(bind: projectID), \(bind: mode), 0)").run()
            }
        }
        return Created(projectID: projectID, testKey: testKey)
    }

    /// Adds a live key. It answers `LIVE_KEY_INACTIVE` until `configureLiveProvider` is called.
    public static func createLiveKey(projectID: String, database: Database, ids: IDGenerator, clock: AppClock) async throws -> String {
        let key = "ck_live_" + ids.hex(byteCount: 32)
        try await database.transaction { db in
            try await db.raw("""
                INSERT INTO api_keys (key_hash, project_id, livemode, created) VALUES (\(bind: APIKeys.hash(key)), \(bind: projectID), 1, \(bind: clock.now().milliseconds))
                """).run()
        }
        return key
    }

    /// Marks the project's live provider as configured. Only the sandbox exists so far, which
    /// tests use to exercise live-mode isolation.
    public static func configureLiveProvider(_ name: String, projectID: String, database: Database) async throws {
        try await database.transaction { db in
            try await db.raw("UPDATE projects SET live_provider = \(bind: name) WHERE id = \(bind: projectID)").run()
        }
    }

    /// Every problem in every folder under the branding root (`ching branding check`).
    public static func brandingProblems(root: String) -> [String] { BrandingStore.check(root: root).map(\.description) }

    /// Whether any of `problems` is an error (warnings were fixed on the fly).
    public static func brandingHasErrors(root: String) -> Bool { BrandingStore.check(root: root).contains { !$0.isWarning } }

    public static func count(database: Database) async throws -> Int {
        try await database.read { db in
            try await db.raw("SELECT COUNT(*) AS n FROM projects").first()?.int("n")
        }.map(Int.init) ?? 0
    }
}

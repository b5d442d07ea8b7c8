import ChingAPI
import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import ChingWeb
import SQLKit

/// Operator actions on projects (the command line's, and tests'): there is no public endpoint for them.
public enum Projects {
    public struct Created: Sendable {
        public let projectID: String
        public let testKey: String
    }

    /// The person `GET /auth/me` names for the project's keys (each part optional).
    public struct Owner: Sendable {
        public var email: String?
        public var firstName: String?
        public var lastName: String?
        public init(email: String? = nil, firstName: String? = nil, lastName: String? = nil) {
            self.email = email; self.firstName = firstName; self.lastName = lastName
        }
    }

    /// Creates a project with its test key and its document counters.
    /// - Parameter branding: the folder under the branding root to use when none is named by the project's id.
    public static func create(name: String, legalName: String? = nil, vatNumber: String? = nil, address: String? = nil,
                              maxInstallments: Int64 = 12, branding: String? = nil, owner: Owner = Owner(),
                              database: Database, ids: IDGenerator, clock: AppClock) async throws -> Created {
        let projectID = ids.make(.project)
        let now = clock.now().milliseconds
        let testKey = try await database.transaction { db in
            try await db.raw("""
                INSERT INTO projects (id, name, legal_name, vat_number, address, max_installments, branding, owner_email,
                  owner_first_name, owner_last_name, created)
                VALUES (\(bind: projectID), \(bind: name), \(bind: legalName), \(bind: vatNumber), \(bind: address), \(bind: maxInstallments),
                  \(bind: branding), \(bind: owner.email), \(bind: owner.firstName), \(bind: owner.lastName), \(bind: now))
                """).run()
            for mode: Int64 in [0, 1] {
                try await db.raw("INSERT INTO document_counters (project_id, livemode, last_number) VALUES (\(bind: projectID), \(bind: mode), 0)").run()
            }
            return try await APIKeys.insert(projectID: projectID, livemode: false, name: "Test key", on: db, ids: ids, now: now)
        }
        return Created(projectID: projectID, testKey: testKey)
    }

    /// Adds a live key. It answers `LIVE_KEY_INACTIVE` until `configureLiveProvider` is called.
    public static func createLiveKey(projectID: String, name: String = "Live key", database: Database, ids: IDGenerator, clock: AppClock) async throws -> String {
        try await database.transaction { db in
            try await APIKeys.insert(projectID: projectID, livemode: true, name: name, on: db, ids: ids, now: clock.now().milliseconds)
        }
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

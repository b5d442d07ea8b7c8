import ChingAPI
import ChingDomain
import ChingHTTP
import ChingServices
import ChingStore
import ChingWeb

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
        let now = clock.now()
        let testKey = try await database.transaction { db in
            try await db.projects.insert(Project(id: projectID, name: name, legalName: legalName, vatNumber: vatNumber, address: address,
                                                 maxInstallments: maxInstallments, branding: branding, ownerEmail: owner.email,
                                                 ownerFirstName: owner.firstName, ownerLastName: owner.lastName, created: now))
            try await db.documents.createCounters(projectID: projectID)
            return try await APIKeys.insert(projectID: projectID, livemode: false, name: "Test key", on: db, ids: ids, now: now)
        }
        return Created(projectID: projectID, testKey: testKey)
    }

    /// Adds a live key. It answers `LIVE_KEY_INACTIVE` until `configureLiveProvider` is called.
    public static func createLiveKey(projectID: String, name: String = "Live key", database: Database, ids: IDGenerator, clock: AppClock) async throws -> String {
        try await database.transaction { db in
            try await APIKeys.insert(projectID: projectID, livemode: true, name: name, on: db, ids: ids, now: clock.now())
        }
    }

    /// Marks the project's live provider as configured. Only the sandbox exists so far, which
    /// tests use to exercise live-mode isolation.
    public static func configureLiveProvider(_ name: String, projectID: String, database: Database) async throws {
        try await database.transaction { db in
            try await db.projects.setLiveProvider(name, of: projectID)
        }
    }

    /// Every problem in every folder under the branding root (`ching branding check`).
    public static func brandingProblems(root: String) -> [String] { BrandingStore.check(root: root).map(\.description) }

    /// Whether any of `problems` is an error (warnings were fixed on the fly).
    public static func brandingHasErrors(root: String) -> Bool { BrandingStore.check(root: root).contains { !$0.isWarning } }

    public static func count(database: Database) async throws -> Int {
        Int(try await database.read { db in try await db.projects.count() })
    }
}

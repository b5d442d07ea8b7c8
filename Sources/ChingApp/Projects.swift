import ChingAPI
import ChingDomain
import ChingHTTP
import ChingProviders
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

    /// Sets the project's live provider to Grow with these settings, sealed with `secretKey` when
    /// there is one. Throws when there is no such project.
    public static func configureGrow(projectID: String, account: GrowAccount, secretKey: String?, database: Database) async throws {
        let sealed = try ProviderSettings.seal(account, secretKey: secretKey)
        let found = try await database.transaction { db in try await db.providerState.configure(projectID, provider: "grow", sealed: sealed) }
        guard found else { throw ConfigurationError("No such project: \(projectID)") }
    }

    /// The project's live provider, masked (`ching project provider show`): never a whole identifier.
    public static func providerDescription(projectID: String, secretKey: String?, database: Database) async throws -> String {
        let (provider, sealed) = try await database.read { db in try await db.providerState.settings(of: projectID) }
        guard let provider else { return "live provider: none (live keys answer LIVE_KEY_INACTIVE)" }
        guard provider == "grow", let sealed else { return "live provider: \(provider)" }
        let storage = sealed.hasPrefix("sealed1:") ? "sealed with CHING_SECRET_KEY" : "not sealed (set CHING_SECRET_KEY and configure again)"
        let account: GrowAccount
        do {
            account = try ProviderSettings.open(sealed, secretKey: secretKey)
        } catch {
            return "live provider: grow\nsettings:  \(storage)\nerror:     \(error)"
        }
        let masked = ProviderSettings.masked
        return """
            live provider:       grow
            base URL:            \(account.baseURL)
            user id:             \(masked(account.userID))
            page code:           \(masked(account.pageCode))
            recurring page code: \(account.recurringPageCode.map(masked) ?? "none")
            api key:             \(account.apiKey.map(masked) ?? "none")
            settings:            \(storage)
            """
    }

    /// Issues another API key for the project (shown once). A live key answers `LIVE_KEY_INACTIVE` until a live provider is configured.
    public static func createKey(projectID: String, live: Bool, name: String?, database: Database, ids: IDGenerator, clock: AppClock) async throws -> String {
        try await database.transaction { db in
            guard try await db.projects.find(projectID) != nil else { throw ConfigurationError("No such project: \(projectID)") }
            return try await APIKeys.insert(projectID: projectID, livemode: live, name: name ?? (live ? "Live key" : "Test key"), on: db, ids: ids,
                                            now: clock.now())
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

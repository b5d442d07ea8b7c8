import ChingDomain
import ChingPDF
import ChingProviders
import ChingStore
import Crypto
import Foundation
import Logging
import Synchronization

/// What a project's brand decides beyond its look: the name customers see and its payment rules.
/// The web layer reads brand folders and hands them in as this (see `AppServices.branding`).
public protocol ProjectBrand: Sendable {
    var displayName: String? { get }
    var maxInstallments: Int64? { get }
    var requiresIsraeliID: Bool? { get }
}

/// The strings of the locale files (`Templates/locales/*.json`, read by the web layer), for what
/// the services put in words themselves: the customers' emails.
public protocol TextSource: Sendable {
    /// The string for `key` in `locale`, with its `{name}` placeholders filled in.
    func text(_ key: String, _ locale: Language, _ values: [String: String]) -> String
    /// "24 December 2026" / "24 בדצמבר 2026".
    func date(_ time: Timestamp, _ locale: Language) -> String
}

/// Where a project's brand is found (the branding folders, in the web layer).
public protocol BrandSource: Sendable {
    func projectBrand(projectID: String, folderName: String?) -> (any ProjectBrand)?
}

/// The long-lived things every operation needs, created once by `buildApplication`.
public struct AppServices: Sendable {
    public let database: Database
    /// The time operations run at: the server's clock, or a test clock's frozen time (see `at(_:)`).
    public private(set) var clock: AppClock
    /// The server's own clock, for what happens in real time whatever the test clock says (webhook delivery).
    package let wallClock: AppClock
    public let ids: IDGenerator
    /// The test-mode provider (and, until a live one exists, what a project configured with
    /// `live_provider = 'sandbox'` uses in live mode; only tests do that).
    public let sandbox: any CardFormProvider
    /// Where the hosted pages and PDFs are reached from outside (`http://127.0.0.1:8080`).
    public let publicURL: String
    /// This process among the servers sharing the database (see `ServerInstance`).
    public let instanceID: String
    package let documentFont: DocumentFont
    package let logger: Logger
    /// The projects' brands (nil where no pages are served, as in a one-off sweep).
    package var branding: (any BrandSource)? = nil
    /// The locale files' strings (nil only when the templates could not be read: emails then carry their keys).
    package var texts: (any TextSource)? = nil
    /// Makes a project's Grow provider from its settings (nil: live mode with Grow is not available in this process).
    package var grow: (@Sendable (GrowAccount) -> any HostedPageProvider)? = nil
    /// `CHING_SECRET_KEY`: what the projects' provider settings are sealed with.
    package var secretKey: String? = nil

    /// A locale file's string (its key when the files are missing).
    package func text(_ key: String, _ locale: Language, _ values: [String: String] = [:]) -> String {
        texts?.text(key, locale, values) ?? key
    }

    /// A date in words in `locale` (ISO 8601 when the files are missing).
    package func date(_ time: Timestamp, _ locale: Language) -> String { texts?.date(time, locale) ?? time.iso8601 }

    package init(database: Database, clock: AppClock, ids: IDGenerator, sandbox: any CardFormProvider, publicURL: String,
                 instanceID: String, documentFont: DocumentFont, logger: Logger) {
        self.database = database; self.clock = clock; self.wallClock = clock; self.ids = ids; self.sandbox = sandbox; self.publicURL = publicURL
        self.instanceID = instanceID; self.documentFont = documentFont; self.logger = logger
    }

    /// The same services with time frozen at `time` (a test clock's customers live on it).
    package func at(_ time: Timestamp) -> AppServices {
        var frozen = self
        frozen.clock = AppClock { time }
        return frozen
    }

    /// The services a customer's operations run with: frozen at their test clock's time, if they have one.
    package func forCustomer(_ customerID: String, on db: Store) async throws -> AppServices {
        guard let clock = try await db.testClocks.clock(ofCustomer: customerID) else { return self }
        // Nothing moves a deleted clock's customers any more: nothing new may start for them.
        guard !clock.deleted else {
            throw ServiceError.rule("test_clock_deleted", "This customer lived on a test clock that was deleted.", kind: .conflict)
        }
        return at(clock.frozenTime)
    }

    /// The time of a customer's world: their test clock's, or the server's. What a page shows and
    /// a payment records for them is dated by it; leases and expiry stay on the server's clock.
    package func customerTime(_ customerID: String, on db: Store) async throws -> Timestamp {
        try await db.testClocks.clock(ofCustomer: customerID)?.frozenTime ?? clock.now()
    }

    /// The same for the customer of a subscription.
    package func forSubscription(_ id: String) async throws -> AppServices {
        try await database.read { db in
            guard let subscription = try await db.subscriptions.find(id) else { return self }
            return try await forCustomer(subscription.customerID, on: db)
        }
    }

    /// The project's payment settings, from its row (`max_installments`, `require_israeli_id`,
    /// `branding`) and its brand. Pass `brand` when the caller has looked it up already.
    package func paymentSettings(project: Project?, projectID: String, brand known: (any ProjectBrand)?? = nil) -> PaymentSettings {
        let brand = known ?? branding?.projectBrand(projectID: projectID, folderName: project?.branding)
        return PaymentSettings(brandMaxInstallments: brand?.maxInstallments, brandRequiresIsraeliID: brand?.requiresIsraeliID,
                               projectMaxInstallments: project?.maxInstallments ?? Installments.limit,
                               projectRequiresIsraeliID: project?.requireIsraeliID ?? false)
    }

    /// The same, reading the project's row.
    package func paymentSettings(projectID: String, on db: Store) async throws -> PaymentSettings {
        paymentSettings(project: try await db.projects.find(projectID), projectID: projectID)
    }

    /// The provider that takes cards on our own form: the sandbox (test mode, and live mode in tests
    /// that configure `live_provider = 'sandbox'`). Live mode with Grow never reaches it.
    package func cardForm(for caller: Caller) -> any CardFormProvider { sandbox }

    /// The live provider that takes cards on its own page, for a live caller whose project uses Grow; nil otherwise.
    package func hostedPageProvider(for caller: Caller) async throws -> (any HostedPageProvider)? {
        guard let settings = try await database.read({ db in try await growSettings(of: caller, on: db) }) else { return nil }
        switch settings {
        case .success(let account):
            guard let grow else { throw ServiceError.providerUnavailable }
            return grow(account)
        case .failure(let error):
            logger.error("Live payments are unavailable for a project", metadata: ["project": "\(caller.projectID)", "why": "\(error)"])
            throw ServiceError.providerUnavailable
        }
    }

    /// A live caller's Grow settings, opened (or why they cannot be); nil unless the caller is live and its project uses Grow.
    private func growSettings(of caller: Caller, on db: Store) async throws -> Result<GrowAccount, ProviderSettings.OpenError>? {
        guard caller.livemode else { return nil }
        let (provider, sealed) = try await db.providerState.settings(of: caller.projectID)
        guard provider == "grow", let sealed else { return nil }
        return Result { () throws(ProviderSettings.OpenError) in try ProviderSettings.open(sealed, secretKey: secretKey) }
    }

    /// For a live caller whose project takes cards on Grow's page: the origin of that page; nil otherwise.
    package func providerPage(_ caller: Caller, on db: Store) async throws -> String? {
        guard let settings = try await growSettings(of: caller, on: db) else { return nil }
        return (try? settings.get()).flatMap { WebAddress.origin(of: $0.baseURL) } ?? ""
    }

    /// The provider that handles a caller's money: Grow for a live project that uses it, the sandbox otherwise.
    package func provider(for caller: Caller) async throws -> any PaymentProvider {
        try await hostedPageProvider(for: caller) ?? sandbox
    }

    /// The project and mode of an API key (`forceTestMode`: a live key sent with `X-Livemode: false`).
    package func caller(forKey key: String, forceTestMode: Bool) async throws -> Caller {
        guard APIKeys.isWellFormed(key) else { throw ServiceError.noAccess }
        let hash = APIKeys.hash(key)
        guard let (key, liveProvider) = try await database.read({ db in try await db.projects.activeKey(hash: hash) }) else {
            throw ServiceError.noAccess
        }
        await noteUse(keyHash: hash, lastUsed: key.lastUsed)
        guard key.livemode, !forceTestMode else { return Caller(projectID: key.projectID, livemode: false) }
        guard liveProvider != nil else { throw ServiceError.liveKeyInactive }
        return Caller(projectID: key.projectID, livemode: true)
    }
}

extension AppServices {
    /// Keys show when they were last used, to the minute: one write per key per minute at most,
    /// and a failed write never fails the request it was noted for.
    private func noteUse(keyHash: String, lastUsed: Timestamp?) async {
        let now = clock.now()
        if let lastUsed, now.milliseconds - lastUsed.milliseconds < 60_000 { return }
        do {
            try await database.transaction { db in try await db.projects.noteKeyUse(hash: keyHash, at: now) }
        } catch {
            logger.warning("Could not note an API key's last use", metadata: ["error": "\(error)"])
        }
    }
}

/// Whether two secrets are equal, in time that does not depend on where they differ.
package func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}

/// Lowercase hex of the text's SHA-256: how a secret that must be recognised again (an API key,
/// a portal link's token) is kept.
package func sha256Hex(_ text: String) -> String { hexString(SHA256.hash(data: Array(text.utf8))) }

/// API keys: `ck_test_` or `ck_live_` and 64 lowercase hex digits. Only their SHA-256 is stored.
public enum APIKeys {
    public static func isWellFormed(_ key: String) -> Bool {
        let body: Substring
        if key.hasPrefix("ck_test_") { body = key.dropFirst(8) } else if key.hasPrefix("ck_live_") { body = key.dropFirst(8) } else { return false }
        return body.count == 64 && body.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    public static func hash(_ key: String) -> String { sha256Hex(key) }

    /// What a listing may show of a key: its mode prefix and last four digits.
    package static func preview(_ key: String) -> String { String(key.prefix(8)) + "…" + String(key.suffix(4)) }

    /// Makes a key for the project and stores its hash, id, name and preview; returns the key (shown once).
    package static func insert(projectID: String, livemode: Bool, name: String, on db: Store, ids: IDGenerator, now: Timestamp) async throws -> String {
        let key = (livemode ? "ck_live_" : "ck_test_") + ids.hex(byteCount: 32)
        try await db.projects.insertKey(hash: hash(key), id: ids.make(.apiKey), projectID: projectID, livemode: livemode, name: name,
                                        preview: preview(key), created: now)
        return key
    }
}

/// Short descriptions for the application's services: ServiceLifecycle describes every service at
/// start, and the reflected default would print all of `AppServices`, embedded font bytes and
/// all (measured: about 600 ms of start-up).
extension AppServices: CustomStringConvertible {
    public var description: String { "AppServices(\(database.kind.rawValue), \(publicURL))" }
}

/// The font of the tax-document PDFs, read at the first PDF rather than at start: it is 0.8 MB,
/// and a process that serves pages and API calls may never render a PDF.
package final class DocumentFont: Sendable {
    private let loaded = Mutex<TrueTypeFont?>(nil)

    package init() {}

    package func font() throws -> TrueTypeFont {
        try loaded.withLock { loaded in
            if let font = loaded { return font }
            guard let url = Bundle.module.url(forResource: "DejaVuSans", withExtension: "ttf", subdirectory: "Fonts")
                ?? Bundle.module.url(forResource: "DejaVuSans", withExtension: "ttf")
            else { throw MissingResource(name: "DejaVuSans.ttf") }
            let font = try TrueTypeFont(data: Array(try Data(contentsOf: url)))
            loaded = font
            return font
        }
    }
}

/// A file the build should have bundled is missing.
package struct MissingResource: Error, CustomStringConvertible {
    let name: String
    package var description: String { "\(name) is missing from the bundle." }
}

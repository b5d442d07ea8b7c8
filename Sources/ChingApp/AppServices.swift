import ChingDomain
import ChingProviders
import ChingStore
import ChingPDF
import Crypto
import HTTPTypes
import Hummingbird
import Logging
import SQLKit

/// The long-lived things every endpoint needs, created once by `buildApplication`.
public struct AppServices: Sendable {
    public let database: Database
    public let clock: AppClock
    public let ids: IDGenerator
    /// The test-mode provider (and, until a live one exists, what a project configured with
    /// `live_provider = 'sandbox'` uses in live mode; only tests do that).
    public let sandbox: any CardFormProvider
    /// Where the hosted pages and PDFs are reached from outside (`http://127.0.0.1:8080`).
    public let publicURL: String
    /// This process among the servers sharing the database (see `ServerInstance`).
    public let instanceID: String
    let documentFont: DocumentFont
    let logger: Logger
    /// The projects' branding folders (nil where no pages are served, as in a one-off sweep).
    var branding: BrandingStore? = nil
    var idempotency: Idempotency { Idempotency(database: database, clock: clock) }

    /// The project's brand, if its folder exists and has ever loaded cleanly.
    func brand(projectID: String, folderName: String?) -> BrandContext? {
        guard let (brand, library) = branding?.brand(projectID: projectID, folderName: folderName), let brand else { return nil }
        return BrandContext(projectID: projectID, brand: brand, library: library)
    }

    /// The project's payment settings, from its row (`max_installments`, `require_israeli_id`,
    /// `branding`) and its brand. Pass `brand` when the caller has looked it up already.
    func paymentSettings(project: (any SQLRow)?, projectID: String, brand known: BrandContext?? = nil) throws -> PaymentSettings {
        let brand = try known.map { $0?.brand } ?? self.brand(projectID: projectID, folderName: try project?.optionalString("branding"))?.brand
        return PaymentSettings(brandMaxInstallments: brand?.maxInstallments, brandRequiresIsraeliID: brand?.requireIsraeliID,
                               projectMaxInstallments: try project?.int("max_installments") ?? Installments.limit,
                               projectRequiresIsraeliID: try project?.bool("require_israeli_id") ?? false)
    }

    /// The same, reading the project's row.
    func paymentSettings(projectID: String, on db: any SQLDatabase) async throws -> PaymentSettings {
        let project = try await db.raw("SELECT max_installments, require_israeli_id, branding FROM projects WHERE id = \(bind: projectID)").first()
        return try paymentSettings(project: project, projectID: projectID)
    }

    /// The provider that handles a caller's money: the sandbox in test mode.
    /// (Every provider today takes the card on our form; a hosted-page provider comes with live mode.)
    func provider(for caller: Caller) -> any CardFormProvider { sandbox }

    /// Finds the project and mode of the request's API key.
    func authenticate(_ request: Request) async throws -> Caller {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer ") else {
            throw APIError.noAccess
        }
        let key = String(authorization.dropFirst("Bearer ".count)).trimmingWhitespace()
        guard APIKeys.isWellFormed(key) else { throw APIError.noAccess }
        let hash = APIKeys.hash(key)
        let row = try await database.read { db in
            try await db.raw("""
                SELECT k.project_id, k.livemode, k.last_used, p.live_provider FROM api_keys k JOIN projects p ON p.id = k.project_id
                WHERE k.key_hash = \(bind: hash) AND k.active = 1
                """).first()
        }
        guard let row else { throw APIError.noAccess }
        await noteUse(keyHash: hash, lastUsed: try row.optionalTimestamp("last_used"))
        let projectID = try row.decode(column: "project_id", as: String.self)
        guard try row.decode(column: "livemode", as: Int64.self) == 1 else {
            return Caller(projectID: projectID, livemode: false)
        }
        if request.headers[.livemode]?.lowercased() == "false" {
            return Caller(projectID: projectID, livemode: false)
        }
        guard try row.decode(column: "live_provider", as: String?.self) != nil else { throw APIError.liveKeyInactive }
        return Caller(projectID: projectID, livemode: true)
    }
}

extension AppServices {
    /// Keys show when they were last used, to the minute: one write per key per minute at most,
    /// and a failed write never fails the request it was noted for.
    private func noteUse(keyHash: String, lastUsed: Timestamp?) async {
        let now = clock.now()
        if let lastUsed, now.milliseconds - lastUsed.milliseconds < 60_000 { return }
        do {
            try await database.transaction { db in
                try await db.raw("""
                    UPDATE api_keys SET last_used = \(bind: now.milliseconds)
                    WHERE key_hash = \(bind: keyHash) AND (last_used IS NULL OR last_used < \(bind: now.milliseconds - 60_000))
                    """).run()
            }
        } catch {
            logger.warning("Could not note an API key's last use", metadata: ["error": "\(error)"])
        }
    }
}

/// API keys: `ck_test_` or `ck_live_` and 64 lowercase hex digits. Only their SHA-256 is stored.
public enum APIKeys {
    public static func isWellFormed(_ key: String) -> Bool {
        let body: Substring
        if key.hasPrefix("ck_test_") { body = key.dropFirst(8) } else if key.hasPrefix("ck_live_") { body = key.dropFirst(8) } else { return false }
        return body.count == 64 && body.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }

    public static func hash(_ key: String) -> String { hexString(SHA256.hash(data: Array(key.utf8))) }

    /// What a listing may show of a key: its mode prefix and last four digits.
    static func preview(_ key: String) -> String { String(key.prefix(8)) + "…" + String(key.suffix(4)) }

    /// Makes a key for the project and stores its hash, id, name and preview; returns the key (shown once).
    static func insert(projectID: String, livemode: Bool, name: String, on db: any SQLDatabase, ids: IDGenerator, now: Int64) async throws -> String {
        let key = (livemode ? "ck_live_" : "ck_test_") + ids.hex(byteCount: 32)
        try await db.raw("""
            INSERT INTO api_keys (key_hash, id, project_id, livemode, name, preview, active, created)
            VALUES (\(bind: hash(key)), \(bind: ids.make(.apiKey)), \(bind: projectID), \(bind: livemode.stored), \(bind: name),
              \(bind: preview(key)), 1, \(bind: now))
            """).run()
        return key
    }
}

/// Short descriptions for the application's services: ServiceLifecycle describes every service at
/// start, and the reflected default would print all of `AppServices`, embedded font bytes and
/// all (measured: about 600 ms of start-up).
extension AppServices: CustomStringConvertible {
    public var description: String { "AppServices(\(database.kind.rawValue), \(publicURL))" }
}
extension Sweeper: CustomStringConvertible {
    var description: String { "Sweeper" }
}
extension WebhookWorker: CustomStringConvertible {
    var description: String { "WebhookWorker" }
}

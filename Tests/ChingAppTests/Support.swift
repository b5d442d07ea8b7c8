import ChingApp
import ChingDomain
import ChingProviders
import ChingStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import SQLKit
import Testing

/// A clock the test moves by hand. Starts at 2026-04-19T09:15:22.000Z.
final class TestClock: Sendable {
    private let now = Mutex<Int64>(1_776_590_122_000)
    var clock: AppClock { AppClock { [self] in Timestamp(milliseconds: now.withLock { $0 }) } }
    func advance(seconds: Int64) { now.withLock { $0 += seconds * 1000 } }
    func set(_ time: Timestamp) { now.withLock { $0 = time.milliseconds } }
    var time: Timestamp { Timestamp(milliseconds: now.withLock { $0 }) }
}

/// Collects every log line (message and metadata) the application writes, at every level.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    var logger: Logger {
        var logger = Logger(label: "ching-test") { _ in Handler(capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })\(event.error.map { " \($0)" } ?? "")")
        }
    }
}

/// One application under test, with its own project. On SQLite every test gets its own database
/// file; with `CHING_TEST_DATABASE_URL` set, tests share that PostgreSQL database and are kept
/// apart by their projects.
struct TestApp {
    let databaseURL: String
    let clock = TestClock()
    let logs = LogCapture()
    var ids = IDGenerator.random
    /// The card provider; nil is the sandbox.
    var cardProvider: (any CardFormProvider)? = nil
    /// Email: the SMTP URL and the certificate file to trust (nil: email not configured).
    var smtp: (url: String, caFile: String?)? = nil
    /// This test's own branding root (empty unless the test writes folders into it).
    let brandingRoot = FileManager.default.temporaryDirectory.appendingPathComponent("ching-branding-\(UUID().uuidString)").path

    static var usesPostgres: Bool { ProcessInfo.processInfo.environment["CHING_TEST_DATABASE_URL"] != nil }

    init() {
        databaseURL = ProcessInfo.processInfo.environment["CHING_TEST_DATABASE_URL"]
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("ching-test-\(UUID().uuidString).sqlite").path
    }

    var configuration: AppConfiguration {
        var configuration = AppConfiguration()
        configuration.databaseURL = databaseURL
        configuration.publicURL = "https://pay.example.test"
        configuration.clock = clock.clock
        configuration.logger = logs.logger
        configuration.resourcesDirectory = API.resources
        configuration.runSweeper = false
        configuration.runWebhookWorker = false
        configuration.brandingDirectory = brandingRoot
        configuration.cardProvider = cardProvider
        configuration.smtpURL = smtp?.url
        configuration.smtpCAFile = smtp?.caFile
        configuration.mailFrom = "billing@shop.example"
        configuration.runEmailWorker = false
        configuration.secretKey = "test-secret"
        configuration.ids = ids
        return configuration
    }

    /// Runs `body` against the application in process, with a fresh project and its test key.
    /// The SQLite file is removed afterwards unless `keepDatabase` (then call `removeDatabaseFiles()`).
    func run<T: Sendable>(keepDatabase: Bool = false, _ body: @Sendable (API) async throws -> T) async throws -> T {
        let project = try await createProject()
        let app = try await buildApplication(configuration)
        defer { if !keepDatabase { removeDatabaseFiles() } }
        return try await app.test(.router) { client in
            try await body(API(client: client, key: project.testKey, projectID: project.projectID, app: self))
        }
    }

    func createProject(name: String = "Test Shop", maxInstallments: Int64 = 12) async throws -> Projects.Created {
        let (ids, clock) = (ids, clock.clock)
        return try await Database.withMigrated(databaseURL, logger: Logger(label: "setup")) { database in
            try await Projects.create(name: name, legalName: "Test Shop Ltd.", vatNumber: "514000001", address: "1 Herzl St, Tel Aviv",
                                      maxInstallments: maxInstallments, database: database, ids: ids, clock: clock)
        }
    }

    /// Runs `work` on a separate connection to the same database (for setup and inspection).
    func withDatabase<T: Sendable>(_ work: @Sendable (Database) async throws -> T) async throws -> T {
        try await Database.withMigrated(databaseURL, logger: Logger(label: "inspect"), work)
    }

    /// The bytes of the SQLite database and its WAL, for searching (nil on PostgreSQL).
    func databaseFileBytes() -> Data? {
        guard !Self.usesPostgres else { return nil }
        var data = Data()
        for suffix in ["", "-wal"] {
            if let bytes = FileManager.default.contents(atPath: databaseURL + suffix) { data.append(bytes) }
        }
        return data
    }

    func removeDatabaseFiles() {
        guard !Self.usesPostgres else { return }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: databaseURL + suffix) }
    }
}

/// A JSON answer: status and parsed body.
struct APIResult: Sendable {
    let status: Int
    let json: JSONValue
    let headers: HTTPFields
    let text: String

    var data: JSONValue { json["data"] ?? .null }
    var id: String { data["id"]?.stringValue ?? "" }
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    var issuePaths: [String] { (json["error"]?["issues"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue } }
}

/// Sends API requests with one project's key.
struct API: Sendable {
    let client: any TestClientProtocol
    let key: String
    let projectID: String
    let app: TestApp

    func with(key: String) -> API { API(client: client, key: key, projectID: projectID, app: app) }

    @discardableResult
    func request(_ method: HTTPRequest.Method, _ path: String, _ body: String? = nil, headers extra: HTTPFields = [:],
                 contentType: String? = "application/json", prefix: String = "/v1") async throws -> APIResult {
        var headers: HTTPFields = [.authorization: "Bearer \(key)"]
        if body != nil, let contentType { headers[.contentType] = contentType }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(uri: prefix + path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        return APIResult(status: Int(response.status.code), json: (try? JSONValue.parse(text)) ?? .null, headers: response.headers, text: text)
    }

    @discardableResult
    func post(_ path: String, _ body: JSONValue = .object(JSONObject()), headers: HTTPFields = [:]) async throws -> APIResult {
        try await request(.post, path, body.serialized(), headers: headers)
    }

    @discardableResult
    func get(_ path: String) async throws -> APIResult { try await request(.get, path) }

    // MARK: - Fixtures

    func customer(_ name: String = "Tal Levi", email: String? = nil) async throws -> String {
        var body: JSONObject = ["name": .string(name)]
        if let email { body["email"] = .string(email) }
        let result = try await post("/customers", .object(body))
        #expect(result.status == 200, "\(result.text)")
        return result.id
    }

    func testCard(customer: String, index: Int64 = 0) async throws -> String {
        let result = try await post("/payment_methods/test-card", ["customer": .string(customer), "card_index": .int(index)])
        #expect(result.status == 200, "\(result.text)")
        return result.id
    }

    func charge(customer: String, paymentMethod: String, amount: Int64, extra: JSONObject = JSONObject()) async throws -> APIResult {
        var body: JSONObject = ["customer": .string(customer), "payment_method": .string(paymentMethod), "amount": .int(amount)]
        for (key, value) in extra.entries { body[key] = value }
        return try await post("/charges", .object(body))
    }

    /// A customer with a Visa 4242 and a succeeded charge of `amount`.
    func paidCharge(amount: Int64 = 9900) async throws -> (customer: String, paymentMethod: String, charge: APIResult) {
        let customer = try await customer()
        let paymentMethod = try await testCard(customer: customer)
        let charge = try await charge(customer: customer, paymentMethod: paymentMethod, amount: amount)
        #expect(charge.status == 200, "\(charge.text)")
        return (customer, paymentMethod, charge)
    }

    /// Event types written for this project, oldest first.
    func eventTypes() async throws -> [String] {
        let events = try await get("/events")
        return (events.data.arrayValue ?? []).compactMap { $0["type"]?.stringValue }.reversed()
    }
}


extension API {
    /// Saves a card through the provider interface (as a checkout would) and attaches it to the
    /// customer, for cards that `test-card` does not offer.
    func attachCard(number: String, cvc: String = "123", customer: String) async throws -> String {
        let card = CardInput(number: number, expMonth: 12, expYear: 2031, cvc: cvc, holderName: "Tal Levi")
        guard case .success(let saved) = await SandboxProvider().saveCard(card) else { throw TestFailure("the sandbox refused \(card)") }
        let id = "pm_" + String(saved.token.suffix(12))
        let projectID = projectID
        try await app.withDatabase { database in
            try await database.transaction { db in
                try await db.raw("""
                    INSERT INTO payment_methods (id, project_id, livemode, customer_id, status, provider, token, brand, last4, exp_month,
                      exp_year, issuer_country, supports_installments, supports_recurring, metadata, created)
                    VALUES (\(bind: id), \(bind: projectID), 0, \(bind: customer), 'active', 'sandbox', \(bind: saved.token),
                      \(bind: saved.brand.rawValue), \(bind: saved.last4), 12, 2031, \(bind: saved.issuerCountry),
                      \(bind: saved.supportsInstallments ? 1 : 0), 1, '{}', 0)
                    """).run()
            }
        }
        return id
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension IDGenerator {
    /// The same ids on every run for the same seed (SplitMix64 over a counter), so that whole pages
    /// can be compared byte for byte; different seeds keep tests on a shared database apart.
    static func seeded(_ seed: String) -> IDGenerator {
        let state = Mutex(seed.utf8.reduce(UInt64(0xcbf29ce484222325)) { ($0 ^ UInt64($1)) &* 0x100000001b3 })
        return IDGenerator { count in
            var bytes: [UInt8] = []
            while bytes.count < count {
                var z = state.withLock { state in state &+= 0x9E3779B97F4A7C15; return state }
                z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
                z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
                withUnsafeBytes(of: z ^ (z >> 31)) { bytes.append(contentsOf: $0) }
            }
            return Array(bytes.prefix(count))
        }
    }
}

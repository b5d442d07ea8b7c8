import AsyncHTTPClient
import ChingAPI
import ChingDomain
import ChingGrow
import ChingHTTP
import ChingMail
import ChingPDF
import ChingProviders
import ChingServices
import ChingStore
import ChingWeb
import Configuration
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Everything `buildApplication` needs. The server command fills it from flags, the environment
/// and defaults; tests fill it directly (a temporary database, a fixed clock, a captured logger).
public struct AppConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var databaseURL = "ching.sqlite"
    public var publicURL = "http://127.0.0.1:8080"
    public var clock = AppClock { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) }
    public var ids = IDGenerator.random
    public var logger = Logger(label: "ching")
    /// The folder holding `Templates/` and `Public/` (the repository root when run from a checkout).
    public var resourcesDirectory = "."
    /// The branding root: one folder per project (`<project id>/` or the folder the project names). Default `Branding`.
    public var brandingDirectory = "Branding"
    /// Whether the background sweeper runs (tests sweep by hand with `sweep(_:)`).
    public var runSweeper = true
    /// Card attempts allowed per client address in 10 minutes (0: no limit). Behind a proxy every
    /// customer shares the proxy's address, so raise or disable it there.
    public var attemptsPerAddress = 30
    /// Addresses of reverse proxies in front of the server: for requests from them, the client is
    /// the last address in `X-Forwarded-For` that is not itself one of them.
    public var trustedProxies: [String] = []
    /// Whether the webhook delivery worker runs (tests deliver by hand with `deliverWebhooks(_:)`).
    public var runWebhookWorker = true
    /// The test-mode card provider; nil is the sandbox of TEST_CARDS.md (tests put a scripted one here).
    public var cardProvider: (any CardFormProvider)? = nil
    /// The connection cap and the idle, header and body deadlines.
    public var connectionLimits = ConnectionLimits()
    /// Where customer emails go (`smtp://...`, `smtps://...`); nil: they wait in the outbox.
    public var smtpURL: String?
    /// The envelope and `From` address of customer emails (required with `smtpURL`).
    public var mailFrom: String?
    /// A PEM file of extra certificates to trust for the SMTP server.
    public var smtpCAFile: String?
    /// Whether the email sender runs when email is configured (tests send by hand with `sendEmails(_:)`).
    public var runEmailWorker = true
    /// The mail sender; nil is SMTP from `smtpURL` (tests may put another here).
    public var mailSender: (any MailSender)? = nil
    /// `CHING_SECRET_KEY`: seals the projects' Grow settings at rest (nil: they are stored as they are).
    public var secretKey: String?
    /// How long a call to Grow may take before its outcome counts as unknown (`CHING_GROW_TIMEOUT`, seconds).
    public var growTimeoutSeconds = 30

    public init() {}

    /// Reads `ching.host`, `ching.port`, `ching.database.url`, `ching.public.url`, the connection
    /// limits (`ching.max.connections`, `ching.idle.timeout`, `ching.header.timeout`,
    /// `ching.body.timeout`, in seconds) and the rest from `reader` (which layers command-line flags
    /// over `CHING_*` environment variables).
    public init(reader: ConfigReader) {
        let ching = reader.scoped(to: "ching")
        host = ching.string(forKey: "host", default: host)
        port = ching.int(forKey: "port", default: port)
        databaseURL = ching.string(forKey: "database.url", default: databaseURL)
        publicURL = ching.string(forKey: "public.url", default: "http://\(host):\(port)")
        while publicURL.hasSuffix("/") { publicURL.removeLast() }
        resourcesDirectory = ching.string(forKey: "resources", default: resourcesDirectory)
        brandingDirectory = ching.string(forKey: "branding", default: brandingDirectory)
        attemptsPerAddress = ching.int(forKey: "attempts.per.address", default: attemptsPerAddress)
        smtpURL = ching.string(forKey: "smtp.url").flatMap { $0.isEmpty ? nil : $0 }
        mailFrom = ching.string(forKey: "mail.from").flatMap { $0.isEmpty ? nil : $0 }
        smtpCAFile = ching.string(forKey: "smtp.ca.file").flatMap { $0.isEmpty ? nil : $0 }
        secretKey = ching.string(forKey: "secret.key").flatMap { $0.isEmpty ? nil : $0 }
        growTimeoutSeconds = max(1, ching.int(forKey: "grow.timeout", default: growTimeoutSeconds))
        trustedProxies = ching.string(forKey: "trusted.proxies", default: "").split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
        // In whole seconds, at least 1; the defaults are ConnectionLimits's own.
        let seconds = { (key: ConfigKey, standard: Duration) in Duration.seconds(max(1, ching.int(forKey: key, default: Int(standard.components.seconds)))) }
        connectionLimits = ConnectionLimits(
            maxConnections: max(1, ching.int(forKey: "max.connections", default: ConnectionLimits.defaultMaxConnections())),
            idleTimeout: seconds("idle.timeout", connectionLimits.idleTimeout),
            headerTimeout: seconds("header.timeout", connectionLimits.headerTimeout),
            bodyTimeout: seconds("body.timeout", connectionLimits.bodyTimeout))
    }
}

/// The composition root: opens and migrates the database, creates the services and the router
/// once. The `serve` command and every test call this.
public func buildApplication(_ configuration: AppConfiguration) async throws -> some ApplicationProtocol {
    let database = try await Database.open(configuration.databaseURL, logger: configuration.logger)
    var services: AppServices, web: WebRoutes
    do {
        services = makeServices(configuration, database: database)
        web = try await WebRoutes.load(templatesDirectory: "\(configuration.resourcesDirectory)/Templates",
                                       brandingDirectory: configuration.brandingDirectory, publicURL: configuration.publicURL,
                                       logger: configuration.logger)
        services.branding = web.brands
        services.texts = web.texts
    } catch {
        await database.close()
        throw error
    }
    let limiter = AttemptLimiter(limit: configuration.attemptsPerAddress, trustedProxies: configuration.trustedProxies)
    let mail: (sender: any MailSender, from: String)?
    do {
        mail = try mailSettings(configuration)
    } catch {
        await database.close()
        throw error
    }

    let router = Router(context: AppRequestContext.self)
    router.add(middleware: ErrorEnvelopeMiddleware())
    router.add(middleware: FileMiddleware("\(configuration.resourcesDirectory)/Public", urlBasePath: "/assets",
                                          cacheControl: .init([(.textCss, [.maxAge(3600)])]), logger: configuration.logger))
    APIRoutes.add(to: router, services: services, limiter: limiter)
    web.add(to: router, services: services, limiter: limiter)

    var app = Application(
        router: router,
        server: .guardedHTTP1(limits: configuration.connectionLimits, logger: configuration.logger),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ching"),
        logger: configuration.logger)
    if let service = database.service { app.addServices(service) }
    app.addServices(DatabaseCloser(database: database))
    if configuration.runSweeper { app.addServices(Sweeper(services: services)) }
    if configuration.runWebhookWorker {
        let client = WebhookWorker.makeClient()
        app.addServices(WebhookWorker(services: services, client: client), HTTPClientCloser(client: client))
    }
    if let mail, configuration.runEmailWorker {
        app.addServices(EmailWorker(services: services, sender: mail.sender, from: mail.from, renderer: web.emails))
    } else if mail == nil {
        configuration.logger.notice("Email is not configured (CHING_SMTP_URL): customer emails wait in the outbox until it is")
    }
    let instance = ServerInstance(services: services)
    app.addServices(instance)
    // Runs once the services (PostgreSQL's pool) are up, before the server accepts requests.
    app.beforeServerStarts {
        try await Migrations.run(on: database)
        try await instance.register()
    }
    return app
}

func makeServices(_ configuration: AppConfiguration, database: Database) -> AppServices {
    var services = AppServices(database: database, clock: configuration.clock, ids: configuration.ids,
                               sandbox: configuration.cardProvider ?? SandboxProvider(ids: configuration.ids),
                               publicURL: configuration.publicURL, instanceID: "srv_" + configuration.ids.hex(byteCount: 8), documentFont: DocumentFont(),
                               logger: configuration.logger)
    services.secretKey = configuration.secretKey
    let (timeout, logger) = (TimeAmount.seconds(Int64(configuration.growTimeoutSeconds)), configuration.logger)
    services.grow = { account in GrowProvider(account: account, http: HTTPClient.shared, timeout: timeout, logger: logger) }
    return services
}

/// One round of the background clean-up (expired sessions, stale authorizations, subscriptions that end at their period end), for tests
/// (scoped to their project) and for running by hand.
package func sweep(_ configuration: AppConfiguration, projectID: String? = nil) async throws -> Sweeper.Report {
    try await Database.withMigrated(configuration.databaseURL, logger: configuration.logger) { database in
        // A sweep's renewals write emails, in the locale files' words.
        var services = makeServices(configuration, database: database)
        services.texts = WebRoutes.texts(templatesDirectory: "\(configuration.resourcesDirectory)/Templates")
        return try await Sweeper(services: services, projectID: projectID).sweep()
    }
}

/// The mail sender and the From address, when email is configured; a broken setting stops the start.
func mailSettings(_ configuration: AppConfiguration) throws -> (sender: any MailSender, from: String)? {
    guard configuration.smtpURL != nil || configuration.mailSender != nil else { return nil }
    guard let from = configuration.mailFrom, Contact.isEmail(from) else {
        throw ConfigurationError("CHING_MAIL_FROM must be an email address when CHING_SMTP_URL is set.")
    }
    if let sender = configuration.mailSender { return (sender, from) }
    let smtp = try SMTPConfiguration(url: configuration.smtpURL!, extraTrustRootsFile: configuration.smtpCAFile)
    configuration.logger.info("Customer emails go to \(smtp.redacted)")
    return (SMTPSender(configuration: smtp, helloName: EmailWorker.host(of: configuration.publicURL)), from)
}

/// One round of the email sender (for tests, scoped to a project on a shared database); how many were tried.
public func sendEmails(_ configuration: AppConfiguration, projectID: String? = nil) async throws -> Int {
    guard let mail = try mailSettings(configuration) else { return 0 }
    return try await Database.withMigrated(configuration.databaseURL, logger: configuration.logger) { database in
        let web = try await WebRoutes.load(templatesDirectory: "\(configuration.resourcesDirectory)/Templates",
                                           brandingDirectory: configuration.brandingDirectory, publicURL: configuration.publicURL,
                                           logger: configuration.logger)
        var services = makeServices(configuration, database: database)
        services.branding = web.brands
        return try await EmailWorker(services: services, sender: mail.sender, from: mail.from, renderer: web.emails, projectID: projectID).sendDue()
    }
}

/// One round of webhook delivery (for tests, scoped to a project on a shared database), with its
/// own database connection and HTTP client. `stopAfterClaim` leaves the claimed rows leased and
/// unsent, as a worker that died between claim and send would.
public func deliverWebhooks(_ configuration: AppConfiguration, projectID: String? = nil, stopAfterClaim: Bool = false) async throws -> Int {
    try await Database.withMigrated(configuration.databaseURL, logger: configuration.logger) { database in
        let client = WebhookWorker.makeClient()
        do {
            let worker = WebhookWorker(services: makeServices(configuration, database: database), client: client, projectID: projectID)
            let count = try await worker.deliverDue(stopAfterClaim: stopAfterClaim)
            try await client.shutdown()
            return count
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

/// Closes the SQLite connections when the application shuts down.
private struct DatabaseCloser: Service {
    let database: Database
    func run() async throws {
        try? await gracefulShutdown()
        await database.close()
    }
}

import ArgumentParser
import Foundation
import ChingApp
import ChingDomain
import ChingProviders
import ChingStore
import ChingWeb
import Configuration
import Hummingbird
import Logging

/// The operator's command line: run the server, create projects, migrate.
@main
struct Ching: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ching",
        abstract: "Ching Checkout: a self-hostable, CHING-compatible payments service.",
        subcommands: [Serve.self, ProjectCommand.self, Migrate.self, BrandingCommand.self])
}

/// Flags shared by the commands that open the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "SQLite file path, or a postgres://user:pass@host:port/db URL. Env: CHING_DATABASE_URL. Default: ./ching.sqlite")
    var database: String?
}

extension ConfigReader {
    /// Command-line values over `CHING_*` environment variables over the built-in defaults.
    static func layered(_ flags: [String: ConfigValue?]) -> ConfigReader {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            if let value { values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = value }
        }
        return ConfigReader(providers: [InMemoryProvider(name: "flags", values: values), EnvironmentVariablesProvider()])
    }
}

func makeLogger() -> Logger {
    var logger = Logger(label: "ching")
    logger.logLevel = .info
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server (migrates the database first).")

    @Option(help: "Address to listen on. Env: CHING_HOST. Default: 127.0.0.1") var host: String?
    @Option(help: "Port to listen on. Env: CHING_PORT. Default: 8080") var port: Int?
    @OptionGroup var options: DatabaseOptions
    @Option(name: .customLong("public-url"), help: "Base URL customers reach this server at. Env: CHING_PUBLIC_URL. Default: http://HOST:PORT")
    var publicURL: String?
    @Option(name: .customLong("max-connections"), help: "Open connections at most. Env: CHING_MAX_CONNECTIONS. Default: 4096, or less when the descriptor limit is lower")
    var maxConnections: Int?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a kept-alive connection may wait for its next request. Env: CHING_IDLE_TIMEOUT. Default: 30")
    var idleTimeout: Int?
    @Option(name: .customLong("header-timeout"), help: "Seconds a new connection may take to send its request head. Env: CHING_HEADER_TIMEOUT. Default: 10")
    var headerTimeout: Int?
    @Option(name: .customLong("body-timeout"), help: "Seconds a request body may take to arrive. Env: CHING_BODY_TIMEOUT. Default: 30")
    var bodyTimeout: Int?
    @Option(name: .customLong("smtp-url"), help: "Where customer emails are sent: smtp://user:pass@host:port[?starttls=required] or smtps://... Env: CHING_SMTP_URL. Default: none (emails wait in the outbox)")
    var smtpURL: String?
    @Option(name: .customLong("mail-from"), help: "The envelope and From address of customer emails. Env: CHING_MAIL_FROM. Required with --smtp-url")
    var mailFrom: String?
    @Option(name: .customLong("smtp-ca-file"), help: "A PEM file of certificates to trust for the SMTP server besides the system's. Env: CHING_SMTP_CA_FILE")
    var smtpCAFile: String?

    func run() async throws {
        // As many descriptors as the system allows, so the connection cap is the limit that bites.
        FileDescriptorLimit.raiseToHardLimit()
        var configuration = AppConfiguration(reader: .layered([
            "ching.host": host.map { .init(stringLiteral: $0) }, "ching.port": port.map { .init(integerLiteral: $0) },
            "ching.database.url": options.database.map { .init(stringLiteral: $0) },
            "ching.public.url": publicURL.map { .init(stringLiteral: $0) },
            "ching.max.connections": maxConnections.map { .init(integerLiteral: $0) },
            "ching.idle.timeout": idleTimeout.map { .init(integerLiteral: $0) },
            "ching.header.timeout": headerTimeout.map { .init(integerLiteral: $0) },
            "ching.body.timeout": bodyTimeout.map { .init(integerLiteral: $0) },
            "ching.smtp.url": smtpURL.map { .init(stringLiteral: $0) },
            "ching.mail.from": mailFrom.map { .init(stringLiteral: $0) },
            "ching.smtp.ca.file": smtpCAFile.map { .init(stringLiteral: $0) },
        ]))
        configuration.logger = makeLogger()
        let (ids, clock) = (configuration.ids, configuration.clock)
        // First start on an empty database: a usable demo project, its key printed once, and pages to open.
        let demoConfiguration = configuration
        if let (demo, links) = try await Database.withMigrated(configuration.databaseURL, logger: configuration.logger, { database -> (Projects.Created, Demo.Links)? in
            guard try await Projects.count(database: database) == 0 else { return nil }
            let demo = try await Projects.create(name: "Demo", legalName: "Demo Ltd.", vatNumber: "000000000", address: "Tel Aviv",
                                                 branding: "example", database: database, ids: ids, clock: clock)
            return (demo, try await Demo.createSessions(projectID: demo.projectID, configuration: demoConfiguration, database: database))
        }) {
            // Written unbuffered so it shows at once even when stdout is a file or a pipe.
            FileHandle.standardOutput.write(Data("""
                Created the project "Demo" (\(demo.projectID)). Its test API key, shown only this once:

                    \(demo.testKey)

                Open a demo checkout (a cart with a discount line, valid 30 minutes; pay with a test card from TEST_CARDS.md, such as the Visa ending 4242):

                    \(links.checkoutURL)

                and a demo page that saves a card (valid 24 hours):

                    \(links.setupURL)


                """.utf8))
        }
        let app = try await buildApplication(configuration)
        try await app.runService()
    }
}

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "project", abstract: "Manage projects.",
                                                    subcommands: [Create.self, Provider.self, Keys.self])

    /// `CHING_SECRET_KEY`, which seals the projects' Grow settings.
    static var secretKey: String? { AppConfiguration(reader: .layered([:])).secretKey }

    static func databaseURL(_ options: DatabaseOptions) -> String {
        AppConfiguration(reader: .layered(["ching.database.url": options.database.map { .init(stringLiteral: $0) }])).databaseURL
    }

    struct Provider: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Configure a project's live card provider, or show it masked.",
                                                        subcommands: [Grow.self, Show.self])

        struct Grow: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Store a project's Grow credentials (sealed with CHING_SECRET_KEY when set); live keys work from then on.")
            @Option(help: "The project (proj_...).") var project: String
            @Option(name: .customLong("user-id"), help: "Grow's userId for the business.") var userID: String
            @Option(name: .customLong("page-code"), help: "Grow's pageCode of the card payment page.") var pageCode: String
            @Option(name: .customLong("api-key"), help: "Grow's apiKey, for platforms acting for many businesses.") var apiKey: String?
            @Option(name: .customLong("recurring-page-code"), help: "The pageCode of a recurring-payments page, used to save cards for plans.")
            var recurringPageCode: String?
            @Flag(help: "Use Grow's sandbox (\(GrowAccount.sandboxURL)).") var sandbox = false
            @Option(name: .customLong("base-url"), help: "Any Grow-compatible server's API base URL. Default: Grow's production API.") var baseURL: String?
            @OptionGroup var options: DatabaseOptions

            func validate() throws {
                if sandbox && baseURL != nil { throw ValidationError("Give --sandbox or --base-url, not both.") }
                for (name, value) in [("--user-id", userID), ("--page-code", pageCode), ("--api-key", apiKey ?? "x"), ("--recurring-page-code", recurringPageCode ?? "x")] {
                    guard (1...64).contains(value.count), value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                        throw ValidationError("\(name) must be 1 to 64 letters and digits, as Grow issues it.")
                    }
                }
                if let baseURL, WebAddress.origin(of: baseURL) == nil { throw ValidationError("--base-url must be an http(s) URL.") }
            }

            func run() async throws {
                let account = GrowAccount(userID: userID, pageCode: pageCode, apiKey: apiKey, recurringPageCode: recurringPageCode,
                                          baseURL: baseURL ?? (sandbox ? GrowAccount.sandboxURL : GrowAccount.productionURL))
                let (project, secretKey) = (project, ProjectCommand.secretKey)
                let shown = try await Database.withMigrated(ProjectCommand.databaseURL(options), logger: makeLogger()) { database in
                    try await Projects.configureGrow(projectID: project, account: account, secretKey: secretKey, database: database)
                    return try await Projects.providerDescription(projectID: project, secretKey: secretKey, database: database)
                }
                print(shown)
                if secretKey == nil {
                    print("warning: CHING_SECRET_KEY is not set, so these settings are stored unsealed in the database.")
                }
            }
        }

        struct Show: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a project's live provider settings, masked.")
            @Option(help: "The project (proj_...).") var project: String
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                let (project, secretKey) = (project, ProjectCommand.secretKey)
                print(try await Database.withMigrated(ProjectCommand.databaseURL(options), logger: makeLogger()) { database in
                    try await Projects.providerDescription(projectID: project, secretKey: secretKey, database: database)
                })
            }
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue API keys.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Issue a key for a project and print it (shown only this once).")
            @Option(help: "The project (proj_...).") var project: String
            @Flag(help: "A live key (ck_live_...); it answers LIVE_KEY_INACTIVE until a live provider is configured.") var live = false
            @Option(help: "A name for the key.") var name: String?
            @OptionGroup var options: DatabaseOptions

            func run() async throws {
                let (project, live, name) = (project, live, name)
                let key = try await Database.withMigrated(ProjectCommand.databaseURL(options), logger: makeLogger()) { database in
                    try await Projects.createKey(projectID: project, live: live, name: name, database: database, ids: .random, clock: AppConfiguration().clock)
                }
                print(key)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a project and print its id and test API key.")

        @Option(help: "Display name.") var name: String
        @Option(name: .customLong("legal-name"), help: "Legal name printed on tax documents.") var legalName: String?
        @Option(name: .customLong("vat-number"), help: "VAT or company number printed on tax documents.") var vatNumber: String?
        @Option(help: "Business address printed on tax documents.") var address: String?
        @Option(help: "The folder under the branding root this project uses (when there is no folder named by its id).") var branding: String?
        @Option(name: .customLong("owner-email"), help: "The owner's email, as GET /auth/me answers it.") var ownerEmail: String?
        @Option(name: .customLong("owner-first-name"), help: "The owner's first name.") var ownerFirstName: String?
        @Option(name: .customLong("owner-last-name"), help: "The owner's last name.") var ownerLastName: String?
        @Flag(help: "Print {\"project\": ..., \"test_key\": ...} as JSON.") var json = false
        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let url = AppConfiguration(reader: .layered(["ching.database.url": options.database.map { .init(stringLiteral: $0) }])).databaseURL
            let (name, legalName, vatNumber, address, branding) = (name, legalName, vatNumber, address, branding)
            let owner = Projects.Owner(email: ownerEmail, firstName: ownerFirstName, lastName: ownerLastName)
            let created = try await Database.withMigrated(url, logger: makeLogger()) { database in
                try await Projects.create(name: name, legalName: legalName, vatNumber: vatNumber, address: address, branding: branding,
                                          owner: owner, database: database, ids: .random, clock: AppConfiguration().clock)
            }
            if json {
                print(JSONValue.object(["project": .string(created.projectID), "test_key": .string(created.testKey)]).serialized())
            } else {
                print("project:  \(created.projectID)\ntest key: \(created.testKey)  (shown only this once)")
            }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply the database migrations and exit.")
    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let url = AppConfiguration(reader: .layered(["ching.database.url": options.database.map { .init(stringLiteral: $0) }])).databaseURL
        try await Database.withMigrated(url, logger: makeLogger()) { _ in }
        print("Migrations applied.")
    }
}

struct BrandingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "branding", abstract: "Check or start merchants' branding folders.",
                                                    subcommands: [Check.self, Init.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every problem in every branding folder; exit non-zero when there is an error.")
        @Option(help: "The branding root. Env: CHING_BRANDING. Default: Branding") var dir: String?

        func run() async throws {
            let root = dir ?? AppConfiguration(reader: .layered([:])).brandingDirectory
            let problems = Projects.brandingProblems(root: root)
            for problem in problems { print(problem) }
            if Projects.brandingHasErrors(root: root) { throw ExitCode.failure }
            print(problems.isEmpty ? "No problems in \(root)." : "No errors in \(root) (warnings above were adjusted automatically).")
        }
    }

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a starter branding folder for a project (its id or a folder name).")
        @Argument(help: "The project id (proj_...) or a folder name to give the project with --branding.") var project: String
        @Option(help: "The branding root. Env: CHING_BRANDING. Default: Branding") var dir: String?

        func run() async throws {
            let root = dir ?? AppConfiguration(reader: .layered([:])).brandingDirectory
            let folder = "\(root)/\(project)"
            guard !FileManager.default.fileExists(atPath: folder) else {
                print("\(folder) already exists; nothing was written.")
                throw ExitCode.failure
            }
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(BrandingStarter.brandJSON.utf8).write(to: URL(fileURLWithPath: "\(folder)/brand.json"))
            try Data(BrandingStarter.readme.utf8).write(to: URL(fileURLWithPath: "\(folder)/README.md"))
            try Data(BrandingStarter.logo.utf8).write(to: URL(fileURLWithPath: "\(folder)/logo.svg"))
            print("Wrote \(folder)/brand.json, logo.svg and README.md. Edit them, then run: ching branding check --dir \(root)")
        }
    }
}

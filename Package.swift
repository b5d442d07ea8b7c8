// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "ching-checkout",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ching", targets: ["ching"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing.git", from: "1.19.7"),
    ],
    targets: [
        // Pure rules: money, ids, validation, VAT, the provider protocol and the sandbox provider. No I/O.
        .target(name: "ChingDomain", swiftSettings: strict),
        // Card providers: the protocols (card form, hosted page) and the sandbox of TEST_CARDS.md.
        .target(name: "ChingProviders", dependencies: ["ChingDomain"], swiftSettings: strict),
        // A small PDF writer for tax documents (embedded TrueType font, Hebrew and Latin).
        .target(name: "ChingPDF", swiftSettings: strict),
        // Sending email: MIME and a small SMTP client (STARTTLS, implicit TLS) on SwiftNIO and NIOSSL.
        .target(
            name: "ChingMail",
            dependencies: [
                "ChingDomain", "ChingProviders",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        // Grow's Light API (the live card provider): its wire format and the adapter behind HostedPageProvider.
        .target(
            name: "ChingGrow",
            dependencies: [
                "ChingDomain", "ChingProviders",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The only place with SQL: the database (SQLite engine with group commit, or PostgreSQL), the schema.
        .target(
            name: "ChingStore",
            dependencies: [
                "ChingDomain",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // Business operations: charging, refunding, documents, saved cards, paying a hosted session,
        // sweeping, events and webhook queueing. No HTTP: refusals are `ServiceError` values.
        .target(
            name: "ChingServices",
            dependencies: [
                "ChingDomain", "ChingStore", "ChingProviders", "ChingPDF",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Fonts")],
            swiftSettings: strict
        ),
        // What the JSON API and the hosted pages share: the request context, body reading, the per-address attempt limit.
        .target(
            name: "ChingHTTP",
            dependencies: [
                "ChingDomain",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The JSON endpoints: decode, call a service, present; the envelope and the status of each refusal.
        .target(
            name: "ChingAPI",
            dependencies: [
                "ChingDomain", "ChingStore", "ChingProviders", "ChingPDF", "ChingServices", "ChingHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The hosted pages: one controller generic over the flow, typed view models, the renderer, locales, branding.
        .target(
            name: "ChingWeb",
            dependencies: [
                "ChingDomain", "ChingStore", "ChingProviders", "ChingServices", "ChingHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // The composition root: configuration, buildApplication, the connection guard, background services.
        .target(
            name: "ChingApp",
            dependencies: [
                "ChingDomain", "ChingStore", "ChingProviders", "ChingServices", "ChingHTTP", "ChingAPI", "ChingWeb", "ChingMail", "ChingGrow",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ching",
            dependencies: [
                "ChingApp", "ChingStore", "ChingWeb", "ChingProviders", "ChingDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // A fake Grow server (GROW.md section 7) for the tests only: never part of the shipped binary.
        .target(
            name: "FakeGrow",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/FakeGrow",
            swiftSettings: strict
        ),
        // The fake Grow as a process, for the browser suite only (scripts/browser-tests).
        .executableTarget(name: "fake-grow", dependencies: ["FakeGrow"], path: "Tests/FakeGrowServer", swiftSettings: strict),
        // The domain's rules and the sandbox's table (TEST_CARDS.md) share the test card list.
        .testTarget(name: "ChingDomainTests", dependencies: ["ChingDomain", "ChingProviders"], swiftSettings: strict),
        .testTarget(name: "ChingPDFTests", dependencies: ["ChingPDF"], swiftSettings: strict),
        .testTarget(name: "ChingMailTests", dependencies: ["ChingMail", "ChingProviders", "ChingDomain"], swiftSettings: strict),
        .testTarget(
            name: "ChingStoreTests",
            dependencies: ["ChingStore", .product(name: "SQLKit", package: "sql-kit"), .product(name: "SQLiteKit", package: "sqlite-kit")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ChingAppTests",
            dependencies: [
                "ChingApp", "ChingStore", "ChingProviders", "ChingServices", "ChingHTTP", "ChingWeb", "ChingGrow", "FakeGrow",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            ],
            exclude: ["__Snapshots__"],
            swiftSettings: strict
        ),
    ]
)

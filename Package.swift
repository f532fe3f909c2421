// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "CitizenCard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "citizencard", targets: ["citizencard"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The counter agent's link to the server (issue 21): WebSocket server and client.
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // Files that hold secrets: atomic, owner-only writes; reads refused when others could read.
        .target(name: "OwnerOnlyFiles", swiftSettings: swiftSettings),
        // Pure rules: no I/O, no dependencies.
        .target(name: "CitizenCardDomain", resources: [.copy("Resources")], swiftSettings: swiftSettings),
        // Encryption at rest, blind indexes, key files (swift-crypto).
        .target(
            name: "DataProtection",
            dependencies: [
                "CitizenCardDomain",
                "OwnerOnlyFiles",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenSSL 3 libcrypto (Debian: libssl-dev): the SM4 and DES ciphers of the card.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // zlib (Debian: zlib1g-dev): DEFLATE for the card code and the status list.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libqrencode (Debian: libqrencode-dev): QR symbols for the electronic card.
        .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        // PCSC-lite (Debian: libpcsclite-dev): the PC/SC client of `citizencard card authenticate`.
        .systemLibrary(name: "CPCSCLite", pkgConfig: "libpcsclite", providers: [.apt(["libpcsclite-dev"])]),
        // The electronic card: CBOR, COSE_Sign1 and CWT, Base45, the city's SM2 and P-256 signing
        // keys and their published list, the status list, QR symbols.
        .target(
            name: "Credentials",
            dependencies: [
                "COpenSSL", "CZlib", "CQRencode", "CardCrypto", "OwnerOnlyFiles",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Partner banks (issue 20): the messages between the center and a bank, their HMAC
        // signature, bank card numbers (BIN, Luhn).
        .target(
            name: "BankProtocol",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Signed HTTP(S) requests to a bank or to the center (AsyncHTTPClient), with the failures
        // that decide a retry.
        .target(
            name: "BankLink",
            dependencies: [
                "BankProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // `citizencard bank simulate`: a partner bank on a loopback port for tests and demos (plain
        // SwiftNIO HTTP/1, so that it can drop a connection without answering), with a journal.
        .target(
            name: "BankSimulator",
            dependencies: [
                "BankProtocol",
                "BankLink",
                "CommandSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The messages between the server and a counter agent (JSON over a WebSocket).
        .target(name: "CounterAgentProtocol", swiftSettings: swiftSettings),
        // Card cryptography: PBOC 3DES and SM4 MACs, key diversification, session keys, issuer keyring.
        .target(name: "CardCrypto", dependencies: ["COpenSSL", "OwnerOnlyFiles"], swiftSettings: swiftSettings),
        // The software citizen card: ISO 7816-4 APDUs, the PSE, social-security data and the PBOC purse.
        .target(name: "SmartCard", dependencies: ["CardCrypto", "OwnerOnlyFiles"], swiftSettings: swiftSettings),
        // Double-entry accounts and transfers with their invariants (e-purse, fees, settlement).
        .target(name: "Ledger", dependencies: ["CitizenCardDomain"], swiftSettings: swiftSettings),
        // The versioned list of cards terminals must refuse, in a compact binary form.
        .target(name: "Hotlist", swiftSettings: swiftSettings),
        // The storage contract: one protocol per aggregate, ChangeSet, the records, StorageError and
        // the audit chain. No database driver: what depends on the contract links none.
        .target(
            name: "Storage",
            dependencies: [
                "CitizenCardDomain",
                "Ledger",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // SQL written once for both drivers: the statement type, the writes of every change, the
        // reads both backends share, row decoding, the stores' metrics.
        .target(
            name: "StorageSQL",
            dependencies: [
                "Storage",
                "CitizenCardDomain",
                "Ledger",
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The embedded backend: SQLite through GRDB.
        .target(
            name: "StorageSQLite",
            dependencies: [
                "Storage",
                "StorageSQL",
                "CitizenCardDomain",
                "Ledger",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The server backend: PostgreSQL through PostgresNIO (TLS by NIOSSL).
        .target(
            name: "StoragePostgres",
            dependencies: [
                "Storage",
                "StorageSQL",
                "CitizenCardDomain",
                "Ledger",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // Use cases: each one storage transaction; the only place that combines modules.
        .target(
            name: "CitizenCardServices",
            dependencies: [
                "BankProtocol",
                "BankLink",
                "CitizenCardDomain",
                "DataProtection",
                "Storage",
                "CardCrypto",
                "SmartCard",
                "Hotlist",
                "Credentials",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        // Hummingbird 2 application: JSON API, the OpenAPI document, and the web pages (Web/:
        // the outlet console and the citizen portal, swift-mustache templates in Resources/web).
        .target(
            name: "CitizenCardHTTP",
            dependencies: [
                "BankProtocol",
                "CitizenCardDomain",
                "CitizenCardServices",
                "CounterAgentProtocol",
                "Credentials",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                // Mutual TLS for department clients: the server's TLS and the client's certificate subject.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        // What every command shares, in one place each: failures, output, seeded data, timings.
        .target(name: "CommandSupport", swiftSettings: swiftSettings),
        // What every command shares: the data directory and its configuration, opening the store
        // the configuration or --database names (SQLite or PostgreSQL), keys, logging.
        .target(
            name: "CitizenCardRuntime",
            dependencies: [
                "CommandSupport",
                "CitizenCardDomain",
                "DataProtection",
                "Storage",
                "StorageSQLite",
                "StoragePostgres",
                "CitizenCardServices",
                "CardCrypto",
                "Credentials",
                "OwnerOnlyFiles",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // `citizencard simulate transit`: days of taps at terminals through the real use cases.
        .target(
            name: "TransitSimulator",
            dependencies: [
                "CommandSupport",
                "CitizenCardRuntime",
                "CitizenCardDomain",
                "CitizenCardServices",
                "Storage",
                "CardCrypto",
                "SmartCard",
                "Hotlist",
                "Ledger",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // `citizencard bench …`: the benchmarks, each with its baseline measured in the same run.
        .target(
            name: "Benchmarks",
            dependencies: [
                "BankSimulator",
                "BankLink",
                "BankProtocol",
                "CommandSupport",
                "CitizenCardRuntime",
                "CitizenCardDomain",
                "DataProtection",
                "Storage",
                "StorageSQLite",
                "CitizenCardServices",
                "CitizenCardHTTP",
                "CardCrypto",
                "SmartCard",
                "Hotlist",
                "Ledger",
                "COpenSSL",
                "Credentials",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // `citizencard card …`: the software card's file, its bridge to pcscd through vpcd, and a
        // PC/SC client that authenticates a card in a reader.
        .target(
            name: "CardBridge",
            dependencies: [
                "CommandSupport",
                "CardCrypto",
                "SmartCard",
                "CPCSCLite",
                "CounterAgentProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // `citizencard counter-agent`: log-in over HTTPS, then the WebSocket to the server.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The binary: parses arguments and wires the targets above.
        .executableTarget(
            name: "citizencard",
            dependencies: [
                "CommandSupport",
                "BankProtocol",
                "BankSimulator",
                "OwnerOnlyFiles",
                "CitizenCardDomain",
                "DataProtection",
                "Storage",
                "CitizenCardServices",
                "CitizenCardHTTP",
                "CitizenCardRuntime",
                "TransitSimulator",
                "Benchmarks",
                "CardBridge",
                "CardCrypto",
                "Credentials",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BankProtocolTests",
            dependencies: ["BankProtocol", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BankTests",
            dependencies: [
                "BankProtocol", "BankLink", "BankSimulator", "CitizenCardTesting", "CitizenCardServices",
                "CitizenCardDomain", "Storage",
            ],
            swiftSettings: swiftSettings
        ),
        // Shared test support: clocks, fixtures, generators.
        .target(
            name: "CitizenCardTesting",
            dependencies: [
                "CitizenCardDomain",
                "DataProtection",
                "Storage",
                "StorageSQLite",
                "StoragePostgres",
                "CitizenCardServices",
                "CardCrypto",
                "SmartCard",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            path: "Tests/CitizenCardTesting",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CitizenCardDomainTests",
            dependencies: [
                "CitizenCardDomain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DataProtectionTests",
            dependencies: ["DataProtection", "CitizenCardDomain"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CardCryptoTests", dependencies: ["CardCrypto"], swiftSettings: swiftSettings),
        .testTarget(
            name: "LedgerTests",
            dependencies: [
                "Ledger", "CitizenCardDomain",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HotlistTests",
            dependencies: [
                "Hotlist",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialsTests",
            dependencies: [
                "Credentials",
                // P-256 test signers, independent of the module's own signing keys.
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SmartCardTests",
            dependencies: [
                "SmartCard", "CardCrypto",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StorageContractTests",
            dependencies: [
                "Storage", "StorageSQL", "StorageSQLite", "StoragePostgres", "CitizenCardDomain", "DataProtection",
                "CitizenCardTesting", "Ledger",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CitizenCardServicesTests",
            dependencies: [
                "CitizenCardServices", "CitizenCardDomain", "Storage", "DataProtection", "CitizenCardTesting",
                "CardCrypto", "SmartCard", "Ledger", "Hotlist", "Credentials",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CitizenCardHTTPTests",
            dependencies: [
                "CitizenCardHTTP", "CitizenCardServices", "CitizenCardDomain", "CitizenCardTesting", "CardCrypto",
                "SmartCard", "Hotlist", "BankProtocol", "BankSimulator",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TransitSimulatorTests",
            dependencies: [
                "TransitSimulator", "CitizenCardTesting", "CitizenCardRuntime", "Storage", "Ledger",
                "CitizenCardDomain", .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BenchmarksTests", dependencies: ["Benchmarks", "CommandSupport"], swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CardBridgeTests",
            dependencies: [
                "CardBridge", "CardCrypto", "SmartCard",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "BankSimulatorTests",
            dependencies: [
                "BankSimulator", "BankProtocol", "BankLink",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // Raw requests: a body other than the signed one, a wrong bank code header.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CitizenCardTesting", "Storage", "CitizenCardDomain", "CitizenCardServices", "CardCrypto", "SmartCard",
                "citizencard", "CounterAgentProtocol",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

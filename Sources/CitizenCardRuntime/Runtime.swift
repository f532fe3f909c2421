package import ArgumentParser
package import CardCrypto
package import Credentials
package import CitizenCardDomain
package import CitizenCardServices
import DataProtection
import CommandSupport
package import Foundation
package import Logging
package import Storage
import StoragePostgres
import StorageSQLite

/// `--data` and `--database`, the same on every subcommand so that they all work on the
/// database a server uses.
package struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory: database, key files, configuration. Env: CITIZENCARD_DATA.")
    package var data: String?

    @Option(
        name: .long,
        help:
            "Database URL: sqlite:PATH (default: DATA/citizencard.sqlite) or postgres://user:password@host:port/database. Env: CITIZENCARD_DATABASE_URL."
    )
    package var database: String?

    package var dataDirectory: URL {
        let path = data ?? ProcessInfo.processInfo.environment["CITIZENCARD_DATA"] ?? "citizencard-data"
        return URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
    }

    package var databaseURL: String? { database ?? ProcessInfo.processInfo.environment["CITIZENCARD_DATABASE_URL"] }

    package init() {}
}

/// Everything a subcommand needs, opened from the options: configuration, keys, store, services.
package struct Runtime {
    /// The SQLite page cache of `import persons` (and its benchmark): a city's blind index fits
    /// in it, so inserts do not wait for disk reads.
    package static let importCacheMebibytes = 64

    package var configuration: Configuration
    package var env: ServiceEnvironment
    package var store: any CitizenCardStore
    package var dataDirectory: URL
    package var databaseDescription: String
    package var createdKeys: Bool
    /// True when this start created the issuer keyring (random card master keys).
    package var createdIssuerKeys = false
    package var createdCredentialKeys = false
    /// The master keys this start added to an issuer keyring written before their key type existed
    /// (e.g. the internal-authentication key of issue 19); the file was written again.
    package var addedIssuerKeys: [MasterKeyID] = []

    /// - Parameter cacheMebibytes: SQLite page cache per connection (bulk work wants more).
    package static func open(
        _ options: StoreOptions, logger: Logger, clock: any Clock = SystemClock(), cacheMebibytes: Int = 32
    ) async throws -> Runtime {
        let directory = options.dataDirectory
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CommandFailure(description: "cannot create the data directory \(directory.path)")
        }
        let configuration = try Configuration.loadOrCreate(in: directory)
        let keyFile = directory.appendingPathComponent(configuration.keyFile)
        let (keyRing, created) = try KeyRing.loadOrCreate(at: keyFile, createdAt: clock.now().iso8601)
        let issuerKeys: IssuerKeyring
        let createdIssuerKeys: Bool
        var addedIssuerKeys: [MasterKeyID] = []
        do {
            let url = IssuerKeyFile.file(in: directory)
            if FileManager.default.fileExists(atPath: url.path) {
                (issuerKeys, addedIssuerKeys) = try IssuerKeyring.loadAddingMissingKeys(from: url)
                createdIssuerKeys = false
            } else {
                (issuerKeys, createdIssuerKeys) = try IssuerKeyring.loadOrCreate(at: url) {
                    () throws(CardCryptoError) in try IssuerKeyring.generate()
                }
            }
        } catch {
            throw CommandFailure(description: "cannot open the issuer keyring: \(error)")
        }
        let credentialPolicy = configuration.credentials ?? CredentialPolicy()
        if case .failure(let error) = credentialPolicy.validated() {
            throw CommandFailure(description: "\(Configuration.fileName): \(error)")
        }
        let bankPolicy = configuration.banks ?? BankPolicy()
        if let problem = bankPolicy.problem() {
            throw CommandFailure(description: "\(Configuration.fileName): \(problem)")
        }
        for root in bankPolicy.trustRoots where !FileManager.default.isReadableFile(atPath: root) {
            throw CommandFailure(description: "\(Configuration.fileName): banks.trustRoots: cannot read \(root)")
        }
        let credentialKeys: CredentialKeyring
        let createdCredentialKeys: Bool
        do {
            (credentialKeys, createdCredentialKeys) = try CredentialKeyring.loadOrCreate(
                at: CredentialKeyFile.file(in: directory), now: clock.now().secondsSinceEpoch)
        } catch {
            throw CommandFailure(description: "cannot open the credential keyring: \(error)")
        }
        let (store, description) = try await openStore(
            options.databaseURL ?? configuration.database, directory: directory, cacheMebibytes: cacheMebibytes,
            logger: logger)
        var env = ServiceEnvironment(
            store: store, vault: PersonVault(keyRing: keyRing), clock: clock, ids: UUIDv7Generator(),
            city: configuration.city, policy: configuration.policy, passwordCost: configuration.passwordCost,
            issuerKeys: issuerKeys, regions: try regionCodes(configuration, directory: directory), logger: logger)
        env.credentialKeys = credentialKeys
        env.credentialPolicy = credentialPolicy
        env.bankPolicy = bankPolicy
        env.legacyPolicy = configuration.legacy ?? LegacyPolicy()
        return Runtime(
            configuration: configuration, env: env, store: store, dataDirectory: directory,
            databaseDescription: description, createdKeys: created, createdIssuerKeys: createdIssuerKeys,
            createdCredentialKeys: createdCredentialKeys, addedIssuerKeys: addedIssuerKeys)
    }

    /// The bundled region code table with the configured newer edition laid over it.
    package static func regionCodes(_ configuration: Configuration, directory: URL) throws -> RegionCodes {
        do {
            var table = try RegionCodes.loadBundled()
            if let file = configuration.regionCodesFile {
                let url = file.hasPrefix("/") ? URL(fileURLWithPath: file) : directory.appendingPathComponent(file)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                    throw CommandFailure(description: "cannot read the region code table \(url.path)")
                }
                table = table.merging(try RegionCodes(parsing: text))
            }
            return table
        } catch let error as RegionCodes.ParseError {
            throw CommandFailure(description: "\(error)")
        }
    }

    /// `sqlite:PATH` (relative paths are inside the data directory) or nothing for the default.
    package static func openStore(
        _ url: String?, directory: URL, cacheMebibytes: Int, logger: Logger
    ) async throws
        -> (any CitizenCardStore, String)
    {
        let text = url ?? "sqlite:citizencard.sqlite"
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw ValidationError("sqlite: needs a file path, e.g. sqlite:citizencard.sqlite")
            }
            let file = path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
            do {
                return (try SQLiteStore(path: file.path, cacheMebibytes: cacheMebibytes), "SQLite \(file.path)")
            } catch {
                throw CommandFailure(description: "cannot open the database: \(error)")
            }
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            do {
                let store = try await PostgresStore.connect(url: text, logger: logger)
                return (store, store.description)
            } catch {
                throw CommandFailure(description: "cannot open the database: \(error)")
            }
        }
        throw ValidationError(
            "unknown database URL scheme; use sqlite:PATH or postgres://user:password@host:port/database")
    }
}

/// The one configuration file, DATA/citizencard.json, written with defaults on first start.
package struct Configuration: Codable {
    package var database: String?
    package var keyFile: String
    package var city: CityConfiguration
    package var policy: LifecyclePolicy
    package var passwordCost: UInt8
    package var sweepIntervalSeconds: Int
    /// Proxies whose `X-Forwarded-For` names the client (addresses or CIDR networks); optional.
    package var trustedProxies: [String]?
    /// A newer edition of the region code table, laid over the bundled one (docs/region-codes.md);
    /// relative to the data directory; optional.
    package var regionCodesFile: String?
    /// The electronic card's codes (docs/electronic-card.md); optional, defaults apply.
    package var credentials: CredentialPolicy?
    /// Talking to partner banks (docs/banks.md); optional, defaults apply.
    package var banks: BankPolicy?
    /// The departments' old cards: the end of their coexistence (docs/legacy-cards.md); optional.
    package var legacy: LegacyPolicy?

    package static let fileName = "citizencard.json"

    package static let defaults = Configuration(
        database: nil, keyFile: "keys/personal-data.json", city: .zhoushan, policy: .default, passwordCost: 12,
        sweepIntervalSeconds: 60)

    package static func loadOrCreate(in directory: URL) throws -> Configuration {
        let url = directory.appendingPathComponent(fileName)
        if let data = FileManager.default.contents(atPath: url.path) {
            do {
                return try JSONDecoder().decode(Configuration.self, from: data)
            } catch {
                throw CommandFailure(description: "\(url.path) is not a valid configuration file: \(error)")
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(defaults).write(to: url)
        } catch {
            throw CommandFailure(description: "cannot write \(url.path)")
        }
        return defaults
    }
}

/// Logs to standard error, one line per event, with metadata; never personal data.
package func makeLogger(label: String, level: Logger.Level = .info) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    if let text = ProcessInfo.processInfo.environment["LOG_LEVEL"], let value = Logger.Level(rawValue: text) {
        logger.logLevel = value
    } else {
        logger.logLevel = level
    }
    return logger
}

/// Where the city's credential keys are kept in the data directory.
package enum CredentialKeyFile {
    package static let defaultPath = "keys/" + CredentialKeyring.fileName

    /// DATA/keys/credential-keys.json.
    package static func file(in directory: URL) -> URL {
        directory.appendingPathComponent(defaultPath)
    }
}

/// Where the issuer's card master keys are kept in the data directory.
package enum IssuerKeyFile {
    package static let defaultPath = IssuerKeyring.dataDirectoryPath

    /// DATA/keys/issuer-keys.json.
    package static func file(in directory: URL) -> URL {
        directory.appendingPathComponent(defaultPath)
    }
}

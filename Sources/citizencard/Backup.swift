import ArgumentParser
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import DataProtection
import Foundation
import Logging

/// `citizencard backup`: a consistent copy of the SQLite database while the server serves, with a
/// manifest naming the keys that open it (issue 22, docs/operations.md).
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up the SQLite database while the server runs (PostgreSQL: pgBackRest).",
        discussion: """
            Copies the database through SQLite's online backup API, in one read transaction: a \
            consistent snapshot whatever the server writes meanwhile. Writes FILE (mode 0600) and \
            FILE.manifest.json, which names the keys that open it by their check values. The key files \
            (DATA/keys/) are NOT in the backup: keep a copy of them apart from it; `citizencard restore` \
            refuses a database without them. See docs/operations.md.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "The backup file to write (replaced if it exists).")
    var out: String

    func run() async throws {
        let directory = options.dataDirectory
        let configuration = try Configuration.loadOrCreate(in: directory)
        guard
            let source = SQLiteBackup.sqlitePath(
                options.databaseURL ?? configuration.database, directory: directory)
        else {
            throw CommandFailure(
                description:
                    "the database is not SQLite: back PostgreSQL up with pgBackRest (full backups and the WAL archive, docs/operations.md)"
            )
        }
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw CommandFailure(description: "there is no database at \(source.path)")
        }
        let destination = URL(fileURLWithPath: out).standardizedFileURL
        guard destination.path != source.path else {
            throw CommandFailure(description: "--out names the database itself")
        }
        let keys = try Self.keys(in: directory, configuration: configuration)
        let started = ContinuousClock.now
        do {
            try SQLiteBackup.copy(from: source, to: destination)
            let (sha, bytes) = try SQLiteBackup.sha256(of: destination)
            let (sequence, healthy) = try SQLiteBackup.inspect(destination)
            guard healthy else { throw SQLiteBackup.Failure("the copy does not pass SQLite's quick_check") }
            let manifest = SQLiteBackup.Manifest(
                createdAt: SystemClock().now().iso8601, source: source.path, bytes: bytes, sha256: sha,
                auditSequence: sequence, personalDataKeys: keys.personal, issuerKeys: keys.issuer,
                credentialKeys: keys.credential)
            try SQLiteBackup.writeManifest(manifest, to: SQLiteBackup.manifestURL(of: destination))
            let elapsed = ContinuousClock.now - started
            say(
                "Backed up \(source.path) to \(destination.path): \(bytes / 1024) KiB, audit entries up to #\(sequence), in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))."
            )
            say("Manifest: \(SQLiteBackup.manifestURL(of: destination).path) (the keys that open it, by check value).")
            say(
                "The key files are NOT in the backup. Keep a copy of \(directory.appendingPathComponent("keys").path)/ apart from it: without them the backup cannot be restored."
            )
        } catch let failure as SQLiteBackup.Failure {
            throw CommandFailure(description: failure.description)
        }
    }

    static func keys(
        in directory: URL, configuration: Configuration
    ) throws -> (personal: [String: String], issuer: [String: String], credential: [String]) {
        do {
            return try SQLiteBackup.keyChecks(
                keyFile: directory.appendingPathComponent(configuration.keyFile),
                issuerFile: IssuerKeyFile.file(in: directory), credentialFile: CredentialKeyFile.file(in: directory))
        } catch {
            throw CommandFailure(description: error.description)
        }
    }
}

/// `citizencard restore`: a backup into a data directory without a database, which holds the keys
/// that open it.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore an SQLite backup into a data directory that holds its keys and no database.",
        discussion: """
            Checks the backup against its manifest (size and SHA-256), the data directory's key files \
            against the keys the manifest names (the database cannot be opened without them), copies \
            the backup to the directory's database (which must not exist: restore into a new data \
            directory and point the server at it), opens it and unseals a sample of its personal \
            data. The server must not run on that directory meanwhile. See docs/operations.md.
            """)

    @OptionGroup var options: StoreOptions

    @Option(help: "The backup file (written by `citizencard backup`), with FILE.manifest.json beside it.")
    var from: String

    func run() async throws {
        let directory = options.dataDirectory
        let backup = URL(fileURLWithPath: from).standardizedFileURL
        do {
            let manifest = try SQLiteBackup.readManifest(SQLiteBackup.manifestURL(of: backup))
            let (sha, bytes) = try SQLiteBackup.sha256(of: backup)
            guard sha == manifest.sha256, bytes == manifest.bytes else {
                throw SQLiteBackup.Failure(
                    "\(backup.path) is not the file its manifest describes (size or SHA-256 differ)")
            }
            let configurationFile = directory.appendingPathComponent(Configuration.fileName)
            let configuration =
                FileManager.default.fileExists(atPath: configurationFile.path)
                ? try Configuration.loadOrCreate(in: directory) : Configuration.defaults
            guard
                let target = SQLiteBackup.sqlitePath(
                    options.databaseURL ?? configuration.database, directory: directory)
            else {
                throw SQLiteBackup.Failure("restore writes an SQLite database; PostgreSQL is restored by pgBackRest")
            }
            guard !FileManager.default.fileExists(atPath: target.path) else {
                throw SQLiteBackup.Failure(
                    "\(target.path) exists: restore into a data directory without a database, then point the server at it"
                )
            }
            let keyFile = directory.appendingPathComponent(configuration.keyFile)
            for file in [keyFile, IssuerKeyFile.file(in: directory), CredentialKeyFile.file(in: directory)]
            where !FileManager.default.fileExists(atPath: file.path) {
                throw SQLiteBackup.Failure(
                    "\(file.path) is missing: copy the key files kept with the backup into \(directory.appendingPathComponent("keys").path)/ first; the backup does not hold them"
                )
            }
            let keys = try SQLiteBackup.keyChecks(
                keyFile: keyFile, issuerFile: IssuerKeyFile.file(in: directory),
                credentialFile: CredentialKeyFile.file(in: directory))
            if let mismatch = SQLiteBackup.keyMismatch(
                manifest, personal: keys.personal, issuer: keys.issuer, credential: keys.credential)
            {
                throw SQLiteBackup.Failure("refused: \(mismatch)")
            }
            try FileManager.default.createDirectory(
                at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try SQLiteBackup.copy(from: backup, to: target)
            do {
                try await Self.verify(options, expectedSequence: manifest.auditSequence)
            } catch {
                try? FileManager.default.removeItem(at: target)
                throw error
            }
            say(
                "Restored \(backup.path) (made \(manifest.createdAt), audit entries up to #\(manifest.auditSequence)) to \(target.path); its personal data opens with this directory's keys."
            )
        } catch let failure as SQLiteBackup.Failure {
            throw CommandFailure(description: failure.description)
        }
    }

    /// Opens the restored database (migrations bring an older backup up to date) and unseals the
    /// first persons' data with the directory's keys.
    static func verify(_ options: StoreOptions, expectedSequence: Int64) async throws {
        let runtime = try await Runtime.open(options, logger: Logger(label: "citizencard.restore"))
        let persons = try await runtime.store.persons(after: nil, limit: 20)
        for person in persons {
            do {
                _ = try runtime.env.vault.open(person.details, personID: person.id)
            } catch {
                throw SQLiteBackup.Failure(
                    "refused: a restored person's data does not open with this directory's keys")
            }
        }
        let chain = try await runtime.store.verifyAuditChain()
        guard chain.firstBad == nil, chain.entriesChecked == expectedSequence else {
            throw SQLiteBackup.Failure(
                "the restored audit trail does not verify or does not end where the manifest says (#\(expectedSequence))"
            )
        }
        try await runtime.store.close()
    }
}

import CardCrypto
import CommandSupport
import Credentials
import Crypto
import DataProtection
package import Foundation
import GRDB
import OwnerOnlyFiles

#if canImport(Glibc)
    import Glibc
#endif

/// Backups of an SQLite database (issue 22; docs/operations.md): a consistent copy made through
/// SQLite's online backup API while the server serves, with a manifest that names the keys that
/// open it; and its restore into a data directory of its own, refused without those keys.
///
/// The key files are not in the backup, on purpose: a backup and the keys that open it must not
/// travel together. The manifest carries each key's check value (never the key), so that a
/// restore can tell that the data directory holds the keys the database was sealed with.
/// PostgreSQL is backed up by pgBackRest, not by this.
package enum SQLiteBackup {
    /// What a backup holds and which keys open it: FILE.manifest.json beside the backup.
    package struct Manifest: Codable, Equatable {
        package var format = 1
        package var createdAt: String
        package var source: String
        package var bytes: Int64
        package var sha256: String
        /// The newest audit entry in the backup: what it covers.
        package var auditSequence: Int64
        /// Personal-data keys (by id, and `index`), issuer master keys (`type/version`) and
        /// credential signing keys (key id): check values, never keys.
        package var personalDataKeys: [String: String]
        package var issuerKeys: [String: String]
        package var credentialKeys: [String]

        package init(
            createdAt: String, source: String, bytes: Int64, sha256: String, auditSequence: Int64,
            personalDataKeys: [String: String], issuerKeys: [String: String], credentialKeys: [String]
        ) {
            self.createdAt = createdAt
            self.source = source
            self.bytes = bytes
            self.sha256 = sha256
            self.auditSequence = auditSequence
            self.personalDataKeys = personalDataKeys
            self.issuerKeys = issuerKeys
            self.credentialKeys = credentialKeys
        }
    }

    package struct Failure: Error, CustomStringConvertible {
        package var description: String
        package init(_ description: String) { self.description = description }
    }

    /// The SQLite file a database URL names, relative paths inside `directory`; nil for another
    /// kind of database.
    package static func sqlitePath(_ url: String?, directory: URL) -> URL? {
        let text = url ?? "sqlite:citizencard.sqlite"
        guard text.hasPrefix("sqlite:") else { return nil }
        var path = String(text.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        guard !path.isEmpty else { return nil }
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : directory.appendingPathComponent(path)
    }

    package static func manifestURL(of backup: URL) -> URL {
        backup.deletingLastPathComponent().appendingPathComponent(backup.lastPathComponent + ".manifest.json")
    }

    /// The check values of the key files in `directory/keys` as the configuration names them.
    package static func keyChecks(
        keyFile: URL, issuerFile: URL, credentialFile: URL
    ) throws(Failure) -> (personal: [String: String], issuer: [String: String], credential: [String]) {
        let personal: [String: String]
        do {
            personal = try KeyRing.load(from: keyFile).checkValues
        } catch {
            throw Failure("cannot read the personal-data keys \(keyFile.path): \(error)")
        }
        var issuer: [String: String] = [:]
        do {
            let ring = try IssuerKeyring.load(from: issuerFile)
            for id in ring.keyIDs {
                let value = try ring.masterKey(id.type, version: id.version).checkValue(.tripleDES)
                issuer["\(id.type.rawValue)/\(String(format: "%02X", id.version))"] = Hex.encode(value)
            }
        } catch {
            throw Failure("cannot read the issuer keys \(issuerFile.path): \(error)")
        }
        let credential: [String]
        do {
            credential = try CredentialKeyring.load(from: credentialFile).entries.map { Hex.encode($0.keyID) }.sorted()
        } catch {
            throw Failure("cannot read the credential keys \(credentialFile.path): \(error)")
        }
        return (personal, issuer, credential)
    }

    /// Copies the database at `source` to `destination` in one read transaction of the online
    /// backup API (a consistent snapshot, whatever the server writes meanwhile), as a single file
    /// (journal mode DELETE) of mode 0600, written under a temporary name and renamed.
    package static func copy(from source: URL, to destination: URL) throws(Failure) {
        let temporary = destination.deletingLastPathComponent().appendingPathComponent(
            ".\(destination.lastPathComponent).\(getpid()).tmp")
        try? FileManager.default.removeItem(at: temporary)
        do {
            var configuration = GRDB.Configuration()
            configuration.busyMode = .timeout(30)
            let from = try DatabaseQueue(path: source.path, configuration: configuration)
            guard
                FileManager.default.createFile(
                    atPath: temporary.path, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw Failure("cannot write \(temporary.path)") }
            let to = try DatabaseQueue(path: temporary.path)
            try from.backup(to: to)
            try to.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try to.close()
            try from.close()
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: temporary.path)
            // rename(2) replaces an existing file atomically.
            guard rename(temporary.path, destination.path) == 0 else {
                throw Failure("cannot move the copy to \(destination.path): \(String(cString: strerror(errno)))")
            }
        } catch let failure as Failure {
            try? FileManager.default.removeItem(at: temporary)
            throw failure
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw Failure("the backup failed: \(error)")
        }
    }

    /// SHA-256 of a file, in hex, read in 1-MiB pieces.
    package static func sha256(of url: URL) throws(Failure) -> (digest: String, bytes: Int64) {
        guard let handle = try? FileHandle(forReadingFrom: url) else { throw Failure("cannot read \(url.path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes: Int64 = 0
        while true {
            let piece: Data?
            do {
                piece = try handle.read(upToCount: 1 << 20)
            } catch {
                throw Failure("cannot read \(url.path)")
            }
            // End of file: nil or empty, by platform.
            guard let piece, !piece.isEmpty else { break }
            hasher.update(data: piece)
            bytes += Int64(piece.count)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), bytes)
    }

    /// The newest audit sequence number and `PRAGMA quick_check` of a database file.
    package static func inspect(_ url: URL) throws(Failure) -> (auditSequence: Int64, healthy: Bool) {
        do {
            var configuration = GRDB.Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: url.path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                let check = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? ""
                let sequence = try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM audit_log") ?? 0
                return (sequence, check == "ok")
            }
        } catch {
            throw Failure("\(url.path) is not a CitizenCard database: \(error)")
        }
    }

    /// Why a data directory's keys do not open a backup; nil when every key the backup names is
    /// there with the same check value (a ring rotated since has more keys; that is fine).
    package static func keyMismatch(
        _ manifest: Manifest, personal: [String: String], issuer: [String: String], credential: [String]
    ) -> String? {
        let missingPersonal = manifest.personalDataKeys.filter { personal[$0.key] != $0.value }.keys.sorted()
        if !missingPersonal.isEmpty {
            return
                "the personal-data keys of this data directory do not open the backup (missing or different: \(missingPersonal.joined(separator: ", ")))"
        }
        let missingIssuer = manifest.issuerKeys.filter { issuer[$0.key] != $0.value }.keys.sorted()
        if !missingIssuer.isEmpty {
            return
                "the issuer master keys differ from the backup's (missing or different: \(missingIssuer.joined(separator: ", ")))"
        }
        let missingCredential = Set(manifest.credentialKeys).subtracting(credential)
        if !missingCredential.isEmpty {
            return "the credential signing keys differ from the backup's (\(missingCredential.count) missing)"
        }
        return nil
    }

    package static func writeManifest(_ manifest: Manifest, to url: URL) throws(Failure) {
        do {
            try OwnerOnlyFile.writeJSON(manifest, to: url)
        } catch {
            throw Failure("cannot write \(url.path)")
        }
    }

    package static func readManifest(_ url: URL) throws(Failure) -> Manifest {
        guard let data = try? Data(contentsOf: url) else {
            throw Failure("the backup's manifest \(url.path) is missing: it names the keys that open the backup")
        }
        guard let manifest = try? JSONDecoder().decode(Manifest.self, from: data), manifest.format == 1 else {
            throw Failure("\(url.path) is not a backup manifest")
        }
        return manifest
    }
}

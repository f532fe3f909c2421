import CitizenCardTesting
import Foundation
import Testing

/// `citizencard backup` and `restore` on SQLite, through the binary (issue 22): a backup made
/// while the server serves holds exactly what was committed before it; it restores only into a
/// data directory without a database that holds the keys that open it; a changed backup file or
/// a PostgreSQL database is refused.
@Suite("Backup and restore (SQLite)", .serialized)
struct BackupRestoreTests {
    static let sqlite = ["--database", "sqlite:citizencard.sqlite"]
    /// The commands of this test use SQLite even when the suite runs on PostgreSQL.
    static let environment = ["CITIZENCARD_PASSWORD": "backup-test-password-1", "CITIZENCARD_DATABASE_URL": ""]

    @Test(
        "a backup made while serving restores into a new data directory with exactly what came before it, and only with its keys"
    )
    func backupWhileServing() async throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let server = try Server(
            directory: scratch.url, arguments: ["--demo-persons", "3", "--no-demo-bank"] + Self.sqlite,
            environment: Self.environment)
        defer { server.stop() }
        func run(_ arguments: [String]) throws -> Binary.Result {
            try scratch.run(arguments, environment: Self.environment)
        }

        // The first operation, the backup while the server serves, then the second operation.
        let first = try run(["staff", "add", "backup.first", "--role", "auditor", "--data", data] + Self.sqlite)
        #expect(first.status == 0, "\(first.errors)")
        try FileManager.default.createDirectory(at: scratch.file("backups"), withIntermediateDirectories: true)
        let file = scratch.file("backups/citizencard-backup.sqlite")
        let made = try run(["backup", "--out", file.path, "--data", data] + Self.sqlite)
        #expect(made.status == 0, "\(made.output)\(made.errors)")
        #expect(made.output.contains("The key files are NOT in the backup"), "\(made.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try await server.send("GET", "/health").status == 200, "the server served on")
        let second = try run(["staff", "add", "backup.second", "--role", "auditor", "--data", data] + Self.sqlite)
        #expect(second.status == 0, "\(second.errors)")
        server.stop()

        // Into a data directory without the keys: refused, nothing written.
        let restored = scratch.file("restored")
        let noKeys = try run(["restore", "--from", file.path, "--data", restored.path] + Self.sqlite)
        #expect(noKeys.status != 0 && noKeys.errors.contains("copy the key files"), "\(noKeys.errors)")
        #expect(!FileManager.default.fileExists(atPath: restored.appendingPathComponent("citizencard.sqlite").path))

        // With keys of another installation: refused.
        let other = try run(["migrate", "--data", restored.path, "--database", "sqlite:other.sqlite"])
        #expect(other.status == 0, "\(other.errors)")
        let otherKeys = try run(["restore", "--from", file.path, "--data", restored.path] + Self.sqlite)
        #expect(otherKeys.status != 0 && otherKeys.errors.contains("do not open the backup"), "\(otherKeys.errors)")
        #expect(!FileManager.default.fileExists(atPath: restored.appendingPathComponent("citizencard.sqlite").path))

        // With the backup's keys: restored; it holds the first operation and not the second.
        let keys = restored.appendingPathComponent("keys")
        try FileManager.default.removeItem(at: keys)
        try FileManager.default.copyItem(at: scratch.file("data/keys"), to: keys)
        let done = try run(["restore", "--from", file.path, "--data", restored.path] + Self.sqlite)
        #expect(done.status == 0 && done.output.contains("Restored"), "\(done.output)\(done.errors)")
        let verify = try run(["audit", "verify", "--data", restored.path] + Self.sqlite)
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
        let again = try Server(
            directory: restored.deletingLastPathComponent(), arguments: Self.sqlite, environment: Self.environment,
            dataDirectory: restored)
        defer { again.stop() }
        #expect(!(try await again.login("backup.first", password: "backup-test-password-1")).isEmpty)
        let missing = try await again.send(
            "POST", "/api/v1/auth/login", json: #"{"username":"backup.second","password":"backup-test-password-1"}"#)
        #expect(missing.status == 401, "the second operation came after the backup")
        again.stop()

        // Never over an existing database; never a changed file; never a PostgreSQL database.
        let over = try run(["restore", "--from", file.path, "--data", restored.path] + Self.sqlite)
        #expect(over.status != 0 && over.errors.contains("exists"), "\(over.errors)")
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        let changed = try run(["restore", "--from", file.path, "--data", scratch.file("third").path] + Self.sqlite)
        #expect(changed.status != 0 && changed.errors.contains("not the file its manifest describes"))
        let postgres = try run([
            "backup", "--out", scratch.file("pg.backup").path, "--data", data, "--database",
            "postgres://citizencard@127.0.0.1:1/none",
        ])
        #expect(postgres.status != 0 && postgres.errors.contains("pgBackRest"), "\(postgres.errors)")
        let noManifest = try run([
            "restore", "--from", scratch.file("nothing.sqlite").path, "--data", scratch.file("fourth").path,
        ])
        #expect(noManifest.status != 0 && noManifest.errors.contains("manifest"), "\(noManifest.errors)")
    }

    /// Whether pgBackRest and the PostgreSQL server binaries are here, and the suite runs on
    /// PostgreSQL (the recovery test runs in that pass only).
    static var pointInTimeAvailable: Bool {
        Backend.preferred == .postgres && FileManager.default.isExecutableFile(atPath: "/usr/bin/pgbackrest")
    }

    /// `scripts/pg-pitr.sh` with `arguments`; its standard output, trimmed.
    static func pitr(_ arguments: [String]) throws -> String { try Scripts.run("pg-pitr.sh", arguments) }

    @Test(
        "PostgreSQL: pgBackRest restores to a moment between two operations and finds exactly the first",
        .enabled(if: pointInTimeAvailable))
    func pointInTime() async throws {
        let scratch = try Scratch()
        // The cluster runs as the postgres user: a directory it may enter, outside the scratch.
        let cluster = "/tmp/citizencard-pitr-\(UUID().uuidString)"
        defer {
            _ = try? Self.pitr(["stop", cluster])
            try? FileManager.default.removeItem(atPath: cluster)
        }
        let url = try Self.pitr(["start", cluster, "\(try FakeVPCD.unusedPort())"])
        let data = scratch.file("data").path
        let environment = ["CITIZENCARD_PASSWORD": "pitr-test-password-1", "CITIZENCARD_DATABASE_URL": url]
        func run(_ arguments: [String]) throws -> Binary.Result {
            try scratch.run(arguments + ["--data", data], environment: environment)
        }
        let first = try run(["staff", "add", "pitr.first", "--role", "auditor"])
        #expect(first.status == 0, "\(first.errors)")
        let target = try Self.pitr(["now", cluster])
        try await Task.sleep(for: .milliseconds(1_100))
        let second = try run(["staff", "add", "pitr.second", "--role", "auditor"])
        #expect(second.status == 0, "\(second.errors)")
        // Every WAL segment so far is in the archive; then the server is lost and restored.
        _ = try Self.pitr(["archive", cluster])
        let started = ContinuousClock.now
        let restored = try Self.pitr(["restore", cluster, target, "\(try FakeVPCD.unusedPort())"])
        let seconds =
            Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        print("point-in-time recovery: restore and replay to \(target) took \(String(format: "%.1f", seconds)) s")
        let verify = try scratch.run(
            ["audit", "verify", "--data", data, "--database", restored], environment: environment)
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
        let server = try Server(
            directory: scratch.url, arguments: ["--database", restored], environment: environment)
        defer { server.stop() }
        #expect(!(try await server.login("pitr.first", password: "pitr-test-password-1")).isEmpty)
        let missing = try await server.send(
            "POST", "/api/v1/auth/login", json: #"{"username":"pitr.second","password":"pitr-test-password-1"}"#)
        #expect(missing.status == 401, "the second operation came after the recovery target")
    }
}

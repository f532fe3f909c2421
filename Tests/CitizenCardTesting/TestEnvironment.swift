public import CardCrypto
public import CitizenCardDomain
public import CitizenCardServices
public import DataProtection
public import Storage
import StoragePostgres
import StorageSQLite
public import Foundation
public import Logging
import HummingbirdBcrypt

/// A clock that stands still until a test moves it.
public final class TestClock: Clock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Timestamp

    public init(_ start: Timestamp = Timestamp(iso8601: "2026-03-02T09:00:00+08:00")!) { current = start }

    public func now() -> Timestamp { lock.withLock { current } }

    public func advance(seconds: Int64) { lock.withLock { current = current.adding(seconds: seconds) } }
    public func advance(days: Int) { advance(seconds: Int64(days) * 86_400) }
    public func set(_ time: Timestamp) { lock.withLock { current = time } }
}

/// Ids `00000000-0000-7000-8000-000000000001`, `…02` …: predictable and sorted by creation.
public final class SequentialIDs: IdentifierGenerator, @unchecked Sendable {
    private let lock = NSLock()
    private var counter: UInt64 = 0

    public init() {}

    public func next() -> String {
        let value = lock.withLock {
            counter += 1
            return counter
        }
        let hex = String(value, radix: 16)
        return "00000000-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }
}

/// Collects log lines in memory so that tests can search them (for personal data, say).
public final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    public init() {}

    public var text: String { lock.withLock { lines.joined(separator: "\n") } }

    func append(_ line: String) { lock.withLock { lines.append(line) } }

    public func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { label in CaptureHandler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }

    struct CaptureHandler: LogHandler {
        let label: String
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            capture.append("\(event.level) \(label): \(event.message) \(fields)")
        }
    }
}

/// A temporary directory removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init(_ prefix: String = "citizencard-test") {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

/// The storage backends the tests run on. SQLite always; PostgreSQL when
/// `CITIZENCARD_TEST_POSTGRES_URL` names a database (each store gets a schema of its own there).
public enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public static var allCases: [Backend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// `postgres://user@host:port/database` of a database the tests may fill with schemas.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["CITIZENCARD_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The backend of `TestWorld` by default: `CITIZENCARD_TEST_BACKEND=postgres` runs the use-case,
    /// HTTP and end-to-end tests on PostgreSQL.
    public static var preferred: Backend {
        ProcessInfo.processInfo.environment["CITIZENCARD_TEST_BACKEND"] == "postgres" && postgresURL != nil
            ? .postgres : .sqlite
    }

    public var description: String { rawValue }

    /// A database URL for a fresh, empty store: a new SQLite file in `directory`, or a new schema.
    public func freshURL(in directory: TemporaryDirectory) -> String {
        switch self {
        case .sqlite: return "sqlite:" + directory.file("test.sqlite").path
        case .postgres:
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            return Backend.postgresURL! + (Backend.postgresURL!.contains("?") ? "&" : "?") + "schema=\(schema)"
        }
    }

    /// A fresh, empty, migrated store.
    public func makeStore(
        in directory: TemporaryDirectory, connectionsMax: Int = 4
    ) async throws -> any CitizenCardStore {
        try await makeStore(url: freshURL(in: directory), connectionsMax: connectionsMax)
    }

    /// The store at `url` (from `freshURL`), migrated.
    public func makeStore(url: String, connectionsMax: Int = 4) async throws -> any CitizenCardStore {
        switch self {
        case .sqlite:
            return try SQLiteStore(path: String(url.dropFirst("sqlite:".count)))
        case .postgres:
            var logger = Logger(label: "test.postgres")
            logger.logLevel = .error
            return try await PostgresStore.connect(url: url, logger: logger, connectionsMax: connectionsMax)
        }
    }

    /// Every byte the backend keeps for the store at `url`: the SQLite file with its WAL, or a
    /// `pg_dump` of the PostgreSQL schema (data as the server stores it, in its text form).
    public func rawContents(url: String) throws -> Data {
        switch self {
        case .sqlite:
            let path = String(url.dropFirst("sqlite:".count))
            var raw = Data()
            for suffix in ["", "-wal", "-shm"] {
                raw.append((try? Data(contentsOf: URL(fileURLWithPath: path + suffix))) ?? Data())
            }
            return raw
        case .postgres:
            let parts = url.components(separatedBy: "?schema=")
            let bin =
                (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last
                .map { "/usr/lib/postgresql/\($0)/bin/pg_dump" } ?? "pg_dump"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: bin)
            process.arguments = ["--data-only", "--schema=\(parts[1])", parts[0]]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return data
        }
    }
}

/// A complete environment on a fresh store, with a test clock, sequential ids, captured logs and
/// fast bcrypt; `seedReferenceData` adds rules, fees, two outlets and staff.
public struct TestWorld: Sendable {
    public let directory: TemporaryDirectory
    public let env: ServiceEnvironment
    public let clock: TestClock
    public let logs: LogCapture
    public let keyRing: KeyRing

    public var store: any CitizenCardStore { env.store }

    public let backend: Backend
    /// The database URL of the store (`sqlite:PATH` or `postgres://…?schema=…`).
    public let databaseURL: String

    public init(backend: Backend = .preferred, connectionsMax: Int = 4) async throws {
        self.backend = backend
        directory = TemporaryDirectory()
        databaseURL = backend.freshURL(in: directory)
        clock = TestClock()
        logs = LogCapture()
        keyRing = KeyRing.generate(createdAt: "test")
        env = ServiceEnvironment(
            store: try await backend.makeStore(url: databaseURL, connectionsMax: connectionsMax),
            vault: PersonVault(keyRing: keyRing), clock: clock, ids: SequentialIDs(), passwordCost: 4,
            issuerKeys: .testKeys(), logger: logs.logger())
    }

    /// Staff of the seeded world.
    public struct Staff: Sendable {
        public var admin: Actor
        public var clerk: Actor
        public var supervisor: Actor
        /// An operator of the second outlet.
        public var otherClerk: Actor
        public var otherSupervisor: Actor
        /// A member of the commission (approves grants) and an auditor.
        public var commissioner: Actor
        public var auditor: Actor
        public var outlet: Outlet
        public var otherOutlet: Outlet
    }

    public static let password = "correct horse battery"

    /// The regulation's rules, the demo fee schedule, outlets DH01 and PT01 and their staff.
    public func seedReferenceData() async throws -> Staff {
        var changes = ChangeSet()
        let start = Timestamp(iso8601: "2012-03-10T00:00:00+08:00")!
        for rule in Eligibility.regulationRules(from: start.calendarDate(), ids: env.ids) {
            changes.add(.insertEligibilityRule(rule))
        }
        for entry in FeeSchedule.demo(from: start) { changes.add(.insertFeeEntry(entry)) }
        let outlet = Outlet(
            id: env.ids.make(), code: "DH01", name: "Dinghai Hall", nameZh: "定海服务大厅", regionCode: "330902",
            address: "定海区")
        let other = Outlet(
            id: env.ids.make(), code: "PT01", name: "Putuo Hall", nameZh: "普陀服务大厅", regionCode: "330903", address: "普陀区"
        )
        changes.add(.insertOutlet(outlet))
        changes.add(.insertOutlet(other))
        let hash = Bcrypt.hash(Self.password, cost: 4)
        func staff(_ name: String, _ role: Role, _ outletID: Outlet.ID?) -> Operator {
            Operator(
                id: env.ids.make(), username: name, displayName: name, role: role, outletID: outletID,
                passwordHash: hash)
        }
        let members = [
            staff("admin", .administrator, nil), staff("clerk", .outletOperator, outlet.id),
            staff("supervisor", .supervisor, outlet.id), staff("other.clerk", .outletOperator, other.id),
            staff("other.supervisor", .supervisor, other.id), staff("commissioner", .commissioner, nil),
            staff("auditor", .auditor, nil),
        ]
        for member in members { changes.add(.insertOperator(member)) }
        try await env.store.commit(changes)
        return Staff(
            admin: Actor(members[0]), clerk: Actor(members[1]), supervisor: Actor(members[2]),
            otherClerk: Actor(members[3]), otherSupervisor: Actor(members[4]), commissioner: Actor(members[5]),
            auditor: Actor(members[6]), outlet: outlet, otherOutlet: other)
    }
}

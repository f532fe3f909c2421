public import Storage
import StorageSQL
import Foundation
public import CitizenCardDomain
public import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Metrics

/// The server backend: PostgreSQL through a PostgresNIO connection pool.
///
/// `commit` runs one transaction (READ COMMITTED); version-guarded updates re-check their guard
/// after waiting for a row lock, so of concurrent conflicting commits exactly one wins and the rest
/// fail with `conflict`. Serialisation failures and deadlocks are retried a bounded number of times
/// and then reported as `conflict`. Audit entries are chained under a row lock on their lane of `audit_heads`,
/// taken last in the transaction so that it is held as briefly as possible.
public final class PostgresStore: CitizenCardStore, @unchecked Sendable {
    /// The pool of the primary: of the one host, or of the primary among several (failover).
    let pool: PrimaryPool
    var client: PostgresClient { pool.client }
    let logger: Logger
    public let description: String
    let metrics = StoreMetrics(backend: "postgres")

    /// Transactions retried after a serialisation failure or a deadlock before giving up.
    public static let retryCountMax = 5

    /// Connects to `url` (`postgres://user:password@host:port/database`, optional `?schema=NAME`;
    /// several hosts as libpq takes them, `host1:port1,host2:port2`, of which the primary is used),
    /// and applies pending migrations.
    /// - Parameter connectSeconds: how long the first connection may take before the database is
    ///   reported unavailable (the pool itself would keep retrying).
    public static func connect(
        url: String, logger: Logger, connectionsMax: Int = 20, connectSeconds: Int = 10
    )
        async throws(StorageError) -> PostgresStore
    {
        let parsed = try PostgresURL(url)
        let tls = try parsed.tls()
        let makeConfiguration: @Sendable (PostgresURL.Host) throws(StorageError) -> PostgresClient.Configuration = {
            host in
            var configuration = PostgresClient.Configuration(
                host: host.name, port: host.port, username: parsed.user, password: parsed.password,
                database: parsed.database, tls: tls)
            configuration.options.maximumConnections = connectionsMax
            if let schema = parsed.schema {
                configuration.options.additionalStartupParameters = [("search_path", schema)]
            }
            return configuration
        }
        Gauge(label: "citizencard_db_pool_connections_max", dimensions: [("backend", "postgres")]).record(
            connectionsMax)
        var first = parsed.hosts[0]
        if parsed.hosts.count > 1 {
            // The primary among the hosts; the first that answers as one.
            let finder = try PrimaryPool(
                hosts: parsed.hosts, first: first, logger: logger, makeConfiguration: makeConfiguration)
            var found: PostgresURL.Host?
            let deadline = ContinuousClock.now + .seconds(connectSeconds)
            while found == nil && ContinuousClock.now < deadline {
                for host in parsed.hosts where found == nil {
                    if await finder.isPrimary(host) { found = host }
                }
                if found == nil { try? await Task.sleep(for: .milliseconds(250)) }
            }
            await finder.close()
            guard let found else {
                throw .unavailable(reason: "no primary among \(parsed.redacted) within \(connectSeconds) s")
            }
            first = found
        }
        let pool = try PrimaryPool(
            hosts: parsed.hosts, first: first, logger: logger, makeConfiguration: makeConfiguration)
        let client = pool.client
        let store = PostgresStore(pool: pool, logger: logger, description: parsed.redacted)
        pool.startMonitor()
        // Let the pool's run loop start before the first lease (it warns otherwise).
        for _ in 0..<20 { await Task.yield() }
        do {
            // The first connection, with a deadline: the pool alone would keep retrying.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await client.query("SELECT 1") }
                group.addTask {
                    try await Task.sleep(for: .seconds(connectSeconds))
                    throw StorageError.unavailable(
                        reason: "no connection to \(parsed.redacted) within \(connectSeconds) s"
                            + (["prefer", "disable"].contains(parsed.sslMode)
                                ? "" : " (sslmode=\(parsed.sslMode): does the server offer TLS with that certificate?)")
                    )
                }
                try await group.next()
                group.cancelAll()
            }
            if let schema = parsed.schema {
                try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""))
            }
            try await store.migrate()
        } catch {
            await pool.close()
            throw Self.mapped(error)
        }
        return store
    }

    init(pool: PrimaryPool, logger: Logger, description: String) {
        self.pool = pool
        self.logger = logger
        self.description = description
    }

    public func close() async throws {
        await pool.close()
    }

    /// `error` as a `StorageError`; a sign that the primary is lost starts the search for it.
    func failed(_ error: any Error) -> StorageError {
        pool.lost(error)
        return Self.mapped(error)
    }

    // MARK: Migrations

    func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time per schema, whichever process starts first.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(330900, hashtext(current_schema()))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at bigint NOT NULL)",
                logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger)
                .decode(String.self)
            {
                applied.insert(name)
            }
            for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                let now = Int64(Date().timeIntervalSince1970)
                try await connection.query(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (\(migration.name), \(now))",
                    logger: logger)
            }
        }
        try await ensureAuditPartitions(around: Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970)))
    }

    /// The names of the migrations applied, in order.
    public func appliedMigrations() async throws(StorageError) -> [String] {
        try await reading("SELECT name FROM schema_migrations ORDER BY name") { try $0.string("name") }
    }

    /// Creates the monthly audit partitions from three months before `time` to twelve after. Safe
    /// to call at any time; the server calls it at start and daily.
    public func ensureAuditPartitions(around time: Timestamp) async throws {
        let date = time.utcDateAndSecond.0
        var year = date.year, month = date.month - 3
        if month < 1 { (year, month) = (year - 1, month + 12) }
        for partition in PostgresSchema.partitionStatements(from: year, month: month, count: 16) {
            do {
                try await client.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(partition.name) PARTITION OF audit_log
                            FOR VALUES FROM (\(partition.start)) TO (\(partition.end))
                            """), logger: logger)
            } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23514" {
                // Rows of that month sit in the default partition already; leave them there.
                logger.notice(
                    "audit partition skipped: rows of its month are in the default partition",
                    metadata: ["partition": "\(partition.name)"])
            }
        }
    }

    // MARK: Errors

    /// The error that made a transaction fail: the closure's, else the commit's or the begin's.
    static func underlying(_ error: any Error) -> any Error {
        guard let failed = error as? PostgresTransactionError else { return error }
        return failed.closureError ?? failed.commitError ?? failed.beginError ?? error
    }

    static func mapped(_ error: any Error) -> StorageError {
        let error = underlying(error)
        if let error = error as? StorageError { return error }
        guard let error = error as? PSQLError else {
            return .unavailable(reason: "\(type(of: error))")
        }
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else {
            return .unavailable(reason: "postgres \(error.code)")
        }
        switch state {
        case "23505":
            return .duplicate(uniqueRule(constraint: error.serverInfo?[.constraintName] ?? ""))
        case "40001", "40P01":
            return .conflict(entity: "database")
        case "CC409":
            // `citizencard_refuse` in a statement that checks its own preconditions.
            return .conflict(entity: error.serverInfo?[.message] ?? "database")
        case "53300", "57P03", "08006", "08001", "57P01":
            return .unavailable(reason: "postgres \(state)")
        default:
            if state.hasPrefix("23") { return .corrupt(reason: "constraint failed (\(state))") }
            if state.hasPrefix("22") { return .invalidValue }
            return .unavailable(reason: "postgres \(state)")
        }
    }

    static func uniqueRule(constraint: String) -> StorageError.UniqueRule {
        switch constraint {
        case "persons_id_index", "person_id_claims_pkey": .personIDNumber
        case "cards_one_per_slot": .cardSlot
        case "cards_number", "cards_asn": .cardNumber
        case "receipts_number_key": .receiptNumber
        case "production_batches_number_key": .batchNumber
        case "outlets_code_key": .outletCode
        case "operators_username_key": .operatorUsername
        case "idempotency_records_pkey": .idempotencyKey
        case "eligibility_rules_code_from", "eligibility_rules_pkey": .eligibilityRule
        case "fee_entries_pkey": .feeEntry
        case "purse_loads_counter": .purseLoadCounter
        case "merchants_code_key": .merchantCode
        case "terminals_number_key": .terminalNumber
        case "terminals_psam_serial_key": .psamSerial
        case "purchase_batches_terminal_id_number_key", "purchase_batches_pkey": .purchaseBatch
        case "offline_purchases_card_counter", "offline_purchases_psam_serial": .purchaseRecord
        case "clearing_results_pkey": .clearingResult
        case "purse_closures_pkey": .purseClosure
        case "query_credentials_pkey": .queryCredential
        case "catalogue_entries_pkey": .serviceCode
        case "service_activations_card_service": .serviceActivation
        case "departments_code_key": .departmentCode
        case "department_clients_certificate_subject_key": .certificateSubject
        case "department_keys_key_hash_key", "department_keys_pkey": .departmentKey
        case "feed_messages_pkey": .feedMessage
        case "card_cases_open": .cardCase
        case "card_holds_pkey": .cardHold
        case "card_status_indexes_pkey", "card_status_indexes_idx_key": .statusIndex
        case "status_list_publications_pkey": .statusListVersion
        case "credential_uses_pkey": .credentialUse
        case "banks_pkey": .bankCode
        case "bank_accounts_pkey": .bankAccount
        case "bank_accounts_number_index_key": .bankAccountNumber
        case "bank_inbound_notices_pkey": .bankInboundNotice
        case "bank_notices_notice_id_key", "bank_notices_card_id_sequence_key": .bankNotice
        case "refund_payees_pkey": .refundPayee
        case "legacy_cards_number", "legacy_cards_pkey": .legacyCard
        case "suspense_decisions_pkey", "suspense_decisions_card": .suspenseDecision
        default: .other
        }
    }

    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = underlying(error) as? PSQLError, let state = error.serverInfo?[.sqlState] else {
            return false
        }
        return state == "40001" || state == "40P01"
    }

    /// Runs `body` in a transaction, retrying serialisation failures and deadlocks.
    func transaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    )
        async throws(StorageError) -> T
    {
        try await retrying {
            try await self.client.withTransaction(logger: self.logger) { connection in try await body(connection) }
        }
    }

    /// Runs one self-contained statement outside an explicit transaction (it commits by itself),
    /// retried like a transaction on serialisation failures and deadlocks.
    func statement<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    )
        async throws(StorageError) -> T
    {
        try await retrying { try await self.client.withConnection { connection in try await body(connection) } }
    }

    /// Runs `attempt` again after a serialisation failure or a deadlock, up to `retryCountMax`
    /// times with a short random pause; any other error, or the last one, as a `StorageError`.
    func retrying<T>(_ attempt: () async throws -> T) async throws(StorageError) -> T {
        // While the primary is being looked for, at once: 503 and Retry-After, not a long wait.
        if pool.searching { throw .unavailable(reason: "the database primary is being switched") }
        var failures = 0
        while true {
            do {
                return try await attempt()
            } catch {
                failures += 1
                guard Self.isRetryable(error) && failures <= Self.retryCountMax else { throw failed(error) }
                try? await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * failures))))
            }
        }
    }

    // MARK: Reading

    /// Runs a query and maps each row.
    func reading<T>(_ query: PostgresQuery, _ map: (Columns) throws -> T) async throws(StorageError) -> [T] {
        if pool.searching { throw .unavailable(reason: "the database primary is being switched") }
        do {
            var result: [T] = []
            for try await row in try await client.query(query, logger: logger) {
                result.append(try map(Columns(row.makeRandomAccess())))
            }
            return result
        } catch {
            throw failed(error)
        }
    }
}

/// Named, typed access to the columns of a PostgreSQL row.
struct Columns: RowReader {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRandomAccessRow) { self.row = row }

    func string(_ name: String) throws -> String { try row[name].decode(String.self, context: .default) }
    func optionalString(_ name: String) throws -> String? { try row[name].decode(String?.self, context: .default) }
    func int(_ name: String) throws -> Int64 { try row[name].decode(Int64.self, context: .default) }
    func optionalInt(_ name: String) throws -> Int64? { try row[name].decode(Int64?.self, context: .default) }
    func bool(_ name: String) throws -> Bool { try row[name].decode(Bool.self, context: .default) }
    func data(_ name: String) throws -> Data {
        Data(try row[name].decode(ByteBuffer.self, context: .default).readableBytesView)
    }
    func optionalData(_ name: String) throws -> Data? {
        try row[name].decode(ByteBuffer?.self, context: .default).map { Data($0.readableBytesView) }
    }
}

/// `postgres://user:password@host:port/database?schema=NAME`, parsed; `redacted` hides the password.
/// Several hosts as libpq takes them: `host1:port1,host2:port2` (the store uses the primary;
/// `target_session_attrs` may say `read-write` or `primary`, which is what it does anyway).
struct PostgresURL {
    struct Host: Hashable, Sendable, CustomStringConvertible {
        var name: String
        var port: Int
        var description: String { "\(name):\(port)" }
    }

    var user: String
    var password: String?
    var hosts: [Host]
    var host: String { hosts[0].name }
    var port: Int { hosts[0].port }
    var database: String
    var schema: String?
    /// libpq's `sslmode`: disable, prefer (the default: encrypted when the server offers it),
    /// require (encrypted, certificate not checked), verify-ca, verify-full (certificate and host
    /// name checked against the system's roots or `sslrootcert`).
    var sslMode = "prefer"
    var sslRootCertificate: String?

    static let sslModes = ["disable", "prefer", "require", "verify-ca", "verify-full"]

    init(_ text: String) throws(StorageError) {
        // Several hosts: URLComponents takes one, so the URL is read with the first and the
        // others are parsed from the authority here.
        var single = text
        var extra: [Host] = []
        if let schemeEnd = text.range(of: "://") {
            let rest = text[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            let at = authority.lastIndex(of: "@")
            let hostList = at.map { authority[authority.index(after: $0)...] } ?? authority[...]
            let parts = hostList.split(separator: ",", omittingEmptySubsequences: false)
            if parts.count > 1 {
                guard parts.count <= 8 else { throw .unavailable(reason: "at most 8 hosts") }
                for part in parts.dropFirst() {
                    let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
                    guard (1...2).contains(pieces.count), !pieces[0].isEmpty,
                        pieces[0].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "@") }),
                        pieces.count == 1 || (Int(pieces[1]).map { (1...65535).contains($0) } ?? false)
                    else { throw .unavailable(reason: "expected host1:port1,host2:port2 in the URL") }
                    extra.append(Host(name: String(pieces[0]), port: pieces.count == 2 ? Int(pieces[1])! : 5432))
                }
                single.replaceSubrange(
                    hostList.startIndex..<hostList.endIndex, with: parts[0])
            }
        }
        guard let components = URLComponents(string: single),
            ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty, let user = components.user, !user.isEmpty
        else { throw .unavailable(reason: "expected postgres://user[:password]@host[:port]/database") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .unavailable(reason: "the URL names no database") }
        self.user = user
        self.password = components.password
        self.hosts = [Host(name: host, port: components.port ?? 5432)] + extra
        guard Set(hosts).count == hosts.count else { throw .unavailable(reason: "a host is named twice") }
        self.database = database
        if let schema = components.queryItems?.first(where: { $0.name == "schema" })?.value {
            guard !schema.isEmpty,
                schema.utf8.allSatisfy({
                    $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0)
                })
            else { throw .unavailable(reason: "schema must be lowercase letters, digits and _") }
            self.schema = schema
        }
        if let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value {
            guard Self.sslModes.contains(mode) else {
                throw .unavailable(reason: "sslmode must be one of \(Self.sslModes.joined(separator: ", "))")
            }
            sslMode = mode
        }
        sslRootCertificate = components.queryItems?.first(where: { $0.name == "sslrootcert" })?.value
        if let attributes = components.queryItems?.first(where: { $0.name == "target_session_attrs" })?.value,
            !["read-write", "primary"].contains(attributes)
        {
            throw .unavailable(reason: "target_session_attrs must be read-write or primary: the store writes")
        }
        for item in components.queryItems ?? []
        where !["schema", "sslmode", "sslrootcert", "target_session_attrs"].contains(item.name) {
            throw .unavailable(
                reason: "unknown URL parameter \(item.name) (schema, sslmode, sslrootcert, target_session_attrs)")
        }
    }

    func tls() throws(StorageError) -> PostgresClient.Configuration.TLS {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case "disable": return .disable
        case "prefer", "require": configuration.certificateVerification = .none
        case "verify-ca": configuration.certificateVerification = .noHostnameVerification
        default: configuration.certificateVerification = .fullVerification
        }
        if let sslRootCertificate {
            guard FileManager.default.isReadableFile(atPath: sslRootCertificate) else {
                throw .unavailable(reason: "sslrootcert \(sslRootCertificate) cannot be read")
            }
            configuration.trustRoots = .file(sslRootCertificate)
        }
        return sslMode == "prefer" ? .prefer(configuration) : .require(configuration)
    }

    var redacted: String {
        let list = hosts.map(\.description).joined(separator: ",")
        return "PostgreSQL \(user)@\(list)/\(database)\(schema.map { " schema \($0)" } ?? "")"
    }
}

extension PostgresStore: SchemaDescribing {
    public func describeSchema() async throws(StorageError) -> SchemaDescription {
        let columns = try await reading(
            """
            SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d, is_nullable::text AS n
            FROM information_schema.columns WHERE table_schema = current_schema()
            """
        ) { (try $0.string("t"), try $0.string("c"), try $0.string("d"), try $0.string("n") == "YES") }
        // Primary keys and unique rules, from constraints and from unique indexes alike.
        let uniques = try await reading(
            """
            SELECT t.relname::text AS t, i.indisprimary AS p,
                array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(n, o)
                    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o), ',') AS c
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace s ON s.oid = t.relnamespace
            WHERE s.nspname = current_schema() AND i.indisunique
            """
        ) { (try $0.string("t"), try $0.bool("p"), try $0.string("c").split(separator: ",").map(String.init)) }
        var tables: [String: SchemaDescription.Table] = [:]
        for name in SchemaDescription.applicationTables.union(SchemaDescription.postgresOnlyTables) {
            var table = SchemaDescription.Table(columns: [:], primaryKey: [], uniques: [])
            for (owner, column, type, nullable) in columns where owner == name {
                table.columns[column] = .init(family: SchemaDescription.family(postgres: type), nullable: nullable)
            }
            for (owner, primary, names) in uniques where owner == name {
                if primary { table.primaryKey = names } else { table.uniques.insert(names.sorted()) }
            }
            tables[name] = table
        }
        return SchemaDescription(tables: tables)
    }
}

public import Storage
import StorageSQL
import Foundation
import CitizenCardDomain
import GRDB

/// The embedded backend: one SQLite file in WAL mode through GRDB, the default for trying the
/// system out and for small deployments.
///
/// Writes go through GRDB's single writer connection, so commits are serialised; version guards
/// make a commit decided on stale data fail with `conflict` instead of overwriting.
public final class SQLiteStore: CitizenCardStore, @unchecked Sendable {
    let pool: DatabasePool
    public let path: String
    let metrics = StoreMetrics(backend: "sqlite")

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    /// - Parameter cacheMebibytes: SQLite page cache per connection; a bulk import of a city's
    ///   population wants its indexes in memory (the command line gives it 256).
    public init(path: String, cacheMebibytes: Int = 32) throws(StorageError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // FULL: a committed fee or card change survives a power cut, not just a crash.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(cacheMebibytes * 1024)")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try SQLiteSchema.migrator.migrate(pool)
        } catch {
            throw Self.mapped(error)
        }
    }

    /// The names of the migrations applied, in order.
    public func appliedMigrations() async throws(StorageError) -> [String] {
        try await read { db in try SQLiteSchema.migrator.appliedMigrations(db) }
    }

    public func close() async throws {
        try pool.close()
    }

    // MARK: Plumbing

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await pool.read(body)
        } catch {
            throw Self.mapped(error)
        }
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(StorageError) -> T {
        do {
            return try await pool.write(body)
        } catch {
            throw Self.mapped(error)
        }
    }

    static func mapped(_ error: any Error) -> StorageError {
        if let error = error as? StorageError { return error }
        guard let error = error as? DatabaseError else {
            return .unavailable(reason: String(describing: type(of: error)))
        }
        switch error.extendedResultCode {
        case .SQLITE_CONSTRAINT_UNIQUE, .SQLITE_CONSTRAINT_PRIMARYKEY:
            return .duplicate(uniqueRule(from: error.message ?? ""))
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return .unavailable(reason: "database is locked")
        case .SQLITE_FULL:
            return .unavailable(reason: "disk full")
        default:
            if error.resultCode == .SQLITE_CONSTRAINT {
                return .corrupt(reason: "constraint failed (\(error.extendedResultCode.rawValue))")
            }
            return .unavailable(reason: "sqlite error \(error.extendedResultCode.rawValue)")
        }
    }

    /// SQLite names the columns of the broken unique index: `UNIQUE constraint failed: cards.person_id, cards.slot`.
    static func uniqueRule(from message: String) -> StorageError.UniqueRule {
        let rules: [(String, StorageError.UniqueRule)] = [
            ("persons.id_index", .personIDNumber), ("cards.person_id, cards.slot", .cardSlot),
            ("cards.number", .cardNumber), ("cards.asn", .cardNumber), ("receipts.number", .receiptNumber),
            ("production_batches.number", .batchNumber), ("outlets.code", .outletCode),
            ("operators.username", .operatorUsername), ("idempotency_records.key", .idempotencyKey),
            ("eligibility_rules.", .eligibilityRule), ("fee_entries.", .feeEntry),
            ("purse_loads.card_id, purse_loads.online_counter", .purseLoadCounter),
            ("merchants.code", .merchantCode), ("terminals.number", .terminalNumber),
            ("terminals.psam_serial", .psamSerial), ("purchase_batches.", .purchaseBatch),
            ("offline_purchases.asn", .purchaseRecord), ("offline_purchases.psam_serial", .purchaseRecord),
            ("clearing_results.", .clearingResult), ("purse_closures.", .purseClosure),
            ("query_credentials.", .queryCredential), ("catalogue_entries.", .serviceCode),
            ("service_activations.card_id, service_activations.service_code", .serviceActivation),
            ("departments.code", .departmentCode), ("department_clients.certificate_subject", .certificateSubject),
            ("department_keys.", .departmentKey), ("feed_messages.", .feedMessage), ("card_cases.", .cardCase),
            ("card_holds.", .cardHold), ("card_status_indexes.", .statusIndex),
            ("status_list_publications.", .statusListVersion), ("credential_uses.", .credentialUse),
            ("banks.code", .bankCode), ("bank_accounts.card_id", .bankAccount),
            ("bank_accounts.number_index", .bankAccountNumber), ("bank_inbound_notices.", .bankInboundNotice),
            ("bank_notices.", .bankNotice), ("refund_payees.", .refundPayee),
            ("suspense_decisions.", .suspenseDecision), ("legacy_cards.kind, legacy_cards.number", .legacyCard),
            ("legacy_cards.id", .legacyCard),
        ]
        return rules.first { message.contains($0.0) }?.1 ?? .other
    }

    // MARK: Commit

    public func commit(_ changes: ChangeSet) async throws(StorageError) {
        guard !changes.isEmpty else { return }
        try await metrics.commit { () async throws(StorageError) in
            try await write { db in
                for change in changes.changes { try Self.apply(change, db) }
                try Self.append(changes.audit, db)
            }
        }
    }

    public func allocate(_ sequence: SequenceName, count: Int) async throws(StorageError) -> Int64 {
        precondition(count > 0)
        return try await write { db in
            try db.execute(
                sql: "UPDATE sequences SET value = value + ? WHERE name = ?", arguments: [count, sequence.rawValue])
            let last = try Int64.fetchOne(
                db, sql: "SELECT value FROM sequences WHERE name = ?", arguments: [sequence.rawValue])!
            return last - Int64(count) + 1
        }
    }

    public func importPersons(
        _ persons: [SealedPerson], audit: AuditDraft
    ) async throws(StorageError)
        -> [PersonImportOutcome]
    {
        // In blind-index order: neighbouring rows land on neighbouring index pages.
        // Equal indexes keep file order, so the first of two rows with one ID number is the one inserted.
        let order = persons.indices.sorted { a, b in
            persons[a].idIndex == persons[b].idIndex
                ? a < b : persons[a].idIndex.lexicographicallyPrecedes(persons[b].idIndex)
        }
        return try await write { db in
            let insert = try db.cachedStatement(sql: Self.insertPersonSQL + " ON CONFLICT (id_index) DO NOTHING")
            let existing = try db.cachedStatement(sql: "SELECT id, fingerprint FROM persons WHERE id_index = ?")
            var outcomes = [PersonImportOutcome](repeating: .inserted, count: persons.count)
            for position in order {
                let person = persons[position]
                try insert.execute(arguments: Self.arguments(person))
                if db.changesCount == 1 { continue }
                let row = try Row.fetchOne(existing, arguments: [person.idIndex])!
                let id = Person.ID(rawValue: row["id"])
                let fingerprint: Data = row["fingerprint"]
                outcomes[position] = fingerprint == person.fingerprint ? .unchanged(id) : .differs(id)
            }
            try Self.append([audit], db)
            return outcomes
        }
    }

    /// Writes one change: the statements `Writes` has for it, or SQLite's own form of a transfer
    /// or of an upload's rows.
    static func apply(_ change: ChangeSet.Change, _ db: Database) throws {
        switch try Writes.plan(change, dialect: .sqlite) {
        case .steps(let steps):
            for step in steps { try execute(step, db) }
        case .transfer(let transfer, let policy):
            try post(transfer, policy: policy, db)
        case .bulk(let bulk):
            try applyBulk(bulk, db)
        }
    }

    /// Runs a statement of `Writes` (prepared once per connection and text) and checks the rows it
    /// touched.
    static func execute(_ step: WriteStep, _ db: Database) throws {
        let (text, values) = step.sql.rendered(.sqlite)
        try db.cachedStatement(sql: text).execute(arguments: StatementArguments(values.map(\.databaseValue)))
        if let failure = step.failure(touched: db.changesCount) { throw failure }
    }

    /// Chains and appends audit entries after the head of their lane, then moves the head.
    static func append(_ drafts: [AuditDraft], _ db: Database) throws {
        guard !drafts.isEmpty else { return }
        let lane = AuditChain.lane(of: drafts, count: SQLiteSchema.auditLaneCount)
        let head = try Row.fetchOne(
            db, sql: "SELECT sequence, hash FROM audit_heads WHERE lane = ?", arguments: [lane])!
        var sequence: Int64 = head["sequence"]
        var previous: Data = head["hash"]
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO audit_log (lane, sequence, at, actor, action, subject, person_id, purpose, detail,
                    previous_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for draft in drafts {
            sequence += 1
            let hash = AuditChain.hash(previous: previous, sequence: sequence, draft: draft)
            try insert.execute(arguments: [
                lane, sequence, draft.at.secondsSinceEpoch, draft.actor, draft.action, draft.subject,
                draft.personID?.rawValue, draft.purpose, draft.detail, previous, hash,
            ])
            previous = hash
        }
        try db.execute(
            sql: "UPDATE audit_heads SET sequence = ?, hash = ? WHERE lane = ?", arguments: [sequence, previous, lane])
    }

    static let insertPersonSQL = """
        INSERT INTO persons (id, id_index, fingerprint, details, household, social_insurance, rural_medical,
            life_status, version, changed_at, changed_by, change_reason, change_source, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func arguments(_ person: SealedPerson) -> StatementArguments {
        [
            person.id.rawValue, person.idIndex, person.fingerprint, person.details,
            person.attributes.household.rawValue, person.attributes.socialInsurance, person.attributes.ruralMedical,
            person.attributes.lifeStatus.rawValue, person.version, person.provenance.at.secondsSinceEpoch,
            person.provenance.actor, person.provenance.reason, person.provenance.source.rawValue,
            person.createdAt.secondsSinceEpoch,
        ]
    }
}

extension SQLiteStore: SchemaDescribing {
    public func describeSchema() async throws(StorageError) -> SchemaDescription {
        try await read { db in
            var tables: [String: SchemaDescription.Table] = [:]
            for name in SchemaDescription.applicationTables {
                var columns: [String: SchemaDescription.Column] = [:]
                var key: [(Int, String)] = []
                for row in try Row.fetchAll(
                    db, sql: "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)", arguments: [name])
                {
                    let column: String = row["name"]
                    let primary: Int = row["pk"]
                    // A PRIMARY KEY column is NOT NULL whether or not it says so (WITHOUT ROWID and
                    // declared NOT NULL here; SQLite's rowid tables would allow NULL otherwise).
                    let notNull: Bool = row["notnull"]
                    columns[column] = .init(
                        family: SchemaDescription.family(sqlite: row["type"]), nullable: !notNull && primary == 0)
                    if primary > 0 { key.append((primary, column)) }
                }
                var uniques = Set<[String]>()
                for index in try Row.fetchAll(
                    db, sql: "SELECT name, origin, partial FROM pragma_index_list(?) WHERE \"unique\" = 1",
                    arguments: [name])
                {
                    let indexName: String = index["name"]
                    let origin: String = index["origin"]
                    if origin == "pk" { continue }
                    let names = try String.fetchAll(
                        db, sql: "SELECT name FROM pragma_index_info(?) ORDER BY seqno", arguments: [indexName])
                    uniques.insert(names.sorted())
                }
                tables[name] = .init(
                    columns: columns, primaryKey: key.sorted { $0.0 < $1.0 }.map(\.1), uniques: uniques)
            }
            return SchemaDescription(tables: tables)
        }
    }
}

extension SQLiteStore {
    /// `Rows.purseLoadColumns` order.
    static func purseLoadValues(_ load: PurseLoad) -> [(any DatabaseValueConvertible)?] {
        [
            load.id.rawValue, load.cardID.rawValue, load.outletID.rawValue, load.actor, load.amount.fen,
            load.funding.rawValue, load.onlineCounter, load.balanceBefore.fen, load.keyVersion, load.algorithmID,
            load.terminalID, load.transactionTime,
            load.mac2, load.tac, load.status.rawValue, load.approvedAt.secondsSinceEpoch,
            load.resolvedAt?.secondsSinceEpoch, load.resolution, load.version,
        ]
    }

}

extension SQLValue {
    /// The value as GRDB binds it: booleans as 0 and 1.
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .integer(let value): value.databaseValue
        case .text(let value): value.databaseValue
        case .blob(let value): value.databaseValue
        case .boolean(let value): value.databaseValue
        case .real(let value): value.databaseValue
        }
    }
}

public import Foundation
public import CitizenCardDomain
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

    static func apply(_ change: ChangeSet.Change, _ db: Database) throws {
        if try applyAcquiring(change, db) { return }
        if try applyPortal(change, db) { return }
        switch change {
        case .insertPerson(let person):
            try db.execute(sql: insertPersonSQL, arguments: arguments(person))
        case .updatePerson(let person, let expected):
            precondition(person.version > expected)
            try db.execute(
                sql: """
                    INSERT INTO person_versions (person_id, version, id_index, fingerprint, details, household,
                        social_insurance, rural_medical, life_status, changed_at, changed_by, change_reason,
                        change_source, created_at)
                    SELECT id, version, id_index, fingerprint, details, household, social_insurance, rural_medical,
                        life_status, changed_at, changed_by, change_reason, change_source, created_at
                    FROM persons WHERE id = ? AND version = ?
                    """, arguments: [person.id.rawValue, expected])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "person") }
            try db.execute(
                sql: """
                    UPDATE persons SET id_index = ?, fingerprint = ?, details = ?, household = ?,
                        social_insurance = ?, rural_medical = ?, life_status = ?, version = ?, changed_at = ?,
                        changed_by = ?, change_reason = ?, change_source = ?
                    WHERE id = ? AND version = ?
                    """,
                arguments: [
                    person.idIndex, person.fingerprint, person.details, person.attributes.household.rawValue,
                    person.attributes.socialInsurance, person.attributes.ruralMedical,
                    person.attributes.lifeStatus.rawValue, person.version, person.provenance.at.secondsSinceEpoch,
                    person.provenance.actor, person.provenance.reason, person.provenance.source.rawValue,
                    person.id.rawValue, expected,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "person") }
        case .insertPhoto(let photo):
            try db.execute(
                sql: "INSERT INTO photos (id, person_id, media_type, content, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    photo.id.rawValue, photo.personID.rawValue, photo.mediaType, photo.content,
                    photo.createdAt.secondsSinceEpoch,
                ])
        case .insertCard(let card):
            try db.execute(sql: CardRow.insertSQL, arguments: CardRow.arguments(card))
        case .updateCard(let card, let expected):
            precondition(card.version > expected)
            try db.execute(sql: CardRow.updateSQL, arguments: CardRow.updateArguments(card, expectedVersion: expected))
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "card") }
        case .insertCancellationDocument(let cardID, let sealed):
            try db.execute(
                sql: "INSERT INTO cancellation_documents (card_id, sealed) VALUES (?, ?)",
                arguments: [cardID.rawValue, sealed])
        case .sealLegacyCancellationDocument(let cardID, let masked, let sealed):
            try db.execute(
                sql: "INSERT INTO cancellation_documents (card_id, sealed) VALUES (?, ?) ON CONFLICT DO NOTHING",
                arguments: [cardID.rawValue, sealed])
            if db.changesCount == 1 {
                try db.execute(
                    sql: "UPDATE cards SET cancel_document = ? WHERE id = ?", arguments: [masked, cardID.rawValue])
            }
        case .appendCardEvent(let event):
            try db.execute(
                sql: """
                    INSERT INTO card_events (card_id, sequence, action, from_state, to_state, at, actor, outlet_id,
                        reason, receipt_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    event.cardID.rawValue, event.sequence, event.action.rawValue, event.from.rawValue,
                    event.to.rawValue, event.at.secondsSinceEpoch, event.actor, event.outletID?.rawValue,
                    event.reason, event.receiptID?.rawValue,
                ])
        case .insertBatch(let batch):
            try db.execute(
                sql: """
                    INSERT INTO production_batches (id, number, state, card_count, created_at, created_by,
                        produced_at, delivered_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    batch.id.rawValue, batch.number, batch.state.rawValue, batch.cardCount,
                    batch.createdAt.secondsSinceEpoch, batch.createdBy, batch.producedAt?.secondsSinceEpoch,
                    batch.deliveredAt?.secondsSinceEpoch, batch.version,
                ])
        case .updateBatch(let batch, let expected):
            try db.execute(
                sql: """
                    UPDATE production_batches SET state = ?, card_count = ?, produced_at = ?, delivered_at = ?,
                        version = ? WHERE id = ? AND version = ?
                    """,
                arguments: [
                    batch.state.rawValue, batch.cardCount, batch.producedAt?.secondsSinceEpoch,
                    batch.deliveredAt?.secondsSinceEpoch, batch.version, batch.id.rawValue, expected,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "production batch") }
        case .insertReceipt(let receipt):
            try db.execute(
                sql: """
                    INSERT INTO receipts (id, number, at, outlet_id, operator_id, person_id, card_id, item,
                        amount_fen, payment_method) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    receipt.id.rawValue, receipt.number, receipt.at.secondsSinceEpoch, receipt.outletID.rawValue,
                    receipt.operatorID.rawValue, receipt.personID.rawValue, receipt.cardID.rawValue,
                    receipt.item.rawValue, receipt.amount.fen, receipt.paymentMethod.rawValue,
                ])
        case .insertOutlet(let outlet):
            try db.execute(
                sql: "INSERT INTO outlets (id, code, name, name_zh, region_code, address) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    outlet.id.rawValue, outlet.code, outlet.name, outlet.nameZh, outlet.regionCode, outlet.address,
                ])
        case .insertOperator(let staff):
            try db.execute(
                sql: """
                    INSERT INTO operators (id, username, display_name, role, outlet_id, password_hash, active)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    staff.id.rawValue, staff.username, staff.displayName, staff.role.rawValue,
                    staff.outletID?.rawValue, staff.passwordHash, staff.active,
                ])
        case .updateOperator(let staff):
            try db.execute(
                sql: """
                    UPDATE operators SET display_name = ?, role = ?, outlet_id = ?, password_hash = ?, active = ?
                    WHERE id = ?
                    """,
                arguments: [
                    staff.displayName, staff.role.rawValue, staff.outletID?.rawValue, staff.passwordHash, staff.active,
                    staff.id.rawValue,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "operator") }
        case .insertSession(let session):
            try db.execute(
                sql: "INSERT INTO sessions (token_hash, operator_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                arguments: [
                    session.tokenHash, session.operatorID.rawValue, session.createdAt.secondsSinceEpoch,
                    session.expiresAt.secondsSinceEpoch,
                ])
        case .deleteSession(let tokenHash):
            try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [tokenHash])
        case .deleteSessions(let operatorID, let keeping):
            try db.execute(
                sql: "DELETE FROM sessions WHERE operator_id = ? AND token_hash IS NOT ?",
                arguments: [operatorID.rawValue, keeping])
        case .insertFeeEntry(let entry):
            try db.execute(
                sql: "INSERT INTO fee_entries (item, effective_from, amount_fen, authority) VALUES (?, ?, ?, ?)",
                arguments: [
                    entry.item.rawValue, entry.effectiveFrom.secondsSinceEpoch, entry.amount.fen, entry.authority,
                ])
        case .insertEligibilityRule(let rule):
            try db.execute(
                sql: """
                    INSERT INTO eligibility_rules (id, code, title, title_zh, criteria, effective_from,
                        effective_until) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: try ruleArguments(rule))
        case .updateEligibilityRule(let rule):
            var arguments = try ruleArguments(rule)
            arguments += [rule.id.rawValue]
            try db.execute(
                sql: """
                    UPDATE eligibility_rules SET id = ?, code = ?, title = ?, title_zh = ?, criteria = ?,
                        effective_from = ?, effective_until = ? WHERE id = ?
                    """, arguments: arguments)
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "eligibility rule") }
        case .saveIdempotencyRecord(let record):
            try db.execute(
                sql:
                    "INSERT INTO idempotency_records (key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    record.key, record.requestHash, record.status, record.response, record.createdAt.secondsSinceEpoch,
                ])
        case .putSetting(let key, let value):
            try db.execute(
                sql:
                    "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                arguments: [key, value])
        case .postTransfer(let transfer, let policy):
            try post(transfer, policy: policy, db)
        case .insertPurseLoad(let load):
            let columns = Rows.purseLoadColumns
            try db.execute(
                sql:
                    "INSERT INTO purse_loads (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))",
                arguments: StatementArguments(purseLoadValues(load)))
        case .updatePurseLoad(let load, let expected):
            try db.execute(
                sql: """
                    UPDATE purse_loads SET tac = ?, status = ?, resolved_at = ?, resolution = ?, version = ?
                    WHERE id = ? AND version = ?
                    """,
                arguments: [
                    load.tac, load.status.rawValue, load.resolvedAt?.secondsSinceEpoch, load.resolution, load.version,
                    load.id.rawValue, expected,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "load") }
        default:
            preconditionFailure("applied by applyAcquiring or applyPortal")
        }
    }

    static func ruleArguments(_ rule: EligibilityRule) throws -> StatementArguments {
        let criteria = String(decoding: try JSONEncoder.sorted.encode(rule.criteria), as: UTF8.self)
        return [
            rule.id.rawValue, rule.code, rule.title, rule.titleZh, criteria, rule.effectiveFrom.iso8601,
            rule.effectiveUntil?.iso8601,
        ]
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

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
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

    public func purseLoad(id: PurseLoad.ID) async throws(StorageError) -> PurseLoad? {
        try await rows("SELECT * FROM purse_loads WHERE id = ?", [id.rawValue]) { try Rows.purseLoad($0) }.first
    }

    public func purseLoads(cardID: Card.ID) async throws(StorageError) -> [PurseLoad] {
        try await rows("SELECT * FROM purse_loads WHERE card_id = ? ORDER BY approved_at, id", [cardID.rawValue]) {
            try Rows.purseLoad($0)
        }
    }

    public func purseLoads(status: PurseLoad.Status, limit: Int) async throws(StorageError) -> [PurseLoad] {
        try await rows(
            "SELECT * FROM purse_loads WHERE status = ? ORDER BY approved_at, id LIMIT ?", [status.rawValue, limit]
        ) { try Rows.purseLoad($0) }
    }
}

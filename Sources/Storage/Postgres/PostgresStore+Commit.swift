import Foundation
import CitizenCardDomain
import NIOCore
import PostgresNIO

extension PostgresStore {
    public func commit(_ changes: ChangeSet) async throws(StorageError) {
        guard !changes.isEmpty else { return }
        let logger = self.logger
        // The most common commit — one card's guarded update, its event and the audit — is one
        // statement, atomic by itself: no BEGIN and COMMIT round trips.
        if changes.changes.count == 2, !changes.audit.isEmpty,
            case .updateCard(let card, let expected) = changes.changes[0],
            case .appendCardEvent(let event) = changes.changes[1], event.cardID == card.id
        {
            let lane = Int64(AuditChain.lane(of: changes.audit, count: PostgresSchema.auditLaneCount))
            let statement = PostgresCardRow.update(
                card, expectedVersion: expected, event: event, audit: changes.audit, lane: lane)
            try await metrics.commit { () async throws(StorageError) in
                try await self.statement { connection in
                    var count = 0
                    for try await _ in try await connection.execute(statement, logger: logger) { count += 1 }
                    guard count == 1 else { throw StorageError.conflict(entity: "card") }
                }
            }
            return
        }
        try await metrics.commit { () async throws(StorageError) in
            // An uploaded batch: one statement, atomic by itself, unless the ledger refuses it there.
            if let upload = UploadCommit(changes), try await commit(upload, audit: changes.audit) == .committed {
                return
            }
            try await commitChangeByChange(changes)
        }
    }

    /// Every change in turn, between BEGIN and COMMIT.
    func commitChangeByChange(_ changes: ChangeSet) async throws(StorageError) {
        let logger = self.logger
        try await transaction { connection in
            var pending = changes.changes[...]
            while let change = pending.popFirst() {
                // A card's update and its event: one statement, one round trip.
                if case .updateCard(let card, let expected) = change,
                    case .appendCardEvent(let event)? = pending.first,
                    event.cardID == card.id
                {
                    pending.removeFirst()
                    try await Self.expectOne(
                        connection, PostgresCardRow.update(card, expectedVersion: expected, event: event),
                        entity: "card", logger)
                    continue
                }
                try await Self.apply(change, connection, logger)
            }
            try await Self.append(changes.audit, connection, logger)
        }
    }

    public func allocate(_ sequence: SequenceName, count: Int) async throws(StorageError) -> Int64 {
        precondition(count > 0)
        let rows = try await reading(
            "UPDATE sequences SET value = value + \(Int64(count)) WHERE name = \(sequence.rawValue) RETURNING value"
        ) { try $0.int("value") }
        guard let last = rows.first else { throw .corrupt(reason: "sequence \(sequence.rawValue) missing") }
        return last - Int64(count) + 1
    }

    public func importPersons(
        _ persons: [SealedPerson], audit: AuditDraft
    ) async throws(StorageError)
        -> [PersonImportOutcome]
    {
        let logger = self.logger
        return try await transaction { connection in
            // One statement for the whole batch: arrays unnested into rows, in blind-index order.
            let order = persons.indices.sorted { a, b in
                persons[a].idIndex == persons[b].idIndex
                    ? a < b : persons[a].idIndex.lexicographicallyPrecedes(persons[b].idIndex)
            }
            let sorted = order.map { persons[$0] }
            var insertedIndexes = Set<Data>()
            // The claims decide which rows are new (the first of an ID number in the batch wins);
            // exactly those persons are inserted, in the same statement.
            let rows = try await connection.query(
                """
                WITH claimed AS (
                    INSERT INTO person_id_claims (id_index, person_id)
                    SELECT * FROM unnest(\(sorted.map { ByteBuffer(bytes: $0.idIndex) }), \(sorted.map(\.id.rawValue)))
                    ON CONFLICT (id_index) DO NOTHING
                    RETURNING person_id
                )
                INSERT INTO persons (id, id_index, fingerprint, details, household, social_insurance, rural_medical,
                    life_status, version, changed_at, changed_by, change_reason, change_source, created_at)
                SELECT u.* FROM unnest(\(sorted.map(\.id.rawValue)), \(sorted.map { ByteBuffer(bytes: $0.idIndex) }),
                    \(sorted.map { ByteBuffer(bytes: $0.fingerprint) }), \(sorted.map { ByteBuffer(bytes: $0.details) }),
                    \(sorted.map(\.attributes.household.rawValue)), \(sorted.map(\.attributes.socialInsurance)),
                    \(sorted.map(\.attributes.ruralMedical)), \(sorted.map(\.attributes.lifeStatus.rawValue)),
                    \(sorted.map(\.version)), \(sorted.map(\.provenance.at.secondsSinceEpoch)),
                    \(sorted.map(\.provenance.actor)), \(sorted.map(\.provenance.reason)),
                    \(sorted.map(\.provenance.source.rawValue)), \(sorted.map(\.createdAt.secondsSinceEpoch)))
                    AS u (id, id_index, fingerprint, details, household, social_insurance, rural_medical, life_status,
                        version, changed_at, changed_by, change_reason, change_source, created_at)
                JOIN claimed ON claimed.person_id = u.id
                RETURNING id_index
                """, logger: logger)
            for try await index in rows.decode(ByteBuffer.self) {
                insertedIndexes.insert(Data(index.readableBytesView))
            }
            var outcomes = [PersonImportOutcome](repeating: .inserted, count: persons.count)
            let others = Set(persons.map(\.idIndex)).subtracting(insertedIndexes)
            var stored: [Data: (id: Person.ID, fingerprint: Data)] = [:]
            if !others.isEmpty {
                let found = try await connection.query(
                    "SELECT id, id_index, fingerprint FROM persons WHERE id_index = ANY(\(others.map { ByteBuffer(bytes: $0) }))",
                    logger: logger)
                for try await row in found {
                    let columns = Columns(row.makeRandomAccess())
                    stored[try columns.data("id_index")] = (
                        Person.ID(rawValue: try columns.string("id")), try columns.data("fingerprint")
                    )
                }
            }
            for position in order {
                let person = persons[position]
                // The first row of an index inserted now is `inserted`; a later one compares with it.
                if insertedIndexes.contains(person.idIndex) && stored[person.idIndex] == nil {
                    stored[person.idIndex] = (person.id, person.fingerprint)
                    continue
                }
                guard let existing = stored[person.idIndex] else {
                    throw StorageError.corrupt(reason: "import outcome")
                }
                outcomes[position] =
                    existing.fingerprint == person.fingerprint ? .unchanged(existing.id) : .differs(existing.id)
            }
            try await Self.append([audit], connection, logger)
            return outcomes
        }
    }

    static func apply(_ change: ChangeSet.Change, _ connection: PostgresConnection, _ logger: Logger) async throws {
        if try await applyAcquiring(change, connection, logger) { return }
        if try await applyPortal(change, connection, logger) { return }
        switch change {
        case .insertPerson(let person):
            try await connection.query(
                "INSERT INTO person_id_claims (id_index, person_id) VALUES (\(person.idIndex), \(person.id.rawValue))",
                logger: logger)
            try await connection.query(
                """
                INSERT INTO persons (id, id_index, fingerprint, details, household, social_insurance, rural_medical,
                    life_status, version, changed_at, changed_by, change_reason, change_source, created_at)
                VALUES (\(person.id.rawValue), \(person.idIndex), \(person.fingerprint), \(person.details),
                    \(person.attributes.household.rawValue), \(person.attributes.socialInsurance),
                    \(person.attributes.ruralMedical), \(person.attributes.lifeStatus.rawValue), \(person.version),
                    \(person.provenance.at.secondsSinceEpoch), \(person.provenance.actor), \(person.provenance.reason),
                    \(person.provenance.source.rawValue), \(person.createdAt.secondsSinceEpoch))
                """, logger: logger)
        case .updatePerson(let person, let expected):
            precondition(person.version > expected)
            try await expectOne(
                connection,
                """
                INSERT INTO person_versions (person_id, version, id_index, fingerprint, details, household,
                    social_insurance, rural_medical, life_status, changed_at, changed_by, change_reason, change_source,
                    created_at)
                SELECT id, version, id_index, fingerprint, details, household, social_insurance, rural_medical,
                    life_status, changed_at, changed_by, change_reason, change_source, created_at
                FROM persons WHERE id = \(person.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "person", logger)
            try await expectOne(
                connection,
                """
                UPDATE persons SET id_index = \(person.idIndex), fingerprint = \(person.fingerprint),
                    details = \(person.details), household = \(person.attributes.household.rawValue),
                    social_insurance = \(person.attributes.socialInsurance),
                    rural_medical = \(person.attributes.ruralMedical),
                    life_status = \(person.attributes.lifeStatus.rawValue), version = \(person.version),
                    changed_at = \(person.provenance.at.secondsSinceEpoch), changed_by = \(person.provenance.actor),
                    change_reason = \(person.provenance.reason), change_source = \(person.provenance.source.rawValue)
                WHERE id = \(person.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "person", logger)
            // The person's claim follows a changed ID number; another person's claim refuses it.
            var claimed = 0
            for try await _ in try await connection.query(
                """
                INSERT INTO person_id_claims (id_index, person_id) VALUES (\(person.idIndex), \(person.id.rawValue))
                ON CONFLICT (id_index) DO UPDATE SET person_id = excluded.person_id
                    WHERE person_id_claims.person_id = excluded.person_id
                RETURNING 1
                """, logger: logger)
            { claimed += 1 }
            guard claimed == 1 else { throw StorageError.duplicate(.personIDNumber) }
            try await connection.query(
                """
                DELETE FROM person_id_claims
                WHERE person_id = \(person.id.rawValue) AND id_index <> \(person.idIndex)
                """, logger: logger)
        case .insertPhoto(let photo):
            try await connection.query(
                """
                INSERT INTO photos (id, person_id, media_type, content, created_at)
                VALUES (\(photo.id.rawValue), \(photo.personID.rawValue), \(photo.mediaType), \(photo.content),
                    \(photo.createdAt.secondsSinceEpoch))
                """, logger: logger)
        case .insertCard(let card):
            try await connection.query(PostgresCardRow.insert(card), logger: logger)
        case .updateCard(let card, let expected):
            precondition(card.version > expected)
            try await expectOne(
                connection, PostgresCardRow.update(card, expectedVersion: expected), entity: "card", logger)
        case .insertCancellationDocument(let cardID, let sealed):
            try await connection.query(
                "INSERT INTO cancellation_documents (card_id, sealed) VALUES (\(cardID.rawValue), \(sealed))",
                logger: logger)
        case .sealLegacyCancellationDocument(let cardID, let masked, let sealed):
            try await connection.query(
                """
                WITH sealed AS (
                    INSERT INTO cancellation_documents (card_id, sealed) VALUES (\(cardID.rawValue), \(sealed))
                    ON CONFLICT DO NOTHING RETURNING card_id
                )
                UPDATE cards SET cancel_document = \(masked) WHERE id IN (SELECT card_id FROM sealed)
                """, logger: logger)
        case .appendCardEvent(let event):
            try await connection.query(
                """
                INSERT INTO card_events (card_id, sequence, action, from_state, to_state, at, actor, outlet_id, reason,
                    receipt_id)
                VALUES (\(event.cardID.rawValue), \(event.sequence), \(event.action.rawValue), \(event.from.rawValue),
                    \(event.to.rawValue), \(event.at.secondsSinceEpoch), \(event.actor), \(event.outletID?.rawValue),
                    \(event.reason), \(event.receiptID?.rawValue))
                """, logger: logger)
        case .insertBatch(let batch):
            try await connection.query(
                """
                INSERT INTO production_batches (id, number, state, card_count, created_at, created_by, produced_at,
                    delivered_at, version)
                VALUES (\(batch.id.rawValue), \(batch.number), \(batch.state.rawValue), \(Int64(batch.cardCount)),
                    \(batch.createdAt.secondsSinceEpoch), \(batch.createdBy), \(batch.producedAt?.secondsSinceEpoch),
                    \(batch.deliveredAt?.secondsSinceEpoch), \(batch.version))
                """, logger: logger)
        case .updateBatch(let batch, let expected):
            try await expectOne(
                connection,
                """
                UPDATE production_batches SET state = \(batch.state.rawValue), card_count = \(Int64(batch.cardCount)),
                    produced_at = \(batch.producedAt?.secondsSinceEpoch),
                    delivered_at = \(batch.deliveredAt?.secondsSinceEpoch), version = \(batch.version)
                WHERE id = \(batch.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "production batch", logger)
        case .insertReceipt(let receipt):
            try await connection.query(
                """
                INSERT INTO receipts (id, number, at, outlet_id, operator_id, person_id, card_id, item, amount_fen,
                    payment_method)
                VALUES (\(receipt.id.rawValue), \(receipt.number), \(receipt.at.secondsSinceEpoch),
                    \(receipt.outletID.rawValue), \(receipt.operatorID.rawValue), \(receipt.personID.rawValue),
                    \(receipt.cardID.rawValue), \(receipt.item.rawValue), \(receipt.amount.fen),
                    \(receipt.paymentMethod.rawValue))
                """, logger: logger)
        case .insertOutlet(let outlet):
            try await connection.query(
                """
                INSERT INTO outlets (id, code, name, name_zh, region_code, address)
                VALUES (\(outlet.id.rawValue), \(outlet.code), \(outlet.name), \(outlet.nameZh), \(outlet.regionCode),
                    \(outlet.address))
                """, logger: logger)
        case .insertOperator(let staff):
            try await connection.query(
                """
                INSERT INTO operators (id, username, display_name, role, outlet_id, password_hash, active)
                VALUES (\(staff.id.rawValue), \(staff.username), \(staff.displayName), \(staff.role.rawValue),
                    \(staff.outletID?.rawValue), \(staff.passwordHash), \(staff.active))
                """, logger: logger)
        case .updateOperator(let staff):
            try await expectOne(
                connection,
                """
                UPDATE operators SET display_name = \(staff.displayName), role = \(staff.role.rawValue),
                    outlet_id = \(staff.outletID?.rawValue), password_hash = \(staff.passwordHash),
                    active = \(staff.active)
                WHERE id = \(staff.id.rawValue)
                RETURNING 1
                """, entity: "operator", logger)
        case .insertSession(let session):
            try await connection.query(
                """
                INSERT INTO sessions (token_hash, operator_id, created_at, expires_at)
                VALUES (\(session.tokenHash), \(session.operatorID.rawValue), \(session.createdAt.secondsSinceEpoch),
                    \(session.expiresAt.secondsSinceEpoch))
                """, logger: logger)
        case .deleteSession(let tokenHash):
            try await connection.query("DELETE FROM sessions WHERE token_hash = \(tokenHash)", logger: logger)
        case .deleteSessions(let operatorID, let keeping):
            try await connection.query(
                "DELETE FROM sessions WHERE operator_id = \(operatorID.rawValue) AND token_hash IS DISTINCT FROM \(keeping)",
                logger: logger)
        case .insertFeeEntry(let entry):
            try await connection.query(
                """
                INSERT INTO fee_entries (item, effective_from, amount_fen, authority)
                VALUES (\(entry.item.rawValue), \(entry.effectiveFrom.secondsSinceEpoch), \(entry.amount.fen),
                    \(entry.authority))
                """, logger: logger)
        case .insertEligibilityRule(let rule):
            let criteria = String(decoding: try JSONEncoder.sorted.encode(rule.criteria), as: UTF8.self)
            try await connection.query(
                """
                INSERT INTO eligibility_rules (id, code, title, title_zh, criteria, effective_from, effective_until)
                VALUES (\(rule.id.rawValue), \(rule.code), \(rule.title), \(rule.titleZh), \(criteria),
                    \(rule.effectiveFrom.iso8601), \(rule.effectiveUntil?.iso8601))
                """, logger: logger)
        case .updateEligibilityRule(let rule):
            let criteria = String(decoding: try JSONEncoder.sorted.encode(rule.criteria), as: UTF8.self)
            try await expectOne(
                connection,
                """
                UPDATE eligibility_rules SET code = \(rule.code), title = \(rule.title), title_zh = \(rule.titleZh),
                    criteria = \(criteria), effective_from = \(rule.effectiveFrom.iso8601),
                    effective_until = \(rule.effectiveUntil?.iso8601)
                WHERE id = \(rule.id.rawValue)
                RETURNING 1
                """, entity: "eligibility rule", logger)
        case .saveIdempotencyRecord(let record):
            try await connection.query(
                """
                INSERT INTO idempotency_records (key, request_hash, status, response, created_at)
                VALUES (\(record.key), \(record.requestHash), \(Int64(record.status)), \(record.response),
                    \(record.createdAt.secondsSinceEpoch))
                """, logger: logger)
        case .postTransfer(let transfer, let policy):
            try await post(transfer, policy: policy, connection, logger)
        case .insertPurseLoad(let load):
            try await connection.query(
                """
                INSERT INTO purse_loads (id, card_id, outlet_id, actor, amount_fen, funding, online_counter,
                    balance_before_fen, key_version, algorithm_id, terminal_id, transaction_time, mac2, tac, status, approved_at, resolved_at,
                    resolution, version)
                VALUES (\(load.id.rawValue), \(load.cardID.rawValue), \(load.outletID.rawValue), \(load.actor),
                    \(load.amount.fen), \(load.funding.rawValue), \(load.onlineCounter), \(load.balanceBefore.fen),
                    \(load.keyVersion), \(load.algorithmID),
                    \(load.terminalID), \(load.transactionTime), \(load.mac2), \(load.tac), \(load.status.rawValue),
                    \(load.approvedAt.secondsSinceEpoch), \(load.resolvedAt?.secondsSinceEpoch), \(load.resolution),
                    \(load.version))
                """, logger: logger)
        case .updatePurseLoad(let load, let expected):
            try await expectOne(
                connection,
                """
                UPDATE purse_loads SET tac = \(load.tac), status = \(load.status.rawValue),
                    resolved_at = \(load.resolvedAt?.secondsSinceEpoch), resolution = \(load.resolution),
                    version = \(load.version)
                WHERE id = \(load.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "load", logger)
        case .putSetting(let key, let value):
            try await connection.query(
                """
                INSERT INTO settings (key, value) VALUES (\(key), \(value))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, logger: logger)
        default:
            preconditionFailure("applied by applyAcquiring or applyPortal")
        }
    }

    /// Runs a statement with `RETURNING 1` and fails with `conflict` unless it touched exactly one row.
    static func expectOne(
        _ connection: PostgresConnection, _ query: PostgresQuery, entity: String, _ logger: Logger
    )
        async throws
    {
        var count = 0
        for try await _ in try await connection.query(query, logger: logger) { count += 1 }
        guard count == 1 else { throw StorageError.conflict(entity: entity) }
    }

    /// Chains and appends audit entries after the head of their lane, which stays locked until the
    /// commit (`audit_append`, one round trip). Commits about different people take different
    /// lanes and do not wait for each other.
    static func append(_ drafts: [AuditDraft], _ connection: PostgresConnection, _ logger: Logger) async throws {
        guard !drafts.isEmpty else { return }
        let lane = Int64(AuditChain.lane(of: drafts, count: PostgresSchema.auditLaneCount))
        try await connection.query(
            """
            SELECT audit_append(\(lane), \(drafts.map(\.at.secondsSinceEpoch)), \(drafts.map(\.actor)),
                \(drafts.map(\.action)), \(drafts.map(\.subject)), \(drafts.map { $0.personID?.rawValue ?? "" }),
                \(drafts.map(\.purpose)), \(drafts.map(\.detail)))
            """, logger: logger)
    }
}

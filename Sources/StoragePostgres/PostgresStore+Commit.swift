public import Storage
import StorageSQL
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
            case .card(.updateCard(let card, let expected)) = changes.changes[0],
            case .card(.appendCardEvent(let event)) = changes.changes[1], event.cardID == card.id
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
                if case .card(.updateCard(let card, let expected)) = change,
                    case .card(.appendCardEvent(let event))? = pending.first,
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

    /// Writes one change: the statements `Writes` has for it, or PostgreSQL's own form of a
    /// transfer or of an upload's rows.
    static func apply(_ change: ChangeSet.Change, _ connection: PostgresConnection, _ logger: Logger) async throws {
        switch try Writes.plan(change, dialect: .postgres) {
        case .steps(let steps):
            for step in steps { try await execute(step, connection, logger) }
        case .transfer(let transfer, let policy):
            try await post(transfer, policy: policy, connection, logger)
        case .bulk(let bulk):
            try await applyBulk(bulk, connection, logger)
        }
    }

    /// Runs a statement of `Writes` and checks the rows it touched (the command tag's count).
    static func execute(_ step: WriteStep, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let result: EventLoopFuture<PostgresQueryResult> = connection.query(step.sql.postgresQuery, logger: logger)
        let touched = try await result.get().metadata.rows ?? 0
        if let failure = step.failure(touched: touched) { throw failure }
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

extension SQL {
    /// The statement with numbered parameters, NULLs typed.
    var postgresQuery: PostgresQuery {
        let (text, values) = rendered(.postgres)
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null(.integer): binds.append(Int64?.none)
            case .null(.text): binds.append(String?.none)
            case .null(.blob): binds.append(ByteBuffer?.none)
            case .null(.boolean): binds.append(Bool?.none)
            case .null(.real): binds.append(Double?.none)
            case .integer(let value): binds.append(value)
            case .text(let value): binds.append(value)
            case .blob(let value): binds.append(ByteBuffer(bytes: value))
            case .boolean(let value): binds.append(value)
            case .real(let value): binds.append(value)
            }
        }
        return PostgresQuery(unsafeSQL: text, binds: binds)
    }
}

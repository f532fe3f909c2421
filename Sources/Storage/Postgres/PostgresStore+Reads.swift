public import Foundation
public import CitizenCardDomain
import NIOCore
import PostgresNIO

extension PostgresStore {
    static func cap(_ limit: Int) -> Int64 { Int64(min(max(limit, 0), 1000)) }

    // MARK: Persons

    public func person(id: Person.ID) async throws(StorageError) -> SealedPerson? {
        try await reading("SELECT * FROM persons WHERE id = \(id.rawValue)") { try Rows.person($0) }.first
    }

    public func person(idIndex: Data) async throws(StorageError) -> SealedPerson? {
        try await reading("SELECT * FROM persons WHERE id_index = \(ByteBuffer(bytes: idIndex))") {
            try Rows.person($0)
        }.first
    }

    public func personVersions(id: Person.ID) async throws(StorageError) -> [SealedPerson] {
        try await reading("SELECT * FROM person_versions WHERE person_id = \(id.rawValue) ORDER BY version") {
            try Rows.person($0, idColumn: "person_id")
        }
    }

    public func persons(after: Person.ID?, limit: Int) async throws(StorageError) -> [SealedPerson] {
        try await reading(
            "SELECT * FROM persons WHERE id > \(after?.rawValue ?? "") ORDER BY id COLLATE \"C\" LIMIT \(Self.cap(limit))"
        ) { try Rows.person($0) }
    }

    public func personCount() async throws(StorageError) -> Int {
        Int(try await reading("SELECT count(*) AS n FROM persons") { try $0.int("n") }.first ?? 0)
    }

    /// Persons whose ID-number claim is missing or points elsewhere, plus claims without their
    /// person: 0 when `person_id_claims` mirrors `persons` (docs/scaling.md; a nightly check on a
    /// distributed database, where the two live on different shards).
    public func personIDClaimMismatches() async throws(StorageError) -> Int {
        let rows = try await reading(
            """
            SELECT count(*) AS n FROM persons p
            FULL JOIN person_id_claims c ON c.id_index = p.id_index AND c.person_id = p.id
            WHERE p.id IS NULL OR c.person_id IS NULL
            """
        ) { try $0.int("n") }
        return Int(rows.first ?? 0)
    }

    public func photo(id: PhotoID) async throws(StorageError) -> StoredPhoto? {
        try await reading("SELECT * FROM photos WHERE id = \(id.rawValue)") { try Rows.photo($0) }.first
    }

    // MARK: Cards

    func fetchCards(_ rest: String, _ binds: PostgresBindings) async throws(StorageError) -> [Card] {
        try await reading(PostgresQuery(unsafeSQL: "SELECT \(Rows.cardColumns) FROM cards " + rest, binds: binds)) {
            try Rows.card($0)
        }
    }

    static func binds(_ values: [any PostgresDynamicTypeEncodable]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: values.count)
        for value in values { binds.append(value) }
        return binds
    }

    public func card(id: Card.ID) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE id = $1", Self.binds([id.rawValue])).first
    }

    public func cardWithHolderIndex(id: Card.ID) async throws(StorageError) -> (card: Card, holderIndex: Data)? {
        do {
            for try await row in try await client.execute(
                PostgresPrepared.CardWithHolder(id: id.rawValue), logger: logger)
            {
                let columns = Columns(row.makeRandomAccess())
                return (try Rows.card(columns), try columns.data("holder_index"))
            }
            return nil
        } catch {
            throw Self.mapped(error)
        }
    }

    public func card(number: String) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE number = $1", Self.binds([number])).first
    }

    public func cancellationDocument(cardID: Card.ID) async throws(StorageError) -> Data? {
        try await reading("SELECT sealed FROM cancellation_documents WHERE card_id = \(cardID.rawValue)") {
            try $0.data("sealed")
        }.first
    }

    public func cardsWithUnsealedCancellationDocument(limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(Rows.unsealedCancellationDocumentCondition + " $1", Self.binds([Int64(limit)]))
    }

    public func cards(personID: Person.ID) async throws(StorageError) -> [Card] {
        try await fetchCards(
            "WHERE person_id = $1 ORDER BY applied_at, id COLLATE \"C\"", Self.binds([personID.rawValue]))
    }

    public func cards(
        state: CardState, outletID: Outlet.ID?, after: Card.ID?, limit: Int
    ) async throws(StorageError)
        -> [Card]
    {
        if let outletID {
            return try await fetchCards(
                "WHERE state = $1 AND outlet_id = $2 AND id > $3 ORDER BY id COLLATE \"C\" LIMIT $4",
                Self.binds([state.rawValue, outletID.rawValue, after?.rawValue ?? "", Self.cap(limit)]))
        }
        return try await fetchCards(
            "WHERE state = $1 AND id > $2 ORDER BY id COLLATE \"C\" LIMIT $3",
            Self.binds([state.rawValue, after?.rawValue ?? "", Self.cap(limit)]))
    }

    public func cards(batchID: ProductionBatch.ID) async throws(StorageError) -> [Card] {
        try await fetchCards("WHERE batch_id = $1 ORDER BY id COLLATE \"C\"", Self.binds([batchID.rawValue]))
    }

    public func cardsWithTransitionsDue(at time: Timestamp, limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(
            """
            WHERE id IN (
                SELECT id FROM cards WHERE state = 'pre_lost' AND pre_loss_expires_at <= $1
                UNION SELECT id FROM cards WHERE slot = 'held' AND expires_at <= $1
            ) ORDER BY id COLLATE "C" LIMIT $2
            """, Self.binds([time.secondsSinceEpoch, Self.cap(limit)]))
    }

    public func cardEvents(cardID: Card.ID) async throws(StorageError) -> [CardEvent] {
        try await reading("SELECT * FROM card_events WHERE card_id = \(cardID.rawValue) ORDER BY sequence") {
            try Rows.cardEvent($0)
        }
    }

    // MARK: Production, fees, rules, staff

    public func batch(id: ProductionBatch.ID) async throws(StorageError) -> ProductionBatch? {
        try await reading("SELECT * FROM production_batches WHERE id = \(id.rawValue)") { try Rows.batch($0) }.first
    }

    public func batches(limit: Int) async throws(StorageError) -> [ProductionBatch] {
        try await reading(
            "SELECT * FROM production_batches ORDER BY created_at DESC, number DESC LIMIT \(Self.cap(limit))"
        ) { try Rows.batch($0) }
    }

    public func feeEntries() async throws(StorageError) -> [FeeEntry] {
        try await reading("SELECT * FROM fee_entries ORDER BY item, effective_from") { try Rows.feeEntry($0) }
    }

    public func receipt(id: Receipt.ID) async throws(StorageError) -> Receipt? {
        try await reading("SELECT * FROM receipts WHERE id = \(id.rawValue)") { try Rows.receipt($0) }.first
    }

    public func receipts(outletID: Outlet.ID, from: Timestamp, until: Timestamp) async throws(StorageError) -> [Receipt]
    {
        try await reading(
            """
            SELECT * FROM receipts WHERE outlet_id = \(outletID.rawValue) AND at >= \(from.secondsSinceEpoch)
                AND at < \(until.secondsSinceEpoch) ORDER BY at, number
            """
        ) { try Rows.receipt($0) }
    }

    public func eligibilityRules() async throws(StorageError) -> [EligibilityRule] {
        try await reading("SELECT * FROM eligibility_rules ORDER BY code, effective_from") { try Rows.rule($0) }
    }

    public func outlets() async throws(StorageError) -> [Outlet] {
        try await reading("SELECT * FROM outlets ORDER BY code") { try Rows.outlet($0) }
    }

    public func outlet(id: Outlet.ID) async throws(StorageError) -> Outlet? {
        try await reading("SELECT * FROM outlets WHERE id = \(id.rawValue)") { try Rows.outlet($0) }.first
    }

    public func operators() async throws(StorageError) -> [Operator] {
        try await reading("SELECT * FROM operators ORDER BY username") { try Rows.staff($0) }
    }

    public func `operator`(id: Operator.ID) async throws(StorageError) -> Operator? {
        try await reading("SELECT * FROM operators WHERE id = \(id.rawValue)") { try Rows.staff($0) }.first
    }

    public func `operator`(username: String) async throws(StorageError) -> Operator? {
        try await reading("SELECT * FROM operators WHERE username = \(username)") { try Rows.staff($0) }.first
    }

    public func session(tokenHash: Data) async throws(StorageError) -> Session? {
        try await reading("SELECT * FROM sessions WHERE token_hash = \(ByteBuffer(bytes: tokenHash))") {
            try Rows.session($0)
        }.first
    }

    // MARK: Audit

    public func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry] {
        var binds = PostgresBindings()
        var conditions: [String] = []
        for (condition, value) in AuditQuery.conditions(filter) {
            switch value {
            case .text(let text): binds.append(text)
            case .integer(let number): binds.append(number)
            }
            conditions.append("\(condition) $\(binds.count)")
        }
        if let before = filter.before {
            binds.append(before.at.secondsSinceEpoch)
            binds.append(Int64(before.lane))
            binds.append(before.sequence)
            let n = binds.count
            conditions.append(AuditQuery.beforeCondition(("$\(n - 2)", "$\(n - 1)", "$\(n)")))
        }
        binds.append(Self.cap(limit))
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await reading(
            PostgresQuery(
                unsafeSQL: "SELECT * FROM audit_log \(whereClause) \(AuditQuery.order) LIMIT $\(binds.count)",
                binds: binds)
        ) { try Rows.audit($0) }
    }

    public func verifyAuditChain() async throws(StorageError) -> AuditVerification {
        do {
            return try await client.withConnection { connection in
                // One snapshot for the chain and its head.
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                var verifier = AuditChain.Verifier(laneCount: PostgresSchema.auditLaneCount)
                for try await row in try await connection.query(
                    "SELECT * FROM audit_log ORDER BY lane, sequence", logger: logger)
                {
                    if !verifier.check(try Rows.audit(Columns(row.makeRandomAccess()))) { break }
                }
                var heads: [(sequence: Int64, hash: Data)] = []
                for try await row in try await connection.query(
                    "SELECT sequence, hash FROM audit_heads ORDER BY lane", logger: logger)
                {
                    let columns = Columns(row.makeRandomAccess())
                    heads.append((try columns.int("sequence"), try columns.data("hash")))
                }
                try await connection.query("COMMIT", logger: logger)
                return verifier.finish(heads: heads)
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    // MARK: Idempotency and settings

    public func idempotencyRecord(key: String) async throws(StorageError) -> IdempotencyRecord? {
        try await reading("SELECT * FROM idempotency_records WHERE key = \(key)") { try Rows.idempotency($0) }.first
    }

    public func setting(_ key: String) async throws(StorageError) -> String? {
        try await reading("SELECT value FROM settings WHERE key = \(key)") { try $0.string("value") }.first
    }
}

extension PostgresStore {
    public func purseLoad(id: PurseLoad.ID) async throws(StorageError) -> PurseLoad? {
        try await reading("SELECT * FROM purse_loads WHERE id = \(id.rawValue)") { try Rows.purseLoad($0) }.first
    }

    public func purseLoads(cardID: Card.ID) async throws(StorageError) -> [PurseLoad] {
        try await reading(
            "SELECT * FROM purse_loads WHERE card_id = \(cardID.rawValue) ORDER BY approved_at, id COLLATE \"C\""
        ) { try Rows.purseLoad($0) }
    }

    public func purseLoads(status: PurseLoad.Status, limit: Int) async throws(StorageError) -> [PurseLoad] {
        try await reading(
            """
            SELECT * FROM purse_loads WHERE status = \(status.rawValue)
            ORDER BY approved_at, id COLLATE "C" LIMIT \(Int64(limit))
            """
        ) { try Rows.purseLoad($0) }
    }
}

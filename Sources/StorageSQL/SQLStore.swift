public import Storage
public import CitizenCardDomain
public import Foundation

/// A backend that runs `SQL` (issue 17): each backend says how to run a statement and decode its
/// rows; the reads both backends share are written once, in the extensions below, and a backend
/// keeps its own only where the SQL truly differs (arrays of parameters on PostgreSQL and JSON
/// on SQLite, `FOR UPDATE`, snapshots, planner hints), each saying why.
public protocol SQLStore: Sendable {
    var dialect: SQLDialect { get }
    /// The rows of a query, each decoded by `decode` as it is read.
    func fetch<T: Sendable>(
        _ sql: SQL, _ decode: @escaping @Sendable (any RowReader) throws -> T
    ) async throws(StorageError) -> [T]
    /// The rows of several queries read from one snapshot, so that they agree with each other:
    /// `decode` gets the index of the query and a row of it.
    func fetchInSnapshot<T: Sendable>(
        _ queries: [SQL], _ decode: @escaping @Sendable (Int, any RowReader) throws -> T
    ) async throws(StorageError) -> [[T]]
}

extension SQL {
    /// `COLLATE "C"` on PostgreSQL, nothing on SQLite: text ordered by its bytes on both, whatever
    /// the PostgreSQL database's locale (SQLite orders by bytes already).
    public static let byteOrder: SQL = "\(sqlite: "", postgres: " COLLATE \"C\"")"

    /// The cards' columns, for `SELECT … FROM cards`.
    package static let cardColumns = SQL(stringLiteral: Rows.cardColumns)
}

extension AuditChain {
    /// Every entry, by lane then sequence, as `Verifier` takes them.
    package static let entriesInOrder: SQL = "SELECT * FROM audit_log ORDER BY lane, sequence"

    /// The head of every lane, in lane order.
    package static let headsInOrder: SQL = "SELECT sequence, hash FROM audit_heads ORDER BY lane"

    package static func head(_ row: any RowReader) throws -> (sequence: Int64, hash: Data) {
        (try row.int("sequence"), try row.data("hash"))
    }
}

/// Page sizes are clamped to 0…1000 on every list read.
package func capped(_ limit: Int) -> Int64 { Int64(min(max(limit, 0), 1000)) }

// MARK: Persons

extension SQLStore {
    public func person(id: Person.ID) async throws(StorageError) -> SealedPerson? {
        try await fetch("SELECT * FROM persons WHERE id = \(id.rawValue)") { try Rows.person($0) }.first
    }

    public func person(idIndex: Data) async throws(StorageError) -> SealedPerson? {
        try await fetch("SELECT * FROM persons WHERE id_index = \(idIndex)") { try Rows.person($0) }.first
    }

    public func personVersions(id: Person.ID) async throws(StorageError) -> [SealedPerson] {
        try await fetch("SELECT * FROM person_versions WHERE person_id = \(id.rawValue) ORDER BY version") {
            try Rows.person($0, idColumn: "person_id")
        }
    }

    public func persons(after: Person.ID?, limit: Int) async throws(StorageError) -> [SealedPerson] {
        try await fetch(
            "SELECT * FROM persons WHERE id\(SQL.byteOrder) > \(after?.rawValue ?? "") ORDER BY id\(SQL.byteOrder) LIMIT \(capped(limit))"
        ) { try Rows.person($0) }
    }

    public func personCount() async throws(StorageError) -> Int {
        Int(try await fetch("SELECT count(*) AS n FROM persons") { try $0.int("n") }.first ?? 0)
    }

    public func photo(id: PhotoID) async throws(StorageError) -> StoredPhoto? {
        try await fetch("SELECT * FROM photos WHERE id = \(id.rawValue)") { try Rows.photo($0) }.first
    }
}

// MARK: Cards

extension SQLStore {
    package func fetchCards(_ rest: SQL) async throws(StorageError) -> [Card] {
        try await fetch("SELECT \(SQL.cardColumns) FROM cards \(rest)") { try Rows.card($0) }
    }

    public func card(id: Card.ID) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE id = \(id.rawValue)").first
    }

    public func cardWithHolderIndex(id: Card.ID) async throws(StorageError) -> (card: Card, holderIndex: Data)? {
        try await fetch(
            """
            SELECT \(SQL.cardColumns), (SELECT id_index FROM persons WHERE persons.id = cards.person_id) AS holder_index
            FROM cards WHERE id = \(id.rawValue)
            """
        ) { (try Rows.card($0), try $0.data("holder_index")) }.first
    }

    public func card(number: String) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE number = \(number)").first
    }

    public func cancellationDocument(cardID: Card.ID) async throws(StorageError) -> Data? {
        try await fetch("SELECT sealed FROM cancellation_documents WHERE card_id = \(cardID.rawValue)") {
            try $0.data("sealed")
        }.first
    }

    public func cardsWithUnsealedCancellationDocument(limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(
            """
            WHERE cancel_reason IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM cancellation_documents d WHERE d.card_id = cards.id)
            ORDER BY id\(SQL.byteOrder) LIMIT \(Int64(limit))
            """)
    }

    public func cards(personID: Person.ID) async throws(StorageError) -> [Card] {
        try await fetchCards("WHERE person_id = \(personID.rawValue) ORDER BY applied_at, id\(SQL.byteOrder)")
    }

    public func cards(
        state: CardState, outletID: Outlet.ID?, after: Card.ID?, limit: Int
    ) async throws(StorageError) -> [Card] {
        let outlet: SQL = outletID.map { "AND outlet_id = \($0.rawValue)" } ?? ""
        return try await fetchCards(
            """
            WHERE state = \(state.rawValue) \(outlet) AND id\(SQL.byteOrder) > \(after?.rawValue ?? "")
            ORDER BY id\(SQL.byteOrder) LIMIT \(capped(limit))
            """)
    }

    public func cardsExpiring(
        from: Timestamp, until: Timestamp, outletID: Outlet.ID?, after: (Timestamp, Card.ID)?, limit: Int
    ) async throws(StorageError) -> [Card] {
        let outlet: SQL = outletID.map { "AND outlet_id = \($0.rawValue)" } ?? ""
        let key: SQL =
            after.map {
                "AND (expires_at > \($0.0.secondsSinceEpoch) OR (expires_at = \($0.0.secondsSinceEpoch) AND id\(SQL.byteOrder) > \($0.1.rawValue)))"
            }
            ?? ""
        return try await fetchCards(
            """
            WHERE slot = 'held' AND successor_id IS NULL AND expires_at >= \(from.secondsSinceEpoch)
                AND expires_at < \(until.secondsSinceEpoch) \(outlet) \(key)
            ORDER BY expires_at, id\(SQL.byteOrder) LIMIT \(capped(limit))
            """)
    }

    public func cards(batchID: ProductionBatch.ID) async throws(StorageError) -> [Card] {
        try await fetchCards("WHERE batch_id = \(batchID.rawValue) ORDER BY id\(SQL.byteOrder)")
    }

    public func cardsWithTransitionsDue(at time: Timestamp, limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(
            """
            WHERE id IN (
                SELECT id FROM cards WHERE state = 'pre_lost' AND pre_loss_expires_at <= \(time.secondsSinceEpoch)
                UNION SELECT id FROM cards WHERE slot = 'held' AND expires_at <= \(time.secondsSinceEpoch)
            ) ORDER BY id\(SQL.byteOrder) LIMIT \(capped(limit))
            """)
    }

    public func cardEvents(cardID: Card.ID) async throws(StorageError) -> [CardEvent] {
        try await fetch("SELECT * FROM card_events WHERE card_id = \(cardID.rawValue) ORDER BY sequence") {
            try Rows.cardEvent($0)
        }
    }
}

// MARK: Production, fees, rules, staff, idempotency, settings

extension SQLStore {
    public func batch(id: ProductionBatch.ID) async throws(StorageError) -> ProductionBatch? {
        try await fetch("SELECT * FROM production_batches WHERE id = \(id.rawValue)") { try Rows.batch($0) }.first
    }

    public func batches(limit: Int) async throws(StorageError) -> [ProductionBatch] {
        try await fetch(
            "SELECT * FROM production_batches ORDER BY created_at DESC, number DESC LIMIT \(capped(limit))"
        ) { try Rows.batch($0) }
    }

    public func feeEntries() async throws(StorageError) -> [FeeEntry] {
        try await fetch("SELECT * FROM fee_entries ORDER BY item, effective_from") { try Rows.feeEntry($0) }
    }

    public func receipt(id: Receipt.ID) async throws(StorageError) -> Receipt? {
        try await fetch("SELECT * FROM receipts WHERE id = \(id.rawValue)") { try Rows.receipt($0) }.first
    }

    public func receipts(
        outletID: Outlet.ID, from: Timestamp, until: Timestamp
    ) async throws(StorageError) -> [Receipt] {
        try await fetch(
            """
            SELECT * FROM receipts WHERE outlet_id = \(outletID.rawValue) AND at >= \(from.secondsSinceEpoch)
                AND at < \(until.secondsSinceEpoch) ORDER BY at, number
            """
        ) { try Rows.receipt($0) }
    }

    public func eligibilityRules() async throws(StorageError) -> [EligibilityRule] {
        try await fetch("SELECT * FROM eligibility_rules ORDER BY code, effective_from") { try Rows.rule($0) }
    }

    public func outlets() async throws(StorageError) -> [Outlet] {
        try await fetch("SELECT * FROM outlets ORDER BY code") { try Rows.outlet($0) }
    }

    public func outlet(id: Outlet.ID) async throws(StorageError) -> Outlet? {
        try await fetch("SELECT * FROM outlets WHERE id = \(id.rawValue)") { try Rows.outlet($0) }.first
    }

    public func operators() async throws(StorageError) -> [Operator] {
        try await fetch("SELECT * FROM operators ORDER BY username") { try Rows.staff($0) }
    }

    public func `operator`(id: Operator.ID) async throws(StorageError) -> Operator? {
        try await fetch("SELECT * FROM operators WHERE id = \(id.rawValue)") { try Rows.staff($0) }.first
    }

    public func `operator`(username: String) async throws(StorageError) -> Operator? {
        try await fetch("SELECT * FROM operators WHERE username = \(username)") { try Rows.staff($0) }.first
    }

    public func session(tokenHash: Data) async throws(StorageError) -> Session? {
        try await fetch("SELECT * FROM sessions WHERE token_hash = \(tokenHash)") { try Rows.session($0) }.first
    }

    public func idempotencyRecord(key: String) async throws(StorageError) -> IdempotencyRecord? {
        try await fetch("SELECT * FROM idempotency_records WHERE key = \(key)") { try Rows.idempotency($0) }.first
    }

    public func setting(_ key: String) async throws(StorageError) -> String? {
        try await fetch("SELECT value FROM settings WHERE key = \(key)") { try $0.string("value") }.first
    }
}

// MARK: Audit

extension SQLStore {
    public func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry] {
        var conditions: [SQL] = AuditQuery.conditions(filter).map { condition, value in
            switch value {
            case .text(let text): "\(raw: condition) \(text)"
            case .integer(let number): "\(raw: condition) \(number)"
            }
        }
        if let before = filter.before {
            let at = before.at.secondsSinceEpoch
            let lane = Int64(before.lane)
            conditions.append(
                """
                (at < \(at) OR (at = \(at) AND (lane < \(lane) OR (lane = \(lane) AND sequence < \(before.sequence)))))
                """)
        }
        let whereClause: SQL = conditions.isEmpty ? "" : "WHERE \(SQL.joined(conditions, separator: " AND "))"
        return try await fetch(
            "SELECT * FROM audit_log \(whereClause) \(raw: AuditQuery.order) LIMIT \(capped(limit))"
        ) { try Rows.audit($0) }
    }
}

// MARK: Loads

extension SQLStore {
    public func purseLoad(id: PurseLoad.ID) async throws(StorageError) -> PurseLoad? {
        try await fetch("SELECT * FROM purse_loads WHERE id = \(id.rawValue)") { try Rows.purseLoad($0) }.first
    }

    public func purseLoads(cardID: Card.ID) async throws(StorageError) -> [PurseLoad] {
        try await fetch(
            "SELECT * FROM purse_loads WHERE card_id = \(cardID.rawValue) ORDER BY approved_at, id\(SQL.byteOrder)"
        ) { try Rows.purseLoad($0) }
    }

    public func purseLoads(status: PurseLoad.Status, limit: Int) async throws(StorageError) -> [PurseLoad] {
        try await fetch(
            """
            SELECT * FROM purse_loads WHERE status = \(status.rawValue)
            ORDER BY approved_at, id\(SQL.byteOrder) LIMIT \(Int64(limit))
            """
        ) { try Rows.purseLoad($0) }
    }
}

// MARK: Portal

extension SQLStore {
    public func queryCredential(cardID: Card.ID) async throws(StorageError) -> QueryCredential? {
        try await fetch("SELECT * FROM query_credentials WHERE card_id = \(cardID.rawValue)") {
            try Rows.queryCredential($0)
        }.first
    }

    public func portalSession(tokenHash: [UInt8]) async throws(StorageError) -> PortalSession? {
        try await fetch("SELECT * FROM portal_sessions WHERE token_hash = \(Data(tokenHash))") {
            try Rows.portalSession($0)
        }.first
    }

    public func catalogueEntries() async throws(StorageError) -> [CatalogueEntry] {
        try await fetch("SELECT * FROM catalogue_entries ORDER BY code\(SQL.byteOrder)") {
            try Rows.catalogueEntry($0)
        }
    }

    public func catalogueEntry(code: String) async throws(StorageError) -> CatalogueEntry? {
        try await fetch("SELECT * FROM catalogue_entries WHERE code = \(code)") { try Rows.catalogueEntry($0) }.first
    }

    public func serviceActivations(cardID: Card.ID) async throws(StorageError) -> [ServiceActivation] {
        try await fetch(
            """
            SELECT * FROM service_activations WHERE card_id = \(cardID.rawValue) ORDER BY activated_at, id\(SQL.byteOrder)
            """
        ) { try Rows.serviceActivation($0) }
    }
}

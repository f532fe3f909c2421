public import Foundation
public import CitizenCardDomain
import GRDB

/// A GRDB row read through the backend-neutral decoders of `Rows`.
struct SQLiteRow: RowReader {
    let row: Row
    /// The statement's columns by name (first of a name wins, as GRDB's lookup by name), so that a
    /// decoder's lookups by name are a hash each instead of GRDB's case-insensitive scan.
    let columns: [String: Int]?

    init(_ row: Row, columns: [String: Int]? = nil) {
        self.row = row
        self.columns = columns
    }

    /// `columns` for a statement's result columns.
    static func columnMap(_ names: [String]) -> [String: Int] {
        var map: [String: Int] = [:]
        for (index, name) in names.enumerated().reversed() { map[name.lowercased()] = index }
        return map
    }

    func column(_ name: String) throws -> DatabaseValue {
        if let columns {
            guard let index = columns[name] ?? columns[name.lowercased()] else {
                throw StorageError.corrupt(reason: "no column \(name)")
            }
            return row[index]
        }
        guard let value = row[name] as DatabaseValue? else { throw StorageError.corrupt(reason: "no column \(name)") }
        return value
    }

    func string(_ name: String) throws -> String {
        guard let value = String.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func optionalString(_ name: String) throws -> String? {
        let value = try column(name)
        if value.isNull { return nil }
        guard let text = String.fromDatabaseValue(value) else { throw StorageError.corrupt(reason: name) }
        return text
    }

    func int(_ name: String) throws -> Int64 {
        guard let value = Int64.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func optionalInt(_ name: String) throws -> Int64? {
        let value = try column(name)
        if value.isNull { return nil }
        guard let number = Int64.fromDatabaseValue(value) else { throw StorageError.corrupt(reason: name) }
        return number
    }

    func bool(_ name: String) throws -> Bool {
        guard let value = Bool.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }

    func data(_ name: String) throws -> Data {
        guard let value = Data.fromDatabaseValue(try column(name)) else { throw StorageError.corrupt(reason: name) }
        return value
    }
}

extension SQLiteStore {
    static func cap(_ limit: Int) -> Int { min(max(limit, 0), 1000) }

    /// Runs a query and decodes each row.
    func rows<T: Sendable>(
        _ sql: String, _ arguments: StatementArguments = [], _ decode: @escaping @Sendable (SQLiteRow) throws -> T
    )
        async throws(StorageError) -> [T]
    {
        try await read { db in try Self.decodeAll(try db.makeStatement(sql: sql), arguments, decode) }
    }

    /// Runs a statement and decodes each row as it is stepped (no copies of the rows).
    static func decodeAll<T>(
        _ statement: Statement, _ arguments: StatementArguments, _ decode: (SQLiteRow) throws -> T
    ) throws -> [T] {
        let columns = SQLiteRow.columnMap(statement.columnNames)
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        var result: [T] = []
        while let row = try cursor.next() { result.append(try decode(SQLiteRow(row, columns: columns))) }
        return result
    }

    // MARK: Persons

    public func person(id: Person.ID) async throws(StorageError) -> SealedPerson? {
        try await rows("SELECT * FROM persons WHERE id = ?", [id.rawValue]) { try Rows.person($0) }.first
    }

    public func person(idIndex: Data) async throws(StorageError) -> SealedPerson? {
        try await rows("SELECT * FROM persons WHERE id_index = ?", [idIndex]) { try Rows.person($0) }.first
    }

    public func personVersions(id: Person.ID) async throws(StorageError) -> [SealedPerson] {
        try await rows("SELECT * FROM person_versions WHERE person_id = ? ORDER BY version", [id.rawValue]) {
            try Rows.person($0, idColumn: "person_id")
        }
    }

    public func persons(after: Person.ID?, limit: Int) async throws(StorageError) -> [SealedPerson] {
        try await rows(
            "SELECT * FROM persons WHERE id > ? ORDER BY id LIMIT ?", [after?.rawValue ?? "", Self.cap(limit)]
        ) {
            try Rows.person($0)
        }
    }

    public func personCount() async throws(StorageError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM persons") ?? 0 }
    }

    public func photo(id: PhotoID) async throws(StorageError) -> StoredPhoto? {
        try await rows("SELECT * FROM photos WHERE id = ?", [id.rawValue]) { try Rows.photo($0) }.first
    }

    // MARK: Cards

    func fetchCards(_ sql: String, _ arguments: StatementArguments) async throws(StorageError) -> [Card] {
        try await rows("SELECT \(Rows.cardColumns) FROM cards " + sql, arguments) { try Rows.card($0) }
    }

    public func card(id: Card.ID) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE id = ?", [id.rawValue]).first
    }

    public func cardWithHolderIndex(id: Card.ID) async throws(StorageError) -> (card: Card, holderIndex: Data)? {
        try await rows(
            "SELECT \(Rows.cardColumns), (SELECT id_index FROM persons WHERE persons.id = cards.person_id) AS holder_index FROM cards WHERE id = ?",
            [id.rawValue]
        ) { (try Rows.card($0), try $0.data("holder_index")) }.first
    }

    public func card(number: String) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE number = ?", [number]).first
    }

    public func cancellationDocument(cardID: Card.ID) async throws(StorageError) -> Data? {
        try await rows("SELECT sealed FROM cancellation_documents WHERE card_id = ?", [cardID.rawValue]) {
            try $0.data("sealed")
        }.first
    }

    public func cardsWithUnsealedCancellationDocument(limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(Rows.unsealedCancellationDocumentCondition + " ?", [limit])
    }

    public func cards(personID: Person.ID) async throws(StorageError) -> [Card] {
        try await fetchCards("WHERE person_id = ? ORDER BY applied_at, id", [personID.rawValue])
    }

    public func cards(
        state: CardState, outletID: Outlet.ID?, after: Card.ID?, limit: Int
    ) async throws(StorageError)
        -> [Card]
    {
        if let outletID {
            return try await fetchCards(
                "WHERE state = ? AND outlet_id = ? AND id > ? ORDER BY id LIMIT ?",
                [state.rawValue, outletID.rawValue, after?.rawValue ?? "", Self.cap(limit)])
        }
        return try await fetchCards(
            "WHERE state = ? AND id > ? ORDER BY id LIMIT ?", [state.rawValue, after?.rawValue ?? "", Self.cap(limit)])
    }

    public func cards(batchID: ProductionBatch.ID) async throws(StorageError) -> [Card] {
        try await fetchCards("WHERE batch_id = ? ORDER BY id", [batchID.rawValue])
    }

    public func cardsWithTransitionsDue(at time: Timestamp, limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(
            """
            WHERE id IN (
                SELECT id FROM cards WHERE state = 'pre_lost' AND pre_loss_expires_at <= ?1
                UNION SELECT id FROM cards WHERE slot = 'held' AND expires_at <= ?1
            ) ORDER BY id LIMIT ?2
            """, [time.secondsSinceEpoch, Self.cap(limit)])
    }

    public func cardEvents(cardID: Card.ID) async throws(StorageError) -> [CardEvent] {
        try await rows("SELECT * FROM card_events WHERE card_id = ? ORDER BY sequence", [cardID.rawValue]) {
            try Rows.cardEvent($0)
        }
    }

    // MARK: Production, fees, rules, staff

    public func batch(id: ProductionBatch.ID) async throws(StorageError) -> ProductionBatch? {
        try await rows("SELECT * FROM production_batches WHERE id = ?", [id.rawValue]) { try Rows.batch($0) }.first
    }

    public func batches(limit: Int) async throws(StorageError) -> [ProductionBatch] {
        try await rows(
            "SELECT * FROM production_batches ORDER BY created_at DESC, number DESC LIMIT ?", [Self.cap(limit)]
        ) {
            try Rows.batch($0)
        }
    }

    public func feeEntries() async throws(StorageError) -> [FeeEntry] {
        try await rows("SELECT * FROM fee_entries ORDER BY item, effective_from") { try Rows.feeEntry($0) }
    }

    public func receipt(id: Receipt.ID) async throws(StorageError) -> Receipt? {
        try await rows("SELECT * FROM receipts WHERE id = ?", [id.rawValue]) { try Rows.receipt($0) }.first
    }

    public func receipts(outletID: Outlet.ID, from: Timestamp, until: Timestamp) async throws(StorageError) -> [Receipt]
    {
        try await rows(
            "SELECT * FROM receipts WHERE outlet_id = ? AND at >= ? AND at < ? ORDER BY at, number",
            [outletID.rawValue, from.secondsSinceEpoch, until.secondsSinceEpoch]
        ) { try Rows.receipt($0) }
    }

    public func eligibilityRules() async throws(StorageError) -> [EligibilityRule] {
        try await rows("SELECT * FROM eligibility_rules ORDER BY code, effective_from") { try Rows.rule($0) }
    }

    public func outlets() async throws(StorageError) -> [Outlet] {
        try await rows("SELECT * FROM outlets ORDER BY code") { try Rows.outlet($0) }
    }

    public func outlet(id: Outlet.ID) async throws(StorageError) -> Outlet? {
        try await rows("SELECT * FROM outlets WHERE id = ?", [id.rawValue]) { try Rows.outlet($0) }.first
    }

    public func operators() async throws(StorageError) -> [Operator] {
        try await rows("SELECT * FROM operators ORDER BY username") { try Rows.staff($0) }
    }

    public func `operator`(id: Operator.ID) async throws(StorageError) -> Operator? {
        try await rows("SELECT * FROM operators WHERE id = ?", [id.rawValue]) { try Rows.staff($0) }.first
    }

    public func `operator`(username: String) async throws(StorageError) -> Operator? {
        try await rows("SELECT * FROM operators WHERE username = ?", [username]) { try Rows.staff($0) }.first
    }

    public func session(tokenHash: Data) async throws(StorageError) -> Session? {
        try await rows("SELECT * FROM sessions WHERE token_hash = ?", [tokenHash]) { try Rows.session($0) }.first
    }

    // MARK: Audit

    public func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        for (condition, value) in AuditQuery.conditions(filter) {
            conditions.append(condition + " ?")
            arguments.append(value.databaseValue)
        }
        if let before = filter.before {
            conditions.append(AuditQuery.beforeCondition(("?", "?", "?"), repeated: true))
            arguments += [
                before.at.secondsSinceEpoch, before.at.secondsSinceEpoch, before.lane, before.lane, before.sequence,
            ]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(Self.cap(limit))
        return try await rows(
            "SELECT * FROM audit_log \(whereClause) \(AuditQuery.order) LIMIT ?", StatementArguments(arguments)
        ) { try Rows.audit($0) }
    }

    public func verifyAuditChain() async throws(StorageError) -> AuditVerification {
        try await read { db in
            var verifier = AuditChain.Verifier(laneCount: SQLiteSchema.auditLaneCount)
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit_log ORDER BY lane, sequence")
            while let row = try rows.next() {
                if !verifier.check(try Rows.audit(SQLiteRow(row))) { break }
            }
            let heads = try Row.fetchAll(db, sql: "SELECT sequence, hash FROM audit_heads ORDER BY lane").map { row in
                (sequence: row["sequence"] as Int64, hash: row["hash"] as Data)
            }
            return verifier.finish(heads: heads)
        }
    }

    // MARK: Idempotency and settings

    public func idempotencyRecord(key: String) async throws(StorageError) -> IdempotencyRecord? {
        try await rows("SELECT * FROM idempotency_records WHERE key = ?", [key]) { try Rows.idempotency($0) }.first
    }

    public func setting(_ key: String) async throws(StorageError) -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
        }
    }
}

extension AuditQuery.Value {
    var databaseValue: (any DatabaseValueConvertible)? {
        switch self {
        case .text(let text): text
        case .integer(let number): number
        }
    }
}

public import Foundation
public import CitizenCardDomain
import GRDB

extension SQLiteStore {
    static func cap(_ limit: Int) -> Int { min(max(limit, 0), 1000) }

    // MARK: Persons

    static func decodePerson(_ row: Row) throws -> SealedPerson {
        guard let household = Household(rawValue: row["household"]),
            let lifeStatus = LifeStatus(rawValue: row["life_status"]),
            let source = Provenance.Source(rawValue: row["change_source"])
        else { throw StorageError.corrupt(reason: "persons row") }
        return SealedPerson(
            id: Person.ID(rawValue: row["id"] ?? row["person_id"]), idIndex: row["id_index"],
            fingerprint: row["fingerprint"], details: row["details"],
            attributes: PersonAttributes(
                household: household, socialInsurance: row["social_insurance"], ruralMedical: row["rural_medical"],
                lifeStatus: lifeStatus),
            version: row["version"],
            provenance: Provenance(
                actor: row["changed_by"], at: Timestamp(secondsSinceEpoch: row["changed_at"]),
                reason: row["change_reason"], source: source),
            createdAt: Timestamp(secondsSinceEpoch: row["created_at"]))
    }

    public func person(id: Person.ID) async throws(StorageError) -> SealedPerson? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM persons WHERE id = ?", arguments: [id.rawValue]).map(
                Self.decodePerson)
        }
    }

    public func person(idIndex: Data) async throws(StorageError) -> SealedPerson? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM persons WHERE id_index = ?", arguments: [idIndex]).map(
                Self.decodePerson)
        }
    }

    public func personVersions(id: Person.ID) async throws(StorageError) -> [SealedPerson] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM person_versions WHERE person_id = ? ORDER BY version", arguments: [id.rawValue]
            ).map(Self.decodePerson)
        }
    }

    public func persons(after: Person.ID?, limit: Int) async throws(StorageError) -> [SealedPerson] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM persons WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [after?.rawValue ?? "", Self.cap(limit)]
            ).map(Self.decodePerson)
        }
    }

    public func personCount() async throws(StorageError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM persons") ?? 0 }
    }

    public func photo(id: PhotoID) async throws(StorageError) -> StoredPhoto? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM photos WHERE id = ?", arguments: [id.rawValue]).map { row in
                StoredPhoto(
                    id: PhotoID(rawValue: row["id"]), personID: Person.ID(rawValue: row["person_id"]),
                    mediaType: row["media_type"], content: row["content"],
                    createdAt: Timestamp(secondsSinceEpoch: row["created_at"]))
            }
        }
    }

    // MARK: Cards

    func fetchCards(_ sql: String, _ arguments: StatementArguments) async throws(StorageError) -> [Card] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(CardRow.columns) FROM cards " + sql, arguments: arguments).map(
                CardRow.decode)
        }
    }

    public func card(id: Card.ID) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE id = ?", [id.rawValue]).first
    }

    public func card(number: String) async throws(StorageError) -> Card? {
        try await fetchCards("WHERE number = ?", [number]).first
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
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM card_events WHERE card_id = ? ORDER BY sequence", arguments: [cardID.rawValue]
            ).map { row in
                guard let action = CardAction.Kind(rawValue: row["action"]),
                    let from = CardState(rawValue: row["from_state"]), let to = CardState(rawValue: row["to_state"])
                else { throw StorageError.corrupt(reason: "card_events row") }
                return CardEvent(
                    cardID: Card.ID(rawValue: row["card_id"]), sequence: row["sequence"], action: action, from: from,
                    to: to, at: Timestamp(secondsSinceEpoch: row["at"]), actor: row["actor"],
                    outletID: (row["outlet_id"] as String?).map(Outlet.ID.init(rawValue:)), reason: row["reason"],
                    receiptID: (row["receipt_id"] as String?).map(Receipt.ID.init(rawValue:)))
            }
        }
    }

    // MARK: Production

    static func decodeBatch(_ row: Row) throws -> ProductionBatch {
        guard let state = ProductionBatch.State(rawValue: row["state"]) else {
            throw StorageError.corrupt(reason: "production_batches.state")
        }
        var batch = ProductionBatch(
            id: ProductionBatch.ID(rawValue: row["id"]), number: row["number"], cardCount: row["card_count"],
            createdAt: Timestamp(secondsSinceEpoch: row["created_at"]), createdBy: row["created_by"])
        batch.state = state
        batch.producedAt = (row["produced_at"] as Int64?).map(Timestamp.init(secondsSinceEpoch:))
        batch.deliveredAt = (row["delivered_at"] as Int64?).map(Timestamp.init(secondsSinceEpoch:))
        batch.version = row["version"]
        return batch
    }

    public func batch(id: ProductionBatch.ID) async throws(StorageError) -> ProductionBatch? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM production_batches WHERE id = ?", arguments: [id.rawValue]).map(
                Self.decodeBatch)
        }
    }

    public func batches(limit: Int) async throws(StorageError) -> [ProductionBatch] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM production_batches ORDER BY created_at DESC, number DESC LIMIT ?",
                arguments: [Self.cap(limit)]
            ).map(Self.decodeBatch)
        }
    }

    // MARK: Fees

    public func feeEntries() async throws(StorageError) -> [FeeEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM fee_entries ORDER BY item, effective_from").map { row in
                guard let item = FeeItem(rawValue: row["item"]) else { throw StorageError.corrupt(reason: "fee item") }
                return FeeEntry(
                    item: item, amount: Money(fen: row["amount_fen"]),
                    effectiveFrom: Timestamp(secondsSinceEpoch: row["effective_from"]), authority: row["authority"])
            }
        }
    }

    static func decodeReceipt(_ row: Row) throws -> Receipt {
        guard let item = FeeItem(rawValue: row["item"]) else { throw StorageError.corrupt(reason: "receipt item") }
        return Receipt(
            id: Receipt.ID(rawValue: row["id"]), number: row["number"], at: Timestamp(secondsSinceEpoch: row["at"]),
            outletID: Outlet.ID(rawValue: row["outlet_id"]), operatorID: Operator.ID(rawValue: row["operator_id"]),
            personID: Person.ID(rawValue: row["person_id"]), cardID: Card.ID(rawValue: row["card_id"]), item: item,
            amount: Money(fen: row["amount_fen"]))
    }

    public func receipt(id: Receipt.ID) async throws(StorageError) -> Receipt? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM receipts WHERE id = ?", arguments: [id.rawValue]).map(
                Self.decodeReceipt)
        }
    }

    public func receipts(outletID: Outlet.ID, from: Timestamp, until: Timestamp) async throws(StorageError) -> [Receipt]
    {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM receipts WHERE outlet_id = ? AND at >= ? AND at < ? ORDER BY at, number",
                arguments: [outletID.rawValue, from.secondsSinceEpoch, until.secondsSinceEpoch]
            ).map(Self.decodeReceipt)
        }
    }

    // MARK: Rules

    public func eligibilityRules() async throws(StorageError) -> [EligibilityRule] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM eligibility_rules ORDER BY code, effective_from").map { row in
                let criteriaText: String = row["criteria"]
                guard let criteria = try? JSONDecoder().decode([Criterion].self, from: Data(criteriaText.utf8)),
                    let from = CalendarDate(iso8601: row["effective_from"])
                else { throw StorageError.corrupt(reason: "eligibility rule") }
                return EligibilityRule(
                    id: EligibilityRule.ID(rawValue: row["id"]), code: row["code"], title: row["title"],
                    titleZh: row["title_zh"], criteria: criteria, effectiveFrom: from,
                    effectiveUntil: (row["effective_until"] as String?).flatMap(CalendarDate.init(iso8601:)))
            }
        }
    }

    // MARK: Staff

    public func outlets() async throws(StorageError) -> [Outlet] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outlets ORDER BY code").map(Self.decodeOutlet)
        }
    }

    public func outlet(id: Outlet.ID) async throws(StorageError) -> Outlet? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM outlets WHERE id = ?", arguments: [id.rawValue]).map(
                Self.decodeOutlet)
        }
    }

    static func decodeOutlet(_ row: Row) -> Outlet {
        Outlet(
            id: Outlet.ID(rawValue: row["id"]), code: row["code"], name: row["name"], nameZh: row["name_zh"],
            regionCode: row["region_code"], address: row["address"])
    }

    static func decodeOperator(_ row: Row) throws -> Operator {
        guard let role = Role(rawValue: row["role"]) else { throw StorageError.corrupt(reason: "operators.role") }
        return Operator(
            id: Operator.ID(rawValue: row["id"]), username: row["username"], displayName: row["display_name"],
            role: role, outletID: (row["outlet_id"] as String?).map(Outlet.ID.init(rawValue:)),
            passwordHash: row["password_hash"], active: row["active"])
    }

    public func operators() async throws(StorageError) -> [Operator] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operators ORDER BY username").map(Self.decodeOperator)
        }
    }

    public func `operator`(id: Operator.ID) async throws(StorageError) -> Operator? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM operators WHERE id = ?", arguments: [id.rawValue]).map(
                Self.decodeOperator)
        }
    }

    public func `operator`(username: String) async throws(StorageError) -> Operator? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM operators WHERE username = ?", arguments: [username]).map(
                Self.decodeOperator)
        }
    }

    public func session(tokenHash: Data) async throws(StorageError) -> Session? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE token_hash = ?", arguments: [tokenHash]).map {
                row in
                Session(
                    tokenHash: row["token_hash"], operatorID: Operator.ID(rawValue: row["operator_id"]),
                    createdAt: Timestamp(secondsSinceEpoch: row["created_at"]),
                    expiresAt: Timestamp(secondsSinceEpoch: row["expires_at"]))
            }
        }
    }

    // MARK: Audit

    static func decodeAudit(_ row: Row) -> AuditEntry {
        AuditEntry(
            sequence: row["sequence"],
            draft: AuditDraft(
                at: Timestamp(secondsSinceEpoch: row["at"]), actor: row["actor"], action: row["action"],
                subject: row["subject"], personID: (row["person_id"] as String?).map(Person.ID.init(rawValue:)),
                purpose: row["purpose"], detail: row["detail"]),
            previousHash: row["previous_hash"], hash: row["hash"])
    }

    public func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            conditions.append(condition)
            arguments.append(value)
        }
        if let actor = filter.actor { add("actor = ?", actor) }
        if let action = filter.action { add("action = ?", action) }
        if let subject = filter.subject { add("subject = ?", subject) }
        if let personID = filter.personID { add("person_id = ?", personID.rawValue) }
        if let from = filter.from { add("at >= ?", from.secondsSinceEpoch) }
        if let until = filter.until { add("at < ?", until.secondsSinceEpoch) }
        if let before = filter.beforeSequence { add("sequence < ?", before) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(Self.cap(limit))
        let sql = "SELECT * FROM audit_log \(whereClause) ORDER BY sequence DESC LIMIT ?"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map(Self.decodeAudit)
        }
    }

    public func verifyAuditChain() async throws(StorageError) -> AuditVerification {
        try await read { db in
            var verifier = AuditChain.Verifier()
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit_log ORDER BY sequence")
            while let row = try rows.next() {
                if !verifier.check(Self.decodeAudit(row)) { break }
            }
            let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_head WHERE id = 1")
            return verifier.finish(headSequence: head?["sequence"] ?? -1, headHash: head?["hash"] ?? Data())
        }
    }

    // MARK: Idempotency and settings

    public func idempotencyRecord(key: String) async throws(StorageError) -> IdempotencyRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM idempotency_records WHERE key = ?", arguments: [key]).map { row in
                IdempotencyRecord(
                    key: row["key"], requestHash: row["request_hash"], status: row["status"], response: row["response"],
                    createdAt: Timestamp(secondsSinceEpoch: row["created_at"]))
            }
        }
    }

    public func setting(_ key: String) async throws(StorageError) -> String? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key])
        }
    }
}

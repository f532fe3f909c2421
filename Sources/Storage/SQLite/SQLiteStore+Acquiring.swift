public import Foundation
public import CitizenCardDomain
import GRDB

extension SQLiteStore {
    static let purchaseColumns = [
        "id", "batch_id", "terminal_id", "merchant_id", "card_id", "asn", "card_counter", "psam_serial",
        "terminal_serial", "amount_fen", "balance_before_fen", "balance_after_fen", "transaction_type", "tapped_at",
        "key_version", "algorithm_id", "tac", "mac2", "record_status", "outcome", "reason", "posted_at", "posted_on",
        "received_at",
    ]

    static let insertPurchaseSQL =
        "INSERT INTO offline_purchases (\(purchaseColumns.joined(separator: ", "))) VALUES (\(purchaseColumns.map { _ in "?" }.joined(separator: ", ")))"

    static func purchaseArguments(_ p: OfflinePurchase) -> StatementArguments {
        [
            p.id.rawValue, p.batchID.rawValue, p.terminalID.rawValue, p.merchantID.rawValue, p.cardID?.rawValue, p.asn,
            p.cardCounter, p.psamSerial, p.terminalSerial, p.amountFen, p.balanceBeforeFen, p.balanceAfterFen,
            p.transactionType, p.tappedAt.secondsSinceEpoch, p.keyVersion, p.algorithmID, p.tac, p.mac2,
            p.recordStatus, p.outcome.rawValue, p.reason?.rawValue, p.postedAt?.secondsSinceEpoch,
            Rows.postedOn(p.postedAt), p.receivedAt.secondsSinceEpoch,
        ]
    }

    static func terminalArguments(_ t: Terminal) -> StatementArguments {
        [
            t.number, t.merchantID.rawValue, t.psamSerial, t.location, t.latitudeE6, t.longitudeE6, Data(t.keyHash),
            t.hotlistVersion, t.lastSignInAt?.secondsSinceEpoch, t.active, t.createdAt.secondsSinceEpoch, t.version,
            t.id.rawValue,
        ]
    }

    /// The acquiring changes of a commit; false for any other change.
    static func applyAcquiring(_ change: ChangeSet.Change, _ db: Database) throws -> Bool {
        switch change {
        case .insertMerchant(let m):
            try db.execute(
                sql: """
                    INSERT INTO merchants (code, name, commission_bp, active, created_at, version, id)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    m.code, m.name, m.commissionBasisPoints, m.active, m.createdAt.secondsSinceEpoch, m.version,
                    m.id.rawValue,
                ])
        case .updateMerchant(let m, let expected):
            try db.execute(
                sql: """
                    UPDATE merchants SET code = ?, name = ?, commission_bp = ?, active = ?, created_at = ?, version = ?
                    WHERE id = ? AND version = ?
                    """,
                arguments: [
                    m.code, m.name, m.commissionBasisPoints, m.active, m.createdAt.secondsSinceEpoch, m.version,
                    m.id.rawValue, expected,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "merchant") }
        case .insertTerminal(let t):
            try db.execute(
                sql: """
                    INSERT INTO terminals (number, merchant_id, psam_serial, location, latitude_e6, longitude_e6,
                        key_hash, hotlist_version, last_sign_in_at, active, created_at, version, id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: terminalArguments(t))
        case .updateTerminal(let t, let expected):
            var arguments = terminalArguments(t)
            arguments += [expected]
            try db.execute(
                sql: """
                    UPDATE terminals SET number = ?, merchant_id = ?, psam_serial = ?, location = ?, latitude_e6 = ?,
                        longitude_e6 = ?, key_hash = ?, hotlist_version = ?, last_sign_in_at = ?, active = ?,
                        created_at = ?, version = ?
                    WHERE id = ? AND version = ?
                    """, arguments: arguments)
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "terminal") }
        case .insertPurchaseBatch(let b, let response):
            try db.execute(
                sql: """
                    INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                        posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    b.id.rawValue, b.terminalID.rawValue, b.merchantID.rawValue, b.number, b.contentHash,
                    b.recordCount, b.postedCount, b.riskCount, b.parkedCount, b.duplicateCount, b.acceptedFen,
                    b.receivedAt.secondsSinceEpoch, response,
                ])
        case .insertPurchases(let purchases):
            let insert = try db.cachedStatement(sql: insertPurchaseSQL)
            for purchase in purchases { try insert.execute(arguments: purchaseArguments(purchase)) }
        case .releasePurchases(let purchases):
            let update = try db.cachedStatement(
                sql: """
                    UPDATE offline_purchases SET outcome = ?, reason = NULL, posted_at = ?, posted_on = ?
                    WHERE id = ? AND outcome = 'parked'
                    """)
            for p in purchases {
                try update.execute(arguments: [
                    p.outcome.rawValue, p.postedAt?.secondsSinceEpoch, Rows.postedOn(p.postedAt), p.id.rawValue,
                ])
                guard db.changesCount == 1 else { throw StorageError.conflict(entity: "offline purchase") }
            }
        case .putPurseChains(let chains):
            let upsert = try db.cachedStatement(
                sql: """
                    INSERT INTO purse_chains (next_counter, balance_fen, next_online_counter, last_tapped_at,
                        last_terminal_id, last_latitude_e6, last_longitude_e6, version, card_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (card_id) DO UPDATE SET next_counter = excluded.next_counter,
                        balance_fen = excluded.balance_fen, next_online_counter = excluded.next_online_counter,
                        last_tapped_at = excluded.last_tapped_at, last_terminal_id = excluded.last_terminal_id,
                        last_latitude_e6 = excluded.last_latitude_e6, last_longitude_e6 = excluded.last_longitude_e6,
                        version = excluded.version
                    WHERE purse_chains.version = excluded.version - 1
                    """)
            for c in chains {
                try upsert.execute(arguments: [
                    c.nextCounter, c.balanceFen, c.nextOnlineCounter, c.lastTappedAt?.secondsSinceEpoch,
                    c.lastTerminalID?.rawValue, c.lastLatitudeE6, c.lastLongitudeE6, c.version, c.cardID.rawValue,
                ])
                guard db.changesCount == 1 else { throw StorageError.conflict(entity: "purse chain") }
            }
        case .insertFraudSignals(let signals):
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO fraud_signals (id, kind, card_id, asn, purchase_id, evidence, detected_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            for s in signals {
                try insert.execute(arguments: [
                    s.id.rawValue, s.kind.rawValue, s.cardID?.rawValue, s.asn, s.purchaseID?.rawValue, s.evidence,
                    s.detectedAt.secondsSinceEpoch,
                ])
            }
        case .publishHotlist(let publication):
            let current = try Int64.fetchOne(db, sql: "SELECT coalesce(max(version), 0) FROM hotlist_versions") ?? 0
            guard current == publication.version - 1 else { throw StorageError.conflict(entity: "hotlist") }
            try db.execute(
                sql:
                    "INSERT INTO hotlist_versions (version, published_at, added_count, removed_count) VALUES (?, ?, ?, ?)",
                arguments: [
                    publication.version, publication.publishedAt.secondsSinceEpoch, publication.added.count,
                    publication.removed.count,
                ])
            let remove = try db.cachedStatement(
                sql: "UPDATE hotlist_entries SET removed_version = ? WHERE asn = ? AND removed_version IS NULL")
            for asn in publication.removed + publication.added.map(\.asn) {
                try remove.execute(arguments: [publication.version, asn])
            }
            let add = try db.cachedStatement(
                sql: "INSERT INTO hotlist_entries (asn, added_version, reason) VALUES (?, ?, ?)")
            for row in publication.added { try add.execute(arguments: [row.asn, publication.version, row.reason]) }
        case .insertClearingResults(let results):
            try insertClearingResults(results, db)
        case .insertPurseClosure(let c):
            try db.execute(
                sql: """
                    INSERT INTO purse_closures (card_id, successor_id, kind, amount_fen, status, closed_at, settled_at,
                        settlement, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    c.cardID.rawValue, c.successorID?.rawValue, c.kind.rawValue, c.amountFen, c.status.rawValue,
                    c.closedAt.secondsSinceEpoch, c.settledAt?.secondsSinceEpoch, c.settlement, c.version,
                ])
        case .updatePurseClosure(let c, let expected):
            try db.execute(
                sql: """
                    UPDATE purse_closures SET status = ?, settled_at = ?, settlement = ?, version = ?
                    WHERE card_id = ? AND version = ?
                    """,
                arguments: [
                    c.status.rawValue, c.settledAt?.secondsSinceEpoch, c.settlement, c.version, c.cardID.rawValue,
                    expected,
                ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "purse closure") }
        case .closeException(let c):
            try db.execute(
                sql: """
                    INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at)
                    SELECT id, ?, ?, ? FROM offline_purchases
                    WHERE id = ? AND outcome = 'parked'
                        AND (reason IN (\(Rows.closableReasonsSQL))
                            OR card_counter < (SELECT next_counter FROM purse_chains WHERE card_id = offline_purchases.card_id))
                    ON CONFLICT (purchase_id) DO NOTHING
                    """, arguments: [c.note, c.closedBy, c.closedAt.secondsSinceEpoch, c.purchaseID.rawValue])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "exception") }
        default:
            return false
        }
        return true
    }

    // MARK: Reads

    public func merchants() async throws(StorageError) -> [Merchant] {
        try await rows("SELECT * FROM merchants ORDER BY code") { try Rows.merchant($0) }
    }

    public func merchant(id: Merchant.ID) async throws(StorageError) -> Merchant? {
        try await rows("SELECT * FROM merchants WHERE id = ?", [id.rawValue]) { try Rows.merchant($0) }.first
    }

    public func terminals(merchantID: Merchant.ID?) async throws(StorageError) -> [Terminal] {
        if let merchantID {
            return try await rows(
                "SELECT * FROM terminals WHERE merchant_id = ? ORDER BY number", [merchantID.rawValue]
            ) { try Rows.terminal($0) }
        }
        return try await rows("SELECT * FROM terminals ORDER BY number") { try Rows.terminal($0) }
    }

    public func terminal(id: Terminal.ID) async throws(StorageError) -> Terminal? {
        try await rows("SELECT * FROM terminals WHERE id = ?", [id.rawValue]) { try Rows.terminal($0) }.first
    }

    public func terminal(keyHash: [UInt8]) async throws(StorageError) -> Terminal? {
        try await rows("SELECT * FROM terminals WHERE key_hash = ?", [Data(keyHash)]) { try Rows.terminal($0) }.first
    }

    public func purchaseBatch(
        terminalID: Terminal.ID, number: Int64
    ) async throws(StorageError) -> (batch: PurchaseBatch, response: Data)? {
        try await rows(
            "SELECT * FROM purchase_batches WHERE terminal_id = ? AND number = ?", [terminalID.rawValue, number]
        ) { (try Rows.purchaseBatch($0), try $0.data("response")) }.first
    }

    public func purchases(matching keys: [PurchaseKey]) async throws(StorageError) -> [OfflinePurchase] {
        guard !keys.isEmpty else { return [] }
        return try await read { db in try Self.purchases(matching: keys, db) }
    }

    /// The ingest's three reads in one read transaction: one snapshot, one trip to a reader.
    public func purchaseIntake(asns: [String], keys: [PurchaseKey]) async throws(StorageError) -> PurchaseIntake {
        try await read { db in
            let states = try Self.purseStates(asns: asns, db)
            return PurchaseIntake(
                states: states,
                stored: keys.isEmpty ? [] : try Self.purchases(matching: PurchaseIntake.narrowed(keys, by: states), db),
                releasable: try Self.releasablePurchases(cardIDs: states.map(\.card.id), db))
        }
    }

    static func purchases(matching keys: [PurchaseKey], _ db: Database) throws -> [OfflinePurchase] {
        // A few statements per batch, each naming its outcome so that a partial index serves it:
        // counted records by PSAM and TSN; parked ones of the PSAM and of the cards (few), then
        // counted ones under a card counter only where the card's chain allows one.
        var found: [String: OfflinePurchase] = [:]
        func collect(
            _ statement: Statement, _ arguments: StatementArguments, where keep: (OfflinePurchase) -> Bool
        )
            throws
        {
            for purchase in try Self.decodeAll(statement, arguments, { try Rows.purchase($0) }) where keep(purchase) {
                found[purchase.id.rawValue] = purchase
            }
        }
        let countedSerials = try db.cachedStatement(
            sql: """
                SELECT * FROM offline_purchases
                WHERE psam_serial = ? AND terminal_serial BETWEEN ? AND ? AND outcome <> 'parked'
                """)
        let parkedOfPSAM = try db.cachedStatement(
            sql: "SELECT * FROM offline_purchases WHERE psam_serial = ? AND outcome = 'parked'")
        let serialKeys = Set(keys.map { "\($0.psamSerial)|\($0.terminalSerial)" })
        for run in PurchaseKey.serialRuns(keys) {
            try collect(countedSerials, [run.psam, run.low, run.high]) {
                serialKeys.contains("\($0.psamSerial)|\($0.terminalSerial)")
            }
        }
        for (psam, group) in Dictionary(grouping: keys, by: \.psamSerial) {
            let serials = Set(group.map(\.terminalSerial))
            try collect(parkedOfPSAM, [psam]) { serials.contains($0.terminalSerial) }
        }
        let cardKeys = Set(keys.map { "\($0.asn)|\($0.cardCounter)" })
        try collect(
            db.cachedStatement(
                sql: """
                    SELECT * FROM offline_purchases
                    WHERE asn IN (SELECT value FROM json_each(?)) AND outcome = 'parked'
                    """), [Self.jsonArray(Set(keys.map(\.asn)).sorted(), quoted: true)]
        ) { cardKeys.contains("\($0.asn)|\($0.cardCounter)") }
        let countedCard = try db.cachedStatement(
            sql: "SELECT * FROM offline_purchases WHERE asn = ? AND card_counter = ? AND outcome <> 'parked'")
        for key in keys where key.mayBeCountedUnderCardCounter {
            try collect(countedCard, [key.asn, key.cardCounter]) { _ in true }
        }
        return found.values.sorted { $0.id.rawValue < $1.id.rawValue }
    }

    /// A JSON array for `json_each(?)`: numbers as they are, or strings (the callers' values are
    /// hex digits, digits and UUIDs, which need no escaping; anything else is escaped anyway).
    static func jsonArray(_ values: [String], quoted: Bool = false) -> String {
        guard quoted else { return "[" + values.joined(separator: ",") + "]" }
        var text = "["
        text.reserveCapacity(values.reduce(2) { $0 + $1.utf8.count + 3 })
        for (position, value) in values.enumerated() {
            if position > 0 { text += "," }
            text += "\""
            // Hex digits, digits and UUIDs (the usual values) need no escaping.
            if value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") }) {
                text += value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            } else {
                text += value
            }
            text += "\""
        }
        return text + "]"
    }

    public func releasablePurchases(cardIDs: [Card.ID]) async throws(StorageError) -> [OfflinePurchase] {
        guard !cardIDs.isEmpty else { return [] }
        return try await read { db in try Self.releasablePurchases(cardIDs: cardIDs, db) }
    }

    static func releasablePurchases(cardIDs: [Card.ID], _ db: Database) throws -> [OfflinePurchase] {
        guard !cardIDs.isEmpty else { return [] }
        return try decodeAll(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM offline_purchases
                    WHERE card_id IN (SELECT value FROM json_each(?)) AND outcome = 'parked'
                        AND reason IN ('gap', 'balance_mismatch')
                    """), [jsonArray(cardIDs.map(\.rawValue), quoted: true)]
        ) { try Rows.purchase($0) }
    }

    public func parkedPurchases(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [OfflinePurchase] {
        try await rows(
            """
            SELECT * FROM offline_purchases p
            WHERE outcome = 'parked' AND id > ?
                AND NOT EXISTS (SELECT 1 FROM purchase_exception_closures c WHERE c.purchase_id = p.id)
            ORDER BY id LIMIT ?
            """, [after?.rawValue ?? "", min(max(limit, 1), 1000)]
        ) { try Rows.purchase($0) }
    }

    public func closedExceptions(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [ClosedException] {
        try await rows(
            "\(Rows.closedExceptionsSQL) WHERE c.purchase_id > ? ORDER BY c.purchase_id LIMIT ?",
            [after?.rawValue ?? "", min(max(limit, 1), 1000)]
        ) { try Rows.closedException($0) }
    }

    public func latestClosedExceptions(limit: Int) async throws(StorageError) -> [ClosedException] {
        try await rows(
            "\(Rows.closedExceptionsSQL) ORDER BY c.closed_at DESC, c.purchase_id DESC LIMIT ?",
            [min(max(limit, 1), 1000)]
        ) { try Rows.closedException($0) }
    }

    public func purchase(
        id: OfflinePurchase.ID
    ) async throws(StorageError) -> (purchase: OfflinePurchase, closure: ExceptionClosure?)? {
        try await rows(
            """
            SELECT p.*, c.purchase_id, c.note, c.closed_by, c.closed_at
            FROM offline_purchases p LEFT JOIN purchase_exception_closures c ON c.purchase_id = p.id
            WHERE p.id = ?
            """, [id.rawValue]
        ) { try Rows.purchaseWithClosure($0) }.first.map { (purchase: $0.0, closure: $0.1) }
    }

    public func purchases(cardID: Card.ID, limit: Int) async throws(StorageError) -> [OfflinePurchase] {
        try await rows(
            "SELECT * FROM offline_purchases WHERE card_id = ? ORDER BY tapped_at DESC, id DESC LIMIT ?",
            [cardID.rawValue, min(max(limit, 1), 1000)]
        ) { try Rows.purchase($0) }
    }

    public func purseChains(cardIDs: [Card.ID]) async throws(StorageError) -> [PurseChain] {
        guard !cardIDs.isEmpty else { return [] }
        return try await read { db in
            let statement = try db.cachedStatement(sql: "SELECT * FROM purse_chains WHERE card_id = ?")
            return try cardIDs.compactMap { id in
                try Row.fetchOne(statement, arguments: [id.rawValue]).map { try Rows.chain(SQLiteRow($0)) }
            }
        }
    }

    public func completedLoads(from onlineCounters: [Card.ID: Int64]) async throws(StorageError) -> [LoadStep] {
        guard !onlineCounters.isEmpty else { return [] }
        return try await read { db in
            let statement = try db.cachedStatement(
                sql: """
                    SELECT online_counter, balance_before_fen, amount_fen FROM purse_loads
                    WHERE card_id = ? AND online_counter >= ? AND status <> 'reversed' AND status = 'completed'
                    ORDER BY online_counter
                    """)
            var steps: [LoadStep] = []
            for (card, from) in onlineCounters.sorted(by: { $0.key < $1.key }) {
                for row in try Row.fetchAll(statement, arguments: [card.rawValue, from]) {
                    steps.append(
                        LoadStep(cardID: card, onlineCounter: row[0], balanceBeforeFen: row[1], amountFen: row[2]))
                }
            }
            return steps
        }
    }

    public func purseStates(asns: [String]) async throws(StorageError) -> [PurseState] {
        guard !asns.isEmpty else { return [] }
        return try await read { db in try Self.purseStates(asns: asns, db) }
    }

    static func purseStates(asns: [String], _ db: Database) throws -> [PurseState] {
        guard !asns.isEmpty else { return [] }
        return try decodeAll(
            try db.cachedStatement(sql: Rows.purseStateSelect + " WHERE c.asn IN (SELECT value FROM json_each(?))"),
            [jsonArray(asns, quoted: true)]
        ) { try Rows.purseState($0) }
    }

    public func fraudSignals(before: FraudSignal.ID?, limit: Int) async throws(StorageError) -> [FraudSignal] {
        try await rows(
            "SELECT * FROM fraud_signals WHERE id < ? ORDER BY id DESC LIMIT ?",
            [before?.rawValue ?? "\u{10FFFF}", min(max(limit, 1), 1000)]
        ) { try Rows.fraudSignal($0) }
    }

    public func purseClosure(cardID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await rows("SELECT * FROM purse_closures WHERE card_id = ?", [cardID.rawValue]) {
            try Rows.purseClosure($0)
        }.first
    }

    public func purseClosure(successorID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await rows("SELECT * FROM purse_closures WHERE successor_id = ?", [successorID.rawValue]) {
            try Rows.purseClosure($0)
        }.first
    }

    public func cardsAwaitingPurseClosure(leftBefore: Timestamp, limit: Int) async throws(StorageError) -> [Card] {
        let states = Rows.closedPurseStates.map(\.rawValue)
        return try await rows(
            """
            SELECT \(Rows.cardColumns) FROM cards
            WHERE state IN (?, ?) AND NOT EXISTS (SELECT 1 FROM purse_closures c WHERE c.card_id = cards.id)
                AND (SELECT e.at FROM card_events e WHERE e.card_id = cards.id AND e.sequence = cards.version) <= ?
            ORDER BY id LIMIT ?
            """, [states[0], states[1], leftBefore.secondsSinceEpoch, min(max(limit, 1), 1000)]
        ) { try Rows.card($0) }
    }

    // MARK: Hotlist

    public func hotlistVersion() async throws(StorageError) -> (version: Int64, publishedAt: Timestamp?) {
        try await read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT version, published_at FROM hotlist_versions ORDER BY version DESC LIMIT 1")
            else { return (0, nil) }
            return (row["version"], Timestamp(secondsSinceEpoch: row["published_at"]))
        }
    }

    public func hotlistEntries() async throws(StorageError) -> [HotlistRow] {
        try await rows("SELECT asn, reason FROM hotlist_entries WHERE removed_version IS NULL ORDER BY asn") {
            HotlistRow(asn: try $0.string("asn"), reason: try $0.int("reason"))
        }
    }

    public func hotlistChanges(
        since version: Int64
    ) async throws(StorageError) -> (added: [HotlistRow], removed: [String]) {
        try await read { db in
            let added = try Row.fetchAll(
                db,
                sql: """
                    SELECT asn, reason FROM hotlist_entries WHERE added_version > ? AND removed_version IS NULL
                    ORDER BY asn
                    """, arguments: [version]
            ).map { HotlistRow(asn: $0["asn"], reason: $0["reason"]) }
            let removed = try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT e.asn FROM hotlist_entries e
                    WHERE e.removed_version > ? AND e.added_version <= ?
                        AND NOT EXISTS (SELECT 1 FROM hotlist_entries c WHERE c.asn = e.asn AND c.removed_version IS NULL)
                    ORDER BY e.asn
                    """, arguments: [version, version])
            return (added, removed)
        }
    }

    public func hotlistCandidates() async throws(StorageError) -> [(asn: String, state: CardState, lost: Bool)] {
        let states = Rows.hotlistedStates.map(\.rawValue)
        return try await rows(
            """
            SELECT asn, state, loss_effective_at IS NOT NULL AS lost FROM cards
            WHERE state IN (\(states.map { _ in "?" }.joined(separator: ", ")))
            """, StatementArguments(states)
        ) { row -> (asn: String, state: CardState, lost: Bool) in
            (try row.string("asn"), try row.value("state", table: "cards"), try row.bool("lost"))
        }
    }
}

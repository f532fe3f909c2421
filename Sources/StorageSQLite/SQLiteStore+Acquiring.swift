public import Storage
import StorageSQL
import Foundation
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

    /// An upload's rows, SQLite's way: one cached statement a row, in the commit's transaction
    /// (PostgreSQL sends each kind in one statement over arrays).
    static func applyBulk(_ bulk: BulkWrite, _ db: Database) throws {
        switch bulk {
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
            let current = try Self.fetch(Rows.currentHotlistVersion, db) { try $0.int("version") }.first ?? 0
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
        case .applyFeedChunk(let chunk):
            try applyFeedChunk(chunk, db)
        case .insertLegacyCards(let cards):
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO legacy_cards (\(Rows.legacyCardColumns))
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, ?)
                    """)
            for c in cards {
                try insert.execute(arguments: [
                    c.id.rawValue, c.kind.rawValue, c.number, c.holderIndex, c.balanceFen, c.status.rawValue,
                    c.importedAt.secondsSinceEpoch, c.source, c.version,
                ])
            }
        }
    }

    /// A feed chunk: three statements prepared once, a row each; only the attributes and the
    /// change's provenance are written (the sealed details and the blind index stay as they are).
    static func applyFeedChunk(_ chunk: FeedChunk, _ db: Database) throws {
        let copy = try db.cachedStatement(
            sql: Rows.feedPersonVersionCopy + """
                SELECT id, version, id_index, fingerprint, details, household, social_insurance, rural_medical,
                    life_status, changed_at, changed_by, change_reason, change_source, created_at
                FROM persons WHERE id = ? AND version = ?
                """)
        let update = try db.cachedStatement(
            sql: """
                UPDATE persons SET household = ?, social_insurance = ?, rural_medical = ?, life_status = ?,
                    fingerprint = ?, version = ?, changed_at = ?, changed_by = ?, change_reason = ?, change_source = ?
                WHERE id = ? AND version = ?
                """)
        for change in chunk.persons {
            try copy.execute(arguments: [change.personID.rawValue, change.expectedVersion])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "person") }
            let a = change.attributes
            let p = change.provenance
            try update.execute(arguments: [
                a.household.rawValue, a.socialInsurance, a.ruralMedical, a.lifeStatus.rawValue, change.fingerprint,
                change.expectedVersion + 1, p.at.secondsSinceEpoch, p.actor, p.reason, p.source.rawValue,
                change.personID.rawValue, change.expectedVersion,
            ])
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "person") }
        }
        let insert = try db.cachedStatement(
            sql: "INSERT INTO feed_messages (\(Rows.feedRecordColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        for f in chunk.records {
            try insert.execute(arguments: [
                f.departmentID.rawValue, f.messageID, f.kind, Data(f.digest), f.receivedAt.secondsSinceEpoch,
                f.clientID?.rawValue, f.result.outcome.rawValue, f.result.personId?.rawValue, f.result.json,
            ])
        }
    }

    // MARK: Reads

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

    // MARK: Hotlist

}

public import Foundation
public import CitizenCardDomain
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// The acquiring changes of a commit; false for any other change. Records, releases and
    /// signals go in one statement each (`unnest` of column arrays; NULLs as "" or -1).
    static func applyAcquiring(
        _ change: ChangeSet.Change, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> Bool {
        switch change {
        case .insertMerchant(let m):
            try await connection.query(
                """
                INSERT INTO merchants (id, code, name, commission_bp, active, created_at, version)
                VALUES (\(m.id.rawValue), \(m.code), \(m.name), \(m.commissionBasisPoints), \(m.active),
                    \(m.createdAt.secondsSinceEpoch), \(m.version))
                """, logger: logger)
        case .updateMerchant(let m, let expected):
            try await expectOne(
                connection,
                """
                UPDATE merchants SET code = \(m.code), name = \(m.name), commission_bp = \(m.commissionBasisPoints),
                    active = \(m.active), version = \(m.version)
                WHERE id = \(m.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "merchant", logger)
        case .insertTerminal(let t):
            try await connection.query(
                """
                INSERT INTO terminals (id, number, merchant_id, psam_serial, location, latitude_e6, longitude_e6,
                    key_hash, hotlist_version, last_sign_in_at, active, created_at, version)
                VALUES (\(t.id.rawValue), \(t.number), \(t.merchantID.rawValue), \(t.psamSerial), \(t.location),
                    \(t.latitudeE6), \(t.longitudeE6), \(ByteBuffer(bytes: t.keyHash)), \(t.hotlistVersion),
                    \(t.lastSignInAt?.secondsSinceEpoch), \(t.active), \(t.createdAt.secondsSinceEpoch), \(t.version))
                """, logger: logger)
        case .updateTerminal(let t, let expected):
            try await expectOne(
                connection,
                """
                UPDATE terminals SET number = \(t.number), merchant_id = \(t.merchantID.rawValue),
                    psam_serial = \(t.psamSerial), location = \(t.location), latitude_e6 = \(t.latitudeE6),
                    longitude_e6 = \(t.longitudeE6), key_hash = \(ByteBuffer(bytes: t.keyHash)),
                    hotlist_version = \(t.hotlistVersion), last_sign_in_at = \(t.lastSignInAt?.secondsSinceEpoch),
                    active = \(t.active), version = \(t.version)
                WHERE id = \(t.id.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "terminal", logger)
        case .insertPurchaseBatch(let b, let response):
            try await connection.query(
                """
                INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                    posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                VALUES (\(b.id.rawValue), \(b.terminalID.rawValue), \(b.merchantID.rawValue), \(b.number),
                    \(b.contentHash), \(b.recordCount), \(b.postedCount), \(b.riskCount), \(b.parkedCount),
                    \(b.duplicateCount), \(b.acceptedFen), \(b.receivedAt.secondsSinceEpoch),
                    \(ByteBuffer(bytes: response)))
                """, logger: logger)
        case .insertPurchases(let p):
            try await insert(p, into: "offline_purchases", connection, logger)
        case .releasePurchases(let p):
            guard !p.isEmpty else { return true }
            var count = 0
            for try await _ in try await connection.query(
                """
                UPDATE offline_purchases SET outcome = r.outcome, reason = NULL, posted_at = r.posted_at,
                    posted_on = r.posted_on
                FROM unnest(\(p.map(\.id.rawValue)), \(p.map(\.outcome.rawValue)),
                    \(p.map { $0.postedAt?.secondsSinceEpoch ?? 0 }), \(p.map { Rows.postedOn($0.postedAt) ?? "" }))
                    AS r (id, outcome, posted_at, posted_on)
                WHERE offline_purchases.id = r.id AND offline_purchases.outcome = 'parked'
                RETURNING 1
                """, logger: logger)
            {
                count += 1
            }
            guard count == p.count else { throw StorageError.conflict(entity: "offline purchase") }
        case .putPurseChains(let c):
            guard !c.isEmpty else { return true }
            var count: Int64 = 0
            var binds = PostgresBindings(capacity: 9)
            PostgresPrepared.appendChains(c, to: &binds)
            for try await written in try await connection.query(
                PostgresQuery(
                    unsafeSQL:
                        "WITH \(PostgresPrepared.chainsWrites(first: 1)) SELECT \(PostgresPrepared.chainsWritten)",
                    binds: binds), logger: logger
            ).decode(Int64.self) {
                count = written
            }
            guard count == c.count else { throw StorageError.conflict(entity: "purse chain") }
        case .insertFraudSignals(let s):
            guard !s.isEmpty else { return true }
            try await connection.query(
                """
                INSERT INTO fraud_signals (id, kind, card_id, asn, purchase_id, evidence, detected_at)
                SELECT id, kind, NULLIF(card_id, ''), asn, NULLIF(purchase_id, ''), evidence, detected_at
                FROM unnest(\(s.map(\.id.rawValue)), \(s.map(\.kind.rawValue)), \(s.map { $0.cardID?.rawValue ?? "" }),
                    \(s.map(\.asn)), \(s.map { $0.purchaseID?.rawValue ?? "" }), \(s.map(\.evidence)),
                    \(s.map(\.detectedAt.secondsSinceEpoch)))
                    AS r (id, kind, card_id, asn, purchase_id, evidence, detected_at)
                """, logger: logger)
        case .publishHotlist(let publication):
            // The versions table is locked so that two publishers queue; the second finds the version taken.
            try await connection.query("LOCK TABLE hotlist_versions IN EXCLUSIVE MODE", logger: logger)
            var current: Int64 = 0
            for try await value in try await connection.query(
                "SELECT coalesce(max(version), 0) FROM hotlist_versions", logger: logger
            ).decode(Int64.self) {
                current = value
            }
            guard current == publication.version - 1 else { throw StorageError.conflict(entity: "hotlist") }
            let leaving = publication.removed + publication.added.map(\.asn)
            try await connection.query(
                """
                WITH version AS (
                    INSERT INTO hotlist_versions (version, published_at, added_count, removed_count)
                    VALUES (\(publication.version), \(publication.publishedAt.secondsSinceEpoch),
                        \(Int64(publication.added.count)), \(Int64(publication.removed.count)))
                ), removed AS (
                    UPDATE hotlist_entries SET removed_version = \(publication.version)
                    WHERE removed_version IS NULL AND asn = ANY(\(leaving))
                )
                INSERT INTO hotlist_entries (asn, added_version, reason)
                SELECT asn, \(publication.version), reason
                FROM unnest(\(publication.added.map(\.asn)), \(publication.added.map(\.reason))) AS a (asn, reason)
                """, logger: logger)
        case .insertClearingResults(let results):
            try await insertClearingResults(results, connection, logger)
        case .insertPurseClosure(let c):
            try await connection.query(
                """
                INSERT INTO purse_closures (card_id, successor_id, kind, amount_fen, status, closed_at, settled_at,
                    settlement, version)
                VALUES (\(c.cardID.rawValue), \(c.successorID?.rawValue), \(c.kind.rawValue), \(c.amountFen),
                    \(c.status.rawValue), \(c.closedAt.secondsSinceEpoch), \(c.settledAt?.secondsSinceEpoch),
                    \(c.settlement), \(c.version))
                """, logger: logger)
        case .updatePurseClosure(let c, let expected):
            try await expectOne(
                connection,
                """
                UPDATE purse_closures SET status = \(c.status.rawValue), settled_at = \(c.settledAt?.secondsSinceEpoch),
                    settlement = \(c.settlement), version = \(c.version)
                WHERE card_id = \(c.cardID.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "purse closure", logger)
        case .closeException(let c):
            try await expectOne(
                connection,
                """
                INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at)
                SELECT id, \(c.note), \(c.closedBy), \(c.closedAt.secondsSinceEpoch) FROM offline_purchases
                WHERE id = \(c.purchaseID.rawValue) AND outcome = 'parked'
                    AND (reason = ANY(\(OfflinePurchase.ParkReason.allCases.filter(\.isClosable).map(\.rawValue)))
                        OR card_counter < (SELECT next_counter FROM purse_chains WHERE card_id = offline_purchases.card_id))
                ON CONFLICT (purchase_id) DO NOTHING
                RETURNING 1
                """, entity: "exception", logger)
        default:
            return false
        }
        return true
    }

    /// Inserts purchase rows in one statement (`PostgresPrepared.purchasesInsert`).
    static func insert(
        _ p: [OfflinePurchase], into table: String, _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        guard !p.isEmpty else { return }
        var binds = PostgresBindings(capacity: 24)
        PostgresPrepared.appendPurchases(p, to: &binds)
        try await connection.query(
            PostgresQuery(unsafeSQL: PostgresPrepared.purchasesInsert(into: table, first: 1), binds: binds),
            logger: logger)
    }

    // MARK: Reads

    public func merchants() async throws(StorageError) -> [Merchant] {
        try await reading("SELECT * FROM merchants ORDER BY code COLLATE \"C\"") { try Rows.merchant($0) }
    }

    public func merchant(id: Merchant.ID) async throws(StorageError) -> Merchant? {
        try await reading("SELECT * FROM merchants WHERE id = \(id.rawValue)") { try Rows.merchant($0) }.first
    }

    public func terminals(merchantID: Merchant.ID?) async throws(StorageError) -> [Terminal] {
        if let merchantID {
            return try await reading(
                "SELECT * FROM terminals WHERE merchant_id = \(merchantID.rawValue) ORDER BY number COLLATE \"C\""
            ) { try Rows.terminal($0) }
        }
        return try await reading("SELECT * FROM terminals ORDER BY number COLLATE \"C\"") { try Rows.terminal($0) }
    }

    public func terminal(id: Terminal.ID) async throws(StorageError) -> Terminal? {
        try await reading("SELECT * FROM terminals WHERE id = \(id.rawValue)") { try Rows.terminal($0) }.first
    }

    public func terminal(keyHash: [UInt8]) async throws(StorageError) -> Terminal? {
        try await reading("SELECT * FROM terminals WHERE key_hash = \(ByteBuffer(bytes: keyHash))") {
            try Rows.terminal($0)
        }.first
    }

    public func purchaseBatch(
        terminalID: Terminal.ID, number: Int64
    ) async throws(StorageError) -> (batch: PurchaseBatch, response: Data)? {
        try await reading(
            "SELECT * FROM purchase_batches WHERE terminal_id = \(terminalID.rawValue) AND number = \(number)"
        ) { (try Rows.purchaseBatch($0), try $0.data("response")) }.first
    }

    public func purchases(matching keys: [PurchaseKey]) async throws(StorageError) -> [OfflinePurchase] {
        guard !keys.isEmpty else { return [] }
        let counted = keys.filter(\.mayBeCountedUnderCardCounter)
        let asns = counted.map(\.asn), counters = counted.map(\.cardCounter)
        let allASNs = keys.map(\.asn), allCounters = keys.map(\.cardCounter)
        let psams = keys.map(\.psamSerial), serials = keys.map(\.terminalSerial)
        // Each branch names its outcome so that the partial indexes serve it.
        let found = try await reading(
            """
            SELECT p.* FROM offline_purchases p
            JOIN unnest(\(asns), \(counters)) AS k (asn, card_counter)
                ON p.asn = k.asn AND p.card_counter = k.card_counter AND p.outcome <> 'parked'
            UNION ALL
            SELECT p.* FROM offline_purchases p
            JOIN unnest(\(allASNs), \(allCounters)) AS k (asn, card_counter)
                ON p.asn = k.asn AND p.card_counter = k.card_counter AND p.outcome = 'parked'
            UNION ALL
            SELECT p.* FROM offline_purchases p
            JOIN unnest(\(psams), \(serials)) AS k (psam_serial, terminal_serial)
                ON p.psam_serial = k.psam_serial AND p.terminal_serial = k.terminal_serial AND p.outcome <> 'parked'
            UNION ALL
            SELECT p.* FROM offline_purchases p
            JOIN unnest(\(psams), \(serials)) AS k (psam_serial, terminal_serial)
                ON p.psam_serial = k.psam_serial AND p.terminal_serial = k.terminal_serial AND p.outcome = 'parked'
            """
        ) { try Rows.purchase($0) }
        // A record found under two keys comes once.
        var seen = Set<String>()
        return found.filter { seen.insert($0.id.rawValue).inserted }
    }

    /// The ingest's reads on one connection: the cards' states, then the cards' releasable records
    /// with the stored records under the keys other than counted ones under a card counter; then
    /// those, where the chains read allow any. The two first statements are prepared once per
    /// connection.
    public func purchaseIntake(asns: [String], keys: [PurchaseKey]) async throws(StorageError) -> PurchaseIntake {
        guard !asns.isEmpty else {
            return PurchaseIntake(states: [], stored: try await purchases(matching: keys), releasable: [])
        }
        let logger = self.logger
        // The two reads on two connections at once: one round trip's wait instead of two.
        async let statesRead = client.withConnection { connection in
            var states: [PurseState] = []
            for try await state in try await connection.execute(
                PostgresPrepared.PurseStates(asns: asns), logger: logger)
            {
                states.append(state)
            }
            return states
        }
        let states: [PurseState]
        let (releasable, partStored): ([OfflinePurchase], [OfflinePurchase])
        do {
            (releasable, partStored) = try await client.withConnection { connection in
                var releasable: [OfflinePurchase] = []
                var stored: [OfflinePurchase] = []
                // Built when a run of serials first holds a counted record.
                var serialKeys: Set<String>? = nil
                for try await row in try await connection.execute(
                    PostgresPrepared.Intake(asns: asns, keys: keys), logger: logger)
                {
                    let columns = Columns(row.makeRandomAccess())
                    let purchase = try Rows.purchase(columns)
                    switch try columns.int("part") {
                    case 0: releasable.append(purchase)
                    // Counted records in a run of serials: those under the keys.
                    case 2:
                        let serials = serialKeys ?? Set(keys.map { "\($0.psamSerial)|\($0.terminalSerial)" })
                        serialKeys = serials
                        if serials.contains("\(purchase.psamSerial)|\(purchase.terminalSerial)") {
                            stored.append(purchase)
                        }
                    default: stored.append(purchase)
                    }
                }
                return (releasable, stored)
            }
            states = try await statesRead
        } catch {
            throw Self.mapped(error)
        }
        var stored = partStored
        let counted = PurchaseIntake.narrowed(keys, by: states).filter(\.mayBeCountedUnderCardCounter)
        if !counted.isEmpty {
            stored =
                try await reading(
                    """
                    SELECT p.* FROM offline_purchases p
                    JOIN unnest(\(counted.map(\.asn)), \(counted.map(\.cardCounter))) AS k (asn, card_counter)
                        ON p.asn = k.asn AND p.card_counter = k.card_counter AND p.outcome <> 'parked'
                    """
                ) { try Rows.purchase($0) } + stored
        }
        // In the order of `purchases(matching:)`; a record found under two keys comes once.
        var seen = Set<String>()
        return PurchaseIntake(
            states: states, stored: stored.filter { seen.insert($0.id.rawValue).inserted }, releasable: releasable)
    }

    public func releasablePurchases(cardIDs: [Card.ID]) async throws(StorageError) -> [OfflinePurchase] {
        guard !cardIDs.isEmpty else { return [] }
        return try await reading(
            """
            SELECT * FROM offline_purchases
            WHERE outcome = 'parked' AND card_id = ANY(\(cardIDs.map(\.rawValue)))
                AND reason IN ('gap', 'balance_mismatch')
            """
        ) { try Rows.purchase($0) }
    }

    public func parkedPurchases(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [OfflinePurchase] {
        try await reading(
            """
            SELECT * FROM offline_purchases p
            WHERE outcome = 'parked' AND id COLLATE "C" > \(after?.rawValue ?? "")
                AND NOT EXISTS (SELECT 1 FROM purchase_exception_closures c WHERE c.purchase_id = p.id)
            ORDER BY id COLLATE "C" LIMIT \(Self.cap(max(limit, 1)))
            """
        ) { try Rows.purchase($0) }
    }

    public func closedExceptions(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [ClosedException] {
        try await reading(
            """
            \(unescaped: Rows.closedExceptionsSQL) WHERE c.purchase_id COLLATE "C" > \(after?.rawValue ?? "")
            ORDER BY c.purchase_id COLLATE "C" LIMIT \(Self.cap(max(limit, 1)))
            """
        ) { try Rows.closedException($0) }
    }

    public func latestClosedExceptions(limit: Int) async throws(StorageError) -> [ClosedException] {
        try await reading(
            """
            \(unescaped: Rows.closedExceptionsSQL)
            ORDER BY c.closed_at DESC, c.purchase_id COLLATE "C" DESC LIMIT \(Self.cap(max(limit, 1)))
            """
        ) { try Rows.closedException($0) }
    }

    public func purchase(
        id: OfflinePurchase.ID
    ) async throws(StorageError) -> (purchase: OfflinePurchase, closure: ExceptionClosure?)? {
        try await reading(
            """
            SELECT p.*, c.purchase_id, c.note, c.closed_by, c.closed_at
            FROM offline_purchases p LEFT JOIN purchase_exception_closures c ON c.purchase_id = p.id
            WHERE p.id = \(id.rawValue)
            """
        ) { try Rows.purchaseWithClosure($0) }.first.map { (purchase: $0.0, closure: $0.1) }
    }

    public func purchases(cardID: Card.ID, limit: Int) async throws(StorageError) -> [OfflinePurchase] {
        try await reading(
            """
            SELECT * FROM offline_purchases WHERE card_id = \(cardID.rawValue)
            ORDER BY tapped_at DESC, id COLLATE "C" DESC LIMIT \(Self.cap(max(limit, 1)))
            """
        ) { try Rows.purchase($0) }
    }

    public func purseChains(cardIDs: [Card.ID]) async throws(StorageError) -> [PurseChain] {
        guard !cardIDs.isEmpty else { return [] }
        return try await reading("SELECT * FROM purse_chains WHERE card_id = ANY(\(cardIDs.map(\.rawValue)))") {
            try Rows.chain($0)
        }
    }

    public func completedLoads(from onlineCounters: [Card.ID: Int64]) async throws(StorageError) -> [LoadStep] {
        guard !onlineCounters.isEmpty else { return [] }
        let pairs = onlineCounters.sorted { $0.key < $1.key }
        return try await reading(
            """
            SELECT l.card_id, l.online_counter, l.balance_before_fen, l.amount_fen
            FROM unnest(\(pairs.map(\.key.rawValue)), \(pairs.map(\.value))) AS k (card_id, from_counter)
            JOIN purse_loads l ON l.card_id = k.card_id AND l.online_counter >= k.from_counter
                AND l.status <> 'reversed' AND l.status = 'completed'
            ORDER BY l.card_id COLLATE "C", l.online_counter
            """
        ) {
            LoadStep(
                cardID: try $0.id("card_id"), onlineCounter: try $0.int("online_counter"),
                balanceBeforeFen: try $0.int("balance_before_fen"), amountFen: try $0.int("amount_fen"))
        }
    }

    public func purseStates(asns: [String]) async throws(StorageError) -> [PurseState] {
        guard !asns.isEmpty else { return [] }
        return try await reading(
            PostgresQuery(unsafeSQL: Rows.purseStateSelect + " WHERE c.asn = ANY($1)", binds: Self.binds([asns]))
        ) { try Rows.purseState($0) }
    }

    public func fraudSignals(before: FraudSignal.ID?, limit: Int) async throws(StorageError) -> [FraudSignal] {
        try await reading(
            """
            SELECT * FROM fraud_signals WHERE id COLLATE "C" < \(before?.rawValue ?? "\u{10FFFF}")
            ORDER BY id COLLATE "C" DESC LIMIT \(Self.cap(max(limit, 1)))
            """
        ) { try Rows.fraudSignal($0) }
    }

    public func purseClosure(cardID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await reading("SELECT * FROM purse_closures WHERE card_id = \(cardID.rawValue)") {
            try Rows.purseClosure($0)
        }.first
    }

    public func purseClosure(successorID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await reading("SELECT * FROM purse_closures WHERE successor_id = \(successorID.rawValue)") {
            try Rows.purseClosure($0)
        }.first
    }

    public func cardsAwaitingPurseClosure(leftBefore: Timestamp, limit: Int) async throws(StorageError) -> [Card] {
        try await fetchCards(
            """
            WHERE state = ANY($1) AND NOT EXISTS (SELECT 1 FROM purse_closures c WHERE c.card_id = cards.id)
                AND (SELECT e.at FROM card_events e WHERE e.card_id = cards.id AND e.sequence = cards.version) <= $2
            ORDER BY id COLLATE "C" LIMIT $3
            """,
            Self.binds([
                Rows.closedPurseStates.map(\.rawValue), leftBefore.secondsSinceEpoch, Self.cap(max(limit, 1)),
            ]))
    }

    // MARK: Hotlist

    public func hotlistVersion() async throws(StorageError) -> (version: Int64, publishedAt: Timestamp?) {
        try await reading("SELECT version, published_at FROM hotlist_versions ORDER BY version DESC LIMIT 1") {
            (try $0.int("version"), Timestamp(secondsSinceEpoch: try $0.int("published_at")))
        }.first.map { ($0.0, $0.1) } ?? (0, nil)
    }

    public func hotlistEntries() async throws(StorageError) -> [HotlistRow] {
        try await reading(
            "SELECT asn, reason FROM hotlist_entries WHERE removed_version IS NULL ORDER BY asn COLLATE \"C\""
        ) { HotlistRow(asn: try $0.string("asn"), reason: try $0.int("reason")) }
    }

    public func hotlistChanges(
        since version: Int64
    ) async throws(StorageError) -> (added: [HotlistRow], removed: [String]) {
        let added = try await reading(
            """
            SELECT asn, reason FROM hotlist_entries WHERE added_version > \(version) AND removed_version IS NULL
            ORDER BY asn COLLATE "C"
            """
        ) { HotlistRow(asn: try $0.string("asn"), reason: try $0.int("reason")) }
        let removed = try await reading(
            """
            SELECT DISTINCT e.asn COLLATE "C" AS asn FROM hotlist_entries e
            WHERE e.removed_version > \(version) AND e.added_version <= \(version)
                AND NOT EXISTS (SELECT 1 FROM hotlist_entries c WHERE c.asn = e.asn AND c.removed_version IS NULL)
            ORDER BY 1
            """
        ) { try $0.string("asn") }
        return (added, removed)
    }

    public func hotlistCandidates() async throws(StorageError) -> [(asn: String, state: CardState, lost: Bool)] {
        try await reading(
            """
            SELECT asn, state, loss_effective_at IS NOT NULL AS lost FROM cards
            WHERE state = ANY(\(Rows.hotlistedStates.map(\.rawValue)))
            """
        ) { (try $0.string("asn"), try $0.value("state", table: "cards"), try $0.bool("lost")) }
    }
}

public import Storage
import StorageSQL
import Foundation
public import CitizenCardDomain
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// An upload's rows, PostgreSQL's way: records, releases and signals in one statement each
    /// (`unnest` of column arrays; NULLs as "" or -1), not a round trip a row.
    static func applyBulk(_ bulk: BulkWrite, _ connection: PostgresConnection, _ logger: Logger) async throws {
        switch bulk {
        case .insertPurchases(let p):
            try await insert(p, into: "offline_purchases", connection, logger)
        case .releasePurchases(let p):
            guard !p.isEmpty else { return }
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
            guard !c.isEmpty else { return }
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
            guard !s.isEmpty else { return }
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
            let current =
                try await Self.fetch(Rows.currentHotlistVersion, connection, logger) { try $0.int("version") }.first
                ?? 0
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
        case .applyFeedChunk(let chunk):
            try await applyFeedChunk(chunk, connection, logger)
        case .insertLegacyCards(let c):
            guard !c.isEmpty else { return }
            try await connection.query(
                """
                INSERT INTO legacy_cards (\(unescaped: Rows.legacyCardColumns))
                SELECT id, kind, number, NULLIF(holder_index, ''::bytea), balance_fen, status, imported_at, source,
                    NULL, NULL, NULL, version
                FROM unnest(\(c.map(\.id.rawValue)), \(c.map(\.kind.rawValue)), \(c.map(\.number)),
                    \(c.map { ByteBuffer(bytes: $0.holderIndex ?? Data()) }), \(c.map(\.balanceFen)),
                    \(c.map(\.status.rawValue)), \(c.map(\.importedAt.secondsSinceEpoch)), \(c.map(\.source)),
                    \(c.map(\.version)))
                    AS r (id, kind, number, holder_index, balance_fen, status, imported_at, source, version)
                """, logger: logger)
        }
    }

    /// A feed chunk in two statements over column arrays: the persons' versions copied and
    /// updated together (each must match its expected version), then the message claims.
    static func applyFeedChunk(_ chunk: FeedChunk, _ connection: PostgresConnection, _ logger: Logger) async throws {
        let p = chunk.persons
        if !p.isEmpty {
            var written: (Int64, Int64) = (0, 0)
            for try await row in try await connection.query(
                """
                WITH u AS (
                    SELECT * FROM unnest(\(p.map(\.personID.rawValue)), \(p.map(\.expectedVersion)),
                        \(p.map(\.attributes.household.rawValue)), \(p.map(\.attributes.socialInsurance)),
                        \(p.map(\.attributes.ruralMedical)), \(p.map(\.attributes.lifeStatus.rawValue)),
                        \(p.map { ByteBuffer(bytes: $0.fingerprint) }), \(p.map(\.provenance.at.secondsSinceEpoch)),
                        \(p.map(\.provenance.actor)), \(p.map(\.provenance.reason)), \(p.map(\.provenance.source.rawValue)))
                        AS u (id, expected, household, social_insurance, rural_medical, life_status, fingerprint,
                            changed_at, changed_by, change_reason, change_source)
                ), copied AS (
                    INSERT INTO person_versions (person_id, version, id_index, fingerprint, details, household,
                        social_insurance, rural_medical, life_status, changed_at, changed_by, change_reason,
                        change_source, created_at)
                    SELECT p.id, p.version, p.id_index, p.fingerprint, p.details, p.household, p.social_insurance,
                        p.rural_medical, p.life_status, p.changed_at, p.changed_by, p.change_reason, p.change_source,
                        p.created_at
                    FROM persons p JOIN u ON p.id = u.id AND p.version = u.expected
                    RETURNING 1
                ), updated AS (
                    UPDATE persons p SET household = u.household, social_insurance = u.social_insurance,
                        rural_medical = u.rural_medical, life_status = u.life_status, fingerprint = u.fingerprint,
                        version = u.expected + 1, changed_at = u.changed_at, changed_by = u.changed_by,
                        change_reason = u.change_reason, change_source = u.change_source
                    FROM u WHERE p.id = u.id AND p.version = u.expected
                    RETURNING 1
                )
                SELECT (SELECT count(*) FROM copied) AS copied, (SELECT count(*) FROM updated) AS updated
                """, logger: logger
            ).decode((Int64, Int64).self) {
                written = row
            }
            guard written.0 == p.count, written.1 == p.count else { throw StorageError.conflict(entity: "person") }
        }
        let r = chunk.records
        guard !r.isEmpty else { return }
        var results: [String] = []
        results.reserveCapacity(r.count)
        for record in r { results.append(record.result.json) }
        try await connection.query(
            """
            INSERT INTO feed_messages (\(unescaped: Rows.feedRecordColumns))
            SELECT department_id, message_id, kind, digest, received_at, NULLIF(client_id, ''), outcome,
                NULLIF(person_id, ''), result
            FROM unnest(\(r.map(\.departmentID.rawValue)), \(r.map(\.messageID)), \(r.map(\.kind)),
                \(r.map { ByteBuffer(bytes: $0.digest) }), \(r.map(\.receivedAt.secondsSinceEpoch)), \(r.map { $0.clientID?.rawValue ?? "" }),
                \(r.map(\.result.outcome.rawValue)), \(r.map { $0.result.personId?.rawValue ?? "" }), \(results))
                AS r (department_id, message_id, kind, digest, received_at, client_id, outcome, person_id, result)
            """, logger: logger)
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
            throw failed(error)
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
        var asnBinds = PostgresBindings(capacity: 1)
        asnBinds.append(asns)
        return try await reading(
            PostgresQuery(unsafeSQL: Rows.purseStateSelect + " WHERE c.asn = ANY($1)", binds: asnBinds)
        ) { try Rows.purseState($0) }
    }

    // MARK: Hotlist

}

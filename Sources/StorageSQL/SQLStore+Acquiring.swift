public import Storage
public import CitizenCardDomain
public import Foundation

// The acquiring reads both backends share. The ingest's own reads (`purchaseIntake`,
// `purchases(matching:)`, `releasablePurchases`, `purseStates`, `purseChains`,
// `completedLoads`) stay per backend: they take lists of keys, which PostgreSQL binds as arrays
// (`= ANY($1)`, `unnest`) and SQLite as JSON (`json_each(?)`) or a cached statement a key, in
// one read transaction.

extension SQLStore {
    public func merchants() async throws(StorageError) -> [Merchant] {
        try await fetch("SELECT * FROM merchants ORDER BY code\(SQL.byteOrder)") { try Rows.merchant($0) }
    }

    public func merchant(id: Merchant.ID) async throws(StorageError) -> Merchant? {
        try await fetch("SELECT * FROM merchants WHERE id = \(id.rawValue)") { try Rows.merchant($0) }.first
    }

    public func terminals(merchantID: Merchant.ID?) async throws(StorageError) -> [Terminal] {
        let merchant: SQL = merchantID.map { "WHERE merchant_id = \($0.rawValue)" } ?? ""
        return try await fetch("SELECT * FROM terminals \(merchant) ORDER BY number\(SQL.byteOrder)") {
            try Rows.terminal($0)
        }
    }

    public func terminal(id: Terminal.ID) async throws(StorageError) -> Terminal? {
        try await fetch("SELECT * FROM terminals WHERE id = \(id.rawValue)") { try Rows.terminal($0) }.first
    }

    public func terminal(keyHash: [UInt8]) async throws(StorageError) -> Terminal? {
        try await fetch("SELECT * FROM terminals WHERE key_hash = \(Data(keyHash))") { try Rows.terminal($0) }.first
    }

    public func purchaseBatch(
        terminalID: Terminal.ID, number: Int64
    ) async throws(StorageError) -> (batch: PurchaseBatch, response: Data)? {
        try await fetch(
            "SELECT * FROM purchase_batches WHERE terminal_id = \(terminalID.rawValue) AND number = \(number)"
        ) { (try Rows.purchaseBatch($0), try $0.data("response")) }.first
    }

    public func parkedPurchases(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [OfflinePurchase] {
        try await fetch(
            """
            SELECT * FROM offline_purchases p
            WHERE outcome = 'parked' AND id\(SQL.byteOrder) > \(after?.rawValue ?? "")
                AND NOT EXISTS (SELECT 1 FROM purchase_exception_closures c WHERE c.purchase_id = p.id)
            ORDER BY id\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.purchase($0) }
    }

    public func closedExceptions(
        after: OfflinePurchase.ID?, limit: Int
    ) async throws(StorageError) -> [ClosedException] {
        try await fetch(
            """
            \(raw: Rows.closedExceptionsSQL) WHERE c.purchase_id\(SQL.byteOrder) > \(after?.rawValue ?? "")
            ORDER BY c.purchase_id\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.closedException($0) }
    }

    public func latestClosedExceptions(limit: Int) async throws(StorageError) -> [ClosedException] {
        try await fetch(
            """
            \(raw: Rows.closedExceptionsSQL)
            ORDER BY c.closed_at DESC, c.purchase_id\(SQL.byteOrder) DESC LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.closedException($0) }
    }

    public func purchase(
        id: OfflinePurchase.ID
    ) async throws(StorageError) -> (purchase: OfflinePurchase, closure: ExceptionClosure?)? {
        try await fetch(
            """
            SELECT p.*, c.purchase_id, c.note, c.closed_by, c.closed_at
            FROM offline_purchases p LEFT JOIN purchase_exception_closures c ON c.purchase_id = p.id
            WHERE p.id = \(id.rawValue)
            """
        ) { try Rows.purchaseWithClosure($0) }.first.map { (purchase: $0.0, closure: $0.1) }
    }

    public func purchases(cardID: Card.ID, limit: Int) async throws(StorageError) -> [OfflinePurchase] {
        try await fetch(
            """
            SELECT * FROM offline_purchases WHERE card_id = \(cardID.rawValue)
            ORDER BY tapped_at DESC, id\(SQL.byteOrder) DESC LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.purchase($0) }
    }

    public func fraudSignals(before: FraudSignal.ID?, limit: Int) async throws(StorageError) -> [FraudSignal] {
        try await fetch(
            """
            SELECT * FROM fraud_signals WHERE id\(SQL.byteOrder) < \(before?.rawValue ?? "\u{10FFFF}")
            ORDER BY id\(SQL.byteOrder) DESC LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.fraudSignal($0) }
    }

    public func purseClosure(cardID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await fetch("SELECT * FROM purse_closures WHERE card_id = \(cardID.rawValue)") {
            try Rows.purseClosure($0)
        }.first
    }

    public func purseClosure(successorID: Card.ID) async throws(StorageError) -> PurseClosure? {
        try await fetch("SELECT * FROM purse_closures WHERE successor_id = \(successorID.rawValue)") {
            try Rows.purseClosure($0)
        }.first
    }

    public func cardsAwaitingPurseClosure(
        leftBefore: Timestamp, after: Card.ID?, limit: Int
    ) async throws(StorageError) -> [Card] {
        // SQLite walks the partial index `cards_left_service` in id order (without the hint it
        // reads every card of these states through `cards_state` and sorts them for each page).
        try await fetchCards(
            """
            \(sqlite: "INDEXED BY cards_left_service", postgres: "")
            WHERE state IN (\(raw: Rows.sqlList(Rows.closedPurseStates.map(\.rawValue))))
                AND id\(SQL.byteOrder) > \(after?.rawValue ?? "")
                AND NOT EXISTS (SELECT 1 FROM purse_closures c WHERE c.card_id = cards.id)
                AND (SELECT e.at FROM card_events e WHERE e.card_id = cards.id AND e.sequence = cards.version)
                    <= \(leftBefore.secondsSinceEpoch)
            ORDER BY id\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """)
    }

    public func refundPayee(cardID: Card.ID) async throws(StorageError) -> (payee: RefundPayee, sealed: Data)? {
        try await fetch("SELECT * FROM refund_payees WHERE card_id = \(cardID.rawValue)") {
            (try Rows.refundPayee($0), try $0.data("sealed"))
        }.first
    }

    public func dueRefunds(closedBefore: Timestamp, limit: Int) async throws(StorageError) -> [PurseClosure] {
        try await fetch(
            """
            SELECT * FROM purse_closures
            WHERE kind = 'refund' AND status = 'due' AND closed_at < \(closedBefore.secondsSinceEpoch)
            ORDER BY closed_at, card_id\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.purseClosure($0) }
    }

    public func purseClosureTotals() async throws(StorageError) -> [PurseClosureTotal] {
        try await fetch(
            """
            SELECT kind, status, count(*)\(SQL.int64) AS n, sum(amount_fen)\(SQL.int64) AS fen
            FROM purse_closures GROUP BY kind, status ORDER BY kind, status
            """
        ) { row in
            PurseClosureTotal(
                kind: try row.value("kind", table: "purse_closures"),
                status: try row.value("status", table: "purse_closures"), count: try row.int("n"),
                amountFen: try row.int("fen"))
        }
    }

    public func suspenseDecisions(limit: Int) async throws(StorageError) -> [SuspenseDecision] {
        try await fetch(
            """
            SELECT * FROM suspense_decisions ORDER BY decided_at DESC, id\(SQL.byteOrder) DESC
            LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.suspenseDecision($0) }
    }

    // MARK: Hotlist

    public func hotlistVersion() async throws(StorageError) -> (version: Int64, publishedAt: Timestamp?) {
        try await fetch("SELECT version, published_at FROM hotlist_versions ORDER BY version DESC LIMIT 1") {
            (try $0.int("version"), try $0.time("published_at"))
        }.first.map { ($0.0, $0.1) } ?? (0, nil)
    }

    public func hotlistEntries() async throws(StorageError) -> [HotlistRow] {
        try await fetch(
            "SELECT asn, reason FROM hotlist_entries WHERE removed_version IS NULL ORDER BY asn\(SQL.byteOrder)"
        ) { HotlistRow(asn: try $0.string("asn"), reason: try $0.int("reason")) }
    }

    public func hotlistChanges(
        since version: Int64
    ) async throws(StorageError) -> (added: [HotlistRow], removed: [String]) {
        let added = try await fetch(
            """
            SELECT asn, reason FROM hotlist_entries WHERE added_version > \(version) AND removed_version IS NULL
            ORDER BY asn\(SQL.byteOrder)
            """
        ) { HotlistRow(asn: try $0.string("asn"), reason: try $0.int("reason")) }
        let removed = try await fetch(
            """
            SELECT DISTINCT e.asn\(SQL.byteOrder) AS asn FROM hotlist_entries e
            WHERE e.removed_version > \(version) AND e.added_version <= \(version)
                AND NOT EXISTS (SELECT 1 FROM hotlist_entries c WHERE c.asn = e.asn AND c.removed_version IS NULL)
            ORDER BY 1
            """
        ) { try $0.string("asn") }
        return (added, removed)
    }

    public func hotlistCandidates() async throws(StorageError) -> [HotlistCandidate] {
        try await fetch(
            """
            SELECT asn, state, loss_effective_at IS NOT NULL AS lost,
                EXISTS (SELECT 1 FROM card_holds h WHERE h.card_id = cards.id) AS blocked
            FROM cards
            WHERE state IN (\(raw: Rows.sqlList(Rows.hotlistedStates.map(\.rawValue))))
                OR (state = 'active' AND EXISTS (SELECT 1 FROM card_holds h WHERE h.card_id = cards.id))
            """
        ) { row -> HotlistCandidate in
            HotlistCandidate(
                asn: try row.string("asn"), state: try row.value("state", table: "cards"), lost: try row.bool("lost"),
                blocked: try row.bool("blocked"))
        }
    }
}

extension Rows {
    /// `'a', 'b'` of values the code names (states, reasons): never of input.
    package static func sqlList(_ values: [String]) -> String {
        values.map { "'\($0)'" }.joined(separator: ", ")
    }
}

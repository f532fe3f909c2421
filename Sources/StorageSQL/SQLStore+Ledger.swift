public import Storage
public import CitizenCardDomain
public import Ledger

// The ledger and clearing reads both backends share. Posting a transfer stays per backend
// (locks on PostgreSQL, one writer on SQLite); it reads a stored entry with the same queries.

extension SQLStore {
    public func ledgerEntry(id: TransferID) async throws(StorageError) -> JournalEntry? {
        // Postings are written in the transaction that writes their transfer: once the transfer
        // is seen, so are they.
        guard
            let transfer = try await fetch(LedgerRows.transferQuery(id.rawValue), LedgerRows.StoredTransfer.init)
                .first
        else { return nil }
        let postings = try await fetch(LedgerRows.postingsQuery(id.rawValue)) { try LedgerRows.posting($0) }
        return try LedgerRows.entry(id: id.rawValue, transfer: transfer, postings: postings)
    }

    public func ledgerBalances(_ accounts: [AccountID]) async throws(StorageError) -> [AccountID: Int64] {
        var result = Dictionary(uniqueKeysWithValues: accounts.map { ($0, Int64(0)) })
        guard !accounts.isEmpty else { return result }
        for (account, balance) in try await fetch(
            "SELECT id, balance_fen FROM ledger_accounts WHERE id IN (\(SQL.list(accounts.map(\.rawValue.sqlValue))))",
            { try LedgerRows.balance($0) })
        {
            result[account] = balance
        }
        return result
    }

    public func ledgerAllBalances() async throws(StorageError) -> [AccountID: Int64] {
        Dictionary(
            uniqueKeysWithValues: try await fetch("SELECT id, balance_fen FROM ledger_accounts") {
                try LedgerRows.balance($0)
            })
    }

    public func ledgerCredits(
        kind: TransferKind, from: Timestamp, until: Timestamp
    ) async throws(StorageError) -> [AccountID: Int64] {
        let pairs = try await fetch(
            """
            SELECT p.account_id, (-sum(p.amount_fen))\(SQL.int64) AS fen
            FROM ledger_transfers t JOIN ledger_postings p ON p.transfer_id = t.id
            WHERE t.kind = \(kind.rawValue) AND t.at >= \(from.secondsSinceEpoch) AND t.at < \(until.secondsSinceEpoch)
                AND p.amount_fen < 0
            GROUP BY p.account_id
            """
        ) { row -> (String, Int64) in (try row.string("account_id"), try row.int("fen")) }
        return try Rows.accountTotals(pairs)
    }

    // MARK: Clearing

    public func clearingLines(businessDate: CalendarDate) async throws(StorageError) -> [ClearingLine] {
        try await fetch(
            """
            SELECT merchant_id, terminal_id, outcome, count(*) AS n, sum(amount_fen)\(SQL.int64) AS fen,
                count(*) FILTER (WHERE posted_at > received_at) AS released_n,
                coalesce(sum(amount_fen) FILTER (WHERE posted_at > received_at), 0)\(SQL.int64) AS released_fen
            FROM offline_purchases\(sqlite: " INDEXED BY offline_purchases_clearing", postgres: "")
            WHERE posted_on = \(businessDate.iso8601) AND outcome <> 'parked'
            GROUP BY merchant_id, terminal_id, outcome
            ORDER BY merchant_id\(SQL.byteOrder), terminal_id\(SQL.byteOrder), outcome\(SQL.byteOrder)
            """
        ) { try Rows.clearingLine($0) }
    }

    public func clearingResults(businessDate: CalendarDate) async throws(StorageError) -> [ClearingResult] {
        try await fetch(
            """
            SELECT * FROM clearing_results WHERE business_date = \(businessDate.iso8601)
            ORDER BY merchant_id\(SQL.byteOrder)
            """
        ) { try Rows.clearingResult($0) }
    }

    public func batchTotals(from: Timestamp, until: Timestamp) async throws(StorageError) -> [BatchTotal] {
        try await fetch(
            """
            SELECT terminal_id, count(*) AS batches, sum(record_count)\(SQL.int64) AS records,
                sum(posted_count)\(SQL.int64) AS posted, sum(risk_count)\(SQL.int64) AS risk,
                sum(parked_count)\(SQL.int64) AS parked, sum(duplicate_count)\(SQL.int64) AS duplicates,
                sum(accepted_fen)\(SQL.int64) AS accepted_fen
            FROM purchase_batches
            WHERE received_at >= \(from.secondsSinceEpoch) AND received_at < \(until.secondsSinceEpoch)
            GROUP BY terminal_id ORDER BY terminal_id\(SQL.byteOrder)
            """
        ) { try Rows.batchTotal($0) }
    }

    /// The records of a clearing day and their sum (the clearing benchmark's scan).
    public func scanDay(_ date: CalendarDate) async throws(StorageError) -> (count: Int64, fen: Int64) {
        try await fetch(
            """
            SELECT count(*) AS n, coalesce(sum(amount_fen), 0)\(SQL.int64) AS fen
            FROM offline_purchases\(sqlite: " INDEXED BY offline_purchases_clearing", postgres: "")
            WHERE posted_on = \(date.iso8601) AND outcome <> 'parked'
            """
        ) { (try $0.int("n"), try $0.int("fen")) }.first ?? (0, 0)
    }
}

extension SQLStore {
    /// Every stored record in the order the baseline inserts them (`PurchaseInsertBaseline`).
    public func storedPurchasesForBaseline() async throws(StorageError) -> [OfflinePurchase] {
        try await fetch(
            "SELECT * FROM offline_purchases ORDER BY received_at, batch_id\(SQL.byteOrder), id\(SQL.byteOrder)"
        ) { try Rows.purchase($0) }
    }
}

extension SQL {
    /// `::bigint` on PostgreSQL, whose `sum` of bigints is numeric; nothing on SQLite.
    package static let int64: SQL = "\(sqlite: "", postgres: "::bigint")"
}

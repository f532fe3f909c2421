public import CitizenCardDomain
public import Ledger
import GRDB

extension SQLiteStore {
    static func insertClearingResults(_ results: [ClearingResult], _ db: Database) throws {
        let insert = try db.cachedStatement(
            sql: """
                INSERT INTO clearing_results (business_date, merchant_id, record_count, gross_fen, risk_fen,
                    commission_basis_points, commission_fen, net_fen, cleared_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
        for r in results {
            try insert.execute(arguments: [
                r.businessDate.iso8601, r.merchantID.rawValue, r.recordCount, r.grossFen, r.riskFen,
                r.commissionBasisPoints, r.commissionFen, r.netFen, r.clearedAt.secondsSinceEpoch,
            ])
        }
    }

    public func clearingLines(businessDate: CalendarDate) async throws(StorageError) -> [ClearingLine] {
        try await rows(
            """
            SELECT merchant_id, terminal_id, outcome, count(*) AS n, sum(amount_fen) AS fen,
                sum(posted_at > received_at) AS released_n,
                sum(CASE WHEN posted_at > received_at THEN amount_fen ELSE 0 END) AS released_fen
            FROM offline_purchases INDEXED BY offline_purchases_clearing
            WHERE posted_on = ? AND outcome <> 'parked'
            GROUP BY merchant_id, terminal_id, outcome
            ORDER BY merchant_id, terminal_id, outcome
            """, [businessDate.iso8601]
        ) { try Rows.clearingLine($0) }
    }

    public func clearingResults(businessDate: CalendarDate) async throws(StorageError) -> [ClearingResult] {
        try await rows(
            "SELECT * FROM clearing_results WHERE business_date = ? ORDER BY merchant_id", [businessDate.iso8601]
        ) { try Rows.clearingResult($0) }
    }

    public func batchTotals(from: Timestamp, until: Timestamp) async throws(StorageError) -> [BatchTotal] {
        try await rows(
            """
            SELECT terminal_id, count(*) AS batches, sum(record_count) AS records, sum(posted_count) AS posted,
                sum(risk_count) AS risk, sum(parked_count) AS parked, sum(duplicate_count) AS duplicates,
                sum(accepted_fen) AS accepted_fen
            FROM purchase_batches WHERE received_at >= ? AND received_at < ?
            GROUP BY terminal_id ORDER BY terminal_id
            """, [from.secondsSinceEpoch, until.secondsSinceEpoch]
        ) { try Rows.batchTotal($0) }
    }

    public func ledgerCredits(
        kind: TransferKind, from: Timestamp, until: Timestamp
    ) async throws(StorageError) -> [AccountID: Int64] {
        let pairs = try await rows(
            """
            SELECT p.account_id, -sum(p.amount_fen) AS fen
            FROM ledger_transfers t JOIN ledger_postings p ON p.transfer_id = t.id
            WHERE t.kind = ? AND t.at >= ? AND t.at < ? AND p.amount_fen < 0
            GROUP BY p.account_id
            """, [kind.rawValue, from.secondsSinceEpoch, until.secondsSinceEpoch]
        ) { row -> (String, Int64) in (try row.string("account_id"), try row.int("fen")) }
        return try Rows.accountTotals(pairs)
    }
}

extension SQLiteStore: PurchaseInsertBaseline {
    public func prepareBareCopy() async throws(StorageError) {
        try await write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS offline_purchases_bare")
            let statements = try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master WHERE tbl_name = 'offline_purchases' AND sql IS NOT NULL
                    ORDER BY type DESC
                    """)
            for statement in statements {
                try db.execute(
                    sql: statement.replacingOccurrences(of: "offline_purchases", with: "offline_purchases_bare"))
            }
        }
    }

    public func storedPurchasesForBaseline() async throws(StorageError) -> [OfflinePurchase] {
        try await rows("SELECT * FROM offline_purchases ORDER BY received_at, batch_id, id") { try Rows.purchase($0) }
    }

    public func bareInsert(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await write { db in
            let insert = try db.cachedStatement(
                sql: Self.insertPurchaseSQL.replacingOccurrences(
                    of: "offline_purchases", with: "offline_purchases_bare"))
            for row in rows { try insert.execute(arguments: Self.purchaseArguments(row)) }
        }
    }

    public func bulkInsertPurchases(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await write { db in
            let insert = try db.cachedStatement(sql: Self.insertPurchaseSQL)
            for row in rows { try insert.execute(arguments: Self.purchaseArguments(row)) }
        }
    }

    public func scanDay(_ date: CalendarDate) async throws(StorageError) -> (count: Int64, fen: Int64) {
        try await read { db in
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS n, coalesce(sum(amount_fen), 0) AS fen
                    FROM offline_purchases INDEXED BY offline_purchases_clearing
                    WHERE posted_on = ? AND outcome <> 'parked'
                    """, arguments: [date.iso8601])!
            return (row["n"], row["fen"])
        }
    }

    public func dropBenchmarkData() async throws(StorageError) {}
}

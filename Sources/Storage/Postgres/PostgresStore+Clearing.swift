public import CitizenCardDomain
public import Ledger
import PostgresNIO

extension PostgresStore {
    static func insertClearingResults(
        _ r: [ClearingResult], _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        guard !r.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO clearing_results (business_date, merchant_id, record_count, gross_fen, risk_fen,
                commission_basis_points, commission_fen, net_fen, cleared_at)
            SELECT * FROM unnest(\(r.map(\.businessDate.iso8601)), \(r.map(\.merchantID.rawValue)),
                \(r.map(\.recordCount)), \(r.map(\.grossFen)), \(r.map(\.riskFen)), \(r.map(\.commissionBasisPoints)),
                \(r.map(\.commissionFen)), \(r.map(\.netFen)), \(r.map(\.clearedAt.secondsSinceEpoch)))
            """, logger: logger)
    }

    public func clearingLines(businessDate: CalendarDate) async throws(StorageError) -> [ClearingLine] {
        try await reading(
            """
            SELECT merchant_id, terminal_id, outcome, count(*) AS n, sum(amount_fen)::bigint AS fen,
                count(*) FILTER (WHERE posted_at > received_at) AS released_n,
                coalesce(sum(amount_fen) FILTER (WHERE posted_at > received_at), 0)::bigint AS released_fen
            FROM offline_purchases
            WHERE posted_on = \(businessDate.iso8601) AND outcome <> 'parked'
            GROUP BY merchant_id, terminal_id, outcome
            ORDER BY merchant_id COLLATE "C", terminal_id COLLATE "C", outcome COLLATE "C"
            """
        ) { try Rows.clearingLine($0) }
    }

    public func clearingResults(businessDate: CalendarDate) async throws(StorageError) -> [ClearingResult] {
        try await reading(
            """
            SELECT * FROM clearing_results WHERE business_date = \(businessDate.iso8601)
            ORDER BY merchant_id COLLATE "C"
            """
        ) { try Rows.clearingResult($0) }
    }

    public func batchTotals(from: Timestamp, until: Timestamp) async throws(StorageError) -> [BatchTotal] {
        try await reading(
            """
            SELECT terminal_id, count(*) AS batches, sum(record_count)::bigint AS records,
                sum(posted_count)::bigint AS posted, sum(risk_count)::bigint AS risk,
                sum(parked_count)::bigint AS parked, sum(duplicate_count)::bigint AS duplicates,
                sum(accepted_fen)::bigint AS accepted_fen
            FROM purchase_batches
            WHERE received_at >= \(from.secondsSinceEpoch) AND received_at < \(until.secondsSinceEpoch)
            GROUP BY terminal_id ORDER BY terminal_id COLLATE "C"
            """
        ) { try Rows.batchTotal($0) }
    }

    public func ledgerCredits(
        kind: TransferKind, from: Timestamp, until: Timestamp
    ) async throws(StorageError) -> [AccountID: Int64] {
        let pairs = try await reading(
            """
            SELECT p.account_id, (-sum(p.amount_fen))::bigint AS fen
            FROM ledger_transfers t JOIN ledger_postings p ON p.transfer_id = t.id
            WHERE t.kind = \(kind.rawValue) AND t.at >= \(from.secondsSinceEpoch) AND t.at < \(until.secondsSinceEpoch)
                AND p.amount_fen < 0
            GROUP BY p.account_id
            """
        ) { row -> (String, Int64) in (try row.string("account_id"), try row.int("fen")) }
        return try Rows.accountTotals(pairs)
    }
}

extension PostgresStore: PurchaseInsertBaseline {
    public func prepareBareCopy() async throws(StorageError) {
        try await transaction { connection in
            try await connection.query("DROP TABLE IF EXISTS offline_purchases_bare", logger: self.logger)
            try await connection.query(
                "CREATE TABLE offline_purchases_bare (LIKE offline_purchases INCLUDING ALL)", logger: self.logger)
        }
    }

    public func storedPurchasesForBaseline() async throws(StorageError) -> [OfflinePurchase] {
        try await reading(
            "SELECT * FROM offline_purchases ORDER BY received_at, batch_id COLLATE \"C\", id COLLATE \"C\""
        ) { try Rows.purchase($0) }
    }

    public func bareInsert(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await transaction { connection in
            try await Self.insert(rows, into: "offline_purchases_bare", connection, self.logger)
        }
    }

    public func bulkInsertPurchases(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await transaction { connection in
            try await Self.insert(rows, into: "offline_purchases", connection, self.logger)
        }
    }

    public func scanDay(_ date: CalendarDate) async throws(StorageError) -> (count: Int64, fen: Int64) {
        try await reading(
            """
            SELECT count(*) AS n, coalesce(sum(amount_fen), 0)::bigint AS fen FROM offline_purchases
            WHERE posted_on = \(date.iso8601) AND outcome <> 'parked'
            """
        ) { (try $0.int("n"), try $0.int("fen")) }.first ?? (0, 0)
    }

    public func dropBenchmarkData() async throws(StorageError) {
        try await transaction { connection in
            try await connection.query(
                PostgresQuery(
                    unsafeSQL: """
                        DO $$ BEGIN
                            IF current_schema() LIKE 'bench\\_%' THEN
                                EXECUTE format('DROP SCHEMA %I CASCADE', current_schema());
                            END IF;
                        END $$
                        """), logger: self.logger)
        }
    }
}

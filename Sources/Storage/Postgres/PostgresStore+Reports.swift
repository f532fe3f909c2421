public import CitizenCardDomain
import PostgresNIO

extension PostgresStore: ReportStore {
    public func outletActivity(
        outletID: Outlet.ID, from: Timestamp, until: Timestamp, bucketSeconds: Int64
    ) async throws(StorageError) -> OutletActivity {
        precondition(from < until && bucketSeconds > 0, "a window and a positive bucket")
        let start = from.secondsSinceEpoch, end = until.secondsSinceEpoch, outlet = outletID.rawValue
        let settlement = OutletActivity.cashSettlement(outletID)
        let logger = self.logger
        // One snapshot for the five sums, as on SQLite.
        return try await transaction { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            func rows<T>(_ query: PostgresQuery, _ decode: (Columns) throws -> T) async throws -> [T] {
                var result: [T] = []
                for try await row in try await connection.query(query, logger: logger) {
                    result.append(try decode(Columns(row.makeRandomAccess())))
                }
                return result
            }
            // A `cancel` is `with_predecessor` when the card's predecessor was cancelled in the
            // same commit (same second): `CardService.cancel` takes a successor in the pipeline with it.
            let events = try await rows(
                """
                SELECT e.action, CASE WHEN e.action = 'create' THEN e.reason END AS created_kind,
                    (CASE WHEN e.action = 'cancel' AND EXISTS (
                        SELECT 1 FROM cards c JOIN card_events p ON p.card_id = c.predecessor_id
                        WHERE c.id = e.card_id AND p.action = 'cancel' AND p.at = e.at) THEN 1 ELSE 0 END
                    )::bigint AS with_predecessor,
                    e.actor, (e.at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n
                FROM card_events e
                WHERE e.outlet_id = \(outlet) AND e.at >= \(start) AND e.at < \(end)
                GROUP BY e.action, created_kind, with_predecessor, e.actor, bucket
                """
            ) { try Rows.eventCount($0) }
            let fees = try await rows(
                """
                SELECT r.item, r.payment_method, o.username, (r.at - \(start)) / \(bucketSeconds) AS bucket,
                    count(*) AS n, sum(r.amount_fen)::bigint AS fen
                FROM receipts r JOIN operators o ON o.id = r.operator_id
                WHERE r.outlet_id = \(outlet) AND r.at >= \(start) AND r.at < \(end)
                GROUP BY r.item, r.payment_method, o.username, bucket
                """
            ) { try Rows.feeTotal($0) }
            let approved = try await rows(
                """
                SELECT funding, status, actor, (approved_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                    sum(amount_fen)::bigint AS fen
                FROM purse_loads
                WHERE outlet_id = \(outlet) AND approved_at >= \(start) AND approved_at < \(end)
                GROUP BY funding, status, actor, bucket
                """
            ) { try Rows.loadTotal($0) }
            let reversed = try await rows(
                """
                SELECT funding, status, actor, (resolved_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                    sum(amount_fen)::bigint AS fen
                FROM purse_loads
                WHERE outlet_id = \(outlet) AND status = 'reversed' AND resolved_at >= \(start)
                    AND resolved_at < \(end)
                GROUP BY funding, status, actor, bucket
                """
            ) { try Rows.loadTotal($0) }
            let payouts = try await rows(
                """
                SELECT (settled_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                    sum(amount_fen)::bigint AS fen
                FROM purse_closures
                WHERE settlement = \(settlement) AND settled_at >= \(start) AND settled_at < \(end)
                GROUP BY bucket
                """
            ) { try Rows.payoutTotal($0) }
            return OutletActivity(
                events: events, fees: fees, loadsApproved: approved, loadsReversed: reversed, payouts: payouts)
        }
    }
}

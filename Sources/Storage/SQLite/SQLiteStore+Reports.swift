public import CitizenCardDomain
import GRDB

extension SQLiteStore: ReportStore {
    public func outletActivity(
        outletID: Outlet.ID, from: Timestamp, until: Timestamp, bucketSeconds: Int64
    ) async throws(StorageError) -> OutletActivity {
        precondition(from < until && bucketSeconds > 0, "a window and a positive bucket")
        let start = from.secondsSinceEpoch, end = until.secondsSinceEpoch
        let window: StatementArguments = [start, bucketSeconds, outletID.rawValue, start, end]
        let payoutWindow: StatementArguments = [
            start, bucketSeconds, OutletActivity.cashSettlement(outletID), start, end,
        ]
        // One read transaction: the five sums come from the same snapshot.
        return try await read { db in
            OutletActivity(
                events: try Self.decodeAll(try db.makeStatement(sql: Self.eventCountsSQL), window) {
                    try Rows.eventCount($0)
                },
                fees: try Self.decodeAll(try db.makeStatement(sql: Self.feeTotalsSQL), window) {
                    try Rows.feeTotal($0)
                },
                loadsApproved: try Self.decodeAll(try db.makeStatement(sql: Self.loadsApprovedSQL), window) {
                    try Rows.loadTotal($0)
                },
                loadsReversed: try Self.decodeAll(try db.makeStatement(sql: Self.loadsReversedSQL), window) {
                    try Rows.loadTotal($0)
                },
                payouts: try Self.decodeAll(try db.makeStatement(sql: Self.payoutTotalsSQL), payoutWindow) {
                    try Rows.payoutTotal($0)
                })
        }
    }

    // Every statement takes (from, bucketSeconds, outlet or settlement, from, until).

    /// A `cancel` is `with_predecessor` when the card's predecessor was cancelled in the same
    /// commit (same second): `CardService.cancel` takes a successor in the pipeline with it.
    static let eventCountsSQL = """
        SELECT e.action, CASE WHEN e.action = 'create' THEN e.reason END AS created_kind,
            CASE WHEN e.action = 'cancel' AND EXISTS (
                SELECT 1 FROM cards c JOIN card_events p ON p.card_id = c.predecessor_id
                WHERE c.id = e.card_id AND p.action = 'cancel' AND p.at = e.at) THEN 1 ELSE 0 END AS with_predecessor,
            e.actor, (e.at - ?) / ? AS bucket, count(*) AS n
        FROM card_events e INDEXED BY card_events_outlet
        WHERE e.outlet_id = ? AND e.at >= ? AND e.at < ?
        GROUP BY e.action, created_kind, with_predecessor, e.actor, bucket
        """

    static let feeTotalsSQL = """
        SELECT r.item, r.payment_method, o.username, (r.at - ?) / ? AS bucket, count(*) AS n,
            sum(r.amount_fen) AS fen
        FROM receipts r JOIN operators o ON o.id = r.operator_id
        WHERE r.outlet_id = ? AND r.at >= ? AND r.at < ?
        GROUP BY r.item, r.payment_method, o.username, bucket
        """

    static let loadsApprovedSQL = """
        SELECT funding, status, actor, (approved_at - ?) / ? AS bucket, count(*) AS n, sum(amount_fen) AS fen
        FROM purse_loads INDEXED BY purse_loads_outlet
        WHERE outlet_id = ? AND approved_at >= ? AND approved_at < ?
        GROUP BY funding, status, actor, bucket
        """

    static let loadsReversedSQL = """
        SELECT funding, status, actor, (resolved_at - ?) / ? AS bucket, count(*) AS n, sum(amount_fen) AS fen
        FROM purse_loads INDEXED BY purse_loads_outlet_reversed
        WHERE outlet_id = ? AND status = 'reversed' AND resolved_at >= ? AND resolved_at < ?
        GROUP BY funding, status, actor, bucket
        """

    static let payoutTotalsSQL = """
        SELECT (settled_at - ?) / ? AS bucket, count(*) AS n, sum(amount_fen) AS fen
        FROM purse_closures INDEXED BY purse_closures_settlement
        WHERE settlement = ? AND settled_at >= ? AND settled_at < ?
        GROUP BY bucket
        """
}

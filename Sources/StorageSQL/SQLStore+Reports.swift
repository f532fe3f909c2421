public import CitizenCardDomain
public import Storage
import Ledger

// The outlet reports' reads (`ReportStore`), written once for both backends.

extension Rows {
    package static func eventCount(_ row: some RowReader) throws -> OutletActivity.EventCount {
        OutletActivity.EventCount(
            action: try row.value("action", table: "card_events"),
            createdKind: try row.optionalValue("created_kind", table: "card_events"),
            withPredecessor: try row.int("with_predecessor") != 0, actor: try row.string("actor"),
            bucket: try row.int("bucket"), count: try row.int("n"))
    }

    package static func feeTotal(_ row: some RowReader) throws -> OutletActivity.FeeTotal {
        OutletActivity.FeeTotal(
            item: try row.value("item", table: "receipts"),
            paymentMethod: try row.value("payment_method", table: "receipts"),
            operatorName: try row.string("username"), bucket: try row.int("bucket"), count: try row.int("n"),
            amountFen: try row.int("fen"))
    }

    package static func loadTotal(_ row: some RowReader) throws -> OutletActivity.LoadTotal {
        OutletActivity.LoadTotal(
            funding: try row.value("funding", table: "purse_loads"),
            status: try row.value("status", table: "purse_loads"),
            actor: try row.string("actor"), bucket: try row.int("bucket"), count: try row.int("n"),
            amountFen: try row.int("fen"))
    }

    package static func cashMovement(_ row: some RowReader) throws -> OutletActivity.CashMovement {
        OutletActivity.CashMovement(
            kind: try row.value("kind", table: "ledger_transfers"), count: try row.int("n"),
            netFen: try row.int("fen"))
    }

    package static func payoutTotal(_ row: some RowReader) throws -> OutletActivity.PayoutTotal {
        OutletActivity.PayoutTotal(
            bucket: try row.int("bucket"), count: try row.int("n"), amountFen: try row.int("fen"))
    }
}

extension SQLStore {
    public func outletActivity(
        outletID: Outlet.ID, from: Timestamp, until: Timestamp, bucketSeconds: Int64
    ) async throws(StorageError) -> OutletActivity {
        precondition(from < until && bucketSeconds > 0, "a window and a positive bucket")
        let start = from.secondsSinceEpoch, end = until.secondsSinceEpoch, outlet = outletID.rawValue
        let settlement = OutletActivity.cashSettlement(outletID)
        // The planner hints are SQLite's (its planner otherwise scans by time across all outlets).
        func hint(_ index: String) -> SQL { "\(sqlite: " INDEXED BY \(index)", postgres: "")" }
        let queries: [SQL] = [
            // A `cancel` is `with_predecessor` when the card's predecessor was cancelled in the
            // same commit (same second): `CardService.cancel` takes a successor in the pipeline with it.
            """
            SELECT e.action, CASE WHEN e.action = 'create' THEN e.reason END AS created_kind,
                (CASE WHEN e.action = 'cancel' AND EXISTS (
                    SELECT 1 FROM cards c JOIN card_events p ON p.card_id = c.predecessor_id
                    WHERE c.id = e.card_id AND p.action = 'cancel' AND p.at = e.at) THEN 1 ELSE 0 END
                )\(SQL.int64) AS with_predecessor,
                e.actor, (e.at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n
            FROM card_events e\(hint("card_events_outlet"))
            WHERE e.outlet_id = \(outlet) AND e.at >= \(start) AND e.at < \(end)
            GROUP BY e.action, created_kind, with_predecessor, e.actor, bucket
            """,
            """
            SELECT r.item, r.payment_method, o.username, (r.at - \(start)) / \(bucketSeconds) AS bucket,
                count(*) AS n, sum(r.amount_fen)\(SQL.int64) AS fen
            FROM receipts r JOIN operators o ON o.id = r.operator_id
            WHERE r.outlet_id = \(outlet) AND r.at >= \(start) AND r.at < \(end)
            GROUP BY r.item, r.payment_method, o.username, bucket
            """,
            """
            SELECT funding, status, actor, (approved_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                sum(amount_fen)\(SQL.int64) AS fen
            FROM purse_loads\(hint("purse_loads_outlet"))
            WHERE outlet_id = \(outlet) AND approved_at >= \(start) AND approved_at < \(end)
            GROUP BY funding, status, actor, bucket
            """,
            """
            SELECT funding, status, actor, (resolved_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                sum(amount_fen)\(SQL.int64) AS fen
            FROM purse_loads\(hint("purse_loads_outlet_reversed"))
            WHERE outlet_id = \(outlet) AND status = 'reversed' AND resolved_at >= \(start)
                AND resolved_at < \(end)
            GROUP BY funding, status, actor, bucket
            """,
            """
            SELECT (settled_at - \(start)) / \(bucketSeconds) AS bucket, count(*) AS n,
                sum(amount_fen)\(SQL.int64) AS fen
            FROM purse_closures\(hint("purse_closures_settlement"))
            WHERE settlement = \(settlement) AND settled_at >= \(start) AND settled_at < \(end)
            GROUP BY bucket
            """,
            // The ledger's side: what moved the outlet's cash account in the window, by kind of
            // transfer (through its postings' account index, then each transfer's time).
            """
            SELECT t.kind, count(*) AS n, sum(p.amount_fen)\(SQL.int64) AS fen
            FROM ledger_postings p JOIN ledger_transfers t ON t.id = p.transfer_id
            WHERE p.account_id = \(AccountID.outletCash(outletID).rawValue) AND t.at >= \(start) AND t.at < \(end)
            GROUP BY t.kind
            """,
        ]
        // One snapshot for the six sums: the parts agree with each other.
        let parts = try await fetchInSnapshot(queries) { index, row -> ActivityRow in
            switch index {
            case 0: .event(try Rows.eventCount(row))
            case 1: .fee(try Rows.feeTotal(row))
            case 2, 3: .load(try Rows.loadTotal(row))
            case 4: .payout(try Rows.payoutTotal(row))
            default: .cash(try Rows.cashMovement(row))
            }
        }
        return OutletActivity(
            events: parts[0].compactMap { if case .event(let row) = $0 { row } else { nil } },
            fees: parts[1].compactMap { if case .fee(let row) = $0 { row } else { nil } },
            loadsApproved: parts[2].compactMap { if case .load(let row) = $0 { row } else { nil } },
            loadsReversed: parts[3].compactMap { if case .load(let row) = $0 { row } else { nil } },
            payouts: parts[4].compactMap { if case .payout(let row) = $0 { row } else { nil } },
            cashLedger: parts[5].compactMap { if case .cash(let row) = $0 { row } else { nil } })
    }
}

/// A row of one of `outletActivity`'s six queries.
private enum ActivityRow: Sendable {
    case event(OutletActivity.EventCount)
    case fee(OutletActivity.FeeTotal)
    case load(OutletActivity.LoadTotal)
    case payout(OutletActivity.PayoutTotal)
    case cash(OutletActivity.CashMovement)
}

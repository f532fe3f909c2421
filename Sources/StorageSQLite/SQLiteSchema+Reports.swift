import Storage
import StorageSQL
extension SQLiteSchema {
    /// The outlet reports (R-44, docs/reports.md) read one outlet's day: its card events, loads
    /// and cash payouts by time. Receipts already have `receipts_outlet_time`.
    static let outletReports: [String] = [
        "CREATE INDEX card_events_outlet ON card_events(outlet_id, at) WHERE outlet_id IS NOT NULL",
        "CREATE INDEX purse_loads_outlet ON purse_loads(outlet_id, approved_at)",
        "CREATE INDEX purse_loads_outlet_reversed ON purse_loads(outlet_id, resolved_at) WHERE status = 'reversed'",
        """
        CREATE INDEX purse_closures_settlement ON purse_closures(settlement, settled_at)
        WHERE settlement IS NOT NULL
        """,
    ]
}

import Storage
import StorageSQL
extension PostgresSchema {
    /// As `SQLiteSchema.outletReports`. `IF NOT EXISTS`: a large database may build them first with
    /// `CREATE INDEX CONCURRENTLY` (docs/reports.md), without blocking writes.
    static let outletReports: [String] = [
        "CREATE INDEX IF NOT EXISTS card_events_outlet ON card_events (outlet_id, at) WHERE outlet_id IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS purse_loads_outlet ON purse_loads (outlet_id, approved_at)",
        """
        CREATE INDEX IF NOT EXISTS purse_loads_outlet_reversed ON purse_loads (outlet_id, resolved_at)
        WHERE status = 'reversed'
        """,
        """
        CREATE INDEX IF NOT EXISTS purse_closures_settlement ON purse_closures (settlement, settled_at)
        WHERE settlement IS NOT NULL
        """,
    ]
}

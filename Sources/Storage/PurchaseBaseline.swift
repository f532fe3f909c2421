public import CitizenCardDomain

/// The baseline of the ingest benchmark (docs/performance.md): the same purchase rows inserted with
/// the store's own insert statement into a copy of `offline_purchases` with the same columns and
/// indexes, one transaction per batch, with nothing else done. Not used by the system itself.
public protocol PurchaseInsertBaseline: Sendable {
    /// Creates (or empties) `offline_purchases_bare`, a copy of `offline_purchases` with its indexes.
    func prepareBareCopy() async throws(StorageError)
    /// Every stored purchase row, in the order received (the baseline inserts exactly these).
    func storedPurchasesForBaseline() async throws(StorageError) -> [OfflinePurchase]
    /// Inserts the rows into the copy in one transaction.
    func bareInsert(_ rows: [OfflinePurchase]) async throws(StorageError)
    /// Inserts rows into `offline_purchases` itself with no checks: synthetic data for the
    /// clearing benchmark.
    func bulkInsertPurchases(_ rows: [OfflinePurchase]) async throws(StorageError)
    /// A plain aggregate over one day's counted records: the clearing benchmark's baseline.
    func scanDay(_ date: CalendarDate) async throws(StorageError) -> (count: Int64, fen: Int64)
    /// Drops what a benchmark wrote: on PostgreSQL the store's own schema when it is a benchmark's
    /// (`bench_…`), nothing otherwise; nothing on SQLite, whose files the benchmark removes.
    func dropBenchmarkData() async throws(StorageError)
}

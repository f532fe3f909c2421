import Storage

/// Stores that can report their applied migrations.
protocol SQLiteStoreMigrations {
    func appliedMigrations() async throws(StorageError) -> [String]
}

extension SQLiteStore: SQLiteStoreMigrations {}

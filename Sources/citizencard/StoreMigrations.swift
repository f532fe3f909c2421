import Storage

/// Stores that can report their applied migrations.
protocol StoreMigrations {
    func appliedMigrations() async throws(StorageError) -> [String]
}

extension SQLiteStore: StoreMigrations {}
extension PostgresStore: StoreMigrations {}

package import Storage
package import StoragePostgres
package import StorageSQLite

/// Stores that can report their applied migrations.
package protocol StoreMigrations {
    func appliedMigrations() async throws(StorageError) -> [String]
}

extension SQLiteStore: StoreMigrations {}
extension PostgresStore: StoreMigrations {}

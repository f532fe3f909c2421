public import Storage
import StorageSQL
public import CitizenCardDomain
import Ledger
import PostgresNIO

extension PostgresStore {

}

extension PostgresStore: PurchaseInsertBaseline {
    public func prepareBareCopy() async throws(StorageError) {
        try await transaction { connection in
            try await connection.query("DROP TABLE IF EXISTS offline_purchases_bare", logger: self.logger)
            try await connection.query(
                "CREATE TABLE offline_purchases_bare (LIKE offline_purchases INCLUDING ALL)", logger: self.logger)
        }
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

    public func dropBenchmarkData() async throws(StorageError) {
        _ = try await transaction { connection in
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

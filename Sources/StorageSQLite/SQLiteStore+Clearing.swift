public import Storage
import StorageSQL
public import CitizenCardDomain
import Ledger
import GRDB

extension SQLiteStore {

}

extension SQLiteStore: PurchaseInsertBaseline {
    public func prepareBareCopy() async throws(StorageError) {
        try await write { db in
            try db.execute(sql: "DROP TABLE IF EXISTS offline_purchases_bare")
            let statements = try String.fetchAll(
                db,
                sql: """
                    SELECT sql FROM sqlite_master WHERE tbl_name = 'offline_purchases' AND sql IS NOT NULL
                    ORDER BY type DESC
                    """)
            for statement in statements {
                try db.execute(
                    sql: statement.replacingOccurrences(of: "offline_purchases", with: "offline_purchases_bare"))
            }
        }
    }

    public func bareInsert(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await write { db in
            let insert = try db.cachedStatement(
                sql: Self.insertPurchaseSQL.replacingOccurrences(
                    of: "offline_purchases", with: "offline_purchases_bare"))
            for row in rows { try insert.execute(arguments: Self.purchaseArguments(row)) }
        }
    }

    public func bulkInsertPurchases(_ rows: [OfflinePurchase]) async throws(StorageError) {
        try await write { db in
            let insert = try db.cachedStatement(sql: Self.insertPurchaseSQL)
            for row in rows { try insert.execute(arguments: Self.purchaseArguments(row)) }
        }
    }

    public func dropBenchmarkData() async throws(StorageError) {}
}

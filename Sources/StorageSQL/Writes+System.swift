import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Idempotency records and settings.
    package static func system(
        _ change: ChangeSet.Change.System, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .saveIdempotencyRecord(let record):
            .steps([
                WriteStep(
                    """
                    INSERT INTO idempotency_records (key, request_hash, status, response, created_at)
                    VALUES (\(record.key), \(record.requestHash), \(record.status), \(record.response),
                        \(record.createdAt.secondsSinceEpoch))
                    """)
            ])
        case .putSetting(let key, let value):
            .steps([
                WriteStep(
                    """
                    INSERT INTO settings (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            ])
        }
    }
}

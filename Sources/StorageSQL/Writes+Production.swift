import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Production batches.
    package static func production(
        _ change: ChangeSet.Change.Production, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertBatch(let batch):
            .steps([
                WriteStep(
                    """
                    INSERT INTO production_batches (id, number, state, card_count, created_at, created_by, produced_at,
                        delivered_at, version)
                    VALUES (\(batch.id.rawValue), \(batch.number), \(batch.state.rawValue), \(batch.cardCount),
                        \(batch.createdAt.secondsSinceEpoch), \(batch.createdBy),
                        \(batch.producedAt?.secondsSinceEpoch), \(batch.deliveredAt?.secondsSinceEpoch),
                        \(batch.version))
                    """)
            ])
        case .updateBatch(let batch, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE production_batches SET state = \(batch.state.rawValue), card_count = \(batch.cardCount),
                        produced_at = \(batch.producedAt?.secondsSinceEpoch),
                        delivered_at = \(batch.deliveredAt?.secondsSinceEpoch), version = \(batch.version)
                    WHERE id = \(batch.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "production batch"))
            ])
        }
    }
}

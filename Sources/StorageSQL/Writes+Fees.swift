import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Receipts and the fee schedule.
    package static func fees(
        _ change: ChangeSet.Change.Fees, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertReceipt(let receipt):
            .steps([
                WriteStep(
                    """
                    INSERT INTO receipts (id, number, at, outlet_id, operator_id, person_id, card_id, item, amount_fen,
                        payment_method)
                    VALUES (\(receipt.id.rawValue), \(receipt.number), \(receipt.at.secondsSinceEpoch),
                        \(receipt.outletID.rawValue), \(receipt.operatorID.rawValue), \(receipt.personID.rawValue),
                        \(receipt.cardID.rawValue), \(receipt.item.rawValue), \(receipt.amount.fen),
                        \(receipt.paymentMethod.rawValue))
                    """)
            ])
        case .insertFeeEntry(let entry):
            .steps([
                WriteStep(
                    """
                    INSERT INTO fee_entries (item, effective_from, amount_fen, authority)
                    VALUES (\(entry.item.rawValue), \(entry.effectiveFrom.secondsSinceEpoch), \(entry.amount.fen),
                        \(entry.authority))
                    """)
            ])
        }
    }
}

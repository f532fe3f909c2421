import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// The ledger.
    package static func ledger(
        _ change: ChangeSet.Change.Ledger, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .postTransfer(let transfer, let policy): .transfer(transfer, policy)
        }
    }
}

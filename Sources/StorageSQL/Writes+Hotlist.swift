import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
    /// Hotlist versions.
    package static func hotlist(
        _ change: ChangeSet.Change.Hotlist, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .publishHotlist(let publication): .bulk(.publishHotlist(publication))
        }
    }
}

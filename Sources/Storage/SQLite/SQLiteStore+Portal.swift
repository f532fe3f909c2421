public import CitizenCardDomain
import Foundation
import GRDB

extension SQLiteStore: PortalStore {
    // MARK: Reads

}

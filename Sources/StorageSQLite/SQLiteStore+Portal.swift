public import Storage
import StorageSQL
import CitizenCardDomain
import Foundation
import GRDB

extension SQLiteStore: PortalStore {
    // MARK: Reads

}

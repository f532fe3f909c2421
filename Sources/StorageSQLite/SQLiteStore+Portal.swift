public import Storage
public import StorageSQL
public import CitizenCardDomain
import Foundation
import GRDB

extension SQLiteStore: PortalStore {
    // MARK: Reads

}

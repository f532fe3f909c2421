public import Storage
import StorageSQL
import CitizenCardDomain
import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore: PortalStore {
    // MARK: Reads

}

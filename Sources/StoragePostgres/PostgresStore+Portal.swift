public import Storage
public import StorageSQL
public import CitizenCardDomain
import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore: PortalStore {
    // MARK: Reads

}

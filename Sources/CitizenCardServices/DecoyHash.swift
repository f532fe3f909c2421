import HummingbirdBcrypt
import Synchronization

/// The bcrypt hash a log-in checks a password against when the account, the card or its
/// password is unknown: made at the cost real hashes are made with, so that every log-in costs
/// one bcrypt of the same cost and its time tells nothing about which user names or cards exist.
enum DecoyHash {
    private static let hashes = Mutex<[UInt8: String]>([:])

    static func at(cost: UInt8) -> String {
        if let hash = hashes.withLock({ $0[cost] }) { return hash }
        let hash = Bcrypt.hash("decoy-password-never-matches", cost: cost)
        hashes.withLock { $0[cost] = hash }
        return hash
    }
}

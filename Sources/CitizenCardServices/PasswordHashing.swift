import Dispatch
import HummingbirdBcrypt

/// bcrypt off Swift's cooperative thread pool. A hash or a check at the production cost (12)
/// takes a quarter of a second of CPU; run inline it holds a cooperative thread that long, and on
/// a two-core server two log-ins at once would stall every other request. Dispatch's global
/// queue runs them on threads of its own.
enum PasswordHashing {
    static func hash(_ password: String, cost: UInt8) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Bcrypt.hash(password, cost: cost))
            }
        }
    }

    static func verify(_ password: String, hash: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Bcrypt.verify(password, hash: hash))
            }
        }
    }
}

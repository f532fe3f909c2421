import CitizenCardDomain
import CitizenCardServices

/// Slows down password guessing at the staff log-in (the pages and `POST /api/v1/auth/login`):
/// after `failuresMax` failures for one user name, or from one client address, within
/// `windowSeconds`, further attempts are refused for `lockSeconds` without checking the password.
/// A success clears the user name's count. Kept in memory: a restart forgets it, and each server
/// instance counts on its own (docs/web.md).
actor LoginThrottle {
    static let failuresMax = 5
    static let windowSeconds: Int64 = 15 * 60
    static let lockSeconds: Int64 = 15 * 60
    /// Keys kept at most; the oldest are forgotten first when a flood of addresses arrives.
    static let keysMax = 100_000

    struct Entry {
        var failures: [Timestamp] = []
        var lockedUntil: Timestamp?
    }

    private var entries: [String: Entry] = [:]
    private let clock: any Clock

    init(clock: any Clock) { self.clock = clock }

    /// Throws `too_many_attempts` while any of the keys is locked.
    func check(_ keys: [String]) throws(CitizenCardError) {
        let now = clock.now()
        for key in keys {
            if let until = entries[key]?.lockedUntil, until > now {
                let minutes = max(1, (until.secondsSinceEpoch - now.secondsSinceEpoch + 59) / 60)
                throw CitizenCardError(
                    .tooManyAttempts, "too many failed log-ins; try again in \(minutes) minute(s)",
                    zh: "登录失败次数过多，请 \(minutes) 分钟后再试")
            }
        }
    }

    func failed(_ keys: [String]) {
        let now = clock.now()
        if entries.count >= Self.keysMax { entries.removeAll(keepingCapacity: true) }
        for key in keys {
            var entry = entries[key] ?? Entry()
            entry.failures = entry.failures.filter { $0.secondsSinceEpoch > now.secondsSinceEpoch - Self.windowSeconds }
            entry.failures.append(now)
            if entry.failures.count >= Self.failuresMax {
                entry.lockedUntil = now.adding(seconds: Self.lockSeconds)
                entry.failures = []
            }
            entries[key] = entry
        }
    }

    func succeeded(_ key: String) { entries[key] = nil }

    /// A staff log-in under the throttle: refused while locked; a wrong password counts, a
    /// success clears the user name's count. The pages and the API log in through here.
    func login(
        _ auth: AuthService, username: String, password: String, address: String?
    ) async throws(CitizenCardError) -> AuthService.LoginResult {
        let keys = Self.keys(username: username, address: address)
        try check(keys)
        do {
            let result = try await auth.login(username: username, password: password)
            succeeded(keys[0])
            return result
        } catch {
            if error.code == .invalidCredentials { failed(keys) }
            throw error
        }
    }

    static func keys(username: String, address: String?) -> [String] {
        ["user:" + username.trimmingSpaces.lowercased()] + (address.map { ["address:" + $0] } ?? [])
    }
}

import CitizenCardDomain
import CitizenCardServices
import Logging

/// Slows down password guessing at the staff log-in (the pages and `POST /api/v1/auth/login`)
/// without letting anyone lock a member of staff out (issue 16; docs/web.md):
///
/// - **user and address**: 5 failures for one user name from one client address within 15
///   minutes lock that pair for 15 minutes;
/// - **address**: 30 failures from one address, whatever the user names, lock the address for
///   15 minutes (one machine trying many accounts);
/// - **user, from anywhere**: not a lock but a slow-down: after 5 failures within 15 minutes, each
///   further attempt must wait 1, 2, 4 … at most 60 seconds after the last failure. An address
///   the account logged in from successfully in the last 30 days is spared it, so guessing from
///   elsewhere never keeps the owner out;
/// - one attempt per user name at a time and 4 per address at a time, so that guesses sent in
///   parallel cannot all pass before the first failure is counted.
///
/// Refusals are 429 `too_many_attempts` with `Retry-After`, given before the password is
/// checked. Keys are the canonical user name (after the text rule: a NUL or a control character
/// is refused before anything is counted) and the client address as `ClientAddress` resolves it
/// (a forwarding header only from a trusted proxy). The tables are bounded and never forget a
/// lock to make room (`FailureTable`). Kept in memory: a restart forgets them, and each server
/// instance counts on its own.
actor LoginThrottle {
    static let pairPolicy = FailureTable.Policy(failuresMax: 5, windowSeconds: 900, lockSeconds: 900, keysMax: 100_000)
    static let addressPolicy = FailureTable.Policy(
        failuresMax: 30, windowSeconds: 900, lockSeconds: 900, keysMax: 100_000)
    /// Counts a user name's failures from every address; never locks (the slow-down reads it).
    static let userPolicy = FailureTable.Policy(
        failuresMax: 1_000, windowSeconds: 900, lockSeconds: 0, keysMax: 100_000)
    static let freeFailuresMax = 5
    static let slowDownSecondsMax: Int64 = 60
    static let knownAddressSeconds: Int64 = 30 * 86_400
    static let knownAddressesPerUserMax = 8
    static let inFlightPerUserMax = 1
    static let inFlightPerAddressMax = 4

    private var pairs = FailureTable(pairPolicy)
    private var addresses = FailureTable(addressPolicy)
    private var users = FailureTable(userPolicy)
    /// User name → address → time of the last successful log-in from there.
    private var knownAddresses: [String: [String: Int64]] = [:]
    private var inFlightUsers: [String: Int] = [:]
    private var inFlightAddresses: [String: Int] = [:]
    private let clock: any Clock
    private let logger: Logger

    init(clock: any Clock, logger: Logger = Logger(label: "citizencard.login")) {
        self.clock = clock
        self.logger = logger
    }

    /// A staff log-in under the throttle. The pages and the API log in through here.
    func login(
        _ auth: AuthService, username: String, password: String, address: String?
    ) async throws(CitizenCardError) -> AuthService.LoginResult {
        try TextRule.check(username, field: "username", kind: .name)
        let user = String(AuthService.canonicalUsername(username).prefix(64))
        let now = clock.now().secondsSinceEpoch
        try admit(user: user, address: address, now: now)
        inFlightUsers[user, default: 0] += 1
        if let address { inFlightAddresses[address, default: 0] += 1 }
        defer {
            inFlightUsers[user] = inFlightUsers[user]! > 1 ? inFlightUsers[user]! - 1 : nil
            if let address {
                inFlightAddresses[address] = inFlightAddresses[address]! > 1 ? inFlightAddresses[address]! - 1 : nil
            }
        }
        do {
            let result = try await auth.login(username: username, password: password)
            succeeded(user: user, address: address, now: clock.now().secondsSinceEpoch)
            return result
        } catch {
            if error.code == .invalidCredentials { failed(user: user, address: address, now: now) }
            throw error
        }
    }

    /// Throws `too_many_attempts` (with the seconds to wait) when this attempt may not be made.
    func admit(user: String, address: String?, now: Int64) throws(CitizenCardError) {
        if let until = pairs.lockedUntil(Self.pair(user, address), now: now) {
            throw Self.refusal(
                "too many failed log-ins for this account from this address", "该账号在此地址登录失败次数过多",
                seconds: until - now)
        }
        if let address, let until = addresses.lockedUntil(address, now: now) {
            throw Self.refusal("too many failed log-ins from this address", "此地址登录失败次数过多", seconds: until - now)
        }
        if !isKnown(address, for: user, now: now), let wait = slowDownSeconds(user: user, now: now), wait > 0 {
            throw Self.refusal(
                "this account had many failed log-ins; wait before the next attempt", "该账号登录失败次数过多，请稍候再试",
                seconds: wait)
        }
        if inFlightUsers[user, default: 0] >= Self.inFlightPerUserMax
            || address.map({ inFlightAddresses[$0, default: 0] >= Self.inFlightPerAddressMax }) ?? false
        {
            throw Self.refusal("another log-in is being checked; try again", "另一登录请求正在处理，请稍后重试", seconds: 1)
        }
    }

    /// Seconds until the user name's next attempt may be made, when it is slowed down.
    func slowDownSeconds(user: String, now: Int64) -> Int64? {
        let failures = users.failures(user, now: now)
        guard failures >= Self.freeFailuresMax, let last = users.entries[user]?.failures.last else { return nil }
        let exponent = min(failures - Self.freeFailuresMax, 6)
        let delay = min(Int64(1) << exponent, Self.slowDownSecondsMax)
        return last + delay - now
    }

    func failed(user: String, address: String?, now: Int64) {
        if pairs.fail(Self.pair(user, address), now: now) {
            logger.notice("log-in locked for a user and address", metadata: ["username.length": "\(user.count)"])
        }
        if let address, addresses.fail(address, now: now) {
            logger.warning("log-in locked for an address after failures for many accounts")
        }
        users.fail(user, now: now)
        if pairs.locksFull || addresses.locksFull {
            logger.warning("log-in throttle full of locks: new keys are not counted until locks end")
        }
    }

    func succeeded(user: String, address: String?, now: Int64) {
        pairs.clear(Self.pair(user, address))
        users.clear(user)
        guard let address else { return }
        var known = knownAddresses[user, default: [:]].filter { $0.value > now - Self.knownAddressSeconds }
        known[address] = now
        if known.count > Self.knownAddressesPerUserMax, let oldest = known.min(by: { $0.value < $1.value }) {
            known[oldest.key] = nil
        }
        if knownAddresses[user] == nil && knownAddresses.count >= Self.userPolicy.keysMax {
            knownAddresses = knownAddresses.filter { $0.value.values.contains { $0 > now - Self.knownAddressSeconds } }
            if knownAddresses.count >= Self.userPolicy.keysMax { return }
        }
        knownAddresses[user] = known
    }

    func isKnown(_ address: String?, for user: String, now: Int64) -> Bool {
        guard let address, let at = knownAddresses[user]?[address] else { return false }
        return at > now - Self.knownAddressSeconds
    }

    static func pair(_ user: String, _ address: String?) -> String { "\(user)\u{1F}\(address ?? "-")" }

    static func refusal(_ english: String, _ chinese: String, seconds: Int64) -> CitizenCardError {
        let seconds = max(1, seconds)
        let wait = seconds >= 120 ? "\((seconds + 59) / 60) minute(s)" : "\(seconds) second(s)"
        let waitZh = seconds >= 120 ? "\((seconds + 59) / 60) 分钟" : "\(seconds) 秒"
        return CitizenCardError(
            .tooManyAttempts, "\(english); try again in \(wait)", zh: "\(chinese)，请 \(waitZh)后再试",
            retryAfterSeconds: seconds)
    }
}

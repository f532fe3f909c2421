import CitizenCardDomain
import CitizenCardServices
import Crypto
import Foundation
import Logging
import Metrics

/// Limits guessing at the citizen portal's log-in (card number and a 6-12 digit query
/// password), in front of the per-card lock that `PortalService` stores with the card
/// (issue 16; docs/portal.md). Card numbers run in sequence and a few passwords are common, so
/// the attack to stop is **spraying**: one or two passwords tried over many cards, which never
/// reaches any card's own lock.
///
/// - **address**: 10 failures from one client address within 15 minutes lock it for 15 minutes;
/// - **spraying from one address**: failures on 4 different cards from one address within 15
///   minutes lock the address for an hour (a holder has one or two cards);
/// - **spraying from many addresses**: a wrong password tried on 8 different cards within 15
///   minutes, from anywhere, is blocked for an hour: any log-in with it is refused before it is
///   checked, and the event is logged and counted. The password is known here only as an HMAC
///   under a key made at start-up and never stored, so the table holds no password;
/// - 2 attempts per address at a time.
///
/// Refusals are 429 `too_many_attempts` with `Retry-After`. Kept in memory, bounded, never
/// forgetting a lock to make room (`FailureTable`).
actor PortalThrottle {
    static let addressPolicy = FailureTable.Policy(
        failuresMax: 10, windowSeconds: 900, lockSeconds: 900, keysMax: 100_000)
    static let cardsPerAddressPolicy = FailureTable.Policy(
        failuresMax: 4, windowSeconds: 900, lockSeconds: 3600, keysMax: 100_000)
    static let cardsPerPasswordPolicy = FailureTable.Policy(
        failuresMax: 8, windowSeconds: 900, lockSeconds: 3600, keysMax: 100_000)
    static let inFlightPerAddressMax = 2

    private var addresses = FailureTable(addressPolicy)
    /// Keyed by address; a failure is counted once per card within the window.
    private var cardsPerAddress = FailureTable(cardsPerAddressPolicy)
    /// Keyed by the password's HMAC; a failure is counted once per card within the window.
    private var cardsPerPassword = FailureTable(cardsPerPasswordPolicy)
    /// (address or password key, card) pairs already counted, with when.
    private var seen: [String: Int64] = [:]
    private var inFlight: [String: Int] = [:]
    private let passwordKey = SymmetricKey(size: .bits256)
    private let clock: any Clock
    private let logger: Logger

    init(clock: any Clock, logger: Logger = Logger(label: "citizencard.portal")) {
        self.clock = clock
        self.logger = logger
    }

    func login(
        _ portal: PortalService, cardNumber: String, password: String, address: String?
    ) async throws(CitizenCardError) -> PortalService.CitizenSession {
        try TextRule.check(cardNumber, field: "cardNumber", kind: .line)
        let now = clock.now().secondsSinceEpoch
        let passwordKey = self.passwordKey(password)
        try admit(address: address, passwordKey: passwordKey, now: now)
        let slot = address ?? "-"
        inFlight[slot, default: 0] += 1
        defer { inFlight[slot] = inFlight[slot]! > 1 ? inFlight[slot]! - 1 : nil }
        do {
            return try await portal.login(cardNumber: cardNumber, password: password)
        } catch {
            if [.invalidCredentials, .tooManyAttempts].contains(error.code) {
                failed(address: address, card: cardNumber.trimmingSpaces, passwordKey: passwordKey, now: now)
            }
            throw error
        }
    }

    func admit(address: String?, passwordKey: String, now: Int64) throws(CitizenCardError) {
        if let address {
            let locks = [addresses.lockedUntil(address, now: now), cardsPerAddress.lockedUntil(address, now: now)]
            if let until = locks.compactMap({ $0 }).max() {
                throw LoginThrottle.refusal(
                    "too many failed log-ins from this address", "此地址登录失败次数过多", seconds: until - now)
            }
        }
        if let until = cardsPerPassword.lockedUntil(passwordKey, now: now) {
            throw LoginThrottle.refusal(
                "this password was tried on many cards and is refused for now", "该密码已在多张卡上尝试，暂时不能使用",
                seconds: until - now)
        }
        if inFlight[address ?? "-", default: 0] >= Self.inFlightPerAddressMax {
            throw LoginThrottle.refusal("another log-in is being checked; try again", "另一登录请求正在处理，请稍后重试", seconds: 1)
        }
    }

    func failed(address: String?, card: String, passwordKey: String, now: Int64) {
        forgetOldPairs(now: now)
        let card = String(card.prefix(32))
        if let address {
            addresses.fail(address, now: now)
            if firstTime(address, card, now: now), cardsPerAddress.fail(address, now: now) {
                logger.warning("portal password spraying from one address: address locked")
                Counter(label: "citizencard_portal_spraying_total").increment()
            }
        }
        if firstTime(passwordKey, card, now: now), cardsPerPassword.fail(passwordKey, now: now) {
            logger.warning("portal password spraying: one password tried on many cards is refused for an hour")
            Counter(label: "citizencard_portal_spraying_total").increment()
        }
    }

    /// Whether this key failed on this card for the first time within the window.
    private func firstTime(_ key: String, _ card: String, now: Int64) -> Bool {
        let pair = "\(key)\u{1F}\(card)"
        if let at = seen[pair], at > now - Self.addressPolicy.windowSeconds { return false }
        guard seen.count < 2 * Self.addressPolicy.keysMax else { return false }
        seen[pair] = now
        return true
    }

    private var lastForget: Int64 = 0

    private func forgetOldPairs(now: Int64) {
        guard now - lastForget >= 60 || seen.count >= 2 * Self.addressPolicy.keysMax else { return }
        lastForget = now
        seen = seen.filter { $0.value > now - Self.addressPolicy.windowSeconds }
    }

    /// The password as a key of the spraying table: HMAC-SHA256 under a key that lives only in
    /// this process, truncated; never the password.
    private func passwordKey(_ password: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(password.utf8), using: passwordKey)
        return "p:" + Data(code.prefix(12)).base64EncodedString()
    }

}

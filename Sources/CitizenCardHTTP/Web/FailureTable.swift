/// Failed attempts per key (a user name, a client address, a pair of them) within a sliding
/// window, and the locks they lead to: `failuresMax` failures within `windowSeconds` lock the
/// key for `lockSeconds`. A pure value, tested without a clock; `LoginThrottle` and
/// `PortalThrottle` keep theirs in an actor.
///
/// The table holds at most `keysMax` keys, so that a flood of new addresses or names cannot
/// grow it without end, and it never forgets a lock to make room: when it is full it first drops
/// keys with nothing left to remember, then the keys that are not locked whose last failure is
/// oldest, down to nine tenths of the limit (so that the next tenth of new keys costs nothing);
/// if every key is locked, a new key's failure is not recorded (the locks stay, and so do the
/// other tables' counts: `locksFull` says so, for the log).
struct FailureTable: Sendable {
    struct Policy: Sendable, Hashable {
        var failuresMax: Int
        var windowSeconds: Int64
        var lockSeconds: Int64
        var keysMax: Int
    }

    struct Entry: Sendable, Hashable {
        /// Times of the failures within the window, oldest first (at most `failuresMax`).
        var failures: [Int64] = []
        var lockedUntil: Int64?

        func isLocked(at now: Int64) -> Bool { lockedUntil.map { $0 > now } ?? false }
    }

    let policy: Policy
    private(set) var entries: [String: Entry] = [:]
    /// Set when a failure could not be recorded because every key held a lock.
    private(set) var locksFull = false

    init(_ policy: Policy) {
        precondition(policy.failuresMax > 0 && policy.keysMax >= 10)
        self.policy = policy
    }

    /// When the key's lock ends, if it is locked at `now`.
    func lockedUntil(_ key: String, now: Int64) -> Int64? {
        guard let entry = entries[key], entry.isLocked(at: now) else { return nil }
        return entry.lockedUntil
    }

    /// Failures of the key within the window before `now`.
    func failures(_ key: String, now: Int64) -> Int {
        entries[key]?.failures.count { $0 > now - policy.windowSeconds } ?? 0
    }

    /// Records a failure; true when it locked the key.
    @discardableResult
    mutating func fail(_ key: String, now: Int64) -> Bool {
        if entries[key] == nil {
            guard makeRoom(now: now) else {
                locksFull = true
                return false
            }
        }
        var entry = entries[key, default: Entry()]
        entry.failures.removeAll { $0 <= now - policy.windowSeconds }
        entry.failures.append(now)
        var locked = false
        if entry.failures.count >= policy.failuresMax {
            entry.lockedUntil = now + policy.lockSeconds
            entry.failures = []
            locked = true
        }
        entries[key] = entry
        return locked
    }

    mutating func clear(_ key: String) { entries[key] = nil }

    /// Whether a new key fits, after dropping what can be dropped.
    private mutating func makeRoom(now: Int64) -> Bool {
        guard entries.count >= policy.keysMax else { return true }
        let target = policy.keysMax * 9 / 10
        entries = entries.filter { _, entry in
            entry.isLocked(at: now) || entry.failures.contains { $0 > now - policy.windowSeconds }
        }
        if entries.count > target {
            let unlocked = entries.filter { !$0.value.isLocked(at: now) }
                .sorted { ($0.value.failures.last ?? 0, $0.key) < ($1.value.failures.last ?? 0, $1.key) }
            for (key, _) in unlocked.prefix(entries.count - target) { entries[key] = nil }
        }
        return entries.count < policy.keysMax
    }
}

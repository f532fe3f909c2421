import BankLink
import Synchronization

/// How the center talks to partner banks (`banks` in citizencard.json; docs/banks.md).
public struct BankPolicy: Hashable, Codable, Sendable {
    /// How long one request to a bank may take, in seconds.
    public var timeoutSeconds: Int64
    /// A notice that failed this many times is parked for staff.
    public var maxAttempts: Int64
    /// The longest wait between two tries while a bank does not answer, in seconds.
    public var maxBackoffSeconds: Int64
    /// Requests in flight to the banks at once.
    public var concurrency: Int
    /// Notices taken from the outbox in one pass.
    public var batchSize: Int
    /// How far a bank's timestamp may be from the center's clock, in seconds.
    public var signatureWindowSeconds: Int64
    /// PEM files of the CAs the banks' HTTPS certificates chain to (the system's when empty).
    public var trustRoots: [String]

    public init(
        timeoutSeconds: Int64 = 10, maxAttempts: Int64 = 50, maxBackoffSeconds: Int64 = 30, concurrency: Int = 16,
        batchSize: Int = 256, signatureWindowSeconds: Int64 = 300, trustRoots: [String] = []
    ) {
        self.timeoutSeconds = timeoutSeconds
        self.maxAttempts = maxAttempts
        self.maxBackoffSeconds = maxBackoffSeconds
        self.concurrency = concurrency
        self.batchSize = batchSize
        self.signatureWindowSeconds = signatureWindowSeconds
        self.trustRoots = trustRoots
    }

    enum CodingKeys: String, CodingKey {
        case timeoutSeconds, maxAttempts, maxBackoffSeconds, concurrency, batchSize, signatureWindowSeconds, trustRoots
    }

    /// Every field optional in the file: what is absent takes its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BankPolicy()
        timeoutSeconds = try c.decodeIfPresent(Int64.self, forKey: .timeoutSeconds) ?? d.timeoutSeconds
        maxAttempts = try c.decodeIfPresent(Int64.self, forKey: .maxAttempts) ?? d.maxAttempts
        maxBackoffSeconds = try c.decodeIfPresent(Int64.self, forKey: .maxBackoffSeconds) ?? d.maxBackoffSeconds
        concurrency = try c.decodeIfPresent(Int.self, forKey: .concurrency) ?? d.concurrency
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        signatureWindowSeconds =
            try c.decodeIfPresent(Int64.self, forKey: .signatureWindowSeconds) ?? d.signatureWindowSeconds
        trustRoots = try c.decodeIfPresent([String].self, forKey: .trustRoots) ?? d.trustRoots
    }

    /// nil, or what is wrong.
    public func problem() -> String? {
        guard (1...120).contains(timeoutSeconds) else { return "banks.timeoutSeconds must be 1 to 120" }
        guard (1...1000).contains(maxAttempts) else { return "banks.maxAttempts must be 1 to 1000" }
        guard (1...3600).contains(maxBackoffSeconds) else { return "banks.maxBackoffSeconds must be 1 to 3600" }
        guard (1...256).contains(concurrency) else { return "banks.concurrency must be 1 to 256" }
        guard (1...10_000).contains(batchSize) else { return "banks.batchSize must be 1 to 10000" }
        guard (30...3600).contains(signatureWindowSeconds) else {
            return "banks.signatureWindowSeconds must be 30 to 3600"
        }
        return nil
    }

    /// The wait before try `attempt + 1` after `attempt` failures: 1, 2, 4 … seconds, at most
    /// `maxBackoffSeconds`.
    public func backoff(afterFailures attempt: Int64) -> Int64 {
        let exponent = min(max(attempt - 1, 0), 20)
        return min(Int64(1) << exponent, maxBackoffSeconds)
    }
}

/// The links to banks, one per set of trust roots, made once per process and never shut down
/// (AsyncHTTPClient's pool lives as long as the process).
enum BankLinks {
    static let links = Mutex<[[String]: BankLink]>([:])

    static func link(trustRoots: [String], concurrency: Int) throws -> BankLink {
        try links.withLock { links in
            if let link = links[trustRoots] { return link }
            let link = try BankLink(trustRoots: trustRoots, maxConnectionsPerHost: concurrency)
            links[trustRoots] = link
            return link
        }
    }
}

/// Wakes the outbox sender when a commit enqueued notices, so they leave at once rather than at
/// the next poll.
public final class BankOutboxSignal: Sendable {
    let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
    let pending = Mutex(false)

    public init() {}

    public func kick() {
        let continuation = waiter.withLock { waiting -> CheckedContinuation<Void, Never>? in
            defer { waiting = nil }
            return waiting
        }
        if let continuation { continuation.resume() } else { pending.withLock { $0 = true } }
    }

    /// Returns at the next kick (or at once if one came since the last wait), or after `seconds`.
    public func wait(seconds: Double) async {
        if pending.withLock({ p in
            defer { p = false }; return p
        }) {
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let early = self.waiter.withLock { waiting -> Bool in
                        if self.pending.withLock({ p in
                            defer { p = false }; return p
                        }) {
                            return true
                        }
                        waiting?.resume()
                        waiting = continuation
                        return false
                    }
                    if early { continuation.resume() }
                }
            }
            group.addTask {
                // Timed out, or cancelled (a kick came first, or the server is shutting down): wake
                // the waiter either way, so that the group ends.
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                self.kick()
            }
            await group.next()
            group.cancelAll()
        }
        pending.withLock { $0 = false }
    }
}

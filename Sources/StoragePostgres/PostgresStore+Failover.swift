public import Storage
import Foundation
import Logging
import Metrics
import NIOConcurrencyHelpers
import PostgresNIO

/// The pool of the primary among the hosts of a multi-host URL (issue 22, docs/operations.md).
///
/// `postgres://user@h1:5432,h2:5432/db` names the nodes of a cluster whose failover engine
/// (pg_auto_failover, Patroni) promotes a standby when the primary is lost. The store connects to
/// the node that is not in recovery. When a statement fails in a way that says the primary is
/// gone (the connection broke, the server shuts down, or it is read-only now), the store asks
/// every node again, at most every 250 ms, until one is a primary, and moves its pool there.
/// Meanwhile statements fail as `unavailable` (HTTP 503 with Retry-After): never a wrong answer,
/// and a change either committed on the old primary (and, with synchronous replication, on the
/// new one) or not at all; a client's retry with the same idempotency key is safe.
final class PrimaryPool: @unchecked Sendable {
    struct Current {
        var client: PostgresClient
        var runner: Task<Void, Never>
        var host: PostgresURL.Host
        /// The pool was shut down when the search began: a new one is made even for the same host.
        var shutDown = false
    }

    let hosts: [PostgresURL.Host]
    let makeConfiguration: @Sendable (PostgresURL.Host) throws(StorageError) -> PostgresClient.Configuration
    let logger: Logger
    private let lock = NIOLock()
    private var current: Current
    private var retired: [Task<Void, Never>] = []
    private var search: Task<Void, Never>?
    private var monitor: Task<Void, Never>?
    private var closed = false
    private var lastSwitch: Double?
    private var switchCount = 0

    init(
        hosts: [PostgresURL.Host], first: PostgresURL.Host, logger: Logger,
        makeConfiguration: @escaping @Sendable (PostgresURL.Host) throws(StorageError) -> PostgresClient.Configuration
    ) throws(StorageError) {
        self.hosts = hosts
        self.logger = logger
        self.makeConfiguration = makeConfiguration
        let client = PostgresClient(configuration: try makeConfiguration(first), backgroundLogger: logger)
        current = Current(client: client, runner: Task { await client.run() }, host: first)
        Gauge(label: "citizencard_db_primary_switches_total", dimensions: [("backend", "postgres")]).record(0)
    }

    /// With several hosts: asks the primary every second whether it still is one, so that a lost
    /// primary is noticed even while no statement fails (a pool waiting for a connection to a dead
    /// host does not fail for a long time).
    func startMonitor() {
        guard hosts.count > 1 else { return }
        lock.withLock {
            monitor = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(1))
                    guard let self, !self.searching else { continue }
                    if await !self.isPrimary(self.primary) {
                        self.startSearch(reason: "the primary does not answer as one")
                    }
                }
            }
        }
    }

    var client: PostgresClient { lock.withLock { current.client } }
    var primary: PostgresURL.Host { lock.withLock { current.host } }
    /// How long the last switch took, from the first failure seen to the new pool; nil: none yet.
    var lastSwitchSeconds: Double? { lock.withLock { lastSwitch } }
    var switches: Int { lock.withLock { switchCount } }
    var searching: Bool { lock.withLock { search != nil } }

    func close() async {
        let (runners, searchTask, monitorTask) = lock.withLock {
            closed = true
            return ([current.runner] + retired, search, monitor)
        }
        searchTask?.cancel()
        monitorTask?.cancel()
        for runner in runners {
            runner.cancel()
            _ = await runner.value
        }
    }

    /// Whether `error` says that the primary may be gone: the connection broke or could not be
    /// made, the server is shutting down or starting, or it no longer accepts writes.
    static func signalsLostPrimary(_ error: any Error) -> Bool {
        guard let error = PostgresStore.underlying(error) as? PSQLError else { return false }
        guard error.code == .server else { return true }
        let state = error.serverInfo?[.sqlState] ?? ""
        return state == "25006" || state.hasPrefix("57P") || state.hasPrefix("08")
    }

    /// Starts looking for the primary, unless a search runs already or there is only one host
    /// (whose pool reconnects by itself).
    func lost(_ error: any Error) {
        guard Self.signalsLostPrimary(error) else { return }
        startSearch(reason: "\(error)")
    }

    func startSearch(reason: String) {
        guard hosts.count > 1 else { return }
        let started: Bool = lock.withLock {
            guard search == nil, !closed else { return false }
            let since = ContinuousClock.now
            // The old pool is shut down at once: requests waiting in it for a connection to a
            // dead host fail now (503) rather than when the new primary is found.
            current.runner.cancel()
            retired.append(current.runner)
            current.shutDown = true
            search = Task { [weak self] in await self?.find(since: since) }
            return true
        }
        guard started else { return }
        logger.warning("the database primary may be lost; looking for the primary", metadata: ["reason": "\(reason)"])
    }

    /// Asks every host until one is a primary; moves the pool there (or keeps it, when the current
    /// host is still the primary).
    private func find(since started: ContinuousClock.Instant) async {
        while !Task.isCancelled {
            let keep = primary
            for host in [keep] + hosts.filter({ $0 != keep }) {
                guard await isPrimary(host) else { continue }
                let seconds = Self.seconds(ContinuousClock.now - started)
                lock.withLock {
                    if host != current.host || current.shutDown, !closed,
                        let configuration = try? makeConfiguration(host)
                    {
                        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
                        if !current.shutDown {
                            current.runner.cancel()
                            retired.append(current.runner)
                        }
                        current = Current(client: client, runner: Task { await client.run() }, host: host)
                        if host != keep {
                            switchCount += 1
                            lastSwitch = seconds
                        }
                    }
                    search = nil
                }
                if host != keep {
                    logger.notice(
                        "the database primary moved", metadata: ["primary": "\(host)", "seconds": "\(seconds)"])
                    Gauge(label: "citizencard_db_primary_switches_total", dimensions: [("backend", "postgres")])
                        .record(switches)
                    Gauge(label: "citizencard_db_last_switch_seconds", dimensions: [("backend", "postgres")])
                        .record(seconds)
                }
                return
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
        lock.withLock { search = nil }
    }

    /// Whether `host` answers within 1.5 s and is not in recovery. (A dead host does not fail a
    /// query at once: the pool keeps trying to connect; the deadline decides.)
    func isPrimary(_ host: PostgresURL.Host) async -> Bool {
        guard var configuration = try? makeConfiguration(host) else { return false }
        configuration.options.maximumConnections = 1
        configuration.options.connectTimeout = .seconds(1)
        let probe = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let runner = Task { await probe.run() }
        defer { runner.cancel() }
        for _ in 0..<20 { await Task.yield() }
        return await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                do {
                    let rows = try await probe.query(
                        "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS ro")
                    for try await (standby, readOnly) in rows.decode((Bool, String).self) {
                        return !standby && readOnly == "off"
                    }
                    return false
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(1_500))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? false
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return (value * 1000).rounded() / 1000
    }
}

extension PostgresStore: PrimaryReporting {
    public var primaryDescription: String? {
        pool.hosts.count > 1 ? "\(pool.primary)" : nil
    }
    public var lastPrimarySwitchSeconds: Double? { pool.lastSwitchSeconds }
    public var primarySwitches: Int { pool.switches }
}

package import ArgumentParser
import CitizenCardDomain
package import CitizenCardServices
import DataProtection
import CitizenCardRuntime
import CommandSupport
package import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import Storage

/// Lifecycle operations per second with N concurrent clients, on PostgreSQL next to pgbench's
/// built-in TPC-B script with the same number of clients on the same server in the same run, and
/// on SQLite. See docs/performance.md.
package struct BenchLifecycle: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "lifecycle")

    @Option(
        help: "PostgreSQL database for both pgbench and CitizenCard (a schema of its own); without it, SQLite only.")
    package var postgres: String?

    @Option(help: "Concurrent clients (pgbench -c).")
    package var clients = 16

    @Option(help: "Seconds each measurement runs.")
    package var seconds = 20

    @Option(help: "pgbench scale factor (branches).")
    package var scale = 10

    @Flag(help: "Skip the SQLite measurement.")
    package var skipSqlite = false

    package func run() async throws {
        guard (1...200).contains(clients), (1...600).contains(seconds) else {
            throw ValidationError("--clients 1-200, --seconds 1-600")
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        say(
            "lifecycle operations (written loss ⇄ withdrawal, each one audited commit), \(clients) clients, \(seconds) s"
        )
        if !skipSqlite {
            let sqlite = try await measure(postgres: nil, directory: directory)
            say("  SQLite:      \(format(sqlite)) operations/s")
        }
        guard let postgres else {
            say("  PostgreSQL:  not measured (give --postgres URL)")
            return
        }
        let ours = try await measure(postgres: postgres, directory: directory)
        let tps = try pgbench(url: postgres)
        say("  PostgreSQL:  \(format(ours)) operations/s")
        say("  pgbench TPC-B (scale \(scale), \(clients) clients, same server): \(format(tps)) tps")
        say("  ratio CitizenCard / pgbench: \(String(format: "%.2f", ours / tps))  (goal >= 0.5)")
    }

    package func format(_ value: Double) -> String { String(format: "%.0f", value) }

    /// Operations per second on a fresh store (`BenchData.storeOptions`), with a demo city to work on.
    package func measure(postgres: String?, directory: URL) async throws -> Double {
        let options = try BenchData.storeOptions(
            data: directory.appendingPathComponent("data-\(UUID().uuidString)"), postgres: postgres,
            schema: "bench_\(getpid())")
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        var setup = runtime.env
        setup.passwordCost = 4
        let env = setup
        let demo = try await DemoCity(env).create(personCount: max(60, clients * 6))
        _ = demo
        let targets = try await workingSet(env)
        guard targets.count >= clients else {
            throw CommandFailure(description: "the demo city has too few active cards")
        }
        let counter = OperationCounter()
        let deadline = ContinuousClock.now + .seconds(seconds)
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for client in 0..<clients {
                let mine = stride(from: client, to: targets.count, by: clients).map { targets[$0] }
                group.addTask {
                    let cards = CardService(env)
                    // Each client has cards of its own, so it knows their state without reading it.
                    var lost = [Bool](repeating: false, count: mine.count)
                    var index = 0
                    while ContinuousClock.now < deadline {
                        let position = index % mine.count
                        let target = mine[position]
                        index += 1
                        let identity = CardService.IdentityCheck(idNumber: target.idNumber, documentChecked: true)
                        do {
                            if lost[position] {
                                _ = try await cards.withdrawLoss(target.card, identity: identity, actor: target.clerk)
                            } else {
                                _ = try await cards.reportWrittenLoss(
                                    target.card, identity: identity, actor: target.clerk)
                            }
                            lost[position].toggle()
                            counter.add(1)
                        } catch {
                            counter.fail()
                        }
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if counter.failures > 0 { say("    (\(counter.failures) operations failed)") }
        if let bench = runtime.store as? any PurchaseInsertBaseline { try await bench.dropBenchmarkData() }
        try await runtime.store.close()
        return Double(counter.count) / secondsTaken
    }

    package struct Target: Sendable {
        var card: Card.ID
        var idNumber: String
        var clerk: Actor
    }

    /// Active cards with their holder's ID number and a clerk of the card's outlet.
    package func workingSet(_ env: ServiceEnvironment) async throws -> [Target] {
        let staff = try await env.store.operators().filter { $0.role == .outletOperator }
        var targets: [Target] = []
        for outlet in try await env.store.outlets() {
            guard let clerk = staff.first(where: { $0.outletID == outlet.id }) else { continue }
            for card in try await env.store.cards(state: .active, outletID: outlet.id, after: nil, limit: 1000) {
                guard let sealed = try await env.store.person(id: card.personID) else { continue }
                let details = try env.vault.open(sealed.details, personID: sealed.id)
                targets.append(Target(card: card.id, idNumber: details.residentID.number, clerk: Actor(clerk)))
            }
        }
        return targets
    }

    /// pgbench's built-in TPC-B script: initialise, run for the same time with the same clients, read the tps.
    package func pgbench(url: String) throws -> Double {
        guard let components = URLComponents(string: url), let host = components.host, let user = components.user else {
            throw ValidationError("--postgres must be postgres://user@host:port/database")
        }
        let database = String(components.path.drop { $0 == "/" })
        let binary =
            (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql"))?.sorted().last
            .map { "/usr/lib/postgresql/\($0)/bin/pgbench" } ?? "pgbench"
        let connection = ["-h", host, "-p", "\(components.port ?? 5432)", "-U", user]
        var environment = ProcessInfo.processInfo.environment
        if let password = components.password { environment["PGPASSWORD"] = password }
        _ = try run(binary, connection + ["-i", "-q", "-s", "\(scale)", database], environment: environment)
        let output = try run(
            binary, connection + ["-c", "\(clients)", "-j", "2", "-T", "\(seconds)", "-n", database],
            environment: environment)
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let value = Double(line.dropFirst(6).prefix { $0 != " " })
        else { throw CommandFailure(description: "pgbench printed no tps:\n\(output)") }
        return value
    }

    /// Runs a program to completion with a clean signal mask (Foundation's `Process` passes on the
    /// Swift runtime's blocked signals, and pgbench's `-T` timer then never fires).
    package func run(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> String {
        let output = URL(
            fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-\(getpid())-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        guard posix_spawn(&pid, executable, &actions, &attributes, argv, envp) == 0 else {
            throw CommandFailure(description: "cannot start \(executable)")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard status == 0 else { throw CommandFailure(description: "\(executable) failed:\n\(text)") }
        return text
    }
}

/// Counts operations across the benchmark clients.
package final class OperationCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private var failed = 0

    package var count: Int { lock.withLock { done } }
    package var failures: Int { lock.withLock { failed } }
    package func add(_ value: Int) { lock.withLock { done += value } }
    package func fail() { lock.withLock { failed += 1 } }
}

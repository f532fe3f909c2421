package import ArgumentParser
import BankLink
import BankProtocol
import BankSimulator
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
package import Foundation
import Storage

/// The partner banks' figures (issue 20, docs/performance.md), each next to its baseline in the
/// same run, against the bank simulator on loopback in this process:
///
/// - notices delivered per second by the outbox sender against the same number of bare signed
///   HTTP POSTs of the same notices from this process to the same bank;
/// - a bank down for `--down-seconds` while losses arrive at `--rate` a second: the backlog, how
///   long after the bank is back it is drained while the losses go on, and the drain rate against
///   the arrival rate.
package struct BenchBanks: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "banks")

    @Option(help: "Notices in the throughput measurement.")
    package var notices = 5_000

    @Option(help: "Seconds the bank is down in the backlog measurement (0: skip it).")
    package var downSeconds = 600

    @Option(help: "Losses and withdrawals a second at the counters, before, during and after the outage.")
    package var rate = 20

    @Option(help: "PostgreSQL URL to run on instead of SQLite.")
    package var postgres: String?

    package func run() async throws {
        guard (100...1_000_000).contains(notices), (0...7200).contains(downSeconds), (1...1000).contains(rate) else {
            throw ValidationError("--notices 100-1000000, --down-seconds 0-7200, --rate 1-1000")
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-banks-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let schema = "bench_banks_\(getpid())"
        let options = try BenchData.storeOptions(data: directory, postgres: postgres, schema: schema)
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        var setup = runtime.env
        setup.passwordCost = 4
        let env = setup

        let secret = BankSignature.newSecret()
        let state = directory.appendingPathComponent("bank.jsonl").path
        var bank = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(bankCode: "ICBC", bin: "622202", secret: secret, statePath: state))
        let port = bank.port
        _ = try await BankService(env).register(
            .init(
                code: "ICBC", name: "ICBC", bins: ["622202"], endpoint: bank.baseURL, isDefault: true,
                secret: secret.map { String(format: "%02x", $0) }.joined()),
            actor: .commandLine("bench"))
        say("partner bank notices, \(postgres == nil ? "SQLite" : "PostgreSQL"), the bank on loopback in this process")
        _ = try await DemoCity(env).create(personCount: 300)
        let targets = try await BenchLifecycle().workingSet(env)
        let withAccounts = Set(
            try await env.store.bankAccounts(cardIDs: targets.map(\.card)).filter { $0.state == .open }.map(\.cardID))
        let working = targets.filter { withAccounts.contains($0.card) }
        guard !working.isEmpty else { throw CommandFailure(description: "no demo card has a bank account") }
        // What the demo city's making sent is delivered first.
        let sender = BankService(env)
        let breaker = BankBreaker()
        while try await sender.sendDue(breaker: breaker).sent > 0 {}

        // 1. Throughput: N notices in the outbox, then drained, against N bare POSTs.
        let cards = Array(withAccounts)
        let now = env.clock.now()
        let date = now.calendarDate(offsetSeconds: env.city.utcOffsetSeconds).iso8601
        let cardNumbers = Dictionary(
            uniqueKeysWithValues: try await cards.asyncMap { ($0, try await env.store.card(id: $0)?.number ?? "") })
        var index = 0
        while index < notices {
            var changes = ChangeSet()
            for i in index..<min(index + 500, notices) {
                let card = cards[i % cards.count]
                let payload = Data(
                    #"{"cardNumber":"\#(cardNumbers[card] ?? "")","effectiveAt":\#(now.secondsSinceEpoch),"kind":"loss_written"}"#
                        .utf8)
                changes.add(
                    .banks(
                        .enqueueNotice(
                            BankNoticeDraft(
                                noticeID: "bench-\(i)-\(UUID().uuidString.prefix(8))", cardID: card,
                                kind: "loss_written",
                                payload: payload, createdAt: now, businessDate: date))))
            }
            try await env.store.commit(changes)
            index += 500
        }
        let start = ContinuousClock.now
        var delivered = 0
        while true {
            let report = try await sender.sendDue(breaker: breaker)
            delivered += report.delivered
            if report.sent == 0 { break }
        }
        let outbox = Self.seconds(since: start)

        let link = try BankLink(trustRoots: [], maxConnectionsPerHost: env.bankPolicy.concurrency)
        let signature = BankSignature(secret: secret)
        let bodies = (0..<notices).map { i in
            (try? JSONEncoder().encode(
                BankMessages.Notice(
                    noticeId: "bare-\(i)-\(UUID().uuidString.prefix(8))", kind: .lossWritten,
                    cardNumber: "330900000011",
                    accountNumber: "6222020000000000011", effectiveAt: now.secondsSinceEpoch,
                    createdAt: now.secondsSinceEpoch, businessDate: date, sequence: 1))) ?? Data()
        }
        let bareStart = ContinuousClock.now
        var bareOK = 0
        await withTaskGroup(of: Bool.self) { group in
            var next = 0
            func add() {
                guard next < bodies.count else { return }
                let body = bodies[next]
                next += 1
                group.addTask {
                    let outcome = await link.send(
                        BankLink.Request(
                            baseURL: "http://127.0.0.1:\(port)", path: "/notices", body: body, direction: .toBank,
                            bankCode: "ICBC"),
                        signature: signature, timestamp: Int64(Date().timeIntervalSince1970))
                    if case .answered(200, _) = outcome { return true }
                    return false
                }
            }
            for _ in 0..<env.bankPolicy.concurrency { add() }
            while let ok = await group.next() {
                if ok { bareOK += 1 }
                add()
            }
        }
        let bare = Self.seconds(since: bareStart)
        await link.shutdown()
        let outboxRate = Double(delivered) / outbox
        let bareRate = Double(bareOK) / bare
        say("  bare signed POSTs:           \(Int(bareRate)) notices/s (\(bareOK) of \(notices) answered 200)")
        say("  outbox delivered:            \(Int(outboxRate)) notices/s (\(delivered) over \(cards.count) cards)")
        say("    ratio outbox / bare:         \(String(format: "%.2f", outboxRate / bareRate))  (goal >= 0.3)")

        guard downSeconds > 0 else {
            await bank.stop()
            try? await runtime.store.close()
            return
        }
        // 2. The bank down for a while, losses arriving all along; then back.
        say("  the bank down for \(downSeconds) s, \(rate) losses and withdrawals a second at the counters …")
        let running = Task { await BankOutboxSender(env).run() }
        await bank.stop()
        let made = Counter()
        let load = Task {
            var step = 0
            let interval = Duration.nanoseconds(1_000_000_000 / Int64(rate))
            var due = ContinuousClock.now
            while !Task.isCancelled {
                let target = working[step % working.count]
                let identity = CardService.IdentityCheck(idNumber: target.idNumber, documentChecked: true)
                let cards = CardService(env)
                if (step / working.count) % 2 == 0 {
                    _ = try? await cards.reportWrittenLoss(target.card, identity: identity, actor: target.clerk)
                } else {
                    _ = try? await cards.withdrawLoss(target.card, identity: identity, actor: target.clerk)
                }
                made.add()
                step += 1
                due += interval
                try? await Task.sleep(until: due, clock: .continuous)
            }
        }
        try await Task.sleep(for: .seconds(downSeconds))
        let backlog = try await Self.pending(env)
        bank = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(bankCode: "ICBC", bin: "622202", secret: secret, statePath: state, port: port))
        let back = ContinuousClock.now
        let deliveredBefore = try await Self.delivered(env)
        var firstDelivery: Double? = nil
        var drainedAt: Double? = nil
        while Self.seconds(since: back) < Double(max(downSeconds * 3, 120)) {
            let pending = try await Self.pending(env)
            if firstDelivery == nil, try await Self.delivered(env) > deliveredBefore {
                firstDelivery = Self.seconds(since: back)
            }
            if pending <= Int64(rate) {
                drainedAt = Self.seconds(since: back)
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        load.cancel()
        _ = await load.value
        running.cancel()
        _ = await running.value
        let deliveredDuring = try await Self.delivered(env) - deliveredBefore
        await bank.stop()
        try? await runtime.store.close()
        say("  backlog when the bank came back: \(backlog) notices (\(made.value) counter actions in all)")
        guard let drainedAt else {
            say("  NOT drained within \(max(downSeconds * 3, 120)) s of the bank's return")
            return
        }
        let drainRate = Double(deliveredDuring) / drainedAt
        say(
            "  first delivery after return:  \(String(format: "%.1f", firstDelivery ?? drainedAt)) s (the probe's wait)"
        )
        say("  drained (≤ \(rate) pending) after: \(String(format: "%.1f", drainedAt)) s, losses going on")
        say("  drain rate:                   \(Int(drainRate)) notices/s against \(rate) arriving")
        say("    ratio drain / arrival:       \(String(format: "%.1f", drainRate / Double(rate)))  (goal >= 1)")
    }

    static func pending(_ env: ServiceEnvironment) async throws -> Int64 {
        try await env.store.bankNoticeCounts().reduce(0) { $0 + $1.pending }
    }

    static func delivered(_ env: ServiceEnvironment) async throws -> Int64 {
        try await env.store.bankNoticeCounts().reduce(0) { $0 + $1.delivered }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func add() { lock.withLock { count += 1 } }
        var value: Int { lock.withLock { count } }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

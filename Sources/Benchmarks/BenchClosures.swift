package import ArgumentParser
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation
import Ledger
import Storage

/// `citizencard bench closures`: the purse-closure sweep over N cards whose waiting period ended at
/// the same moment (issue 21: a million cancelled or expired at once), its time and memory, next
/// to a baseline measured in the same run: the same number of purse closures and refund
/// transfers committed in batches, without the sweep's reads (docs/performance.md).
package struct BenchClosures: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "closures")

    @Option(help: "Cards due at once.")
    package var cards = 1_000_000

    @Option(help: "Write a PostgreSQL schema of its own in this database instead of SQLite.")
    package var postgres: String?

    package func run() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-closures-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = try BenchData.storeOptions(
            data: directory, postgres: postgres, schema: "bench_closures_\(getpid())")
        let runtime = try await Runtime.open(
            options, logger: makeLogger(label: "bench", level: .warning), cacheMebibytes: Runtime.importCacheMebibytes)
        var setup = runtime.env
        setup.passwordCost = 4
        let env = setup
        _ = try await DemoCity(env).create(personCount: 1)
        guard let outlet = try await env.store.outlets().first,
            let person = try await env.store.cards(state: .active, outletID: nil, after: nil, limit: 1).first?.personID
        else { throw CommandFailure(description: "the demo city has no outlet or card") }

        print("making \(cards) cancelled cards with a balance, due at once …")
        let left = env.clock.now().adding(days: -30)
        var made = 0
        var totalFen: Int64 = 0
        let started = ContinuousClock.now
        while made < cards {
            let count = min(9_999, cards - made)
            var changes = ChangeSet()
            var postings: [Posting] = []
            var fen: Int64 = 0
            for index in made..<(made + count) {
                let id: Card.ID = env.ids.make()
                let card = Card(
                    stored: id, personID: person, kind: .application, state: .cancelled,
                    number: "9\(String(format: "%012d", index))",
                    asn: String(format: "%020X", 0xB000_0000_0000 + index),
                    channel: .individual, outletID: outlet.id, predecessorID: nil, successorID: nil, batchID: nil,
                    appliedAt: left, approvedAt: left, issuedAt: left, expiresAt: left.adding(years: 10), loss: nil,
                    note: nil, replacementReason: nil, cancellation: nil, closedAt: left, version: 2, updatedAt: left)
                changes.add(.insertCard(card))
                changes.add(
                    .appendCardEvent(
                        CardEvent(
                            cardID: id, sequence: 2, action: .cancel, from: .active, to: .cancelled, at: left,
                            actor: "bench", outletID: outlet.id, reason: "holder_request")))
                let amount = Int64(index % 5_000 + 1)
                postings.append(.credit(.purse(id), fen: amount))
                fen += amount
            }
            postings.append(.debit(.bankSettlement, fen: fen))
            changes.add(
                .postTransfer(
                    Transfer(id: TransferID("bench-loads:\(made)"), kind: .load, at: left, postings: postings),
                    policy: .standard))
            try await env.store.commit(changes)
            made += count
            totalFen += fen
        }
        print("  made in \(String(format: "%.1f", BenchData.milliseconds(since: started) / 1000)) s")

        let before = BenchData.peakResidentBytes()
        let sweepStart = ContinuousClock.now
        var closed = 0
        // The minute job's call, until nothing is left (each run closes at most 100,000).
        while true {
            let run = try await PurseClosureService(env).closeDue()
            closed += run
            if run == 0 { break }
        }
        let sweep = BenchData.milliseconds(since: sweepStart) / 1000
        let peak = BenchData.peakResidentBytes()
        let refunds = AccountID.refundsPayable.normalBalance(
            signed: try await env.store.ledgerBalances([.refundsPayable])[.refundsPayable] ?? 0)

        // The baseline: the same closures and refund transfers, 1,000 cards a commit, no reads.
        let baselineStart = ContinuousClock.now
        var done = 0
        let now = env.clock.now()
        while done < cards {
            let count = min(1_000, cards - done)
            var changes = ChangeSet()
            for index in done..<(done + count) {
                let id: Card.ID = env.ids.make()
                changes.add(
                    .insertPurseClosure(
                        PurseClosure(cardID: id, successorID: nil, kind: .refund, amountFen: 0, closedAt: now)))
                changes.add(
                    .postTransfer(
                        Transfer(
                            id: TransferID("bench-baseline:\(index)"), kind: .correction, at: now,
                            postings: [.debit(.bankSettlement, fen: 1), .credit(.feeIncome, fen: 1)]),
                        policy: .standard))
            }
            try await env.store.commit(changes)
            done += count
        }
        let baseline = BenchData.milliseconds(since: baselineStart) / 1000
        try await runtime.store.close()
        print(
            """

            purse-closure sweep over \(cards) cards due at once (\(runtime.databaseDescription))
              sweep (closeDue, as the minute job runs it): \(String(format: "%8.1f", sweep)) s  \(Int(Double(closed) / sweep)) cards/s  (closed \(closed))
              baseline (same rows, 1,000 a commit, no reads): \(String(format: "%8.1f", baseline)) s  \(Int(Double(cards) / baseline)) cards/s
              ratio sweep/baseline:  \(String(format: "%.2f", baseline / sweep))
              refunds payable after: \(refunds) fen (cards held \(totalFen) fen)
              peak memory: \(before / 1_048_576) MiB before the sweep, \(peak / 1_048_576) MiB after
            """)
    }
}

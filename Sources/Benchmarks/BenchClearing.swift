package import ArgumentParser
package import CitizenCardDomain
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation
import Ledger
import Storage

/// Clearing of one business day with many records (docs/performance.md): synthetic posted records
/// spread over merchants and terminals, with their batches and ledger credits so that the day
/// reconciles, then `ClearingService.run`; next to it, a bare aggregate over the same day's records.
package struct BenchClearing: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "clearing", abstract: "Clearing of one day's records (goal: 10 million in under 60 s).")

    @Option(help: "Records of the day.")
    package var records = 10_000_000

    @Option(help: "Merchants.")
    package var merchants = 50

    @Option(help: "Terminals, spread over the merchants.")
    package var terminals = 2_000

    @Option(help: "PostgreSQL database instead of SQLite (a schema of its own).")
    package var postgres: String?

    @Option(help: "Working directory (default: a new temporary directory, removed afterwards).")
    package var workDirectory: String?

    package struct FixedClock: CitizenCardDomain.Clock {
        let time: Timestamp
        package func now() -> Timestamp { time }
    }

    package func run() async throws {
        let directory = URL(
            fileURLWithPath: workDirectory ?? NSTemporaryDirectory() + "citizencard-bench-clearing-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if workDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
        let options = try BenchData.storeOptions(
            data: directory.appendingPathComponent("data"), postgres: postgres, schema: "bench_clearing_\(getpid())")
        let day = CalendarDate(iso8601: "2026-03-02")!
        let postedAt = day.startTimestamp().adding(seconds: 12 * 3600)
        let runtime = try await Runtime.open(
            options, logger: makeLogger(label: "bench", level: .warning),
            clock: FixedClock(time: day.startTimestamp().adding(seconds: 34 * 3600)), cacheMebibytes: 256)
        let env = runtime.env
        guard let bulk = runtime.store as? any PurchaseInsertBaseline else {
            throw CommandFailure(description: "this store cannot bulk insert")
        }
        let backend = postgres == nil ? "SQLite" : "PostgreSQL"
        say("clearing benchmark, \(backend): \(records) records, \(merchants) merchants, \(terminals) terminals")
        let service = AcquiringService(env)
        let admin = Actor.commandLine("bench")
        var merchantIDs: [Merchant.ID] = []
        for index in 0..<merchants {
            merchantIDs.append(
                try await service.registerMerchant(
                    .init(
                        code: String(format: "M%04d", index), name: "Merchant \(index)",
                        commissionBasisPoints: Int64(30 + index % 5 * 20)), actor: admin
                ).id)
        }
        var terminalIDs: [(Terminal.ID, Merchant.ID, String)] = []
        for index in 0..<terminals {
            let merchant = merchantIDs[index % merchants]
            let psam = String(format: "CB%014d", index)
            let registration = try await service.registerTerminal(
                merchant: merchant,
                .init(
                    number: String(format: "0000CB%06d", index), psamSerial: psam, location: "t\(index)",
                    latitude: nil, longitude: nil), actor: admin)
            terminalIDs.append((registration.terminal.id, merchant, psam))
        }

        say("  generating \(records) records …")
        let generationStart = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        var perTerminal = [(count: Int64, fen: Int64)](repeating: (0, 0), count: terminals)
        var perMerchant: [Merchant.ID: Int64] = [:]
        let chunk = 50_000
        var written = 0
        while written < records {
            var rows: [OfflinePurchase] = []
            rows.reserveCapacity(chunk)
            for n in written..<min(records, written + chunk) {
                let terminal = Int.random(in: 0..<terminals, using: &generator)
                let (terminalID, merchantID, psam) = terminalIDs[terminal]
                let amount = Int64.random(in: 100...500, using: &generator)
                perTerminal[terminal].count += 1
                perTerminal[terminal].fen += amount
                perMerchant[merchantID, default: 0] += amount
                rows.append(
                    OfflinePurchase(
                        id: .init(rawValue: String(format: "bench-%010d", n)),
                        batchID: .init(rawValue: "bench-\(terminal)"),
                        terminalID: terminalID, merchantID: merchantID, cardID: nil, asn: String(format: "%020d", n),
                        cardCounter: 0, psamSerial: psam, terminalSerial: Int64(n), amountFen: amount,
                        balanceBeforeFen: 10_000, balanceAfterFen: 10_000 - amount, transactionType: 9,
                        tappedAt: postedAt.adding(seconds: -600), keyVersion: 1, algorithmID: 0, tac: "00000000",
                        mac2: "00000000", recordStatus: "complete", outcome: .posted, reason: nil, postedAt: postedAt,
                        receivedAt: postedAt))
            }
            try await bulk.bulkInsertPurchases(rows)
            written += rows.count
            if written % 1_000_000 == 0 { say("    \(written)") }
        }
        // The day's batches and the ledger credits that match the records.
        var changes = ChangeSet()
        for (index, total) in perTerminal.enumerated() where total.count > 0 {
            let (terminalID, merchantID, _) = terminalIDs[index]
            changes.add(
                .insertPurchaseBatch(
                    PurchaseBatch(
                        id: .init(rawValue: "bench-\(index)"), terminalID: terminalID, merchantID: merchantID,
                        number: 1,
                        contentHash: "", recordCount: total.count, postedCount: total.count, riskCount: 0,
                        parkedCount: 0, duplicateCount: 0, acceptedFen: total.fen, receivedAt: postedAt),
                    response: Data()))
        }
        for (merchantID, fen) in perMerchant {
            changes.add(
                .postTransfer(
                    Transfer(
                        id: TransferID("bench-purchases:\(merchantID)"), kind: .purchase, at: postedAt,
                        postings: [.debit(.bankSettlement, fen: fen), .credit(.merchantPayable(merchantID), fen: fen)]),
                    policy: .standard))
        }
        try await runtime.store.commit(changes)
        say("  generated in \(String(format: "%.1f", seconds(since: generationStart))) s")

        let scanStart = ContinuousClock.now
        let scanned = try await bulk.scanDay(day)
        let scanSeconds = seconds(since: scanStart)
        let clearingStart = ContinuousClock.now
        let report = try await ClearingService(env).run(day, actor: admin)
        let clearingSeconds = seconds(since: clearingStart)
        let againStart = ContinuousClock.now
        let again = try await ClearingService(env).run(day, actor: admin)
        let againSeconds = seconds(since: againStart)
        if workDirectory == nil { try await bulk.dropBenchmarkData() }
        try await runtime.store.close()
        say(
            """
              bare day scan (count, sum):   \(String(format: "%7.2f", scanSeconds)) s  (\(scanned.count) records, \(scanned.fen) fen)
              clearing run:                 \(String(format: "%7.2f", clearingSeconds)) s  (\(report.merchants.count) merchants, \(report.records) records, gross \(report.grossFen) fen, net \(report.netFen) fen; goal < 60 s)
              ratio clearing/scan:          \(String(format: "%.1f", clearingSeconds / max(scanSeconds, 0.001)))
              second run (idempotent):      \(String(format: "%7.2f", againSeconds)) s  (first run \(again.firstRun ? "again?!" : "not repeated"))
              reconciliation differences:   \(report.differences.count)\(report.differences.prefix(3).map { "\n    \($0)" }.joined())
            """)
    }

}

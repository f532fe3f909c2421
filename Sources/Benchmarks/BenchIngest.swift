package import ArgumentParser
import CardCrypto
package import CitizenCardDomain
package import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
package import Foundation
package import SmartCard
import Storage

/// Offline records ingested per second — TAC verification, deduplication, chains and ledger posting
/// through `AcquiringService.upload` — against a bare insert of the same rows into a copy of the
/// same table in the same database, in the same run (docs/performance.md).
package struct BenchIngest: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Offline purchase ingest vs a bare insert of the same records (SQLite, and PostgreSQL if given).")

    @Option(help: "Cards (each a software chip, loaded online first).")
    package var cards = 1_000

    @Option(help: "Rounds of taps: every card taps once per round, at a random terminal.")
    package var taps = 20

    @Option(help: "Terminals; after each round every terminal uploads what it took as one batch.")
    package var terminals = 4

    @Option(help: "PostgreSQL database to measure too (a schema of its own).")
    package var postgres: String?

    @Flag(help: "Measure PostgreSQL only (needs --postgres).")
    package var postgresOnly = false

    @Option(help: "Runs per database, each on a new database; the median ratio is printed after them.")
    package var runs = 1

    @Flag(
        help: """
            After each round the terminals upload at once, as terminals do, and the baseline inserts \
            each round's batches at once too; without it, one batch after another.
            """)
    package var concurrent = false

    package func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be 1 or more") }
        guard !postgresOnly || postgres != nil else { throw ValidationError("--postgres-only needs --postgres") }
    }

    package func run() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-ingest-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        say("offline purchase ingest: \(cards) cards × \(taps) rounds, \(terminals) terminals (release build expected)")
        var databases: [(name: String, postgres: String?)] = postgresOnly ? [] : [("SQLite", nil)]
        if let postgres { databases.append(("PostgreSQL", postgres)) }
        for (name, postgres) in databases {
            var ratios: [Double] = []
            for _ in 0..<runs { ratios.append(try await measure(name: name, postgres: postgres, directory: directory)) }
            if runs > 1 {
                ratios.sort()
                let median =
                    runs % 2 == 1 ? ratios[runs / 2] : (ratios[runs / 2 - 1] + ratios[runs / 2]) / 2
                say(
                    "  \(name): median ratio over \(runs) runs: \(String(format: "%.2f", median))  (\(ratios.map { String(format: "%.2f", $0) }.joined(separator: " ")))"
                )
            }
        }
    }

    /// One run on a new database; returns the ratio of the ingest's rate to the bare insert's.
    package func measure(name: String, postgres: String?, directory: URL) async throws -> Double {
        let options = try BenchData.storeOptions(
            data: directory.appendingPathComponent("data-\(UUID().uuidString)"), postgres: postgres,
            schema: "bench_ingest_\(getpid())")
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        var setup = runtime.env
        setup.passwordCost = 4
        let env = setup
        say("  \(name): setting up \(cards) active cards with loaded chips …")
        _ = try await DemoCity(env).create(personCount: cards * 2)
        let clerk = Actor(try await env.store.operators().first { $0.role == .outletOperator }!)
        var active: [Card] = []
        for outlet in try await env.store.outlets() where active.count < cards {
            var after: Card.ID? = nil
            while active.count < cards {
                let page = try await env.store.cards(state: .active, outletID: outlet.id, after: after, limit: 500)
                guard let last = page.last else { break }
                active += page.prefix(cards - active.count)
                after = last.id
            }
        }
        var chips: [SoftwareCard] = []
        for card in active { chips.append(try await loadedChip(card, env: env, clerk: clerk)) }

        let service = AcquiringService(env)
        let merchant = try await service.registerMerchant(
            .init(code: "BENCH", name: "Bench bus", commissionBasisPoints: 60), actor: .commandLine("bench"))
        var devices: [(actor: Actor, terminal: PurchaseTerminal)] = []
        for index in 0..<terminals {
            let number = String(format: "0000BE%06d", index), psam = String(format: "BE%014d", index)
            let registration = try await service.registerTerminal(
                merchant: merchant.id,
                .init(number: number, psamSerial: psam, location: "bench \(index)", latitude: nil, longitude: nil),
                actor: .commandLine("bench"))
            devices.append(
                (
                    try await AuthService(env).authenticate(token: registration.key),
                    PurchaseTerminal(
                        psam: PSAM(
                            terminalID: try TerminalID(hex: number), serialNumber: try Hex.decode(psam),
                            masterPurchaseKey: try env.issuerKeys.masterKey(.purchase, version: 1)))
                ))
        }

        // Every round: each card taps once at a random terminal; then each terminal uploads.
        var generator = SystemRandomNumberGenerator()
        var rounds: [[(terminal: Int, number: Int64, records: [PurchaseRecord])]] = []
        var numbered: Int64 = 0
        for round in 0..<taps {
            var taken = [[PurchaseRecord]](repeating: [], count: terminals)
            let time = try TransactionDateTime(digits: String(format: "20260302%02d%02d00", 6 + round / 60, round % 60))
            for index in chips.indices {
                let terminal = Int.random(in: 0..<terminals, using: &generator)
                taken[terminal].append(
                    try devices[terminal].terminal.purchase(
                        amountFen: UInt32.random(in: 100...300, using: &generator), dateTime: time, on: &chips[index]))
            }
            rounds.append([])
            for (terminal, records) in taken.enumerated() where !records.isEmpty {
                numbered += 1
                rounds[round].append((terminal, numbered, records))
            }
        }
        let total = rounds.joined().reduce(0) { $0 + $1.records.count }
        say("  \(name): uploading \(total) records in \(numbered) batches\(concurrent ? ", a round's at once" : "") …")
        let actors = devices.map(\.actor)
        var posted = 0
        var roundOfBatch: [PurchaseBatch.ID: Int] = [:]
        let start = ContinuousClock.now
        for (round, batches) in rounds.enumerated() {
            let answers = try await inFlight(concurrent ? batches.count : 1, batches) { batch in
                try await service.upload(
                    .init(batchNumber: batch.number, records: batch.records), actor: actors[batch.terminal])
            }
            for answer in answers {
                posted += Int(answer.batch.postedCount)
                roundOfBatch[answer.batch.id] = round
            }
        }
        let ingestSeconds = seconds(since: start)

        // The baseline: the same rows, the same insert statement and batches, as many batches in
        // flight at once, nothing else.
        guard let baseline = runtime.store as? any PurchaseInsertBaseline else {
            throw CommandFailure(description: "this store has no baseline")
        }
        try await baseline.prepareBareCopy()
        // Exactly the rows the ingest stored, in its batches and rounds.
        var bare = [[[OfflinePurchase]]](repeating: [], count: rounds.count)
        var last: PurchaseBatch.ID? = nil
        for row in try await baseline.storedPurchasesForBaseline() {
            guard let round = roundOfBatch[row.batchID] else { continue }
            if last != row.batchID { bare[round].append([]) }
            bare[round][bare[round].count - 1].append(row)
            last = row.batchID
        }
        let bareStart = ContinuousClock.now
        for batches in bare {
            _ = try await inFlight(concurrent ? batches.count : 1, batches) { try await baseline.bareInsert($0) }
        }
        let bareSeconds = seconds(since: bareStart)
        let sum = try await env.store.ledgerAllBalances().values.reduce(0, +)
        try await baseline.dropBenchmarkData()
        try await runtime.store.close()
        let ingestRate = Double(total) / ingestSeconds, bareRate = Double(total) / bareSeconds
        say(
            """
              \(name): ingest   \(String(format: "%7.2f", ingestSeconds)) s  \(Int(ingestRate)) records/s  (posted \(posted) of \(total); ledger sum \(sum))
              \(name): bare     \(String(format: "%7.2f", bareSeconds)) s  \(Int(bareRate)) records/s
              \(name): ratio ingest/bare: \(String(format: "%.2f", ingestRate / bareRate))  (goal >= 0.4)
            """)
        return ingestRate / bareRate
    }

    /// `work` on every element, at most `width` at once; the results in the elements' order.
    package func inFlight<Element: Sendable, Result: Sendable>(
        _ width: Int, _ elements: [Element], _ work: @escaping @Sendable (Element) async throws -> Result
    ) async throws -> [Result] {
        guard width > 1 else {
            var results: [Result] = []
            for element in elements { results.append(try await work(element)) }
            return results
        }
        return try await withThrowingTaskGroup(of: (Int, Result).self) { group in
            var results = [Result?](repeating: nil, count: elements.count)
            for (index, element) in elements.enumerated() {
                if index >= width, let (done, result) = try await group.next() { results[done] = result }
                group.addTask { (index, try await work(element)) }
            }
            for try await (done, result) in group { results[done] = result }
            return results.map { $0! }
        }
    }

    /// A card's chip, personalised with the issuer keys and loaded with 500.00 yuan online.
    package func loadedChip(_ card: Card, env: ServiceEnvironment, clerk: Actor) async throws -> SoftwareCard {
        let holder = CardHolder(
            name: "bench", socialSecurityNumber: "330902199001010012", cardSerialNumber: card.number,
            bankCardNumber: "",
            issueDate: "20260101", expiryDate: "20360101", photoReference: "")
        var chip = try SoftwareCard.personalise(asn: try Hex.decode(card.asn), holder: holder, keyring: env.issuerKeys)
        _ = chip.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        let fen: Int64 = 50_000, time = "20260302050000"
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let answer = chip.process([0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + [0x33, 0x09, 0, 0, 0, 1, 0x10])
        let purse = PurseService(env)
        let approval = try await purse.approveLoad(
            card.id,
            .init(
                amountFen: fen, funding: .cash, terminalId: "330900000001", transactionTime: time,
                initializeResponse: Hex.encode(answer.dropLast(2))), actor: clerk)
        let credit = chip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode(time)) + (try Hex.decode(approval.mac2)) + [0x04])
        _ = try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: clerk)
        return chip
    }
}

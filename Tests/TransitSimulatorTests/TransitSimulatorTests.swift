import ArgumentParser
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardTesting
import Foundation
import Ledger
import Logging
import Storage
import Testing
import TransitSimulator

/// The transit simulator in this process (the end-to-end suite runs it through the binary, on
/// both backends and over HTTP): it fails (exit 1) when the books do not balance, so a run that
/// returns is a run whose ledger summed to zero and whose every day tied.
@Suite("Transit simulator in process")
struct TransitSimulatorTests {
    func command(_ arguments: [String]) throws -> SimulateTransit {
        guard let command = try SimulateTransit.parseAsRoot(arguments) as? SimulateTransit else {
            throw CommandError.notTheSimulator
        }
        return command
    }

    enum CommandError: Error { case notTheSimulator }

    @Test("a day of taps with fraud on SQLite balances; a second run takes the next free day and balances too")
    func twoRuns() async throws {
        let directory = TemporaryDirectory()
        let arguments = [
            "--data", directory.url.path, "--database", "sqlite:" + directory.file("sim.sqlite").path, "--cards", "6",
            "--terminals", "2", "--days", "1", "--taps", "2", "--fraud", "0.2", "--seed", "17",
        ]
        try await command(arguments).run()
        try await command(arguments).run()
    }

    /// Migration day: the old transit cards' file imported with its control total, the residents'
    /// balances folded in at the counter on the chips, the rest unclaimed; the run fails (exit 1)
    /// unless imported = folded + unclaimed = legacy:transit in the ledger, and the purses of the
    /// chips equal the books.
    @Test("migration day: old transit cards imported, folded in at the counter, the rest explained")
    func migrationDay() async throws {
        let directory = TemporaryDirectory()
        let arguments = [
            "--data", directory.url.path, "--database", "sqlite:" + directory.file("sim.sqlite").path, "--cards", "12",
            "--terminals", "2", "--days", "3", "--taps", "2", "--legacy", "20", "--seed", "5",
        ]
        try await command(arguments).run()
        // A second run imports a file of its own and ties out again over both.
        try await command(arguments).run()
    }

    /// A month from migration day with the end of cards' lives: cards that expire and are renewed
    /// before or after, or refunded; residents who die, whose card a relative cancels and whose
    /// refund an heir collects. The run balances (summarize), and the database shows each path.
    @Test("a month from migration day: expiries, renewals, deaths and refunds, every balance explained")
    func month() async throws {
        let directory = TemporaryDirectory()
        let options = try StoreOptions.parse([
            "--data", directory.url.path, "--database", "sqlite:" + directory.file("sim.sqlite").path,
        ])
        let clock = SimulationClock(Timestamp(secondsSinceEpoch: 1_780_000_000))
        let runtime = try await Runtime.open(options, logger: Logger(label: "test"), clock: clock)
        let env = runtime.env
        let days = 30
        var simulation = TransitSimulation(
            env: env, link: LocalLink(env: env), clock: clock,
            firstDay: try await SimulateTransit.freeDays(env, count: days), cardCount: 20, terminalCount: 2,
            dayCount: days, taps: 2, fraud: 0.05, seed: 11, clears: true, database: "test")
        simulation.legacyCount = 10
        simulation.expiringCount = 12
        simulation.deathCount = 3
        try await simulation.setUp(createDemoCity: true)
        for day in 1...days { try await simulation.run(day: day) }
        let healthy = try await simulation.summarize()
        #expect(healthy)
        let life = simulation.lifeActivity
        #expect(life.deaths == 3 && life.feeds == 3 && life.cancelled > 0, "\(life)")
        #expect(life.renewedBefore > 0 && life.renewedAfter > 0 && life.collected > 0, "\(life)")
        #expect(life.migrated > 0 && life.paidHolder > 0 && life.paidHeir > 0, "\(life)")
        #expect(life.refusedExpired > 0, "an expired card was tapped and refused: \(life)")

        // The database: every card of the run ended as the simulator says, and the closed purses
        // tie out with refunds payable.
        let store = env.store
        var states: [CardState: Int] = [:]
        var heirs = 0
        var cancelled = 0
        for card in simulation.cards {
            let stored = try #require(try await store.card(id: card.id))
            states[stored.state, default: 0] += 1
            if card.deceased && stored.state == .cancelled {
                #expect(stored.cancellation?.reason == Cancellation.Reason.death)
                cancelled += 1
                if let payee = try await store.refundPayee(cardID: card.id) {
                    #expect(payee.payee.kind == RefundPayee.Kind.heir)
                    heirs += 1
                }
            }
            if let successor = card.successor {
                #expect(stored.successorID == simulation.cards[successor].id)
            }
        }
        #expect(heirs == life.paidHeir && cancelled == life.cancelled)
        #expect(states[.expired, default: 0] > 0 && states[.replaced, default: 0] > 0, "\(states)")
        let totals = try await store.purseClosureTotals()
        let due = totals.filter { $0.status == .due }.reduce(Int64(0)) { $0 + $1.amountFen }
        let payable = try await store.ledgerBalances([.refundsPayable])[.refundsPayable] ?? 0
        #expect(AccountID.refundsPayable.normalBalance(signed: payable) == due)
        #expect(totals.contains { $0.status == .settled && $0.amountFen > 0 })
        #expect(try await store.ledgerAllBalances().values.reduce(0, +) == 0)
        try await store.close()
    }

    @Test(
        "bad options are refused before anything runs",
        arguments: [
            ["--cards", "0"], ["--terminals", "1001"], ["--days", "367"], ["--taps", "51"], ["--fraud", "1.5"],
            ["--server", "ftp://x"], ["--server", "http://127.0.0.1:8080"], ["--seed", "-1"], ["--legacy", "-1"],
            ["--legacy", "1000001"], ["--expiring", "-1"], ["--cards", "4", "--expiring", "3", "--deaths", "2"],
            ["--server", "http://127.0.0.1:8080", "--admin-password", "x", "--deaths", "1"],
        ])
    func refused(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try SimulateTransit.parseAsRoot(arguments) }
    }
}

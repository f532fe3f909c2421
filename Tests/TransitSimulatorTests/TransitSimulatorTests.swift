import ArgumentParser
import CitizenCardTesting
import Foundation
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

    @Test(
        "bad options are refused before anything runs",
        arguments: [
            ["--cards", "0"], ["--terminals", "1001"], ["--days", "367"], ["--taps", "51"], ["--fraud", "1.5"],
            ["--server", "ftp://x"], ["--server", "http://127.0.0.1:8080"], ["--seed", "-1"], ["--legacy", "-1"],
            ["--legacy", "1000001"],
        ])
    func refused(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try SimulateTransit.parseAsRoot(arguments) }
    }
}

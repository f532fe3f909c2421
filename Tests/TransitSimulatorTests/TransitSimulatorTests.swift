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

    @Test(
        "bad options are refused before anything runs",
        arguments: [
            ["--cards", "0"], ["--terminals", "1001"], ["--days", "367"], ["--taps", "51"], ["--fraud", "1.5"],
            ["--server", "ftp://x"], ["--server", "http://127.0.0.1:8080"], ["--seed", "-1"],
        ])
    func refused(arguments: [String]) {
        #expect(throws: (any Error).self) { _ = try SimulateTransit.parseAsRoot(arguments) }
    }
}

import ArgumentParser
import Benchmarks
import CardBridge
import TransitSimulator

@main
struct CitizenCardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "citizencard",
        abstract: "CitizenCard: the information system behind a city's citizen card (市民卡).",
        subcommands: [
            Serve.self, Migrate.self, Backup.self, Restore.self, Import.self, Audit.self, Staff.self, Keys.self,
            CardCommand.self,
            CounterAgentCommand.self,
            Clearing.self,
            BankCommand.self, LegacyCommand.self,
            ReportCommand.self, Feed.self, CredentialCommand.self, Simulate.self, Bench.self,
        ])
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load data into the population database.", subcommands: [ImportPersons.self])
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the tamper-evident audit log.", subcommands: [AuditVerify.self])
}

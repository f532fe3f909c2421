import ArgumentParser
import CitizenCardDomain
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation

struct Clearing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Daily clearing and settlement of the e-purse.", subcommands: [ClearingRun.self])
}

/// `citizencard clearing run --date YYYY-MM-DD`: clears a closed business day (idempotent), writes
/// a settlement file per merchant and the reconciliation, prints the summary; exit 1 when the
/// reconciliation names a difference.
struct ClearingRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Clear a business day: settlement files per merchant and a reconciliation report.",
        discussion: """
            Writes DATA/clearing/YYYY-MM-DD/<MERCHANT>.csv and reconciliation.txt. Running the same day \
            again writes nothing new in the database and the same files. Exit 1 when the reconciliation \
            finds a difference.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "The business day to clear (Asia/Shanghai), YYYY-MM-DD; it must be over.")
    var date: String

    @Option(help: "Directory for the files (default DATA/clearing/DATE).")
    var out: String?

    @Flag(help: "Print the report as JSON instead of text.")
    var json = false

    func run() async throws {
        guard let day = CalendarDate(iso8601: date) else { throw ValidationError("--date must be YYYY-MM-DD") }
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.clearing", level: .warning))
        let report: ClearingService.Report
        do {
            report = try await ClearingService(runtime.env).run(day, actor: .commandLine("clearing"))
        } catch {
            try? await runtime.store.close()
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        let directory =
            out.map { URL(fileURLWithPath: $0, isDirectory: true) }
            ?? runtime.dataDirectory.appendingPathComponent("clearing/\(day.iso8601)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for merchant in report.merchants {
                try Data(ClearingService.settlementFile(merchant, date: day).utf8).write(
                    to: directory.appendingPathComponent("\(merchant.code).csv"), options: .atomic)
            }
            try Data(ClearingService.reconciliationText(report).utf8).write(
                to: directory.appendingPathComponent("reconciliation.txt"), options: .atomic)
        } catch {
            throw CommandFailure(description: "cannot write the settlement files in \(directory.path)")
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(
                "\(report.firstRun ? "Cleared" : "Already cleared") \(day.iso8601): \(report.merchants.count) merchants, \(report.records) records, gross \(Money(fen: report.grossFen)), commission \(Money(fen: report.commissionFen)), net \(Money(fen: report.netFen))"
            )
            for merchant in report.merchants {
                say(
                    "  \(merchant.code): \(merchant.records) records, gross \(Money(fen: merchant.grossFen)), net \(Money(fen: merchant.netFen))"
                )
            }
            say("Files in \(directory.path)")
            say(
                report.differences.isEmpty
                    ? "Reconciliation: no differences (\(report.checks.count) checks)."
                    : "Reconciliation: \(report.differences.count) difference(s):")
            for difference in report.differences { say("  ✗ \(difference)") }
        }
        if !report.differences.isEmpty { throw ExitCode(1) }
    }
}

import ArgumentParser
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation

/// `citizencard legacy …`: the departments' old cards (R-20; docs/legacy-cards.md).
struct LegacyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "legacy", abstract: "The departments' old transit and social-security cards.",
        subcommands: [LegacyImport.self, LegacyReport.self, LegacyStopList.self])
}

struct LegacyImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract:
            "Import old cards and their balances from a department's file (docs/legacy-cards.md); nothing is imported unless every row is good and the control line adds up; safe to run again."
    )

    @OptionGroup var store: StoreOptions

    @Argument(help: "The CSV file.")
    var file: String

    @Option(help: "Where to write every row's outcome (default: FILE.results.csv).")
    var results: String?

    @Option(help: "Cards per transaction.")
    var batchSize = LegacyImporter.batchSizeDefault

    func validate() throws {
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1-100000") }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
    }

    func run() async throws {
        let runtime = try await Runtime.open(
            store, logger: makeLogger(label: "citizencard.legacy", level: .warning),
            cacheMebibytes: Runtime.importCacheMebibytes)
        let resultsURL = URL(fileURLWithPath: results ?? file + ".results.csv")
        let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        let report: LegacyImporter.Report
        do {
            report = try await LegacyImporter(runtime.env).run(
                path: file, results: resultsURL, actor: .commandLine("legacy import"), batchSize: batchSize
            ) { progress in
                bar.show(
                    label: progress.pass == 1 ? "checking " : "importing", bytesRead: progress.bytesRead,
                    bytesTotal: progress.bytesTotal, rows: progress.rowsRead, elapsedSeconds: progress.elapsedSeconds)
            }
        } catch {
            bar.finish()
            try? await runtime.store.close()
            throw CommandFailure(description: "legacy import failed: \(error)")
        }
        bar.finish()
        try await runtime.store.close()
        let control =
            report.controlRows.map { "\($0) rows, \(report.controlFen ?? 0) fen" } ?? "missing (TOTAL,<rows>,<fen>)"
        print(
            """
            rows read:      \(report.rowsRead) (\(report.totalFen) fen)
            control line:   \(control)\(report.controlMatches ? "" : " — DOES NOT MATCH")
            rejected:       \(report.rejected)
            imported:       \(report.imported) (\(report.importedFen) fen, opening entries in legacy:<kind>)
            imported before:\(report.unchanged) (same data, skipped)
            time:           \(String(format: "%.1f", report.elapsedSeconds)) s
            results:        \(resultsURL.path)
            """)
        if !report.complete {
            print("nothing was imported: correct the file and run it again")
            throw ExitCode(2)
        }
    }
}

struct LegacyReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Old cards imported, folded in and unclaimed, tied out to the ledger.")

    @OptionGroup var store: StoreOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.legacy", level: .warning))
        let summary: LegacyService.Summary
        do {
            summary = try await LegacyService(runtime.env).summary(actor: .commandLine("legacy report"))
        } catch {
            try? await runtime.store.close()
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print("kind             imported        folded          unclaimed       holder unknown  ledger")
            for line in summary.lines {
                func cell(_ count: Int64, _ fen: Int64) -> String {
                    "\(count)/\(fen)".padding(toLength: 16, withPad: " ", startingAt: 0)
                }
                print(
                    line.kind.rawValue.padding(toLength: 17, withPad: " ", startingAt: 0)
                        + cell(line.importedCount, line.importedFen) + cell(line.foldedCount, line.foldedFen)
                        + cell(line.unclaimedCount, line.unclaimedFen)
                        + cell(line.unclaimedHolderUnknownCount, line.unclaimedHolderUnknownFen)
                        + "\(line.ledgerFen)\(line.tiesOut ? " (ties out)" : " DIFFERS")")
            }
        }
        if summary.lines.contains(where: { !$0.tiesOut }) { throw ExitCode(1) }
    }
}

struct LegacyStopList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop-list",
        abstract:
            "The old cards the old systems must refuse: folded ones at once, all after the coexistence period (CSV kind,number,reason)."
    )

    @OptionGroup var store: StoreOptions

    @Option(help: "Write the list to this file instead of standard output.")
    var out: String?

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.legacy", level: .warning))
        var lines = ["kind,number,reason"]
        var after: String?
        do {
            repeat {
                let page = try await LegacyService(runtime.env).stopList(
                    after: after, limit: 10_000, actor: .commandLine("legacy stop-list"))
                lines += page.items.map { "\($0.kind.rawValue),\($0.number),\($0.reason)" }
                after = page.next
            } while after != nil
        } catch {
            try? await runtime.store.close()
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        let text = lines.joined(separator: "\n") + "\n"
        if let out {
            try text.write(toFile: out, atomically: true, encoding: .utf8)
            print("\(lines.count - 1) old cards to refuse: \(out)")
        } else {
            print(text, terminator: "")
        }
    }
}

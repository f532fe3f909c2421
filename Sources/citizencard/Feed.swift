import ArgumentParser
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation

struct Feed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Department feeds (docs/departments.md).", subcommands: [FeedApply.self])
}

/// `citizencard feed apply --department CODE FILE`: a department's file of feed messages, each
/// applied on its own and idempotent by its message id, so that the file can be run again.
struct FeedApply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply a department's feed file (JSON lines or CSV); safe to run again on the same file.")

    @OptionGroup var store: StoreOptions

    @Option(help: "The department's code (PSB, HRSS …).")
    var department: String

    @Argument(help: "The feed file: JSON lines, or CSV with a header line (by the .csv suffix or --format).")
    var file: String

    @Option(help: "jsonl or csv (default: by the file's suffix).")
    var format: String?

    @Option(help: "Where to write one JSON line of result per row (default: FILE.results.jsonl).")
    var results: String?

    func validate() throws {
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
        if let format, FeedFileReader.Format(rawValue: format) == nil {
            throw ValidationError("--format must be jsonl or csv")
        }
    }

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.feed", level: .warning))
        let resultsURL = URL(fileURLWithPath: results ?? file + ".results.jsonl")
        let bar = RowProgress(enabled: isatty(STDERR_FILENO) == 1)
        let report: FeedFileRunner.Report
        do {
            report = try await FeedFileRunner(runtime.env).run(
                path: file, format: format.flatMap(FeedFileReader.Format.init(rawValue:)), department: department,
                results: resultsURL
            ) { bar.show(rows: $0.rows, read: $0.bytesRead, total: $0.bytesTotal, seconds: $0.elapsedSeconds) }
        } catch {
            bar.finish()
            try? await runtime.store.close()
            throw CommandFailure(description: "feed failed: \(error)")
        }
        bar.finish()
        try await runtime.store.close()
        let count = { (outcome: FeedResult.Outcome) in report.outcomes[outcome] ?? 0 }
        print(
            """
            rows read:      \(report.rows)
            applied:        \(count(.applied))
            unchanged:      \(count(.unchanged))
            unknown person: \(count(.unknownPerson))
            conflicts:      \(count(.conflict)) (in the review queue)
            invalid:        \(count(.invalid)) (not stored: correct and send again)
            repeats:        \(report.duplicates) (sent before, answered as then)
            time:           \(String(format: "%.1f", report.elapsedSeconds)) s (\(Int(Double(report.rows) / max(report.elapsedSeconds, 0.001))) rows/s)
            results:        \(resultsURL.path)
            """)
        if count(.invalid) > 0 || count(.conflict) > 0 { throw ExitCode(2) }
    }
}

/// A one-line progress display on standard error; silent when not a terminal.
final class RowProgress: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(rows: Int, read: Int64, total: Int64?, seconds: Double) {
        guard enabled else { return }
        let fraction = total.map { $0 > 0 ? Double(read) / Double($0) : 1 } ?? 0
        let rate = seconds > 0 ? Int(Double(rows) / seconds) : 0
        let line = String(format: "\r%3d%%  %d rows  %d rows/s ", Int(fraction * 100), rows, rate)
        lock.withLock {
            FileHandle.standardError.write(Data(line.utf8))
            drawn = true
        }
    }

    func finish() {
        lock.withLock {
            if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
            drawn = false
        }
    }
}

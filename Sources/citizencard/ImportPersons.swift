import ArgumentParser
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation

struct ImportPersons: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "persons",
        abstract: "Import persons from a CSV file (docs/import-format.md); safe to run again on the same file.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "The CSV file.")
    var file: String

    @Option(help: "Where to write the per-row error report (default: FILE.errors.csv).")
    var errors: String?

    @Option(help: "Rows per transaction.")
    var batchSize = PersonImporter.batchSizeDefault

    static let cacheMebibytes = Runtime.importCacheMebibytes

    func validate() throws {
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1-100000") }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
    }

    func run() async throws {
        let runtime = try await Runtime.open(
            store, logger: makeLogger(label: "citizencard.import", level: .warning), cacheMebibytes: Self.cacheMebibytes
        )
        let reportURL = URL(fileURLWithPath: errors ?? file + ".errors.csv")
        let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        let report: PersonImporter.Report
        do {
            report = try await PersonImporter(runtime.env).run(
                path: file, errorReport: reportURL, actor: .commandLine("import"), batchSize: batchSize
            ) { bar.show($0) }
        } catch {
            bar.finish()
            try? await runtime.store.close()
            throw CommandFailure(description: "import failed: \(error)")
        }
        bar.finish()
        try await runtime.store.close()
        print(
            """
            rows read:          \(report.rowsRead)
            imported:           \(report.inserted)
            already registered: \(report.unchanged) (same data, skipped)
            differing:          \(report.differing) (registered with other data, not changed)
            rejected:           \(report.invalid)
            time:               \(String(format: "%.1f", report.elapsedSeconds)) s (\(Int(report.rowsPerSecond)) rows/s)
            error report:       \(reportURL.path) (\(report.errorsWritten) problems)
            """)
        if report.invalid > 0 || report.differing > 0 { throw ExitCode(2) }
    }
}

/// A one-line progress bar on standard error, redrawn in place; silent when not a terminal.
final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var drawn = false

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ progress: PersonImporter.Progress) {
        show(
            label: "", bytesRead: progress.bytesRead, bytesTotal: progress.bytesTotal, rows: progress.rowsRead,
            elapsedSeconds: progress.elapsedSeconds)
    }

    func show(label: String, bytesRead: Int64, bytesTotal: Int64?, rows: Int, elapsedSeconds: Double) {
        guard enabled else { return }
        let fraction = bytesTotal.map { $0 > 0 ? Double(bytesRead) / Double($0) : 1 } ?? 0
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let rate = elapsedSeconds > 0 ? Int(Double(rows) / elapsedSeconds) : 0
        let line = String(
            format: "\r%@%@ %3d%%  %d rows  %d rows/s ", label.isEmpty ? "" : label + " ", bar, Int(fraction * 100),
            rows,
            rate)
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

package import ArgumentParser
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation
import GRDB
import Storage
import StorageSQLite

/// `citizencard bench legacy`: the import of a department's file of old cards with their opening
/// entries, against a bare insert of the same rows into the same table (issue 21; goal >= 0.4).
/// See docs/performance.md.
package struct BenchLegacy: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "legacy")

    @Option(help: "Old cards in the file.")
    package var rows = 1_000_000

    @Option(help: "Working directory (default: a new temporary directory, removed afterwards).")
    package var workDirectory: String?

    @Option(help: "Write PostgreSQL schemas of their own in this database instead of SQLite.")
    package var postgres: String?

    package func run() async throws {
        let directory = URL(
            fileURLWithPath: workDirectory ?? NSTemporaryDirectory() + "citizencard-bench-legacy-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if workDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
        let csv = directory.appendingPathComponent("legacy.csv")
        print("generating \(rows) old cards …")
        try Self.writeFile(rows: rows, to: csv)
        let options = try BenchData.storeOptions(
            data: directory.appendingPathComponent("data"), postgres: postgres, schema: "bench_legacy_\(getpid())")
        let runtime = try await Runtime.open(
            options, logger: makeLogger(label: "bench", level: .warning), cacheMebibytes: Runtime.importCacheMebibytes)
        let report = try await LegacyImporter(runtime.env).run(
            path: csv.path, results: directory.appendingPathComponent("results.csv"), actor: .commandLine("bench"))
        let peak = BenchData.peakResidentBytes()
        let summary = try await LegacyService(runtime.env).summary(actor: .commandLine("bench"))
        let database = runtime.databaseDescription
        try await runtime.store.close()
        guard report.complete, report.imported == rows else {
            throw CommandFailure(description: "the import did not take the whole file: \(report)")
        }
        let baseline =
            if let postgres {
                try await Self.bareInsert(
                    rows: rows,
                    options: try BenchData.storeOptions(
                        data: directory.appendingPathComponent("bare"), postgres: postgres,
                        schema: "bench_legacy_bare_\(getpid())"))
            } else {
                try Self.bareInsert(rows: rows, at: directory.appendingPathComponent("baseline.sqlite"))
            }
        let rate = Double(rows) / report.elapsedSeconds, baselineRate = Double(rows) / baseline
        print(
            """

            legacy import of \(rows) old cards (both passes, opening entries, results file), \(database)
              citizencard legacy import: \(String(format: "%8.1f", report.elapsedSeconds)) s  \(Int(rate)) rows/s  (\(report.importedFen) fen)
              bare insert, same rows:    \(String(format: "%8.1f", baseline)) s  \(Int(baselineRate)) rows/s
              ratio import/bare:         \(String(format: "%.2f", rate / baselineRate))  (goal >= 0.4)
              ledger ties out:           \(summary.lines.allSatisfy(\.tiesOut))
              peak memory (import):      \(peak / 1_048_576) MiB
            """)
    }

    /// On PostgreSQL: the same rows committed through the store's writer (its multi-row INSERT into
    /// `legacy_cards`), in batches of the import's size, into a schema of their own: no parsing,
    /// checks, ledger, audit or results file. Returns the seconds spent in the commits.
    static func bareInsert(rows: Int, options: StoreOptions) async throws -> Double {
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        let ids = UUIDv7Generator()
        var random = SplitMix64(seed: 20_261_207)
        var seconds = 0.0
        var done = 0
        while done < rows {
            let count = min(LegacyImporter.batchSizeDefault, rows - done)
            let cards = (0..<count).map { offset in
                var index: Data?
                if (done + offset) % 2 == 0 {
                    var data = Data(capacity: 16)
                    for _ in 0..<2 { withUnsafeBytes(of: random.next()) { data.append(contentsOf: $0) } }
                    index = data
                }
                return LegacyCard(
                    id: LegacyCard.ID(rawValue: ids.next()), kind: .transit,
                    number: "T\(String(format: "%016d", done + offset))", holderIndex: index, balanceFen: 100,
                    status: .active, importedAt: Timestamp(secondsSinceEpoch: 0), source: "legacy.csv sha256:0")
            }
            var changes = ChangeSet()
            changes.add(.legacy(.insertLegacyCards(cards)))
            let start = ContinuousClock.now
            try await runtime.store.commit(changes)
            seconds += BenchData.milliseconds(since: start) / 1000
            done += count
        }
        try await runtime.store.close()
        return seconds
    }

    /// Half the cards name a holder; balances 0 to 99.99 yuan.
    static func writeFile(rows: Int, to url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var out = LegacyImporter.header.joined(separator: ",") + "\n"
        var total: Int64 = 0
        for index in 0..<rows {
            let holder =
                index % 2 == 0
                ? ResidentID.make(
                    region: "330902", birth: CalendarDate(daysSinceEpoch: Int64(-20_000 + index / 2000)),
                    sequence: (index / 2) % 1000
                ).number : ""
            let fen = Int64(index % 10_000)
            total += fen
            out += "T\(String(format: "%016d", index)),transit,\(holder),\(fen),active\n"
            if out.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(out.utf8))
                out = ""
            }
        }
        out += "TOTAL,\(rows),\(total)\n"
        try handle.write(contentsOf: Data(out.utf8))
    }

    /// One prepared INSERT into the same legacy_cards table (same schema and indexes), rows of the
    /// same shape, committed in batches of the import's size; no parsing, checks or ledger.
    static func bareInsert(rows: Int, at url: URL) throws -> Double {
        _ = try SQLiteStore(path: url.path)
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(Runtime.importCacheMebibytes * 1024)")
        }
        let pool = try DatabasePool(path: url.path, configuration: configuration)
        let ids = UUIDv7Generator()
        var random = SplitMix64(seed: 20_261_207)
        func index() -> Data {
            var data = Data(capacity: 16)
            for _ in 0..<2 { withUnsafeBytes(of: random.next()) { data.append(contentsOf: $0) } }
            return data
        }
        var seconds = 0.0
        var done = 0
        while done < rows {
            let count = min(LegacyImporter.batchSizeDefault, rows - done)
            let values = (0..<count).map { offset in
                (ids.next(), "T\(String(format: "%016d", done + offset))", (done + offset) % 2 == 0 ? index() : nil)
            }
            let start = ContinuousClock.now
            try pool.write { db in
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO legacy_cards (id, kind, number, holder_index, balance_fen, status, imported_at,
                            source, version) VALUES (?, 'transit', ?, ?, 100, 'active', 0, 'legacy.csv sha256:0', 1)
                        """)
                for (id, number, index) in values { try statement.execute(arguments: [id, number, index]) }
            }
            seconds += BenchData.milliseconds(since: start) / 1000
            done += count
        }
        try pool.close()
        return seconds
    }
}

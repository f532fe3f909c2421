package import ArgumentParser
package import CitizenCardDomain
import CitizenCardServices
import DataProtection
package import CitizenCardRuntime
import CommandSupport
package import Foundation
import GRDB
import Storage
import StorageSQLite

package struct Bench: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        abstract: "Measure import and lookup; prints figures next to a baseline measured in the same run.",
        subcommands: [
            BenchImport.self, BenchLifecycle.self, BenchCrypto.self, BenchHotlist.self, BenchIngest.self,
            BenchClearing.self, BenchJSON.self, BenchDepartments.self, BenchCredentials.self, BenchBanks.self,
            BenchLegacy.self, BenchClosures.self,
        ])
}

/// Imports generated persons into a fresh database and compares with a bare GRDB insert of rows of
/// the same shape; then looks persons up by ID number. See docs/performance.md.
package struct BenchImport: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "import")

    @Option(help: "Rows to generate.")
    package var rows = 1_200_000

    @Option(help: "Lookups to time after the import.")
    package var lookups = 10_000

    @Option(help: "Working directory (default: a new temporary directory, removed afterwards).")
    package var workDirectory: String?

    package func run() async throws {
        let directory = URL(fileURLWithPath: workDirectory ?? NSTemporaryDirectory() + "citizencard-bench-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if workDirectory == nil { try? FileManager.default.removeItem(at: directory) } }
        let csv = directory.appendingPathComponent("persons.csv")
        print("generating \(rows) rows …")
        let numbers = try BenchData.writeCSV(rows: rows, to: csv)
        let csvBytes = (try? FileManager.default.attributesOfItem(atPath: csv.path)[.size] as? Int) ?? 0

        let options = try BenchData.storeOptions(data: directory.appendingPathComponent("data"))
        let runtime = try await Runtime.open(
            options, logger: makeLogger(label: "bench", level: .warning), cacheMebibytes: Runtime.importCacheMebibytes)
        let report = try await PersonImporter(runtime.env).run(
            path: csv.path, errorReport: directory.appendingPathComponent("errors.csv"), actor: .commandLine("bench"))
        let importPeak = BenchData.peakResidentBytes()

        let baselineSeconds = try BenchData.bareInsert(
            rows: rows, at: directory.appendingPathComponent("baseline.sqlite"))
        let baselineRate = Double(rows) / baselineSeconds
        print(
            """

            import of \(rows) persons (CSV \(csvBytes / 1_048_576) MiB), SQLite, synchronous=FULL
              citizencard import:   \(String(format: "%8.1f", report.elapsedSeconds)) s  \(Int(report.rowsPerSecond)) rows/s  (imported \(report.inserted), rejected \(report.invalid))
              bare GRDB insert:     \(String(format: "%8.1f", baselineSeconds)) s  \(Int(baselineRate)) rows/s
              ratio import/bare:    \(String(format: "%.2f", report.rowsPerSecond / baselineRate))  (goal >= 0.5)
              peak memory (import): \(importPeak / 1_048_576) MiB  (goal < 1024 MiB)
            """)

        // Lookups by ID number with everyone stored.
        var sample: [String] = []
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<lookups { sample.append(numbers[Int.random(in: 0..<numbers.count, using: &generator)]) }
        let store = runtime.store
        let vault = runtime.env.vault
        var raw: [Double] = []
        for number in sample {
            let start = ContinuousClock.now
            let id = try FieldsBench.parse(number)
            guard let sealed = try await store.person(idIndex: vault.indexOf(id)) else {
                throw CommandFailure(description: "lookup missed")
            }
            _ = try vault.open(sealed.details, personID: sealed.id)
            raw.append(BenchData.milliseconds(since: start))
        }
        let registry = RegistryService(runtime.env)
        let clerk = Actor(operatorID: nil, name: "bench", role: .outletOperator, outletID: nil)
        var audited: [Double] = []
        for number in sample.prefix(min(2000, sample.count)) {
            let start = ContinuousClock.now
            _ = try await registry.lookup(idNumber: number, reveal: false, purpose: "benchmark", actor: clerk)
            audited.append(BenchData.milliseconds(since: start))
        }
        print(
            """

            lookup by ID number with \(report.inserted) persons stored (in-process)
              blind index + fetch + decrypt:   p50 \(BenchData.percentile(raw, 0.5)) ms  p99 \(BenchData.percentile(raw, 0.99)) ms  (\(raw.count) lookups; goal p99 < 1 ms)
              audited service lookup (commits an audit entry): p50 \(BenchData.percentile(audited, 0.5)) ms  p99 \(BenchData.percentile(audited, 0.99)) ms  (\(audited.count) lookups)
            peak memory (whole run): \(BenchData.peakResidentBytes() / 1_048_576) MiB
            """)
        try await store.close()
    }
}

package enum FieldsBench {
    package static func parse(_ number: String) throws -> ResidentID {
        guard case .success(let id) = ResidentID.parse(number) else {
            throw CommandFailure(description: "bad generated ID")
        }
        return id
    }
}

package enum BenchData {
    /// A benchmark's store: in `schema` of the PostgreSQL database `postgres` (the benchmark drops
    /// it at the end), or without one on SQLite in `data`. Always named explicitly: a benchmark
    /// writes a demo city and must never follow `CITIZENCARD_DATABASE_URL` to the database that
    /// variable names.
    package static func storeOptions(data: URL, postgres: String? = nil, schema: String = "") throws -> StoreOptions {
        let database =
            if let postgres { postgres + (postgres.contains("?") ? "&" : "?") + "schema=\(schema)" } else {
                "sqlite:" + data.appendingPathComponent("citizencard.sqlite").path
            }
        return try StoreOptions.parse(["--data", data.path, "--database", database])
    }

    /// Writes `rows` valid person rows with distinct ID numbers; returns the ID numbers.
    package static func writeCSV(rows: Int, to url: URL) throws -> [String] {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var out = "id_number,name,sex,household,phone,address,employer,social_insurance,rural_medical\n"
        var numbers: [String] = []
        numbers.reserveCapacity(rows)
        let regions = ["330902", "330903", "330921", "330922"]
        let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑")
        let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平")
        var index = 0
        var day = 0
        outer: while true {
            // 1000 sequence numbers per region and birth date make every number distinct.
            let birth = CalendarDate(daysSinceEpoch: Int64(-20_000 + day))
            day += 1
            for region in regions {
                for sequence in 0..<1000 {
                    if index == rows { break outer }
                    let id = ResidentID.make(region: region, birth: birth, sequence: sequence)
                    numbers.append(id.number)
                    let name = String(surnames[index % surnames.count]) + String(given[(index / 20) % given.count])
                    let sex = id.sex == .male ? "male" : "female"
                    out +=
                        "\(id.number),\(name),\(sex),local,1380571\(String(format: "%04d", index % 10000)),浙江省舟山市定海区解放路\(index % 500)号,\"舟山港集团, 码头\",true,false\n"
                    index += 1
                    if out.utf8.count > 1 << 20 {
                        try handle.write(contentsOf: Data(out.utf8))
                        out = ""
                    }
                }
            }
        }
        try handle.write(contentsOf: Data(out.utf8))
        return numbers
    }

    /// The baseline: one prepared INSERT into the same persons table (same indexes, same
    /// synchronous=FULL WAL database), rows of the same shape and sizes as the import's sealed
    /// rows, committed in batches of the import's size. No parsing, validation or cryptography.
    package static func bareInsert(rows: Int, at url: URL) throws -> Double {
        _ = try SQLiteStore(path: url.path)  // the same schema and indexes
        var configuration = GRDB.Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "PRAGMA cache_size = -\(Runtime.importCacheMebibytes * 1024)")
        }
        let pool = try DatabasePool(path: url.path, configuration: configuration)
        var random = SplitMix64(seed: 20261129)
        func bytes(_ count: Int) -> Data {
            var data = Data(capacity: count)
            while data.count < count {
                withUnsafeBytes(of: random.next()) { data.append(contentsOf: $0.prefix(count - data.count)) }
            }
            return data
        }
        let details = bytes(170)
        let ids = UUIDv7Generator()
        var seconds = 0.0
        var done = 0
        while done < rows {
            // Values are made outside the timed part: only the inserts and commits count.
            let count = min(PersonImporter.batchSizeDefault, rows - done)
            let values = (0..<count).map { _ in (ids.next(), bytes(16), bytes(16)) }
            let start = ContinuousClock.now
            try pool.write { db in
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO persons (id, id_index, fingerprint, details, household, social_insurance,
                            rural_medical, life_status, version, changed_at, changed_by, change_reason, change_source,
                            created_at) VALUES (?, ?, ?, ?, 'local', 1, 0, 'alive', 1, 0, 'bench', 'bulk import of persons.csv', 'import', 0)
                        """)
                for (id, index, fingerprint) in values {
                    try statement.execute(arguments: [id, index, fingerprint, details])
                }
            }
            seconds += milliseconds(since: start) / 1000
            done += count
        }
        try pool.close()
        return seconds
    }

    package static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
    }

    package static func percentile(_ values: [Double], _ p: Double) -> String {
        guard !values.isEmpty else { return "-" }
        let sorted = values.sorted()
        return String(format: "%.3f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
    }

    /// VmHWM: the peak resident set size of this process.
    package static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return digits * 1024
        }
        return 0
    }
}

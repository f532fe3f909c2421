import Foundation
import Testing

/// `citizencard bench ingest` through the built binary, on a few cards (the figures themselves are
/// measured on a release build: docs/performance.md).
@Suite("Bench command", .serialized)
struct BenchCommandTests {
    @Test(
        "bench ingest on SQLite whatever the environment names: every record posted, a new database per run, the median"
    )
    func ingest() throws {
        let scratch = try Scratch()
        // A benchmark writes a demo city: its SQLite half never follows the environment's database.
        let run = try scratch.run(
            ["bench", "ingest", "--cards", "3", "--taps", "2", "--terminals", "1", "--runs", "2"],
            environment: ["CITIZENCARD_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere"])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        let posted = run.output.components(separatedBy: "\n").filter { $0.contains("SQLite: ingest") }
        #expect(posted.count == 2, "\(run.output)")
        #expect(posted.allSatisfy { $0.contains("(posted 6 of 6; ledger sum 0)") }, "\(run.output)")
        #expect(run.output.contains("SQLite: median ratio over 2 runs: "), "\(run.output)")

        // The terminals of a round upload at once: every record is still posted exactly once.
        let together = try scratch.run(
            ["bench", "ingest", "--cards", "8", "--taps", "2", "--terminals", "3", "--concurrent"],
            environment: ["CITIZENCARD_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere"])
        #expect(together.status == 0, "\(together.output)\(together.errors)")
        #expect(together.output.contains("a round's at once"), "\(together.output)")
        #expect(together.output.contains("(posted 16 of 16; ledger sum 0)"), "\(together.output)")

        let alone = try scratch.run(["bench", "ingest", "--postgres-only"])
        #expect(alone.status != 0 && alone.errors.contains("--postgres-only needs --postgres"), "\(alone.errors)")
        let none = try scratch.run(["bench", "ingest", "--runs", "0"])
        #expect(none.status != 0 && none.errors.contains("--runs must be 1 or more"), "\(none.errors)")
    }
}

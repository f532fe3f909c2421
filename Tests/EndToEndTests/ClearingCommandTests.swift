import Foundation
import Testing

/// `citizencard clearing run` through the built binary.
@Suite("Clearing command", .serialized)
struct ClearingCommandTests {
    @Test("a closed day is cleared with its files; a day not over is refused; staff cannot be terminals")
    func clearingRun() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let run = try scratch.run(["clearing", "run", "--date", "2026-01-05", "--data", data])
        #expect(run.status == 0, "\(run.output)\(run.errors)")
        #expect(run.output.contains("2026-01-05: 0 merchants, 0 records"))
        #expect(run.output.contains("Reconciliation: no differences"))
        let report = try String(
            contentsOf: scratch.file("data/clearing/2026-01-05/reconciliation.txt"), encoding: .utf8)
        #expect(report.contains("No differences.") && report.contains("ledger: all accounts sum to 0"))
        let again = try scratch.run(["clearing", "run", "--date", "2026-01-05", "--data", data, "--json"])
        #expect(again.status == 0 && again.output.contains(#""businessDate" : "2026-01-05""#), "\(again.output)")

        let future = try scratch.run(["clearing", "run", "--date", "2099-01-01", "--data", data])
        #expect(future.status != 0 && future.errors.contains("not_yet_due"), "\(future.errors)")
        let bad = try scratch.run(["clearing", "run", "--date", "5 January", "--data", data])
        #expect(bad.status != 0 && bad.errors.contains("YYYY-MM-DD"))
        let terminal = try scratch.run(
            ["staff", "add", "validator", "--role", "terminal", "--data", data],
            environment: ["CITIZENCARD_PASSWORD": "a long enough password"])
        #expect(terminal.status != 0 && terminal.errors.contains("--role"))
    }
}

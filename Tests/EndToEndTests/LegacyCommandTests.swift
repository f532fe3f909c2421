import Foundation
import Testing

/// `citizencard legacy import` and `legacy report` through the built binary (R-20, issue 21).
@Suite("Legacy card commands", .serialized)
struct LegacyCommandTests {
    @Test("a file imports once with its opening entries; a file that does not add up imports nothing and exits 2")
    func importAndReport() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12"])
        server.stop()
        let rows = (1...25).map { "T\(String(format: "%016d", $0)),transit,,\($0 * 100),active" }
        let good = scratch.file("transit.csv")
        try (["card_number,kind,id_number,balance_fen,status"] + rows + ["TOTAL,25,32500"])
            .joined(separator: "\n").write(to: good, atomically: true, encoding: .utf8)
        let first = try scratch.run(["legacy", "import", good.path, "--data", data, "--batch-size", "10"])
        #expect(first.status == 0, "\(first.output)\(first.errors)")
        #expect(first.output.contains("imported:       25 (32500 fen"), "\(first.output)")
        #expect(try scratch.query("SELECT count(*) FROM legacy_cards") == "25")
        #expect(try scratch.query("SELECT count(*) FROM ledger_transfers WHERE kind = 'legacy_opening'") == "3")
        let results = try String(contentsOf: URL(fileURLWithPath: good.path + ".results.csv"), encoding: .utf8)
        #expect(results.components(separatedBy: ",imported,").count == 26)
        let again = try scratch.run(["legacy", "import", good.path, "--data", data])
        #expect(again.status == 0 && again.output.contains("imported before:25"), "\(again.output)")
        #expect(try scratch.query("SELECT count(*) FROM legacy_cards") == "25")

        let bad = scratch.file("bad.csv")
        try "card_number,kind,id_number,balance_fen,status\nT9000000000000001,transit,,100,active\nTOTAL,1,101\n"
            .write(to: bad, atomically: true, encoding: .utf8)
        let refused = try scratch.run(["legacy", "import", bad.path, "--data", data])
        #expect(refused.status == 2 && refused.output.contains("DOES NOT MATCH"), "\(refused.output)")
        #expect(try scratch.query("SELECT count(*) FROM legacy_cards") == "25")

        let report = try scratch.run(["legacy", "report", "--data", data])
        #expect(
            report.status == 0 && report.output.contains("25/32500") && report.output.contains("ties out"),
            "\(report.output)")
        let verify = try scratch.run(["audit", "verify", "--data", data])
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")
    }
}

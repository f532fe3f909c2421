import Foundation
import Testing

/// `citizencard simulate transit` through the built binary (docs/simulate.md).
@Suite("Transit simulation", .serialized)
struct SimulateTransitTests {
    /// The number after `label` in the first line that contains `line`.
    static func number(after label: String, line: String, in text: String) -> Int? {
        guard let found = text.split(separator: "\n").first(where: { $0.contains(line) }),
            let range = found.range(of: label)
        else { return nil }
        return Int(found[range.upperBound...].prefix { $0.isNumber })
    }

    /// The numbers of a line `prefix name n, name n, …`.
    static func counts(line prefix: String, in text: String) -> [String: Int] {
        guard let line = text.split(separator: "\n").first(where: { $0.contains(prefix) }) else { return [:] }
        var counts: [String: Int] = [:]
        for part in line.components(separatedBy: prefix).last!.split(separator: ",") {
            let words = part.split(separator: " ")
            if words.count == 2, let value = Int(words[1]) { counts[String(words[0])] = value }
        }
        return counts
    }

    @Test("two days of taps with fraud: the books balance, the reconciliation ties, the fraud is caught")
    func simulateTransit() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let arguments = [
            "simulate", "transit", "--cards", "20", "--terminals", "4", "--days", "2", "--taps", "3", "--fraud", "0.1",
            "--seed", "1", "--data", data,
        ]
        let run = try scratch.run(arguments)
        let output = run.output
        #expect(run.status == 0, "\(output)\(run.errors)")
        #expect(output.contains("from 2026-06-01"), "\(output)")
        #expect(output.contains("20 residents with active cards"), "\(output)")
        // Recomputed from the database: the ledger sums to 0, every day ties.
        #expect(output.contains("sum 0 ✓"), "\(output)")
        #expect(output.components(separatedBy: "reconciliation: no differences").count - 1 == 4, "\(output)")
        #expect(!output.contains("difference(s)"), "\(output)")
        #expect(output.contains("Books balance"), "\(output)")
        let parked = try #require(Self.number(after: "parked ", line: "records of the run's cards:", in: output))
        #expect(parked > 0, "\(output)")
        let signals = Self.counts(line: "fraud signals: ", in: output)
        #expect(signals.values.reduce(0, +) > 0, "\(output)")
        #expect(Set(signals.keys).isSuperset(of: ["forged_tac", "replay", "use_after_loss", "impossible_travel"]))
        // What was injected is what the database shows.
        for line in ["forged TACs", "replayed records", "taps far away", "not injected"] {
            let shown = output.split(separator: "\n").first { $0.contains(line) }
            #expect(shown?.hasSuffix("✓") == true, "\(line): \(output)")
        }

        // A second run on the same data directory takes the next free days and balances too; it
        // starts with migration day: old transit cards imported, folded in, the rest explained.
        let again = try scratch.run(arguments + ["--legacy", "15"])
        #expect(again.status == 0, "\(again.output)\(again.errors)")
        #expect(again.output.contains("from 2026-06-03") && again.output.contains("sum 0 ✓"), "\(again.output)")
        #expect(again.output.contains("Migration day: 15 old transit cards imported"), "\(again.output)")
        let legacyLines = again.output.split(separator: "\n").filter {
            $0.contains("old transit cards (all imports)") || $0.contains("unclaimed = legacy:transit")
                || $0.contains("this run: imported 15")
        }
        #expect(legacyLines.count == 3 && legacyLines.allSatisfy { $0.contains("✓") }, "\(again.output)")
        // A month more: cards expire and are renewed or refunded, residents die and heirs are paid;
        // every closed purse is explained and refunds payable equal the closures due.
        let month = try scratch.run([
            "simulate", "transit", "--cards", "12", "--terminals", "2", "--days", "30", "--taps", "1", "--expiring",
            "8", "--deaths", "2", "--seed", "3", "--data", data,
        ])
        #expect(month.status == 0, "\(month.output)\(month.errors)")
        #expect(month.output.contains("sum 0 ✓") && month.output.contains("Books balance"), "\(month.output)")
        let lifeLines = month.output.split(separator: "\n").filter {
            $0.contains(" = onto the renewed card ") || $0.contains("refunds payable in the ledger")
                || $0.contains("purses of the run's cards")
        }
        #expect(lifeLines.count == 3 && lifeLines.allSatisfy { $0.contains("✓") }, "\(month.output)")
        #expect(month.output.contains("end of the run's cards: expired "), "\(month.output)")
        let verify = try scratch.run(["audit", "verify", "--data", data])
        #expect(verify.status == 0, "\(verify.output)\(verify.errors)")

        let help = try scratch.run(["simulate", "transit", "--help"])
        for option in ["--cards", "--terminals", "--days", "--taps", "--fraud", "--server", "--admin-user", "--seed"] {
            #expect(help.output.contains(option), "\(option)")
        }
        let bad = try scratch.run(["simulate", "transit", "--fraud", "2", "--data", data])
        #expect(bad.status != 0 && bad.errors.contains("--fraud"))
        let noPassword = try scratch.run(
            ["simulate", "transit", "--server", "http://127.0.0.1:1", "--data", data],
            environment: ["CITIZENCARD_ADMIN_PASSWORD": ""])
        #expect(noPassword.status != 0 && noPassword.errors.contains("--admin-password"), "\(noPassword.errors)")
    }
}

package import ArgumentParser
import CardCrypto
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
package import Foundation
import SmartCard

/// What the strict reading of request bodies (`StrictJSON`: UTF-8 only, no duplicate keys, the
/// text rule on every string) adds to the decoding the server did before it, on the largest body
/// it takes: a terminal's batch of purchase records. See docs/performance.md.
package struct BenchJSON: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Strict JSON check plus decoding of a terminal batch, next to the decoding alone.")

    @Option(help: "Purchase records in the batch (the route takes at most 4 MiB).")
    package var records = 5_000

    @Option(help: "Rounds of each, alternating; the median ratio is printed.")
    package var runs = 7

    package func run() async throws {
        guard (10...20_000).contains(records), (1...50).contains(runs) else {
            throw ValidationError("--records 10-20000, --runs 1-50")
        }
        let body = try Self.batchBody(records: records)
        let bytes = Array(body)
        var baseline: [Double] = []
        var strict: [Double] = []
        var checkOnly: [Double] = []
        for _ in 0..<runs {
            let check = ContinuousClock.now
            try StrictJSON.check(bytes)
            checkOnly.append(seconds(since: check))
            var start = ContinuousClock.now
            try Self.decode(body)
            baseline.append(seconds(since: start))
            start = ContinuousClock.now
            try StrictJSON.check(bytes)
            try Self.decode(body)
            strict.append(seconds(since: start))
        }
        let ratios = zip(baseline, strict).map { $0 / $1 }.sorted()
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        say(
            """
            a terminal batch of \(records) purchase records, \(body.count / 1024) KiB of JSON, \(runs) rounds
              decoding (Foundation, as before):        \(String(format: "%7.1f", median(baseline) * 1000)) ms
              strict check + decoding:                 \(String(format: "%7.1f", median(strict) * 1000)) ms
              strict check alone:                      \(String(format: "%7.1f", median(checkOnly) * 1000)) ms  (\(Int(Double(body.count) / median(checkOnly) / 1_048_576)) MiB/s)
              ratio decoding/strict+decoding (median): \(String(format: "%.2f", ratios[ratios.count / 2]))  (range \(String(format: "%.2f", ratios.first!))–\(String(format: "%.2f", ratios.last!)))
            """)
    }

    /// What `JSONBody` does with a body, without the strict check: Foundation's tree (for the
    /// unknown-field check) and the typed decoding.
    package static func decode(_ body: Data) throws {
        _ = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        _ = try APIJSON.decoder.decode(AcquiringService.BatchUpload.self, from: body)
    }

    /// Real purchase records from the software card and terminal, encoded as the terminal sends them.
    package static func batchBody(records: Int) throws -> Data {
        let keyring = IssuerKeyring.testKeys()
        let asn = try ApplicationSerialNumber(hex: "00003100000000000001")
        let holder = CardHolder(
            name: "Bench", socialSecurityNumber: "330902199001010012", cardSerialNumber: "A00000001",
            bankCardNumber: "", issueDate: "20260101", expiryDate: "20360101", photoReference: "")
        var card = try SoftwareCard.personalise(asn: asn.bytes, holder: holder, keyring: keyring)
        let terminalID = try TerminalID(hex: "330900000001")
        let dateTime = try TransactionDateTime(digits: "20261129120000")
        _ = card.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        try BenchCrypto().load(
            &card, fen: 400_000, keyring: keyring, asn: asn, terminal: terminalID, dateTime: dateTime)
        var terminal = PurchaseTerminal(
            psam: PSAM(
                terminalID: terminalID, serialNumber: [0x33, 0x09, 0, 0, 0, 0, 0, 1],
                masterPurchaseKey: try keyring.masterKey(.purchase, version: 1)))
        var list: [PurchaseRecord] = []
        for _ in 0..<records { list.append(try terminal.purchase(amountFen: 1, dateTime: dateTime, on: &card)) }
        return try APIJSON.encoder.encode(AcquiringService.BatchUpload(batchNumber: 1, records: list))
    }
}

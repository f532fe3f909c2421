package import ArgumentParser
package import CardCrypto
import CitizenCardRuntime
import CommandSupport
import Foundation
package import SmartCard

/// TAC verifications per second against OpenSSL's raw block rate, and APDUs per second through
/// the software card. See docs/performance.md.
package struct BenchCrypto: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "TAC verifications per second (3DES, SM4) next to OpenSSL's raw rate; APDUs per second.")

    @Option(help: "TAC verifications per algorithm.")
    package var verifications = 300_000

    @Option(help: "Purchases through the software card (4 APDUs each).")
    package var purchases = 20_000

    package func run() async throws {
        guard (1000...10_000_000).contains(verifications), (100...1_000_000).contains(purchases) else {
            throw ValidationError("--verifications 1000-10000000, --purchases 100-1000000")
        }
        say(try CardCryptoBenchmark.run(iterations: verifications).description)
        try apdus()
    }

    /// GET BALANCE (no cryptography) as the baseline, then whole purchases: SELECT, READ BINARY,
    /// INITIALIZE FOR PURCHASE, DEBIT (the card's session key, MAC1 check, MAC2, TAC) with the
    /// PSAM's MAC1 and MAC2 check on the terminal side.
    package func apdus() throws {
        let keyring = IssuerKeyring.testKeys()
        let asn = try ApplicationSerialNumber(hex: "00003100000000000001")
        let holder = CardHolder(
            name: "Bench", socialSecurityNumber: "330902199001010012", cardSerialNumber: "A00000001",
            bankCardNumber: "", issueDate: "20260101", expiryDate: "20360101", photoReference: "")
        var card = try SoftwareCard.personalise(asn: asn.bytes, holder: holder, keyring: keyring)
        let terminalID = try TerminalID(hex: "330900000001")
        let dateTime = try TransactionDateTime(digits: "20261129120000")
        _ = card.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        let getBalance: [UInt8] = [0x80, 0x5C, 0x00, 0x02, 0x04]
        let count = purchases * 4
        var start = ContinuousClock.now
        for _ in 0..<count { _ = card.process(getBalance) }
        let baseline = Double(count) / seconds(since: start)

        var terminal = PurchaseTerminal(
            psam: PSAM(
                terminalID: terminalID, serialNumber: [0x33, 0x09, 0, 0, 0, 0, 0, 1],
                masterPurchaseKey: try keyring.masterKey(.purchase, version: 1)))
        var done = 0
        var elapsed = 0.0
        while done < purchases {
            try load(&card, fen: 400_000, keyring: keyring, asn: asn, terminal: terminalID, dateTime: dateTime)
            let batch = min(purchases - done, 400_000)
            start = ContinuousClock.now
            for _ in 0..<batch { _ = try terminal.purchase(amountFen: 1, dateTime: dateTime, on: &card) }
            elapsed += seconds(since: start)
            done += batch
        }
        let rate = Double(purchases) / elapsed
        say("APDUs through the software card (one core)")
        say("  GET BALANCE (no cryptography): \(Int(baseline)) APDUs/s")
        say(
            "  purchases with PSAM: \(Int(rate)) purchases/s = \(Int(rate * 4)) APDUs/s (SELECT, READ BINARY, INITIALIZE, DEBIT); ratio to GET BALANCE \(String(format: "%.2f", rate * 4 / baseline))"
        )
    }

    package func load(
        _ card: inout SoftwareCard, fen: UInt32, keyring: IssuerKeyring, asn: ApplicationSerialNumber,
        terminal: TerminalID, dateTime: TransactionDateTime
    ) throws {
        let amount = [UInt8(fen >> 24), UInt8(fen >> 16 & 0xFF), UInt8(fen >> 8 & 0xFF), UInt8(fen & 0xFF)]
        let answer = card.process([0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + terminal.bytes + [0x10])
        guard answer.count == 18 else { throw CommandFailure(description: "INITIALIZE FOR LOAD refused") }
        func number(_ range: Range<Int>) -> UInt32 { answer[range].reduce(0) { $0 << 8 | UInt32($1) } }
        let request = LoadAuthorizationRequest(
            asn: asn, keyVersion: answer[6], algorithmID: answer[7], random: number(8..<12),
            onlineCounter: UInt16(number(4..<6)), balanceBeforeFen: Int64(number(0..<4)), amountFen: Int64(fen),
            type: .purseLoad, terminal: terminal, dateTime: dateTime, mac1: try MAC4(bytes: answer[12..<16]))
        let mac2 = try keyring.authorizeLoad(request)
        let credit = card.process([0x80, 0x52, 0x00, 0x00, 0x0B] + dateTime.bcd + mac2.bytes + [0x04])
        guard credit.suffix(2) == [0x90, 0x00] else { throw CommandFailure(description: "CREDIT FOR LOAD refused") }
    }

}

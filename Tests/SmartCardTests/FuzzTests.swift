import CardCrypto
import Foundation
import PropertyBased
import Testing
@testable import SmartCard

/// Arbitrary bytes and arbitrary command sequences never crash the card, never change a balance
/// without a valid MAC, and always leave a card that loads back from its file.
@Suite("Software card: fuzzing the parser and the state machine")
struct FuzzTests {
    /// Headers that reach every handler, so that random data is not only refused by the dispatcher.
    static let headers: [[UInt8]] = [
        [0x00, 0xA4, 0x04, 0x00], [0x00, 0xA4, 0x00, 0x00], [0x00, 0xB0, 0x95, 0x00], [0x00, 0xB0, 0x85, 0x00],
        [0x00, 0xB2, 0x01, 0xC4], [0x00, 0xB2, 0x01, 0x0C], [0x00, 0x20, 0x00, 0x00], [0x00, 0x84, 0x00, 0x00],
        [0x80, 0x5C, 0x00, 0x02], [0x80, 0x5C, 0x00, 0x01], [0x80, 0x50, 0x00, 0x02], [0x80, 0x50, 0x01, 0x02],
        [0x80, 0x50, 0x03, 0x02], [0x80, 0x50, 0x00, 0x01], [0x80, 0x52, 0x00, 0x00], [0x80, 0x54, 0x01, 0x00],
        [0x80, 0x5A, 0x00, 0x06], [0x80, 0xDC, 0x01, 0xD4], [0x84, 0x1E, 0x00, 0x00], [0x84, 0x1E, 0x00, 0x01],
    ]

    /// A command: a known header with random body bytes, a well-formed purse command, or raw bytes.
    static func command(_ random: inout Xorshift) -> [UInt8] {
        func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        switch random.next() % 6 {
        case 0: return bytes(Int(random.next() % 24))
        case 1: return Fixture.selectPurseByAID
        case 2:
            // INITIALIZE with a small random amount: it usually succeeds.
            let p1: [UInt8] = [0x00, 0x01, 0x03]
            return [0x80, 0x50, p1[Int(random.next() % 3)], 0x02, 0x0B, 0x01, 0, 0, 0, UInt8(random.next() % 16)]
                + bytes(6) + [0x10]
        case 3:
            let follow: [[UInt8]] = [[0x80, 0x52, 0x00, 0x00, 0x0B], [0x80, 0x54, 0x01, 0x00, 0x0F]]
            let header = follow[Int(random.next() % 2)]
            return header + bytes(Int(header[4]))
        default:
            let header = headers[Int(random.next() % UInt64(headers.count))]
            return header + bytes(Int(random.next() % 20))
        }
    }

    /// Sends `commands` and checks after each that the balances changed only by a CREDIT or DEBIT
    /// that answered 9000 (which random MACs reach with probability 2^-32 per try).
    static func run(_ card: inout SoftwareCard, _ commands: [[UInt8]]) {
        for command in commands {
            let before = (card.balance(.purse), card.balance(.deposit))
            let response = card.process(command)
            #expect(response.count >= 2)
            let succeeded = response.suffix(2) == [0x90, 0x00]
            let isCommit = command.count > 1 && command[0] == 0x80 && (command[1] == 0x52 || command[1] == 0x54)
            if !(succeeded && isCommit) {
                #expect(card.balance(.purse) == before.0 && card.balance(.deposit) == before.1)
            }
        }
    }

    @Test("arbitrary byte strings never crash and never move money")
    func arbitraryBytes() async throws {
        let start = try Fixture.vectorCard()
        await propertyCheck(count: 300, input: Gen.uint8().array(of: 0...270).array(of: 1...8)) { commands in
            var card = start
            Self.run(&card, commands)
            #expect(card.balance() == 0)
        }
    }

    @Test("arbitrary command sequences never crash, never move money without a MAC, and reload from the file")
    func arbitrarySequences() async throws {
        var base = try Fixture.vectorCard()
        base.purses.purse.balance = 5000
        _ = base.send("0020000003123456")
        let start = base
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        await propertyCheck(count: 150, input: Gen.uint64(), Gen.int(in: 1...60)) { seed, length in
            var random = Xorshift(seed: seed)
            var card = start
            let commands = (0..<length).map { _ in Self.command(&random) }
            Self.run(&card, commands)
            #expect(card.balance() == 5000)
            do {
                try card.save(to: url)
                #expect(try SoftwareCard.load(from: url) == card)
            } catch {
                Issue.record("the card no longer saves and loads: \(error)")
            }
        }
    }
}

/// A small seeded generator for command sequences (reproducible from the seed PropertyBased reports).
struct Xorshift {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

import CardCrypto
import Foundation
import Testing
@testable import SmartCard

/// Every status word of CARDTECH.md §4 provoked once, and the APDU parser's cases.
@Suite("Software card: status words and APDU parsing")
struct StatusWordTests {
    /// A card with the purse selected.
    func selectedCard(algorithmID: UInt8 = 0x00) throws -> SoftwareCard {
        var card = try Fixture.vectorCard(algorithmID: algorithmID)
        #expect(card.send(Fixture.selectPurseByAID).status == .success)
        return card
    }

    @Test("APDU cases 1–4 parse; every other length is 6700")
    func parser() throws {
        #expect(try CommandAPDU(bytes: [0x00, 0xA4, 0x04, 0x00]).le == nil)
        #expect(try CommandAPDU(bytes: [0x80, 0x5C, 0x00, 0x02, 0x00]).le == 256)
        let case3 = try CommandAPDU(bytes: Fixture.bytes("00A40000021001"))
        #expect(case3.data == [0x10, 0x01] && case3.le == nil)
        let case4 = try CommandAPDU(bytes: Fixture.bytes("00A4000002100104"))
        #expect(case4.data == [0x10, 0x01] && case4.le == 4)
        #expect(case4.bytes == Fixture.bytes("00A4000002100104"))
        for bad in ["", "00", "00A404", "00A400000210", "00A40000021001AABB", "00A4000000AA"] {
            #expect(throws: CardStatusError(.wrongLength)) { try CommandAPDU(bytes: Fixture.bytes(bad)) }
        }
        #expect(throws: CardStatusError(.wrongLength)) { try CommandAPDU(bytes: [UInt8](repeating: 1, count: 262)) }
    }

    @Test("6700 wrong length")
    func wrongLength() throws {
        var card = try selectedCard()
        #expect(card.send("00A404").status == .wrongLength)
        #expect(card.send("805000020A010000100000112233445510").status == .wrongLength)
    }

    @Test("6982 security status: ED without PIN; APPLICATION BLOCK without line protection")
    func securityStatus() throws {
        var card = try selectedCard()
        #expect(card.send("805C000104").status == .securityStatusNotSatisfied)
        #expect(card.send("801E00000400000000").status == .securityStatusNotSatisfied)
    }

    @Test("63Cx wrong PIN, then 6983 blocked; the right PIN no longer helps")
    func pinRetryCounter() throws {
        var card = try selectedCard()
        #expect(card.send("0020000003111111").status == .wrongPIN(triesLeft: 2))
        #expect(card.send("0020000003123456").status == .success)
        #expect(card.pinTriesLeft == 3)
        #expect(card.send("0020000003111111").status == StatusWord(rawValue: 0x63C2))
        #expect(card.send("002000000211 11").status == StatusWord(rawValue: 0x63C1))
        #expect(card.send("0020000003111111").status == StatusWord(rawValue: 0x63C0))
        #expect(card.send("0020000003123456").status == .authenticationBlocked)
        #expect(card.send("805C000104").status == .securityStatusNotSatisfied)
    }

    @Test("6985 wrong sequence: CREDIT without INITIALIZE, DEBIT after a load INITIALIZE, an interrupted sequence")
    func wrongSequence() throws {
        var card = try selectedCard()
        #expect(card.send("805200000B2011122121482200000000 04").status == .conditionsNotSatisfied)
        #expect(card.send("805000020B010000100000112233445510").status == .success)
        #expect(card.send("805401000F0000000120120229135100F15CAB7508").status == .conditionsNotSatisfied)
        #expect(card.send("805000020B010000100000112233445510").status == .success)
        #expect(card.send("805C000204").status == .success)
        #expect(card.send("805200000B20111221214822FDD12AF104").status == .conditionsNotSatisfied)
        #expect(card.balance() == 0)
    }

    @Test("6A81 temporarily blocked, 9303 permanently blocked (APPLICATION BLOCK with the DAMK MAC)")
    func applicationBlock() throws {
        var card = try selectedCard()
        #expect(card.send("841E00000400000000").status == .conditionsNotSatisfied)  // no challenge
        let challenge = card.send("0084000004")
        #expect(challenge.status == .success && challenge.data.count == 4)
        #expect(card.send("841E00000400000000").status == .macInvalid)
        let temporary = try blockCommand(&card, p2: 0x00)
        #expect(card.send(temporary).status == .success)
        #expect(card.send("805C000204").status == .functionNotSupported)
        #expect(card.send(Fixture.selectPurseByAID).status == .functionNotSupported)

        var permanentCard = try selectedCard()
        let permanent = try blockCommand(&permanentCard, p2: 0x01)
        #expect(permanentCard.send(permanent).status == .success)
        #expect(permanentCard.send("805C000204").status == .applicationPermanentlyLocked)
        #expect(permanentCard.send(Fixture.selectPurseByFID).status == .applicationPermanentlyLocked)
    }

    func blockCommand(_ card: inout SoftwareCard, p2: UInt8) throws -> [UInt8] {
        let challenge = card.send("0084000004").data
        let header: [UInt8] = [0x84, 0x1E, 0x00, p2, 0x04]
        let mac = try CardMAC.lineProtection(key: IssuerKeyring.testKey, challenge: challenge, data: header)
        return header + mac.bytes
    }

    @Test("6A82 file not found, 6A83 record not found, 6A86 bad P1/P2")
    func filesAndParameters() throws {
        var card = try selectedCard()
        #expect(card.send("00A4040005A000000099").status == .fileNotFound)
        #expect(card.send("00A40000020002").status == .fileNotFound)
        #expect(card.send("00B0890000").status == .fileNotFound)
        #expect(card.send("00B201C400").status == .recordNotFound)
        #expect(card.send("805C000304").status == .incorrectP1P2)
        #expect(card.send("00B2000C00").status == .incorrectP1P2)
        #expect(card.send("00B0952000").status == .incorrectP1P2)  // offset 32 of a 30-byte file
    }

    @Test("6A88 key not found: an algorithm id with no strategy")
    func keyNotFound() throws {
        var card = try selectedCard(algorithmID: 0x07)
        #expect(card.send("805000020B010000100000112233445510").status == .keyNotFound)
    }

    @Test("6D00 bad INS, 6E00 bad CLA")
    func instructionAndClass() throws {
        var card = try selectedCard()
        #expect(card.send("00CA9F7F00").status == .instructionNotSupported)
        #expect(card.send("105C000204").status == .classNotSupported)
        #expect(card.send("005C000204").status == .classNotSupported)
    }

    @Test("9302 bad MAC2 on CREDIT; the balance, counter and log are unchanged")
    func badMAC() throws {
        var card = try selectedCard()
        #expect(card.send("805000020B010000100000112233445510").status == .success)
        let before = card.purses
        #expect(card.send("805200000B20111221214822FDD12AF004").status == .macInvalid)
        #expect(card.purses == before)
        // The session is gone: the right MAC2 now comes too late.
        #expect(card.send("805200000B20111221214822FDD12AF104").status == .conditionsNotSatisfied)
    }

    @Test("9401 insufficient balance, 6985 load above the maximum balance")
    func amounts() throws {
        var card = try selectedCard()
        #expect(card.send("805001020B01000000010011223344550F").status == .insufficientBalance)
        #expect(card.send("805000020B01FFFFFFFF00112233445510").status == .conditionsNotSatisfied)
    }

    @Test("9402 counter at maximum, 9403 key index, 9406 no proof")
    func countersKeysProof() throws {
        var card = try selectedCard()
        card.purses.purse.onlineCounter = .max
        #expect(card.send("805000020B010000100000112233445510").status == .counterAtMaximum)
        #expect(card.send("805000020B020000100000112233445510").status == .keyIndexNotSupported)
        #expect(card.send("805A00020200 0008").status == .macNotAvailable)
    }
}

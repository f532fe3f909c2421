import CardCrypto
import Foundation
import PropertyBased
import Testing

@testable import SmartCard

/// INTERNAL AUTHENTICATE on the software card and the terminal's offline check of a card
/// (issue 19, part 5; docs/software-card.md).
@Suite("Internal authentication: the card command, the PSAM's check, cards without the key")
struct InternalAuthenticateTests {
    static let asn = "00003100000000000001"
    static let noon = try! TransactionDateTime(digits: "20261129120000")
    let keyring = IssuerKeyring.testKeys()

    func makeCard(keyring: IssuerKeyring? = nil, asn: String = Self.asn) throws -> SoftwareCard {
        try SoftwareCard.personalise(
            asn: Fixture.bytes(asn), holder: Fixture.holder, keyring: keyring ?? self.keyring,
            challengeSource: .seeded(state: 3))
    }

    func terminal(authenticating: Bool = true) throws -> PurchaseTerminal {
        PurchaseTerminal(
            psam: PSAM(
                terminalID: try TerminalID(hex: "330900000001"), serialNumber: [0x33, 0x09, 0, 0, 0, 0, 0, 0x01],
                masterPurchaseKey: try keyring.masterKey(.purchase, version: 1),
                masterAuthenticationKey: authenticating
                    ? try keyring.masterKey(.internalAuthentication, version: 1) : nil))
    }

    /// A card whose purse holds `fen`, loaded through the host's MAC2.
    func loaded(_ card: SoftwareCard, fen: UInt32, keyring: IssuerKeyring? = nil) throws -> SoftwareCard {
        var card = card
        let ring = keyring ?? self.keyring
        _ = card.send(Fixture.selectPurseByAID)
        let terminal = try TerminalID(hex: "330900000001")
        let initialize = card.send(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + BigEndian.bytes(fen) + terminal.bytes + [0x10])
        let data = initialize.data
        let request = LoadAuthorizationRequest(
            asn: try ApplicationSerialNumber(bytes: card.asn), keyVersion: data[6], algorithmID: data[7],
            random: UInt32(bigEndian: data[8..<12]), onlineCounter: 0, balanceBeforeFen: 0, amountFen: Int64(fen),
            type: .purseLoad, terminal: terminal, dateTime: Self.noon, mac1: try MAC4(bytes: data[12..<16]))
        let mac2 = try ring.authorizeLoad(request)
        #expect(card.send([0x80, 0x52, 0x00, 0x00, 0x0B] + Self.noon.bcd + mac2.bytes + [0x04]).status == .success)
        return card
    }

    // MARK: the card

    @Test("the documented vector over the APDU: 00 88 00 00 08 1122334455667788 → 3326813C8789F401 9000")
    func vector() throws {
        var card = try makeCard()
        for apdu in [
            "00880000081122334455667788" + "08", "00880000081122334455667788" + "00", "00880000081122334455667788",
            "00880001081122334455667788" + "08",
        ] {
            let answer = card.send(String(apdu))
            #expect(answer.status == .success, "\(apdu)")
            #expect(hexString(answer.data) == "3326813C8789F401", "\(apdu)")
        }
    }

    @Test("status words: 6A86 P1, 6A88 unknown key reference, 6700 length, 6A88 no key, 6E00 CLA, in that order")
    func statusWords() throws {
        var card = try makeCard()
        #expect(card.send("00880100081122334455667788").status == .incorrectP1P2)
        #expect(card.send("008801000411223344").status == .incorrectP1P2, "P1 before the length")
        for p2 in ["02", "81", "FF"] {
            #expect(card.send("008800\(p2)081122334455667788").status == .keyNotFound, "P2 \(p2)")
        }
        #expect(card.send("008800020411223344").status == .keyNotFound, "P2 before the length")
        for data in ["", "11", "11223344", "112233445566778899", String(repeating: "AB", count: 255)] {
            let apdu = data.isEmpty ? "0088000008" : "00880000\(Hex.encode([UInt8(data.count / 2)]))\(data)"
            #expect(card.send(apdu).status == .wrongLength, "\(data.count / 2) bytes")
        }
        #expect(card.send("0088000000").status == .wrongLength, "case 2: Le only")
        #expect(card.send("00880000").status == .wrongLength, "case 1")
        for cla in ["80", "84", "04"] {
            #expect(card.send("\(cla)880000081122334455667788").status == .classNotSupported, "CLA \(cla)")
        }
        var old = try Fixture.vectorCard()
        #expect(old.send("00880000081122334455667788").status == .keyNotFound, "a card without DIAK")
        #expect(old.send("008800000411223344").status == .wrongLength, "the length before the key")
        var unknownAlgorithm = card
        unknownAlgorithm.algorithmID = 0x7F
        #expect(unknownAlgorithm.send("00880000081122334455667788").status == .keyNotFound)
    }

    @Test("a card-level key: any selection or none, a blocked purse too; it changes nothing on the card")
    func cardLevel() throws {
        var card = try loaded(makeCard(), fen: 1000)
        card.reset()
        let before = card
        #expect(card.send("00880000081122334455667788").status == .success, "nothing selected")
        #expect(card == before, "no state change")
        _ = card.send("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
        #expect(card.send("00880000081122334455667788").status == .success, "the social-security DDF")
        card.purses.lock = .permanent
        #expect(card.send("00880000081122334455667788").status == .success, "a permanently blocked purse")
        #expect(card.balance() == 1000)
    }

    @Test("cards and personalisation files without DIAK still load; their cards answer 6A88")
    func withoutKey() throws {
        // A card file of before issue 19: no `internalAuthentication` among its keys.
        let current = try makeCard()
        #expect(current.keys.internalAuthentication != nil)
        #expect(String(describing: current.keys) == "CardKeys(6 keys, redacted)")
        let text = String(decoding: try current.encoded(), as: UTF8.self)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var cardJSON = try #require(json["card"] as? [String: Any])
        var keys = try #require(cardJSON["keys"] as? [String: Any])
        #expect(keys["internalAuthentication"] != nil)
        keys["internalAuthentication"] = nil
        cardJSON["keys"] = keys
        var oldJSON = json
        oldJSON["card"] = cardJSON
        var old = try SoftwareCard.decode(JSONSerialization.data(withJSONObject: oldJSON))
        #expect(old.keys.internalAuthentication == nil)
        #expect(!String(decoding: try old.encoded(), as: UTF8.self).contains("internalAuthentication"))
        #expect(try SoftwareCard.decode(old.encoded()) == old)
        #expect(old.send("00880000081122334455667788").status == .keyNotFound)
        #expect(try SoftwareCard.decode(current.encoded()) == current)

        // A personalisation file of before issue 19: the factory still makes the card.
        let transport = try keyring.masterKey(.transport, version: 1)
        var chip = try CardPersonalisation(asn: Self.asn, holder: Fixture.holder, keyring: keyring)
        #expect(Set(chip.keys.keys) == Set(MasterKeyType.allCases.filter { $0 != .transport }.map(\.rawValue)))
        var fromChip = try SoftwareCard(personalisation: chip, transportKey: transport)
        #expect(hexString(fromChip.send("00880000081122334455667788").data) == "3326813C8789F401")
        chip.keys["internalAuthentication"] = nil
        var oldChip = try SoftwareCard(personalisation: chip, transportKey: transport)
        #expect(oldChip.send("00880000081122334455667788").status == .keyNotFound)
        chip.keys["tac"] = nil
        #expect(throws: SoftwareCardError.crypto(.invalidValue(field: "keys", reason: "tac missing"))) {
            try SoftwareCard(personalisation: chip, transportKey: transport)
        }
        // A keyring without MIAK cannot personalise: no card is made with a key nobody holds.
        let withoutMIAK = try IssuerKeyring(
            keys: Dictionary(
                uniqueKeysWithValues: MasterKeyType.allCases.filter { $0 != .internalAuthentication }.map {
                    (MasterKeyID($0, version: 1), IssuerKeyring.testKey)
                }))
        #expect(throws: SoftwareCardError.crypto(.unknownKey(type: .internalAuthentication, version: 1))) {
            try SoftwareCard.personalise(asn: Fixture.bytes(Self.asn), holder: Fixture.holder, keyring: withoutMIAK)
        }
    }

    // MARK: the terminal

    @Test("authenticate: the right key is accepted, another keyring's card and a card without the key are refused")
    func terminalAuthenticate() throws {
        var terminal = try terminal()
        var genuine = try makeCard()
        let result = try terminal.authenticate(on: &genuine)
        #expect(result.asn == Fixture.bytes(Self.asn) && result.algorithmID == 0x00)
        let fixed = try terminal.authenticate(challenge: Fixture.bytes("1122334455667788"), on: &genuine)
        #expect(fixed == result)

        var foreign = try makeCard(keyring: IssuerKeyring.generate())
        #expect(throws: PurchaseTerminal.Failure.notAuthentic(statusWord: nil)) {
            try terminal.authenticate(on: &foreign)
        }
        var old = try Fixture.vectorCard()
        #expect(throws: PurchaseTerminal.Failure.notAuthentic(statusWord: 0x6A88)) {
            try terminal.authenticate(on: &old)
        }
        var withoutMIAK = try self.terminal(authenticating: false)
        #expect(throws: PurchaseTerminal.Failure.authenticationUnavailable) {
            try withoutMIAK.authenticate(on: &genuine)
        }
        #expect(throws: PurchaseTerminal.Failure.malformedResponse(command: "INTERNAL AUTHENTICATE challenge")) {
            try terminal.authenticate(challenge: [1, 2, 3], on: &genuine)
        }
    }

    @Test("a purchase on a card that fails authentication is refused before INITIALIZE: nothing is debited")
    func purchaseRefused() throws {
        var terminal = try terminal()
        let otherIssuer = try IssuerKeyring.generate()
        var foreign = try loaded(makeCard(keyring: otherIssuer), fen: 5000, keyring: otherIssuer)
        let before = foreign.purses
        #expect(throws: PurchaseTerminal.Failure.notAuthentic(statusWord: nil)) {
            try terminal.purchase(amountFen: 100, dateTime: Self.noon, on: &foreign)
        }
        #expect(foreign.purses == before, "balance, counter and log untouched")
        #expect(terminal.psam.nextSerial == 1, "no MAC1 was asked for")

        // The same card and terminal without MIAK in the PSAM: the check is skipped (docs: migration).
        var lenient = try self.terminal(authenticating: false)
        var old = try loaded(makeCard(), fen: 5000)
        old.keys.internalAuthentication = nil
        #expect(try lenient.purchase(amountFen: 100, dateTime: Self.noon, on: &old).balanceAfterFen == 4900)
        #expect(throws: PurchaseTerminal.Failure.notAuthentic(statusWord: 0x6A88)) {
            try terminal.purchase(amountFen: 100, dateTime: Self.noon, on: &old)
        }
        #expect(old.balance() == 4900)

        var genuine = try loaded(makeCard(), fen: 5000)
        let record = try terminal.purchase(amountFen: 250, dateTime: Self.noon, on: &genuine)
        #expect(record.balanceAfterFen == 4750 && genuine.balance() == 4750)
    }

    @Test("property: for random challenges and cards the PSAM accepts the card's answer and refuses any other")
    func randomChallenges() async throws {
        let terminal = try terminal()
        await propertyCheck(
            count: 200, input: Gen.uint8().array(of: 8...8), Gen.uint64(), Gen.int(in: 0...63)
        ) { challenge, serial, bit in
            let asnHex =
                "0000" + Hex.encode(BigEndian.bytes(UInt32(truncatingIfNeeded: serial >> 32)))
                + Hex.encode(BigEndian.bytes(UInt32(truncatingIfNeeded: serial)))
            guard var card = try? self.makeCard(asn: asnHex),
                let asn = try? ApplicationSerialNumber(hex: asnHex)
            else {
                Issue.record("cannot personalise \(asnHex)")
                return
            }
            let answer = card.send([0x00, 0x88, 0x00, 0x00, 0x08] + challenge + [0x08])
            #expect(answer.status == .success && answer.data.count == 8)
            #expect(
                (try? terminal.psam.verifyCardAuthentication(asn: asn, challenge: challenge, response: answer.data))
                    != nil)
            var altered = answer.data
            altered[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: CardCryptoError.macMismatch(what: "internal authentication")) {
                try terminal.psam.verifyCardAuthentication(asn: asn, challenge: challenge, response: altered)
            }
            var otherChallenge = challenge
            otherChallenge[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: CardCryptoError.macMismatch(what: "internal authentication")) {
                try terminal.psam.verifyCardAuthentication(asn: asn, challenge: otherChallenge, response: answer.data)
            }
        }
    }
}

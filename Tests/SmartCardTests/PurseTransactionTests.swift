import CardCrypto
import Foundation
import Testing
@testable import SmartCard

/// Selection, balance, load and purchase, reproducing the worked vectors of CARDTECH.md §6.
@Suite("Software card: selection, load and purchase")
struct PurseTransactionTests {
    @Test("SELECT by AID and by FID answer the purse FCI; the PSE and the social-security DDF are selectable")
    func select() throws {
        var card = try Fixture.vectorCard()
        let byAID = card.send(Fixture.selectPurseByAID)
        #expect(byAID.status == .success)
        #expect(
            Array(byAID.data.prefix(13)) == Fixture.bytes("6F") + [byAID.data[1]]
                + Fixture.bytes("8409A00000000386980701"))
        #expect(card.session.selected == .purse)
        card.reset()
        let byFID = card.send(Fixture.selectPurseByFID)
        #expect(byFID == byAID)
        #expect(card.send("00A404000E315041592E5359532E4444463031").status == .success)
        #expect(card.session.selected == .paymentSystemEnvironment)
        let directory = card.send("00B2010C00")
        #expect(directory.status == .success)
        #expect(hexString(directory.data).contains("A00000000386980701"))
        #expect(card.send("00A404000F7378312E73682EC9E7BBE1B1A3D5CF").status == .success)
        #expect(card.session.selected == .socialSecurity)
    }

    @Test("GET BALANCE of EP and (after VERIFY) ED")
    func getBalance() throws {
        var card = try Fixture.vectorCard()
        _ = card.send(Fixture.selectPurseByAID)
        #expect(card.send("805C000204") == ResponseAPDU(data: [0, 0, 0, 0]))
        #expect(card.send("805C000104").status == .securityStatusNotSatisfied)
        #expect(card.send("0020000003123456").status == .success)
        #expect(card.send("805C000104") == ResponseAPDU(data: [0, 0, 0, 0]))
    }

    @Test("EP load: MAC1 A5638AA0 checked by the host, MAC2 FDD12AF1, TAC 422E9358 (§6)")
    func loadReproducesVectors() throws {
        var card = try Fixture.vectorCard()
        _ = card.send(Fixture.selectPurseByAID)
        let initialize = card.send("805000020B010000100000112233445510")
        #expect(initialize.status == .success)
        #expect(hexString(initialize.data) == "00000000" + "0000" + "01" + "00" + "11223344" + "A5638AA0")

        // Host side, with CardCrypto only.
        let purse = TripleDESPurse()
        let terminal = try TerminalID(hex: Fixture.terminal)
        let dateTime = try TransactionDateTime(digits: "20111221214822")
        let session = try purse.loadSessionKey(
            SecretKey(hex: Fixture.sessionKeyCardKey), random: 0x1122_3344, onlineCounter: 0)
        let mac1 = try purse.loadMAC1(
            sessionKey: session, balanceBefore: 0, amount: 0x1000, type: .purseLoad, terminal: terminal)
        #expect(mac1.bytes == Array(initialize.data[12..<16]))
        let mac2 = try purse.loadMAC2(
            sessionKey: session, amount: 0x1000, type: .purseLoad, terminal: terminal, dateTime: dateTime)
        #expect(mac2.description == "FDD12AF1")

        let credit = card.send("805200000B" + "20111221214822" + mac2.description + "04")
        #expect(credit == ResponseAPDU(data: Fixture.bytes("422E9358")))
        let tacKey = try purse.tacKey(SecretKey(hex: Fixture.tacCardKey), using: .current)
        let tac = try purse.loadTAC(
            tacKey: tacKey, balanceAfter: 0x1000, onlineCounter: 0, amount: 0x1000, type: .purseLoad,
            terminal: terminal, dateTime: dateTime)
        #expect(tac.bytes == credit.data)
        #expect(card.balance() == 0x1000)
        #expect(card.purses.purse.onlineCounter == 1)
        #expect(
            card.send("00B201C400")
                == ResponseAPDU(data: Fixture.bytes("0000000000000010000200112233445520111221214822")))
        #expect(card.send("805A0002020000 08") == ResponseAPDU(data: Fixture.bytes("A5638AA0422E9358")))
    }

    @Test("ED load after VERIFY: MAC1 2988AE5A, MAC2 3A845BF0 (§6)")
    func depositLoadReproducesVectors() throws {
        var card = try Fixture.vectorCard()
        _ = card.send(Fixture.selectPurseByAID)
        #expect(card.send("805000010B0100001000001122334455 10").status == .securityStatusNotSatisfied)
        #expect(card.send("0020000003123456").status == .success)
        let initialize = card.send("805000010B010000100000112233445510")
        #expect(hexString(initialize.data.suffix(4)) == "2988AE5A")
        let credit = card.send("805200000B201112212148223A845BF004")
        #expect(credit.status == .success)
        #expect(card.balance(.deposit) == 0x1000)
        #expect(card.balance(.purse) == 0)
    }

    @Test("EP purchase: PSAM MAC1 F15CAB75, card MAC2 56988A13 and TAC B3A0D49C (§6)")
    func purchaseReproducesVectors() throws {
        var card = try Fixture.vectorCard()
        card.purses.purse.balance = 0x1000
        _ = card.send(Fixture.selectPurseByFID)
        let initialize = card.send("805001020B01000010000011223344550F")
        #expect(hexString(initialize.data) == "00001000" + "0000" + "000000" + "01" + "00" + "11223344")
        #expect(initialize.status == .success)

        // PSAM side: SESPK from DPK, the card's random and counter, and the PSAM's TSN 00000001.
        let purse = TripleDESPurse()
        let terminal = try TerminalID(hex: Fixture.terminal)
        let dateTime = try TransactionDateTime(digits: "20120229135100")
        let session = try purse.purchaseSessionKey(
            SecretKey(hex: Fixture.sessionKeyCardKey), random: 0x1122_3344, offlineCounter: 0, terminalSerial: 1)
        let mac1 = try purse.purchaseMAC1(
            sessionKey: session, amount: 0x1000, type: .pursePurchase, terminal: terminal, dateTime: dateTime)
        #expect(mac1.description == "F15CAB75")

        let debit = card.send("805401000F" + "00000001" + "20120229135100" + mac1.description + "08")
        #expect(debit == ResponseAPDU(data: Fixture.bytes("B3A0D49C56988A13")))
        let mac2 = try purse.purchaseMAC2(sessionKey: session, amount: 0x1000)
        #expect(mac2.bytes == Array(debit.data[4..<8]))
        #expect(card.balance() == 0)
        #expect(card.purses.purse.offlineCounter == 1)
        #expect(card.send("805A0006020000 08") == ResponseAPDU(data: Fixture.bytes("56988A13B3A0D49C")))
    }

    @Test("a personalised card: host authorises the load, PSAM makes MAC1, host verifies both TACs")
    func personalisedCardWithHostAndPSAM() throws {
        let keyring = IssuerKeyring.testKeys()
        let asn = try ApplicationSerialNumber(hex: "00003100000000000001")
        var card = try SoftwareCard.personalise(
            asn: asn.bytes, holder: Fixture.holder, keyring: keyring, keyVersion: 1,
            challengeSource: .seeded(state: 42))
        // §6 "Diversify": MK 0123…3210, D 3100000000000001.
        #expect(card.keys.load == (try SecretKey(hex: "A4686EDBEBDA37A846EA1267D54E118D")))
        _ = card.send(Fixture.selectPurseByAID)
        let terminal = try TerminalID(hex: Fixture.terminal)
        let loadTime = try TransactionDateTime(digits: "20260101120000")
        let initialize = card.send("805000020B01000003E800112233445510")
        #expect(initialize.status == .success)
        let data = initialize.data
        let request = LoadAuthorizationRequest(
            asn: asn, keyVersion: data[6], algorithmID: data[7], random: UInt32(bigEndian: data[8..<12]),
            onlineCounter: 0, balanceBeforeFen: 0, amountFen: 1000, type: .purseLoad, terminal: terminal,
            dateTime: loadTime, mac1: try MAC4(bytes: data[12..<16]))
        let mac2 = try keyring.authorizeLoad(request)
        let credit = card.send("805200000B" + loadTime.description + mac2.description + "04")
        #expect(credit.status == .success)
        try keyring.verifyLoadTAC(MAC4(bytes: credit.data), for: request)
        #expect(card.balance() == 1000)

        let purchase = card.send("805001020B01000000C80011223344550F")
        #expect(purchase.status == .success)
        let purchaseTime = try TransactionDateTime(digits: "20260101120500")
        let psamRequest = PSAMCrypto.PurchaseMAC1Request(
            random: UInt32(bigEndian: purchase.data[11..<15]), offlineCounter: 0, amount: 200, type: .pursePurchase,
            dateTime: purchaseTime, keyVersion: 1, algorithmID: 0, factorsLowestFirst: [asn.diversificationFactor])
        let authorization = try PSAMCrypto.purchaseMAC1(
            masterPurchaseKey: keyring.masterKey(.purchase, version: 1), request: psamRequest, terminal: terminal,
            terminalSerial: 7)
        let debit = card.send("805401000F00000007" + purchaseTime.description + authorization.mac1.description + "08")
        #expect(debit.status == .success)
        try PSAMCrypto.verifyPurchaseMAC2(
            MAC4(bytes: debit.data[4..<8]), amount: 200, authorization: authorization, algorithm: TripleDESPurse())
        try keyring.verifyPurchaseTAC(
            PurchaseTACRecord(
                amountFen: 200, type: .pursePurchase, terminal: terminal, terminalSerial: 7, dateTime: purchaseTime,
                keyVersion: 1, algorithmID: 0, tac: MAC4(bytes: debit.data[0..<4])),
            asn: asn)
        #expect(card.balance() == 800)
    }

    @Test("composite purchase (type 09): the CAPP record and the debit commit together")
    func compositePurchase() throws {
        var card = try Fixture.vectorCard()
        card.purses.purse.balance = 0x1000
        _ = card.send(Fixture.selectPurseByAID)
        #expect(card.send("805003020B01000001000011223344550F").status == .success)
        #expect(card.send("80DC01D404AABBCCDD").status == .success)
        #expect(card.purses.cappRecords.isEmpty)
        let purse = TripleDESPurse()
        let dateTime = try TransactionDateTime(digits: "20120229135100")
        let session = try purse.purchaseSessionKey(
            SecretKey(hex: Fixture.sessionKeyCardKey), random: 0x1122_3344, offlineCounter: 0, terminalSerial: 1)
        let mac1 = try purse.purchaseMAC1(
            sessionKey: session, amount: 0x100, type: .compositePurchase, terminal: TerminalID(hex: Fixture.terminal),
            dateTime: dateTime)
        // A wrong MAC1 commits neither the record nor the debit.
        #expect(card.send("805401000F0000000120120229135100000000 0008").status == .macInvalid)
        #expect(card.purses.cappRecords.isEmpty && card.balance() == 0x1000)
        #expect(card.send("805003020B01000001000011223344550F").status == .success)
        #expect(card.send("80DC01D404AABBCCDD").status == .success)
        #expect(card.send("805401000F0000000120120229135100" + mac1.description + "08").status == .success)
        #expect(card.purses.cappRecords[1] == [0xAA, 0xBB, 0xCC, 0xDD])
        #expect(card.balance() == 0x0F00)
        #expect(card.send("00B201D400") == ResponseAPDU(data: [0xAA, 0xBB, 0xCC, 0xDD]))
        #expect(card.purses.log.first?.type == 0x09)
    }

    @Test("the log keeps the 10 newest records, newest first")
    func cyclicLog() throws {
        var card = try Fixture.vectorCard()
        card.purses.purse.balance = 100
        _ = card.send(Fixture.selectPurseByAID)
        let purse = TripleDESPurse()
        let dateTime = try TransactionDateTime(digits: "20120229135100")
        for counter in 0..<12 {
            #expect(card.send("805001020B01000000010011223344550F").status == .success)
            let session = try purse.purchaseSessionKey(
                SecretKey(hex: Fixture.sessionKeyCardKey), random: 0x1122_3344, offlineCounter: UInt16(counter),
                terminalSerial: 1)
            let mac1 = try purse.purchaseMAC1(
                sessionKey: session, amount: 1, type: .pursePurchase, terminal: TerminalID(hex: Fixture.terminal),
                dateTime: dateTime)
            #expect(card.send("805401000F0000000120120229135100" + mac1.description + "08").status == .success)
        }
        #expect(card.balance() == 88)
        #expect(card.purses.log.count == 10)
        #expect(Array(card.send("00B201C400").data.prefix(2)) == [0x00, 0x0B])
        #expect(Array(card.send("00B20AC400").data.prefix(2)) == [0x00, 0x02])
        #expect(card.send("00B20BC400").status == .recordNotFound)
    }

    @Test("social-security files: EF05 open, EF06 only after VERIFY")
    func personalData() throws {
        var card = try Fixture.vectorCard()
        _ = card.send("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")
        let ef05 = card.send("00B0850000")
        #expect(ef05.status == .success)
        #expect(hexString(ef05.data).contains(hexString(Array("A12345678".utf8))))
        #expect(card.send("00B0860000").status == .securityStatusNotSatisfied)
        _ = card.send("0020000003123456")
        let ef06 = card.send("00B0860000")
        #expect(ef06.status == .success)
        #expect(hexString(ef06.data).contains(hexString(Array("张三".utf8))))
        #expect(card.send("00B0860204").data.count == 4)
    }
}

func hexString(_ bytes: some Sequence<UInt8>) -> String { Hex.encode(bytes) }

extension UInt32 {
    init(bigEndian bytes: ArraySlice<UInt8>) { self = bytes.reduce(0) { $0 << 8 | UInt32($1) } }
}

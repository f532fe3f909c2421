import CardCrypto
import Testing

/// CARDTECH.md §6, every row, through the typed purse functions (so that the byte layouts of
/// `PurseInput` are checked against the handout's inputs too), and the SM4 diversification of §7.
@Suite("PBOC worked vectors (CARDTECH.md §6, §7)")
struct PBOCVectorTests {
    let purse = TripleDESPurse()
    let terminal: TerminalID
    let cardKey: SecretKey
    let sessionLoadKey: SecretKey
    let sessionPurchaseKey: SecretKey
    let tacKey: SecretKey

    init() throws {
        terminal = try TerminalID(hex: "001122334455")
        cardKey = try SecretKey(hex: "11223344556677888877665544332211")
        sessionLoadKey = try purse.loadSessionKey(cardKey, random: 0x1122_3344, onlineCounter: 0)
        sessionPurchaseKey = try purse.purchaseSessionKey(
            cardKey, random: 0x1122_3344, offlineCounter: 0, terminalSerial: 0x0000_0001)
        tacKey = try purse.tacKey(SecretKey(hex: "00112233445566778899AABBCCDDEEFF"), using: .current)
    }

    @Test("SESLK: 3DES(DLK, random ‖ online counter ‖ 8000)")
    func loadSessionKey() throws {
        #expect(Hex.encode(PurseInput.loadSessionKey(random: 0x1122_3344, onlineCounter: 0)) == "1122334400008000")
        #expect(keyHex(sessionLoadKey) == "9B1D924E05595603")
    }

    @Test("SESPK: 3DES(DPK, random ‖ offline counter ‖ TSN[2..3])")
    func purchaseSessionKey() throws {
        let input = PurseInput.purchaseSessionKey(random: 0x1122_3344, offlineCounter: 0, terminalSerial: 0xABCD_0001)
        #expect(Hex.encode(input) == "1122334400000001", "only the rightmost 2 bytes of the TSN")
        #expect(keyHex(sessionPurchaseKey) == "003238ABC57659DD")
    }

    @Test("TAC key: DTK left XOR right")
    func tacKeyFold() {
        #expect(keyHex(tacKey) == "8888888888888888")
    }

    @Test("load MAC1, type 01 (ED) and 02 (EP)", arguments: [(UInt8(0x01), "2988AE5A"), (0x02, "A5638AA0")])
    func loadMAC1(type: UInt8, expected: String) throws {
        let input = PurseInput.loadMAC1(
            balanceBefore: 0, amount: 0x1000, type: TransactionType(rawValue: type), terminal: terminal)
        #expect(Hex.encode(input) == "0000000000001000\(Hex.encode([type]))001122334455")
        let mac = try purse.loadMAC1(
            sessionKey: sessionLoadKey, balanceBefore: 0, amount: 0x1000, type: TransactionType(rawValue: type),
            terminal: terminal)
        #expect(mac.description == expected)
    }

    @Test("load MAC2, type 01 and 02", arguments: [(UInt8(0x01), "3A845BF0"), (0x02, "FDD12AF1")])
    func loadMAC2(type: UInt8, expected: String) throws {
        let dateTime = try TransactionDateTime(digits: "20111221214822")
        let input = PurseInput.loadMAC2(
            amount: 0x1000, type: TransactionType(rawValue: type), terminal: terminal, dateTime: dateTime)
        #expect(Hex.encode(input) == "00001000\(Hex.encode([type]))00112233445520111221214822")
        let mac = try purse.loadMAC2(
            sessionKey: sessionLoadKey, amount: 0x1000, type: TransactionType(rawValue: type), terminal: terminal,
            dateTime: dateTime)
        #expect(mac.description == expected)
    }

    @Test("load TAC, type 02, with the online counter before the increment")
    func loadTAC() throws {
        let dateTime = try TransactionDateTime(digits: "20111221214822")
        let input = PurseInput.loadTAC(
            balanceAfter: 0x1000, onlineCounter: 0, amount: 0x1000, type: .purseLoad, terminal: terminal,
            dateTime: dateTime)
        #expect(Hex.encode(input) == "000010000000000010000200112233445520111221214822")
        let tac = try purse.loadTAC(
            tacKey: tacKey, balanceAfter: 0x1000, onlineCounter: 0, amount: 0x1000, type: .purseLoad,
            terminal: terminal, dateTime: dateTime)
        #expect(tac.description == "422E9358")
    }

    @Test("purchase MAC1, MAC2 and TAC")
    func purchase() throws {
        let dateTime = try TransactionDateTime(digits: "20120229135100")
        #expect(
            Hex.encode(
                PurseInput.purchaseMAC1(amount: 0x1000, type: .pursePurchase, terminal: terminal, dateTime: dateTime))
                == "000010000600112233445520120229135100")
        let mac1 = try purse.purchaseMAC1(
            sessionKey: sessionPurchaseKey, amount: 0x1000, type: .pursePurchase, terminal: terminal, dateTime: dateTime
        )
        #expect(mac1.description == "F15CAB75")
        #expect(Hex.encode(PurseInput.purchaseMAC2(amount: 0x1000)) == "00001000")
        #expect(try purse.purchaseMAC2(sessionKey: sessionPurchaseKey, amount: 0x1000).description == "56988A13")
        let tacInput = PurseInput.purchaseTAC(
            amount: 0x1000, type: .pursePurchase, terminal: terminal, terminalSerial: 1, dateTime: dateTime)
        #expect(Hex.encode(tacInput) == "00001000060011223344550000000120120229135100")
        let tac = try purse.purchaseTAC(
            tacKey: tacKey, amount: 0x1000, type: .pursePurchase, terminal: terminal, terminalSerial: 1,
            dateTime: dateTime)
        #expect(tac.description == "B3A0D49C")
    }

    @Test("diversification: one level and two levels; the ASN's rightmost 8 bytes are the factor")
    func diversification() throws {
        let master = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let factor = try hex("3100000000000001")
        #expect(
            keyHex(try purse.diversify(master, factor: factor, using: .current)) == "A4686EDBEBDA37A846EA1267D54E118D")
        let asn = try ApplicationSerialNumber(hex: "FFFF3100000000000001")
        #expect(asn.diversificationFactor == factor)
        #expect(keyHex(try purse.cardKey(masterKey: master, asn: asn)) == "A4686EDBEBDA37A846EA1267D54E118D")
        let province = try hex("1234FFFFFFFFFFFF")
        let k1 = try purse.diversify(master, factor: province, using: .current)
        #expect(keyHex(k1) == "4F9ABD367CCED1A7ABB77A0D487A7D0B")
        #expect(keyHex(try purse.diversify(k1, factor: factor, using: .current)) == "D340BC58E4192C08D87E15F440FC996A")
        #expect(
            keyHex(try purse.cardKey(masterKey: master, asn: asn, issuerFactors: [province]))
                == "D340BC58E4192C08D87E15F440FC996A")
    }

    @Test("line-protection MAC: retail MAC, IV = challenge ‖ 00000000, padding 80")
    func lineProtection() throws {
        let key = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let data = try hex("04D695000820250101")
        let mac = try CardMAC.lineProtection(key: key, challenge: hex("A1B2C3D4"), data: data)
        #expect(mac.description == "EB8D4D01")
        let full = try CardMAC.retail(key: key, data: data, initialVector: hex("A1B2C3D400000000"))
        #expect(Array(full.prefix(4)) == mac.bytes, "a 4-byte challenge is the 8-byte IV challenge ‖ 00000000")
    }

    @Test("SM4 diversification: SM4(MK, D ‖ ~D) (§7)")
    func sm4Diversification() throws {
        let master = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let key = try SM4Purse.provisional.diversify(master, factor: hex("3100000000000001"), using: .current)
        #expect(keyHex(key) == "87A063796DEF34C139141AAF62AA167D")
    }
}

func keyHex(_ key: SecretKey) -> String { key.withUnsafeKeyBytes { Hex.encode($0) } }

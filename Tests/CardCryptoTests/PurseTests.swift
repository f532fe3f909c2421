import CardCrypto
import Testing

/// Host, PSAM and card computations agreeing with each other, the SM4 strategies, and every bad
/// length or value answered with a typed error.
///
/// The "pinned" values below are regression pins computed with an independent implementation
/// (Python `cryptography`, 2026-11-29), not external vectors.
@Suite("Purse: host, PSAM, strategies and invalid input")
struct PurseTests {
    let keyring = IssuerKeyring.testKeys()
    let asn: ApplicationSerialNumber
    let terminal: TerminalID
    let dateTime: TransactionDateTime

    init() throws {
        asn = try ApplicationSerialNumber(hex: "00003100000000000001")
        terminal = try TerminalID(hex: "001122334455")
        dateTime = try TransactionDateTime(digits: "20111221214822")
    }

    func loadRequest(mac1: MAC4, amountFen: Int64 = 0x1000, balanceFen: Int64 = 0) -> LoadAuthorizationRequest {
        LoadAuthorizationRequest(
            asn: asn, keyVersion: 1, algorithmID: 0x00, random: 0x1122_3344, onlineCounter: 0,
            balanceBeforeFen: balanceFen, amountFen: amountFen, type: .purseLoad, terminal: terminal,
            dateTime: dateTime, mac1: mac1)
    }

    @Test("host: a load MAC1 from the test keyring gives the pinned MAC2; a wrong MAC1 is refused")
    func authorizeLoad() throws {
        let mac1 = try MAC4(hex: "1A231C62")
        let mac2 = try keyring.authorizeLoad(loadRequest(mac1: mac1))
        #expect(mac2.description == "38AFE34D")
        #expect(throws: CardCryptoError.macMismatch(what: "load MAC1")) {
            try keyring.authorizeLoad(loadRequest(mac1: MAC4(hex: "1A231C63")))
        }
        #expect(throws: CardCryptoError.macMismatch(what: "load MAC1")) {
            try keyring.authorizeLoad(loadRequest(mac1: mac1, amountFen: 0x1001))
        }
        try keyring.verifyLoadTAC(MAC4(hex: "1E1B91E0"), for: loadRequest(mac1: mac1))
        #expect(throws: CardCryptoError.macMismatch(what: "load TAC")) {
            try keyring.verifyLoadTAC(MAC4(hex: "1E1B91E1"), for: loadRequest(mac1: mac1))
        }
    }

    @Test("host: the card side and the host agree for a load, through the card's diversified keys")
    func loadRoundTrip() throws {
        let purse = TripleDESPurse()
        let dlk = try keyring.cardKey(.load, version: 1, asn: asn, algorithm: purse)
        for (random, counter, balance, amount) in [
            (UInt32(7), UInt16(0), UInt32(0), UInt32(1)), (0xFFFF_FFFF, 0xFFFE, 5000, 99_999),
        ] {
            let session = try purse.loadSessionKey(dlk, random: random, onlineCounter: counter)
            let mac1 = try purse.loadMAC1(
                sessionKey: session, balanceBefore: balance, amount: amount, type: .purseLoad, terminal: terminal)
            var request = loadRequest(mac1: mac1, amountFen: Int64(amount), balanceFen: Int64(balance))
            request.random = random
            request.onlineCounter = counter
            let mac2 = try keyring.authorizeLoad(request)
            #expect(
                mac2
                    == (try purse.loadMAC2(
                        sessionKey: session, amount: amount, type: .purseLoad, terminal: terminal, dateTime: dateTime)))
        }
    }

    @Test("host: purchase TAC from a record and the card's ASN; any changed field is refused")
    func purchaseTAC() throws {
        let record = PurchaseTACRecord(
            amountFen: 0x1000, type: .pursePurchase, terminal: terminal, terminalSerial: 1,
            dateTime: try TransactionDateTime(digits: "20120229135100"), keyVersion: 1, algorithmID: 0x00,
            tac: try MAC4(hex: "54BC1C86"))
        try keyring.verifyPurchaseTAC(record, asn: asn)
        var changed = [record, record, record, record, record]
        changed[0].amountFen += 1
        changed[1].terminalSerial = 2
        changed[2].type = .compositePurchase
        changed[3].dateTime = try TransactionDateTime(digits: "20120229135101")
        changed[4].tac = try MAC4(hex: "54BC1C87")
        for record in changed {
            #expect(throws: CardCryptoError.macMismatch(what: "purchase TAC")) {
                try keyring.verifyPurchaseTAC(record, asn: asn)
            }
        }
        #expect(throws: CardCryptoError.macMismatch(what: "purchase TAC")) {
            try keyring.verifyPurchaseTAC(record, asn: ApplicationSerialNumber(hex: "00003100000000000002"))
        }
    }

    @Test("host: errors in precedence order: bad amount, unknown algorithm, unknown key version")
    func hostErrors() throws {
        let mac1 = try MAC4(hex: "00000000")
        #expect(throws: CardCryptoError.invalidValue(field: "amount", reason: "must be 0…4294967295 fen")) {
            var request = loadRequest(mac1: mac1, amountFen: -1)
            request.algorithmID = 0x77
            return try keyring.authorizeLoad(request)
        }
        #expect(throws: CardCryptoError.invalidValue(field: "balance before", reason: "must be 0…4294967295 fen")) {
            try keyring.authorizeLoad(loadRequest(mac1: mac1, balanceFen: 0x1_0000_0000))
        }
        #expect(throws: CardCryptoError.invalidValue(field: "balance after", reason: "must be 0…4294967295 fen")) {
            try keyring.verifyLoadTAC(mac1, for: loadRequest(mac1: mac1, amountFen: 2, balanceFen: 0xFFFF_FFFF))
        }
        #expect(throws: CardCryptoError.invalidValue(field: "balance after", reason: "must be 0…4294967295 fen")) {
            try keyring.verifyLoadTAC(
                mac1, for: loadRequest(mac1: mac1, amountFen: 0xFFFF_FFFF, balanceFen: 0xFFFF_FFFF))
        }
        var unknownAlgorithm = loadRequest(mac1: mac1)
        unknownAlgorithm.algorithmID = 0x04
        unknownAlgorithm.keyVersion = 9
        #expect(throws: CardCryptoError.unsupportedAlgorithm(id: 0x04), "SM4 is not in the verified registry") {
            try keyring.authorizeLoad(unknownAlgorithm)
        }
        #expect(throws: CardCryptoError.unknownKey(type: .load, version: 9)) {
            try keyring.authorizeLoad(unknownAlgorithm, algorithms: .withProvisionalSM4)
        }
    }

    @Test("PSAM: MAC1 with two levels, factors sent lowest first; the card's MAC2 checks; the request round-trips")
    func psam() throws {
        let province = try hex("1234FFFFFFFFFFFF")
        let request = PSAMCrypto.PurchaseMAC1Request(
            random: 0x1122_3344, offlineCounter: 0, amount: 0x1000, type: .pursePurchase,
            dateTime: try TransactionDateTime(digits: "20120229135100"), keyVersion: 1, algorithmID: 0,
            factorsLowestFirst: [asn.diversificationFactor, province])
        #expect(request.commandData.count == 0x24)
        #expect(try PSAMCrypto.PurchaseMAC1Request(commandData: request.commandData) == request)
        let authorization = try PSAMCrypto.purchaseMAC1(
            masterPurchaseKey: IssuerKeyring.testKey, request: request, terminal: terminal, terminalSerial: 1)
        #expect(authorization.mac1.description == "5E4BCC2B")
        // The card's side: DPK personalised from the same two levels.
        let purse = TripleDESPurse()
        let dpk = try purse.cardKey(masterKey: IssuerKeyring.testKey, asn: asn, issuerFactors: [province])
        let session = try purse.purchaseSessionKey(dpk, random: 0x1122_3344, offlineCounter: 0, terminalSerial: 1)
        let mac2 = try purse.purchaseMAC2(sessionKey: session, amount: 0x1000)
        #expect(mac2.description == "31C49259")
        try PSAMCrypto.verifyPurchaseMAC2(mac2, amount: 0x1000, authorization: authorization, algorithm: purse)
        #expect(throws: CardCryptoError.macMismatch(what: "purchase MAC2")) {
            try PSAMCrypto.verifyPurchaseMAC2(mac2, amount: 0x1001, authorization: authorization, algorithm: purse)
        }
        // Tear recovery: 80 1A + 80 FA recompute the card's TAC from the master TAC key.
        let tacInput = PurseInput.purchaseTAC(
            amount: 0x1000, type: .pursePurchase, terminal: terminal, terminalSerial: 1, dateTime: request.dateTime)
        let tac = try PSAMCrypto.transactionTAC(
            masterTACKey: IssuerKeyring.testKey, factorsLowestFirst: [asn.diversificationFactor], input: tacInput,
            algorithm: purse)
        #expect(tac.description == "54BC1C86")
    }

    @Test("PSAM: the MAC1 request refuses lengths other than 20 + 8·n and non-BCD dates")
    func psamRequestErrors() throws {
        for count in [0, 19, 20, 27, 29, 20 + 8 * 5] {
            #expect(throws: CardCryptoError.self) {
                try PSAMCrypto.PurchaseMAC1Request(commandData: [UInt8](repeating: 0x20, count: count))
            }
        }
        var data = [UInt8](repeating: 0, count: 28)
        data.replaceSubrange(11..<18, with: [0x20, 0x12, 0x02, 0x30, 0x00, 0x00, 0x00])
        #expect(throws: CardCryptoError.invalidValue(field: "date and time", reason: "no such day")) {
            try PSAMCrypto.PurchaseMAC1Request(commandData: data)
        }
    }

    @Test("SM4 purse: every [U] choice changes the result and is pinned; the provisional preset is named")
    func sm4Strategies() throws {
        let sm4DLK = try SM4Purse.provisional.cardKey(masterKey: IssuerKeyring.testKey, asn: asn)
        let pins: [(SM4Purse.SessionKeyInput, SM4MACOutput, String, String)] = [
            (.padded80, .leftmost4, "36B8459ED7BFC269769365EE208D3F60", "17722854"),
            (.padded80, .foldedLeftmost4, "36B8459ED7BFC269769365EE208D3F60", "67D06295"),
            (.zeroPadded, .leftmost4, "5576887E5ACD920DBA598AC35BCDAF44", "AD3FFBC7"),
            (.zeroPadded, .foldedLeftmost4, "5576887E5ACD920DBA598AC35BCDAF44", "0C5E668C"),
        ]
        for (input, output, sessionHex, macHex) in pins {
            let purse = SM4Purse(sessionKeyInput: input, macOutput: output, tacKeyDerivation: .cardKey)
            let session = try purse.loadSessionKey(sm4DLK, random: 0x1122_3344, onlineCounter: 0)
            #expect(keyHex(session) == sessionHex)
            let mac1 = try purse.loadMAC1(
                sessionKey: session, balanceBefore: 0, amount: 0x1000, type: .purseLoad, terminal: terminal)
            #expect(mac1.description == macHex)
        }
        let dateTime = try TransactionDateTime(digits: "20120229135100")
        for (derivation, tacHex) in [(SM4Purse.TACKeyDerivation.cardKey, "977919C6"), (.foldedTwice, "C6367EE5")] {
            let purse = SM4Purse(sessionKeyInput: .padded80, macOutput: .leftmost4, tacKeyDerivation: derivation)
            let record = PurchaseTACRecord(
                amountFen: 0x1000, type: .pursePurchase, terminal: terminal, terminalSerial: 1, dateTime: dateTime,
                keyVersion: 1, algorithmID: 0x04, tac: try MAC4(hex: tacHex))
            try keyring.verifyPurchaseTAC(record, asn: asn, algorithms: PurseAlgorithmRegistry([purse]))
        }
        #expect(SM4Purse.provisional.sessionKeyInput == .padded80)
        #expect(SM4Purse.provisional.macOutput == .leftmost4)
        #expect(SM4Purse.provisional.tacKeyDerivation == .cardKey)
        #expect(PurseAlgorithmRegistry.verified.algorithmIDs == [0x00])
        #expect(PurseAlgorithmRegistry.withProvisionalSM4.algorithmIDs == [0x00, 0x04])
    }

    @Test("a vendor strategy plugs in under its own algorithm id")
    func customStrategy() throws {
        struct Vendor: PurseAlgorithm {
            let base = SM4Purse(
                algorithmID: 0x41, sessionKeyInput: .zeroPadded, macOutput: .foldedLeftmost4,
                tacKeyDerivation: .foldedTwice)
            var algorithmID: UInt8 { 0x41 }
            var name: String { "vendor SM4" }
            var cipher: BlockAlgorithm { .sm4 }
            func diversify(
                _ key: SecretKey, factor: [UInt8], using engine: CipherEngine
            ) throws(CardCryptoError) -> SecretKey {
                try base.diversify(key, factor: factor, using: engine)
            }
            func sessionKey(
                _ cardKey: SecretKey, input: [UInt8], using engine: CipherEngine
            ) throws(CardCryptoError) -> SecretKey {
                try base.sessionKey(cardKey, input: input, using: engine)
            }
            func tacKey(_ cardTACKey: SecretKey, using engine: CipherEngine) throws(CardCryptoError) -> SecretKey {
                try base.tacKey(cardTACKey, using: engine)
            }
            func mac(key: SecretKey, data: [UInt8], using engine: CipherEngine) throws(CardCryptoError) -> MAC4 {
                try base.mac(key: key, data: data, using: engine)
            }
        }
        let registry = PurseAlgorithmRegistry([TripleDESPurse(), Vendor()])
        #expect(try registry.algorithm(id: 0x41).name == "vendor SM4")
        #expect(throws: CardCryptoError.unsupportedAlgorithm(id: 0x04)) { try registry.algorithm(id: 0x04) }
    }

    @Test("bad key and block lengths are typed errors, never a crash")
    func badLengths() throws {
        let key16 = IssuerKeyring.testKey
        let key8 = try SecretKey(hex: "0123456789ABCDEF")
        for count in [0, 1, 7, 9, 15, 17, 23, 25, 32] {
            #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "a card key", byteCount: count)) {
                try SecretKey(bytes: [UInt8](repeating: 1, count: count))
            }
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "SM4", byteCount: 8)) {
            try BlockAlgorithm.sm4.encrypt([UInt8](repeating: 0, count: 16), key: key8)
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "DES", byteCount: 16)) {
            try BlockAlgorithm.des.encrypt([UInt8](repeating: 0, count: 8), key: key16)
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "3DES", byteCount: 8)) {
            try BlockAlgorithm.tripleDES.decrypt([UInt8](repeating: 0, count: 8), key: key8)
        }
        for algorithm in BlockAlgorithm.allCases {
            let key = algorithm == .des ? key8 : key16
            for count in [0, 1, 7, 9, 15, 16, 17, 32] where count != algorithm.blockByteCount {
                #expect(throws: CardCryptoError.invalidBlockLength(algorithm: algorithm.description, byteCount: count))
                {
                    try algorithm.encrypt([UInt8](repeating: 0, count: count), key: key)
                }
                #expect(throws: CardCryptoError.invalidBlockLength(algorithm: algorithm.description, byteCount: count))
                {
                    try algorithm.decrypt([UInt8](repeating: 0, count: count), key: key)
                }
            }
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "the PBOC MAC", byteCount: 16)) {
            try CardMAC.pboc(key: key16, data: [])
        }
        #expect(throws: CardCryptoError.invalidLength(field: "initial vector", expected: 8, actual: 4)) {
            try CardMAC.pboc(key: key8, data: [], initialVector: [0, 0, 0, 0])
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "the retail MAC", byteCount: 8)) {
            try CardMAC.retail(key: key8, data: [])
        }
        #expect(throws: CardCryptoError.invalidLength(field: "initial vector or challenge", expected: 8, actual: 5)) {
            try CardMAC.lineProtection(key: key16, challenge: [1, 2, 3, 4, 5], data: [])
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "the SM4 MAC", byteCount: 8)) {
            try CardMAC.sm4(key: key8, data: [], output: .leftmost4)
        }
        let purse = TripleDESPurse()
        #expect(throws: CardCryptoError.invalidLength(field: "diversification factor", expected: 8, actual: 10)) {
            try purse.diversify(key16, factor: [UInt8](repeating: 0, count: 10), using: .current)
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "3DES diversification", byteCount: 8)) {
            try purse.diversify(key8, factor: [UInt8](repeating: 0, count: 8), using: .current)
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "3DES TAC key", byteCount: 8)) {
            try purse.tacKey(key8, using: .current)
        }
        #expect(throws: CardCryptoError.invalidLength(field: "session key input", expected: 8, actual: 16)) {
            try SM4Purse.provisional.sessionKey(key16, input: [UInt8](repeating: 0, count: 16), using: .current)
        }
        #expect(throws: CardCryptoError.invalidKeyLength(algorithm: "SM4", byteCount: 8)) {
            try SM4Purse.provisional.diversify(key8, factor: [UInt8](repeating: 0, count: 8), using: .current)
        }
    }

    @Test("fixed-length fields and dates refuse wrong lengths and impossible values")
    func fields() throws {
        #expect(throws: CardCryptoError.invalidLength(field: "terminal id", expected: 6, actual: 5)) {
            try TerminalID(hex: "0011223344")
        }
        #expect(throws: CardCryptoError.invalidLength(field: "application serial number", expected: 10, actual: 8)) {
            try ApplicationSerialNumber(hex: "3100000000000001")
        }
        #expect(throws: CardCryptoError.invalidLength(field: "MAC", expected: 4, actual: 3)) { try MAC4(hex: "ABCDEF") }
        #expect(throws: CardCryptoError.invalidHex(field: "key")) {
            try SecretKey(hex: "0123456789ABCDEFFEDCBA987654321")
        }
        #expect(throws: CardCryptoError.invalidHex(field: "key")) {
            try SecretKey(hex: "0123456789ABCDEFFEDCBA987654321G")
        }
        #expect(try Hex.decode("80 5C:00 02 04") == [0x80, 0x5C, 0x00, 0x02, 0x04])
        for digits in [
            "20110230120000", "20110229120000", "19000229000000", "20111321000000", "20111221240000",
            "20111221236000", "2011122123000", "2011122123000A",
        ] {
            #expect(throws: CardCryptoError.self) { try TransactionDateTime(digits: digits) }
        }
        #expect(try TransactionDateTime(digits: "20000229235959").description == "20000229235959")
        #expect(throws: CardCryptoError.invalidValue(field: "date and time", reason: "not BCD")) {
            try TransactionDateTime(bcd: [0x20, 0x1A, 0x01, 0x01, 0, 0, 0])
        }
        let built = try TransactionDateTime(year: 2012, month: 2, day: 29, hour: 13, minute: 51, second: 0)
        #expect(built == (try TransactionDateTime(digits: "20120229135100")))
        #expect(built.date == [0x20, 0x12, 0x02, 0x29] && built.time == [0x13, 0x51, 0x00])
        #expect(throws: CardCryptoError.self) {
            try TransactionDateTime(year: 10_000, month: 1, day: 1, hour: 0, minute: 0, second: 0)
        }
        #expect(try PurseAmount.cardValue(4_294_967_295) == .max)
        #expect(throws: CardCryptoError.self) { try PurseAmount.cardValue(4_294_967_296) }
    }

    @Test("block round trips and MAC padding: the 80 is added even to aligned data")
    func roundTripsAndPadding() throws {
        let engine = CipherEngine()
        var generator = SystemRandomNumberGenerator()
        for algorithm in BlockAlgorithm.allCases {
            for _ in 0..<50 {
                let keyCount = algorithm.keyByteCounts.randomElement(using: &generator) ?? 16
                let key = try SecretKey(bytes: (0..<keyCount).map { _ in UInt8.random(in: 0...255, using: &generator) })
                let block = (0..<algorithm.blockByteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let cipher = try engine.encrypt(block, algorithm: algorithm, key: key)
                #expect(try engine.decrypt(cipher, algorithm: algorithm, key: key) == block)
                #expect(try algorithm.encrypt(block, key: key) == cipher, "the thread's engine agrees")
            }
        }
        // An 8-byte input takes two blocks: the MAC differs from the one-block CBC without padding.
        let key8 = try SecretKey(hex: "8888888888888888")
        let data = try hex("0000100000000000")
        let oneBlock = try BlockAlgorithm.des.encrypt(data, key: key8)
        let twoBlocks = try BlockAlgorithm.des.encrypt(
            zip(oneBlock, hex("8000000000000000")).map { $0 ^ $1 }, key: key8)
        #expect(try CardMAC.pboc(key: key8, data: data).bytes == Array(twoBlocks.prefix(4)))
        // The empty input is one padding block.
        #expect(
            try CardMAC.pboc(key: key8, data: []).bytes
                == Array(try BlockAlgorithm.des.encrypt(hex("8000000000000000"), key: key8).prefix(4)))
    }
}

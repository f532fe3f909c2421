package import CardCrypto
import COpenSSL
import Foundation

/// TAC verifications per second on one core, next to OpenSSL's raw block-cipher rate for the same
/// number of blocks measured in the same run. Printed, never asserted.
///
/// One verification is `IssuerKeyring.verifyPurchaseTAC` for a record of a different card each
/// time (1,024 cards in turn): the card's DTK from the master TAC key and the ASN, the TAC key,
/// the MAC over the 22-byte TAC input, the comparison. Its blocks: for 3DES, two 3DES blocks of
/// diversification and three DES blocks of MAC chain; for SM4, one block of diversification and
/// two blocks of MAC chain.
///
/// The raw figure is `EVP_Cipher` over the same numbers of blocks of the same ciphers, ECB, with
/// one key set up once, in calls of 1,024 blocks (as `openssl speed -evp` measures). Two more
/// figures put it in context: the same blocks at one block per call, and the bulk blocks plus one
/// key set-up of the MAC cipher per verification — the MAC key differs for every card, and
/// OpenSSL 3 charges a parameter lookup and a key schedule for each, which no caller can avoid.
package enum CardCryptoBenchmark {
    /// Blocks of one cipher in one verification.
    package struct BlockCount: Sendable {
        package let cipher: String
        package let perVerification: Int
    }

    /// One purse algorithm's figures, all in seconds for `verifications` verifications.
    package struct Line: Sendable {
        package let algorithm: String
        package let verifications: Int
        package let seconds: Double
        package let blocks: [BlockCount]
        /// OpenSSL's raw time for the same blocks, 1,024 blocks per call.
        package let rawSeconds: Double
        /// OpenSSL's raw time for the same blocks, one block per call.
        package let rawOneBlockPerCallSeconds: Double
        /// OpenSSL's time for one MAC-key set-up (new key and IV) per verification.
        package let rawKeySetupSeconds: Double

        package var verificationsPerSecond: Double { Double(verifications) / seconds }
        /// Raw bulk time / verification time for the same blocks: the headline ratio (goal ≥ 0.5).
        package var ratio: Double { rawSeconds / seconds }
        package var ratioOneBlockPerCall: Double { rawOneBlockPerCallSeconds / seconds }
        /// (Raw bulk blocks + per-card key set-ups) / verification time: how close the Swift code
        /// comes to what OpenSSL alone must spend.
        package var ratioWithKeySetup: Double { (rawSeconds + rawKeySetupSeconds) / seconds }
    }

    package struct Report: Sendable, CustomStringConvertible {
        package let lines: [Line]
        /// True when single DES ran as 3DES with a repeated key (no legacy provider).
        package let singleDESRunsAsTripleDES: Bool

        package var description: String {
            var text = "TAC verifications on one core (IssuerKeyring.verifyPurchaseTAC, a different card each time)\n"
            for line in lines {
                let blocks = line.blocks.map { "\($0.perVerification) \($0.cipher)" }.joined(separator: " + ")
                text += "\(line.algorithm): \(line.verifications) in \(format(line.seconds)) s = "
                text += "\(Int(line.verificationsPerSecond.rounded())) verifications/s; blocks each: \(blocks)\n"
                text += "  OpenSSL raw, same blocks: \(format(line.rawSeconds)) s (1,024 blocks per call), "
                text += "\(format(line.rawOneBlockPerCallSeconds)) s (1 per call); "
                text += "one MAC-key set-up per verification: \(format(line.rawKeySetupSeconds)) s\n"
                text += "  ratio raw/verification: \(format(line.ratio)) (goal >= 0.5); "
                text += "\(format(line.ratioOneBlockPerCall)) at 1 block per call; "
                text += "\(format(line.ratioWithKeySetup)) counting the key set-ups\n"
            }
            if singleDESRunsAsTripleDES { text += "note: single DES ran as 3DES K||K (no OpenSSL legacy provider)\n" }
            return text
        }

        private func format(_ value: Double) -> String { "\((value * 1000).rounded() / 1000)" }
    }

    /// Runs `iterations` verifications for 3DES and for SM4 (`SM4Purse.provisional`; every SM4
    /// choice runs the same number of blocks), each followed by its OpenSSL baselines.
    package static func run(iterations: Int = 200_000) throws(CardCryptoError) -> Report {
        precondition(iterations > 0, "at least one iteration")
        let tacInputByteCount = 22
        let tripleDES = TripleDESPurse()
        let sm4 = SM4Purse.provisional
        let tripleDESBlocks = [
            BlockCount(cipher: "3DES", perVerification: tripleDES.tripleDESBlocksPerDiversification),
            BlockCount(cipher: "DES", perVerification: tripleDES.desBlocksPerMAC(byteCount: tacInputByteCount)),
        ]
        let sm4Blocks = [
            BlockCount(
                cipher: "SM4",
                perVerification: sm4.blocksPerDiversification + sm4.blocksPerTACKey
                    + sm4.blocksPerMAC(byteCount: tacInputByteCount))
        ]
        let lines = [
            try measure(tripleDES, blocks: tripleDESBlocks, macCipher: .des, iterations: iterations),
            try measure(sm4, blocks: sm4Blocks, macCipher: .sm4, iterations: iterations),
        ]
        return Report(lines: lines, singleDESRunsAsTripleDES: CipherEngine.singleDESRunsAsTripleDES)
    }

    private static func measure(
        _ algorithm: any PurseAlgorithm, blocks: [BlockCount], macCipher: CipherVariant, iterations: Int
    ) throws(CardCryptoError) -> Line {
        let keyring = IssuerKeyring.testKeys()
        let registry = PurseAlgorithmRegistry([algorithm])
        let engine = CipherEngine()
        let cards = try records(algorithm, keyring: keyring, count: min(iterations, 1024), engine: engine)
        for (asn, record) in cards.prefix(64) {
            try keyring.verifyPurchaseTAC(record, asn: asn, algorithms: registry, using: engine)
        }
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<iterations {
            let (asn, record) = cards[index % cards.count]
            try keyring.verifyPurchaseTAC(record, asn: asn, algorithms: registry, using: engine)
        }
        let seconds = seconds(start.duration(to: clock.now))
        var raw = 0.0
        var rawOneByOne = 0.0
        for count in blocks {
            let variant: CipherVariant =
                switch count.cipher {
                case "3DES": .tripleDES2
                case "DES": .des
                default: .sm4
                }
            raw += try rawSeconds(variant, blocks: count.perVerification * iterations, blocksPerCall: 1024)
            rawOneByOne += try rawSeconds(variant, blocks: count.perVerification * iterations, blocksPerCall: 1)
        }
        return Line(
            algorithm: algorithm is SM4Purse ? "SM4 (provisional)" : algorithm.name, verifications: iterations,
            seconds: seconds, blocks: blocks, rawSeconds: raw, rawOneBlockPerCallSeconds: rawOneByOne,
            rawKeySetupSeconds: try keySetupSeconds(macCipher, count: iterations))
    }

    /// `count` cards with distinct ASNs and one valid purchase record each.
    private static func records(
        _ algorithm: any PurseAlgorithm, keyring: IssuerKeyring, count: Int, engine: CipherEngine
    ) throws(CardCryptoError) -> [(ApplicationSerialNumber, PurchaseTACRecord)] {
        let terminal = try TerminalID(bytes: [0x00, 0x11, 0x22, 0x33, 0x44, 0x55])
        let dateTime = try TransactionDateTime(year: 2026, month: 11, day: 29, hour: 8, minute: 30, second: 0)
        var result: [(ApplicationSerialNumber, PurchaseTACRecord)] = []
        for index in 0..<count {
            let asn = try ApplicationSerialNumber(
                bytes: [0x31, 0x00, 0x01, 0x00, 0x00, 0x00] + BigEndian.bytes(UInt32(index)))
            let amount = UInt32(100 + index)
            let tacKey = try algorithm.tacKey(
                keyring.cardKey(.tac, version: 1, asn: asn, algorithm: algorithm, using: engine), using: engine)
            let tac = try algorithm.purchaseTAC(
                tacKey: tacKey, amount: amount, type: .pursePurchase, terminal: terminal,
                terminalSerial: UInt32(index), dateTime: dateTime, using: engine)
            let record = PurchaseTACRecord(
                amountFen: Int64(amount), type: .pursePurchase, terminal: terminal, terminalSerial: UInt32(index),
                dateTime: dateTime, keyVersion: 1, algorithmID: algorithm.algorithmID, tac: tac)
            result.append((asn, record))
        }
        return result
    }

    /// Seconds for OpenSSL to encrypt `blocks` blocks with `variant`, ECB, one key, `blocksPerCall`
    /// blocks per `EVP_Cipher` call.
    private static func rawSeconds(
        _ variant: CipherVariant, blocks: Int, blocksPerCall: Int
    ) throws(CardCryptoError) -> Double {
        let slot = try CipherSlot(variant, cbc: false, encrypt: true)
        try slot.setKey(variant == .des ? IssuerKeyring.testKey.left : IssuerKeyring.testKey)
        let byteCount = blocksPerCall * variant.blockByteCount
        var buffer = [UInt8](repeating: 0x5A, count: byteCount)
        let clock = ContinuousClock()
        var start = clock.now
        let ok = buffer.withUnsafeMutableBufferPointer { pointer in
            guard slot.run(pointer.baseAddress, pointer.baseAddress, count: byteCount) else { return false }
            start = clock.now
            var remaining = blocks
            while remaining > 0 {
                let now = min(remaining, blocksPerCall)
                guard slot.run(pointer.baseAddress, pointer.baseAddress, count: now * variant.blockByteCount) else {
                    return false
                }
                remaining -= now
            }
            return true
        }
        guard ok else { throw OpenSSL.error("raw \(variant) benchmark") }
        return seconds(start.duration(to: clock.now))
    }

    /// Seconds for OpenSSL to set `count` different keys (and a zero IV) on a CBC context of
    /// `variant`, calling `EVP_CipherInit_ex2` directly.
    private static func keySetupSeconds(_ variant: CipherVariant, count: Int) throws(CardCryptoError) -> Double {
        let cipher = try OpenSSLAlgorithms.shared.cipher(variant, cbc: true)
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSL.error("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_CipherInit_ex2(context, cipher, nil, nil, 1, nil) == 1 else { throw OpenSSL.error("init") }
        let keyByteCount = variant == .des && !OpenSSLAlgorithms.shared.singleDESViaTripleDES ? 8 : 16
        let keys = (0..<1024).map { index in (0..<keyByteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) } }
        let iv = [UInt8](repeating: 0, count: variant.blockByteCount)
        var failures = 0
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<count where EVP_CipherInit_ex2(context, nil, keys[index & 1023], iv, -1, nil) != 1 {
            failures += 1
        }
        let elapsed = seconds(start.duration(to: clock.now))
        guard failures == 0 else { throw OpenSSL.error("key set-up benchmark") }
        return elapsed
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}

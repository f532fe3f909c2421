import CardCrypto
import Foundation
import Testing

/// INTERNAL AUTHENTICATE's cryptography (issue 19, part 5): the card key DIAK diversified from
/// MIAK like every card key, the cryptogram, the PSAM's and the keyring's checks, and keyrings
/// written before MIAK existed. Every vector was computed with the openssl command line
/// (docs/card-crypto.md, "Internal authentication"), not with this code.
@Suite("Internal authentication: vectors, checks, keyrings without MIAK")
struct CardAuthenticationTests {
    static let asn = try! ApplicationSerialNumber(hex: "00003100000000000001")
    static let challenge: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cardauth-\(UUID().uuidString)")

    @Test(
        "the documented vectors: DIAK from MIAK and the ASN, then the cryptogram of 1122334455667788",
        arguments: [
            // MIAK, DIAK, algorithm, cryptogram
            (
                "0123456789ABCDEFFEDCBA9876543210", "A4686EDBEBDA37A846EA1267D54E118D", "3DES",
                "3326813C8789F401"
            ),
            (
                "00112233445566778899AABBCCDDEEFF", "E70496A83C622B71AAB2B3C756008970", "3DES",
                "3E7AB7DF4DD5FB68"
            ),
            (
                "0123456789ABCDEFFEDCBA9876543210", "87A063796DEF34C139141AAF62AA167D", "SM4",
                "A31065BD2A15AB4C"
            ),
        ])
    func vectors(master: String, diak: String, algorithmName: String, cryptogram: String) throws {
        let algorithm: any PurseAlgorithm = algorithmName == "SM4" ? SM4Purse.provisional : TripleDESPurse()
        let cardKey = try algorithm.cardKey(masterKey: SecretKey(hex: master), asn: Self.asn)
        #expect(keyHex(cardKey) == diak)
        let answer = try CardAuthentication.cryptogram(
            cardKey: cardKey, challenge: Self.challenge, algorithm: algorithm)
        #expect(Hex.encode(answer) == cryptogram)
        // The PSAM's check (the ASN factor only) and the keyring's (issuer levels, none here) agree.
        let registry = PurseAlgorithmRegistry.withProvisionalSM4
        let matched = try PSAMCrypto.verifyInternalAuthentication(
            masterAuthenticationKey: SecretKey(hex: master), factorsLowestFirst: [Self.asn.diversificationFactor],
            challenge: Self.challenge, response: answer, algorithms: registry)
        #expect(matched.name == algorithmName)
        let keyring = try IssuerKeyring(keys: [MasterKeyID(.internalAuthentication, version: 1): SecretKey(hex: master)]
        )
        let checked = try keyring.verifyInternalAuthentication(
            response: answer, challenge: Self.challenge, asn: Self.asn, keyVersion: 1, algorithms: registry)
        #expect(checked.name == algorithmName)
    }

    @Test("a wrong answer, another card's answer and another issuer's answer are refused")
    func refusals() throws {
        let keyring = IssuerKeyring.testKeys()
        let genuine = try Hex.decode("3326813C8789F401")
        #expect(
            try keyring.verifyInternalAuthentication(
                response: genuine, challenge: Self.challenge, asn: Self.asn, keyVersion: 1
            ).name == "3DES")
        var flipped = genuine
        flipped[7] ^= 0x01
        let otherCard = try ApplicationSerialNumber(hex: "00003100000000000002")
        let otherIssuer = try IssuerKeyring.generate()
        let mismatch = CardCryptoError.macMismatch(what: "internal authentication")
        #expect(throws: mismatch) {
            try keyring.verifyInternalAuthentication(
                response: flipped, challenge: Self.challenge, asn: Self.asn, keyVersion: 1)
        }
        #expect(throws: mismatch) {
            try keyring.verifyInternalAuthentication(
                response: genuine, challenge: Self.challenge, asn: otherCard, keyVersion: 1)
        }
        #expect(throws: mismatch) {
            try otherIssuer.verifyInternalAuthentication(
                response: genuine, challenge: Self.challenge, asn: Self.asn, keyVersion: 1)
        }
        // Only the verified 3DES strategy by default: the SM4 answer is not taken.
        #expect(throws: mismatch) {
            try keyring.verifyInternalAuthentication(
                response: Hex.decode("A31065BD2A15AB4C"), challenge: Self.challenge, asn: Self.asn, keyVersion: 1)
        }
    }

    @Test("bad lengths and a missing key are typed errors, lengths first")
    func invalidInput() throws {
        let keyring = IssuerKeyring.testKeys()
        let key = try keyring.cardKey(.internalAuthentication, version: 1, asn: Self.asn, algorithm: TripleDESPurse())
        for length in [0, 4, 7, 9, 16] {
            let challenge = [UInt8](repeating: 0xA5, count: length)
            #expect(
                throws: CardCryptoError.invalidLength(field: "authentication challenge", expected: 8, actual: length)
            ) {
                try CardAuthentication.cryptogram(cardKey: key, challenge: challenge, algorithm: TripleDESPurse())
            }
            #expect(
                throws: CardCryptoError.invalidLength(field: "authentication cryptogram", expected: 8, actual: length)
            ) {
                try keyring.verifyInternalAuthentication(
                    response: [UInt8](repeating: 0, count: length), challenge: Self.challenge, asn: Self.asn,
                    keyVersion: 9)
            }
        }
        #expect(throws: CardCryptoError.unknownKey(type: .internalAuthentication, version: 9)) {
            try keyring.verifyInternalAuthentication(
                response: [UInt8](repeating: 0, count: 8), challenge: Self.challenge, asn: Self.asn, keyVersion: 9)
        }
        #expect(throws: CardCryptoError.self) {
            try CardAuthentication.cryptogram(
                cardKey: SecretKey(hex: "0123456789ABCDEF"), challenge: Self.challenge, algorithm: TripleDESPurse())
        }
        let challenges = try (0..<50).map { _ in try CardAuthentication.randomChallenge() }
        #expect(challenges.allSatisfy { $0.count == 8 } && Set(challenges).count == 50, "fresh every time")
    }

    @Test("new keyrings hold MIAK; rotation adds it with the other types")
    func newKeyrings() throws {
        #expect(IssuerKeyring.testKeys().keyIDs.contains(MasterKeyID(.internalAuthentication, version: 1)))
        let random = try IssuerKeyring.generate().addingRandomKeys(version: 2)
        #expect(random.missingKeyIDs.isEmpty)
        #expect(try random.masterKey(.internalAuthentication, version: 2) != random.masterKey(.purchase, version: 2))
        #expect(try random.masterKey(.internalAuthentication, version: 1) != IssuerKeyring.testKey)
    }

    @Test("a keyring file written before MIAK existed gets it on load, written back once; its other keys stay")
    func keyringWithoutMIAK() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let randomURL = directory.appendingPathComponent("random/issuer-keys.json")
        let testURL = directory.appendingPathComponent("test/issuer-keys.json")
        let original = try IssuerKeyring.generate(versions: [1, 2])
        try writeWithoutMIAK(original, to: randomURL)
        try writeWithoutMIAK(IssuerKeyring.testKeys(), to: testURL)

        let old = try IssuerKeyring.load(from: randomURL)
        #expect(
            old.missingKeyIDs == [
                MasterKeyID(.internalAuthentication, version: 1), .init(.internalAuthentication, version: 2),
            ])
        #expect(throws: CardCryptoError.unknownKey(type: .internalAuthentication, version: 1)) {
            try old.masterKey(.internalAuthentication, version: 1)
        }
        let (upgraded, added) = try IssuerKeyring.loadAddingMissingKeys(from: randomURL)
        #expect(added == old.missingKeyIDs && upgraded.missingKeyIDs.isEmpty)
        for id in old.keyIDs {
            #expect(
                try upgraded.masterKey(id.type, version: id.version) == original.masterKey(id.type, version: id.version)
            )
        }
        let miak = try upgraded.masterKey(.internalAuthentication, version: 1)
        #expect(miak != IssuerKeyring.testKey, "a random keyring gets a random MIAK")
        let (again, addedAgain) = try IssuerKeyring.loadAddingMissingKeys(from: randomURL)
        #expect(addedAgain.isEmpty, "written back: the next load adds nothing")
        #expect(try again.masterKey(.internalAuthentication, version: 1) == miak)
        #expect(try mode(randomURL) == 0o600)
        let (created, isNew) = try IssuerKeyring.loadOrCreate(at: randomURL) { () throws(CardCryptoError) in
            IssuerKeyring.testKeys()
        }
        #expect(!isNew)
        let createdMIAK = try created.masterKey(.internalAuthentication, version: 2)
        #expect(try createdMIAK == upgraded.masterKey(.internalAuthentication, version: 2))

        // A ring of the handout's test keys stays recomputable by hand: its MIAK is the test key.
        let (testRing, testAdded) = try IssuerKeyring.loadAddingMissingKeys(from: testURL)
        #expect(testAdded == [MasterKeyID(.internalAuthentication, version: 1)])
        #expect(try testRing.masterKey(.internalAuthentication, version: 1) == IssuerKeyring.testKey)
    }

    /// Writes `keyring` as a keyring file of before issue 19: no `internalAuthentication` entry.
    private func writeWithoutMIAK(_ keyring: IssuerKeyring, to url: URL) throws {
        try keyring.write(to: url)
        var json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let keys = try #require(json["keys"] as? [[String: Any]])
        json["keys"] = keys.filter { ($0["type"] as? String) != "internalAuthentication" }
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }

    private func mode(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int ?? -1) & 0o777
    }
}

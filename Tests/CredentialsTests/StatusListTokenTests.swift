import PropertyBased
import Testing

@testable import Credentials

@Suite("Status list token (CWT) and the status reference")
struct StatusListTokenTests {
    /// The draft's example key "12" (src/util.py of the draft's repository), public part.
    static let draftKey = P256TestChecker(
        x: "2371d69bfd03b3574f308f885a67f8981987f9869e0156cf56eeef076ec2c57a",
        y: "e8dfdde44963f5bb3586d815de890928875b1c4a6481398096e60a25e9b39f53")
    static let draftKeys: CodeVerifier.KeyLookup = { algorithm, keyID in
        algorithm == .es256 && keyID == Array("12".utf8) ? draftKey : nil
    }
    static let draftURI = "https://example.com/statuslists/1"
    /// §5.2 example (examples/status_list_cwt.md): the 16-entry list of §4.1, kid "12" unprotected.
    static let draftToken = bytes(
        """
        d2845820a2012610781a6170706c69636174696f6e2f7374617475736c6973742b63
        7774a1044231325850a502782168747470733a2f2f6578616d706c652e636f6d2f73
        74617475736c697374732f31061a648c5bea041a8898dfea19fffe19a8c019fffda2
        646269747301636c73744a78dadbb918000217015d584093fa4d01032b18c35e2fe1
        101b77fd6cc9440022caa4694450c4e4e9feab4e99d1fa6d9772ce2bf3a12e0323de
        d7c982c5e101a5e67f0cbc1e2b6f57ce99c279
        """)
    /// §6.3 example (examples/referenced_token_cwt.md): a token referring to index 0 of that list.
    static let draftReferencedToken = bytes(
        """
        d28443a10126a1044231325866a502653132333435017368747470733a2f2f657861
        6d706c652e636f6d061a648c5bea041a8898dfea19ffffa16b7374617475735f6c69
        7374a2636964780063757269782168747470733a2f2f6578616d706c652e636f6d2f
        7374617475736c697374732f315840340f7efea10f1a36dc4797636a17b4dd4848b6
        8997d1d10e8cceb3a38ff33b3dda72964a83989f6cf98560c2fc97a08bc8977cc6b0
        f84cfedab93d3e4481e938
        """)
    static let draftIssuedAt: Int64 = 1_686_920_170

    @Test func draftStatusListTokenVerifies() throws {
        let token = try StatusListToken.verify(
            Self.draftToken, expectedURI: Self.draftURI, keys: Self.draftKeys, nowSeconds: Self.draftIssuedAt + 3_600)
        #expect(token.uri == Self.draftURI)
        #expect(token.issuedAt == Self.draftIssuedAt)
        #expect(token.expiresAt == 2_291_720_170)
        #expect(token.timeToLiveSeconds == 43_200)
        #expect(token.list.bits == 1)
        #expect(token.list.bytes == [0xB9, 0xA3])
        let sign1 = try COSESign1.decode(Self.draftToken)
        #expect(sign1.type == "application/statuslist+cwt")
        #expect(hex(sign1.protectedHeader) == "a2012610781a6170706c69636174696f6e2f7374617475736c6973742b637774")
    }

    @Test func draftReferencedTokenCarriesTheStatusReference() throws {
        let sign1 = try COSESign1.decode(Self.draftReferencedToken)
        #expect(Self.draftKey.isValid(signature: sign1.signature, for: sign1.toBeSigned()))
        let claims = try CBOR(decoding: sign1.payload)
        let reference = try StatusListReference(claim: #require(claims[CardCodeClaims.Key.status]))
        #expect(reference == (try StatusListReference(index: 0, uri: Self.draftURI)))
    }

    @Test func builtTokensVerify() throws {
        let key = P256TestKey(keyID: Array("city-2026".utf8))
        var list = StatusList(bits: 2, count: 1_000)
        list.set(5, to: 1)
        list.set(999, to: 2)
        let token = try StatusListToken(
            uri: Fixtures.statusURI, issuedAt: Fixtures.now, expiresAt: Fixtures.now + 86_400,
            timeToLiveSeconds: 3_600, list: list)
        let signed = token.sign(algorithm: .es256, keyID: key.keyID) { key.sign($0) }
        #expect(signed.type == StatusListToken.type)
        // Claims in deterministic order: 2, 4, 6, 65533 (19 fffd), 65534 (19 fffe).
        #expect(try CBOR(decoding: signed.payload).entries?.map(\.key) == [2, 4, 6, 65_533, 65_534])
        let verified = try StatusListToken.verify(
            signed.encoded(), expectedURI: Fixtures.statusURI, keys: key.lookup, nowSeconds: Fixtures.now + 60)
        #expect(verified == token)
        #expect(verified.list.get(5) == 1 && verified.list.get(999) == 2 && verified.list.get(6) == 0)
        // exp and ttl are optional.
        let bare = try StatusListToken(
            uri: Fixtures.statusURI, issuedAt: Fixtures.now, expiresAt: nil, timeToLiveSeconds: nil, list: list)
        #expect(try StatusListToken(claims: bare.claims()) == bare)
    }

    @Test func verificationErrorsInOrder() throws {
        let key = P256TestKey(keyID: [1])
        let token = try StatusListToken(
            uri: Fixtures.statusURI, issuedAt: Fixtures.now, expiresAt: Fixtures.now + 100, timeToLiveSeconds: nil,
            list: StatusList(bits: 1, count: 8))
        let good = token.sign(algorithm: .es256, keyID: key.keyID) { key.sign($0) }
        func verify(
            _ bytes: [UInt8], uri: String = Fixtures.statusURI, now: Int64 = Fixtures.now
        ) throws(StatusListToken.VerificationError) {
            _ = try StatusListToken.verify(
                bytes, expectedURI: uri, keys: key.lookup, nowSeconds: now, leewaySeconds: 10)
        }
        #expect(throws: StatusListToken.VerificationError.malformed(.cbor(.truncated(offset: 0)))) { try verify([]) }
        let untyped = COSESign1.sign(payload: good.payload, algorithm: .es256, keyID: [1]) { key.sign($0) }
        #expect(
            throws: StatusListToken.VerificationError.malformed(
                .invalidHeader(reason: "typ is not application/statuslist+cwt"))
        ) { try verify(untyped.encoded()) }
        let otherKey = token.sign(algorithm: .es256, keyID: [2]) { key.sign($0) }
        #expect(throws: StatusListToken.VerificationError.unknownKey) { try verify(otherKey.encoded()) }
        let sm2 = token.sign(algorithm: .sm2sm3, keyID: [1]) { key.sign($0) }
        #expect(throws: StatusListToken.VerificationError.unknownKey) { try verify(sm2.encoded()) }
        let forged = token.sign(algorithm: .es256, keyID: [1]) { P256TestKey(keyID: [1]).sign($0) }
        #expect(throws: StatusListToken.VerificationError.badSignature) { try verify(forged.encoded()) }
        let badClaims = COSESign1.sign(payload: [0xA0], algorithm: .es256, keyID: [1], type: StatusListToken.type) {
            key.sign($0)
        }
        #expect(throws: StatusListToken.VerificationError.malformed(.missingClaim(key: 2))) {
            try verify(badClaims.encoded())
        }
        #expect(throws: StatusListToken.VerificationError.subjectMismatch) {
            try verify(good.encoded(), uri: "https://card.example.gov.cn/status/2")
        }
        #expect(throws: StatusListToken.VerificationError.issuedInTheFuture) {
            try verify(good.encoded(), now: Fixtures.now - 11)
        }
        try verify(good.encoded(), now: Fixtures.now - 10)
        try verify(good.encoded(), now: Fixtures.now + 109)
        #expect(throws: StatusListToken.VerificationError.expired) {
            try verify(good.encoded(), now: Fixtures.now + 110)
        }
    }

    @Test func claimErrors() throws {
        let list = StatusList(bits: 1, count: 8)
        #expect(throws: CredentialFormatError.invalidClaim(key: 65_534, reason: "not positive")) {
            try StatusListToken(uri: "u", issuedAt: 0, expiresAt: nil, timeToLiveSeconds: 0, list: list)
        }
        #expect(throws: CredentialFormatError.invalidClaim(key: 2, reason: "uri must be 1 to 256 bytes")) {
            try StatusListToken(uri: "", issuedAt: 0, expiresAt: nil, timeToLiveSeconds: nil, list: list)
        }
        #expect(throws: CredentialFormatError.invalidClaim(key: 4, reason: "negative time")) {
            try StatusListToken(uri: "u", issuedAt: 0, expiresAt: -5, timeToLiveSeconds: nil, list: list)
        }
        #expect(throws: CredentialFormatError.claimsNotAMap) { try StatusListToken(claims: [1]) }
        #expect(throws: CredentialFormatError.invalidClaim(key: 6, reason: "not a uint time")) {
            try StatusListToken(claims: [2: "u", 6: -1, 65_533: list.cbor()])
        }
        #expect(throws: CredentialFormatError.missingClaim(key: 65_533)) {
            try StatusListToken(claims: [2: "u", 6: 1])
        }
        #expect(throws: CredentialFormatError.invalidStatusList(reason: "not a map")) {
            try StatusListToken(claims: [2: "u", 6: 1, 65_533: 1])
        }
    }

    @Test func arbitraryBytesNeverCrashVerification() async {
        let key = P256TestKey(keyID: [1])
        let good =
            (try? StatusListToken(
                uri: "u", issuedAt: 0, expiresAt: nil, timeToLiveSeconds: nil, list: StatusList(bits: 1, count: 64)))?
            .sign(algorithm: .es256, keyID: [1]) { key.sign($0) }.encoded() ?? []
        #expect((try? StatusListToken.verify(good, expectedURI: "u", keys: key.lookup, nowSeconds: 0)) != nil)
        let input = zip(Gen.int(in: 0...1_000), Gen.uint8(in: 1...255))
        await propertyCheck(count: 1_000, input: input) { position, flip in
            var damaged = good
            damaged[position % damaged.count] ^= flip
            // Every damage is caught; a bad signature at the latest.
            #expect(throws: StatusListToken.VerificationError.self) {
                try StatusListToken.verify(damaged, expectedURI: "u", keys: key.lookup, nowSeconds: 0)
            }
        }
    }
}

import PropertyBased
import Testing

@testable import Credentials

@Suite("Card code: CWT claims and the CC1 text")
struct CardCodeTests {
    typealias Key = CardCodeClaims.Key

    @Test func claimsEncodeWithTheDocumentedKeys() throws {
        let claims = Fixtures.claims()
        let map = try CBOR(decoding: claims.encoded())
        #expect(map[1] == "CN-330100")
        #expect(map[4]?.int64 == Fixtures.now + 110)
        #expect(map[6]?.int64 == Fixtures.now - 10)
        #expect(map[7]?.bytes == Fixtures.codeID)
        #expect(map[65_535] == ["status_list": ["idx": 5, "uri": .textString(Fixtures.statusURI)]])
        #expect(map[-70_001] == "33090001000000000042")
        #expect(map[-70_002] == "330100D156000005")
        #expect(map[-70_003] == 0)
        #expect(map[-70_004] == "张*明")
        #expect(map[-70_005]?.bytes == Fixtures.portraitHash)
        // Deterministic order: 1, 4, 6, 7, 65535 (19 ffff), then the negatives -70001… (3a 00011170…).
        #expect(map.entries?.map(\.key) == [1, 4, 6, 7, 65_535, -70_001, -70_002, -70_003, -70_004, -70_005])
        #expect(try CardCodeClaims(cbor: map) == claims)
        #expect(try CardCodeClaims(payload: claims.encoded()) == claims)
    }

    @Test func portraitHashIsOptional() throws {
        let claims = Fixtures.claims(portraitHash: nil)
        #expect(try CBOR(decoding: claims.encoded())[-70_005] == nil)
        #expect(try CardCodeClaims(payload: claims.encoded()) == claims)
    }

    @Test func unknownClaimsAreIgnored() throws {
        let claims = Fixtures.claims()
        let entries = try #require(claims.cbor().entries)
        let extended = CBOR.map(entries + [CBOR.MapEntry(key: 5, value: 0), CBOR.MapEntry(key: "x", value: true)])
        #expect(try CardCodeClaims(cbor: extended) == claims)
    }

    @Test func everyMissingClaimIsNamed() throws {
        let claims = Fixtures.claims()
        for key in [
            Key.issuer, Key.issuedAt, Key.expiresAt, Key.codeID, Key.status, Key.asn, Key.cardNumber,
            Key.cardStatus, Key.maskedName,
        ] {
            #expect(throws: CredentialFormatError.missingClaim(key: key)) {
                try CardCodeClaims(cbor: Self.replacing(key, with: nil, in: claims))
            }
        }
        #expect(throws: CredentialFormatError.claimsNotAMap) { try CardCodeClaims(cbor: [1, 2]) }
        #expect(throws: CredentialFormatError.cbor(.truncated(offset: 0))) { try CardCodeClaims(payload: [0xA1]) }
    }

    @Test func everyWrongTypeOrRangeIsNamed() {
        let claims = Fixtures.claims()
        let cases: [(Int64, CBOR, String)] = [
            (Key.issuer, 1, "not a text"),
            (Key.issuer, "", "text must be 1 to 64 bytes"),
            (Key.issuer, .textString(String(repeating: "x", count: 65)), "text must be 1 to 64 bytes"),
            (Key.issuedAt, -1, "not a uint time"),
            (Key.issuedAt, "1", "not a uint time"),
            (Key.expiresAt, .unsigned(UInt64(Int64.max) + 1), "not a uint time"),
            (Key.expiresAt, .tagged(1, 5), "not a uint time"),
            (Key.codeID, .byteString(Array(repeating: 0, count: 15)), "not 16 bytes"),
            (Key.codeID, "0123456789abcdef", "not bytes"),
            (Key.status, 1, "no status_list"),
            (Key.status, ["status_list": ["idx": -1, "uri": "u"]], "idx is not a uint"),
            (Key.status, ["status_list": ["idx": 1]], "uri is not a text"),
            (Key.status, ["status_list": ["idx": 1, "uri": ""]], "uri must be 1 to 256 bytes"),
            (Key.asn, "3309000100000000004", "not 20 uppercase hex digits"),
            (Key.asn, "3309000100000000004a", "not 20 uppercase hex digits"),
            (Key.asn, "3309000100000000004G", "not 20 uppercase hex digits"),
            (Key.cardNumber, .textString(String(repeating: "9", count: 33)), "text must be 1 to 32 bytes"),
            (Key.cardStatus, 6, "not a known card status"),
            (Key.cardStatus, 256, "not a known card status"),
            (Key.cardStatus, "active", "not a known card status"),
            (Key.maskedName, .byteString([1]), "not a text"),
            (Key.portraitHash, .byteString(Array(repeating: 0, count: 31)), "not 32 bytes"),
            (Key.portraitHash, .null, "not bytes"),
        ]
        for (key, value, reason) in cases {
            #expect(throws: CredentialFormatError.invalidClaim(key: key, reason: reason), "\(key): \(value)") {
                try CardCodeClaims(cbor: Self.replacing(key, with: value, in: claims))
            }
        }
    }

    @Test func theInitialiserRefusesWhatTheDecoderRefuses() {
        #expect(throws: CredentialFormatError.invalidClaim(key: Key.issuedAt, reason: "negative time")) {
            try CardCodeClaims(
                issuer: "CN-330100", issuedAt: -1, expiresAt: 1, codeID: Fixtures.codeID,
                status: StatusListReference(index: 0, uri: "u"), asn: "33090001000000000042", cardNumber: "1",
                cardStatus: .active, maskedName: "x")
        }
        #expect(throws: CredentialFormatError.invalidClaim(key: Key.status, reason: "uri must be 1 to 256 bytes")) {
            try StatusListReference(index: 0, uri: String(repeating: "u", count: 257))
        }
    }

    @Test func textFormIsPrefixedBase45OfZlib() throws {
        let key = P256TestKey(keyID: [0x0A])
        let sign1 = COSESign1.sign(payload: Fixtures.claims().encoded(), algorithm: .es256, keyID: key.keyID) {
            key.sign($0)
        }
        let text = CardCodeText.encode(sign1)
        #expect(text.hasPrefix("CC1:"))
        #expect(text.utf8.dropFirst(4).allSatisfy { Base45.alphabet.contains($0) })
        #expect(
            try Deflate.decompress(Base45.decode(String(text.dropFirst(4))), byteCountMax: 4_096) == sign1.encoded())
        #expect(try CardCodeText.decode(text) == sign1)
        // A scanner typing the code adds a return; copy and paste adds spaces.
        #expect(try CardCodeText.decode(" \t" + text + "\r\n") == sign1)
        // Small enough for a QR symbol read by a phone camera: version 15 holds 1,250 alphanumerics at level M.
        #expect(text.count < 600)
    }

    @Test func textFormErrorsInOrder() throws {
        let sign1 = COSESign1.sign(payload: Fixtures.claims().encoded(), algorithm: .es256, keyID: [1]) { _ in
            Array(repeating: 1, count: 64)
        }
        let text = CardCodeText.encode(sign1)
        #expect(throws: CredentialFormatError.textTooLong(characterCount: 4_097)) {
            try CardCodeText.decode(String(repeating: "0", count: 4_097))
        }
        #expect(throws: CredentialFormatError.textTooLong(characterCount: text.utf8.count)) {
            try CardCodeText.decode(text, textLengthMax: text.utf8.count - 1)
        }
        #expect(throws: CredentialFormatError.missingPrefix) { try CardCodeText.decode("HC1:" + text.dropFirst(4)) }
        #expect(throws: CredentialFormatError.missingPrefix) { try CardCodeText.decode("cc1:" + text.dropFirst(4)) }
        #expect(throws: CredentialFormatError.missingPrefix) { try CardCodeText.decode("") }
        // Lowercase is refused, not folded.
        let body = Array(text.utf8.dropFirst(4))
        let firstLetter = try #require(body.firstIndex { (0x41...0x5A).contains($0) })
        #expect(throws: CredentialFormatError.base45(.invalidCharacter(offset: firstLetter))) {
            try CardCodeText.decode("CC1:" + text.dropFirst(4).lowercased())
        }
        #expect(throws: CredentialFormatError.base45(.invalidLength(characterCount: 1))) {
            try CardCodeText.decode("CC1:0")
        }
        #expect(throws: CredentialFormatError.deflate(.corrupt)) {
            try CardCodeText.decode("CC1:" + Base45.encode([1, 2, 3]))
        }
        let cut = "CC1:" + Base45.encode(Deflate.compress(sign1.encoded()).dropLast(2))
        #expect(throws: CredentialFormatError.deflate(.truncated)) { try CardCodeText.decode(cut) }
        #expect(throws: CredentialFormatError.deflate(.outputLimitExceeded(byteCountMax: 100))) {
            try CardCodeText.decode(text, inflatedByteCountMax: 100)
        }
        let notCOSE = "CC1:" + Base45.encode(Deflate.compress(CBOR.array([1]).encoded()))
        #expect(throws: CredentialFormatError.notCOSESign1(reason: "not an array of four")) {
            try CardCodeText.decode(notCOSE)
        }
    }

    /// A small text that inflates to 64 KiB of zeros is refused at 4 KiB.
    @Test func aCompressedBombInACodeIsRefused() {
        let bomb = "CC1:" + Base45.encode(Deflate.compress([UInt8](repeating: 0, count: 65_536)))
        #expect(bomb.count < 600)
        #expect(throws: CredentialFormatError.deflate(.outputLimitExceeded(byteCountMax: 4_096))) {
            try CardCodeText.decode(bomb)
        }
    }

    @Test func claimsRoundTripThroughTheTextForm() async throws {
        let input = zip(
            Gen.int64(in: 0...4_000_000_000), Gen.int64(in: 1...86_400), Gen.uint64(), Gen.uint8().array(of: 16),
            Gen.element(of: CardStatusAtSigning.allCases), Gen.bool())
        await propertyCheck(count: 200, input: input) {
            issuedAt, lifetime, index, codeID, status, withPortrait throws in
            let claims = try CardCodeClaims(
                issuer: "CN-330100", issuedAt: issuedAt, expiresAt: issuedAt + lifetime, codeID: codeID,
                status: StatusListReference(index: index, uri: Fixtures.statusURI), asn: "3309000100000000FFFF",
                cardNumber: "A" + String(index % 1_000), cardStatus: status ?? .active, maskedName: "王*",
                portraitHash: withPortrait ? Fixtures.portraitHash : nil)
            let sign1 = COSESign1.sign(payload: claims.encoded(), algorithm: .sm2sm3, keyID: [2]) { _ in [0] }
            let decoded = try CardCodeText.decode(CardCodeText.encode(sign1))
            #expect(try CardCodeClaims(payload: decoded.payload) == claims)
        }
    }

    @Test func arbitraryTextNeverCrashes() async {
        let characters = Gen.element(of: Array(Base45.alphabet) + Array("c1\n".utf8)).map { $0 ?? 0 }
        await propertyCheck(count: 2_000, input: characters.array(of: 0...80)) { characters in
            #expect(throws: CredentialFormatError.self) {
                try CardCodeText.decode("CC1:" + String(decoding: characters, as: UTF8.self))
            }
        }
    }

    /// The claims map with `key` replaced by `value`, or removed when `value` is nil.
    static func replacing(_ key: Int64, with value: CBOR?, in claims: CardCodeClaims) -> CBOR {
        guard case .map(var entries) = claims.cbor() else { return .null }
        entries.removeAll { $0.key == CBOR(key) }
        if let value { entries.append(CBOR.MapEntry(key: CBOR(key), value: value)) }
        return .map(entries)
    }
}

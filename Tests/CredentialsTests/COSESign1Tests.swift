import PropertyBased
import Testing

@testable import Credentials

/// The COSE Working Group's examples (github.com/cose-wg/Examples: RFC8152/Appendix_C_2_1.json,
/// which RFC 9052 Appendix C.2.1 repeats, and sign1-tests/*.json), then this module's own rules.
@Suite("COSE_Sign1 (RFC 9052 §4.2)")
struct COSESign1Tests {
    /// The P-256 key "11" of the COSE examples (public part).
    static let exampleKey = P256TestChecker(
        x: "bac5b11cad8f99f9c72b05cf4b9e26d244dc189f745228255a219a86d6a09eff",
        y: "20138bf82dc1b6d562be0fa54ab7804a3a64b6d72ccfed6b6fb6ed28bbfc117e")
    static let content = Array("This is the content.".utf8)
    /// RFC 9052 Appendix C.2.1: ES256, kid "11" unprotected.
    static let appendixC21 = bytes(
        """
        d28443a10126a10442313154546869732069732074686520636f6e74656e742e58408eb33e4ca31d1c465ab05aac34cc6b23
        d58fef5c083106c4d25a91aef0b0117e2af9a291aa32e14ab834dc56ed2a223444547e01f11d3b0916e5a4c345cacb36
        """)
    static let appendixC21ToBeSigned = "846a5369676e61747572653143a101264054546869732069732074686520636f6e74656e742e"

    @Test func rfc9052AppendixC21DecodesAndVerifies() throws {
        let sign1 = try COSESign1.decode(Self.appendixC21)
        #expect(sign1.algorithm == -7)
        #expect(sign1.credentialAlgorithm == .es256)
        #expect(sign1.keyID == Array("11".utf8))
        #expect(sign1.type == nil)
        #expect(sign1.payload == Self.content)
        #expect(sign1.protectedHeader == [0xA1, 0x01, 0x26])
        #expect(hex(sign1.toBeSigned()) == Self.appendixC21ToBeSigned)
        #expect(Self.exampleKey.isValid(signature: sign1.signature, for: sign1.toBeSigned()))
        // Re-encoding keeps every byte: the example is itself deterministic.
        #expect(sign1.encoded() == Self.appendixC21)
    }

    /// sign-pass-02: the same message with external data in the Sig_structure.
    @Test func externalDataEntersTheSigStructure() throws {
        let sign1 = try COSESign1.decode(
            bytes(
                """
                d28443a10126a10442313154546869732069732074686520636f6e74656e742e584010729cd711cb3813d8d8e944a8da71
                11e7b258c9bdca6135f7ae1adbee9509891267837e1e33bd36c150326ae62755c6bd8e540c3e8f92d7d225e8db72b8820b
                """))
        let external = bytes("11aa22bb33cc44dd55006699")
        #expect(
            hex(sign1.toBeSigned(externalAAD: external))
                == "846a5369676e61747572653143a101264c11aa22bb33cc44dd5500669954546869732069732074686520636f6e74656e742e"
        )
        #expect(Self.exampleKey.isValid(signature: sign1.signature, for: sign1.toBeSigned(externalAAD: external)))
        #expect(!Self.exampleKey.isValid(signature: sign1.signature, for: sign1.toBeSigned()))
    }

    /// sign-pass-03: the untagged form is accepted too.
    @Test func untaggedMessagesAreAccepted() throws {
        let sign1 = try COSESign1.decode(Array(Self.appendixC21.dropFirst()))
        #expect(sign1 == (try COSESign1.decode(Self.appendixC21)))
    }

    /// sign-fail-01: tag 998 instead of 18.
    @Test func anotherTagIsRefused() {
        let wrongTag = bytes("d903e6") + Self.appendixC21.dropFirst()
        #expect(throws: CredentialFormatError.notCOSESign1(reason: "tag 998 is not COSE_Sign1's 18")) {
            try COSESign1.decode(wrongTag)
        }
    }

    /// sign-fail-02, -06, -07: a changed payload, an added or a removed protected parameter all
    /// leave a well-formed message whose signature no longer verifies.
    @Test func changedMessagesNoLongerVerify() throws {
        let changedPayload = try COSESign1.decode(
            Array(Self.appendixC21.prefix(31)) + [0x2F] + Self.appendixC21.dropFirst(32))
        #expect(changedPayload.payload == Array("This is the content/".utf8))
        let addedProtected = try COSESign1.decode(
            bytes("d28445a201260300") + Self.appendixC21.dropFirst(6))
        #expect(addedProtected.algorithm == -7)
        for sign1 in [changedPayload, addedProtected] {
            #expect(!Self.exampleKey.isValid(signature: sign1.signature, for: sign1.toBeSigned()))
        }
    }

    /// sign-fail-03 and -04: an unknown integer algorithm decodes (the verifier then knows no key
    /// for it); a text algorithm is refused.
    @Test func algorithmsOtherThanOurs() throws {
        let unknown = try COSESign1.decode(bytes("d28445a1013903e6") + Self.appendixC21.dropFirst(6))
        #expect(unknown.algorithm == -999)
        #expect(unknown.credentialAlgorithm == nil)
        #expect(throws: CredentialFormatError.invalidHeader(reason: "alg is not an integer")) {
            try COSESign1.decode(bytes("d2844aa10167756e6b6e6f776e") + Self.appendixC21.dropFirst(6))
        }
    }

    /// sign-pass-01 carries alg in the unprotected header: this module requires it protected.
    @Test func algorithmInTheUnprotectedHeaderIsRefused() {
        let message = bytes(
            """
            d28441a0a201260442313154546869732069732074686520636f6e74656e742e584087db0d2e5571843b78ac33ecb2830d
            f7b6e0a4d5b7376de336b23c591c90c425317e56127fbe04370097ce347087b233bf722b64072beb4486bda4031d27244f
            """)
        #expect(throws: CredentialFormatError.invalidHeader(reason: "alg, crit and typ must be protected")) {
            try COSESign1.decode(message)
        }
    }

    @Test func signedMessagesRoundTrip() throws {
        let key = P256TestKey(keyID: [0x01, 0x02])
        var seen: [UInt8] = []
        let sign1 = COSESign1.sign(payload: [1, 2, 3], algorithm: .es256, keyID: key.keyID, type: "application/x") {
            seen = $0
            return key.sign($0)
        }
        #expect(seen == sign1.toBeSigned())
        // {1: -7, 4: h'0102', 16: "application/x"}
        #expect(hex(sign1.protectedHeader) == "a3012604420102106d6170706c69636174696f6e2f78")
        #expect(sign1.unprotectedHeader.isEmpty)
        #expect(sign1.encoded().prefix(2) == [0xD2, 0x84])
        let decoded = try COSESign1.decode(sign1.encoded())
        #expect(decoded == sign1)
        #expect(decoded.type == "application/x")
        #expect(key.checker.isValid(signature: decoded.signature, for: decoded.toBeSigned()))
        // No kid and no typ when not given.
        let bare = COSESign1.sign(payload: [], algorithm: -70_001, keyID: []) { _ in [0] }
        #expect(hex(bare.protectedHeader) == "a1013a00011170")
        #expect(try COSESign1.decode(bare.encoded()).keyID == [])
        #expect(bare.credentialAlgorithm == .sm2sm3)
    }

    @Test func signerErrorsPassThroughTyped() {
        struct HSMDown: Error, Equatable {}
        #expect(throws: HSMDown()) {
            try COSESign1.sign(payload: [], algorithm: .es256, keyID: [1]) { (_) throws(HSMDown) -> [UInt8] in
                throw HSMDown()
            }
        }
    }

    @Test func malformedEnvelopesAreRefused() {
        let cases: [(String, CredentialFormatError)] = [
            ("d283400000", .notCOSESign1(reason: "not an array of four")),
            ("a0", .notCOSESign1(reason: "not an array of four")),
            ("d2 84 a0 a0 40 40", .notCOSESign1(reason: "protected is not bytes")),
            ("d2 84 40 80 40 40", .notCOSESign1(reason: "unprotected is not a map")),
            ("d2 84 43a10126 a0 f6 40", .notCOSESign1(reason: "no attached payload")),
            ("d2 84 43a10126 a0 40 f6", .notCOSESign1(reason: "signature is not bytes")),
            ("d2 84 41 80 a0 40 40", .invalidHeader(reason: "protected header is not a map")),
            ("d2 84 40 a0 40 40", .invalidHeader(reason: "no alg")),
            ("d2 84 41a0 a0 40 40", .invalidHeader(reason: "no alg")),
            ("d2 84 46a2012602810a a0 40 40", .invalidHeader(reason: "crit is not supported")),
            ("d2 84 43a10126 a10126 40 40", .invalidHeader(reason: "a label is in both headers")),
            ("d2 84 43a10126 a11010 40 40", .invalidHeader(reason: "alg, crit and typ must be protected")),
            ("d2 84 45a201260401 a0 40 40", .invalidHeader(reason: "kid is not bytes")),
            ("d2 84 43a10126 a1 0401 40 40", .invalidHeader(reason: "kid is not bytes")),
            ("d2 84 45a201261001 a0 40 40", .invalidHeader(reason: "typ is not a text")),
            ("d2 84 45a2012640 00 a0 40 40", .invalidHeader(reason: "a label is neither an integer nor a text")),
            ("d2 84 43a10126 a1f600 40 40", .invalidHeader(reason: "a label is neither an integer nor a text")),
            ("d2 84 43a10126 a0 40 40 00", .cbor(.trailingBytes(offset: 9))),
            ("d2 84 42a101 a0 40 40", .cbor(.truncated(offset: 0))),
        ]
        for (encoding, error) in cases {
            #expect(throws: error, "\(encoding)") { try COSESign1.decode(bytes(encoding)) }
        }
    }

    @Test func keyIDMayComeFromEitherHeader() throws {
        let protectedKid = try COSESign1.decode(bytes("d2 84 46a2012604413a a0 40 40"))
        #expect(protectedKid.keyID == [0x3A])
        let unprotectedKid = try COSESign1.decode(bytes("d2 84 43a10126 a104413a 40 40"))
        #expect(unprotectedKid.keyID == [0x3A])
        #expect(unprotectedKid.unprotectedHeader == [CBOR.MapEntry(key: 4, value: .byteString([0x3A]))])
        // Unknown labels, integer or text, are ignored.
        let extra = try COSESign1.decode(bytes("d2 84 45a201260300 a2 0505 6178f5 40 40"))
        #expect(extra.algorithm == -7 && extra.keyID.isEmpty)
    }

    @Test func arbitraryBytesNeverCrashTheDecoder() async {
        let valid = COSESign1.sign(payload: Array(0..<20), algorithm: .es256, keyID: [7], type: "t") { _ in
            Array(repeating: 9, count: 64)
        }.encoded()
        let input = zip(Gen.uint8().array(of: 0...60), Gen.int(in: 0...1_000), Gen.uint8())
        await propertyCheck(count: 3_000, input: input) { random, position, byte in
            _ = try? COSESign1.decode(random)
            var damaged = valid
            damaged[position % valid.count] = byte
            if let decoded = try? COSESign1.decode(damaged) {
                #expect(decoded.encoded().count == damaged.count)
            }
        }
    }
}

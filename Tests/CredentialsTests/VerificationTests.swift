import PropertyBased
import Testing

@testable import Credentials

/// Every verdict, each at the step that gives it, with P-256 test keys from swift-crypto.
@Suite("Card code verification: every verdict")
struct VerificationTests {
    static let key = P256TestKey(keyID: Array("city-1".utf8))

    /// A status list where index 5 is valid, 6 revoked (1), 7 suspended (2).
    static func statusList(uri: String = Fixtures.statusURI) -> StatusListToken {
        var list = StatusList(bits: 2, count: 16)
        list.set(6, to: 1)
        list.set(7, to: 2)
        do {
            return try StatusListToken(
                uri: uri, issuedAt: Fixtures.now - 100, expiresAt: Fixtures.now + 3_600, timeToLiveSeconds: 600,
                list: list)
        } catch { preconditionFailure("fixture status list: \(error)") }
    }

    static func code(_ claims: CardCodeClaims = Fixtures.claims(), key: P256TestKey = key) -> String {
        code(payload: claims.encoded(), key: key)
    }

    static func code(payload: [UInt8], key: P256TestKey = key, algorithm: Int64 = -7) -> String {
        CardCodeText.encode(COSESign1.sign(payload: payload, algorithm: algorithm, keyID: key.keyID) { key.sign($0) })
    }

    static func verifier(now: Int64 = Fixtures.now, statusList: StatusListToken? = statusList()) -> CodeVerifier {
        CodeVerifier(
            keys: key.lookup, statusList: statusList, nowSeconds: now, leewaySeconds: 30, lifetimeMaxSeconds: 300)
    }

    @Test func validCode() {
        let result = Self.verifier().verify(Self.code())
        #expect(
            result
                == CodeVerification(
                    verdict: .valid, claims: Fixtures.claims(), algorithm: .es256, keyID: Self.key.keyID))
        // Offline, without a status list.
        #expect(Self.verifier(statusList: nil).verify(Self.code()).verdict == .valid)
    }

    @Test func malformedTextGivesNothingElse() {
        for text in [
            "", "CC1:", "HC1:NCFOXN%TS3DH", "CC1:bb8", "CC1:" + Base45.encode([1, 2, 3]),
            String(repeating: "A", count: 5_000),
        ] {
            #expect(Self.verifier().verify(text) == CodeVerification(verdict: .malformed))
        }
    }

    @Test func unknownKeyAndUnknownAlgorithm() {
        let stranger = P256TestKey(keyID: Array("city-9".utf8))
        let result = Self.verifier().verify(Self.code(key: stranger))
        #expect(result == CodeVerification(verdict: .unknownKey, algorithm: .es256, keyID: stranger.keyID))
        // ES384 (-35) is no algorithm of this system: no key can be found for it.
        let es384 = Self.verifier().verify(Self.code(payload: Fixtures.claims().encoded(), algorithm: -35))
        #expect(es384 == CodeVerification(verdict: .unknownKey, algorithm: nil, keyID: Self.key.keyID))
        // SM2 with the P-256 key's id: the lookup is by algorithm and key id.
        #expect(
            Self.verifier().verify(Self.code(payload: Fixtures.claims().encoded(), algorithm: -70_001)).verdict
                == .unknownKey)
    }

    @Test func badSignature() {
        let impostor = P256TestKey(keyID: Self.key.keyID)
        let result = Self.verifier().verify(Self.code(key: impostor))
        #expect(result == CodeVerification(verdict: .badSignature, algorithm: .es256, keyID: Self.key.keyID))
        // A payload changed after signing.
        let signed = COSESign1.sign(payload: Fixtures.claims().encoded(), algorithm: .es256, keyID: Self.key.keyID) {
            Self.key.sign($0)
        }
        let tampered = COSESign1.sign(
            payload: Fixtures.claims(cardStatus: .active, portraitHash: nil).encoded(), algorithm: .es256,
            keyID: Self.key.keyID
        ) { _ in signed.signature }
        #expect(Self.verifier().verify(CardCodeText.encode(tampered)).verdict == .badSignature)
        // Garbage that is not even an r‖s pair.
        let garbage = COSESign1.sign(payload: [], algorithm: .es256, keyID: Self.key.keyID) { _ in [1, 2, 3] }
        #expect(Self.verifier().verify(CardCodeText.encode(garbage)).verdict == .badSignature)
    }

    /// Well signed, but the payload is not valid claims.
    @Test func malformedClaims() {
        let result = Self.verifier().verify(Self.code(payload: CBOR.map([]).encoded()))
        #expect(result == CodeVerification(verdict: .malformed, algorithm: .es256, keyID: Self.key.keyID))
        #expect(Self.verifier().verify(Self.code(payload: [0xFF])).verdict == .malformed)
    }

    @Test func timesAtTheirEdges() {
        let now = Fixtures.now
        func verdict(issuedAt: Int64, expiresAt: Int64) -> CodeVerdict {
            Self.verifier().verify(Self.code(Fixtures.claims(issuedAt: issuedAt, expiresAt: expiresAt))).verdict
        }
        // Expiry, with 30 s of leeway: expired once now - 30 >= exp.
        #expect(verdict(issuedAt: now - 200, expiresAt: now - 29) == .valid)
        #expect(verdict(issuedAt: now - 200, expiresAt: now - 30) == .expired)
        #expect(verdict(issuedAt: now - 290, expiresAt: now - 1) == .valid)
        // Issued in the future beyond the leeway.
        #expect(verdict(issuedAt: now + 30, expiresAt: now + 90) == .valid)
        #expect(verdict(issuedAt: now + 31, expiresAt: now + 90) == .malformed)
        // Lifetime: at most 300 s, and exp after iat.
        #expect(verdict(issuedAt: now - 10, expiresAt: now + 290) == .valid)
        #expect(verdict(issuedAt: now - 10, expiresAt: now + 291) == .malformed)
        #expect(verdict(issuedAt: now, expiresAt: now) == .malformed)
        #expect(verdict(issuedAt: now, expiresAt: now - 1) == .malformed)
        // A code both too long-lived and expired is malformed: the shape is judged before the time.
        #expect(verdict(issuedAt: 0, expiresAt: 1_000) == .malformed)
        #expect(verdict(issuedAt: 0, expiresAt: 100) == .expired)
    }

    @Test func revokedByTheCardStatusAtSigning() {
        for status in CardStatusAtSigning.allCases where status != .active {
            let result = Self.verifier().verify(Self.code(Fixtures.claims(cardStatus: status)))
            #expect(result.verdict == .revoked)
            #expect(result.claims?.cardStatus == status)
        }
    }

    @Test func revokedOrSuspendedInTheStatusList() {
        #expect(Self.verifier().verify(Self.code(Fixtures.claims(index: 6))).verdict == .revoked)
        #expect(Self.verifier().verify(Self.code(Fixtures.claims(index: 7))).verdict == .revoked)
        #expect(Self.verifier().verify(Self.code(Fixtures.claims(index: 15))).verdict == .valid)
        // Expiry comes before revocation (the draft: token rules first).
        let expired = Fixtures.claims(issuedAt: Fixtures.now - 200, expiresAt: Fixtures.now - 100, index: 6)
        #expect(Self.verifier().verify(Self.code(expired)).verdict == .expired)
    }

    @Test func statusOutsideTheListOrInAnotherListIsMalformed() {
        #expect(Self.verifier().verify(Self.code(Fixtures.claims(index: 16))).verdict == .malformed)
        #expect(Self.verifier().verify(Self.code(Fixtures.claims(index: .max))).verdict == .malformed)
        let otherList = Fixtures.claims(uri: "https://card.example.gov.cn/status/2")
        let result = Self.verifier().verify(Self.code(otherList))
        #expect(result.verdict == .malformed)
        #expect(result.claims == otherList)
        // Without a list, the reference is not looked at.
        #expect(Self.verifier(statusList: nil).verify(Self.code(Fixtures.claims(index: .max))).verdict == .valid)
    }

    @Test func verdictCodesAreStable() throws {
        #expect(
            CodeVerdict.allCases.map(\.rawValue) == [
                "valid", "expired", "bad_signature", "unknown_key", "revoked", "malformed",
            ])
    }

    /// One character of a valid code's text changed: valid only when the text still carries the
    /// very message that was signed (zlib ignores the padding bits of its last byte), never a trap.
    @Test func damagedCodesAreNeverValidForAnotherMessage() async throws {
        let code = Self.code()
        let original = try CardCodeText.decode(code)
        let verifier = Self.verifier()
        let input = zip(Gen.int(in: 4...10_000), Gen.element(of: Base45.alphabet))
        await propertyCheck(count: 500, input: input) { position, replacement in
            var damaged = Array(code.utf8)
            damaged[4 + position % (damaged.count - 4)] = replacement ?? UInt8(ascii: "0")
            let text = String(decoding: damaged, as: UTF8.self)
            if verifier.verify(text).verdict == .valid { #expect((try? CardCodeText.decode(text)) == original) }
        }
    }
}

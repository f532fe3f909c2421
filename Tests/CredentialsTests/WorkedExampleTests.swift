import CardCrypto
import Foundation
import Testing

@testable import Credentials

/// The worked example of docs/electronic-card.md, byte by byte: the key, the claims, the bytes
/// signed, the signature and the QR text. An independent verifier can redo each step with
/// standard libraries; this test redoes them with ours.
@Suite("The documented worked example")
struct WorkedExampleTests {
    /// GM/T 0003.5's example private key (never a real city's).
    static let scalar = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    static let issuedAt: Int64 = 1_796_601_600  // 2026-12-07T00:00:00Z

    static func claims() throws -> CardCodeClaims {
        try CardCodeClaims(
            issuer: "CN-330900", issuedAt: issuedAt, expiresAt: issuedAt + 180, codeID: Array(0..<16),
            status: try StatusListReference(
                index: 7, uri: "https://card.example.gov.cn/api/v1/credentials/status-list"),
            asn: "33090001000000000001", cardNumber: "3309000000010", cardStatus: .active, maskedName: "肖*岚",
            portraitHash: nil)
    }

    static let point =
        "0409F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020CCEA490CE26775A52DC6EA718CC1AA"
        + "600AED05FBF35E084A6632F6072DA9AD13"
    static let keyID = "7AD64964540082DD"
    static let claimsHex =
        "A90169434E2D333330393030041A6B15F7B4061A6B15F7000750000102030405060708090A0B0C0D0E0F19FFFFA16B73"
        + "74617475735F6C697374A2636964780763757269783A68747470733A2F2F636172642E6578616D706C652E676F762E63"
        + "6E2F6170692F76312F63726564656E7469616C732F7374617475732D6C6973743A000111707433333039303030313030"
        + "303030303030303030313A000111716D333330393030303030303031303A00011172003A0001117367E882962AE5B29A"
    static let protectedHex = "A2013A0001117004487AD64964540082DD"
    static let toBeSignedHex =
        "846A5369676E61747572653151A2013A0001117004487AD64964540082DD4058C0A90169434E2D333330393030041A6B"
        + "15F7B4061A6B15F7000750000102030405060708090A0B0C0D0E0F19FFFFA16B7374617475735F6C697374A263696478"
        + "0763757269783A68747470733A2F2F636172642E6578616D706C652E676F762E636E2F6170692F76312F63726564656E"
        + "7469616C732F7374617475732D6C6973743A000111707433333039303030313030303030303030303030313A00011171"
        + "6D333330393030303030303031303A00011172003A0001117367E882962AE5B29A"
    static let signatureHex =
        "2325BD775CD5C82E5CF1F2BE6CC8084258B70241EDEEA1668E0C09E8FC5CD0ADD0628E7AB315D963A4C6746241C263CA"
        + "86BC1CEBA1F0559E8C4846129539103E"
    static let coseHex =
        "D28451A2013A0001117004487AD64964540082DDA058C0A90169434E2D333330393030041A6B15F7B4061A6B15F70007"
        + "50000102030405060708090A0B0C0D0E0F19FFFFA16B7374617475735F6C697374A2636964780763757269783A687474"
        + "70733A2F2F636172642E6578616D706C652E676F762E636E2F6170692F76312F63726564656E7469616C732F73746174"
        + "75732D6C6973743A000111707433333039303030313030303030303030303030313A000111716D333330393030303030"
        + "303031303A00011172003A0001117367E882962AE5B29A58402325BD775CD5C82E5CF1F2BE6CC8084258B70241EDEEA1"
        + "668E0C09E8FC5CD0ADD0628E7AB315D963A4C6746241C263CA86BC1CEBA1F0559E8C4846129539103E"
    static let text =
        "CC1:NCFOXNMG2FDH.MHWEAPCGMWKHNJ7G9%P8G.R*62G+AP-C4%VND3PK3KD3%CMU$CY1GZNO:D4*DR323ZIJCDBDORNA7OLN1GF2RV7 4ZCWZBJSVBK7BSHB 7KGDBNNMIA7P-K6 7+YMSWMPH5S K1FK4I9U:7$HMQX8K+M$C6-24RYAC 7IS91B7F28+345BON6AFINFW6IZ6.P4LC6E6BQKC6-5VR2IRHN746J3SD3-8GD89Q360E5B 2900PU2SCG5VSP.2GYQD1KPLJPNSS$LI7NT8TIA1+CJ0AKA1T GS*OH:6QELVP1SHZMB+3U/2OICV$L-DI/3BXGBT0DZMI5W4$0IFMI/:MQHIO0OEQ88ZNP-1UJKH/ID-EGUPCLC"

    @Test("each step of the documented example gives the documented bytes, and the code verifies")
    func example() throws {
        let key = try CredentialSigningKey(algorithm: .sm2sm3, scalar: try Hex.decode(Self.scalar))
        #expect(Hex.encode(key.publicKey.point) == Self.point)
        #expect(Hex.encode(key.publicKey.keyID) == Self.keyID)
        let claims = try Self.claims()
        #expect(Hex.encode(claims.encoded()) == Self.claimsHex)
        // SM2 signatures are randomised: the documented one is checked, and a new one is made
        // over the same bytes.
        let sign1 = try COSESign1.decode(try Hex.decode(Self.coseHex))
        #expect(Hex.encode(sign1.protectedHeader) == Self.protectedHex)
        #expect(Hex.encode(sign1.toBeSigned()) == Self.toBeSignedHex)
        #expect(Hex.encode(sign1.signature) == Self.signatureHex)
        #expect(key.publicKey.isValid(signature: sign1.signature, for: sign1.toBeSigned()))
        #expect(try CardCodeClaims(payload: sign1.payload) == claims)
        let fresh = try COSESign1.sign(payload: claims.encoded(), algorithm: .sm2sm3, keyID: key.publicKey.keyID) {
            (message: [UInt8]) throws(CredentialKeyError) -> [UInt8] in try key.sign(message)
        }
        #expect(Hex.encode(fresh.toBeSigned()) == Self.toBeSignedHex)
        #expect(key.publicKey.isValid(signature: fresh.signature, for: fresh.toBeSigned()))
        #expect(CardCodeText.encode(sign1) == Self.text)
        #expect(try CardCodeText.decode(Self.text) == sign1)
        let at = { (seconds: Int64) in
            CodeVerifier(
                keys: { $0 == .sm2sm3 && $1 == key.publicKey.keyID ? key.publicKey : nil }, nowSeconds: seconds,
                leewaySeconds: 30, lifetimeMaxSeconds: 180)
        }
        let verified = at(Self.issuedAt + 60).verify(Self.text)
        #expect(verified.verdict == .valid)
        #expect(verified.claims == claims)
        #expect(at(Self.issuedAt + 240).verify(Self.text).verdict == .expired)
    }
}

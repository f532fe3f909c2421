import Credentials
import Crypto
import Foundation

/// Lowercase hex, no separators.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// The bytes of a hex string; whitespace is ignored. A malformed test vector is a bug in the test.
func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace }.utf8)
    precondition(digits.count % 2 == 0, "odd number of hex digits in a test vector")
    return stride(from: 0, to: digits.count, by: 2).map { offset in
        guard let byte = UInt8(String(decoding: digits[offset...offset + 1], as: UTF8.self), radix: 16) else {
            preconditionFailure("not hex in a test vector")
        }
        return byte
    }
}

/// A P-256 key from swift-crypto, independent of the module's own signing code: signs with raw
/// r‖s signatures, as COSE's ES256 writes them.
struct P256TestKey: Sendable {
    let privateKey: P256.Signing.PrivateKey
    let keyID: [UInt8]

    init(keyID: [UInt8], privateKey: P256.Signing.PrivateKey = P256.Signing.PrivateKey()) {
        self.privateKey = privateKey
        self.keyID = keyID
    }

    var checker: P256TestChecker { P256TestChecker(publicKey: privateKey.publicKey) }

    func sign(_ message: [UInt8]) -> [UInt8] {
        do {
            return Array(try privateKey.signature(for: message).rawRepresentation)
        } catch {
            preconditionFailure("P-256 signing failed: \(error)")
        }
    }

    /// Finds this key (and only this key) for ES256.
    var lookup: CodeVerifier.KeyLookup {
        let checker = checker
        let keyID = keyID
        return { algorithm, id in algorithm == .es256 && id == keyID ? checker : nil }
    }
}

struct P256TestChecker: SignatureChecker {
    let publicKey: P256.Signing.PublicKey

    /// From the JWK's x and y, as hex.
    init(x: String, y: String) {
        do {
            publicKey = try P256.Signing.PublicKey(rawRepresentation: bytes(x) + bytes(y))
        } catch {
            preconditionFailure("bad test public key: \(error)")
        }
    }

    init(publicKey: P256.Signing.PublicKey) { self.publicKey = publicKey }

    func isValid(signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return publicKey.isValidSignature(parsed, for: message)
    }
}

/// A checker that accepts everything: to reach the steps after the signature with hand-made input.
struct AcceptingChecker: SignatureChecker {
    func isValid(signature: [UInt8], for message: [UInt8]) -> Bool { true }
}

enum Fixtures {
    static let now: Int64 = 1_780_000_000
    static let statusURI = "https://card.example.gov.cn/status/1"
    static let codeID: [UInt8] = Array(0..<16)
    static let portraitHash: [UInt8] = Array(repeating: 0xAB, count: 32)

    static func claims(
        issuedAt: Int64 = now - 10, expiresAt: Int64 = now + 110, index: UInt64 = 5,
        uri: String = statusURI, cardStatus: CardStatusAtSigning = .active, portraitHash: [UInt8]? = portraitHash
    ) -> CardCodeClaims {
        do {
            return try CardCodeClaims(
                issuer: "CN-330100", issuedAt: issuedAt, expiresAt: expiresAt, codeID: codeID,
                status: StatusListReference(index: index, uri: uri), asn: "33090001000000000042",
                cardNumber: "330100D156000005", cardStatus: cardStatus, maskedName: "张*明",
                portraitHash: portraitHash)
        } catch {
            preconditionFailure("fixture claims are invalid: \(error)")
        }
    }
}

public import Foundation
public import Crypto

/// Encrypts personal data at rest with AES-256-GCM.
///
/// Sealed layout: `0x01` (format) ‖ key-id length (1 byte) ‖ key id (UTF-8) ‖ nonce (12) ‖
/// ciphertext ‖ tag (16). The key id travels with every ciphertext so that keys can be rotated:
/// new data is sealed with the current key, old data opens with the key it names.
///
/// Every seal binds associated data (e.g. `person:<id>`), so a ciphertext copied to another row
/// or column does not open.
public struct Sealer: Sendable {
    public let keyRing: KeyRing

    public init(keyRing: KeyRing) { self.keyRing = keyRing }

    static let format: UInt8 = 0x01

    public func seal(_ plaintext: some DataProtocol, context: String) throws -> Data {
        let key = keyRing.current
        let box = try AES.GCM.seal(plaintext, using: key.symmetricKey, authenticating: Data(context.utf8))
        let keyID = Data(key.id.utf8)
        var out = Data(capacity: 2 + keyID.count + 12 + plaintext.count + 16)
        out.append(Sealer.format)
        out.append(UInt8(keyID.count))
        out.append(keyID)
        out.append(contentsOf: box.nonce)
        out.append(box.ciphertext)
        out.append(box.tag)
        return out
    }

    public func open(_ sealed: Data, context: String) throws(DataProtectionError) -> Data {
        let bytes = [UInt8](sealed)
        guard bytes.count >= 2 + 12 + 16, bytes[0] == Sealer.format else { throw .malformedCiphertext }
        let idLength = Int(bytes[1])
        guard bytes.count >= 2 + idLength + 12 + 16 else { throw .malformedCiphertext }
        let keyID = String(decoding: bytes[2..<(2 + idLength)], as: UTF8.self)
        guard let key = keyRing.key(id: keyID) else { throw .unknownKey(keyID) }
        let nonceStart = 2 + idLength
        let bodyStart = nonceStart + 12
        let tagStart = bytes.count - 16
        do {
            let box = try AES.GCM.SealedBox(
                nonce: AES.GCM.Nonce(data: bytes[nonceStart..<bodyStart]),
                ciphertext: bytes[bodyStart..<tagStart], tag: bytes[tagStart...])
            return try AES.GCM.open(box, using: key.symmetricKey, authenticating: Data(context.utf8))
        } catch {
            throw .authenticationFailed
        }
    }

    /// The key id a ciphertext was sealed with (for rotation reports), or nil if malformed.
    public static func keyID(of sealed: Data) -> String? {
        guard sealed.count >= 2, sealed.first == format else { return nil }
        let length = Int(sealed[sealed.startIndex + 1])
        guard sealed.count >= 2 + length else { return nil }
        return String(decoding: sealed[(sealed.startIndex + 2)..<(sealed.startIndex + 2 + length)], as: UTF8.self)
    }
}

public enum DataProtectionError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformedCiphertext
    case unknownKey(String)
    case authenticationFailed
    case keyFile(String)

    public var description: String {
        switch self {
        case .malformedCiphertext: "sealed value is malformed"
        case .unknownKey(let id): "sealed with key '\(id)', which is not in the key ring"
        case .authenticationFailed: "sealed value failed authentication (wrong key, context or tampered)"
        case .keyFile(let detail): "key file: \(detail)"
        }
    }
}

/// Keyed one-way digests of personal data: the blind index through which a person is found by
/// ID number without storing the number in clear, and fingerprints that tell whether two records
/// hold the same data.
public struct BlindIndex: Sendable {
    /// HMAC state after the key is absorbed; copying it saves the key setup for every digest.
    let keyed: HMAC<SHA256>

    public init(key: SymmetricKey) { self.keyed = HMAC<SHA256>(key: key) }

    /// 16 bytes of HMAC-SHA256 over the normalised resident ID number.
    public func residentID(_ number: String) -> Data {
        digest(domain: "rid", Data(number.uppercased().utf8))
    }

    /// 16 bytes of HMAC-SHA256 over arbitrary bytes in a named domain (e.g. `fp` for fingerprints).
    public func digest(domain: String, _ bytes: some DataProtocol) -> Data {
        var hmac = keyed
        hmac.update(data: Data(domain.utf8))
        hmac.update(data: [0])
        hmac.update(data: bytes)
        return Data(hmac.finalize().prefix(16))
    }
}

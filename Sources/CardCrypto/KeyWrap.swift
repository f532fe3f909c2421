/// A card key wrapped for the card factory: the 16 key bytes encrypted under the transport key
/// (KEK) with 2-key 3DES in ECB mode, two blocks, and the key's check value (the first 3 bytes of
/// the key encrypting 8 zero bytes) so that the factory's HSM can check each key it unwraps. The
/// usual form of card keys in a PBOC personalisation file.
public struct WrappedKey: Sendable, Hashable, Codable {
    /// 32 hex digits: E_KEK(key[0..<8]) ‖ E_KEK(key[8..<16]).
    public var wrapped: String
    /// 6 hex digits.
    public var checkValue: String

    public init(wrapped: String, checkValue: String) {
        self.wrapped = wrapped
        self.checkValue = checkValue
    }
}

public enum KeyWrap {
    /// Wraps a 16-byte `key` under the 16-byte `kek`.
    public static func wrap(
        _ key: SecretKey, kek: SecretKey, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> WrappedKey {
        guard key.byteCount == 16 else { throw .invalidKeyLength(algorithm: "wrapped key", byteCount: key.byteCount) }
        let bytes = key.bytes
        let first = try engine.encrypt(Array(bytes[0..<8]), algorithm: .tripleDES, key: kek)
        let second = try engine.encrypt(Array(bytes[8..<16]), algorithm: .tripleDES, key: kek)
        return WrappedKey(wrapped: Hex.encode(first + second), checkValue: Hex.encode(try key.checkValue(.tripleDES)))
    }

    /// Unwraps and checks the check value.
    /// - Throws: `invalidValue` for a malformed wrap, `macMismatch` when the check value differs
    ///   (wrong transport key or a damaged file).
    public static func unwrap(
        _ wrapped: WrappedKey, kek: SecretKey, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        let bytes = try Hex.decode(wrapped.wrapped, field: "wrapped key")
        guard bytes.count == 16 else { throw .invalidLength(field: "wrapped key", expected: 16, actual: bytes.count) }
        let first = try engine.decrypt(Array(bytes[0..<8]), algorithm: .tripleDES, key: kek)
        let second = try engine.decrypt(Array(bytes[8..<16]), algorithm: .tripleDES, key: kek)
        let key = try SecretKey(bytes: first + second)
        guard Hex.encode(try key.checkValue(.tripleDES)) == wrapped.checkValue.uppercased() else {
            throw .macMismatch(what: "key check value")
        }
        return key
    }
}

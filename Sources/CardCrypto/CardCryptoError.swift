/// Every operating error of CardCrypto. Descriptions name the field and the lengths involved but
/// never carry key bytes, MAC inputs or other card data.
///
/// Precedence when several apply to one call: an input that cannot be parsed (`invalidHex`,
/// `invalidLength`, `invalidKeyLength`, `invalidBlockLength`, `invalidValue`) is reported before a
/// lookup fails (`unsupportedAlgorithm`, `unknownKey`), which is reported before a cryptographic
/// check fails (`macMismatch`). `openSSL` and `randomUnavailable` mean the library itself failed.
public enum CardCryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A key whose length the algorithm does not accept (e.g. 8 bytes for SM4).
    case invalidKeyLength(algorithm: String, byteCount: Int)
    /// A block whose length is not the algorithm's block size.
    case invalidBlockLength(algorithm: String, byteCount: Int)
    /// A fixed-length field (terminal id, ASN, factor, MAC, IV …) of the wrong length.
    case invalidLength(field: String, expected: Int, actual: Int)
    /// A hexadecimal string that is not an even number of hex digits.
    case invalidHex(field: String)
    /// A field with the right length but an impossible value (an amount above 4 bytes, a date that
    /// is not BCD, a negative balance).
    case invalidValue(field: String, reason: String)
    /// A purse algorithm id for which no strategy is registered.
    case unsupportedAlgorithm(id: UInt8)
    /// A master key that the issuer keyring does not hold.
    case unknownKey(type: MasterKeyType, version: UInt8)
    /// A MAC or TAC that does not match the recomputed value (`what` is e.g. "load MAC1").
    case macMismatch(what: String)
    /// OpenSSL refused an operation; the text is OpenSSL's error string, which holds no data.
    case openSSL(operation: String, detail: String)
    /// OpenSSL's random generator could not produce key material.
    case randomUnavailable
    /// The keyring file cannot be read or written, or is readable by others.
    case keyFile(String)

    public var description: String {
        switch self {
        case .invalidKeyLength(let algorithm, let count): "\(algorithm) does not take a \(count)-byte key"
        case .invalidBlockLength(let algorithm, let count): "\(algorithm) does not take a \(count)-byte block"
        case .invalidLength(let field, let expected, let actual): "\(field) must be \(expected) bytes, not \(actual)"
        case .invalidHex(let field): "\(field) is not an even number of hexadecimal digits"
        case .invalidValue(let field, let reason): "\(field): \(reason)"
        case .unsupportedAlgorithm(let id): "no purse algorithm is registered for algorithm id \(hexByte(id))"
        case .unknownKey(let type, let version): "the keyring holds no \(type.rawValue) key version \(hexByte(version))"
        case .macMismatch(let what): "\(what) does not match"
        case .openSSL(let operation, let detail): "OpenSSL \(operation) failed: \(detail)"
        case .randomUnavailable: "OpenSSL's random generator failed"
        case .keyFile(let detail): "card keyring file: \(detail)"
        }
    }
}

func hexByte(_ byte: UInt8) -> String { Hex.encode([byte]) }

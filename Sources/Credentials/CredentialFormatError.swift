/// Why bytes or a text are not a well-formed credential: a card code, its COSE_Sign1 envelope, its
/// claims, a status list or a status list token. Every case is what the verifier reports as
/// `malformed`; none says anything about signatures or keys.
///
/// Descriptions name the layer and the rule, never the content (no names, numbers or ASNs).
public enum CredentialFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The bytes are not CBOR this module accepts.
    case cbor(CBORError)
    /// The text after the prefix is not Base45.
    case base45(Base45Error)
    /// The zlib data does not inflate within the limit.
    case deflate(DeflateError)
    /// A card code text that does not start with `CardCodeText.prefix`.
    case missingPrefix
    /// A card code text longer than its limit.
    case textTooLong(characterCount: Int)
    /// Not a COSE_Sign1: another tag than 18, not an array of four, or members of the wrong types.
    case notCOSESign1(reason: String)
    /// A COSE header that breaks a rule: no algorithm, an algorithm that is not an integer, a label
    /// in both buckets, a `crit` parameter, a parameter of the wrong type.
    case invalidHeader(reason: String)
    /// A claims set (or status list token claims) that is not a map.
    case claimsNotAMap
    /// A required claim is absent. `key` is the CWT claim key.
    case missingClaim(key: Int64)
    /// A claim of the wrong type or out of its range. `key` is the CWT claim key.
    case invalidClaim(key: Int64, reason: String)
    /// A status list whose `bits` is not 1, 2, 4 or 8, or whose content breaks a limit.
    case invalidStatusList(reason: String)

    public var description: String {
        switch self {
        case .cbor(let error): "malformed CBOR: \(error)"
        case .base45(let error): "malformed Base45: \(error)"
        case .deflate(let error): "malformed compressed data: \(error)"
        case .missingPrefix: "not a card code: the prefix is missing"
        case .textTooLong(let count): "card code of \(count) characters is longer than the limit"
        case .notCOSESign1(let reason): "not a COSE_Sign1: \(reason)"
        case .invalidHeader(let reason): "invalid COSE header: \(reason)"
        case .claimsNotAMap: "the claims are not a CBOR map"
        case .missingClaim(let key): "claim \(key) is missing"
        case .invalidClaim(let key, let reason): "claim \(key) is invalid: \(reason)"
        case .invalidStatusList(let reason): "invalid status list: \(reason)"
        }
    }
}

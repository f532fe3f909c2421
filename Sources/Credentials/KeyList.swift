/// The city's published key list: the public keys that verify card codes and status lists, with
/// their validity, signed by the key-list key (the anchor verifiers hold beforehand).
///
/// A COSE_Sign1 (tag 18) with protected typ `application/citizencard-keys+cwt` and a claims map:
///
/// | key | claim | CBOR |
/// |---|---|---|
/// | 1 | iss: the city (`CN-330900`) | text |
/// | 6 | iat, seconds since 1970 | uint |
/// | 4 | exp: a verifier refuses the list after it | uint |
/// | -70101 | keys: an array of COSE_Key maps (RFC 9052 §7) | array |
///
/// Each COSE_Key: 1 kty 2 (EC2); 2 kid (bstr, 8 bytes); 3 alg (-7 ES256 or -70001 SM2-SM3);
/// -1 crv (1 P-256, or -70001 for the SM2 curve, which has no IANA value); -2 x and -3 y
/// (32 bytes each); -70102 nbf and -70103 the time after which the key verifies no more (absent
/// while it signs).
public struct KeyList: Sendable, Hashable {
    public static let type = "application/citizencard-keys+cwt"

    public enum Key {
        public static let issuer: Int64 = 1
        public static let expiresAt: Int64 = 4
        public static let issuedAt: Int64 = 6
        public static let keys: Int64 = -70_101
        public static let notBefore: Int64 = -70_102
        public static let notAfter: Int64 = -70_103
    }

    /// The COSE_Key curve value of SM2 (private use: no IANA value exists).
    public static let sm2Curve: Int64 = -70_001
    /// The most keys a list may hold.
    public static let keyCountMax = 64

    public struct Entry: Sendable, Hashable {
        public var key: CredentialPublicKey
        public var notBefore: Int64
        public var notAfter: Int64?

        public init(key: CredentialPublicKey, notBefore: Int64, notAfter: Int64?) {
            self.key = key
            self.notBefore = notBefore
            self.notAfter = notAfter
        }
    }

    public var issuer: String
    public var issuedAt: Int64
    public var expiresAt: Int64
    public var keys: [Entry]

    public init(issuer: String, issuedAt: Int64, expiresAt: Int64, keys: [Entry]) {
        self.issuer = issuer
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.keys = keys
    }

    func claims() -> CBOR {
        let keys: [CBOR] = keys.map { entry in
            let point = entry.key.point
            var pairs: [(CBOR, CBOR)] = [
                (1, 2), (2, .byteString(entry.key.keyID)), (3, CBOR(entry.key.algorithm.rawValue)),
                (-1, CBOR(entry.key.algorithm == .es256 ? 1 : Self.sm2Curve)),
                (-2, .byteString(Array(point[1..<33]))), (-3, .byteString(Array(point[33..<65]))),
                (CBOR(Key.notBefore), CBOR(entry.notBefore)),
            ]
            if let notAfter = entry.notAfter { pairs.append((CBOR(Key.notAfter), CBOR(notAfter))) }
            return .orderedMap(pairs)
        }
        return .orderedMap([
            (CBOR(Key.issuer), .textString(issuer)), (CBOR(Key.issuedAt), CBOR(issuedAt)),
            (CBOR(Key.expiresAt), CBOR(expiresAt)), (CBOR(Key.keys), .array(keys)),
        ])
    }

    /// The list signed by the anchor.
    public func sign(with anchor: CredentialSigningKey) throws(CredentialKeyError) -> COSESign1 {
        try COSESign1.sign(
            payload: claims().encoded(), algorithm: anchor.algorithm, keyID: anchor.publicKey.keyID, type: Self.type
        ) { (message: [UInt8]) throws(CredentialKeyError) -> [UInt8] in try anchor.sign(message) }
    }

    public enum VerificationError: Error, Hashable, Sendable, CustomStringConvertible {
        case malformed(String)
        /// Not signed by the anchor given.
        case badSignature
        /// Past its expiry.
        case expired

        public var description: String {
            switch self {
            case .malformed(let why): "not a key list: \(why)"
            case .badSignature: "the key list is not signed by the anchor"
            case .expired: "the key list has expired; fetch a newer one"
            }
        }
    }

    /// Reads a signed key list, checks it against the anchor and the time, and returns it.
    public static func verify(
        _ bytes: [UInt8], anchor: CredentialPublicKey, nowSeconds: Int64
    ) throws(VerificationError) -> KeyList {
        let sign1: COSESign1
        do {
            sign1 = try COSESign1.decode(bytes)
        } catch {
            throw .malformed("\(error)")
        }
        guard sign1.type == type, sign1.credentialAlgorithm == anchor.algorithm, sign1.keyID == anchor.keyID,
            anchor.isValid(signature: sign1.signature, for: sign1.toBeSigned())
        else { throw .badSignature }
        let list = try parse(sign1.payload)
        guard nowSeconds < list.expiresAt else { throw .expired }
        return list
    }

    static func parse(_ payload: [UInt8]) throws(VerificationError) -> KeyList {
        guard let claims = try? CBOR(decoding: payload), let issuer = claims[Key.issuer]?.text,
            let issuedAt = claims[Key.issuedAt]?.int64, let expiresAt = claims[Key.expiresAt]?.int64,
            let items = claims[Key.keys]?.items, items.count <= keyCountMax
        else { throw .malformed("claims") }
        var keys: [Entry] = []
        for item in items {
            guard item[1]?.int64 == 2, let alg = item[3]?.int64, let algorithm = CredentialAlgorithm(rawValue: alg),
                let x = item[-2]?.bytes, let y = item[-3]?.bytes, x.count == 32, y.count == 32,
                let notBefore = item[Key.notBefore]?.int64,
                let key = try? CredentialPublicKey(algorithm: algorithm, point: [4] + x + y),
                item[2]?.bytes == key.keyID
            else { throw .malformed("a key") }
            keys.append(Entry(key: key, notBefore: notBefore, notAfter: item[Key.notAfter]?.int64))
        }
        return KeyList(issuer: issuer, issuedAt: issuedAt, expiresAt: expiresAt, keys: keys)
    }

    /// The key that verifies a code signed with `algorithm` and `keyID` at `nowSeconds`.
    public func checker(_ algorithm: CredentialAlgorithm, _ keyID: [UInt8], nowSeconds: Int64) -> CredentialPublicKey? {
        keys.first {
            $0.key.algorithm == algorithm && $0.key.keyID == keyID && $0.notBefore <= nowSeconds
                && ($0.notAfter.map { nowSeconds < $0 } ?? true)
        }?.key
    }
}

extension CredentialPublicKey: SignatureChecker {}

/// A Status List Token in CWT form (draft-ietf-oauth-status-list-20, §5.2): a status list signed by
/// the city, published at its URI for verifiers to fetch.
///
/// A COSE_Sign1 tagged 18 (not tagged 61 as a CWT: the draft forbids it) whose protected header
/// holds alg, kid and typ `application/statuslist+cwt`, and whose payload is the claims map:
///
/// | key | claim | CBOR |
/// |---|---|---|
/// | 2 | sub: the list's URI, equal to the `uri` of the cards' status claims | text |
/// | 4 | exp: expiry, seconds since 1970 (optional on read, always written) | uint |
/// | 6 | iat: signing time, seconds since 1970 | uint |
/// | 65534 | ttl: how long a verifier may cache the token, in seconds, positive (optional) | uint |
/// | 65533 | status_list: `{"bits": 1/2/4/8, "lst": zlib bytes}` | map |
public struct StatusListToken: Hashable, Sendable {
    /// The typ (16) the draft requires in the protected header.
    public static let type = "application/statuslist+cwt"

    /// The claim keys.
    public enum Key {
        public static let subject: Int64 = 2
        public static let expiresAt: Int64 = 4
        public static let issuedAt: Int64 = 6
        public static let timeToLive: Int64 = 65_534
        public static let statusList: Int64 = 65_533
    }

    public let uri: String
    public let issuedAt: Int64
    public let expiresAt: Int64?
    public let timeToLiveSeconds: Int64?
    public let list: StatusList

    /// - Throws: `.invalidClaim` for an empty URI or one above `StatusListReference.uriByteCountMax`
    ///   bytes, a negative time, a time to live that is not positive.
    public init(
        uri: String, issuedAt: Int64, expiresAt: Int64?, timeToLiveSeconds: Int64?, list: StatusList
    ) throws(CredentialFormatError) {
        guard (1...StatusListReference.uriByteCountMax).contains(uri.utf8.count) else {
            throw .invalidClaim(key: Key.subject, reason: "uri must be 1 to 256 bytes")
        }
        guard issuedAt >= 0 else { throw .invalidClaim(key: Key.issuedAt, reason: "negative time") }
        if let expiresAt, expiresAt < 0 { throw .invalidClaim(key: Key.expiresAt, reason: "negative time") }
        if let timeToLiveSeconds, timeToLiveSeconds <= 0 {
            throw .invalidClaim(key: Key.timeToLive, reason: "not positive")
        }
        self.uri = uri
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.timeToLiveSeconds = timeToLiveSeconds
        self.list = list
    }

    /// The claims map.
    public func claims() -> CBOR {
        var pairs: [(CBOR, CBOR)] = [(CBOR(Key.subject), .textString(uri)), (CBOR(Key.issuedAt), CBOR(issuedAt))]
        if let expiresAt { pairs.append((CBOR(Key.expiresAt), CBOR(expiresAt))) }
        if let timeToLiveSeconds { pairs.append((CBOR(Key.timeToLive), CBOR(timeToLiveSeconds))) }
        pairs.append((CBOR(Key.statusList), list.cbor()))
        return .orderedMap(pairs)
    }

    /// The signed token: the claims as payload, typ `application/statuslist+cwt`.
    public func sign<E: Error>(
        algorithm: CredentialAlgorithm, keyID: [UInt8], signer: ([UInt8]) throws(E) -> [UInt8]
    ) throws(E) -> COSESign1 {
        try COSESign1.sign(
            payload: claims().encoded(), algorithm: algorithm, keyID: keyID, type: Self.type, signer: signer)
    }

    /// Reads the claims strictly: sub, iat and status_list required, exp and ttl optional, each of
    /// its type; other claims ignored.
    public init(claims: CBOR, entryCountMax: Int = StatusList.entryCountMaxDefault) throws(CredentialFormatError) {
        guard claims.entries != nil else { throw .claimsNotAMap }
        let reader = ClaimReader(map: claims)
        let uri = try reader.text(Key.subject)
        let issuedAt = try reader.time(Key.issuedAt)
        let expiresAt = try reader.optionalTime(Key.expiresAt)
        let timeToLive = try reader.optionalTime(Key.timeToLive)
        let list = try StatusList(cbor: reader.required(Key.statusList), entryCountMax: entryCountMax)
        try self.init(
            uri: uri, issuedAt: issuedAt, expiresAt: expiresAt, timeToLiveSeconds: timeToLive, list: list)
    }

    /// Decodes `payload` (CBOR within `limits`) and reads the claims from it.
    public init(
        payload: [UInt8], limits: CBORDecodingLimits = CBORDecodingLimits(),
        entryCountMax: Int = StatusList.entryCountMaxDefault
    ) throws(CredentialFormatError) {
        let claims: CBOR
        do { claims = try CBOR(decoding: payload, limits: limits) } catch { throw .cbor(error) }
        try self.init(claims: claims, entryCountMax: entryCountMax)
    }
}

// MARK: - Verification

extension StatusListToken {
    /// Why a fetched status list token is not to be used, in the order of the checks.
    public enum VerificationError: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not a COSE_Sign1, typ is not `application/statuslist+cwt`, or the claims are malformed.
        case malformed(CredentialFormatError)
        /// The algorithm is not one of this system's, or no key has this algorithm and key id.
        case unknownKey
        /// The signature does not verify with the key.
        case badSignature
        /// `sub` is not the URI the verifier fetched.
        case subjectMismatch
        /// `iat` is later than now plus the leeway.
        case issuedInTheFuture
        /// Now minus the leeway is at or after `exp`: the list must not be relied upon any longer.
        case expired

        public var description: String {
            switch self {
            case .malformed(let error): "malformed status list token: \(error)"
            case .unknownKey: "status list token signed by an unknown key"
            case .badSignature: "status list token signature does not verify"
            case .subjectMismatch: "status list token is for another URI"
            case .issuedInTheFuture: "status list token issued in the future"
            case .expired: "status list token has expired"
            }
        }
    }

    /// Decodes and verifies a status list token fetched from `expectedURI`.
    ///
    /// - Parameters:
    ///   - keys: the city's public keys by algorithm and key id.
    ///   - nowSeconds: the current time, seconds since 1970.
    ///   - leewaySeconds: the clock difference tolerated on iat and exp.
    ///   - entryCountMax: the most entries the list may inflate to; the CBOR input is bounded by it.
    /// - Throws: the first failing check, in the order of `VerificationError`'s cases.
    /// - Precondition: `nowSeconds`, `leewaySeconds` and `entryCountMax` not negative.
    public static func verify(
        _ bytes: [UInt8], expectedURI: String, keys: CodeVerifier.KeyLookup, nowSeconds: Int64,
        leewaySeconds: Int64 = 60, entryCountMax: Int = StatusList.entryCountMaxDefault
    ) throws(VerificationError) -> StatusListToken {
        precondition(nowSeconds >= 0 && leewaySeconds >= 0, "time and leeway cannot be negative")
        precondition(entryCountMax >= 0, "entry limit cannot be negative")
        // The compressed list is at most about its raw size, at most one byte per entry.
        let listByteCountMax = min(entryCountMax, 1 << 32)
        let limits = CBORDecodingLimits(byteCountMax: listByteCountMax + listByteCountMax / 1_024 + 4_096)
        let sign1: COSESign1
        do { sign1 = try COSESign1.decode(bytes, limits: limits) } catch { throw .malformed(error) }
        guard sign1.type == type else { throw .malformed(.invalidHeader(reason: "typ is not \(type)")) }
        guard let algorithm = sign1.credentialAlgorithm, let checker = keys(algorithm, sign1.keyID) else {
            throw .unknownKey
        }
        guard checker.isValid(signature: sign1.signature, for: sign1.toBeSigned()) else { throw .badSignature }
        let token: StatusListToken
        do {
            token = try StatusListToken(payload: sign1.payload, limits: limits, entryCountMax: entryCountMax)
        } catch { throw .malformed(error) }
        guard token.uri == expectedURI else { throw .subjectMismatch }
        guard token.issuedAt - leewaySeconds <= nowSeconds else { throw .issuedInTheFuture }
        if let expiresAt = token.expiresAt, nowSeconds - leewaySeconds >= expiresAt { throw .expired }
        return token
    }
}

/// The claims of the dynamic card code: a CWT claims set (RFC 8392) carried as the payload of a
/// COSE_Sign1, with integer claim keys.
///
/// | key | claim | CBOR | rule |
/// |---|---|---|---|
/// | 1 | iss: the issuing city, e.g. `CN-330100` | text | 1–64 bytes |
/// | 4 | exp: expiry, seconds since 1970 | uint | 0…2⁶³ − 1 |
/// | 6 | iat: signing time, seconds since 1970 | uint | 0…2⁶³ − 1 |
/// | 7 | cti: the code's unique id | bytes | 16 bytes |
/// | 65535 | status (Token Status List) | map | `{"status_list": {"idx": uint, "uri": text}}` |
/// | −70001 | the card's ASN | text | 20 hex digits, uppercase |
/// | −70002 | the card number (卡号) | text | 1–32 bytes |
/// | −70003 | the card's status when the code was signed | uint | a `CardStatusAtSigning` |
/// | −70004 | the holder's masked name, e.g. `张*明` | text | 1–64 bytes |
/// | −70005 | SHA-256 of the portrait (optional) | bytes | 32 bytes |
///
/// Keys below −65,536 are the CWT Claims registry's private-use range (RFC 8392 §9.1), so the
/// private claims clash with no registered claim. The status claim follows
/// draft-ietf-oauth-status-list-20 (Token Status List, April 2026), §6.3 "Referenced Token in COSE".
///
/// Guarantee: a value of this type always satisfies the rules of the table (the initialisers
/// check them), so a card code is never signed with claims a verifier would refuse. Reading is
/// strict: a required claim absent or any known claim of the wrong type or out of range is an
/// error. Unknown claims are ignored, as RFC 8392 §7.2 requires. Times are not compared here: the
/// verifier judges them against its clock.
public struct CardCodeClaims: Hashable, Sendable {
    /// The claim keys, as written in the map.
    public enum Key {
        public static let issuer: Int64 = 1
        public static let expiresAt: Int64 = 4
        public static let issuedAt: Int64 = 6
        public static let codeID: Int64 = 7
        public static let status: Int64 = 65_535
        public static let asn: Int64 = -70_001
        public static let cardNumber: Int64 = -70_002
        public static let cardStatus: Int64 = -70_003
        public static let maskedName: Int64 = -70_004
        public static let portraitHash: Int64 = -70_005
    }

    /// The length of `codeID`.
    public static let codeIDByteCount = 16
    /// The length of `portraitHash` (SHA-256).
    public static let portraitHashByteCount = 32

    public let issuer: String
    public let expiresAt: Int64
    public let issuedAt: Int64
    /// 16 random bytes chosen by the caller (this type generates nothing).
    public let codeID: [UInt8]
    public let status: StatusListReference
    public let asn: String
    public let cardNumber: String
    public let cardStatus: CardStatusAtSigning
    public let maskedName: String
    public let portraitHash: [UInt8]?

    /// - Throws: `.invalidClaim` naming the first claim, in the order of the parameters, that breaks
    ///   its rule.
    public init(
        issuer: String, issuedAt: Int64, expiresAt: Int64, codeID: [UInt8], status: StatusListReference,
        asn: String, cardNumber: String, cardStatus: CardStatusAtSigning, maskedName: String,
        portraitHash: [UInt8]? = nil
    ) throws(CredentialFormatError) {
        self.issuer = issuer
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.codeID = codeID
        self.status = status
        self.asn = asn
        self.cardNumber = cardNumber
        self.cardStatus = cardStatus
        self.maskedName = maskedName
        self.portraitHash = portraitHash
        try validate()
    }

    private func validate() throws(CredentialFormatError) {
        try Self.checkText(issuer, key: Key.issuer, byteCountMax: 64)
        try Self.checkTime(issuedAt, key: Key.issuedAt)
        try Self.checkTime(expiresAt, key: Key.expiresAt)
        guard codeID.count == Self.codeIDByteCount else { throw .invalidClaim(key: Key.codeID, reason: "not 16 bytes") }
        try status.validate()
        guard asn.utf8.count == 20, asn.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) })
        else { throw .invalidClaim(key: Key.asn, reason: "not 20 uppercase hex digits") }
        try Self.checkText(cardNumber, key: Key.cardNumber, byteCountMax: 32)
        try Self.checkText(maskedName, key: Key.maskedName, byteCountMax: 64)
        if let portraitHash, portraitHash.count != Self.portraitHashByteCount {
            throw .invalidClaim(key: Key.portraitHash, reason: "not 32 bytes")
        }
    }

    private static func checkText(_ text: String, key: Int64, byteCountMax: Int) throws(CredentialFormatError) {
        guard (1...byteCountMax).contains(text.utf8.count) else {
            throw .invalidClaim(key: key, reason: "text must be 1 to \(byteCountMax) bytes")
        }
    }

    private static func checkTime(_ seconds: Int64, key: Int64) throws(CredentialFormatError) {
        guard seconds >= 0 else { throw .invalidClaim(key: key, reason: "negative time") }
    }
}

/// What the card's record said when the code was signed (claim −70003). The issuer signs codes for
/// active cards only; a verifier treats any other value as revoked.
public enum CardStatusAtSigning: UInt8, Hashable, Sendable, CaseIterable, Codable {
    case active = 0
    /// Reported lost by phone or self-service (预挂失).
    case preLost = 1
    /// Reported lost in writing (书面挂失).
    case lost = 2
    /// A successor card was issued.
    case replaced = 3
    /// Cancelled (注销).
    case cancelled = 4
    /// Past its validity.
    case expired = 5
}

/// Where a verifier reads the card's current status: an index into a Token Status List and the
/// list's URI (draft-ietf-oauth-status-list-20 §6.3, `StatusListInfo`).
public struct StatusListReference: Hashable, Sendable {
    /// The longest URI accepted, in UTF-8 bytes.
    public static let uriByteCountMax = 256

    public let index: UInt64
    /// Equal to the `sub` (2) of the status list token that holds the card's status.
    public let uri: String

    /// - Throws: `.invalidClaim(key: 65535, …)` for an empty URI or one longer than the limit.
    public init(index: UInt64, uri: String) throws(CredentialFormatError) {
        self.index = index
        self.uri = uri
        try validate()
    }

    func validate() throws(CredentialFormatError) {
        guard (1...Self.uriByteCountMax).contains(uri.utf8.count) else {
            throw .invalidClaim(key: CardCodeClaims.Key.status, reason: "uri must be 1 to 256 bytes")
        }
    }
}

// MARK: - CBOR

extension CardCodeClaims {
    /// The claims set as a CBOR map (entries in key order; `encoded()` sorts them anyway).
    public func cbor() -> CBOR {
        var pairs: [(CBOR, CBOR)] = [
            (CBOR(Key.issuer), .textString(issuer)),
            (CBOR(Key.expiresAt), CBOR(expiresAt)),
            (CBOR(Key.issuedAt), CBOR(issuedAt)),
            (CBOR(Key.codeID), .byteString(codeID)),
            (CBOR(Key.status), ["status_list": ["idx": .unsigned(status.index), "uri": .textString(status.uri)]]),
            (CBOR(Key.asn), .textString(asn)),
            (CBOR(Key.cardNumber), .textString(cardNumber)),
            (CBOR(Key.cardStatus), .unsigned(UInt64(cardStatus.rawValue))),
            (CBOR(Key.maskedName), .textString(maskedName)),
        ]
        if let portraitHash { pairs.append((CBOR(Key.portraitHash), .byteString(portraitHash))) }
        return .orderedMap(pairs)
    }

    /// The payload bytes: the claims' deterministic encoding.
    public func encoded() -> [UInt8] { cbor().encoded() }

    /// Reads a claims set strictly (see the type's rules).
    ///
    /// - Throws: `.claimsNotAMap`; else `.missingClaim` or `.invalidClaim` for the first absent or
    ///   bad claim, in the order of the memberwise initialiser's parameters.
    public init(cbor: CBOR) throws(CredentialFormatError) {
        guard cbor.entries != nil else { throw .claimsNotAMap }
        let reader = ClaimReader(map: cbor)
        try self.init(
            issuer: reader.text(Key.issuer),
            issuedAt: reader.time(Key.issuedAt),
            expiresAt: reader.time(Key.expiresAt),
            codeID: reader.bytes(Key.codeID),
            status: StatusListReference(claim: reader.required(Key.status)),
            asn: reader.text(Key.asn),
            cardNumber: reader.text(Key.cardNumber),
            cardStatus: reader.cardStatus(),
            maskedName: reader.text(Key.maskedName),
            portraitHash: reader.optionalBytes(Key.portraitHash))
    }

    /// Decodes `payload` (CBOR within `limits`) and reads the claims from it.
    public init(payload: [UInt8], limits: CBORDecodingLimits = CBORDecodingLimits()) throws(CredentialFormatError) {
        let map: CBOR
        do { map = try CBOR(decoding: payload, limits: limits) } catch { throw .cbor(error) }
        try self.init(cbor: map)
    }
}

extension StatusListReference {
    /// Reads `{"status_list": {"idx": uint, "uri": text}}`; other status mechanisms and other
    /// members are ignored, as the draft allows.
    init(claim: CBOR) throws(CredentialFormatError) {
        let key = CardCodeClaims.Key.status
        guard let info = claim["status_list"] else { throw .invalidClaim(key: key, reason: "no status_list") }
        guard let index = info["idx"]?.uint64 else { throw .invalidClaim(key: key, reason: "idx is not a uint") }
        guard let uri = info["uri"]?.text else { throw .invalidClaim(key: key, reason: "uri is not a text") }
        try self.init(index: index, uri: uri)
    }
}

/// Typed reads of one claims map, each throwing the claim's own error.
struct ClaimReader {
    let map: CBOR

    func required(_ key: Int64) throws(CredentialFormatError) -> CBOR {
        guard let value = map[key] else { throw .missingClaim(key: key) }
        return value
    }

    func text(_ key: Int64) throws(CredentialFormatError) -> String {
        guard let text = try required(key).text else { throw .invalidClaim(key: key, reason: "not a text") }
        return text
    }

    func bytes(_ key: Int64) throws(CredentialFormatError) -> [UInt8] {
        guard let bytes = try required(key).bytes else { throw .invalidClaim(key: key, reason: "not bytes") }
        return bytes
    }

    func optionalBytes(_ key: Int64) throws(CredentialFormatError) -> [UInt8]? {
        guard map[key] != nil else { return nil }
        return try bytes(key)
    }

    /// A NumericDate as an unsigned integer up to 2⁶³ − 1 (no negative or fractional times).
    func time(_ key: Int64) throws(CredentialFormatError) -> Int64 {
        guard let value = try required(key).uint64, value <= UInt64(Int64.max) else {
            throw .invalidClaim(key: key, reason: "not a uint time")
        }
        return Int64(value)
    }

    func optionalTime(_ key: Int64) throws(CredentialFormatError) -> Int64? {
        guard map[key] != nil else { return nil }
        return try time(key)
    }

    func cardStatus() throws(CredentialFormatError) -> CardStatusAtSigning {
        let key = CardCodeClaims.Key.cardStatus
        guard let raw = try required(key).uint64, raw <= UInt64(UInt8.max),
            let status = CardStatusAtSigning(rawValue: UInt8(raw))
        else { throw .invalidClaim(key: key, reason: "not a known card status") }
        return status
    }
}

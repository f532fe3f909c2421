/// A public key that checks signatures, for one algorithm. The key list supplies them.
public protocol SignatureChecker: Sendable {
    /// Whether `signature` is a valid signature of `message` under this key. A signature that
    /// cannot even be parsed is simply not valid: this never throws and never traps.
    func isValid(signature: [UInt8], for message: [UInt8]) -> Bool
}

/// The outcome of checking a card code, as the CLI, the HTTP API and the console page report it
/// (raw values are the stable codes).
public enum CodeVerdict: String, Hashable, Sendable, Codable, CaseIterable {
    /// Signed by a known key, within its validity, not revoked.
    case valid
    /// Past its expiry (exp), leeway included.
    case expired
    /// The signature does not verify with the key the code names.
    case badSignature = "bad_signature"
    /// Signed with an algorithm this system does not use, or by a key id no key list entry has.
    case unknownKey = "unknown_key"
    /// The card's status says it must not be accepted: not active when the code was signed, or a
    /// status other than 0 (valid) in the status list.
    case revoked
    /// Not a card code, or one whose content cannot be right: see `CodeVerifier`.
    case malformed
}

/// What `CodeVerifier.verify` found.
public struct CodeVerification: Hashable, Sendable {
    public let verdict: CodeVerdict
    /// The claims, when the signature verified and they could be read: present for `valid`,
    /// `expired`, `revoked` and for a `malformed` verdict given on the times or the status index.
    public let claims: CardCodeClaims?
    /// The algorithm the code names, when the envelope could be read and it is one of this system's.
    public let algorithm: CredentialAlgorithm?
    /// The key id the code names, when the envelope could be read.
    public let keyID: [UInt8]?

    public init(
        verdict: CodeVerdict, claims: CardCodeClaims? = nil, algorithm: CredentialAlgorithm? = nil,
        keyID: [UInt8]? = nil
    ) {
        self.verdict = verdict
        self.claims = claims
        self.algorithm = algorithm
        self.keyID = keyID
    }
}

/// The verifier of card codes, shared by every front end. A pure function of its inputs: the
/// keys, the status list and the clock are all given.
///
/// Checks, in this order; the first that fails gives the verdict:
/// 1. the text decodes (`CardCodeText.decode`): otherwise `malformed`;
/// 2. the algorithm is one of `CredentialAlgorithm` and `keys` has a checker for it and the key
///    id: otherwise `unknown_key`;
/// 3. the signature verifies over the Sig_structure: otherwise `bad_signature`;
/// 4. the payload is a valid `CardCodeClaims`: otherwise `malformed`;
/// 5. the times: exp after iat and at most `lifetimeMaxSeconds` after it, iat not later than now
///    plus the leeway — otherwise `malformed` (the issuer never signs such a code; a code "from
///    the future" is not one to trust at a later time either); then now minus the leeway before
///    exp — otherwise `expired`;
/// 6. the card was active when the code was signed: otherwise `revoked`;
/// 7. with a status list: the code's status URI is the list's and its index is inside the list —
///    otherwise `malformed` (no statement can be made, and the draft says to reject); the status
///    there is 0 — otherwise `revoked`;
/// 8. `valid`.
///
/// Without a status list (offline), step 7 is skipped: the verdict then rests on the code's short
/// lifetime. The status list given must already be verified and fresh
/// (`StatusListToken.verify`): this type does not look at its times.
public struct CodeVerifier: Sendable {
    /// Finds the checker of a key by algorithm and key id; nil when there is none.
    public typealias KeyLookup = @Sendable (CredentialAlgorithm, [UInt8]) -> (any SignatureChecker)?

    public let keys: KeyLookup
    public let statusList: StatusListToken?
    /// The current time, seconds since 1970.
    public let nowSeconds: Int64
    /// The clock difference tolerated between signer and verifier, on iat and exp.
    public let leewaySeconds: Int64
    /// The longest validity (exp − iat) a code may claim.
    public let lifetimeMaxSeconds: Int64

    /// - Precondition: `nowSeconds`, `leewaySeconds` not negative, `lifetimeMaxSeconds` positive.
    public init(
        keys: @escaping KeyLookup, statusList: StatusListToken? = nil, nowSeconds: Int64,
        leewaySeconds: Int64 = 60, lifetimeMaxSeconds: Int64 = 86_400
    ) {
        precondition(nowSeconds >= 0 && leewaySeconds >= 0, "time and leeway cannot be negative")
        precondition(lifetimeMaxSeconds > 0, "the maximum lifetime must be positive")
        self.keys = keys
        self.statusList = statusList
        self.nowSeconds = nowSeconds
        self.leewaySeconds = leewaySeconds
        self.lifetimeMaxSeconds = lifetimeMaxSeconds
    }

    /// Checks a card code text (as scanned: surrounding whitespace is fine).
    public func verify(_ text: String) -> CodeVerification {
        guard let sign1 = try? CardCodeText.decode(text) else { return CodeVerification(verdict: .malformed) }
        return verify(sign1)
    }

    /// Checks a card code already read from its text form, from step 2 on.
    public func verify(_ sign1: COSESign1) -> CodeVerification {
        let algorithm = sign1.credentialAlgorithm
        guard let algorithm, let checker = keys(algorithm, sign1.keyID) else {
            return CodeVerification(verdict: .unknownKey, algorithm: algorithm, keyID: sign1.keyID)
        }
        guard checker.isValid(signature: sign1.signature, for: sign1.toBeSigned()) else {
            return CodeVerification(verdict: .badSignature, algorithm: algorithm, keyID: sign1.keyID)
        }
        let limits = CBORDecodingLimits(byteCountMax: CardCodeText.inflatedByteCountMax)
        guard let claims = try? CardCodeClaims(payload: sign1.payload, limits: limits) else {
            return CodeVerification(verdict: .malformed, algorithm: algorithm, keyID: sign1.keyID)
        }
        return CodeVerification(verdict: verdict(for: claims), claims: claims, algorithm: algorithm, keyID: sign1.keyID)
    }

    /// Steps 5 to 8, on claims whose signature verified.
    func verdict(for claims: CardCodeClaims) -> CodeVerdict {
        // Claims times are 0…Int64.max and the clock and leeway are not negative: no overflow below.
        guard claims.expiresAt > claims.issuedAt, claims.expiresAt - claims.issuedAt <= lifetimeMaxSeconds,
            claims.issuedAt - leewaySeconds <= nowSeconds
        else { return .malformed }
        guard nowSeconds - leewaySeconds < claims.expiresAt else { return .expired }
        guard claims.cardStatus == .active else { return .revoked }
        guard let statusList else { return .valid }
        guard claims.status.uri == statusList.uri, claims.status.index <= UInt64(Int.max),
            let status = statusList.list.get(Int(claims.status.index))
        else { return .malformed }
        return status == 0 ? .valid : .revoked
    }
}

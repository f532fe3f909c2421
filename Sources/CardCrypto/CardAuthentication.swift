/// Offline authentication of the physical card (issue 19, part 5): INTERNAL AUTHENTICATE
/// `00 88 00 00 08 challenge 00`. The card encrypts the terminal's 8-byte challenge under its
/// diversified internal-authentication key DIAK (`MasterKeyType.internalAuthentication` MIAK,
/// diversified from the ASN like DLK, DPK and DTK, CARDTECH.md §5.2); the PSAM, which holds MIAK,
/// derives DIAK from the ASN it read from the card and compares. A card that does not hold the
/// issuer's key (a clone, a card of another issuer, a card personalised with other keys) cannot
/// answer a fresh challenge.
///
/// | algorithm | cryptogram | status |
/// |---|---|---|
/// | 3DES (`00`) | `3DES-ECB(DIAK, challenge)`: one block, 8 bytes | the usual PBOC and social-security card form [C]; our vector [V] |
/// | SM4 (`04`) | the leftmost 8 bytes of `SM4-ECB(DIAK, challenge ‖ 80 00 00 00 00 00 00 00)` | **[U]**: padded like `SM4Purse.provisional`'s session input; our vector |
///
/// The answer is an encryption, not a MAC: the challenge is exactly one 3DES block, so CBC with
/// IV 0 over one block (the §5.1 MAC before truncation) would be the same computation, and the full
/// 8 bytes leave a forger a 2⁻⁶⁴ chance instead of the 2⁻³² of a 4-byte MAC.
public enum CardAuthentication {
    /// The challenge and the cryptogram are 8 bytes each.
    public static let challengeByteCount = 8
    public static let cryptogramByteCount = 8

    /// A fresh challenge from OpenSSL's CSPRNG (`RAND_bytes`): never reuse one, or a recorded
    /// answer could be replayed.
    public static func randomChallenge() throws(CardCryptoError) -> [UInt8] {
        try OpenSSL.randomBytes(challengeByteCount)
    }

    /// The card's answer to a challenge with its DIAK under `algorithm` (see the table above).
    /// - Throws: `invalidLength` for a challenge that is not 8 bytes, `invalidKeyLength` for a key
    ///   that is not 16 bytes.
    public static func cryptogram(
        cardKey: SecretKey, challenge: [UInt8], algorithm: any PurseAlgorithm, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> [UInt8] {
        guard challenge.count == challengeByteCount else {
            throw .invalidLength(
                field: "authentication challenge", expected: challengeByteCount, actual: challenge.count)
        }
        guard cardKey.byteCount == 16 else {
            throw .invalidKeyLength(
                algorithm: "\(algorithm.name) internal authentication", byteCount: cardKey.byteCount)
        }
        let cipher = algorithm.cipher
        // A 16-byte block (SM4): the challenge padded as the MACs pad (ISO 9797-1 method 2).
        var block = challenge
        if cipher.blockByteCount > challengeByteCount {
            block += [0x80] + [UInt8](repeating: 0, count: cipher.blockByteCount - challengeByteCount - 1)
        }
        return Array(try engine.encrypt(block, algorithm: cipher, key: cardKey).prefix(cryptogramByteCount))
    }

    /// Checks a card's answer: recomputes it under each algorithm of `algorithms` (the answer does
    /// not say which one the card uses; at most a handful are registered, so a forger's chance
    /// stays about n·2⁻⁶⁴) and returns the algorithm that matched.
    /// - Parameter cardKey: the card's DIAK for one algorithm id; the closure derives it.
    /// - Throws: `invalidLength` for a challenge or an answer that is not 8 bytes; `macMismatch`
    ///   ("internal authentication") when no algorithm reproduces the answer.
    public static func verify(
        response: [UInt8], challenge: [UInt8], algorithms: PurseAlgorithmRegistry,
        cardKey: (any PurseAlgorithm) throws(CardCryptoError) -> SecretKey, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> any PurseAlgorithm {
        guard challenge.count == challengeByteCount else {
            throw .invalidLength(
                field: "authentication challenge", expected: challengeByteCount, actual: challenge.count)
        }
        guard response.count == cryptogramByteCount else {
            throw .invalidLength(
                field: "authentication cryptogram", expected: cryptogramByteCount, actual: response.count)
        }
        for id in algorithms.algorithmIDs {
            let algorithm = try algorithms.algorithm(id: id)
            let expected = try cryptogram(
                cardKey: cardKey(algorithm), challenge: challenge, algorithm: algorithm, using: engine)
            if constantTimeEqual(expected, response) { return algorithm }
        }
        throw .macMismatch(what: "internal authentication")
    }

    /// No branch depends on the bytes compared.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

extension IssuerKeyring {
    /// The host's (or a command-line tool's) check of a card's INTERNAL AUTHENTICATE answer: DIAK
    /// from MIAK of `keyVersion`, the issuer levels and the ASN, then `CardAuthentication.verify`.
    /// - Throws: `unknownKey` when the keyring holds no MIAK of that version; `macMismatch` when
    ///   the card's answer does not match.
    public func verifyInternalAuthentication(
        response: [UInt8], challenge: [UInt8], asn: ApplicationSerialNumber, keyVersion: UInt8,
        algorithms: PurseAlgorithmRegistry = .verified, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> any PurseAlgorithm {
        try CardAuthentication.verify(
            response: response, challenge: challenge, algorithms: algorithms,
            cardKey: { (algorithm) throws(CardCryptoError) in
                try cardKey(.internalAuthentication, version: keyVersion, asn: asn, algorithm: algorithm, using: engine)
            }, using: engine)
    }
}

import CardCrypto

// INTERNAL AUTHENTICATE (ISO 7816-4 §7.5.2): the card proves it holds the issuer's diversified
// internal-authentication key DIAK by encrypting a terminal's challenge (issue 19, part 5;
// `CardAuthentication` in CardCrypto, docs/software-card.md).

extension SoftwareCard {
    /// The key references P2 may name: `00` (no information: the card's key) or `01` (the card's
    /// one internal-authentication key, index 01 like the purse keys).
    static let internalAuthenticationKeyReferences: Set<UInt8> = [0x00, 0x01]

    /// INTERNAL AUTHENTICATE `00 88 00 P2 08 challenge [Le]` → the 8-byte cryptogram.
    ///
    /// A card-level key: it answers whatever application is selected (or none), and a blocked
    /// purse does not block it. It changes nothing on the card. Checks, in this order: P1 `00`
    /// (`6A86`), P2 a key the card knows (`6A88`), 8 bytes of challenge (`6700`), the card holds
    /// DIAK (`6A88`: a card personalised before the key existed), the card's algorithm has a
    /// strategy (`6A88`).
    mutating func internalAuthenticate(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        guard command.p1 == 0x00 else { throw Refusal(.incorrectP1P2) }
        guard Self.internalAuthenticationKeyReferences.contains(command.p2) else { throw Refusal(.keyNotFound) }
        guard command.data.count == CardAuthentication.challengeByteCount else { throw Refusal(.wrongLength) }
        guard let key = keys.internalAuthentication else { throw Refusal(.keyNotFound) }
        let algorithm = try algorithm()
        return try crypto { () throws(CardCryptoError) in
            try CardAuthentication.cryptogram(cardKey: key, challenge: command.data, algorithm: algorithm)
        }
    }
}

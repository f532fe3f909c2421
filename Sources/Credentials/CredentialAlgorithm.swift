/// The signature algorithms of the electronic card, by their COSE algorithm identifier (the value
/// of header parameter 1, `alg`).
public enum CredentialAlgorithm: Int64, Hashable, Sendable, CaseIterable, Codable {
    /// ECDSA on P-256 with SHA-256 (RFC 9053 §2.1, IANA value −7). The signature is r‖s, 64 bytes.
    case es256 = -7
    /// SM2 signature with SM3 (GB/T 32918.2, GB/T 32905; the Chinese national algorithms). IANA has
    /// no value for it: −70,001 is in the range the COSE Algorithms registry reserves for private
    /// use (integers below −65,536), so it means this only between this system's signers and
    /// verifiers. This module never looks inside a signature: its format is the signer's and the
    /// `SignatureChecker`'s business.
    case sm2sm3 = -70_001
}

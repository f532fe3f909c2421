/// A COSE_Sign1 message (RFC 9052 §4.2): one signer, the payload attached.
///
/// On the wire, `18([protected, unprotected, payload, signature])`: tag 18 (COSE_Sign1_Tagged),
/// then an array of four — the protected header as a byte string holding a serialized map, the
/// unprotected header as a map, the payload as a byte string, the signature as a byte string.
///
/// Headers this type reads (labels of the IANA COSE Header Parameters registry):
/// - `1` alg, an integer, required, in the protected header only;
/// - `4` kid, a byte string, optional, protected or unprotected. `sign` writes it protected; a
///   decoded message may carry it unprotected, as RFC 9052's own examples and the Token Status List
///   examples do. An unprotected kid is not signed, but changing it only makes the verifier pick
///   another key, whose check then fails: it selects a key, it vouches for nothing;
/// - `16` typ (RFC 9596), a text string, optional, protected only (the status list token's type).
///
/// Refused on decode: `crit` (2), since no critical parameter is understood here; alg or typ in the
/// unprotected header; any label in both headers (RFC 9052 §3); a detached (nil) payload. Other
/// labels are ignored, as RFC 9052 allows for non-critical parameters.
///
/// Guarantee: `algorithm`, `keyID` and `type` are read from the headers as held, so what a
/// verifier checks is what the signer signed (`protectedHeader` is kept byte for byte, never
/// re-encoded).
public struct COSESign1: Hashable, Sendable {
    /// COSE_Sign1_Tagged.
    public static let tag: UInt64 = 18

    /// The serialized protected header map, exactly as signed.
    public let protectedHeader: [UInt8]
    /// The unprotected header map's entries (empty for messages made by `sign`).
    public let unprotectedHeader: [CBOR.MapEntry]
    public let payload: [UInt8]
    /// The raw signature, whose format is the algorithm's (r‖s for ECDSA).
    public let signature: [UInt8]
    /// The value of `alg` (1) in the protected header.
    public let algorithm: Int64
    /// The value of `kid` (4) from either header; empty when neither has one.
    public let keyID: [UInt8]
    /// The value of `typ` (16) in the protected header, when present.
    public let type: String?

    /// The algorithm as one of this system's, or nil for any other value.
    public var credentialAlgorithm: CredentialAlgorithm? { CredentialAlgorithm(rawValue: algorithm) }

    /// Signs `payload`: builds the protected header `{1: algorithm, 4: keyID, 16: type}` (kid left
    /// out when `keyID` is empty, typ when `type` is nil), hands `signer` the Sig_structure bytes
    /// (`toBeSigned()`) and keeps the signature it returns as is.
    public static func sign<E: Error>(
        payload: [UInt8], algorithm: Int64, keyID: [UInt8], type: String? = nil,
        signer: ([UInt8]) throws(E) -> [UInt8]
    ) throws(E) -> COSESign1 {
        var header: [(CBOR, CBOR)] = [(1, CBOR(algorithm))]
        if !keyID.isEmpty { header.append((4, .byteString(keyID))) }
        if let type { header.append((16, .textString(type))) }
        let protectedHeader = CBOR.orderedMap(header).encoded()
        let toBeSigned = sigStructure(protectedHeader: protectedHeader, externalAAD: [], payload: payload)
        return COSESign1(
            protectedHeader: protectedHeader, unprotectedHeader: [], payload: payload,
            signature: try signer(toBeSigned), algorithm: algorithm, keyID: keyID, type: type)
    }

    /// `sign` with one of this system's algorithms.
    public static func sign<E: Error>(
        payload: [UInt8], algorithm: CredentialAlgorithm, keyID: [UInt8], type: String? = nil,
        signer: ([UInt8]) throws(E) -> [UInt8]
    ) throws(E) -> COSESign1 {
        try sign(payload: payload, algorithm: algorithm.rawValue, keyID: keyID, type: type, signer: signer)
    }

    /// The bytes the signature covers (RFC 9052 §4.4): the deterministic encoding of
    /// `["Signature1", protected, external_aad, payload]`, the last three as byte strings. This
    /// system never uses external data; `externalAAD` exists for the RFC's test vectors.
    public func toBeSigned(externalAAD: [UInt8] = []) -> [UInt8] {
        Self.sigStructure(protectedHeader: protectedHeader, externalAAD: externalAAD, payload: payload)
    }

    static func sigStructure(protectedHeader: [UInt8], externalAAD: [UInt8], payload: [UInt8]) -> [UInt8] {
        CBOR.array(["Signature1", .byteString(protectedHeader), .byteString(externalAAD), .byteString(payload)])
            .encoded()
    }

    /// The message tagged 18, deterministically encoded (the unprotected map sorted; the protected
    /// header and the payload are byte strings, written as held).
    public func encoded() -> [UInt8] {
        let message: CBOR = .array([
            .byteString(protectedHeader), .map(unprotectedHeader), .byteString(payload), .byteString(signature),
        ])
        return CBOR.tagged(Self.tag, message).encoded()
    }
}

// MARK: - Decoding

extension COSESign1 {
    /// Reads a COSE_Sign1, tagged 18 or untagged. Checks the form only, not the signature.
    ///
    /// - Throws: `.cbor` for bytes that are not one CBOR item within `limits`; `.notCOSESign1` for
    ///   another tag, another shape or a nil payload; `.invalidHeader` for the header rules above.
    public static func decode(
        _ bytes: [UInt8], limits: CBORDecodingLimits = CBORDecodingLimits()
    ) throws(CredentialFormatError) -> COSESign1 {
        let item: CBOR
        do { item = try CBOR(decoding: bytes, limits: limits) } catch { throw .cbor(error) }
        var body = item
        if case .tagged(let number, let content) = item {
            guard number == tag else { throw .notCOSESign1(reason: "tag \(number) is not COSE_Sign1's 18") }
            body = content
        }
        guard let members = body.items, members.count == 4 else {
            throw .notCOSESign1(reason: "not an array of four")
        }
        guard let protectedHeader = members[0].bytes else { throw .notCOSESign1(reason: "protected is not bytes") }
        guard let unprotected = members[1].entries else { throw .notCOSESign1(reason: "unprotected is not a map") }
        guard let payload = members[2].bytes else { throw .notCOSESign1(reason: "no attached payload") }
        guard let signature = members[3].bytes else { throw .notCOSESign1(reason: "signature is not bytes") }
        let protected = try protectedEntries(protectedHeader, limits: limits)
        let parameters = try HeaderParameters(protected: protected, unprotected: unprotected)
        return COSESign1(
            protectedHeader: protectedHeader, unprotectedHeader: unprotected, payload: payload, signature: signature,
            algorithm: parameters.algorithm, keyID: parameters.keyID, type: parameters.type)
    }

    /// The protected map; a zero-length byte string stands for the empty map (RFC 9052 §3).
    private static func protectedEntries(
        _ bytes: [UInt8], limits: CBORDecodingLimits
    ) throws(CredentialFormatError) -> [CBOR.MapEntry] {
        if bytes.isEmpty { return [] }
        let header: CBOR
        do { header = try CBOR(decoding: bytes, limits: limits) } catch { throw .cbor(error) }
        guard let entries = header.entries else { throw .invalidHeader(reason: "protected header is not a map") }
        return entries
    }
}

/// The header parameters this module reads, checked against the rules of `COSESign1`.
private struct HeaderParameters {
    static let algorithmLabel: CBOR = 1
    static let criticalLabel: CBOR = 2
    static let keyIDLabel: CBOR = 4
    static let typeLabel: CBOR = 16

    let algorithm: Int64
    let keyID: [UInt8]
    let type: String?

    init(protected: [CBOR.MapEntry], unprotected: [CBOR.MapEntry]) throws(CredentialFormatError) {
        for entry in protected + unprotected where entry.key.int64 == nil && entry.key.text == nil {
            throw .invalidHeader(reason: "a label is neither an integer nor a text")
        }
        let protectedLabels = Set(protected.map(\.key))
        guard !unprotected.contains(where: { protectedLabels.contains($0.key) }) else {
            throw .invalidHeader(reason: "a label is in both headers")
        }
        let protectedMap = CBOR.map(protected)
        let unprotectedMap = CBOR.map(unprotected)
        guard protectedMap[Self.criticalLabel] == nil else { throw .invalidHeader(reason: "crit is not supported") }
        for label in [Self.algorithmLabel, Self.criticalLabel, Self.typeLabel] where unprotectedMap[label] != nil {
            throw .invalidHeader(reason: "alg, crit and typ must be protected")
        }
        guard let algorithmValue = protectedMap[Self.algorithmLabel] else { throw .invalidHeader(reason: "no alg") }
        guard let algorithm = algorithmValue.int64 else { throw .invalidHeader(reason: "alg is not an integer") }
        self.algorithm = algorithm
        switch protectedMap[Self.keyIDLabel] ?? unprotectedMap[Self.keyIDLabel] {
        case nil: keyID = []
        case .byteString(let bytes): keyID = bytes
        default: throw .invalidHeader(reason: "kid is not bytes")
        }
        switch protectedMap[Self.typeLabel] {
        case nil: type = nil
        case .textString(let text): type = text
        default: throw .invalidHeader(reason: "typ is not a text")
        }
    }
}

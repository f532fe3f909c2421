/// The text form of a card code, as a QR symbol holds it: `CC1:` followed by the Base45 of the zlib
/// compression of the tagged COSE_Sign1 — the layering of the EU digital COVID certificates'
/// `HC1:`. Every character is in the QR alphanumeric set, so the symbol uses its densest
/// text mode.
public enum CardCodeText {
    /// Version 1 of the card code's text form.
    public static let prefix = "CC1:"
    /// The longest text `decode` reads by default, in characters (after trimming).
    public static let textLengthMax = 4_096
    /// The most bytes the compressed COSE_Sign1 may inflate to by default.
    public static let inflatedByteCountMax = 4_096

    /// `CC1:` + Base45(zlib(`sign1.encoded()`)), compressed at zlib's level 9.
    public static func encode(_ sign1: COSESign1) -> String {
        prefix + Base45.encode(Deflate.compress(sign1.encoded()))
    }

    /// Reads a card code text. Checks the form only; `CodeVerifier` checks the rest.
    ///
    /// Whitespace (and newlines) around the text are dropped: a desk scanner that types the code
    /// as a keyboard adds a return. Nothing else is forgiven: the prefix is case-sensitive and the
    /// Base45 alphabet has no lowercase letters, so a scanner or a person that lowercases the text
    /// gets `.base45(.invalidCharacter)` rather than a silently different code.
    ///
    /// - Throws: in this order, `.textTooLong`, `.missingPrefix`, `.base45`, `.deflate` (including
    ///   inflating past `inflatedByteCountMax`), then `COSESign1.decode`'s errors.
    public static func decode(
        _ text: String, textLengthMax: Int = textLengthMax, inflatedByteCountMax: Int = inflatedByteCountMax
    ) throws(CredentialFormatError) -> COSESign1 {
        let trimmed = trimmingWhitespace(text)
        let length = trimmed.utf8.count
        guard length <= textLengthMax else { throw .textTooLong(characterCount: length) }
        guard trimmed.hasPrefix(prefix) else { throw .missingPrefix }
        let compressed: [UInt8]
        do { compressed = try Base45.decode(String(trimmed.dropFirst(prefix.count))) } catch { throw .base45(error) }
        let bytes: [UInt8]
        do {
            bytes = try Deflate.decompress(compressed, byteCountMax: inflatedByteCountMax)
        } catch { throw .deflate(error) }
        return try COSESign1.decode(bytes, limits: CBORDecodingLimits(byteCountMax: inflatedByteCountMax))
    }

    private static func trimmingWhitespace(_ text: String) -> Substring {
        var trimmed = Substring(text)
        while let first = trimmed.first, first.isWhitespace { trimmed.removeFirst() }
        while let last = trimmed.last, last.isWhitespace { trimmed.removeLast() }
        return trimmed
    }
}

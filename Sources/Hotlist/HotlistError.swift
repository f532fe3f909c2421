/// Why a hotlist or a delta cannot be built or applied. Operating errors, not programmer errors:
/// the input comes from the database or from a terminal's state. Descriptions never contain an ASN.
public enum HotlistError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Two entries (or two removals) for the same card.
    case duplicateASN(CardASN)
    /// More entries than `Hotlist.entryCountMax`.
    case tooManyEntries(Int)
    /// A delta's `toVersion` must be greater than its `fromVersion`.
    case versionsNotIncreasing(from: UInt64, to: UInt64)
    /// A delta both changes and removes the same card.
    case changedAndRemoved(CardASN)
    /// The delta starts at another version than the list it is applied to.
    case versionMismatch(listVersion: UInt64, deltaFromVersion: UInt64)
    /// The delta removes a card the list does not hold: the list is not the one the delta was made from.
    case removesUnlistedASN(CardASN)

    public var description: String {
        switch self {
        case .duplicateASN: "the same ASN is listed twice"
        case .tooManyEntries(let count): "\(count) entries, more than \(Hotlist.entryCountMax)"
        case .versionsNotIncreasing(let from, let to): "delta from version \(from) to \(to) does not move forward"
        case .changedAndRemoved: "an ASN is both changed and removed"
        case .versionMismatch(let list, let from): "list is at version \(list), the delta starts at \(from)"
        case .removesUnlistedASN: "the delta removes an ASN the list does not hold"
        }
    }
}

/// Why bytes are not a hotlist file or delta, in the order the decoder checks. `offset` is the
/// byte position in the file where the problem was seen.
public enum HotlistDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Shorter than the fixed header and checksum, or the content runs past the checksum.
    case truncated
    /// Does not start with `CCHL` (full list) or `CCHD` (delta), whichever was asked for.
    case badMagic
    /// A format version this decoder does not know.
    case unsupportedFormatVersion(UInt8)
    /// The CRC-32 in the last 4 bytes does not match: the file is damaged.
    case badChecksum
    /// A delta whose `toVersion` is not greater than its `fromVersion`.
    case versionsNotIncreasing
    /// An entry count above `Hotlist.entryCountMax`.
    case tooManyEntries(offset: Int)
    /// A palette byte that is not a reason code (optionally with the block flag).
    case invalidAttribute(offset: Int)
    /// Valid data written another way than the one the encoder writes: a varint with a needless
    /// zero byte, a palette out of order or with an unused attribute, a binary group whose tails
    /// are all BCD. Each list has exactly one encoding.
    case nonCanonical(offset: Int)
    /// A varint longer than 10 bytes, an ASN, prefix or group size beyond its range, a palette index
    /// beyond the palette.
    case valueOutOfRange(offset: Int)
    /// Bytes left between the content and the checksum.
    case trailingBytes(offset: Int)
    /// A delta that both changes and removes the same ASN.
    case changedAndRemoved

    public var description: String {
        switch self {
        case .truncated: "truncated"
        case .badMagic: "not a hotlist file (bad magic)"
        case .unsupportedFormatVersion(let version): "unsupported format version \(version)"
        case .badChecksum: "checksum mismatch: the file is damaged"
        case .versionsNotIncreasing: "delta versions do not increase"
        case .tooManyEntries(let offset): "too many entries (at byte \(offset))"
        case .invalidAttribute(let offset): "invalid reason attribute at byte \(offset)"
        case .nonCanonical(let offset): "non-canonical encoding at byte \(offset)"
        case .valueOutOfRange(let offset): "value out of range at byte \(offset)"
        case .trailingBytes(let offset): "unexpected bytes from byte \(offset)"
        case .changedAndRemoved: "an ASN is both changed and removed"
        }
    }
}

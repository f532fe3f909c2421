/// Why bytes are not one CBOR data item this decoder accepts. Every case means "malformed" to a
/// caller that does not care which rule was broken. `offset` is the position of the byte where the
/// problem was seen. Descriptions carry offsets and counts, never the content.
///
/// The decoder checks in this order: the input length (`inputTooLong`), then item by item from the
/// start — the count of items (`itemCountLimitExceeded`), the head (`truncated`, `malformedHead`,
/// `indefiniteLength`, `unsupportedItem`, `nonShortestHead`), the depth (`depthLimitExceeded`),
/// the content (`truncated`, `invalidUTF8`, `duplicateMapKey`) — and last `trailingBytes`.
public enum CBORError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Longer than `CBORDecodingLimits.byteCountMax`; nothing was read.
    case inputTooLong(byteCount: Int)
    /// The input ends inside an item, or a length runs past its end.
    case truncated(offset: Int)
    /// Additional information 28–30 (reserved), 31 on a type that has no indefinite form, or a
    /// "break" stop code outside an indefinite-length item.
    case malformedHead(offset: Int)
    /// An indefinite-length string, array or map (additional information 31): valid CBOR, refused
    /// because the deterministic encoding never uses them.
    case indefiniteLength(offset: Int)
    /// A floating-point number, `undefined` or a simple value other than false, true and null.
    case unsupportedItem(offset: Int)
    /// An argument written in more bytes than needed (e.g. `18 05` for 5). The deterministic
    /// encoding, and every mainstream encoder's preferred serialization, writes the shortest form;
    /// refusing longer ones leaves one encoding per integer and length.
    case nonShortestHead(offset: Int)
    /// Arrays, maps and tags nested deeper than `CBORDecodingLimits.depthMax`.
    case depthLimitExceeded(offset: Int)
    /// More data items than `CBORDecodingLimits.itemCountMax`.
    case itemCountLimitExceeded(offset: Int)
    /// A text string that is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A map key whose encoding equals an earlier key's in the same map (RFC 8949 §5.6).
    case duplicateMapKey(offset: Int)
    /// Bytes after the one top-level item.
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case .inputTooLong(let count): "CBOR input of \(count) bytes is longer than the limit"
        case .truncated(let offset): "CBOR input ends inside an item (item at byte \(offset))"
        case .malformedHead(let offset): "malformed CBOR head at byte \(offset)"
        case .indefiniteLength(let offset): "indefinite-length CBOR item at byte \(offset)"
        case .unsupportedItem(let offset): "unsupported CBOR item (float or simple value) at byte \(offset)"
        case .nonShortestHead(let offset): "CBOR argument not in its shortest form at byte \(offset)"
        case .depthLimitExceeded(let offset): "CBOR nesting too deep at byte \(offset)"
        case .itemCountLimitExceeded(let offset): "too many CBOR items (at byte \(offset))"
        case .invalidUTF8(let offset): "CBOR text string at byte \(offset) is not valid UTF-8"
        case .duplicateMapKey(let offset): "duplicate CBOR map key at byte \(offset)"
        case .trailingBytes(let offset): "unexpected bytes after the CBOR item, from byte \(offset)"
        }
    }
}

/// The bounds the decoder enforces, so that hostile input costs bounded time and memory.
public struct CBORDecodingLimits: Hashable, Sendable {
    /// The most containers (arrays, maps, tags) an item may sit inside: a top-level scalar is at
    /// depth 0, the items of a top-level array at depth 1. Default 16; at most `depthCeiling`.
    public let depthMax: Int
    /// The most data items in the whole input, every key, value, element and tag content counted.
    /// Default 65,536.
    public let itemCountMax: Int
    /// The longest input accepted. Default 1 MiB.
    public let byteCountMax: Int

    /// The decoder recurses once per level: this bounds its stack.
    public static let depthCeiling = 128

    /// - Precondition: `depthMax` in 0…`depthCeiling`, the other limits not negative.
    public init(depthMax: Int = 16, itemCountMax: Int = 65_536, byteCountMax: Int = 1 << 20) {
        precondition((0...Self.depthCeiling).contains(depthMax), "CBOR depth limit out of range")
        precondition(itemCountMax >= 0 && byteCountMax >= 0, "CBOR limits cannot be negative")
        self.depthMax = depthMax
        self.itemCountMax = itemCountMax
        self.byteCountMax = byteCountMax
    }
}

/// A CBOR data item (RFC 8949) of the kinds the electronic card uses: integers over the full range
/// of major types 0 and 1, byte and text strings, arrays, maps, tags, booleans and null.
///
/// Floating-point numbers, `undefined`, other simple values and indefinite lengths are not part of
/// the model: the decoder refuses them (`CBORError.unsupportedItem`, `.indefiniteLength`).
///
/// Maps are ordered lists of entries: decoding keeps the order of the input, `encoded()` writes the
/// entries sorted by the bytes of their keys' encodings (RFC 8949 §4.2.1). Two values compare equal
/// when their cases and contents are equal in order, so a decoded map whose input was not in
/// deterministic order is not equal to the same map built sorted; compare encodings when that
/// matters. Text compares as Swift `String`s (canonical equivalence); the decoder's duplicate-key
/// check compares encoded bytes.
public enum CBOR: Hashable, Sendable {
    /// Major type 0: an unsigned integer, 0 … 2⁶⁴ − 1.
    case unsigned(UInt64)
    /// Major type 1: the negative integer −1 − `n`, that is −2⁶⁴ … −1. `.negative(0)` is −1.
    case negative(UInt64)
    /// Major type 2: a byte string.
    case byteString([UInt8])
    /// Major type 3: a text string (valid UTF-8 on the wire).
    case textString(String)
    /// Major type 4: an array.
    case array([CBOR])
    /// Major type 5: a map, as ordered key/value entries.
    case map([MapEntry])
    /// Major type 6: a tag number and its content.
    indirect case tagged(UInt64, CBOR)
    /// Simple values 20 and 21.
    case bool(Bool)
    /// Simple value 22.
    case null

    /// One key/value pair of a map.
    public struct MapEntry: Hashable, Sendable {
        public var key: CBOR
        public var value: CBOR

        public init(key: CBOR, value: CBOR) {
            self.key = key
            self.value = value
        }
    }

    /// The integer `value`: `.unsigned` when it is not negative, `.negative` otherwise.
    public init(_ value: Int64) {
        // -1 - Int64.min is Int64.max: no overflow.
        self = value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value))
    }

    /// A map from ordered pairs, kept in the given order (encoding sorts them).
    public static func orderedMap(_ pairs: [(CBOR, CBOR)]) -> CBOR {
        .map(pairs.map { MapEntry(key: $0.0, value: $0.1) })
    }
}

// MARK: - Accessors

extension CBOR {
    /// The integer when it fits an `Int64`; nil for other kinds and out-of-range integers.
    public var int64: Int64? {
        switch self {
        case .unsigned(let value): value <= UInt64(Int64.max) ? Int64(value) : nil
        case .negative(let n): n <= UInt64(Int64.max) ? -1 - Int64(n) : nil
        default: nil
        }
    }

    /// The value of an unsigned integer (major type 0); nil for everything else, negatives included.
    public var uint64: UInt64? {
        if case .unsigned(let value) = self { value } else { nil }
    }

    /// The content of a byte string; nil for everything else.
    public var bytes: [UInt8]? {
        if case .byteString(let bytes) = self { bytes } else { nil }
    }

    /// The content of a text string; nil for everything else.
    public var text: String? {
        if case .textString(let text) = self { text } else { nil }
    }

    /// The items of an array; nil for everything else.
    public var items: [CBOR]? {
        if case .array(let items) = self { items } else { nil }
    }

    /// The entries of a map, in their order; nil for everything else.
    public var entries: [MapEntry]? {
        if case .map(let entries) = self { entries } else { nil }
    }

    /// The value of `true` or `false`; nil for everything else.
    public var boolValue: Bool? {
        if case .bool(let value) = self { value } else { nil }
    }

    /// The value of the first entry whose key equals `key`, when `self` is a map.
    public subscript(key: CBOR) -> CBOR? {
        entries?.first { $0.key == key }?.value
    }

    /// The value under an integer key (the labels of COSE headers and CWT claims).
    public subscript(key: Int64) -> CBOR? { self[CBOR(key)] }

    /// The value under an integer key; lets `map[1]` read without a type annotation.
    public subscript(key: Int) -> CBOR? { self[CBOR(Int64(key))] }

    /// The value under a text key.
    public subscript(key: String) -> CBOR? { self[.textString(key)] }
}

// MARK: - Literals

// No `ExpressibleByNilLiteral`: `map[key] == nil` must keep meaning "no such key", not "null".

extension CBOR: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(integerLiteral value: Int64) { self.init(value) }
    public init(stringLiteral value: String) { self = .textString(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: CBOR...) { self = .array(elements) }
    /// A map with the entries in the literal's order.
    public init(dictionaryLiteral elements: (CBOR, CBOR)...) { self = .orderedMap(elements) }
}

// MARK: - Encoding

extension CBOR {
    /// The core deterministic encoding (RFC 8949 §4.2.1): every head as short as possible, definite
    /// lengths, map entries sorted by the bytewise order of their keys' encodings.
    ///
    /// A map holding two equal keys has no valid encoding: building one is a programmer error.
    public func encoded() -> [UInt8] {
        var output: [UInt8] = []
        encode(into: &output)
        return output
    }

    func encode(into output: inout [UInt8]) {
        switch self {
        case .unsigned(let value): Self.appendHead(major: 0, argument: value, to: &output)
        case .negative(let n): Self.appendHead(major: 1, argument: n, to: &output)
        case .byteString(let bytes):
            Self.appendHead(major: 2, argument: UInt64(bytes.count), to: &output)
            output.append(contentsOf: bytes)
        case .textString(let text):
            Self.appendHead(major: 3, argument: UInt64(text.utf8.count), to: &output)
            output.append(contentsOf: text.utf8)
        case .array(let items):
            Self.appendHead(major: 4, argument: UInt64(items.count), to: &output)
            for item in items { item.encode(into: &output) }
        case .map(let entries): Self.encodeMap(entries, into: &output)
        case .tagged(let tag, let content):
            Self.appendHead(major: 6, argument: tag, to: &output)
            content.encode(into: &output)
        case .bool(let value): output.append(value ? 0xF5 : 0xF4)
        case .null: output.append(0xF6)
        }
    }

    private static func encodeMap(_ entries: [MapEntry], into output: inout [UInt8]) {
        let sorted = entries.map { (key: $0.key.encoded(), value: $0.value) }
            .sorted { $0.key.lexicographicallyPrecedes($1.key) }
        for index in sorted.indices.dropFirst() {
            precondition(sorted[index - 1].key != sorted[index].key, "a CBOR map holds the same key twice")
        }
        appendHead(major: 5, argument: UInt64(sorted.count), to: &output)
        for entry in sorted {
            output.append(contentsOf: entry.key)
            entry.value.encode(into: &output)
        }
    }

    /// The initial byte and the shortest argument (RFC 8949 §3, §4.2.1).
    static func appendHead(major: UInt8, argument: UInt64, to output: inout [UInt8]) {
        let type = major << 5
        switch argument {
        case 0..<24: output.append(type | UInt8(argument))
        case 24...0xFF: output.append(contentsOf: [type | 24, UInt8(argument)])
        case 0x100...0xFFFF: appendBigEndian(argument, byteCount: 2, after: type | 25, to: &output)
        case 0x1_0000...0xFFFF_FFFF: appendBigEndian(argument, byteCount: 4, after: type | 26, to: &output)
        default: appendBigEndian(argument, byteCount: 8, after: type | 27, to: &output)
        }
    }

    private static func appendBigEndian(_ value: UInt64, byteCount: Int, after first: UInt8, to output: inout [UInt8]) {
        output.append(first)
        for index in (0..<byteCount).reversed() {
            output.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * index)))
        }
    }
}

extension CBOR {
    /// Decodes exactly one data item that fills `bytes`, strictly and within `limits`.
    ///
    /// Accepted: well-formed items of the kinds `CBOR` models, with definite lengths and shortest
    /// heads. Map entries may come in any order (RFC 8949 §4.2.1 order is what `encoded()` writes,
    /// but other encoders, such as the one behind the Token Status List examples, do not sort) and
    /// keep that order in the result; equal keys are refused. Refused, with the error named: see
    /// `CBORError`, whose documentation gives the order of the checks.
    ///
    /// Never traps on any input: every length is checked against the bytes left before it is used.
    public init(decoding bytes: [UInt8], limits: CBORDecodingLimits = CBORDecodingLimits()) throws(CBORError) {
        guard bytes.count <= limits.byteCountMax else { throw .inputTooLong(byteCount: bytes.count) }
        var decoder = CBORDecoder(bytes: bytes, limits: limits)
        let item = try decoder.item(depth: 0)
        guard decoder.position == bytes.count else { throw .trailingBytes(offset: decoder.position) }
        self = item
    }
}

/// A cursor over the input; one instance decodes one top-level item.
struct CBORDecoder {
    let bytes: [UInt8]
    let limits: CBORDecodingLimits
    private(set) var position = 0
    private var itemCount = 0

    init(bytes: [UInt8], limits: CBORDecodingLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    var remaining: Int { bytes.count - position }

    /// One data item starting at `position`, nested inside `depth` containers.
    mutating func item(depth: Int) throws(CBORError) -> CBOR {
        let offset = position
        guard position < bytes.count else { throw .truncated(offset: offset) }
        itemCount += 1
        guard itemCount <= limits.itemCountMax else { throw .itemCountLimitExceeded(offset: offset) }
        let initial = bytes[position]
        position += 1
        let major = initial >> 5
        let info = initial & 0x1F
        if major == 7 { return try simple(info: info, offset: offset) }
        let argument = try argument(major: major, info: info, offset: offset)
        switch major {
        case 0: return .unsigned(argument)
        case 1: return .negative(argument)
        case 2: return .byteString(Array(try content(length: argument, offset: offset)))
        case 3:
            let raw = try content(length: argument, offset: offset)
            guard let text = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8(offset: offset) }
            return .textString(text)
        case 4: return try array(count: argument, depth: depth, offset: offset)
        case 5: return try map(count: argument, depth: depth, offset: offset)
        default:
            guard depth < limits.depthMax else { throw .depthLimitExceeded(offset: offset) }
            return .tagged(argument, try item(depth: depth + 1))
        }
    }

    /// Major type 7: false, true and null; everything else there is refused.
    private func simple(info: UInt8, offset: Int) throws(CBORError) -> CBOR {
        switch info {
        case 20: return .bool(false)
        case 21: return .bool(true)
        case 22: return .null
        case 28...31: throw .malformedHead(offset: offset)
        default: throw .unsupportedItem(offset: offset)  // simple values, undefined, floats
        }
    }

    /// The argument of a head of major type 0–6, in its shortest form.
    private mutating func argument(major: UInt8, info: UInt8, offset: Int) throws(CBORError) -> UInt64 {
        switch info {
        case 0..<24: return UInt64(info)
        case 24...27:
            let count = 1 << Int(info - 24)
            guard remaining >= count else { throw .truncated(offset: offset) }
            var value: UInt64 = 0
            for byte in bytes[position..<position + count] { value = value << 8 | UInt64(byte) }
            position += count
            // The smallest value that needs this many bytes: 24, 2^8, 2^16, 2^32.
            let smallest: UInt64 = count == 1 ? 24 : 1 << UInt64(4 * count)
            guard value >= smallest else { throw .nonShortestHead(offset: offset) }
            return value
        case 31 where (2...5).contains(major): throw .indefiniteLength(offset: offset)
        default: throw .malformedHead(offset: offset)
        }
    }

    private mutating func content(length: UInt64, offset: Int) throws(CBORError) -> ArraySlice<UInt8> {
        guard length <= UInt64(remaining) else { throw .truncated(offset: offset) }
        let start = position
        position += Int(length)
        return bytes[start..<position]
    }

    private mutating func array(count: UInt64, depth: Int, offset: Int) throws(CBORError) -> CBOR {
        guard depth < limits.depthMax else { throw .depthLimitExceeded(offset: offset) }
        // Every item takes at least one byte: a larger count cannot be satisfied.
        guard count <= UInt64(remaining) else { throw .truncated(offset: offset) }
        var items: [CBOR] = []
        items.reserveCapacity(Int(count))
        for _ in 0..<count { items.append(try item(depth: depth + 1)) }
        return .array(items)
    }

    private mutating func map(count: UInt64, depth: Int, offset: Int) throws(CBORError) -> CBOR {
        guard depth < limits.depthMax else { throw .depthLimitExceeded(offset: offset) }
        guard count <= UInt64(remaining / 2) else { throw .truncated(offset: offset) }
        var entries: [CBOR.MapEntry] = []
        entries.reserveCapacity(Int(count))
        var seenKeys = Set<ArraySlice<UInt8>>()
        for _ in 0..<count {
            let keyOffset = position
            let key = try item(depth: depth + 1)
            // Heads are shortest, so equal keys have equal encodings.
            guard seenKeys.insert(bytes[keyOffset..<position]).inserted else {
                throw .duplicateMapKey(offset: keyOffset)
            }
            entries.append(CBOR.MapEntry(key: key, value: try item(depth: depth + 1)))
        }
        return .map(entries)
    }
}

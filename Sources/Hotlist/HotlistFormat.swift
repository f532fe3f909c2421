/// The binary formats of docs/hotlist.md: constants, the envelope (magic, format version, CRC-32)
/// and the entry-set encoding shared by full lists and deltas.
enum HotlistFormat {
    static let fullMagic: [UInt8] = Array("CCHL".utf8)
    static let deltaMagic: [UInt8] = Array("CCHD".utf8)
    static let formatVersion: UInt8 = 1
    static let checksumByteCount = 4
    /// Magic, format version and checksum: the shortest possible file has a few bytes more.
    static let envelopeByteCount = 4 + 1 + checksumByteCount
    /// A varint holds at most 70 bits: a 64-bit gap shifted by at most 4 palette bits.
    static let varintByteCountMax = 10
    /// A group's header carries its mode in the low bit.
    static let decimalMode: UInt128 = 1

    /// Checks length, magic, format version and checksum, in that order; returns a reader positioned
    /// after the format version that ends before the checksum.
    static func open(_ bytes: [UInt8], magic: [UInt8]) throws(HotlistDecodingError) -> ByteReader {
        guard bytes.count >= envelopeByteCount else { throw .truncated }
        guard bytes.prefix(magic.count).elementsEqual(magic) else { throw .badMagic }
        guard bytes[magic.count] == formatVersion else { throw .unsupportedFormatVersion(bytes[magic.count]) }
        let end = bytes.count - checksumByteCount
        let stored = bytes[end...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard stored == CRC32.checksum(bytes[..<end]) else { throw .badChecksum }
        return ByteReader(bytes: bytes, offset: magic.count + 1, end: end)
    }

    /// Starts a file: magic and format version.
    static func writer(magic: [UInt8]) -> ByteWriter {
        var writer = ByteWriter()
        writer.append(contentsOf: magic)
        writer.append(formatVersion)
        return writer
    }

    /// Number of palette bits for a palette of `count` attributes: 0 for 0 or 1, then ⌈log2 count⌉.
    static func paletteBits(_ count: Int) -> Int {
        count <= 1 ? 0 : Int.bitWidth - (count - 1).leadingZeroBitCount
    }
}

/// Appends bytes; `finish()` adds the checksum.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append(_ byte: UInt8) { bytes.append(byte) }
    mutating func append(contentsOf more: [UInt8]) { bytes.append(contentsOf: more) }

    mutating func appendBigEndian(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Unsigned LEB128: 7 bits per byte, least significant first, high bit set on all but the last.
    mutating func appendVarint(_ value: UInt128) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: rest))
    }

    consuming func finish() -> [UInt8] {
        let crc = CRC32.checksum(bytes)
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift)))
        }
        return bytes
    }
}

/// Reads `bytes[offset..<end]`; every read checks the end first, so no input can make it trap.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(bytes: [UInt8], offset: Int, end: Int) {
        self.bytes = bytes
        self.offset = offset
        self.end = end
    }

    var remaining: Int { end - offset }

    mutating func byte() throws(HotlistDecodingError) -> UInt8 {
        guard offset < end else { throw .truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func bigEndianUInt64() throws(HotlistDecodingError) -> UInt64 {
        var value: UInt64 = 0
        for _ in 0..<8 { value = value << 8 | UInt64(try byte()) }
        return value
    }

    /// A canonical varint of at most `HotlistFormat.varintByteCountMax` bytes.
    mutating func varint() throws(HotlistDecodingError) -> UInt128 {
        let start = offset
        var value: UInt128 = 0
        for index in 0..<HotlistFormat.varintByteCountMax {
            let next = try byte()
            value |= UInt128(next & 0x7F) << UInt128(7 * index)
            guard next & 0x80 != 0 else {
                // A zero last byte adds nothing: the same value has a shorter encoding.
                if index > 0, next == 0 { throw .nonCanonical(offset: start) }
                return value
            }
        }
        throw .valueOutOfRange(offset: start)
    }

    /// An entry or removal count: at most `Hotlist.entryCountMax`, and no more than the bytes left
    /// (every entry takes at least one), so that a forged count cannot make the decoder allocate much.
    mutating func count() throws(HotlistDecodingError) -> Int {
        let start = offset
        let value = try varint()
        guard value <= UInt128(Hotlist.entryCountMax) else { throw .tooManyEntries(offset: start) }
        guard value <= UInt128(remaining) else { throw .truncated }
        return Int(value)
    }

    func expectEnd() throws(HotlistDecodingError) {
        guard offset == end else { throw .trailingBytes(offset: offset) }
    }
}

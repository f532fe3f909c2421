import Testing

@testable import Hotlist

/// Every error of both decoders, on hand-made files (sealed with a correct checksum, so that the
/// decoder gets past the envelope to the content).
@Suite("Hotlist formats: every decoding error")
struct HotlistDecodingErrorTests {
    static let fullHeader = Array("CCHL".utf8) + [0x01] + [0, 0, 0, 0, 0, 0, 0, 7]
    static let deltaHeader = Array("CCHD".utf8) + [0x01] + [0, 0, 0, 0, 0, 0, 0, 7] + [0, 0, 0, 0, 0, 0, 0, 8]
    /// One entry, 0000 000000000000000A, lost: count, palette (1: lost), prefix 0, binary group of 1, tail 10.
    static let oneEntry: [UInt8] = [0x01, 0x01, 0x01, 0x00, 0x00, 0x0A]

    static func full(_ content: [UInt8]) throws(HotlistDecodingError) -> Hotlist {
        try Hotlist(decoding: sealed(fullHeader + content))
    }

    /// Unsigned LEB128, written independently of the encoder.
    static func varint(_ value: UInt128) -> [UInt8] {
        var rest = value
        var bytes: [UInt8] = []
        repeat {
            let low = UInt8(rest & 0x7F)
            rest >>= 7
            bytes.append(rest == 0 ? low : low | 0x80)
        } while rest != 0
        return bytes
    }

    @Test func handMadeFilesDecode() throws {
        #expect(
            try Self.full(Self.oneEntry).entries == [HotlistEntry(asn: CardASN(prefix: 0, tail: 10), reason: .lost)])
        #expect(try Self.full([0x00, 0x00]) == Hotlist(version: 7))
        // The same tail as a decimal group when it is BCD.
        #expect(
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x01, 0x09]).entries.map(\.asn) == [CardASN(prefix: 0, tail: 9)])
    }

    @Test func envelopeErrorsInOrder() {
        let good = tinyList.encoded()
        #expect(throws: HotlistDecodingError.truncated) { try Hotlist(decoding: []) }
        #expect(throws: HotlistDecodingError.truncated) { try Hotlist(decoding: Array(good.prefix(8))) }
        #expect(throws: HotlistDecodingError.badMagic) { try Hotlist(decoding: Array("XXXX".utf8) + good.dropFirst(4)) }
        #expect(throws: HotlistDecodingError.badMagic) { try HotlistDelta(decoding: good) }
        var future = good
        future[4] = 2
        #expect(throws: HotlistDecodingError.unsupportedFormatVersion(2)) { try Hotlist(decoding: future) }
        for index in good.indices.dropFirst(5) {
            var damaged = good
            damaged[index] ^= 0x10
            #expect(throws: HotlistDecodingError.badChecksum) { try Hotlist(decoding: damaged) }
        }
        #expect(throws: HotlistDecodingError.badChecksum) { try Hotlist(decoding: good.dropLast() + [0]) }
    }

    @Test func truncatedContent() {
        #expect(throws: HotlistDecodingError.truncated) {
            try Hotlist(decoding: sealed(Array(Self.fullHeader.prefix(9))))
        }
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([]) }
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([0x01]) }
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([0x01, 0x01, 0x01, 0x00, 0x00]) }
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([0x01, 0x01, 0x01, 0x00, 0x00, 0x8A]) }
        // Two entries announced, one present.
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([0x02] + Self.oneEntry.dropFirst()) }
        // More entries announced than bytes left.
        #expect(throws: HotlistDecodingError.truncated) { try Self.full([0x05, 0x01, 0x01]) }
        let tiny = unsealed(tinyList.encoded())
        for length in Self.fullHeader.count..<tiny.count {
            #expect(throws: HotlistDecodingError.truncated) {
                try Hotlist(decoding: sealed(Array(tiny.prefix(length))))
            }
        }
    }

    @Test func tooManyEntries() {
        let count = Self.varint(UInt128(Hotlist.entryCountMax + 1))
        #expect(throws: HotlistDecodingError.tooManyEntries(offset: 13)) { try Self.full(count + [0x01, 0x01]) }
    }

    @Test(arguments: [0x00, 0x06, 0x07, 0x80, 0x86, 0xFF] as [UInt8])
    func invalidAttribute(attribute: UInt8) {
        #expect(throws: HotlistDecodingError.invalidAttribute(offset: 15)) {
            try Self.full([0x01, 0x01, attribute, 0x00, 0x00, 0x0A])
        }
    }

    @Test func nonCanonicalEncodings() {
        // A palette out of order, or repeated.
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 16)) {
            try Self.full([0x01, 0x02, 0x03, 0x01, 0x00, 0x00, 0x14])
        }
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 16)) {
            try Self.full([0x01, 0x02, 0x01, 0x01, 0x00, 0x00, 0x14])
        }
        // A palette attribute no entry uses.
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 14)) {
            try Self.full([0x01, 0x02, 0x01, 0x03, 0x00, 0x00, 0x14])
        }
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 14)) { try Self.full([0x00, 0x01, 0x01]) }
        // A varint with a needless zero byte.
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 13)) { try Self.full([0x81, 0x00, 0x01, 0x01]) }
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 18)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x00, 0x8A, 0x00])
        }
        // A binary group whose tails are all BCD.
        #expect(throws: HotlistDecodingError.nonCanonical(offset: 17)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x00, 0x09])
        }
    }

    @Test func valuesOutOfRange() {
        let tooLong = [UInt8](repeating: 0x80, count: 10) + [0x01]
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 18)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x00] + tooLong)
        }
        // Prefix above 0xFFFF, first group and later group.
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 16)) {
            try Self.full([0x01, 0x01, 0x01] + Self.varint(0x1_0000) + [0x00, 0x0A])
        }
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 21)) {
            try Self.full([0x02, 0x01, 0x01] + Self.varint(0xFFFF) + [0x00, 0x0A, 0x00, 0x00, 0x0A])
        }
        // A group larger than the entries left.
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 17)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x02, 0x0A])
        }
        // Palette index 3 of a 3-attribute palette; an entry with an empty palette.
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 20)) {
            try Self.full([0x01, 0x03, 0x01, 0x03, 0x04, 0x00, 0x00, 0x0A << 2 | 3])
        }
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 17)) {
            try Self.full([0x01, 0x00, 0x00, 0x00, 0x0A])
        }
        // A decimal tail of 17 digits; a binary tail above 64 bits; a gap that passes the maximum.
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 18)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x01] + Self.varint(10_000_000_000_000_000))
        }
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 18)) {
            try Self.full([0x01, 0x01, 0x01, 0x00, 0x00] + Self.varint(UInt128(UInt64.max) + 1))
        }
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 28)) {
            try Self.full([0x02, 0x01, 0x01, 0x00, 0x02] + Self.varint(UInt128(UInt64.max) - 1) + [0x01])
        }
    }

    @Test func trailingBytes() {
        #expect(throws: HotlistDecodingError.trailingBytes(offset: 19)) { try Self.full(Self.oneEntry + [0x00]) }
        let delta = Self.deltaHeader + Self.oneEntry + [0x00]
        #expect(throws: HotlistDecodingError.trailingBytes(offset: 28)) {
            try HotlistDelta(decoding: sealed(delta + [0x00]))
        }
    }

    @Test func deltaErrors() throws {
        let good = Self.deltaHeader + Self.oneEntry + [0x01, 0x00, 0x00, 0x0B]
        let delta = try HotlistDelta(decoding: sealed(good))
        #expect(delta.changed.map(\.asn) == [CardASN(prefix: 0, tail: 10)])
        #expect(delta.removed == [CardASN(prefix: 0, tail: 11)])
        #expect(throws: HotlistDecodingError.badMagic) { try Hotlist(decoding: sealed(good)) }
        var future = good
        future[4] = 9
        #expect(throws: HotlistDecodingError.unsupportedFormatVersion(9)) { try HotlistDelta(decoding: sealed(future)) }
        var damaged = sealed(good)
        damaged[20] ^= 1
        #expect(throws: HotlistDecodingError.badChecksum) { try HotlistDelta(decoding: damaged) }
        for to: UInt8 in [7, 6] {
            var backwards = good
            backwards[20] = to
            #expect(throws: HotlistDecodingError.versionsNotIncreasing) {
                try HotlistDelta(decoding: sealed(backwards))
            }
        }
        let both = Self.deltaHeader + Self.oneEntry + [0x01, 0x00, 0x00, 0x0A]
        #expect(throws: HotlistDecodingError.changedAndRemoved) { try HotlistDelta(decoding: sealed(both)) }
        #expect(throws: HotlistDecodingError.truncated) { try HotlistDelta(decoding: sealed(Array(good.dropLast()))) }
        #expect(throws: HotlistDecodingError.valueOutOfRange(offset: 29)) {
            try HotlistDelta(decoding: sealed(Self.deltaHeader + Self.oneEntry + [0x01, 0x00, 0x02, 0x0B]))
        }
    }
}

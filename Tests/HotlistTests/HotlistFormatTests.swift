import Testing

@testable import Hotlist

@Suite("Hotlist formats: examples and round trips")
struct HotlistFormatTests {
    @Test func crc32CheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(referenceCRC32(Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func tinyListByteForByte() throws {
        let encoded = tinyList.encoded()
        #expect(
            hex(encoded)
                == "43 43 48 4C 01 00 00 00 00 00 00 00 07 04 03 03 04 81 89 66 05 86 80 D1 94 B5 74 0C 02 06 00 "
                + "A9 80 80 80 80 80 80 02 ED EF 13 CA")
        #expect(try Hotlist(decoding: encoded) == tinyList)
    }

    @Test func tinyDeltaByteForByte() throws {
        let new = try Hotlist(
            version: 8,
            entries: [
                HotlistEntry(asn: cityASN(1), reason: .lost, blocksApplication: true),
                HotlistEntry(asn: cityASN(5), reason: .blocked, blocksApplication: true),
                HotlistEntry(asn: cityASN(9), reason: .preLost),
                HotlistEntry(asn: asn("3310000100000000000A"), reason: .expired),
            ])
        let delta = Hotlist.delta(from: tinyList, to: new)
        #expect(delta.changed.map(\.asn) == [cityASN(5), cityASN(9)])
        #expect(delta.removed == [cityASN(6)])
        let encoded = delta.encoded()
        #expect(
            hex(encoded)
                == "43 43 48 44 01 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 08 02 02 02 85 89 66 03 8B C0 A8 CA 9A "
                + "3A 06 01 89 66 01 86 A0 94 A5 8D 1D C0 59 AD 95")
        #expect(try HotlistDelta(decoding: encoded) == delta)
        #expect(try tinyList.applying(HotlistDelta(decoding: encoded)) == new)
    }
}

extension HotlistFormatTests {
    @Test func emptyListIsNineteenBytes() throws {
        let empty = Hotlist(version: 0)
        let encoded = empty.encoded()
        #expect(encoded.count == 4 + 1 + 8 + 1 + 1 + 4)
        #expect(try Hotlist(decoding: encoded) == empty)
    }

    @Test func asnsOfOtherIssuersRoundTrip() throws {
        let list = try Hotlist(
            version: 1,
            entries: [
                HotlistEntry(asn: CardASN(prefix: 0, tail: 0), reason: .lost),
                HotlistEntry(asn: CardASN(prefix: 0, tail: UInt64.max), reason: .preLost),
                HotlistEntry(asn: CardASN(prefix: UInt16.max, tail: UInt64.max), reason: .blocked),
                HotlistEntry(asn: asn("99999999999999999999"), reason: .expired, blocksApplication: true),
                HotlistEntry(asn: asn("FFFF9999999999999999"), reason: .cancelled),
                HotlistEntry(asn: asn("FFFF999999999999999A"), reason: .cancelled),
            ])
        let encoded = list.encoded()
        #expect(try Hotlist(decoding: encoded) == list)
        #expect(try Hotlist(decoding: encoded).encoded() == encoded)
    }

    @Test func sequentialCardsTakeAboutOneBytePerCard() throws {
        let entries = (1...10_000).map { HotlistEntry(asn: cityASN(12 * $0), reason: .lost, blocksApplication: true) }
        let encoded = try Hotlist(version: 3, entries: entries).encoded()
        // Gap 11 with no palette bits: one byte per card, plus the header and the group's first ASN.
        #expect(encoded.count < 10_000 + 40)
    }
}

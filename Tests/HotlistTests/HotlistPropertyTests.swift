import PropertyBased
import Testing

@testable import Hotlist

/// Random lists, random changes and random bytes.
@Suite("Hotlist formats: properties")
struct HotlistPropertyTests {
    /// Mostly this city's cards close together (so that gaps are small and groups long), some of
    /// another city, some random tails under the city prefix (binary groups next to decimal ones),
    /// some fully random, and the edges of the ranges.
    static let asn = zip(Gen.int(in: 0...9), Gen.int(in: 0...3_000), Gen.uint16(), Gen.uint64()).map {
        kind, sequence, prefix, tail -> CardASN in
        switch kind {
        case 0...4: cityASN(sequence)
        case 5: cityASN(sequence, prefix: "3310")
        case 6: CardASN(prefix: 0x3309, tail: tail)
        case 7: CardASN(prefix: prefix, tail: tail)
        default:
            [
                CardASN(prefix: 0, tail: 0), CardASN(prefix: .max, tail: .max), CardASN(prefix: 0, tail: .max),
                CardASN(prefix: .max, tail: 0x9999_9999_9999_9999), CardASN(prefix: 0x3309, tail: 0),
            ][sequence % 5]
        }
    }
    static let entry = zip(asn, Gen.element(of: HotlistReason.allCases), Gen.bool(0.3)).map {
        asn, reason, block in HotlistEntry(asn: asn, reason: reason ?? .lost, blocksApplication: block)
    }
    static let list = zip(entry.array(of: 0...150), Gen.uint64(in: 0...1_000_000)).map { entries, version in
        makeList(version: version, entries)
    }

    /// Keeps the first entry of each ASN.
    static func makeList(version: UInt64, _ entries: [HotlistEntry]) -> Hotlist {
        var seen = Set<CardASN>()
        let unique = entries.filter { seen.insert($0.asn).inserted }
        return Hotlist(version: version, sortedUniqueEntries: unique.sorted { $0.asn < $1.asn })
    }

    /// `list` after removing the entries at the chosen positions and adding or replacing `added`.
    static func edit(
        _ list: Hotlist, removing positions: [Int], adding added: [HotlistEntry], step: UInt64
    )
        -> Hotlist
    {
        var entries = Dictionary(list.entries.map { ($0.asn, $0) }, uniquingKeysWith: { first, _ in first })
        if !list.entries.isEmpty {
            for position in positions { entries[list.entries[position % list.count].asn] = nil }
        }
        for entry in added { entries[entry.asn] = entry }
        return makeList(version: list.version + step, Array(entries.values))
    }

    @Test func fullListsRoundTrip() async throws {
        await propertyCheck(count: 300, input: Self.list) { list throws in
            let encoded = list.encoded()
            #expect(try Hotlist(decoding: encoded) == list)
            #expect(try Hotlist(decoding: encoded).encoded() == encoded)
            for entry in list.entries { #expect(list.entry(for: entry.asn) == entry) }
        }
    }

    @Test func oldPlusDeltaIsNew() async throws {
        let input = zip(
            Self.list, Gen.int(in: 0...1_000).array(of: 0...40), Self.entry.array(of: 0...40), Gen.uint64(in: 1...5))
        await propertyCheck(count: 300, input: input) { old, positions, added, step throws in
            let new = Self.edit(old, removing: positions, adding: added, step: step)
            let delta = Hotlist.delta(from: old, to: new)
            let encoded = delta.encoded()
            let decoded = try HotlistDelta(decoding: encoded)
            #expect(decoded == delta)
            #expect(decoded.encoded() == encoded)
            #expect(try old.applying(decoded) == new)
            #expect(delta.changeCount <= positions.count + added.count)
            // Nothing the delta does not name changes.
            for entry in old.entries
            where !delta.removed.contains(entry.asn) && !delta.changed.contains(where: { $0.asn == entry.asn }) {
                #expect(new.entry(for: entry.asn) == entry)
            }
        }
    }

    /// The same changes on a small list and on the same list plus thousands of untouched cards give
    /// the same delta, byte for byte: its size depends on the changes only.
    @Test func deltaSizeDependsOnChangesNotOnListSize() async throws {
        let input = zip(Self.list, Gen.int(in: 0...1_000).array(of: 0...30), Self.entry.array(of: 0...30))
        let bystanders = (0..<5_000).map { HotlistEntry(asn: cityASN(10_000 + 7 * $0, prefix: "3311"), reason: .lost) }
        await propertyCheck(count: 100, input: input) { small, positions, added throws in
            let smallNew = Self.edit(small, removing: positions, adding: added, step: 1)
            let big = Self.makeList(version: small.version, small.entries + bystanders)
            let bigNew = Self.makeList(version: smallNew.version, smallNew.entries + bystanders)
            let smallDelta = Hotlist.delta(from: small, to: smallNew).encoded()
            #expect(Hotlist.delta(from: big, to: bigNew).encoded() == smallDelta)
            // Header (magic, versions, counts, checksum) plus at most 14 bytes per change:
            // a 3-byte prefix gap, a group header, a 10-byte varint.
            let changes = Hotlist.delta(from: small, to: smallNew).changeCount
            #expect(smallDelta.count <= 4 + 1 + 16 + 2 + 1 + 10 + 4 + 14 * changes)
        }
    }

    @Test func deltasGrowWithTheNumberOfChanges() throws {
        let list = try Hotlist(
            version: 1, entries: (1...20_000).map { HotlistEntry(asn: cityASN(12 * $0), reason: .lost) })
        var sizes: [Int] = []
        for changes in [10, 100, 1_000] {
            let added = (0..<changes).map { HotlistEntry(asn: cityASN(12 * 20_000 + 1 + 13 * $0), reason: .expired) }
            sizes.append(
                Hotlist.delta(from: list, to: Self.edit(list, removing: [], adding: added, step: 1)).encoded().count)
        }
        #expect(sizes[0] < sizes[1] && sizes[1] < sizes[2])
        #expect(sizes[2] < 2 * 1_000 + 40)
    }

    @Test func arbitraryBytesNeverCrashEitherDecoder() async {
        await propertyCheck(count: 2_000, input: Gen.uint8().array(of: 0...120)) { bytes in
            Self.decodeWithoutTrapping(bytes)
        }
    }

    /// Random content behind a valid header and a valid checksum, so that the content parser is reached.
    @Test func arbitraryContentNeverCrashesEitherDecoder() async {
        let input = zip(Gen.bool(), Gen.uint8(in: 0...12).array(of: 0...80), Gen.uint8().array(of: 0...80))
        await propertyCheck(count: 3_000, input: input) { isDelta, small, any in
            let header =
                isDelta
                ? Array("CCHD".utf8) + [1] + [UInt8](repeating: 0, count: 15) + [1]
                : Array("CCHL".utf8) + [1] + [UInt8](repeating: 0, count: 8)
            // Small bytes reach deeper: counts, sizes and palettes that make sense.
            Self.decodeWithoutTrapping(sealed(header + small))
            Self.decodeWithoutTrapping(sealed(header + small + any))
        }
    }

    /// One byte of a valid file changed, checksum recomputed.
    @Test func damagedValidFilesNeverCrash() async {
        await propertyCheck(count: 1_000, input: Self.list, Gen.int(in: 0...10_000), Gen.uint8(in: 1...255)) {
            list, position, flip in
            var body = unsealed(list.encoded())
            let index = 5 + position % (body.count - 5)
            body[index] ^= flip
            Self.decodeWithoutTrapping(sealed(body))
        }
    }

    @Test func asnOrderIsByteOrder() async {
        await propertyCheck(count: 500, input: Self.asn, Self.asn) { left, right in
            #expect((left < right) == left.bytes.lexicographicallyPrecedes(right.bytes))
            #expect(CardASN(hex: left.hex) == left)
            #expect(CardASN(bytes: left.bytes) == left)
            if let decimal = left.decimalTail { #expect(CardASN.bcdTail(decimal: decimal) == left.tail) }
        }
    }

    /// Either an error, or a value whose encoding is exactly `bytes` (the formats are canonical).
    static func decodeWithoutTrapping(_ bytes: [UInt8]) {
        if let list = try? Hotlist(decoding: bytes) { #expect(list.encoded() == bytes) }
        if let delta = try? HotlistDelta(decoding: bytes) { #expect(delta.encoded() == bytes) }
    }
}

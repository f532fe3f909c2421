import Testing

@testable import Hotlist

@Suite("Hotlist model: ASNs, lookups, deltas")
struct HotlistModelTests {
    @Test func asnFromHexAndBytes() throws {
        let asn = try #require(CardASN(hex: "33090001000000012345"))
        #expect(asn.prefix == 0x3309)
        #expect(asn.tail == 0x0001_0000_0001_2345)
        #expect(asn.bytes == [0x33, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45])
        #expect(asn.hex == "33090001000000012345")
        #expect(CardASN(bytes: asn.bytes) == asn)
        #expect(CardASN(hex: "abcdef0123456789ABCD")?.hex == "ABCDEF0123456789ABCD")
        #expect(cityASN(12_345) == asn)
    }

    @Test(arguments: [
        "", "3309000100000001234", "330900010000000123456", "3309000100000001234G", "3309 001000000012345",
    ])
    func invalidHexIsRefused(text: String) {
        #expect(CardASN(hex: text) == nil)
    }

    @Test func wrongByteCountIsRefused() {
        #expect(CardASN(bytes: [UInt8](repeating: 0, count: 9)) == nil)
        #expect(CardASN(bytes: [UInt8](repeating: 0, count: 11)) == nil)
    }

    @Test func decimalTailsOfBCD() {
        #expect(cityASN(12_345).decimalTail == 1_000_000_012_345)
        #expect(CardASN(prefix: 0, tail: 0x0000_0000_0000_000A).decimalTail == nil)
        #expect(CardASN(prefix: 0, tail: 0x9999_9999_9999_9999).decimalTail == CardASN.decimalTailMax)
        #expect(CardASN.bcdTail(decimal: 1_000_000_012_345) == 0x0001_0000_0001_2345)
        #expect(CardASN.bcdTail(decimal: CardASN.decimalTailMax) == 0x9999_9999_9999_9999)
    }

    @Test func reasonCodesAreStable() {
        #expect(HotlistReason.allCases.map(\.rawValue) == [1, 2, 3, 4, 5])
        #expect(HotlistReason.allCases.map(\.name) == ["lost", "pre_lost", "cancelled", "expired", "blocked"])
        #expect(HotlistEntry(asn: cityASN(1), reason: .blocked, blocksApplication: true).attribute == 0x85)
    }

    @Test func listsAreSortedAndLookedUp() throws {
        let list = try Hotlist(
            version: 2,
            entries: [
                HotlistEntry(asn: cityASN(9), reason: .expired),
                HotlistEntry(asn: cityASN(3), reason: .lost, blocksApplication: true),
                HotlistEntry(asn: asn("00000000000000000001"), reason: .cancelled),
            ])
        #expect(list.entries.map(\.asn) == [asn("00000000000000000001"), cityASN(3), cityASN(9)])
        #expect(list.entry(for: cityASN(3)) == HotlistEntry(asn: cityASN(3), reason: .lost, blocksApplication: true))
        #expect(list.contains(cityASN(9)))
        for absent in [cityASN(4), cityASN(10), cityASN(2), asn("00000000000000000000"), asn("FFFFFFFFFFFFFFFFFFFF")] {
            #expect(!list.contains(absent))
        }
        #expect(!Hotlist(version: 0).contains(cityASN(1)))
    }

    @Test func duplicateASNsAreRefused() {
        #expect(throws: HotlistError.duplicateASN(cityASN(1))) {
            try Hotlist(
                version: 1,
                entries: [
                    HotlistEntry(asn: cityASN(1), reason: .lost), HotlistEntry(asn: cityASN(2), reason: .lost),
                    HotlistEntry(asn: cityASN(1), reason: .expired),
                ])
        }
    }

    @Test func deltaInitialiserChecks() {
        let entry = HotlistEntry(asn: cityASN(1), reason: .lost)
        #expect(throws: HotlistError.versionsNotIncreasing(from: 3, to: 3)) {
            try HotlistDelta(fromVersion: 3, toVersion: 3, changed: [], removed: [])
        }
        #expect(throws: HotlistError.duplicateASN(cityASN(1))) {
            try HotlistDelta(fromVersion: 3, toVersion: 4, changed: [entry, entry], removed: [])
        }
        #expect(throws: HotlistError.duplicateASN(cityASN(2))) {
            try HotlistDelta(fromVersion: 3, toVersion: 4, changed: [], removed: [cityASN(2), cityASN(2)])
        }
        #expect(throws: HotlistError.changedAndRemoved(cityASN(1))) {
            try HotlistDelta(fromVersion: 3, toVersion: 4, changed: [entry], removed: [cityASN(2), cityASN(1)])
        }
    }

    @Test func deltaFromOldToNewAndBack() throws {
        let new = try Hotlist(
            version: 9,
            entries: [
                HotlistEntry(asn: cityASN(1), reason: .lost, blocksApplication: true),
                HotlistEntry(asn: cityASN(5), reason: .cancelled, blocksApplication: true),
                HotlistEntry(asn: cityASN(7), reason: .preLost),
            ])
        let delta = Hotlist.delta(from: tinyList, to: new)
        #expect(delta.fromVersion == 7 && delta.toVersion == 9)
        #expect(delta.changed == [new.entries[1], new.entries[2]])
        #expect(delta.removed == [cityASN(6), asn("3310000100000000000A")])
        #expect(delta.changeCount == 4)
        #expect(try tinyList.applying(delta) == new)
        var list = tinyList
        try list.apply(delta)
        #expect(list == new)
        #expect(
            Hotlist.delta(from: tinyList, to: Hotlist(version: 8, sortedUniqueEntries: tinyList.entries)).changeCount
                == 0)
    }

    @Test func applyingToAnotherVersionIsRefused() throws {
        let delta = try HotlistDelta(fromVersion: 6, toVersion: 8, changed: [], removed: [])
        #expect(throws: HotlistError.versionMismatch(listVersion: 7, deltaFromVersion: 6)) {
            try tinyList.applying(delta)
        }
        var list = tinyList
        #expect(throws: HotlistError.versionMismatch(listVersion: 7, deltaFromVersion: 6)) { try list.apply(delta) }
        #expect(list == tinyList)
    }

    @Test func removingAnUnlistedCardIsRefused() throws {
        for unlisted in [cityASN(0), cityASN(2), asn("FFFFFFFFFFFFFFFFFFFF")] {
            let delta = try HotlistDelta(fromVersion: 7, toVersion: 8, changed: [], removed: [cityASN(1), unlisted])
            #expect(throws: HotlistError.removesUnlistedASN(unlisted)) { try tinyList.applying(delta) }
        }
    }

    @Test func errorDescriptionsNameNoCard() {
        let errors: [any Error] = [
            HotlistError.duplicateASN(cityASN(42)), HotlistError.changedAndRemoved(cityASN(42)),
            HotlistError.removesUnlistedASN(cityASN(42)),
        ]
        for error in errors { #expect(!String(describing: error).contains("42")) }
    }
}

import Testing

@testable import Credentials

/// RFC 8949 Appendix A, every vector of the kinds the model holds, then every decoding error.
@Suite("CBOR: RFC 8949 vectors, deterministic encoding and every decoding error")
struct CBORTests {
    /// Appendix A: value and its encoding (which is also the deterministic one for these values).
    static let appendixA: [(CBOR, String)] = [
        (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"),
        (1000, "1903e8"), (1_000_000, "1a000f4240"), (1_000_000_000_000, "1b000000e8d4a51000"),
        (.unsigned(18_446_744_073_709_551_615), "1bffffffffffffffff"),
        (.tagged(2, .byteString(bytes("010000000000000000"))), "c249010000000000000000"),
        (.negative(18_446_744_073_709_551_615), "3bffffffffffffffff"),
        (.tagged(3, .byteString(bytes("010000000000000000"))), "c349010000000000000000"),
        (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
        (false, "f4"), (true, "f5"), (.null, "f6"),
        (.tagged(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"),
        (.tagged(1, 1_363_896_240), "c11a514b67b0"),
        (.tagged(23, .byteString(bytes("01020304"))), "d74401020304"),
        (.tagged(24, .byteString(bytes("6449455446"))), "d818456449455446"),
        (.tagged(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
        (.byteString([]), "40"), (.byteString(bytes("01020304")), "4401020304"),
        ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"), ("\u{00fc}", "62c3bc"),
        ("\u{6c34}", "63e6b0b4"), ("\u{10151}", "64f0908591"),
        ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
        (.array((1...25).map { CBOR(Int64($0)) }), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
        ([:], "a0"), ([1: 2, 3: 4], "a201020304"), (["a": 1, "b": [2, 3]], "a26161016162820203"),
        (["a", ["b": "c"]], "826161a161626163"),
        (["a": "A", "b": "B", "c": "C", "d": "D", "e": "E"], "a56161614161626142616361436164614461656145"),
    ]

    @Test("RFC 8949 Appendix A vectors encode and decode", arguments: appendixA.indices)
    func appendixAVector(index: Int) throws {
        let (value, encoding) = Self.appendixA[index]
        #expect(hex(value.encoded()) == encoding)
        #expect(try CBOR(decoding: bytes(encoding)) == value)
    }

    @Test func integersOverTheFullRange() throws {
        #expect(CBOR(Int64.min) == .negative(UInt64(Int64.max)))
        #expect(CBOR(Int64.min).int64 == Int64.min)
        #expect(CBOR(Int64.max).int64 == Int64.max)
        #expect(CBOR.negative(.max).int64 == nil)
        #expect(CBOR.unsigned(.max).int64 == nil)
        #expect(CBOR.unsigned(.max).uint64 == .max)
        #expect(CBOR(-1).uint64 == nil)
        // The boundaries of every head length.
        for (value, encoding): (UInt64, String) in [
            (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65_535, "19ffff"), (65_536, "1a00010000"),
            (4_294_967_295, "1affffffff"), (4_294_967_296, "1b0000000100000000"),
        ] {
            #expect(hex(CBOR.unsigned(value).encoded()) == encoding)
            #expect(try CBOR(decoding: bytes(encoding)) == .unsigned(value))
            #expect(hex(CBOR.negative(value).encoded()) == "3" + encoding.dropFirst())
        }
    }

    /// §4.2.1: keys sorted by the bytes of their encodings, so shorter keys first, then bytewise.
    @Test func mapKeysAreSortedByTheirEncodedBytes() throws {
        let unsorted: CBOR = ["aa": 0, -1: 1, "b": 2, 100: 3, 10: 4, [100]: 5, false: 6, -100: 7, .byteString([1]): 8]
        // 0a, 1864, 20, 3863, 41 01, 61 62, 62 61 61, 81 18 64, f4.
        #expect(
            hex(unsorted.encoded()) == "a9" + "0a04" + "186403" + "2001" + "386307" + "410108" + "616202" + "62616100"
                + "81186405" + "f406")
        let decoded = try CBOR(decoding: unsorted.encoded())
        #expect(decoded.entries?.map(\.key) == [10, 100, -1, -100, .byteString([1]), "b", "aa", [100], false])
        // Decoding keeps the order it reads; equality is in order.
        #expect(try CBOR(decoding: bytes("a2 03 04 01 02")) == [3: 4, 1: 2])
        #expect(try CBOR(decoding: bytes("a2 03 04 01 02")) != [1: 2, 3: 4])
        #expect(hex(try CBOR(decoding: bytes("a2 03 04 01 02")).encoded()) == "a201020304")
    }

    @Test func accessors() throws {
        let map: CBOR = [1: -7, 4: .byteString([0x31]), "uri": "x", -70_001: [true, .null]]
        #expect(map[1]?.int64 == -7)
        #expect(map[4]?.bytes == [0x31])
        #expect(map["uri"]?.text == "x")
        #expect(map[-70_001]?.items == [true, .null])
        #expect(map[-70_001]?.items?.first?.boolValue == true)
        #expect(map[2] == nil)
        #expect(CBOR.array([1])[1] == nil)
        #expect(map.entries?.count == 4)
        #expect(CBOR.textString("x").bytes == nil)
        #expect(CBOR.byteString([]).text == nil)
    }

    @Test func indefiniteLengthsAreRefused() {
        for encoding in [
            "5f42010243030405ff", "7f657374726561646d696e67ff", "9fff", "9f018202039f0405ffff",
            "bf6346756ef563416d7421ff",
        ] {
            #expect(throws: CBORError.indefiniteLength(offset: 0)) { try CBOR(decoding: bytes(encoding)) }
        }
        #expect(throws: CBORError.indefiniteLength(offset: 1)) { try CBOR(decoding: bytes("815f40ff")) }
    }

    @Test func floatsUndefinedAndSimpleValuesAreRefused() {
        // Appendix A floats, undefined, simple(16), simple(255), simple(24) and 0xe0.
        for encoding in [
            "f90000", "f93c00", "fa47c35000", "fb3ff199999999999a", "f97c00", "f7", "f0", "f8ff", "f818", "e0",
        ] {
            #expect(throws: CBORError.unsupportedItem(offset: 0)) { try CBOR(decoding: bytes(encoding)) }
        }
    }

    @Test func reservedAdditionalInformationAndStrayBreaksAreMalformed() {
        for encoding in ["1c", "1d", "1e", "1f", "3f", "df", "5c", "fc", "fd", "fe", "ff"] {
            #expect(throws: CBORError.malformedHead(offset: 0)) { try CBOR(decoding: bytes(encoding)) }
        }
        #expect(throws: CBORError.malformedHead(offset: 1)) { try CBOR(decoding: bytes("81ff")) }
    }

    @Test func nonShortestHeadsAreRefused() {
        for encoding in [
            "1800", "1817", "190000", "1900ff", "1a0000ffff", "1b00000000ffffffff", "3817", "5801ff", "7801" + "61",
            "9800", "b800", "d80100",
        ] {
            #expect(throws: CBORError.nonShortestHead(offset: 0)) { try CBOR(decoding: bytes(encoding)) }
        }
        #expect(throws: CBORError.nonShortestHead(offset: 1)) { try CBOR(decoding: bytes("811801")) }
    }

    @Test func truncatedInputIsRefusedWherever() {
        let whole = CBOR.array([.byteString([1, 2, 3]), "text", ["k": .unsigned(.max)], .tagged(18, -1000)]).encoded()
        for length in 0..<whole.count {
            #expect(throws: CBORError.self) { try CBOR(decoding: Array(whole.prefix(length))) }
            if case .truncated = Self.error(Array(whole.prefix(length))) {
            } else {
                Issue.record(
                    "prefix of \(length) bytes: \(String(describing: Self.error(Array(whole.prefix(length)))))")
            }
        }
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: []) }
        // Lengths and counts far beyond the input, up to 2^64 - 1: refused before any allocation.
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: bytes("5bffffffffffffffff")) }
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: bytes("7bffffffffffffffff")) }
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: bytes("9bffffffffffffffff00")) }
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: bytes("bb7fffffffffffffff0000")) }
        #expect(throws: CBORError.truncated(offset: 0)) { try CBOR(decoding: bytes("a30102")) }
    }

    @Test func trailingBytesAreRefused() {
        #expect(throws: CBORError.trailingBytes(offset: 1)) { try CBOR(decoding: bytes("0000")) }
        #expect(throws: CBORError.trailingBytes(offset: 3)) { try CBOR(decoding: bytes("820102ff")) }
    }

    @Test func duplicateMapKeysAreRefused() throws {
        #expect(throws: CBORError.duplicateMapKey(offset: 3)) { try CBOR(decoding: bytes("a2 01 02 01 03")) }
        #expect(throws: CBORError.duplicateMapKey(offset: 4)) { try CBOR(decoding: bytes("a2 6161 01 6161 02")) }
        // Equal values, equal encodings, even nested.
        #expect(throws: CBORError.duplicateMapKey(offset: 4)) { try CBOR(decoding: bytes("a2 8101 00 8101 00")) }
        // 1 and -2, "a" and h'61' are different keys.
        #expect(try CBOR(decoding: bytes("a2 01 00 21 00")).entries?.count == 2)
        #expect(try CBOR(decoding: bytes("a2 6161 00 4161 00")).entries?.count == 2)
    }

    @Test func invalidUTF8IsRefused() {
        for encoding in ["61ff", "62c328", "63e28228", "64f0288cbc", "62c0af", "63eda080"] {
            #expect(throws: CBORError.invalidUTF8(offset: 0)) { try CBOR(decoding: bytes(encoding)) }
        }
        #expect(throws: CBORError.invalidUTF8(offset: 1)) { try CBOR(decoding: bytes("a161ff00")) }
    }

    @Test func depthLimit() throws {
        func nested(_ depth: Int) -> [UInt8] { [UInt8](repeating: 0x81, count: depth) + [0x00] }
        #expect(try CBOR(decoding: nested(16)).encoded() == nested(16))
        #expect(throws: CBORError.depthLimitExceeded(offset: 16)) { try CBOR(decoding: nested(17)) }
        // Maps and tags count as levels too.
        let limits = CBORDecodingLimits(depthMax: 2)
        #expect(try CBOR(decoding: bytes("a1 01 c1 00"), limits: limits) == [1: .tagged(1, 0)])
        #expect(throws: CBORError.depthLimitExceeded(offset: 3)) {
            try CBOR(decoding: bytes("a1 01 c1 c1 00"), limits: limits)
        }
        #expect(throws: CBORError.depthLimitExceeded(offset: 0)) {
            try CBOR(decoding: bytes("80"), limits: CBORDecodingLimits(depthMax: 0))
        }
        // Far beyond any limit: refused, no stack overflow.
        #expect(throws: CBORError.depthLimitExceeded(offset: 16)) { try CBOR(decoding: nested(100_000)) }
    }

    @Test func itemCountAndLengthLimits() throws {
        let limits = CBORDecodingLimits(itemCountMax: 4, byteCountMax: 8)
        #expect(try CBOR(decoding: bytes("83010203"), limits: limits) == [1, 2, 3])
        #expect(throws: CBORError.itemCountLimitExceeded(offset: 4)) {
            try CBOR(decoding: bytes("8401020304"), limits: limits)
        }
        #expect(throws: CBORError.itemCountLimitExceeded(offset: 4)) {
            try CBOR(decoding: bytes("a2 01 02 03 04"), limits: limits)
        }
        #expect(throws: CBORError.inputTooLong(byteCount: 9)) {
            try CBOR(decoding: bytes("48 0102030405060708"), limits: limits)
        }
        #expect(CBORDecodingLimits() == CBORDecodingLimits(depthMax: 16, itemCountMax: 65_536, byteCountMax: 1 << 20))
    }

    @Test func errorDescriptionsGiveOffsetsNotContent() {
        #expect(CBORError.duplicateMapKey(offset: 7).description == "duplicate CBOR map key at byte 7")
        #expect(CBORError.inputTooLong(byteCount: 9).description.contains("9 bytes"))
    }

    static func error(_ bytes: [UInt8]) -> CBORError? {
        do {
            _ = try CBOR(decoding: bytes)
            return nil
        } catch { return error }
    }
}

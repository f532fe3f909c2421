import PropertyBased
import Testing

@testable import Credentials

@Suite("Token Status List (draft-ietf-oauth-status-list-20)")
struct StatusListTests {
    /// §4.1, first example: 16 one-bit statuses, the bytes B9 A3, `lst` 78dadbb918000217015d, and
    /// the CBOR `StatusList` of §4.3.
    ///
    /// The draft's CBOR examples write "bits" before "lst": its generator (Python's cbor2) keeps
    /// the order the dict was built in. RFC 8949 §4.2.1 sorts keys by their encoded bytes, and
    /// `63 6c7374` ("lst") sorts before `64 62697473` ("bits"), so this module writes "lst" first.
    /// The `lst` bytes are identical; the decoder reads either order.
    @Test func draftOneBitExample() throws {
        var list = StatusList(bits: 1, count: 16)
        for (index, status) in [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1].enumerated() {
            list.set(index, to: UInt8(status))
        }
        #expect(list.bytes == [0xB9, 0xA3])
        #expect(hex(list.compressed()) == "78dadbb918000217015d")
        #expect(hex(list.cbor().encoded()) == "a2636c73744a78dadbb918000217015d646269747301")
        let decoded = try StatusList(cbor: CBOR(decoding: bytes("a2646269747301636c73744a78dadbb918000217015d")))
        #expect(decoded == list)
        #expect((0..<16).map { decoded.get($0) } == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1])
    }

    /// §4.1, second example: 12 two-bit statuses, the bytes C9 44 F9.
    @Test func draftTwoBitExample() throws {
        var list = StatusList(bits: 2, count: 12)
        for (index, status) in [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3].enumerated() { list.set(index, to: UInt8(status)) }
        #expect(list.bytes == [0xC9, 0x44, 0xF9])
        #expect(hex(list.compressed()) == "78da3be9f2130003df0207")
        #expect(hex(list.cbor().encoded()) == "a2636c73744b78da3be9f2130003df0207646269747302")
        #expect(try StatusList(cbor: CBOR(decoding: bytes("a2646269747302636c73744b78da3be9f2130003df0207"))) == list)
    }

    /// The draft's appendix vectors: 2^20 entries at 1, 2, 4 and 8 bits; `lst` byte for byte, the
    /// map in deterministic order (see `draftOneBitExample`).
    @Test(
        "draft appendix test vectors: lst byte for byte",
        arguments: [
            (1, StatusListDraftVectors.statuses1Bit, StatusListDraftVectors.cbor1Bit),
            (2, StatusListDraftVectors.statuses2Bit, StatusListDraftVectors.cbor2Bit),
            (4, StatusListDraftVectors.statuses4Bit, StatusListDraftVectors.cbor4Bit),
            (8, StatusListDraftVectors.statuses8Bit, StatusListDraftVectors.cbor8Bit),
        ])
    func draftAppendixVector(bits: Int, statuses: [(index: Int, status: UInt8)], cbor: String) throws {
        var list = StatusList(bits: bits, count: StatusListDraftVectors.entryCount)
        for (index, status) in statuses { list.set(index, to: status) }
        let draft = try CBOR(decoding: bytes(cbor))
        #expect(list.compressed() == draft["lst"]?.bytes)
        #expect(list.cbor().encoded() == draft.encoded())
        let decoded = try StatusList(cbor: draft)
        #expect(decoded.count == StatusListDraftVectors.entryCount)
        for (index, status) in statuses { #expect(decoded.get(index) == status) }
        #expect(decoded == list)
    }

    @Test func countsAreWholeBytes() {
        #expect(StatusList(bits: 1, count: 10).count == 16)
        #expect(StatusList(bits: 1, count: 10).bytes.count == 2)
        #expect(StatusList(bits: 2, count: 5).count == 8)
        #expect(StatusList(bits: 4, count: 3).count == 4)
        #expect(StatusList(bits: 8, count: 3).count == 3)
        #expect(StatusList(bits: 1, count: 0).count == 0)
        // One bit per card: 125,000 bytes for a million cards before compression.
        #expect(StatusList(bits: 1, count: 1_000_000).bytes.count == 125_000)
    }

    @Test func getOutsideTheListIsNil() {
        let list = StatusList(bits: 4, count: 4)
        #expect(list.get(3) == 0)
        #expect(list.get(4) == nil)
        #expect(list.get(-1) == nil)
        #expect(list.get(.max) == nil)
    }

    @Test func aMillionCardsWithAFewRevokedCompressSmall() throws {
        var list = StatusList(bits: 1, count: 1_000_000)
        for index in stride(from: 17, to: 1_000_000, by: 997) { list.set(index, to: 1) }
        let compressed = list.compressed()
        #expect(compressed.count < 4_000)
        #expect(try StatusList(bits: 1, compressed: compressed) == list)
    }

    @Test func decodingErrors() throws {
        let lst = StatusList(bits: 1, count: 64).compressed()
        #expect(throws: CredentialFormatError.invalidStatusList(reason: "bits is not 1, 2, 4 or 8")) {
            try StatusList(bits: 3, compressed: lst)
        }
        for bits: CBOR in [0, 3, 5, 16, 256, -1, "1"] {
            #expect(throws: CredentialFormatError.invalidStatusList(reason: "bits is not 1, 2, 4 or 8")) {
                try StatusList(cbor: ["bits": bits, "lst": .byteString(lst)])
            }
        }
        #expect(throws: CredentialFormatError.invalidStatusList(reason: "lst is not bytes")) {
            try StatusList(cbor: ["bits": 1])
        }
        #expect(throws: CredentialFormatError.invalidStatusList(reason: "not a map")) { try StatusList(cbor: [1]) }
        #expect(throws: CredentialFormatError.deflate(.corrupt)) { try StatusList(bits: 1, compressed: [0, 0, 0]) }
        // 64 entries at one bit are 8 bytes: a limit of 63 entries (7 bytes) refuses them.
        #expect(throws: CredentialFormatError.deflate(.outputLimitExceeded(byteCountMax: 7))) {
            try StatusList(bits: 1, compressed: lst, entryCountMax: 63)
        }
        #expect(try StatusList(bits: 1, compressed: lst, entryCountMax: 64).count == 64)
        // aggregation_uri and unknown members are ignored.
        #expect(
            try StatusList(cbor: ["bits": 1, "lst": .byteString(lst), "aggregation_uri": "https://x"]).count == 64)
    }

    @Test func setAndGetRoundTripThroughCompression() async throws {
        let input = zip(
            Gen.element(of: [1, 2, 4, 8]), Gen.int(in: 1...3_000),
            zip(Gen.int(in: 0...100_000), Gen.uint8()).array(of: 0...60))
        await propertyCheck(count: 300, input: input) { bits, count, changes throws in
            let bits = bits ?? 1
            var list = StatusList(bits: bits, count: count)
            var expected = [UInt8](repeating: 0, count: list.count)
            for (position, value) in changes {
                let index = position % count
                let status = value & UInt8((1 << bits) - 1)
                list.set(index, to: status)
                expected[index] = status
            }
            let decoded = try StatusList(bits: bits, compressed: list.compressed())
            #expect(decoded == list)
            #expect((0..<decoded.count).map { decoded.get($0) } == expected)
        }
    }
}

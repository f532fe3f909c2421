import PropertyBased
import Testing

@testable import Credentials

@Suite("Deflate: zlib format through the system zlib")
struct DeflateTests {
    /// The Token Status List draft's example (§4.1): statuses 1 0 0 1 1 1 0 1 | 1 1 0 0 0 1 0 1 are
    /// the bytes B9 A3, compressed at level 9 to 78 DA DB B9 18 00 02 17 01 5D.
    @Test func draftExampleCompressesByteForByte() throws {
        #expect(hex(Deflate.compress([0xB9, 0xA3])) == "78dadbb918000217015d")
        #expect(try Deflate.decompress(bytes("78dadbb918000217015d"), byteCountMax: 2) == [0xB9, 0xA3])
    }

    @Test func compressedDataStartsWithAZlibHeaderAndRoundTrips() throws {
        let text = Array(String(repeating: "citizen card ", count: 200).utf8)
        let compressed = Deflate.compress(text)
        #expect(compressed.prefix(2) == [0x78, 0xDA])  // 32 KiB window, level 9
        #expect(compressed.count < text.count / 10)
        #expect(try Deflate.decompress(compressed, byteCountMax: text.count) == text)
        #expect(Deflate.compress(text, level: 1).prefix(2) == [0x78, 0x01])
        #expect(try Deflate.decompress(Deflate.compress([]), byteCountMax: 0) == [])
    }

    /// 64 MiB of zeros compress to about 64 KiB: refused at the limit, long before it is inflated.
    @Test func aZipBombIsRefusedAtTheOutputLimit() throws {
        let bomb = Deflate.compress([UInt8](repeating: 0, count: 64 << 20))
        #expect(bomb.count < 100_000)
        #expect(throws: DeflateError.outputLimitExceeded(byteCountMax: 4_096)) {
            try Deflate.decompress(bomb, byteCountMax: 4_096)
        }
        #expect(throws: DeflateError.outputLimitExceeded(byteCountMax: 1 << 20)) {
            try Deflate.decompress(bomb, byteCountMax: 1 << 20)
        }
        // Exactly at the limit is fine; one byte under is not.
        let content = [UInt8](repeating: 7, count: 100_000)
        #expect(try Deflate.decompress(Deflate.compress(content), byteCountMax: 100_000) == content)
        #expect(throws: DeflateError.outputLimitExceeded(byteCountMax: 99_999)) {
            try Deflate.decompress(Deflate.compress(content), byteCountMax: 99_999)
        }
    }

    @Test func truncatedInputIsRefused() {
        let compressed = Deflate.compress(Array("the status of every card".utf8))
        for length in 0..<compressed.count {
            #expect(throws: DeflateError.truncated) {
                try Deflate.decompress(Array(compressed.prefix(length)), byteCountMax: 1_000)
            }
        }
    }

    @Test func corruptInputIsRefused() {
        let compressed = Deflate.compress(Array("the status of every card".utf8))
        // Not a zlib header (gzip's magic, a raw deflate block, a bad header check).
        #expect(throws: DeflateError.corrupt) { try Deflate.decompress([0x1F, 0x8B, 0x08, 0x00], byteCountMax: 100) }
        #expect(throws: DeflateError.corrupt) {
            try Deflate.decompress(Array(compressed.dropFirst(2)), byteCountMax: 100)
        }
        #expect(throws: DeflateError.corrupt) {
            try Deflate.decompress([0x78, 0xDB] + compressed.dropFirst(2), byteCountMax: 100)
        }
        // A preset dictionary is asked for.
        #expect(throws: DeflateError.corrupt) {
            try Deflate.decompress([0x78, 0xBB, 0, 0, 0, 1, 0x03, 0x00], byteCountMax: 100)
        }
        // The Adler-32 at the end does not match.
        var damaged = compressed
        damaged[damaged.count - 1] ^= 0x01
        #expect(throws: DeflateError.corrupt) { try Deflate.decompress(damaged, byteCountMax: 100) }
    }

    @Test func bytesAfterTheStreamAreRefused() {
        let compressed = Deflate.compress([1, 2, 3])
        #expect(throws: DeflateError.trailingBytes(byteCount: 1)) {
            try Deflate.decompress(compressed + [0], byteCountMax: 100)
        }
        #expect(throws: DeflateError.trailingBytes(byteCount: compressed.count)) {
            try Deflate.decompress(compressed + compressed, byteCountMax: 100)
        }
    }

    @Test func roundTrip() async throws {
        let input = zip(Gen.uint8(in: 0...3).array(of: 0...2_000), Gen.int32(in: 0...9))
        await propertyCheck(count: 300, input: input) { bytes, level throws in
            #expect(try Deflate.decompress(Deflate.compress(bytes, level: level), byteCountMax: bytes.count) == bytes)
        }
    }

    /// Random bytes behind a valid zlib header, or a valid stream with a byte changed: an error or
    /// some output within the limit, never a trap.
    @Test func arbitraryInputNeverCrashes() async {
        let input = zip(Gen.uint8().array(of: 0...200), Gen.int(in: 0...1_000), Gen.uint8(in: 1...255))
        await propertyCheck(count: 2_000, input: input) { random, position, flip in
            if let output = try? Deflate.decompress([0x78, 0xDA] + random, byteCountMax: 1_000) {
                #expect(output.count <= 1_000)
            }
            var damaged = Deflate.compress(random)
            damaged[position % damaged.count] ^= flip
            if let output = try? Deflate.decompress(damaged, byteCountMax: 1_000) { #expect(output.count <= 1_000) }
        }
    }
}

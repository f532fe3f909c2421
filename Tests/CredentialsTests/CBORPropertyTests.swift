import PropertyBased
import Testing

@testable import Credentials

/// Random values through the encoder and decoder, and random bytes through the decoder.
@Suite("CBOR: properties")
struct CBORPropertyTests {
    /// Arbitrary values, built from a list of random numbers so that PropertyBased shrinks a
    /// failing value by shrinking the list.
    static let value = Gen.uint64().array(of: 0...80).map { numbers in CBORBuilder(numbers).build() }

    @Test func decodingTheEncodingGivesTheValueWithSortedMaps() async throws {
        await propertyCheck(count: 1_000, input: Self.value) { value throws in
            let encoded = value.encoded()
            let decoded = try CBOR(decoding: encoded)
            #expect(decoded == sortingMaps(value))
            #expect(decoded.encoded() == encoded)
        }
    }

    @Test func arbitraryBytesNeverCrashTheDecoder() async {
        await propertyCheck(count: 5_000, input: Gen.uint8().array(of: 0...64)) { bytes in
            Self.decodeWithoutTrapping(bytes)
        }
    }

    /// Valid encodings with one byte changed, cut short or extended: the decoder sees realistic
    /// heads and lengths, and must still either refuse or give a value that encodes back.
    @Test func damagedValidEncodingsNeverCrashTheDecoder() async {
        let input = zip(Self.value, Gen.int(in: 0...10_000), Gen.uint8(), Gen.int(in: 0...2))
        await propertyCheck(count: 3_000, input: input) { value, position, byte, damage in
            var bytes = value.encoded()
            let index = position % bytes.count
            switch damage {
            case 0: bytes[index] = byte
            case 1: bytes.removeLast(index % 3 == 0 ? bytes.count - index : 1)
            default: bytes.insert(byte, at: index)
            }
            Self.decodeWithoutTrapping(bytes)
        }
    }

    /// Either an error, or a value whose deterministic encoding has the same length as the input
    /// (heads are shortest, so only map order can differ) and decodes to the same value sorted.
    static func decodeWithoutTrapping(_ bytes: [UInt8]) {
        guard let value = try? CBOR(decoding: bytes) else { return }
        let encoded = value.encoded()
        #expect(encoded.count == bytes.count)
        #expect((try? CBOR(decoding: encoded)) == sortingMaps(value))
    }
}

/// `value` with the entries of every map in deterministic order, as `encoded()` writes them.
func sortingMaps(_ value: CBOR) -> CBOR {
    switch value {
    case .array(let items): .array(items.map(sortingMaps))
    case .map(let entries):
        .map(
            entries.map { CBOR.MapEntry(key: sortingMaps($0.key), value: sortingMaps($0.value)) }
                .sorted { $0.key.encoded().lexicographicallyPrecedes($1.key.encoded()) })
    case .tagged(let tag, let content): .tagged(tag, sortingMaps(content))
    default: value
    }
}

/// Turns numbers into a CBOR value of every kind, nested at most 5 deep.
struct CBORBuilder {
    static let characters: [String] = [
        "a", "Z", "0", " ", "\u{e9}", "e\u{301}", "\u{6c34}", "\u{10151}", "\u{0}", "\"",
    ]
    private let numbers: [UInt64]
    private var position = 0

    init(_ numbers: [UInt64]) { self.numbers = numbers }

    func build() -> CBOR {
        var builder = self
        return builder.value(depth: 0)
    }

    private mutating func next() -> UInt64 {
        defer { position += 1 }
        return position < numbers.count ? numbers[position] : 0
    }

    /// A random integer of random magnitude, so that every head length shows up.
    private mutating func integer() -> UInt64 {
        let raw = next()
        return raw >> (next() % 64)
    }

    private mutating func value(depth: Int) -> CBOR {
        switch next() % (depth >= 5 ? 6 : 9) {
        case 0: .unsigned(integer())
        case 1: .negative(integer())
        case 2: .byteString((0..<next() % 12).map { _ in UInt8(truncatingIfNeeded: next()) })
        case 3: .textString((0..<next() % 6).map { _ in Self.characters[Int(next() % 10)] }.joined())
        case 4: .bool(next() % 2 == 0)
        case 5: .null
        case 6: .array((0..<next() % 5).map { _ in value(depth: depth + 1) })
        case 7: map(depth: depth)
        default: .tagged(integer(), value(depth: depth + 1))
        }
    }

    /// Keys of any kind; a key whose encoding repeats an earlier one is left out.
    private mutating func map(depth: Int) -> CBOR {
        var entries: [CBOR.MapEntry] = []
        var keys = Set<[UInt8]>()
        for _ in 0..<next() % 5 {
            let key = value(depth: depth + 1)
            let entryValue = value(depth: depth + 1)
            if keys.insert(key.encoded()).inserted { entries.append(CBOR.MapEntry(key: key, value: entryValue)) }
        }
        return .map(entries)
    }
}

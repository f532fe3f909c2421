import PropertyBased
import Testing

@testable import Credentials

@Suite("Base45 (RFC 9285)")
struct Base45Tests {
    /// RFC 9285 §4.3 and §4.4 examples, plus the edges of the groups.
    static let examples: [(String, [UInt8])] = [
        ("BB8", Array("AB".utf8)),
        ("%69 VD92EX0", Array("Hello!!".utf8)),
        ("UJCLQE7W581", Array("base-45".utf8)),
        ("QED8WEX0", Array("ietf!".utf8)),
        ("", []),
        ("00", [0]),
        ("000", [0, 0]),
        ("FGW", [0xFF, 0xFF]),
        ("U5", [0xFF]),
    ]

    @Test("RFC 9285 examples encode and decode", arguments: examples.indices)
    func example(index: Int) throws {
        let (text, bytes) = Self.examples[index]
        #expect(Base45.encode(bytes) == text)
        #expect(try Base45.decode(text) == bytes)
    }

    @Test func lengthsOfThreeKPlusOneAreRefused() {
        for text in ["0", "0000", "BB8A", "%69 VD92EX"] {
            #expect(throws: Base45Error.invalidLength(characterCount: text.utf8.count)) { try Base45.decode(text) }
        }
    }

    @Test func charactersOutsideTheAlphabetAreRefused() {
        // Lowercase is not folded: "bb8" is not "BB8".
        #expect(throws: Base45Error.invalidCharacter(offset: 0)) { try Base45.decode("bb8") }
        #expect(throws: Base45Error.invalidCharacter(offset: 2)) { try Base45.decode("BBa") }
        #expect(throws: Base45Error.invalidCharacter(offset: 4)) { try Base45.decode("BB8B#8") }
        #expect(throws: Base45Error.invalidCharacter(offset: 1)) { try Base45.decode("B\u{0}8") }
        #expect(throws: Base45Error.invalidCharacter(offset: 0)) { try Base45.decode("\u{e9}8") }  // 2 UTF-8 bytes
        #expect(throws: Base45Error.invalidCharacter(offset: 2)) { try Base45.decode("BB\n") }
    }

    @Test func groupsAboveTheirRangeAreRefused() throws {
        // RFC 9285 §6: "GGW" is 65536.
        #expect(throws: Base45Error.valueOutOfRange(offset: 0)) { try Base45.decode("GGW") }
        #expect(throws: Base45Error.valueOutOfRange(offset: 3)) { try Base45.decode("BB8:::") }
        // A final pair above 255: "V5" is 31 + 5·45 = 256.
        #expect(throws: Base45Error.valueOutOfRange(offset: 3)) { try Base45.decode("BB8V5") }
        #expect(try Base45.decode("U5") == [255])
    }

    @Test func everyAlphabetCharacterDecodesToItsValue() throws {
        for (value, character) in Base45.alphabet.enumerated() {
            let text = String(decoding: [character, UInt8(ascii: "0")], as: UTF8.self)
            #expect(try Base45.decode(text) == [UInt8(value)])
        }
    }

    @Test func roundTrip() async throws {
        await propertyCheck(count: 1_000, input: Gen.uint8().array(of: 0...100)) { bytes throws in
            let text = Base45.encode(bytes)
            #expect(text.utf8.count == bytes.count / 2 * 3 + bytes.count % 2 * 2)
            #expect(text.utf8.allSatisfy { Base45.alphabet.contains($0) })
            #expect(try Base45.decode(text) == bytes)
        }
    }

    /// Any text either decodes to bytes that encode back to it, or is refused.
    @Test func arbitraryTextNeverCrashes() async {
        let alphabetAndMore = Gen.element(of: Base45.alphabet + Array("az#=\n\u{0}".utf8)).map { $0 ?? 0 }
        await propertyCheck(count: 3_000, input: alphabetAndMore.array(of: 0...40)) { characters in
            let text = String(decoding: characters, as: UTF8.self)
            if let decoded = try? Base45.decode(text) { #expect(Base45.encode(decoded) == text) }
        }
    }
}

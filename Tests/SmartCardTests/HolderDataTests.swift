import CardCrypto
import Foundation
import Testing

@testable import SmartCard

/// The social-security application's data files (R-30, issue 19 part 6): every field, with the
/// sex code, birth date and region code of issue 19 only when the card holds them.
@Suite("Holder data on the chip: EF 05 and EF 06, old and new cards")
struct HolderDataTests {
    static let selectSocialSecurity = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"

    /// The TLVs of a file: tag → value (1-byte tags, short lengths, as the card writes them).
    static func fields(_ bytes: [UInt8]) -> [UInt8: [UInt8]] {
        var out: [UInt8: [UInt8]] = [:]
        var index = 0
        while index + 2 <= bytes.count {
            let length = Int(bytes[index + 1])
            guard index + 2 + length <= bytes.count else { break }
            out[bytes[index]] = Array(bytes[(index + 2)..<(index + 2 + length)])
            index += 2 + length
        }
        return out
    }

    func read(_ card: inout SoftwareCard) -> (ef05: [UInt8: [UInt8]], ef06: [UInt8: [UInt8]], raw06: [UInt8]) {
        _ = card.send(Self.selectSocialSecurity)
        let ef05 = card.send("00B0850000")
        _ = card.send("0020000003123456")
        let ef06 = card.send("00B0860000")
        #expect(ef05.status == .success && ef06.status == .success)
        return (Self.fields(ef05.data), Self.fields(ef06.data), ef06.data)
    }

    @Test("every holder field is on the chip: EF 05 01–04, EF 06 08–0D")
    func allFields() throws {
        var holder = Fixture.holder
        holder.sexCode = "1"
        holder.birthDate = "19910101"
        holder.regionCode = "360426"
        var card = try SoftwareCard.personalise(
            asn: Fixture.bytes("00003100000000000001"), holder: holder, keyring: .testKeys())
        let (ef05, ef06, _) = read(&card)
        #expect(ef05[0x01] == Array("A12345678".utf8))
        #expect(ef05[0x02] == [0x20, 0x25, 0x01, 0x01] && ef05[0x03] == [0x20, 0x35, 0x01, 0x01])
        #expect(ef05[0x04] == Array("4111111111111111".utf8))
        #expect(ef06[0x08] == Array("360426199101010071".utf8))
        #expect(ef06[0x09] == Array("张三".utf8))
        #expect(ef06[0x0A] == Array("photo/0001".utf8))
        #expect(ef06[0x0B] == Array("1".utf8))
        #expect(ef06[0x0C] == [0x19, 0x91, 0x01, 0x01])
        #expect(ef06[0x0D] == Array("360426".utf8))
    }

    @Test("a card without the issue-19 fields keeps its EF 06 byte for byte; its file still loads")
    func oldCards() throws {
        var old = try Fixture.vectorCard()
        let (_, ef06, raw) = read(&old)
        #expect(ef06.keys.sorted() == [0x08, 0x09, 0x0A])
        let expected =
            [0x08, 18] + Array("360426199101010071".utf8) + [0x09, 6] + Array("张三".utf8) + [0x0A, 10]
            + Array("photo/0001".utf8)
        #expect(raw == expected)
        let text = String(decoding: try old.encoded(), as: UTF8.self)
        #expect(!text.contains("sexCode") && !text.contains("birthDate") && !text.contains("regionCode"))
        #expect(try SoftwareCard.decode(Data(text.utf8)) == old)
    }

    @Test("the fields from a resident ID number; bad values are refused with the field's name")
    func validation() throws {
        let fields = try #require(CardHolder.residentIDFields("11010519491231002X"))
        #expect(fields.sexCode == "2" && fields.birthDate == "19491231" && fields.regionCode == "110105")
        #expect(CardHolder.residentIDFields("360426199101010071")?.sexCode == "1")
        for bad in ["", "11010519491231002", "1101051949123100XX", "110105194913310021", "ABCDEF19491231002X"] {
            #expect(CardHolder.residentIDFields(bad) == nil, "\(bad)")
        }
        let cases: [(WritableKeyPath<CardHolder, String?>, String, String)] = [
            (\.sexCode, "3", "sex code"), (\.sexCode, "M", "sex code"), (\.birthDate, "1991-01-01", "birth date"),
            (\.regionCode, "36042", "region code"), (\.regionCode, "36042A", "region code"),
        ]
        for (path, value, field) in cases {
            var holder = Fixture.holder
            holder[keyPath: path] = value
            #expect(throws: SoftwareCardError.self) { try holder.validate() }
            do {
                try holder.validate()
            } catch {
                #expect(error.description.hasPrefix(field), "\(error)")
            }
        }
    }
}

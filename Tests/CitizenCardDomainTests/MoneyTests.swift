import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Money")
struct MoneyTests {
    @Test(arguments: [
        (Int64(1250), "¥12.50"), (-5, "-¥0.05"), (0, "¥0.00"), (5, "¥0.05"), (100, "¥1.00"), (-100, "-¥1.00"),
        (2000, "¥20.00"), (123_456_789, "¥1234567.89"), (-1_234_50, "-¥1234.50"),
        (Int64.max, "¥92233720368547758.07"), (Int64.min, "-¥92233720368547758.08"),
    ])
    func formatsAsYuanWithTwoDecimals(fen: Int64, text: String) {
        #expect(Money(fen: fen).description == text)
        #expect("\(Money(fen: fen))" == text)
    }

    @Test func formattingIsExactForEveryAmount() async {
        await propertyCheck(count: 1000, input: Gen.int64(in: -10_000_000_000...10_000_000_000)) { fen in
            let text = Money(fen: fen).description
            let negative = text.hasPrefix("-")
            let digits = text.drop(while: { $0 == "-" || $0 == "¥" })
            let parts = digits.split(separator: ".")
            #expect(parts.count == 2)
            #expect(parts[1].count == 2)
            let value = Int64(parts[0])! * 100 + Int64(parts[1])!
            #expect((negative ? -value : value) == fen)
            #expect(negative == (fen < 0))
        }
    }

    @Test func yuanInitialiser() {
        #expect(Money(yuan: 20) == Money(fen: 2000))
        #expect(Money(yuan: 12, fen: 50).fen == 1250)
        #expect(Money(yuan: -1, fen: 5).fen == -105)
        #expect(Money(yuan: 0, fen: 99).fen == 99)
        #expect(Money.zero.fen == 0)
    }

    @Test func arithmeticAndOrder() {
        #expect(Money(fen: 1250) + Money(fen: 5) == Money(fen: 1255))
        #expect(Money(fen: 5) - Money(fen: 1250) == Money(fen: -1245))
        #expect(Money(fen: -1) < .zero)
        #expect([Money(fen: 3), Money(fen: -2), .zero].sorted() == [Money(fen: -2), .zero, Money(fen: 3)])
    }

    struct Priced: Codable, Equatable {
        var amount: Money
    }

    @Test func codableAsIntegerFen() throws {
        let encoder = JSONEncoder()
        #expect(String(decoding: try encoder.encode([Money(fen: 1250)]), as: UTF8.self) == "[1250]")
        #expect(
            String(decoding: try encoder.encode(Priced(amount: Money(fen: -5))), as: UTF8.self) == #"{"amount":-5}"#)
        let decoder = JSONDecoder()
        #expect(
            try decoder.decode(Priced.self, from: Data(#"{"amount":2000}"#.utf8)) == Priced(amount: Money(yuan: 20)))
        #expect(throws: DecodingError.self) { try decoder.decode(Priced.self, from: Data(#"{"amount":12.5}"#.utf8)) }
        #expect(throws: DecodingError.self) { try decoder.decode(Priced.self, from: Data(#"{"amount":"1250"}"#.utf8)) }
        #expect(throws: DecodingError.self) {
            try decoder.decode(Priced.self, from: Data(#"{"amount":{"fen":1250}}"#.utf8))
        }
    }

    @Test func codableRoundTrip() async throws {
        await propertyCheck(count: 300, input: Gen.int64()) { fen in
            let data = try JSONEncoder().encode([Money(fen: fen)])
            #expect(String(decoding: data, as: UTF8.self) == "[\(fen)]")
            #expect(try JSONDecoder().decode([Money].self, from: data) == [Money(fen: fen)])
        }
    }
}

@Suite("Masking (R-41)")
struct MaskingTests {
    @Test(arguments: [("", ""), ("张", "*"), ("张三", "张*"), ("张三丰", "张*丰"), ("欧阳娜娜", "欧**娜"), ("Li Lei", "L****i")])
    func names(value: String, masked: String) {
        #expect(Masking.name(value) == masked)
    }

    @Test(arguments: [
        ("330902198503091234", "330902********1234"), ("11010519491231002X", "110105********002X"),
        ("1234567890", "**********"), ("", ""), ("33090219850309123", "330902*******9123"),
    ])
    func residentIDs(value: String, masked: String) {
        #expect(Masking.residentID(value) == masked)
    }

    @Test(arguments: [("13812345678", "138****5678"), ("1234567", "*******"), ("12345678", "123*5678"), ("", "")])
    func phones(value: String, masked: String) {
        #expect(Masking.phone(value) == masked)
    }

    @Test func addressesAndEmployers() {
        #expect(Masking.address("浙江省舟山市定海区解放路1号") == "浙江省舟山市****")
        #expect(Masking.address("舟山市定海区") == "******")
        #expect(Masking.employer("舟山市民卡管理中心") == "舟山****")
        #expect(Masking.employer("某司") == "**")
    }

    @Test func masksNeverRevealTheMiddle() async {
        await propertyCheck(count: 300, input: Gen.number.string(of: 11...18)) { digits in
            let masked = Masking.residentID(digits)
            #expect(masked.count == digits.count)
            #expect(masked.dropFirst(6).dropLast(4).allSatisfy { $0 == "*" })
        }
    }
}

@Suite("Identifier")
struct IdentifierTests {
    @Test func parsesUUIDsAndLowercasesThem() {
        let id = Identifier<Card>(parsing: "0190F3A2-7C1B-7D8E-9F00-ABCDEF012345")
        #expect(id?.rawValue == "0190f3a2-7c1b-7d8e-9f00-abcdef012345")
        #expect(id?.description == "0190f3a2-7c1b-7d8e-9f00-abcdef012345")
    }

    @Test(arguments: [
        "", "not-a-uuid", "0190f3a2-7c1b-7d8e-9f00-abcdef01234", "0190f3a2-7c1b-7d8e-9f00-abcdef0123456",
        "0190f3a2_7c1b-7d8e-9f00-abcdef012345", "0190f3a2-7c1b-7d8e-9f00-abcdef01234g",
        "{0190f3a2-7c1b-7d8e-9f00-abcdef0123}",
        "0190f3a27c1b7d8e9f00abcdef012345",
    ])
    func refusesWhatIsNotAUUID(text: String) {
        #expect(Identifier<Card>(parsing: text) == nil)
    }

    @Test func codableAsString() throws {
        let id = fixedID(42, Card.self)
        let data = try JSONEncoder().encode([id])
        #expect(String(decoding: data, as: UTF8.self) == #"["00000000-0000-7000-8000-00000000002a"]"#)
        #expect(try JSONDecoder().decode([Card.ID].self, from: data) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Card.ID].self, from: Data(#"["42"]"#.utf8)) }
    }

    @Test func generatorMakesTypedIDsInOrder() {
        let ids = SequentialIDs()
        let first: Person.ID = ids.make()
        let second: Person.ID = ids.make()
        #expect(first < second)
        #expect(Identifier<Person>(parsing: first.rawValue) == first)
    }
}

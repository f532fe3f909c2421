import CitizenCardDomain
import PropertyBased
import Testing

@Suite("Luhn and card numbering")
struct LuhnTests {
    @Test(arguments: [("7894", 9), ("7992739871", 3), ("411111111111111", 1), ("0", 0), ("", 0)])
    func checkDigitOfCardTechExamples(payload: String, digit: Int) {
        #expect(Luhn.checkDigit(for: payload) == digit)
    }

    @Test(arguments: ["4111111111111111", "78949", "79927398713", "3309000000010", "00"])
    func validNumbers(number: String) {
        #expect(Luhn.isValid(number))
    }

    @Test(arguments: [
        "4111111111111112", "78940", "79927398710", "", "0", "9", "4111 1111 1111 1111", "4111-1111-1111-1111",
        "411111111111111x", "４１", "-18",
    ])
    func invalidNumbers(number: String) {
        #expect(!Luhn.isValid(number))
    }

    @Test func appendedCheckDigitAlwaysValidates() async {
        await propertyCheck(count: 500, input: Gen.number.string(of: 1...30)) { payload in
            let number = payload + String(Luhn.checkDigit(for: payload))
            #expect(Luhn.isValid(number))
        }
    }

    @Test func everySingleDigitChangeIsDetected() async {
        await propertyCheck(count: 500, input: Gen.number.string(of: 1...20), Gen.int(in: 0...100), Gen.int(in: 1...9))
        {
            payload, rawPosition, shift in
            var digits = Array(payload + String(Luhn.checkDigit(for: payload)))
            let position = rawPosition % digits.count
            digits[position] = Character(String((digits[position].wholeNumberValue! + shift) % 10))
            #expect(!Luhn.isValid(String(digits)), "\(String(digits))")
        }
    }

    // MARK: CardNumbering

    @Test func cardNumberIsPrefixSequenceAndCheckDigit() {
        #expect(CardNumbering.cardNumber(prefix: "3309", sequence: 1) == "3309000000010")
        #expect(CardNumbering.cardNumber(prefix: "3309", sequence: 12_345_678) == "3309123456784")
        #expect(CardNumbering.cardNumber(prefix: "3309", sequence: 99_999_999) == "3309999999990")
    }

    @Test func asnIsTwentyHexDigits() {
        let asn = CardNumbering.asn(prefix: "3309", sequence: 1)
        #expect(asn == "33090001000000000001")
        #expect(asn.count == 20)
        #expect(CardNumbering.asn(prefix: "3309", sequence: 99_999_999) == "33090001000099999999")
    }

    @Test func cardNumbersAreValidDistinctAndKeepThePrefix() async {
        await propertyCheck(count: 500, input: Gen.int64(in: 1...99_999_999), Gen.int64(in: 1...99_999_999)) { a, b in
            let first = CardNumbering.cardNumber(prefix: "3309", sequence: a)
            let second = CardNumbering.cardNumber(prefix: "3309", sequence: b)
            #expect(first.count == 13)
            #expect(first.hasPrefix("3309"))
            #expect(Luhn.isValid(first))
            #expect((first == second) == (a == b))
            let asn = CardNumbering.asn(prefix: "3309", sequence: a)
            #expect(asn.count == 20)
            #expect(asn.utf8.allSatisfy { (0x30...0x39).contains($0) })
            #expect(asn.hasSuffix(String(a)))
        }
    }
}

import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@Suite("ResidentID (GB 11643, R-02)")
struct ResidentIDTests {
    // MARK: Worked examples of CARDTECH §9

    @Test func firstWorkedExampleIsValid() throws {
        let id = try ResidentID.parse("360426199101010071").get()
        #expect(id.number == "360426199101010071")
        #expect(id.regionCode == "360426")
        #expect(id.birthDate == CalendarDate(year: 1991, month: 1, day: 1))
        // 17th digit 7 is odd.
        #expect(id.sex == .male)
    }

    @Test func secondWorkedExampleIsValidWithUppercaseOrLowercaseX() throws {
        let upper = try ResidentID.parse("11010519491231002X").get()
        let lower = try ResidentID.parse("11010519491231002x").get()
        #expect(upper.number == "11010519491231002X")
        #expect(lower == upper, "a lowercase x is read as X")
        #expect(lower.number == "11010519491231002X")
        #expect(upper.birthDate == CalendarDate(year: 1949, month: 12, day: 31))
        // 17th digit 2 is even.
        #expect(upper.sex == .female)
    }

    @Test func checkCharacterOfWorkedExamples() {
        #expect(ResidentID.checkCharacter(for: Array("36042619910101007".utf8)) == "1")
        #expect(ResidentID.checkCharacter(for: Array("11010519491231002".utf8)) == "X")
    }

    @Test func surroundingSpacesAreIgnored() throws {
        let id = try ResidentID.parse("  360426199101010071 ").get()
        #expect(id.number == "360426199101010071")
    }

    // MARK: Every way to be invalid, with the exact reason

    static let invalidCases: [(text: String, reason: ResidentID.Invalid)] = [
        ("", .wrongLength(0)),
        ("   ", .wrongLength(0)),
        ("36042619910101007", .wrongLength(17)),
        ("3604261991010100711", .wrongLength(19)),
        ("360426 199101010071", .wrongLength(19)),
        // 18 characters but full-width digits (54 bytes): the first full-width one is named.
        ("３６０４２６１９９１０１０１００７１", .invalidCharacter(position: 1)),
        ("3604261991010100７1", .invalidCharacter(position: 17)),
        ("36042619910101007一", .invalidCharacter(position: 18)),
        ("3604261991010100７", .wrongLength(17)),
        ("36042a199101010071", .invalidCharacter(position: 6)),
        ("x60426199101010071", .invalidCharacter(position: 1)),
        ("3604261991010100X1", .invalidCharacter(position: 17)),
        ("36042619910101007Y", .invalidCharacter(position: 18)),
        ("-36042619910101007", .invalidCharacter(position: 1)),
        ("36042619910101007 1", .wrongLength(19)),
        ("000000199101010071", .unknownRegion),
        ("990426199101010071", .unknownRegion),
        ("100426199101010071", .unknownRegion),
        // A code no county has, in a province that exists.
        ("330999199101010071", .unknownRegion),
        // A province or prefecture code only where the table has it: no province 72, no prefecture 3399.
        ("720000199101010071", .unknownRegion),
        ("339900199101010071", .unknownRegion),
        // Dinghai county's code until 1987, on a number of someone born in 1991.
        ("332721199101010071", .unknownRegion),
        ("360426199102300071", .invalidBirthDate),
        ("360426199113010071", .invalidBirthDate),
        ("360426199100010071", .invalidBirthDate),
        ("360426000000000071", .invalidBirthDate),
        ("360426188912310071", .invalidBirthDate),
        ("360426190002290071", .invalidBirthDate),
        ("360426199101010072", .checkCharacterMismatch(expected: "1")),
        ("36042619910101007X", .checkCharacterMismatch(expected: "1")),
        ("110105194912310021", .checkCharacterMismatch(expected: "X")),
    ]

    @Test(arguments: invalidCases)
    func invalidNumberIsRefusedWithItsReason(text: String, reason: ResidentID.Invalid) {
        #expect(ResidentID.parse(text).failure == reason)
    }

    @Test func checksAreMadeInOrderLengthCharactersRegionBirthCheck() {
        // Wrong region and a wrong check character: the region is reported.
        #expect(ResidentID.parse("000000199101010070").failure == .unknownRegion)
        // A code no region has and a wrong birth date: the region is reported; a code abolished
        // (332721, in 1987) and a wrong birth date: the birth date, which the abolition is measured by.
        #expect(ResidentID.parse("330999199102300070").failure == .unknownRegion)
        #expect(ResidentID.parse("332721199102300070").failure == .invalidBirthDate)
        // A code abolished before the birth year, in the future: the region is reported.
        #expect(ResidentID.parse("332721209901010070", today: .on("2026-11-29")).failure == .unknownRegion)
        // Wrong birth date and a wrong check character: the birth date is reported.
        #expect(ResidentID.parse("360426199102300070").failure == .invalidBirthDate)
        // A letter and a wrong length: the length is reported.
        #expect(ResidentID.parse("36042A").failure == .wrongLength(6))
    }

    @Test func specialRegionsAccepted() {
        for region in ["710000", "810000", "820000"] {
            let id = ResidentID.make(region: region, birth: .on("1980-05-17"), sequence: 12)
            #expect(ResidentID.parse(id.number).success == id, "\(region)")
        }
    }

    @Test func provinceAndPrefectureCodesAreAcceptedWhereTheTableHasThem() {
        // Some old numbers carry them (GB/T 2260 lists 330000 Zhejiang and 330900 Zhoushan).
        for region in ["110000", "330000", "330900"] {
            let id = ResidentID.make(region: region, birth: .on("1970-05-17"), sequence: 12)
            #expect(ResidentID.parse(id.number).success == id, "\(region)")
        }
    }

    @Test func firstValidBirthYearIs1890() {
        let id = ResidentID.make(region: "330902", birth: .on("1890-01-01"), sequence: 1)
        #expect(ResidentID.parse(id.number).success == id)
    }

    @Test func birthDateInTheFutureIsRefusedOnlyWhenTodayIsGiven() {
        let today = CalendarDate.on("2026-11-29")
        let tomorrow = ResidentID.make(region: "330902", birth: .on("2026-11-30"), sequence: 21)
        let bornToday = ResidentID.make(region: "330902", birth: today, sequence: 21)
        #expect(ResidentID.parse(tomorrow.number, today: today).failure == .birthDateInFuture)
        #expect(ResidentID.parse(tomorrow.number).success == tomorrow)
        #expect(ResidentID.parse(bornToday.number, today: today).success == bornToday)
    }

    @Test func birthDateIsCheckedBeforeTheFuture() {
        // An impossible date is invalid, not "in the future".
        #expect(
            ResidentID.parse("360426299902300071", today: .on("2026-11-29")).failure == .invalidBirthDate)
    }

    @Test(arguments: [
        ResidentID.Invalid.wrongLength(17), .invalidCharacter(position: 3), .unknownRegion, .invalidBirthDate,
        .birthDateInFuture, .checkCharacterMismatch(expected: "X"),
    ])
    func reasonsAreGivenInEnglishAndChinese(reason: ResidentID.Invalid) {
        #expect(!reason.reason.isEmpty)
        #expect(!reason.reasonZh.isEmpty)
        #expect(reason.reason != reason.reasonZh)
        let error = CitizenCardError.invalidResidentID(reason)
        #expect(error.code == .invalidResidentID)
        #expect(error.field == "idNumber")
        #expect(error.detail == reason.reason)
        #expect(error.detailZh == reason.reasonZh)
    }

    @Test func reasonsNeverContainTheNumber() throws {
        let text = "360426199101010072"
        let reason = try #require(ResidentID.parse(text).failure)
        #expect(!reason.reason.contains("360426"))
        #expect(!reason.reasonZh.contains("360426"))
        #expect(reason.reason == "check character does not match (expected 1)")
    }

    // MARK: Building, sex and masking

    @Test(arguments: [(0, Sex.female), (1, .male), (2, .female), (17, .male), (998, .female), (999, .male)])
    func sexComesFromTheSeventeenthDigit(sequence: Int, sex: Sex) {
        let id = ResidentID.make(region: "330902", birth: .on("2001-07-01"), sequence: sequence)
        #expect(id.sex == sex)
        #expect(Array(id.number)[16] == Array(String(sequence))[String(sequence).count - 1])
    }

    @Test func makeLaysOutTheParts() {
        let id = ResidentID.make(region: "360426", birth: .on("1991-01-01"), sequence: 7)
        #expect(id.number == "360426199101010071")
        let x = ResidentID.make(region: "110105", birth: .on("1949-12-31"), sequence: 2)
        #expect(x.number == "11010519491231002X")
    }

    @Test func maskingKeepsRegionAndLastFour() {
        let id = ResidentID.make(region: "330902", birth: .on("1985-03-09"), sequence: 123)
        #expect(id.masked == "330902********" + String(id.number.suffix(4)))
        #expect(id.masked.count == 18)
        #expect(!id.masked.contains("19850309"))
        #expect(id.description == id.masked, "interpolation never writes the whole number")
        #expect("\(id)" == id.masked)
        #expect(String(reflecting: id) == "ResidentID(\(id.masked))")
        let x = try! ResidentID.parse("11010519491231002X").get()
        #expect(x.masked == "110105********002X")
    }

    // MARK: Properties

    /// Valid numbers: a known region, a birth date from 1890 to 2030, any sequence.
    static let validNumbers = zip(
        Gen<String?>.element(of: knownRegions).map { $0! },
        Gen.int64(in: CalendarDate.on("1890-01-01").daysSinceEpoch...CalendarDate.on("2030-12-31").daysSinceEpoch),
        Gen.int(in: 0...999)
    ).map { region, days, sequence in
        (region, CalendarDate(daysSinceEpoch: days), sequence)
    }

    @Test func everyMadeNumberParsesBackToItsParts() async {
        await propertyCheck(count: 500, input: Self.validNumbers) { region, birth, sequence in
            let id = ResidentID.make(region: region, birth: birth, sequence: sequence)
            let parsed = ResidentID.parse(id.number)
            #expect(parsed.success == id)
            #expect(id.number.utf8.count == 18)
            #expect(id.regionCode == region)
            #expect(id.birthDate == birth)
            #expect(id.sex == (sequence % 2 == 1 ? .male : .female))
            #expect(ResidentID.parse(id.number.lowercased()).success == id)
        }
    }

    @Test func changingAnySingleCharacterMakesTheNumberInvalid() async {
        // MOD 11-2 weights are non-zero modulo the prime 11 and a digit changes by 1 to 9, so the
        // weighted sum changes modulo 11: the check character no longer matches.
        await propertyCheck(
            count: 300, input: Self.validNumbers, Gen.int(in: 0...17), Gen.int(in: 1...10)
        ) { parts, position, shift in
            let id = ResidentID.make(region: parts.0, birth: parts.1, sequence: parts.2)
            var characters = Array(id.number)
            let alphabet: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "X"]
            if position < 17 {
                let digit = characters[position].wholeNumberValue!
                characters[position] = alphabet[(digit + 1 + shift % 9) % 10]
            } else {
                let index = alphabet.firstIndex(of: characters[17])!
                characters[17] = alphabet[(index + shift) % 11]
            }
            let changed = String(characters)
            #expect(changed != id.number)
            #expect(ResidentID.parse(changed).success == nil, "\(changed)")
            if position < 17 {
                #expect(ResidentID.checkCharacter(for: Array(changed.utf8.prefix(17))) != characters[17])
            } else {
                #expect(ResidentID.parse(changed).failure == .checkCharacterMismatch(expected: Array(id.number)[17]))
            }
        }
    }

    @Test func exhaustiveSingleDigitChangesOfTheWorkedExample() {
        let original = Array("360426199101010071")
        for position in 0..<17 {
            for digit in "0123456789" where digit != original[position] {
                var changed = original
                changed[position] = digit
                let body = Array(String(changed.prefix(17)).utf8)
                #expect(ResidentID.checkCharacter(for: body) != "1", "position \(position + 1) digit \(digit)")
                #expect(ResidentID.parse(String(changed)).success == nil)
            }
        }
    }

    @Test func swappingTwoDifferentAdjacentDigitsIsDetected() async {
        // Adjacent weights differ by a factor of 2 modulo 11, so a transposition changes the sum.
        await propertyCheck(count: 300, input: Self.validNumbers, Gen.int(in: 0...15)) { parts, position in
            let id = ResidentID.make(region: parts.0, birth: parts.1, sequence: parts.2)
            var characters = Array(id.number)
            guard characters[position] != characters[position + 1] else { return }
            characters.swapAt(position, position + 1)
            #expect(ResidentID.checkCharacter(for: Array(String(characters.prefix(17)).utf8)) != characters[17])
        }
    }

    @Test func arbitraryTextNeverCrashesTheParser() async {
        let anyScalar = Gen<UnicodeScalar>.unicodeScalar(in: "\u{0}"..."\u{D7FF}").map(Character.init)
        let idAlphabet = Gen<Character?>.element(of: Array("0123456789Xx ")).map { $0! }
        await propertyCheck(count: 500, input: Gen.latin1.string(of: 0...40)) { Self.parseNeverCrashes($0) }
        await propertyCheck(count: 500, input: anyScalar.string(of: 0...24)) { Self.parseNeverCrashes($0) }
        await propertyCheck(count: 500, input: idAlphabet.string(of: 16...20)) { Self.parseNeverCrashes($0) }
    }

    static func parseNeverCrashes(_ text: String) {
        switch ResidentID.parse(text, today: .on("2026-11-29")) {
        case .success(let id):
            #expect(id.number.utf8.count == 18)
            #expect(ResidentID.parse(id.number).success == id)
        case .failure(let reason):
            #expect(!reason.reason.isEmpty)
        }
    }

    @Test func digitStringsOfLengthEighteenFailForAKnownReasonOrParse() async {
        await propertyCheck(count: 1000, input: Gen.number.string(of: 18)) { text in
            switch ResidentID.parse(text) {
            case .success(let id):
                #expect(id.number == text)
            case .failure(let reason):
                switch reason {
                case .unknownRegion, .invalidBirthDate, .checkCharacterMismatch: break
                default: Issue.record("unexpected \(reason) for 18 digits")
                }
            }
        }
    }

    @Test func personalDetailsDeriveFromTheID() throws {
        let id = try ResidentID.parse("11010519491231002X").get()
        let details = PersonalDetails(residentID: id, name: "张三")
        #expect(details.socialSecurityNumber == id.number, "the social-security number defaults to the ID")
        #expect(details.sex == .female)
        #expect(details.birthDate == .on("1949-12-31"))
        #expect(PersonalDetails(residentID: id, name: "张三", socialSecurityNumber: "S1").socialSecurityNumber == "S1")
    }

    @Test func codableAsThePlainNumberAndValidatedOnDecode() throws {
        let id = try ResidentID.parse("11010519491231002X").get()
        let json = try JSONEncoder().encode([id])
        #expect(String(decoding: json, as: UTF8.self) == #"["11010519491231002X"]"#)
        let lower = try JSONDecoder().decode([ResidentID].self, from: Data(#"["11010519491231002x"]"#.utf8))
        #expect(lower == [id])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([ResidentID].self, from: Data(#"["110105194912310021"]"#.utf8))
        }
    }
}

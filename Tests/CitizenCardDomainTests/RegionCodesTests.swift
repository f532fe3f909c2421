import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Region codes (GB/T 2260)")
struct RegionCodesTests {
    static let table = RegionCodes.bundled

    // MARK: The bundled table

    @Test func theBundledTableHasEveryCodeSince1980() {
        #expect(Self.table.count > 7_000)
        #expect(Self.table.codes.count == Self.table.count)
        #expect(Self.table.codes == Self.table.codes.sorted())
        #expect(Self.table[code: "330902"] == RegionCodes.Entry(firstYear: 1987, lastYear: nil, name: "定海区"))
    }

    @Test func aCodeNoRegionHasIsRefused() {
        for year in [1950, 1987, 2000, 2026] {
            #expect(!Self.table.admits(code: "330999", birthYear: year), "\(year)")
        }
        #expect(Self.table[code: "330999"] == nil)
        let id = ResidentID.make(region: "330999", birth: .on("1990-01-01"), sequence: 11)
        #expect(ResidentID.parse(id.number).failure == .unknownRegion)
    }

    @Test(arguments: ["330902", "330921"])
    func zhoushanDistrictsAreAdmittedForEveryBirthYear(code: String) {
        // Dinghai and Daishan have had these codes since Zhoushan became a city in 1987; a number of
        // someone born earlier who first got it afterwards carries them too.
        for year in [1900, 1950, 1986, 1987, 2000, 2026] {
            #expect(Self.table.admits(code: code, birthYear: year), "\(code) \(year)")
        }
        let id = ResidentID.make(region: code, birth: .on("1975-06-30"), sequence: 21)
        #expect(ResidentID.parse(id.number).success == id)
    }

    @Test func aCodeAbolishedLongAgoIsAdmittedOnlyForThoseBornWhileItWasInUse() {
        // 332721, Dinghai county of Zhoushan prefecture, became 330902 (Dinghai district) in 1987.
        let entry = Self.table[code: "332721"]
        #expect(entry?.lastYear == 1987)
        #expect(entry?.name == "定海县")
        #expect(Self.table.admits(code: "332721", birthYear: 1960))
        #expect(Self.table.admits(code: "332721", birthYear: 1987))
        #expect(!Self.table.admits(code: "332721", birthYear: 1988))
        #expect(!Self.table.admits(code: "332721", birthYear: 2005))
        let before = ResidentID.make(region: "332721", birth: .on("1965-04-01"), sequence: 31)
        let after = ResidentID.make(region: "332721", birth: .on("1990-04-01"), sequence: 31)
        #expect(ResidentID.parse(before.number).success == before)
        #expect(ResidentID.parse(after.number).failure == .unknownRegion)
    }

    @Test func provinceAndPrefectureCodesOnlyWhereTheTableHasThem() {
        // Some old numbers carry the code of a province (330000) or a prefecture (330900).
        #expect(Self.table.admits(code: "330000", birthYear: 1970))
        #expect(Self.table.admits(code: "330900", birthYear: 1990))
        #expect(!Self.table.admits(code: "339900", birthYear: 1990), "no prefecture 3399")
        #expect(!Self.table.admits(code: "720000", birthYear: 1990), "no province 72")
        #expect(!Self.table.admits(code: "000000", birthYear: 1990))
    }

    @Test(arguments: ["810000", "820000", "710000"])
    func hongKongMacaoAndTaiwanAreAdmittedWhateverTheTable(code: String) throws {
        let empty = try RegionCodes(parsing: "")
        for year in [1950, 2026] {
            #expect(Self.table.admits(code: code, birthYear: year))
            #expect(empty.admits(code: code, birthYear: year))
        }
        let id = ResidentID.make(region: code, birth: .on("2001-02-03"), sequence: 12)
        #expect(ResidentID.parse(id.number, regions: empty).success == id)
        #expect(!empty.admits(code: "810100", birthYear: 1990), "only the province-level code")
    }

    @Test(arguments: ["", "33090", "3309021", "33090a", "３３０９０２", " 330902"])
    func somethingThatIsNotSixDigitsIsNeverAdmitted(code: String) {
        #expect(!Self.table.admits(code: code, birthYear: 1990))
        #expect(Self.table[code: code] == nil)
    }

    // MARK: Where numbers are checked, and where not

    @Test func storedNumbersOpenWhateverTheTable() throws {
        let unknown = ResidentID.make(region: "330999", birth: .on("1990-01-01"), sequence: 11)
        #expect(ResidentID.parse(unknown.number, regions: nil).success == unknown)
        let decoded = try JSONDecoder().decode([ResidentID].self, from: Data(#"["\#(unknown.number)"]"#.utf8))
        #expect(decoded == [unknown], "decoding a stored number skips the table")
        // The other rules still hold.
        #expect(ResidentID.parse("330999199001010110", regions: nil).failure != nil)
    }

    @Test func personFieldsCheckTheRegionAgainstTheTableGiven() throws {
        let today = CalendarDate.on("2026-11-29")
        let unknown = ResidentID.make(region: "330999", birth: .on("1990-01-01"), sequence: 11)
        let error = caughtError { () throws(CitizenCardError) in
            try PersonFields.residentID(unknown.number, today: today)
        }
        #expect(error?.code == .invalidResidentID)
        #expect(error?.detail == ResidentID.Invalid.unknownRegion.reason)
        #expect(try PersonFields.residentID(unknown.number, today: today, regions: nil) == unknown)
        let newer = try RegionCodes(parsing: "330999\t2030\t\t")
        #expect(try PersonFields.residentID(unknown.number, today: today, regions: newer) == unknown)
    }

    // MARK: Reading a table

    @Test func aTableIsReadWithCommentsBlankLinesCRLFAndOptionalNames() throws {
        let text = "# a comment\r\n\r\n330902\t1987\t\t定海区\r\n332721\t\t1987\t定海县\n330999\t2031\t2040\n330998\t\t\t\n"
        let table = try RegionCodes(parsing: text)
        #expect(table.count == 4)
        #expect(table.codes == ["330902", "330998", "330999", "332721"])
        #expect(table[code: "330902"] == RegionCodes.Entry(firstYear: 1987, lastYear: nil, name: "定海区"))
        #expect(table[code: "332721"] == RegionCodes.Entry(firstYear: nil, lastYear: 1987, name: "定海县"))
        #expect(table[code: "330999"] == RegionCodes.Entry(firstYear: 2031, lastYear: 2040, name: nil))
        #expect(table[code: "330998"] == RegionCodes.Entry(firstYear: nil, lastYear: nil, name: nil))
    }

    static let malformed: [(text: String, line: Int, reason: String)] = [
        ("330902 1987", 1, "expected 3 or 4 fields separated by tabs (code, first year, last year, name), got 1"),
        (
            "# header\n\n330902\t1987\t\t定海区\t舟山", 3,
            "expected 3 or 4 fields separated by tabs (code, first year, last year, name), got 5"
        ),
        ("330902\t\t\n33090\t\t\t", 2, "the code must be 6 digits"),
        ("33090a\t\t\t", 1, "the code must be 6 digits"),
        ("330902\t87\t\t", 1, "the first year must be 4 digits or empty"),
        ("330902\t\t198x\t", 1, "the last year must be 4 digits or empty"),
        ("330902\t1990\t1987\t", 1, "the first year is after the last year"),
        ("330902\t\t\t\n330903\t\t\t\r\n330902\t1987\t\t", 3, "the code is already on line 1"),
        ("330902\t\t\t定海\u{7}区", 1, "the name must be at most 50 characters without control characters"),
        (
            "330902\t\t\t" + String(repeating: "区", count: 51), 1,
            "the name must be at most 50 characters without control characters"
        ),
    ]

    @Test(arguments: malformed)
    func aMalformedTableIsRefusedNamingTheLine(text: String, line: Int, reason: String) {
        let error = #expect(throws: RegionCodes.ParseError.self) { try RegionCodes(parsing: text) }
        #expect(error?.line == line)
        #expect(error?.reason == reason)
    }

    @Test func theErrorNamesTheLineButNeverQuotesIt() throws {
        // A wrong file, an import CSV say, must not end up in a log.
        let text = "id_number,name\n330902199001010011,王小明\n"
        do throws(RegionCodes.ParseError) {
            _ = try RegionCodes(parsing: text)
            Issue.record("a CSV is not a table")
        } catch {
            #expect(error.line == 1)
            #expect(error.description.hasPrefix("region code table, line 1: "))
            #expect(!error.description.contains("id_number"))
        }
    }

    // MARK: A newer edition

    @Test func mergingANewerTableAddsItsCodes() throws {
        let newer = try RegionCodes(parsing: "330999\t2030\t\t新区\n330902\t\t\t\n332721\t\t1990\t\n")
        let merged = Self.table.merging(newer)
        #expect(!Self.table.admits(code: "330999", birthYear: 2030))
        #expect(merged.admits(code: "330999", birthYear: 2030))
        #expect(merged[code: "330999"]?.name == "新区")
        #expect(merged.count == Self.table.count + 1)
        // Where both have a code, the newer entry is taken; a name it lacks is kept.
        #expect(merged[code: "330902"] == RegionCodes.Entry(firstYear: nil, lastYear: nil, name: "定海区"))
        #expect(merged.admits(code: "332721", birthYear: 1990))
        // The codes only the older table has stay.
        #expect(merged[code: "330921"] == Self.table[code: "330921"])
        #expect(Self.table.merging(try RegionCodes(parsing: "")) == Self.table)
        let id = ResidentID.make(region: "330999", birth: .on("2031-05-05"), sequence: 1)
        #expect(ResidentID.parse(id.number).failure == .unknownRegion)
        #expect(ResidentID.parse(id.number, regions: merged).success == id)
    }

    // MARK: Properties

    @Test func everyCodeIsAdmittedForABirthYearWhileItWasInUse() async {
        let codes = Self.table.codes
        await propertyCheck(count: 2000, input: Gen.int(in: 0...(codes.count - 1)), Gen.int(in: 0...10_000)) {
            index, offset in
            let code = codes[index]
            let entry = Self.table[code: code]!
            let first = entry.firstYear ?? 1890
            let last = entry.lastYear ?? 2030
            let year = first + offset % (last - first + 1)
            #expect(Self.table.admits(code: code, birthYear: year), "\(code) \(year)")
            let id = ResidentID.make(region: code, birth: CalendarDate(year: year, month: 6, day: 1)!, sequence: 1)
            #expect(ResidentID.parse(id.number).success == id, "\(code) \(year)")
            if let abolished = entry.lastYear, !["710000", "810000", "820000"].contains(code) {
                #expect(!Self.table.admits(code: code, birthYear: abolished + 1 + offset % 50), "\(code)")
            }
        }
    }

    @Test func everyCodeOfTheBundledTableIsAdmittedInItsLastYear() {
        for code in Self.table.codes {
            let entry = Self.table[code: code]!
            #expect(Self.table.admits(code: code, birthYear: entry.lastYear ?? 2030), "\(code)")
        }
    }

    @Test func aSixDigitCodeTheTableLacksIsRefused() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...999_999), Gen.int(in: 1890...2030)) { number, year in
            let digits = String(number)
            let code = String(repeating: "0", count: 6 - digits.count) + digits
            guard Self.table[code: code] == nil, !["710000", "810000", "820000"].contains(code) else { return }
            #expect(!Self.table.admits(code: code, birthYear: year), "\(code)")
            let id = ResidentID.make(region: code, birth: CalendarDate(year: year, month: 1, day: 1)!, sequence: 1)
            #expect(ResidentID.parse(id.number).failure == .unknownRegion, "\(code)")
        }
    }
}

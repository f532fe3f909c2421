import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@Suite("CalendarDate")
struct CalendarDateTests {
    static let firstDay = CalendarDate.on("0001-01-01").daysSinceEpoch
    static let lastDay = CalendarDate.on("9999-12-31").daysSinceEpoch

    @Test(arguments: [
        ("1970-01-01", Int64(0)), ("1969-12-31", -1), ("2000-03-01", 11_017), ("2026-11-29", 20_786),
        ("1600-02-29", -135_081), ("0001-01-01", -719_162), ("9999-12-31", 2_932_896),
    ])
    func knownDaysSinceEpoch(text: String, days: Int64) throws {
        let date = try #require(CalendarDate(iso8601: text))
        #expect(date.daysSinceEpoch == days)
        #expect(CalendarDate(daysSinceEpoch: days) == date)
        #expect(date.iso8601 == text)
    }

    @Test func daysFromCivilRoundTripsOverTheWholeRange() async {
        await propertyCheck(count: 2000, input: Gen.int64(in: Self.firstDay...Self.lastDay)) { days in
            let date = CalendarDate(daysSinceEpoch: days)
            #expect(date.daysSinceEpoch == days)
            // The computed date is a real one.
            #expect(CalendarDate(year: date.year, month: date.month, day: date.day) == date)
            #expect(CalendarDate(iso8601: date.iso8601) == date)
        }
    }

    @Test func civilFromDaysRoundTripsForEveryValidDate() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 1...9999), Gen.int(in: 1...12), Gen.int(in: 1...31)) {
            year, month, day in
            guard let date = CalendarDate(year: year, month: month, day: day) else {
                #expect(day > CalendarDate.daysIn(month: month, year: year))
                return
            }
            #expect(CalendarDate(daysSinceEpoch: date.daysSinceEpoch) == date)
        }
    }

    @Test func consecutiveDaysAreConsecutiveDates() async {
        await propertyCheck(count: 2000, input: Gen.int64(in: Self.firstDay...(Self.lastDay - 1))) { days in
            let today = CalendarDate(daysSinceEpoch: days)
            let tomorrow = CalendarDate(daysSinceEpoch: days + 1)
            #expect(today < tomorrow)
            if today.day < CalendarDate.daysIn(month: today.month, year: today.year) {
                #expect((tomorrow.year, tomorrow.month, tomorrow.day) == (today.year, today.month, today.day + 1))
            } else if today.month < 12 {
                #expect((tomorrow.year, tomorrow.month, tomorrow.day) == (today.year, today.month + 1, 1))
            } else {
                #expect((tomorrow.year, tomorrow.month, tomorrow.day) == (today.year + 1, 1, 1))
            }
        }
    }

    @Test func everyDayOfFourHundredYearsInOrder() {
        // One full Gregorian cycle (146,097 days), walked day by day.
        var expected = CalendarDate.on("2000-01-01")
        let start = expected.daysSinceEpoch
        for offset in Int64(0)..<146_097 {
            let date = CalendarDate(daysSinceEpoch: start + offset)
            if date != expected {
                Issue.record("day \(offset): \(date) != \(expected)")
                return
            }
            expected =
                CalendarDate(year: expected.year, month: expected.month, day: expected.day + 1)
                ?? CalendarDate(year: expected.year, month: expected.month + 1, day: 1)
                ?? CalendarDate(year: expected.year + 1, month: 1, day: 1)!
        }
        #expect(expected == .on("2400-01-01"))
    }

    @Test(arguments: [
        (2000, true), (1900, false), (2024, true), (2023, false), (2100, false), (2400, true), (4, true), (1, false),
    ])
    func leapYears(year: Int, leap: Bool) {
        #expect(CalendarDate.isLeap(year) == leap)
        #expect(CalendarDate.daysIn(month: 2, year: year) == (leap ? 29 : 28))
        #expect((CalendarDate(year: year, month: 2, day: 29) != nil) == leap)
        let length =
            CalendarDate(year: year + 1, month: 1, day: 1)!.daysSinceEpoch
            - CalendarDate(year: year, month: 1, day: 1)!.daysSinceEpoch
        #expect(length == (leap ? 366 : 365))
    }

    @Test func monthLengths() {
        let lengths = (1...12).map { CalendarDate.daysIn(month: $0, year: 2026) }
        #expect(lengths == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    }

    @Test(arguments: [
        (2026, 0, 1), (2026, 13, 1), (2026, 1, 0), (2026, 1, 32), (2026, 4, 31), (2026, 2, 29), (0, 1, 1),
        (10000, 1, 1), (-1, 1, 1),
    ])
    func impossibleDatesDoNotExist(year: Int, month: Int, day: Int) {
        #expect(CalendarDate(year: year, month: month, day: day) == nil)
    }

    @Test(arguments: [
        "2026-1-29", "2026/11/29", "2026-11-29T", "26-11-29", "2026-02-30", "+026-11-29", "2026-11-2a",
        "", "20261129", "2026-11-29 ", " 2026-11-29", "２０２６-11-29", "0000-01-01", "2026-00-10",
    ])
    func malformedISODatesAreRefused(text: String) {
        #expect(CalendarDate(iso8601: text) == nil)
    }

    @Test func compactParsing() {
        #expect(CalendarDate(compact: Array("19910101".utf8)) == .on("1991-01-01"))
        #expect(CalendarDate(compact: Array("19910230".utf8)) == nil)
        #expect(CalendarDate(compact: Array("1991010".utf8)) == nil)
        #expect(CalendarDate(compact: Array("1991-1-1".utf8)) == nil)
    }

    @Test func isoFormatPadsTheYear() {
        #expect(CalendarDate(year: 33, month: 4, day: 5)!.iso8601 == "0033-04-05")
        #expect(CalendarDate(year: 2026, month: 11, day: 9)!.description == "2026-11-09")
    }

    @Test func ordering() {
        #expect(CalendarDate.on("2026-01-31") < .on("2026-02-01"))
        #expect(CalendarDate.on("2025-12-31") < .on("2026-01-01"))
        #expect(!(CalendarDate.on("2026-01-01") < .on("2026-01-01")))
    }

    @Test(arguments: [
        ("2000-02-29", "2018-02-28", 17), ("2000-02-29", "2018-03-01", 18), ("2000-02-29", "2024-02-29", 24),
        ("1991-01-01", "2026-11-29", 35), ("1991-11-29", "2026-11-29", 35), ("1991-11-30", "2026-11-29", 34),
        ("2026-11-29", "2026-11-29", 0),
    ])
    func agesInWholeYears(birth: String, on: String, age: Int) {
        #expect(CalendarDate.on(birth).years(until: .on(on)) == age)
    }

    @Test func codableAsISODate() throws {
        let data = try JSONEncoder().encode([CalendarDate.on("2026-11-29")])
        #expect(String(decoding: data, as: UTF8.self) == #"["2026-11-29"]"#)
        #expect(try JSONDecoder().decode([CalendarDate].self, from: data) == [.on("2026-11-29")])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([CalendarDate].self, from: Data(#"["2026-02-30"]"#.utf8))
        }
    }

    @Test func startOfDayInShanghai() {
        let date = CalendarDate.on("2026-11-29")
        #expect(date.startTimestamp() == .at("2026-11-28T16:00:00Z"))
        #expect(date.startTimestamp(offsetSeconds: 0) == .at("2026-11-29T00:00:00Z"))
    }

    @Test func startOfDayIsTheFirstSecondOfThatDate() async {
        await propertyCheck(count: 1000, input: Gen.int64(in: Self.firstDay + 1...Self.lastDay)) { days in
            let date = CalendarDate(daysSinceEpoch: days)
            let start = date.startTimestamp()
            #expect(start.calendarDate() == date)
            #expect(start.adding(seconds: -1).calendarDate() == CalendarDate(daysSinceEpoch: days - 1))
            #expect(start.adding(seconds: 86_399).calendarDate() == date)
        }
    }
}

@Suite("Timestamp")
struct TimestampTests {
    @Test func formatsInUTC() {
        #expect(Timestamp(secondsSinceEpoch: 0).iso8601 == "1970-01-01T00:00:00Z")
        #expect(Timestamp(secondsSinceEpoch: -1).iso8601 == "1969-12-31T23:59:59Z")
        #expect(Timestamp(secondsSinceEpoch: 1_795_941_005).iso8601 == "2026-11-29T08:30:05Z")
        #expect(Timestamp(secondsSinceEpoch: 1_795_941_005).description == "2026-11-29T08:30:05Z")
    }

    @Test(arguments: [
        ("2026-11-29T08:30:05Z", Int64(1_795_941_005)),
        ("2026-11-29T08:30:05z", 1_795_941_005),
        ("2026-11-29 08:30:05Z", 1_795_941_005),
        ("2026-11-29T16:30:05+08:00", 1_795_941_005),
        ("2026-11-29T03:30:05-05:00", 1_795_941_005),
        ("2026-11-29T08:30:05+00:00", 1_795_941_005),
        ("2026-11-29T08:30:05-00:00", 1_795_941_005),
        ("2026-11-30T02:00:05+17:30", 1_795_941_005),
        ("2026-11-29T00:00:00+08:00", 1_795_881_600),
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T07:59:59+08:00", -1),
        ("2024-02-29T23:59:59Z", 1_709_251_199),
    ])
    func parsesRFC3339WithOffsets(text: String, seconds: Int64) {
        #expect(Timestamp(iso8601: text)?.secondsSinceEpoch == seconds)
    }

    @Test(arguments: [
        "2026-11-29T08:30:05.123Z",  // fractions are refused: effective times are whole seconds
        "2026-11-29T08:30:05.0Z",
        "2026-11-29T08:30:05,5+08:00",
        "2026-11-29T08:30Z",  // seconds are required
        "2026-11-29T08:30:05",  // an offset is required
        "2026-11-29T08:30:05+0800", "2026-11-29T08:30:05+08", "2026-11-29T08:30:05+08:0",
        "2026-11-29T08:30:05 +08:00", "2026-11-29T08:30:05UTC", "2026-11-29T08:30:05ZZ",
        "2026-11-29T24:00:00Z", "2026-11-29T08:60:00Z", "2026-11-29T08:30:60Z",
        "2026-11-29T08:30:05+24:00", "2026-11-29T08:30:05+08:60", "2026-11-29T08:30:05*08:00",
        "2026-02-30T08:30:05Z", "2026-11-29X08:30:05Z", "2026-11-29T08-30-05Z", "2026-11-29T8:30:05Z",
        "2026-11-29T08:30:5Z ", "garbage", "", "2026-11-29", "                    ", "2026-11-29T08:30:05\u{0}",
        "２０２６-11-29T08:30:05Z",
    ])
    func refusesFractionsAndGarbage(text: String) {
        #expect(Timestamp(iso8601: text) == nil)
    }

    @Test func arbitraryTextNeverCrashesTheParser() async {
        let alphabet = Gen<Character?>.element(of: Array("0123456789-:T Zz+.,x")).map { $0! }
        let check: @Sendable (String) -> Void = { text in
            if let time = Timestamp(iso8601: text) {
                #expect(Timestamp(iso8601: time.iso8601) == time)
            }
            _ = CalendarDate(iso8601: text)
        }
        await propertyCheck(count: 1000, input: alphabet.string(of: 0...30)) { check($0) }
        await propertyCheck(count: 1000, input: Gen.latin1.string(of: 0...30)) { check($0) }
        // Near-misses of a valid time: one character replaced.
        let valid = Array("2026-11-29T16:30:05+08:00")
        await propertyCheck(count: 1000, input: Gen.int(in: 0...(valid.count - 1)), alphabet) { position, character in
            var text = valid
            text[position] = character
            check(String(text))
        }
    }

    @Test func isoRoundTripsOverTheWholeRange() async {
        let first = CalendarDate.on("0001-01-02").startTimestamp().secondsSinceEpoch
        let last = CalendarDate.on("9999-12-31").startTimestamp().secondsSinceEpoch
        await propertyCheck(count: 2000, input: Gen.int64(in: first...last), Gen.int(in: -14...14)) { seconds, hours in
            let time = Timestamp(secondsSinceEpoch: seconds)
            #expect(Timestamp(iso8601: time.iso8601) == time)
            // The same instant written with another offset parses to the same instant.
            let offset = Int64(hours) * 3600
            let (date, second) = time.adding(seconds: offset).utcDateAndSecond
            let sign = hours < 0 ? "-" : "+"
            let h = abs(hours)
            let text =
                date.iso8601 + "T" + pad(second / 3600) + ":" + pad(second % 3600 / 60) + ":" + pad(second % 60)
                + sign + pad(Int64(h)) + ":00"
            if date.year >= 1 && date.year <= 9999 {
                #expect(Timestamp(iso8601: text) == time, "\(text)")
            }
        }
    }

    private func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    @Test func codableAsRFC3339() throws {
        let time = Timestamp.at("2026-11-29T08:30:05Z")
        let data = try JSONEncoder().encode([time])
        #expect(String(decoding: data, as: UTF8.self) == #"["2026-11-29T08:30:05Z"]"#)
        #expect(
            try JSONDecoder().decode([Timestamp].self, from: Data(#"["2026-11-29T16:30:05+08:00"]"#.utf8)) == [time])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([Timestamp].self, from: Data(#"["2026-11-29T08:30:05.5Z"]"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([Timestamp].self, from: Data("[1795941005]".utf8))
        }
    }

    @Test func addingYearsFromTheTwentyNinthOfFebruary() {
        let leapDay = Timestamp.at("2024-02-29T12:34:56Z")
        #expect(leapDay.adding(years: 1) == .at("2025-02-28T12:34:56Z"))
        #expect(leapDay.adding(years: 4) == .at("2028-02-29T12:34:56Z"))
        #expect(leapDay.adding(years: 10) == .at("2034-02-28T12:34:56Z"))
        #expect(leapDay.adding(years: -1) == .at("2023-02-28T12:34:56Z"))
        #expect(leapDay.adding(years: 0) == leapDay)
        #expect(Timestamp.at("2026-11-29T23:59:59Z").adding(years: 10) == .at("2036-11-29T23:59:59Z"))
        #expect(Timestamp.at("1969-12-31T23:59:59Z").adding(years: 1) == .at("1970-12-31T23:59:59Z"))
    }

    @Test func addingYearsKeepsTheTimeOfDay() async {
        let first = CalendarDate.on("1900-01-01").startTimestamp().secondsSinceEpoch
        let last = CalendarDate.on("2100-01-01").startTimestamp().secondsSinceEpoch
        await propertyCheck(count: 1000, input: Gen.int64(in: first...last), Gen.int(in: -50...50)) { seconds, years in
            let time = Timestamp(secondsSinceEpoch: seconds)
            let later = time.adding(years: years)
            let (date, second) = time.utcDateAndSecond
            let (laterDate, laterSecond) = later.utcDateAndSecond
            #expect(laterSecond == second)
            #expect(laterDate.year == date.year + years)
            #expect(laterDate.month == date.month)
            #expect(laterDate.day == date.day || (date.month == 2 && date.day == 29 && laterDate.day == 28))
        }
    }

    @Test func addingSecondsAndDays() {
        let time = Timestamp.at("2026-11-29T08:30:05Z")
        #expect(time.adding(seconds: 55) == .at("2026-11-29T08:31:00Z"))
        #expect(time.adding(days: 5) == .at("2026-12-04T08:30:05Z"))
        #expect(time.adding(days: -29) == .at("2026-10-31T08:30:05Z"))
        #expect(time < time.adding(seconds: 1))
    }

    @Test(arguments: [
        ("2026-11-28T15:59:59Z", "2026-11-28", "2026-11-28"),
        ("2026-11-28T16:00:00Z", "2026-11-29", "2026-11-28"),
        ("2026-11-29T15:59:59Z", "2026-11-29", "2026-11-29"),
        ("1969-12-31T23:59:59Z", "1970-01-01", "1969-12-31"),
        ("2024-02-28T16:00:00Z", "2024-02-29", "2024-02-28"),
        ("2025-12-31T16:00:00Z", "2026-01-01", "2025-12-31"),
    ])
    func calendarDateInAsiaShanghaiAndUTC(time: String, shanghai: String, utc: String) {
        let timestamp = Timestamp.at(time)
        #expect(timestamp.calendarDate() == .on(shanghai))
        #expect(timestamp.calendarDate(offsetSeconds: 8 * 3600) == .on(shanghai))
        #expect(timestamp.calendarDate(offsetSeconds: 0) == .on(utc))
    }

    @Test func utcDateAndSecondForNegativeTimes() {
        let (date, second) = Timestamp(secondsSinceEpoch: -86_401).utcDateAndSecond
        #expect(date == .on("1969-12-30"))
        #expect(second == 86_399)
    }
}

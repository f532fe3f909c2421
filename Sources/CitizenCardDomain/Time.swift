/// A point in time, in whole seconds since 1970-01-01T00:00:00Z.
///
/// The regulation records the effective time of a loss report "to the second" (Art 17), so every
/// effective time in the system is a `Timestamp`. Storage keeps it as an integer in UTC; screens
/// show it in Asia/Shanghai.
public struct Timestamp: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var secondsSinceEpoch: Int64

    public init(secondsSinceEpoch: Int64) { self.secondsSinceEpoch = secondsSinceEpoch }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.secondsSinceEpoch < rhs.secondsSinceEpoch
    }

    public func adding(seconds: Int64) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + seconds)
    }

    public func adding(days: Int) -> Timestamp { adding(seconds: Int64(days) * 86_400) }

    /// The same wall-clock second `years` later in UTC (29 February becomes 28 February).
    public func adding(years: Int) -> Timestamp {
        let (date, secondOfDay) = utcDateAndSecond
        let target = CalendarDate.clamped(year: date.year + years, month: date.month, day: date.day)
        return Timestamp(secondsSinceEpoch: target.daysSinceEpoch * 86_400 + secondOfDay)
    }

    /// The UTC calendar date and the second within that day.
    public var utcDateAndSecond: (CalendarDate, Int64) {
        let days = secondsSinceEpoch.floorDivided(by: 86_400)
        let second = secondsSinceEpoch - days * 86_400
        return (CalendarDate(daysSinceEpoch: days), second)
    }

    /// The calendar date in a fixed offset time zone (Asia/Shanghai is +08:00, without DST).
    public func calendarDate(offsetSeconds: Int64 = 8 * 3600) -> CalendarDate {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + offsetSeconds).utcDateAndSecond.0
    }

    /// RFC 3339 in UTC: `2026-11-29T08:30:05Z`.
    public var iso8601: String {
        let (date, second) = utcDateAndSecond
        let hours = second / 3600, minutes = (second % 3600) / 60, seconds = second % 60
        return "\(date.iso8601)T\(hours.twoDigits):\(minutes.twoDigits):\(seconds.twoDigits)Z"
    }

    public var description: String { iso8601 }

    /// Parses RFC 3339 with seconds and an offset (`Z` or `±hh:mm`); fractions of a second are
    /// refused because effective times are whole seconds.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: " "),
            let date = CalendarDate(iso8601: String(decoding: bytes[0..<10], as: UTF8.self)),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let hours = Int64(digits: bytes[11..<13]), let minutes = Int64(digits: bytes[14..<16]),
            let seconds = Int64(digits: bytes[17..<19]), hours < 24, minutes < 60, seconds < 60
        else { return nil }
        let zone = bytes[19...]
        var offset: Int64 = 0
        if zone.count == 1 && (zone.first == UInt8(ascii: "Z") || zone.first == UInt8(ascii: "z")) {
            offset = 0
        } else if zone.count == 6, let sign = zone.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
            zone[zone.startIndex + 3] == UInt8(ascii: ":"),
            let oh = Int64(digits: zone[(zone.startIndex + 1)..<(zone.startIndex + 3)]),
            let om = Int64(digits: zone[(zone.startIndex + 4)..<(zone.startIndex + 6)]), oh < 24, om < 60
        {
            offset = (oh * 3600 + om * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        self.secondsSinceEpoch = date.daysSinceEpoch * 86_400 + hours * 3600 + minutes * 60 + seconds - offset
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(iso8601: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an RFC 3339 time with seconds, e.g. 2026-11-29T08:30:05Z")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }
}

/// The source of "now". Every rule that depends on time takes a clock so that tests can move it.
public protocol Clock: Sendable {
    func now() -> Timestamp
}

/// A proleptic Gregorian calendar date without a time zone (birth dates, effective dates).
public struct CalendarDate: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// nil unless the date exists (no 30 February).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            (1...CalendarDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// A date that exists, the day clamped to the month's length.
    static func clamped(year: Int, month: Int, day: Int) -> CalendarDate {
        CalendarDate(year: year, month: month, day: min(day, daysIn(month: month, year: year)))!
    }

    public static func isLeap(_ year: Int) -> Bool {
        (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var daysSinceEpoch: Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = y.floorDivided(by: 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public init(daysSinceEpoch days: Int64) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.year = Int(y)
        self.month = Int(m)
        self.day = Int(d)
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// Whole years from this date to `other` (an age).
    public func years(until other: CalendarDate) -> Int {
        var years = other.year - year
        if (other.month, other.day) < (month, day) { years -= 1 }
        return years
    }

    /// `2026-11-29`.
    public var iso8601: String {
        let y = String(year)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + Int64(month).twoDigits + "-"
            + Int64(day).twoDigits
    }

    public var description: String { iso8601 }

    /// Parses `YYYY-MM-DD`.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
            let y = Int64(digits: bytes[0..<4]), let m = Int64(digits: bytes[5..<7]),
            let d = Int64(digits: bytes[8..<10])
        else { return nil }
        self.init(year: Int(y), month: Int(m), day: Int(d))
    }

    /// Parses `YYYYMMDD` as found inside a resident ID number.
    public init?(compact bytes: some Collection<UInt8>) {
        let array = Array(bytes)
        guard array.count == 8, let y = Int64(digits: array[0..<4]), let m = Int64(digits: array[4..<6]),
            let d = Int64(digits: array[6..<8])
        else { return nil }
        self.init(year: Int(y), month: Int(m), day: Int(d))
    }

    /// Midnight at the start of this date in the given offset (default Asia/Shanghai).
    public func startTimestamp(offsetSeconds: Int64 = 8 * 3600) -> Timestamp {
        Timestamp(secondsSinceEpoch: daysSinceEpoch * 86_400 - offsetSeconds)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let value = CalendarDate(iso8601: try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "expected a date YYYY-MM-DD")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(iso8601)
    }
}

extension Int64 {
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    var twoDigits: String { self < 10 ? "0\(self)" : "\(self)" }

    /// Parses ASCII digits only (no sign, no spaces).
    init?(digits: some Collection<UInt8>) {
        guard !digits.isEmpty, digits.count <= 18 else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard byte.isASCIIDigit else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        self = value
    }
}

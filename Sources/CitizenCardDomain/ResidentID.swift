/// A mainland China resident identity number (GB 11643-1999): 6-digit administrative region code,
/// 8-digit birth date, 3-digit sequence (odd for men, even for women) and an ISO 7064 MOD 11-2 check
/// character (`0`–`9` or `X`).
///
/// A `ResidentID` value is always valid; `ResidentID.parse` says exactly why a text is not one. The
/// region code is checked against the GB/T 2260 table (`RegionCodes`) when a number comes in, not
/// when a stored one is read back.
/// Its `description` is masked so that a stray interpolation never writes the number to a log.
public struct ResidentID: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// 18 characters, digits and an uppercase `X` check character.
    public let number: String

    public enum Invalid: Error, Equatable, Sendable {
        case wrongLength(Int)
        case invalidCharacter(position: Int)
        case unknownRegion
        case invalidBirthDate
        case birthDateInFuture
        case checkCharacterMismatch(expected: Character)

        /// English reason; never contains the number itself.
        public var reason: String {
            switch self {
            case .wrongLength(let length): "must be 18 characters, got \(length)"
            case .invalidCharacter(let position): "character \(position) must be a digit (only the last may be X)"
            case .unknownRegion: "the first 6 digits are not an administrative region code"
            case .invalidBirthDate: "digits 7-14 are not a real birth date"
            case .birthDateInFuture: "the birth date is in the future"
            case .checkCharacterMismatch(let expected): "check character does not match (expected \(expected))"
            }
        }

        /// Chinese reason; never contains the number itself.
        public var reasonZh: String {
            switch self {
            case .wrongLength(let length): "长度应为18位，实际为\(length)位"
            case .invalidCharacter(let position): "第\(position)位应为数字（仅最后一位可为X）"
            case .unknownRegion: "前6位不是有效的行政区划代码"
            case .invalidBirthDate: "第7至14位不是有效的出生日期"
            case .birthDateInFuture: "出生日期晚于当前日期"
            case .checkCharacterMismatch(let expected): "校验码不符（应为\(expected)）"
            }
        }
    }

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// Validates `text` (surrounding spaces ignored, a lowercase `x` accepted).
    /// - Parameters:
    ///   - today: birth dates after this date are refused; nil skips that check.
    ///   - regions: the region code must be one of this table's, in use in the birth year or later
    ///     (`RegionCodes.admits`); nil skips that check, for numbers already stored: they were
    ///     checked when written, and must open whatever a later table says.
    public static func parse(
        _ text: String, today: CalendarDate? = nil, regions: RegionCodes? = .bundled
    ) -> Result<ResidentID, Invalid> {
        var bytes = Array(text.utf8)
        while let first = bytes.first, first == 0x20 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 { bytes.removeLast() }
        guard bytes.count == 18 else { return .failure(lengthOrCharacterProblem(bytes)) }
        if bytes[17] == UInt8(ascii: "x") { bytes[17] = UInt8(ascii: "X") }
        for (index, byte) in bytes.enumerated() where !byte.isASCIIDigit {
            if !(index == 17 && byte == UInt8(ascii: "X")) { return .failure(.invalidCharacter(position: index + 1)) }
        }
        // A code the table lacks is reported before the birth date; one abolished before the birth
        // year, once the birth date is read.
        let region = RegionCodes.key(bytes[0..<6])!
        if let regions, !regions.lists(key: region) { return .failure(.unknownRegion) }
        guard let birth = CalendarDate(compact: bytes[6..<14]), birth.year >= 1890 else {
            return .failure(.invalidBirthDate)
        }
        if let regions, !regions.admits(key: region, birthYear: birth.year) { return .failure(.unknownRegion) }
        if let today, birth > today { return .failure(.birthDateInFuture) }
        let expected = checkCharacter(for: bytes[0..<17])
        guard Character(UnicodeScalar(bytes[17])) == expected else {
            return .failure(.checkCharacterMismatch(expected: expected))
        }
        return .success(ResidentID(number: String(decoding: bytes, as: UTF8.self)))
    }

    /// Why a text that is not 18 bytes long is refused. Lengths and positions count characters, as
    /// the person at the counter sees them: 18 full-width digits typed with a Chinese input method
    /// are 54 bytes, but the mistake is the first full-width character, not the length.
    static func lengthOrCharacterProblem(_ bytes: [UInt8]) -> Invalid {
        let characters = Array(String(decoding: bytes, as: UTF8.self))
        guard characters.count == 18 else { return .wrongLength(characters.count) }
        for (index, character) in characters.enumerated() {
            let isDigit = character.utf8.count == 1 && character.utf8.first!.isASCIIDigit
            let isCheckX = index == 17 && (character == "X" || character == "x")
            if !isDigit && !isCheckX { return .invalidCharacter(position: index + 1) }
        }
        // 18 one-byte characters would be 18 bytes; at least one character above is not ASCII.
        preconditionFailure("18 characters of \(bytes.count) bytes without a non-ASCII one")
    }

    /// The ISO 7064 MOD 11-2 check character of the first 17 digits.
    public static func checkCharacter(for digits: some Collection<UInt8>) -> Character {
        precondition(digits.count == 17)
        var sum = 0
        for (byte, weight) in zip(digits, weights) { sum += Int(byte - 0x30) * weight }
        return checkCharacters[sum % 11]
    }

    private init(number: String) { self.number = number }

    /// Builds a valid number from its parts (used by generators and the demo city).
    public static func make(region: String, birth: CalendarDate, sequence: Int) -> ResidentID {
        precondition(region.utf8.count == 6 && (0...999).contains(sequence))
        let year = String(birth.year)
        let seq = String(sequence)
        let body =
            region + year + Int64(birth.month).twoDigits + Int64(birth.day).twoDigits
            + String(repeating: "0", count: 3 - seq.count) + seq
        let check = checkCharacter(for: Array(body.utf8))
        return ResidentID(number: body + String(check))
    }

    public var regionCode: String { String(number.prefix(6)) }

    public var birthDate: CalendarDate {
        CalendarDate(compact: Array(number.utf8)[6..<14])!
    }

    /// Odd sequence digit: male; even: female (GB 11643 §5).
    public var sex: Sex { (Array(number.utf8)[16] - 0x30) % 2 == 1 ? .male : .female }

    /// `330902********123X`: region and the last four kept, the birth date and sequence hidden.
    public var masked: String { Masking.residentID(number) }

    public var description: String { masked }
    public var debugDescription: String { "ResidentID(\(masked))" }
}

public enum Sex: String, Codable, Sendable, CaseIterable {
    case male
    case female
}

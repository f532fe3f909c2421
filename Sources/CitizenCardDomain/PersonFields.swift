/// The rules for the fields of a person record, shared by the API, the import and the demo.
/// Errors name the field and the rule, never the value.
public enum PersonFields {
    public static let nameLengthMax = 50
    public static let addressLengthMax = 200
    public static let employerLengthMax = 100

    /// 1-50 characters within the text rule for names (`TextRule`: no control, bidirectional
    /// formatting or invisible character); surrounding spaces removed.
    public static func name(_ value: String, field: String = "name") throws(CitizenCardError) -> String {
        let trimmed = value.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.count <= nameLengthMax else {
            throw CitizenCardError.invalid(
                field, "a name is 1-\(nameLengthMax) characters", zh: "姓名须为1至\(nameLengthMax)个字符")
        }
        try TextRule.check(trimmed, field: field, kind: .name)
        return trimmed
    }

    /// Optional: digits with an optional leading `+` and `-` or space separators, 5-20 characters.
    public static func phone(_ value: String?, field: String = "phone") throws(CitizenCardError) -> String? {
        guard let trimmed = value?.trimmingSpaces, !trimmed.isEmpty else { return nil }
        let bytes = Array(trimmed.utf8)
        let valid =
            (5...20).contains(bytes.count)
            && bytes.enumerated().allSatisfy { index, byte in
                byte.isASCIIDigit || byte == UInt8(ascii: "-") || byte == UInt8(ascii: " ")
                    || (index == 0 && byte == UInt8(ascii: "+"))
            } && bytes.contains(where: \.isASCIIDigit)
        guard valid else {
            throw CitizenCardError.invalid(
                field, "a phone number is 5-20 digits, '+' first and '-' allowed",
                zh: "电话号码须为5至20位数字")
        }
        return trimmed
    }

    /// Optional one line of at most `lengthMax` characters within the text rule (`TextRule`).
    public static func text(_ value: String?, field: String, lengthMax: Int) throws(CitizenCardError) -> String? {
        guard let trimmed = value?.trimmingSpaces, !trimmed.isEmpty else { return nil }
        guard trimmed.count <= lengthMax else {
            throw CitizenCardError.invalid(field, "at most \(lengthMax) characters", zh: "最多\(lengthMax)个字符")
        }
        try TextRule.check(trimmed, field: field, kind: .line)
        return trimmed
    }

    /// A valid number whose region code `regions` admits for its birth year (nil: not checked).
    public static func residentID(
        _ value: String, today: CalendarDate, field: String = "idNumber", regions: RegionCodes? = .bundled
    )
        throws(CitizenCardError) -> ResidentID
    {
        switch ResidentID.parse(value, today: today, regions: regions) {
        case .success(let id): return id
        case .failure(let reason): throw CitizenCardError.invalidResidentID(reason, field: field)
        }
    }

    /// A stated sex must agree with the ID number (GB 11643: odd sequence digit, male).
    public static func sex(_ stated: Sex?, matches id: ResidentID, field: String = "sex") throws(CitizenCardError) {
        if let stated, stated != id.sex {
            throw CitizenCardError.invalid(field, "does not agree with the ID number", zh: "性别与身份证号码不符")
        }
    }
}

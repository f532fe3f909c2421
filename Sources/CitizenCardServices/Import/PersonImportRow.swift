public import CitizenCardDomain

// Maps the records of a `citizencard import persons` file to validated person data
// (docs/import-format.md). Reasons are English and never repeat a value from the file.

/// A column of the person import file.
public enum PersonImportColumn: String, CaseIterable, Hashable, Sendable {
    case idNumber = "id_number"
    case name
    case sex
    case household
    case phone
    case address
    case employer
    case socialInsurance = "social_insurance"
    case ruralMedical = "rural_medical"
    case socialSecurityNumber = "social_security_number"
    case lifeStatus = "life_status"

    /// Whether the header must have this column (the value itself may still be optional).
    public var isRequired: Bool { self != .socialSecurityNumber && self != .lifeStatus }

    public static let required: [PersonImportColumn] = allCases.filter(\.isRequired)
    public static let optional: [PersonImportColumn] = allCases.filter { !$0.isRequired }

    fileprivate var ordinal: Int {
        switch self {
        case .idNumber: 0
        case .name: 1
        case .sex: 2
        case .household: 3
        case .phone: 4
        case .address: 5
        case .employer: 6
        case .socialInsurance: 7
        case .ruralMedical: 8
        case .socialSecurityNumber: 9
        case .lifeStatus: 10
        }
    }
}

/// A problem with one row of the file. `column` is the column name (`id_number` …), or empty when the
/// problem is with the record as a whole (malformed CSV, wrong number of fields).
public struct ImportRowError: Error, Hashable, Sendable, CustomStringConvertible {
    /// 1-based physical line on which the record starts.
    public var line: Int
    public var column: String
    /// English; never contains the value.
    public var reason: String

    public init(line: Int, column: String, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String {
        column.isEmpty ? "line \(line): \(reason)" : "line \(line), \(column): \(reason)"
    }

    /// The header of the error report (`FILE.errors.csv`).
    public static let reportHeader = ["line", "column", "reason"]

    /// This error as a record of the error report.
    public var reportFields: [String] { [String(line), column, reason] }

    /// The report line for a row whose ID number is registered already with other data (the import
    /// never overwrites).
    public static func registeredWithDifferentData(line: Int) -> ImportRowError {
        ImportRowError(
            line: line, column: PersonImportColumn.idNumber.rawValue,
            reason: "already registered with different data; not changed (correct it at an outlet)")
    }
}

/// All the problems of one row (never empty).
public struct ImportRowErrors: Error, Hashable, Sendable {
    public var line: Int
    public var errors: [ImportRowError]

    public init(line: Int, errors: [ImportRowError]) {
        precondition(!errors.isEmpty)
        self.line = line
        self.errors = errors
    }
}

/// A valid row: the person's data as the domain holds it.
public struct PersonImportRow: Hashable, Sendable {
    /// 1-based physical line on which the record starts.
    public var line: Int
    public var details: PersonalDetails
    public var attributes: PersonAttributes

    public init(line: Int, details: PersonalDetails, attributes: PersonAttributes) {
        self.line = line
        self.details = details
        self.attributes = attributes
    }
}

/// The header row is unusable: the import stops before reading any row.
public struct PersonImportHeaderError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Required columns the header lacks.
    public var missing: [String]
    /// Columns named more than once (normalised names).
    public var duplicate: [String]
    /// Names that are not columns of the format (as written, trimmed).
    public var unknown: [String]

    public init(missing: [String] = [], duplicate: [String] = [], unknown: [String] = []) {
        self.missing = missing
        self.duplicate = duplicate
        self.unknown = unknown
    }

    public var description: String {
        var parts: [String] = []
        if !missing.isEmpty { parts.append("missing columns: " + missing.joined(separator: ", ")) }
        if !duplicate.isEmpty { parts.append("duplicate columns: " + duplicate.joined(separator: ", ")) }
        if !unknown.isEmpty {
            parts.append("unknown columns: " + unknown.map { $0.isEmpty ? "(empty)" : $0 }.joined(separator: ", "))
        }
        return "invalid header: " + parts.joined(separator: "; ")
    }
}

/// The header row of a person import file, and the validation of the rows that follow it.
public struct PersonImportHeader: Hashable, Sendable {
    /// As at registration (`RegistryService`); the other limits are `PersonFields`'.
    public static let maxSocialSecurityNumberLength = 20

    /// The columns in file order.
    public let columns: [PersonImportColumn]
    /// Field index of each column by ordinal, -1 when absent.
    private let positions: [Int]

    /// Reads the header fields: names are trimmed and case-insensitive, in any order.
    public init(_ fields: [String]) throws(PersonImportHeaderError) {
        var positions = [Int](repeating: -1, count: PersonImportColumn.allCases.count)
        var columns: [PersonImportColumn] = []
        var duplicate: [String] = []
        var unknown: [String] = []
        for (index, field) in fields.enumerated() {
            let name = trimmed(field)
            guard let column = PersonImportColumn(rawValue: name.lowercased()) else {
                unknown.append(name)
                continue
            }
            if positions[column.ordinal] >= 0 {
                if !duplicate.contains(column.rawValue) { duplicate.append(column.rawValue) }
                continue
            }
            positions[column.ordinal] = index
            columns.append(column)
        }
        let missing = PersonImportColumn.required.filter { positions[$0.ordinal] < 0 }.map(\.rawValue)
        guard missing.isEmpty && duplicate.isEmpty && unknown.isEmpty else {
            throw PersonImportHeaderError(missing: missing, duplicate: duplicate, unknown: unknown)
        }
        self.columns = columns
        self.positions = positions
    }

    /// The field index of `column` in each record, nil when the file has no such column.
    public func position(of column: PersonImportColumn) -> Int? {
        let position = positions[column.ordinal]
        return position >= 0 ? position : nil
    }

    /// Validates one record: the person's data, or every problem found in the row.
    /// - Parameter today: birth dates after it are refused (nil skips that check).
    /// - Parameter regions: the region codes ID numbers are checked against.
    public func validate(
        _ record: CSVRecord, today: CalendarDate?, regions: RegionCodes = .bundled
    ) -> Result<PersonImportRow, ImportRowErrors> {
        validate(fields: record.fields, line: record.line, today: today, regions: regions)
    }

    /// The row error for a record the CSV reader could not read.
    public func rowError(for error: CSVRecordError) -> ImportRowError {
        var column = ""
        if let field = error.field, let name = columns.indices.contains(field) ? columns[field] : nil {
            column = name.rawValue
        }
        return ImportRowError(line: error.line, column: column, reason: error.reason)
    }

    public func validate(
        fields: [String], line: Int, today: CalendarDate?, regions: RegionCodes = .bundled
    ) -> Result<PersonImportRow, ImportRowErrors> {
        guard fields.count == columns.count else {
            let reason = "the record has \(fields.count) fields, the header has \(columns.count)"
            return .failure(
                ImportRowErrors(line: line, errors: [ImportRowError(line: line, column: "", reason: reason)]))
        }
        var errors: [ImportRowError] = []
        func fail(_ column: PersonImportColumn, _ reason: String) {
            errors.append(ImportRowError(line: line, column: column.rawValue, reason: reason))
        }
        func fail(_ column: PersonImportColumn, _ error: CitizenCardError) {
            fail(column, error.detail ?? error.code.title)
        }
        func value(_ column: PersonImportColumn) -> String {
            let position = positions[column.ordinal]
            return position >= 0 ? trimmed(fields[position]) : ""
        }

        // id_number
        var residentID: ResidentID? = nil
        let idText = value(.idNumber)
        if idText.isEmpty {
            fail(.idNumber, "is required")
        } else {
            switch ResidentID.parse(idText, today: today, regions: regions) {
            case .success(let id): residentID = id
            case .failure(let invalid): fail(.idNumber, invalid.reason)
            }
        }

        // name
        var name = value(.name)
        if name.isEmpty {
            fail(.name, "is required")
        } else if !isPlainText(name, maxBytes: PersonFields.nameLengthMax) {
            do throws(CitizenCardError) { name = try PersonFields.name(name) } catch { fail(.name, error) }
        }

        // sex: a cross-check of the ID number's sequence digit
        let sexText = value(.sex)
        if sexText.isEmpty {
            fail(.sex, "is required")
        } else if let sex = parseSex(sexText) {
            if let residentID {
                do throws(CitizenCardError) { try PersonFields.sex(sex, matches: residentID) } catch {
                    fail(.sex, error)
                }
            }
        } else {
            fail(.sex, "must be male or female (M, F, 男, 女 are accepted too)")
        }

        // household
        var household: Household? = nil
        let householdText = value(.household)
        if householdText.isEmpty {
            fail(.household, "is required")
        } else if equalsIgnoringASCIICase(householdText, "local") {
            household = .local
        } else if equalsIgnoringASCIICase(householdText, "nonlocal") {
            household = .nonlocal
        } else {
            fail(.household, "must be local or nonlocal")
        }

        // booleans
        func flag(_ column: PersonImportColumn) -> Bool? {
            let text = value(column)
            if equalsIgnoringASCIICase(text, "true") { return true }
            if equalsIgnoringASCIICase(text, "false") { return false }
            fail(column, text.isEmpty ? "is required (true or false)" : "must be true or false")
            return nil
        }
        let socialInsurance = flag(.socialInsurance)
        let ruralMedical = flag(.ruralMedical)

        // optional texts: the same rules as registration at an outlet (PersonFields)
        // (`plain` is a quick test for values those rules surely accept as they are.)
        func optional(
            _ column: PersonImportColumn, plain: (String) -> Bool,
            _ check: (String) throws(CitizenCardError) -> String?
        ) -> String? {
            let text = value(column)
            if text.isEmpty { return nil }
            if plain(text) { return text }
            do throws(CitizenCardError) { return try check(text) } catch {
                fail(column, error)
                return nil
            }
        }
        let phone = optional(.phone, plain: isPlainPhone) { text throws(CitizenCardError) in
            try PersonFields.phone(text)
        }
        let address = optional(.address, plain: { isPlainText($0, maxBytes: PersonFields.addressLengthMax) }) {
            text throws(CitizenCardError) in
            try PersonFields.text(text, field: "address", lengthMax: PersonFields.addressLengthMax)
        }
        let employer = optional(.employer, plain: { isPlainText($0, maxBytes: PersonFields.employerLengthMax) }) {
            text throws(CitizenCardError) in
            try PersonFields.text(text, field: "employer", lengthMax: PersonFields.employerLengthMax)
        }
        // social_security_number (optional; defaults to the ID number)
        let socialSecurityNumber = optional(
            .socialSecurityNumber,
            plain: { isPlainText($0, maxBytes: PersonImportHeader.maxSocialSecurityNumberLength) }
        ) { text throws(CitizenCardError) in
            try PersonFields.text(
                text, field: "socialSecurityNumber", lengthMax: PersonImportHeader.maxSocialSecurityNumberLength)
        }

        // life_status (optional; defaults to alive)
        var lifeStatus = LifeStatus.alive
        let lifeText = value(.lifeStatus)
        if lifeText.isEmpty || equalsIgnoringASCIICase(lifeText, "alive") {
            lifeStatus = .alive
        } else if equalsIgnoringASCIICase(lifeText, "deceased") {
            lifeStatus = .deceased
        } else {
            fail(.lifeStatus, "must be alive or deceased")
        }

        guard errors.isEmpty, let residentID, let household, let socialInsurance, let ruralMedical else {
            return .failure(ImportRowErrors(line: line, errors: errors))
        }
        let details = PersonalDetails(
            residentID: residentID, name: name, socialSecurityNumber: socialSecurityNumber, phone: phone,
            address: address, employer: employer)
        let attributes = PersonAttributes(
            household: household, socialInsurance: socialInsurance, ruralMedical: ruralMedical,
            lifeStatus: lifeStatus)
        return .success(PersonImportRow(line: line, details: details, attributes: attributes))
    }
}

// MARK: - Value checks

/// `String.trimmingSpaces` (spaces, tabs, line ends, U+3000), without the copy when there is nothing to trim.
private func trimmed(_ text: String) -> String {
    let plain = withBytes(text) { bytes in
        // U+3000 is E3 80 80.
        guard let first = bytes.first, let last = bytes.last else { return true }
        return !isSpaceByte(first) && first != 0xE3 && !isSpaceByte(last) && last != 0x80
    }
    return plain ? text : text.trimmingSpaces
}

@inline(__always)
private func isSpaceByte(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

private func equalsIgnoringASCIICase(_ text: String, _ lowercase: StaticString) -> Bool {
    lowercase.withUTF8Buffer { expected in
        guard text.utf8.count == expected.count else { return false }
        return withBytes(text) { bytes in
            for index in 0..<bytes.count {
                let byte = bytes[index]
                let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
                if folded != expected[index] { return false }
            }
            return true
        }
    }
}

private func parseSex(_ text: String) -> Sex? {
    if equalsIgnoringASCIICase(text, "male") || equalsIgnoringASCIICase(text, "m") || equalsIgnoringASCIICase(text, "男")
    {
        return .male
    }
    if equalsIgnoringASCIICase(text, "female") || equalsIgnoringASCIICase(text, "f")
        || equalsIgnoringASCIICase(text, "女")
    {
        return .female
    }
    return nil
}

/// Text that `PersonFields.name`/`text` accept unchanged: at most `maxBytes` UTF-8 bytes (so at most
/// as many characters), nothing to trim, and only printable ASCII and characters of U+4000–U+9FFF
/// (the CJK ideographs of almost every name and address; lead bytes E4–E9), none of which the text
/// rule refuses. Other text, including any other non-ASCII character, goes through `PersonFields`
/// and `TextRule`.
private func isPlainText(_ text: String, maxBytes: Int) -> Bool {
    withBytes(text) { bytes in
        guard bytes.count <= maxBytes, let first = bytes.first, let last = bytes.last,
            !isSpaceByte(first), !isSpaceByte(last)
        else { return false }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte < 0x20 || byte == 0x7F { return false }
                index += 1
            } else if (0xE4...0xE9).contains(byte) {
                index += 3
            } else {
                return false
            }
        }
        return true
    }
}

/// The UTF-8 bytes of `text`, without a copy for native strings.
@inline(__always)
private func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
    return Array(text.utf8).withUnsafeBufferPointer(body)
}

/// A phone number that `PersonFields.phone` accepts unchanged: 5-20 bytes, an optional leading `+`,
/// then digits and `-`, starting and ending with a digit.
private func isPlainPhone(_ text: String) -> Bool {
    withBytes(text) { bytes in
        guard (5...20).contains(bytes.count), let last = bytes.last, last >= 0x30 && last <= 0x39 else { return false }
        for (index, byte) in bytes.enumerated() {
            let isDigit = byte >= 0x30 && byte <= 0x39
            if !(isDigit || (byte == UInt8(ascii: "+") && index == 0) || (byte == UInt8(ascii: "-") && index > 0)) {
                return false
            }
        }
        return true
    }
}

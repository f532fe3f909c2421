import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@testable import CitizenCardServices

private let today = CalendarDate(year: 2026, month: 11, day: 29)!
private let header = [
    "id_number", "name", "sex", "household", "phone", "address", "employer", "social_insurance", "rural_medical",
]
/// Male (sequence 123, odd) and female (sequence 124, even), born 1985-03-07 in Dinghai.
private let maleID = ResidentID.make(
    region: "330902", birth: CalendarDate(year: 1985, month: 3, day: 7)!, sequence: 123)
private let femaleID = ResidentID.make(
    region: "330902", birth: CalendarDate(year: 1985, month: 3, day: 7)!, sequence: 124)

private func validRow(_ changes: [String: String] = [:]) -> [String] {
    var values = [
        "id_number": maleID.number, "name": "王伟", "sex": "male", "household": "local", "phone": "13800000000",
        "address": "舟山市定海区解放路1号", "employer": "舟山市某某有限公司", "social_insurance": "true",
        "rural_medical": "false",
    ]
    for (key, value) in changes { values[key] = value }
    return header.map { values[$0]! }
}

private func validate(
    _ fields: [String], header names: [String] = header, line: Int = 2
) throws
    -> Result<PersonImportRow, ImportRowErrors>
{
    try PersonImportHeader(names).validate(fields: fields, line: line, today: today)
}

/// The (column, reason) pairs of a failed row.
private func problems(_ result: Result<PersonImportRow, ImportRowErrors>) -> [String: String] {
    guard case .failure(let failure) = result else { return [:] }
    return Dictionary(failure.errors.map { ($0.column, $0.reason) }, uniquingKeysWith: { first, _ in first })
}

@Suite("Person import rows")
struct PersonImportRowTests {
    // MARK: Header

    @Test func headerInAnyOrderCaseAndSpacesIgnored() throws {
        let names = [
            " Rural_Medical", "NAME ", "id_number", "sex", "household", "phone", "address", "employer",
            "SOCIAL_INSURANCE",
            "life_status",
        ]
        let parsed = try PersonImportHeader(names)
        #expect(parsed.columns.first == .ruralMedical)
        #expect(parsed.position(of: .idNumber) == 2)
        #expect(parsed.position(of: .lifeStatus) == 9)
        #expect(parsed.position(of: .socialSecurityNumber) == nil)
    }

    @Test func headerProblemsAreListedTogether() {
        let names = ["id_number", "Name", "name", "sex", "household", "phone", "employer", "insured", "", "sex"]
        #expect(throws: PersonImportHeaderError.self) { try PersonImportHeader(names) }
        do {
            _ = try PersonImportHeader(names)
        } catch {
            #expect(error.missing == ["address", "social_insurance", "rural_medical"])
            #expect(error.duplicate == ["name", "sex"])
            #expect(error.unknown == ["insured", ""])
            #expect(
                error.description
                    == "invalid header: missing columns: address, social_insurance, rural_medical; "
                    + "duplicate columns: name, sex; unknown columns: insured, (empty)")
        }
    }

    // MARK: Valid rows

    @Test func aValidRowBecomesDomainValues() throws {
        let row = try validate(validRow(), line: 7).get()
        #expect(row.line == 7)
        #expect(row.details.residentID == maleID)
        #expect(row.details.name == "王伟")
        #expect(row.details.socialSecurityNumber == maleID.number)
        #expect(row.details.phone == "13800000000")
        #expect(row.details.address == "舟山市定海区解放路1号")
        #expect(row.details.employer == "舟山市某某有限公司")
        #expect(row.details.photoID == nil)
        #expect(row.attributes == PersonAttributes(household: .local, socialInsurance: true, ruralMedical: false))
    }

    @Test func emptyOptionalFieldsAreNil() throws {
        let row = try validate(validRow(["phone": "", "address": "  ", "employer": ""])).get()
        #expect(row.details.phone == nil)
        #expect(row.details.address == nil)
        #expect(row.details.employer == nil)
    }

    @Test func optionalColumns() throws {
        let names = header + ["social_security_number", "life_status"]
        let row = try validate(validRow() + ["A1234567", "Deceased"], header: names).get()
        #expect(row.details.socialSecurityNumber == "A1234567")
        #expect(row.attributes.lifeStatus == .deceased)
        let defaults = try validate(validRow() + ["", ""], header: names).get()
        #expect(defaults.details.socialSecurityNumber == maleID.number)
        #expect(defaults.attributes.lifeStatus == .alive)
        #expect(
            problems(try validate(validRow() + ["", "dead"], header: names)) == [
                "life_status": "must be alive or deceased"
            ])
        #expect(
            problems(try validate(validRow() + [String(repeating: "1", count: 21), ""], header: names)).keys.first
                == "social_security_number")
    }

    @Test func valuesAreTrimmedAndKeywordsCaseInsensitive() throws {
        let row = try validate(
            validRow([
                "id_number": " " + maleID.number.lowercased() + " ", "name": "\u{3000}王伟 ", "sex": "M",
                "household": "NonLocal",
                "social_insurance": "FALSE", "rural_medical": "True",
            ])
        ).get()
        #expect(row.details.residentID == maleID)
        #expect(row.details.name == "王伟")
        #expect(row.attributes == PersonAttributes(household: .nonlocal, socialInsurance: false, ruralMedical: true))
    }

    @Test(arguments: ["male", "MALE", "m", "M", "男"]) func maleSpellings(_ sex: String) throws {
        #expect(throws: Never.self) { try validate(validRow(["sex": sex])).get() }
    }

    @Test(arguments: ["female", "Female", "f", "F", "女"]) func femaleSpellings(_ sex: String) throws {
        #expect(throws: Never.self) { try validate(validRow(["sex": sex, "id_number": femaleID.number])).get() }
    }

    @Test func phoneNumbers() throws {
        for phone in ["13800000000", "+86-138-0000-0000", "0580-2021234", "12345"] {
            #expect(throws: Never.self, "\(phone)") { try validate(validRow(["phone": phone])).get() }
        }
        for phone in ["1234", "138000000001380000000", "138O0000000", "++8613800000000", "(0580)2021234", "+"] {
            #expect(problems(try validate(validRow(["phone": phone]))).keys.sorted() == ["phone"], "\(phone)")
        }
    }

    @Test func lengthLimitsCountCharacters() throws {
        let name50 = String(repeating: "王", count: 50)
        let address200 = String(repeating: "路", count: 200)
        let employer100 = String(repeating: "司", count: 100)
        #expect(throws: Never.self) {
            try validate(validRow(["name": name50, "address": address200, "employer": employer100])).get()
        }
        let result = try validate(
            validRow(["name": name50 + "王", "address": address200 + "路", "employer": employer100 + "司"]))
        #expect(problems(result).keys.sorted() == ["address", "employer", "name"])
    }

    @Test func controlCharactersAreRefused() throws {
        for name in ["王\u{0}伟", "王\t伟", "王\n伟", "王\u{7F}伟", "王\u{85}伟"] {
            #expect(
                problems(try validate(validRow(["name": name]))).keys.sorted() == ["name"], "\(name.debugDescription)")
        }
        #expect(problems(try validate(validRow(["address": "一行\n二行"]))).keys.sorted() == ["address"])
    }

    // MARK: Errors

    @Test func everyProblemOfARowIsReported() throws {
        let result = try validate([
            "33090219850307123", "", "unknown", "abroad", "phone", String(repeating: "x", count: 201), "", "yes", "",
        ])
        let found = problems(result)
        #expect(
            found.keys.sorted() == [
                "address", "household", "id_number", "name", "phone", "rural_medical", "sex", "social_insurance",
            ])
        #expect(found["name"] == "is required")
        #expect(found["household"] == "must be local or nonlocal")
        #expect(found["social_insurance"] == "must be true or false")
        #expect(found["rural_medical"] == "is required (true or false)")
        guard case .failure(let failure) = result else { return }
        #expect(failure.line == 2)
        #expect(failure.errors.allSatisfy { $0.line == 2 })
    }

    @Test func residentIDReasonsComeFromTheDomain() throws {
        let wrongCheck = String(maleID.number.dropLast()) + (maleID.number.last == "0" ? "1" : "0")
        let cases: [(String, ResidentID.Invalid)] = [
            ("33090219850307123", .wrongLength(17)),
            ("33090219850307A234", .invalidCharacter(position: 15)),
            ("990902198503071234", .unknownRegion),
            ("330902198502301234", .invalidBirthDate),
        ]
        for (text, invalid) in cases {
            #expect(problems(try validate(validRow(["id_number": text])))["id_number"] == invalid.reason, "\(invalid)")
        }
        guard case .failure(let invalid) = ResidentID.parse(wrongCheck) else {
            Issue.record("expected a check character mismatch")
            return
        }
        #expect(problems(try validate(validRow(["id_number": wrongCheck])))["id_number"] == invalid.reason)
        let future = ResidentID.make(region: "330902", birth: CalendarDate(year: 2027, month: 1, day: 1)!, sequence: 1)
        #expect(
            problems(try validate(validRow(["id_number": future.number, "sex": "male"])))["id_number"]
                == ResidentID.Invalid.birthDateInFuture.reason)
        #expect(problems(try validate(validRow(["id_number": ""])))["id_number"] == "is required")
    }

    @Test func sexMustAgreeWithTheIDNumber() throws {
        #expect(problems(try validate(validRow(["sex": "female"]))).keys.sorted() == ["sex"])
        #expect(problems(try validate(validRow(["sex": "女", "id_number": maleID.number]))).keys.sorted() == ["sex"])
        #expect(
            problems(try validate(validRow(["sex": "x"])))["sex"]
                == "must be male or female (M, F, 男, 女 are accepted too)")
    }

    @Test func wrongNumberOfFields() throws {
        let result = try validate(Array(validRow().dropLast()))
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(
            failure.errors == [ImportRowError(line: 2, column: "", reason: "the record has 8 fields, the header has 9")]
        )
    }

    @Test func reasonsNeverContainTheValues() throws {
        let values = [
            "33090219850307123", "王伟\u{1}", "x", "abroad", "138-", String(repeating: "舟", count: 201),
            String(repeating: "司", count: 101), "yes", "nein",
        ]
        let result = try validate(values)
        guard case .failure(let failure) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(failure.errors.count == 9)
        for error in failure.errors {
            for value in values where value.count > 1 {
                #expect(!error.reason.contains(value), "\(error.column)")
            }
        }
    }

    @Test func csvErrorsMapToRowErrors() throws {
        let parsed = try PersonImportHeader(header)
        let error = CSVRecordError(line: 12, endOffset: 100, kind: .invalidUTF8(field: 1))
        #expect(parsed.rowError(for: error) == ImportRowError(line: 12, column: "name", reason: error.reason))
        let tooLong = CSVRecordError(line: 3, endOffset: 100, kind: .recordTooLong(limit: 10))
        #expect(parsed.rowError(for: tooLong).column == "")
        let beyond = CSVRecordError(line: 3, endOffset: 100, kind: .quoteInUnquotedField(field: 12))
        #expect(parsed.rowError(for: beyond).column == "")
        #expect(
            ImportRowError(line: 3, column: "name", reason: "is required").reportFields == ["3", "name", "is required"])
    }

    // MARK: From file bytes to rows

    @Test func aFileReadsIntoRowsAndErrors() throws {
        let text = """
            \u{FEFF}id_number,name,sex,household,phone,address,employer,social_insurance,rural_medical\r
            \(maleID.number),王伟,男,local,13800000000,"舟山市定海区解放路1号, 3幢",舟山市某某有限公司,true,false\r
            \(femaleID.number),"李\"\"娜\"\"\",女,nonlocal,,"第一行\r
            第二行",,false,true\r
            \(femaleID.number),张三,男,local,,,,true,maybe\r
            \(femaleID.number),"李\"\"娜\"\"\",女,nonlocal,,,,false,true
            bad,"unclosed,x\r

            """
        let reader = CSVReader(bytes: Array(text.utf8), chunkSize: 13)
        guard case .success(let headerRecord)? = try reader.next() else {
            Issue.record("no header")
            return
        }
        let parsed = try PersonImportHeader(headerRecord.fields)
        var rows: [PersonImportRow] = []
        var rowErrors: [ImportRowError] = []
        while let result = try reader.next() {
            switch result {
            case .success(let record):
                switch parsed.validate(record, today: today) {
                case .success(let row): rows.append(row)
                case .failure(let failure): rowErrors += failure.errors
                }
            case .failure(let error):
                rowErrors.append(parsed.rowError(for: error))
            }
        }
        #expect(rows.map(\.line) == [2, 6])
        #expect(rows.map(\.details.name) == ["王伟", "李\"娜\""])
        #expect(rows.first?.details.address == "舟山市定海区解放路1号, 3幢")
        // A line end inside a quoted address is read, then refused as a control character.
        #expect(rowErrors.map(\.line) == [3, 5, 5, 7])
        #expect(rowErrors.map(\.column) == ["address", "sex", "rural_medical", "name"])
    }

    /// docs/import-format.md: the example file gives exactly the example report.
    @Test func documentedExampleGivesTheDocumentedReport() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/import-format.md")
        let markdown = try String(contentsOf: docs, encoding: .utf8)
        let blocks = markdown.components(separatedBy: "```csv\n").dropFirst().map {
            $0.components(separatedBy: "```")[0]
        }
        try #require(blocks.count == 2)
        let reader = CSVReader(bytes: Array(blocks[0].utf8))
        let parsed = try PersonImportHeader(try #require(try reader.next()?.get()).fields)
        var imported = 0
        var report = CSVFormat.record(ImportRowError.reportHeader, lineEnding: "\n")
        while let result = try reader.next() {
            switch result.mapError({ parsed.rowError(for: $0) }) {
            case .success(let record):
                switch parsed.validate(record, today: today) {
                case .success: imported += 1
                case .failure(let failure):
                    for error in failure.errors { report += CSVFormat.record(error.reportFields, lineEnding: "\n") }
                }
            case .failure(let error):
                report += CSVFormat.record(error.reportFields, lineEnding: "\n")
            }
        }
        #expect(imported == 4)
        #expect(report == blocks[1])
    }

    @Test func reportLineForARegisteredPersonWithOtherData() {
        #expect(
            ImportRowError.registeredWithDifferentData(line: 9).reportFields == [
                "9", "id_number", "already registered with different data; not changed (correct it at an outlet)",
            ])
    }

    // MARK: Properties

    static let person = zip(
        Gen.int(in: 0...3), Gen.int(in: 0...36_000), Gen.int(in: 0...999),
        Gen<Character?>.element(of: Array("王李张刘陈杨黄赵吴周伟芳娜秀英敏静丽强磊军洋勇·, \"ABCabc")).map { $0! }.string(of: 1...12),
        Gen<Character?>.element(of: Array("舟山市定海区路号幢, \"\n\r0123456789-#")).map { $0! }.string(of: 0...40).optional,
        Gen.int(in: 0...7))

    /// Valid persons written as CSV (quoted as needed, in shuffled column order) read back equal.
    @Test func generatedPersonsRoundTripThroughCSV() async throws {
        await propertyCheck(count: 200, input: Self.person.array(of: 1...10), Gen.bool) { people, crlf in
            let regions = ["330902", "330903", "330921", "330922"]
            var expected: [(PersonalDetails, PersonAttributes)] = []
            for (region, days, sequence, name, address, flags) in people {
                let birth = CalendarDate(daysSinceEpoch: Int64(days - 18_000))
                let id = ResidentID.make(region: regions[region], birth: birth, sequence: sequence)
                let cleanName = name.trimmingSpaces.isEmpty ? "王" : name.trimmingSpaces
                let cleanAddress = address.flatMap { text -> String? in
                    let trimmed = text.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
                        .trimmingSpaces
                    return trimmed.isEmpty ? nil : trimmed
                }
                expected.append(
                    (
                        PersonalDetails(
                            residentID: id, name: cleanName, phone: flags & 1 == 0 ? "0580-2021234" : nil,
                            address: cleanAddress),
                        PersonAttributes(
                            household: flags & 2 == 0 ? .local : .nonlocal, socialInsurance: flags & 4 == 0,
                            ruralMedical: flags & 1 == 1)
                    ))
            }
            let order = header.shuffled()
            let lineEnding = crlf ? "\r\n" : "\n"
            var text = CSVFormat.record(order.map { $0.uppercased() }, lineEnding: lineEnding)
            for (details, attributes) in expected {
                let values: [String: String] = [
                    "id_number": details.residentID.number, "name": details.name,
                    "sex": details.sex == .male ? "male" : "female", "household": attributes.household.rawValue,
                    "phone": details.phone ?? "", "address": details.address ?? "", "employer": "",
                    "social_insurance": String(attributes.socialInsurance),
                    "rural_medical": String(attributes.ruralMedical),
                ]
                text += CSVFormat.record(order.map { values[$0]! }, lineEnding: lineEnding)
            }
            let reader = CSVReader(bytes: Array(text.utf8), chunkSize: 17)
            let headerRecord = try #require(try reader.next()?.get())
            let parsed = try PersonImportHeader(headerRecord.fields)
            var index = 0
            while let result = try reader.next() {
                let row = try parsed.validate(try result.get(), today: today).get()
                #expect(row.details == expected[index].0)
                #expect(row.attributes == expected[index].1)
                #expect(row.line == index + 2)
                index += 1
            }
            #expect(index == expected.count)
        }
    }
}

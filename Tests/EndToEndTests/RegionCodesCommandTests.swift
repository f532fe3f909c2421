import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Testing

/// The region code table through the binary (issue 16, docs/region-codes.md): a code no edition
/// has is refused at import; a newer edition named in the configuration admits it; a file that
/// cannot be read stops the command with the line and the rule.
@Suite("Region codes through the binary")
struct RegionCodesCommandTests {
    @Test("regionCodesFile lays a newer edition over the bundled table; a bad one stops the start")
    func newerEdition() throws {
        let scratch = try Scratch()
        let data = scratch.file("data").path
        let newCode = ResidentID.make(
            region: "339999", birth: CalendarDate(year: 2024, month: 3, day: 1)!, sequence: 11)
        let csv = scratch.file("persons.csv")
        try Data(
            """
            id_number,name,sex,household,phone,address,employer,social_insurance,rural_medical
            \(newCode.number),王新,male,local,,,,true,false

            """.utf8
        ).write(to: csv)
        let refused = try scratch.run(["import", "persons", csv.path, "--data", data])
        #expect(refused.output.contains("rejected:           1"), "\(refused.output)\(refused.errors)")
        let report = try String(contentsOf: URL(fileURLWithPath: csv.path + ".errors.csv"), encoding: .utf8)
        #expect(report.contains("id_number") && report.contains("region"), "\(report)")

        let configuration = scratch.file("data/citizencard.json")
        var json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: configuration)) as? [String: Any])
        json["regionCodesFile"] = "newer.tsv"
        try JSONSerialization.data(withJSONObject: json).write(to: configuration)
        try Data("# a later edition\n339999\t2024\t\t新区\n".utf8).write(to: scratch.file("data/newer.tsv"))
        let admitted = try scratch.run(["import", "persons", csv.path, "--data", data])
        #expect(admitted.output.contains("imported:           1"), "\(admitted.output)\(admitted.errors)")

        try Data("339999\tlater\n".utf8).write(to: scratch.file("data/newer.tsv"))
        let broken = try scratch.run(["migrate", "--data", data])
        #expect(broken.status != 0)
        #expect(broken.errors.contains("region code table, line 1"), "\(broken.errors)")
        try FileManager.default.removeItem(at: scratch.file("data/newer.tsv"))
        let missing = try scratch.run(["migrate", "--data", data])
        #expect(missing.status != 0 && missing.errors.contains("newer.tsv"), "\(missing.errors)")
    }
}

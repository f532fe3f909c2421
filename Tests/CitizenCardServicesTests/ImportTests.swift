import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

@Suite("Person import")
struct ImportTests {
    let world: TestWorld
    let fixtures: Fixtures

    init() async throws {
        world = try await TestWorld()
        fixtures = Fixtures(world: world, staff: try await world.seedReferenceData())
    }

    func write(_ lines: [String]) throws -> URL {
        let url = world.directory.file("persons-\(UUID().uuidString).csv")
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        return url
    }

    func run(_ url: URL) async throws -> (PersonImporter.Report, String) {
        let report = url.appendingPathExtension("errors.csv")
        let result = try await PersonImporter(world.env).run(
            path: url.path, errorReport: report, actor: .commandLine("import"), batchSize: 2)
        return (result, try String(contentsOf: report, encoding: .utf8))
    }

    @Test("good rows are imported, bad rows reported per column and not written, a re-run adds nothing")
    func goodAndBadRows() async throws {
        let a = fixtures.newIDNumber(), b = fixtures.newIDNumber(), c = fixtures.newIDNumber()
        let header = "id_number,name,sex,household,phone,address,employer,social_insurance,rural_medical"
        let url = try write([
            header,
            "\(a),王小明,male,local,13805801234,\"舟山市定海区解放路1号, 2幢\",舟山港集团,true,false",
            "\(b),李秀英,male,nonlocal,,,,true,false",
            "360426199101010072,张伟,male,local,,,,true,false",
            "\(c),陈静,female,mars,,,,maybe,false",
            "\(fixtures.newIDNumber()),\"unclosed,male,local,,,,true,false",
        ])
        let (first, errors) = try await run(url)
        #expect(first.rowsRead == 5)
        #expect(first.inserted == 2 && first.invalid == 3, "\(first) \(errors)")
        let lines = errors.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.first == "line,column,reason")
        #expect(lines.contains { $0.hasPrefix("4,id_number,check character does not match") })
        #expect(lines.contains { $0.hasPrefix("5,household,") })
        #expect(lines.contains { $0.hasPrefix("5,social_insurance,") })
        #expect(lines.contains { $0.hasPrefix("6,") })
        #expect(!errors.contains("360426199101010072") && !errors.contains("mars"), "the report never repeats values")
        #expect(try await world.store.personCount() == 2)
        let (second, _) = try await run(url)
        #expect(second.inserted == 0 && second.unchanged == 2 && second.invalid == 3)
        #expect(try await world.store.personCount() == 2)
        let registry = RegistryService(world.env)
        let person = try await registry.lookup(idNumber: a, reveal: true, purpose: "test", actor: fixtures.staff.clerk)
        #expect(person.name == "王小明" && person.address == "舟山市定海区解放路1号, 2幢" && person.changeSource == .bulkImport)
        #expect(try await world.store.auditEntries(AuditFilter(action: "person.import"), limit: 10).count >= 2)
        #expect(try await world.store.verifyAuditChain().isIntact)
    }

    @Test("a registered person with different data is reported and left unchanged")
    func differingRow() async throws {
        let resident = try await fixtures.resident(name: "周建国", photo: false)
        let url = try write([
            "name,id_number,sex,household,phone,address,employer,social_insurance,rural_medical",
            "周建华,\(resident.idNumber),\(resident.person.sex.rawValue),local,,,,true,false",
        ])
        let (report, errors) = try await run(url)
        #expect(report.differing == 1 && report.inserted == 0)
        #expect(errors.contains("2,id_number,already registered with different data"))
        let person = try await RegistryService(world.env).read(
            resident.person.id, reveal: true, purpose: "test", actor: fixtures.staff.clerk)
        #expect(person.name == "周建国" && person.version == resident.person.version)
    }

    @Test("a header without a required column stops the import before any row")
    func badHeader() async throws {
        let url = try write(["id_number,name,sex", "\(fixtures.newIDNumber()),王小明,male"])
        await #expect(throws: PersonImporter.Failure.self) { try await run(url) }
        #expect(try await world.store.personCount() == 0)
    }
}

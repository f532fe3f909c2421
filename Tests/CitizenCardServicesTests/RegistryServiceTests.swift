import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

@Suite("Population registry")
struct RegistryServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var registry: RegistryService { fixtures.registry }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func error(_ body: () async throws -> some Any) async -> CitizenCardError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return (error as? CitizenCardError) ?? CitizenCardError(.internal)
        }
    }

    func code(of body: () async throws -> some Any) async -> CitizenCardError.Code? {
        await error(body)?.code
    }

    @Test("registration validates the ID number with the reason and refuses a second registration (R-01, R-02)")
    func registration() async throws {
        let number = fixtures.newIDNumber()
        let view = try await registry.register(
            .init(
                idNumber: number.lowercased(), name: " 王小明 ", sex: .male, household: .local, socialInsurance: true,
                ruralMedical: false),
            actor: staff.clerk)
        #expect(view.masked && view.name == "王*明" && view.idNumber == Masking.residentID(number))
        #expect(view.version == 1 && view.changedBy == "clerk" && view.changeSource == .outlet)
        #expect(
            await code {
                try await registry.register(
                    .init(idNumber: number, name: "x", household: .local, socialInsurance: false, ruralMedical: false),
                    actor: staff.clerk)
            } == .personExists)
        let invalid = await error {
            try await registry.register(
                .init(
                    idNumber: "360426199101010072", name: "x", household: .local, socialInsurance: false,
                    ruralMedical: false),
                actor: staff.clerk)
        }
        #expect(invalid?.code == .invalidResidentID)
        #expect(invalid?.detail == "check character does not match (expected 1)")
        #expect(invalid?.field == "idNumber")
        #expect(
            await code {
                try await registry.register(
                    .init(
                        idNumber: fixtures.newIDNumber(), name: "x", sex: .female, household: .local,
                        socialInsurance: false, ruralMedical: false), actor: staff.clerk)
            } == .invalidField)
        #expect(
            await code {
                try await registry.register(
                    .init(
                        idNumber: fixtures.newIDNumber(), name: "", household: .local, socialInsurance: false,
                        ruralMedical: false), actor: staff.clerk)
            } == .invalidField)
        #expect(
            await code {
                try await registry.register(
                    .init(
                        idNumber: fixtures.newIDNumber(), name: "x", phone: "call me", household: .local,
                        socialInsurance: false, ruralMedical: false), actor: staff.clerk)
            } == .invalidField)
        #expect(
            await code {
                try await registry.register(
                    .init(
                        idNumber: fixtures.newIDNumber(), name: "x", household: .local, socialInsurance: false,
                        ruralMedical: false), actor: staff.admin)
            } == .forbidden)
        #expect(try await world.store.personCount() == 1)
    }

    @Test("every correction is a new version with who, when, why and source (R-01)")
    func versionedHistory() async throws {
        let resident = try await fixtures.resident(photo: false)
        world.clock.advance(seconds: 60)
        var correction = RegistryService.Correction(reason: "moved house")
        correction.address = "浙江省舟山市普陀区沈家门街道1号"
        correction.expectedVersion = 1
        let second = try await registry.correct(resident.person.id, correction, actor: staff.supervisor)
        #expect(second.version == 2 && second.changeReason == "moved house" && second.changedBy == "supervisor")
        #expect(
            await code { try await registry.correct(resident.person.id, correction, actor: staff.clerk) } == .conflict)
        correction.expectedVersion = nil
        #expect(
            await code { try await registry.correct(resident.person.id, correction, actor: staff.clerk) }
                == .invalidField, "a correction that changes nothing")
        #expect(
            await code { try await registry.correct(resident.person.id, .init(reason: " "), actor: staff.clerk) }
                == .invalidField)
        let history = try await registry.history(
            resident.person.id, reveal: true, purpose: "check history", actor: staff.clerk)
        #expect(history.map(\.version) == [1, 2])
        #expect(history[0].address == "浙江省舟山市定海区解放路1号" && history[1].address == "浙江省舟山市普陀区沈家门街道1号")
        #expect(history[1].changedAt == world.clock.now())
        let audit = try await world.store.auditEntries(AuditFilter(action: "person.correct"), limit: 5)
        #expect(audit.first?.draft.detail.contains("address") == true)
        #expect(audit.first?.draft.detail.contains("沈家门") == false, "the audit log names fields, not values")
    }

    @Test("a change of ID number moves the blind index")
    func idNumberChange() async throws {
        let resident = try await fixtures.resident(photo: false)
        let newNumber = fixtures.newIDNumber()
        var correction = RegistryService.Correction(reason: "ID number corrected by public security bureau")
        correction.idNumber = newNumber
        _ = try await registry.correct(resident.person.id, correction, actor: staff.clerk)
        #expect(
            try await registry.lookup(
                idNumber: newNumber, reveal: true, purpose: "check the change", actor: staff.clerk
            )
            .socialSecurityNumber == newNumber)
        #expect(
            await code {
                try await registry.lookup(idNumber: newNumber, reveal: true, purpose: nil, actor: staff.clerk)
            }
                == .invalidField, "unmasked data only for a stated purpose")
        #expect(
            await code {
                try await registry.lookup(idNumber: resident.idNumber, reveal: false, purpose: nil, actor: staff.clerk)
            } == .notFound)
        let other = try await fixtures.resident(photo: false)
        var clash = RegistryService.Correction(reason: "typo")
        clash.idNumber = other.idNumber
        #expect(
            await code { try await registry.correct(resident.person.id, clash, actor: staff.clerk) } == .personExists)
    }

    @Test("every read of personal data is audited with its purpose; revealing needs the role (R-41, R-42)")
    func auditedReads() async throws {
        let resident = try await fixtures.resident(photo: false)
        let before = try await world.store.auditEntries(AuditFilter(personID: resident.person.id), limit: 100).count
        let masked = try await registry.lookup(
            idNumber: resident.idNumber, reveal: false, purpose: nil, actor: staff.admin)
        #expect(masked.masked && masked.phone == "138****1234" && masked.birthDate.count == 4)
        #expect(
            await code { try await registry.read(resident.person.id, reveal: true, purpose: nil, actor: staff.admin) }
                == .forbidden)
        let full = try await registry.read(
            resident.person.id, reveal: true, purpose: "identity check at counter", actor: staff.clerk)
        #expect(!full.masked && full.name == resident.name && full.idNumber == resident.idNumber)
        let entries = try await world.store.auditEntries(AuditFilter(personID: resident.person.id), limit: 100)
        #expect(entries.count == before + 2)
        #expect(
            entries[0].draft.action == "person.read" && entries[0].draft.purpose == "identity check at counter"
                && entries[0].draft.actor == "clerk")
        #expect(entries[0].draft.detail == #"{"revealed":true}"#)
        #expect(entries[1].draft.action == "person.lookup" && entries[1].draft.purpose == "counter service")
    }

    @Test("photos must be JPEG or PNG by their bytes, at most 2 MiB; reading one is audited")
    func photos() async throws {
        let resident = try await fixtures.resident(photo: false)
        #expect(
            await code {
                try await registry.storePhoto(resident.person.id, bytes: Data("GIF89a".utf8), actor: staff.clerk)
            } == .invalidPhoto)
        var truncated = Fixtures.png
        truncated.removeLast(12)
        #expect(
            await code { try await registry.storePhoto(resident.person.id, bytes: truncated, actor: staff.clerk) }
                == .invalidPhoto)
        #expect(
            await code {
                try await registry.storePhoto(
                    resident.person.id, bytes: Fixtures.png.prefix(8) + Data(repeating: 0, count: 64),
                    actor: staff.clerk)
            } == .invalidPhoto)
        #expect(
            await code {
                try await registry.storePhoto(
                    resident.person.id, bytes: Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00]), actor: staff.clerk)
            } == .invalidPhoto)
        var big = Data([0xFF, 0xD8, 0xFF, 0xE0])
        big.append(Data(repeating: 0, count: RegistryService.photoSizeMax))
        #expect(
            await code { try await registry.storePhoto(resident.person.id, bytes: big, actor: staff.clerk) }
                == .invalidPhoto)
        let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0xFF, 0xD9])
        let view = try await registry.storePhoto(resident.person.id, bytes: jpeg, actor: staff.clerk)
        #expect(view.hasPhoto && view.version == 2)
        let photo = try await registry.photo(resident.person.id, purpose: "print receipt", actor: staff.clerk)
        #expect(photo.mediaType == "image/jpeg" && photo.bytes == jpeg)
        #expect(try await world.store.auditEntries(AuditFilter(action: "person.photo.read"), limit: 5).count == 1)
    }
}

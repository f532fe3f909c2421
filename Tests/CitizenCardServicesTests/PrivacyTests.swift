import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import DataProtection
import Testing

/// personal data is encrypted at rest and never written to a log line.
@Suite("Personal data protection")
struct PrivacyTests {
    @Test("after a whole lifecycle, neither the logs nor the stored database contain a name or an ID number")
    func noPersonalDataInLogsOrFile() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        var residents: [Fixtures.Resident] = []
        for name in ["欧阳明华", "司马相如", "诸葛孔明"] {
            let (resident, card) = try await fixtures.activeCard(for: try await fixtures.resident(name: name))
            residents.append(resident)
            _ = try await fixtures.cards.reportWrittenLoss(
                card.id, identity: fixtures.identity(resident), actor: staff.clerk)
            let reissued = try await fixtures.cards.reissue(
                card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
            _ = try await fixtures.produceAndDeliver(try #require(reissued.newCard))
            _ = try await fixtures.registry.lookup(
                idNumber: resident.idNumber, reveal: true, purpose: "test", actor: staff.clerk)
        }
        _ = try? await fixtures.registry.lookup(
            idNumber: residents[0].idNumber + "0", reveal: false, purpose: nil, actor: staff.clerk)
        _ = try await AuthService(world.env).login(username: "clerk", password: TestWorld.password)
        _ = try? await AuthService(world.env).login(username: "clerk", password: "wrong password")
        try await world.store.close()
        let raw = try world.backend.rawContents(url: world.databaseURL)
        #expect(raw.count > 10_000)
        let logs = world.logs.text
        #expect(!logs.isEmpty)
        for resident in residents {
            for secret in [
                resident.name, resident.idNumber, String(resident.idNumber.prefix(14)), "13805801234", "解放路",
            ] {
                #expect(raw.range(of: Data(secret.utf8)) == nil, "the database file holds a personal value in clear")
                #expect(!logs.contains(secret), "a log line holds a personal value")
            }
        }
    }

    @Test("sealed data names its key, does not open in another row, and survives a key rotation")
    func sealingAndRotation() async throws {
        let world = try await TestWorld()
        let details = PersonalDetails(residentID: try ResidentID.parse("360426199101010071").get(), name: "王小明")
        let vault = world.env.vault
        let id = Person.ID(rawValue: "00000000-0000-7000-8000-0000000000aa")
        let other = Person.ID(rawValue: "00000000-0000-7000-8000-0000000000bb")
        let sealed = try vault.seal(details, personID: id)
        #expect(try vault.open(sealed, personID: id) == details)
        #expect(throws: (any Error).self) { try vault.open(sealed, personID: other) }
        let rotated = PersonVault(keyRing: world.keyRing.rotated(createdAt: "later"))
        #expect(try rotated.open(sealed, personID: id) == details, "old data opens with the key it names")
        let resealed = try rotated.seal(details, personID: id)
        #expect(resealed != sealed)
        #expect(try rotated.open(resealed, personID: id) == details)
        #expect(throws: (any Error).self) { try vault.open(resealed, personID: id) }
        #expect(
            vault.indexOf(details.residentID) == rotated.indexOf(details.residentID),
            "the blind index key does not rotate with data keys")
    }
}

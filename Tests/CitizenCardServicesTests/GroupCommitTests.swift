import CitizenCardDomain
@testable import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// Grouped commits (`GroupCommit`): concurrent department requests share transactions, each is
/// answered only once its own writes are stored, and a set that cannot be stored fails alone.
@Suite("Group commit")
struct GroupCommitTests {
    @Test("100 concurrent card checks: every disclosure and audit entry stored, the chain intact")
    func concurrentChecks() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let psb = try await fixtures.department()
        let (resident, card) = try await fixtures.activeCard()
        let purpose = try Fixtures.purpose()
        let service = DisclosureService(world.env)
        let answers = try await withThrowingTaskGroup(of: DisclosureService.CardCheck.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    try await service.check(
                        [.init(cardNumber: card.number, idNumber: resident.idNumber)], purpose: purpose,
                        actor: psb.actor)[0]
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 100 && answers.allSatisfy { $0.valid && $0.holderMatches == true })
        #expect(try await world.store.disclosures(personID: resident.person.id, limit: 500).count == 100)
        let entries = try await world.store.auditEntries(AuditFilter(personID: resident.person.id), limit: 1000)
        #expect(entries.filter { $0.draft.action == "card.check" }.count == 100)
        #expect(try await world.store.verifyAuditChain().firstBad == nil)
    }

    @Test("a set that breaks a rule fails alone; the others of its group are stored")
    func badSetFailsAlone() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let taken = try await fixtures.department(code: "PSB").department
        let groups = GroupCommit(groupMax: 64)
        let store = world.store
        let now = world.env.clock.now()
        func department(_ code: String) -> ChangeSet {
            var changes = ChangeSet()
            changes.add(
                .department(
                    .insertDepartment(
                        Department(
                            id: world.env.ids.make(), code: code, name: code, nameZh: code, kind: "health",
                            feedKinds: [], createdAt: now))))
            return changes
        }
        let outcomes = await withTaskGroup(of: (String, Bool).self) { group in
            for code in ["A1", "A2", taken.code, "A3", "A4"] {
                group.addTask {
                    do {
                        try await groups.commit(department(code), to: store)
                        return (code, true)
                    } catch {
                        return (code, false)
                    }
                }
            }
            return await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes == ["A1": true, "A2": true, "PSB": false, "A3": true, "A4": true])
        #expect(try await store.departments().map(\.code).sorted() == ["A1", "A2", "A3", "A4", "PSB"])
    }
}

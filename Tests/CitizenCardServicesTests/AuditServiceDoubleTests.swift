import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// A use case on a narrow store protocol (issue 17): the audit trail's answers when its store
/// fails or finds the chain broken, with a small double instead of a database made to fail.
@Suite("Audit service on a store double")
struct AuditServiceDoubleTests {
    /// An audit store that answers what it is given.
    struct AuditDouble: AuditStore {
        var entries: Result<[AuditEntry], StorageError> = .success([])
        var verification: Result<AuditVerification, StorageError>

        func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry] {
            try entries.get()
        }

        func verifyAuditChain() async throws(StorageError) -> AuditVerification { try verification.get() }
    }

    @Test("a database that does not answer: unavailable, and its reason logged, never sent")
    func unavailable() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let double = AuditDouble(
            entries: .failure(.unavailable(reason: "postgres 57P01 on host db-1")),
            verification: .failure(.unavailable(reason: "postgres 57P01 on host db-1")))
        let audit = AuditService(world.env, store: double)
        for attempt in 0..<2 {
            do {
                if attempt == 0 {
                    _ = try await audit.verify(actor: staff.admin)
                } else {
                    _ = try await audit.entries(AuditFilter(), limit: 10, actor: staff.admin)
                }
                Issue.record("a failing store must fail the use case")
            } catch {
                #expect(error.code == .unavailable)
                #expect(!String(describing: error).contains("db-1"))
            }
        }
        #expect(world.logs.text.contains("57P01"))
    }

    @Test("a broken chain is reported with its lane, sequence and problem in words")
    func broken() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let double = AuditDouble(
            verification: .success(
                AuditVerification(
                    entriesChecked: 41, firstBad: .init(lane: 3, sequence: 17, problem: .missingEntries(expected: 15)),
                    headHash: Data(repeating: 0xAB, count: 32))))
        let view = try await AuditService(world.env, store: double).verify(actor: staff.admin)
        #expect(!view.intact && view.entriesChecked == 41 && view.firstBadLane == 3 && view.firstBadSequence == 17)
        #expect(view.problem == "entries from 15 on are missing")
        #expect(view.headHash == String(repeating: "ab", count: 32))
        // The permission is still checked before the store is asked.
        await #expect(throws: CitizenCardError.self) {
            _ = try await AuditService(world.env, store: double).verify(actor: staff.clerk)
        }
    }
}

import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import PropertyBased
import Storage
import Testing

/// No text breaks the audit chain (issue 16): every operation that takes text is called with
/// generated text, every control character among it, past the HTTP edge; each either succeeds
/// with text the rule allows or refuses with `invalid_field`, and the chain checks afterwards.
/// Runs on the backend of `TestWorld` (SQLite, and PostgreSQL in CI).
@Suite("Hostile text")
struct HostileTextTests {
    static let scalar = Gen<Unicode.Scalar>.oneOf(
        Gen.unicodeScalar(in: "\u{0}"..."\u{9F}"),
        Gen.unicodeScalar(in: "\u{2000}"..."\u{206F}"),
        Gen.unicodeScalar(in: "\u{4E00}"..."\u{4EFF}"),
        Gen.unicodeScalar(in: "a"..."z"),
        Gen.unicodeScalar(in: Unicode.Scalar(0xFDD0)!...Unicode.Scalar(0xFFFF)!)
    )
    static let text = scalar.array(of: 1...12).map { String(String.UnicodeScalarView($0)) }

    struct Outcome {
        var succeeded = 0
        var refused = 0
        var problems: [String] = []

        mutating func record(
            _ label: String, _ text: String, kind: TextRule.Kind, _ body: () async throws -> Void
        ) async {
            do {
                try await body()
                succeeded += 1
                if TextRule.violation(in: text.trimmingSpaces, kind: kind) != nil {
                    problems.append("\(label) stored \(text.unicodeScalars.map { String($0.value, radix: 16) })")
                }
            } catch let error as CitizenCardError {
                refused += 1
                if [.internal, .unavailable, .conflict].contains(error.code) {
                    problems.append("\(label): \(error)")
                }
            } catch {
                problems.append("\(label): \(error)")
            }
        }
    }

    @Test("every operation with generated text; the chain verifies after")
    func everyOperation() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let registry = RegistryService(world.env)
        let cards = CardService(world.env)
        let administration = AdministrationService(world.env)
        let acquiring = AcquiringService(world.env)
        let portal = PortalService(world.env)
        let resident = try await fixtures.resident(photo: false)
        let merchant = try await acquiring.registerMerchant(
            .init(code: "BUS01", name: "Bus", commissionBasisPoints: 60), actor: staff.admin)
        var outcome = Outcome()
        var round = 0
        // A fixed seed: a failure here is reproduced by running the test again.
        var random = Xoshiro(seed: (16, 2026, 12, 6))
        let texts = (0..<40).map { _ in Self.text.run(using: &random) }
        for text in texts {
            round += 1
            await outcome.record("register", text, kind: .name) {
                _ = try await registry.register(
                    .init(
                        idNumber: fixtures.newIDNumber(), name: text, address: text, employer: text, household: .local,
                        socialInsurance: true, ruralMedical: false, reason: text), actor: staff.clerk)
            }
            await outcome.record("read purpose", text, kind: .line) {
                _ = try await registry.read(resident.person.id, reveal: false, purpose: text, actor: staff.clerk)
            }
            await outcome.record("lookup purpose", text, kind: .line) {
                _ = try await registry.lookup(
                    idNumber: resident.idNumber, reveal: true, purpose: text, actor: staff.clerk)
            }
            await outcome.record("correct", text, kind: .line) {
                var correction = RegistryService.Correction(reason: text)
                correction.address = "地址\(round)"
                _ = try await registry.correct(resident.person.id, correction, actor: staff.clerk)
            }
            await outcome.record("outlet", text, kind: .name) {
                _ = try await administration.addOutlet(
                    .init(code: "X\(round)", name: text, nameZh: "网点", regionCode: "330902", address: "定海"),
                    actor: staff.admin)
            }
            await outcome.record("operator", text, kind: .name) {
                _ = try await administration.addOperator(
                    .init(
                        username: "fuzz\(round)", displayName: text, role: .administrator, outletId: nil,
                        password: "a long enough password"), actor: staff.admin)
            }
            await outcome.record("merchant", text, kind: .name) {
                _ = try await acquiring.registerMerchant(
                    .init(code: "M\(round)", name: text, commissionBasisPoints: 60), actor: staff.admin)
            }
            await outcome.record("terminal", text, kind: .line) {
                let number = String(format: "%012X", 0xA000 + round)
                _ = try await acquiring.registerTerminal(
                    merchant: merchant.id,
                    .init(number: number, psamSerial: number, location: text, latitude: nil, longitude: nil),
                    actor: staff.admin)
            }
            await outcome.record("service", text, kind: .name) {
                _ = try await portal.publishService(
                    .init(
                        code: "SVC\(round)", name: text, nameZh: "服务", description: text, descriptionZh: "说明",
                        effectiveFrom: world.env.clock.now().calendarDate(offsetSeconds: 8 * 3600)),
                    actor: staff.admin)
            }
            if round % 8 == 0 {
                let (_, applied) = try await fixtures.application()
                await outcome.record("reject", text, kind: .line) {
                    _ = try await cards.verify(applied.id, decision: .reject, reason: text, actor: staff.supervisor)
                }
                let (holder, active) = try await fixtures.activeCard()
                await outcome.record("cancel", text, kind: .line) {
                    _ = try await cards.cancel(
                        active.id,
                        .init(
                            reason: .holderRequest, applicant: .holder, documentReference: text,
                            identity: fixtures.identity(holder)), actor: staff.clerk)
                }
            }
        }
        #expect(outcome.problems.isEmpty, "\(outcome.problems.joined(separator: "\n"))")
        #expect(
            outcome.refused > 0 && outcome.succeeded > 0, "refused \(outcome.refused), succeeded \(outcome.succeeded)")
        let verification = try await world.store.verifyAuditChain()
        #expect(verification.firstBad == nil, "\(String(describing: verification.firstBad))")
    }
}

/// The document reference of a cancellation is personal data (issue 16, R-41): sealed at rest,
/// masked in every view, revealed only for a purpose, audited.
@Suite("Cancellation documents")
struct CancellationDocumentTests {
    @Test("sealed at rest, masked in views, revealed with a purpose and audited")
    func sealedAndMasked() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let cards = CardService(world.env)
        let (holder, active) = try await fixtures.activeCard()
        let reference = "死亡证明 NO.3309021990010188"
        let result = try await cards.cancel(
            active.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: reference,
                identity: fixtures.identity(holder)),
            actor: staff.clerk)
        #expect(result.card.cancellation?.documentReference == Masking.documentReference(reference))
        let seen = try await cards.card(active.id, actor: staff.otherClerk)
        #expect(seen.cancellation?.documentReference == "**** **.************0188")
        let raw = try world.backend.rawContents(url: world.databaseURL)
        #expect(raw.range(of: Data("3309021990010188".utf8)) == nil, "the reference is not stored in clear")
        await #expect(throws: CitizenCardError.self) {
            _ = try await cards.cancellationDocument(active.id, purpose: "check", actor: staff.admin)
        }
        await #expect(throws: CitizenCardError.self) {
            _ = try await cards.cancellationDocument(active.id, purpose: nil, actor: staff.clerk)
        }
        let revealed = try await cards.cancellationDocument(active.id, purpose: "heir's claim", actor: staff.clerk)
        #expect(revealed.documentReference == reference)
        let entry = try await world.store.auditEntries(AuditFilter(action: "card.cancellation_document.read"), limit: 1)
        #expect(entry.first?.draft.purpose == "heir's claim" && entry.first?.draft.personID == holder.person.id)
    }

    @Test("references written in clear before sealing are sealed once at start and still revealed")
    func legacy() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let cards = CardService(world.env)
        let (_, active) = try await fixtures.activeCard()
        // The old way: the reference in clear on the card, nothing sealed.
        let stored = try #require(try await world.store.card(id: active.id))
        let cancellation = Cancellation(
            reason: .holderRequest, applicant: .holder, relationship: nil, documentReference: "330902199001010010",
            at: world.clock.now())
        let (cancelled, event) = try stored.applying(
            .cancel(cancellation), context: LifecycleContext(now: world.clock.now(), actor: "clerk", outletID: nil))
        var changes = ChangeSet()
        changes.add(.updateCard(cancelled, expectedVersion: stored.version))
        changes.add(.appendCardEvent(event))
        try await world.store.commit(changes)
        #expect(try await cards.sealLegacyCancellationDocuments() == 1)
        #expect(try await cards.sealLegacyCancellationDocuments() == 0)
        #expect(
            try await cards.card(active.id, actor: staff.clerk).cancellation?.documentReference == "**************0010")
        let revealed = try await cards.cancellationDocument(active.id, purpose: "audit", actor: staff.clerk)
        #expect(revealed.documentReference == "330902199001010010")
        #expect(try await world.store.verifyAuditChain().isIntact)
    }
}

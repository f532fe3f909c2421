import CitizenCardDomain
import CitizenCardTesting
import DataProtection
import Foundation
import Storage
import Testing

/// What no text can do to the store (issue 16): break the audit chain; and the sealed document
/// references of cancellations.
extension StorageContractTests {
    /// Every C0 and C1 control character, DEL, bidirectional controls, noncharacters, NUL.
    static let hostileText: String = {
        var scalars = (0x00...0x9F).map { Unicode.Scalar(UInt32($0))! }
        scalars += [
            "\u{202E}", "\u{2066}", "\u{200B}", "\u{FEFF}", Unicode.Scalar(0xFFFF)!, Unicode.Scalar(0xFDD0)!,
            Unicode.Scalar(0x10FFFF)!, "😀", "王",
        ]
        return String(String.UnicodeScalarView(scalars))
    }()

    @Test("audit entries with any text, NUL included, keep the chain intact", arguments: Backend.allCases)
    func hostileAuditText(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, _) = try await seeded(store)
        let text = Self.hostileText
        for round in 0..<3 {
            var changes = ChangeSet()
            changes.record(
                AuditDraft(
                    at: t0.adding(seconds: Int64(round)), actor: "clerk\(text)", action: "fuzz.\(text)",
                    subject: "person:\(person.id)\(text)", personID: round == 0 ? person.id : nil,
                    purpose: text, detail: #"{"x":"\#(text)"}"#))
            try await store.commit(changes)
        }
        #expect(try await store.verifyAuditChain().isIntact)
        let entries = try await store.auditEntries(AuditFilter(), limit: 10)
        #expect(entries.count == 3)
        let expected = text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
        #expect(entries.allSatisfy { $0.draft.purpose == expected }, "stored as hashed: NUL replaced, nothing cut")
    }

    @Test(
        "a cancellation's document reference: sealed apart, masked on the card, legacy text sealed once",
        arguments: Backend.allCases)
    func cancellationDocuments(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        var card = card(of: person, outlet: outlet, sequence: 1)
        var insert = ChangeSet()
        insert.add(.insertCard(card))
        try await store.commit(insert)
        card = try await walk(card, through: toActive, in: store)
        // A cancellation written the old way: the reference in clear on the card.
        let cancellation = Cancellation(
            reason: .holderRequest, applicant: .holder, relationship: nil, documentReference: "330902199001010010",
            at: t0)
        card = try await walk(card, through: [.cancel(cancellation)], in: store)
        #expect(try await store.cardsWithUnsealedCancellationDocument(limit: 10).map(\.id) == [card.id])
        #expect(try await store.cancellationDocument(cardID: card.id) == nil)
        var seal = ChangeSet()
        seal.add(
            .sealLegacyCancellationDocument(cardID: card.id, masked: "**************0010", sealed: Data([1, 2, 3])))
        try await store.commit(seal)
        #expect(try await store.cancellationDocument(cardID: card.id) == Data([1, 2, 3]))
        let stored = try #require(try await store.card(id: card.id))
        #expect(stored.cancellation?.documentReference == "**************0010")
        #expect(stored.version == card.version, "sealing does not change the card")
        #expect(try await store.cardsWithUnsealedCancellationDocument(limit: 10).isEmpty)
        var again = ChangeSet()
        again.add(.sealLegacyCancellationDocument(cardID: card.id, masked: "other", sealed: Data([9])))
        try await store.commit(again)
        #expect(try await store.cancellationDocument(cardID: card.id) == Data([1, 2, 3]), "sealed once")
        #expect(try await store.card(id: card.id)?.cancellation?.documentReference == "**************0010")
        var duplicate = ChangeSet()
        duplicate.add(.insertCancellationDocument(cardID: card.id, sealed: Data([7])))
        await #expect(throws: StorageError.self) { try await store.commit(duplicate) }
    }

    @Test("PostgreSQL refuses a NUL in stored text as an invalid value, not as an outage")
    func nulRefusedAsData() async throws {
        guard Backend.allCases.contains(.postgres) else { return }
        let directory = TemporaryDirectory()
        let store = try await Backend.postgres.makeStore(in: directory)
        var changes = ChangeSet()
        var hall = outlet("DH09")
        hall.name = "Hall\u{0}"
        changes.add(.insertOutlet(hall))
        do {
            try await store.commit(changes)
            Issue.record("stored a NUL")
        } catch {
            #expect(error == .invalidValue, "\(error)")
        }
    }
}

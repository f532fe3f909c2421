import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// The portal tables as both backends keep them (docs/portal.md): guarded updates, sessions ended
/// by card, unique rules.
@Suite("Portal store contract")
struct PortalStoreTests {
    let ids = SequentialIDs()
    let t0 = Timestamp(iso8601: "2026-03-02T09:00:00+08:00")!

    /// A person with an application card (enough for the foreign keys).
    func seeded(_ store: any CitizenCardStore) async throws -> Card {
        let person = SealedPerson(
            id: Person.ID(rawValue: ids.next()), idIndex: Data(repeating: 1, count: 16),
            fingerprint: Data(repeating: 2, count: 16), details: Data([1, 2, 3]),
            attributes: PersonAttributes(household: .local, socialInsurance: true, ruralMedical: false), version: 1,
            provenance: Provenance(actor: "clerk", at: t0, reason: "registration", source: .outlet), createdAt: t0)
        let outlet = Outlet(
            id: Outlet.ID(rawValue: ids.next()), code: "DH01", name: "Hall", nameZh: "大厅", regionCode: "330902",
            address: "定海")
        let card = Card(
            id: Card.ID(rawValue: ids.next()), personID: person.id, kind: .application,
            number: CardNumbering.cardNumber(prefix: "3309", sequence: 1),
            asn: CardNumbering.asn(prefix: "3309", sequence: 1), channel: .individual, outletID: outlet.id,
            predecessorID: nil, at: t0)
        var changes = ChangeSet()
        changes.add(.insertPerson(person))
        changes.add(.insertOutlet(outlet))
        changes.add(.insertCard(card))
        try await store.commit(changes)
        return card
    }

    func commit(_ store: any CitizenCardStore, _ change: ChangeSet.Change) async throws {
        var changes = ChangeSet()
        changes.add(change)
        try await store.commit(changes)
    }

    @Test("a credential reads back as written; a stale update is a conflict", arguments: Backend.allCases)
    func credentials(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = try await seeded(store)
        #expect(try await store.queryCredential(cardID: card.id) == nil)
        let first = QueryCredential(cardID: card.id, passwordHash: "$2b$04$x", changedAt: t0, changedBy: "clerk")
        try await commit(store, .insertQueryCredential(first))
        #expect(try await store.queryCredential(cardID: card.id) == first)
        await #expect(throws: StorageError.duplicate(.queryCredential)) {
            try await commit(store, .insertQueryCredential(first))
        }
        let failed = first.failing(at: t0)
        try await commit(store, .updateQueryCredential(failed, expectedVersion: first.version))
        await #expect(throws: StorageError.conflict(entity: "query password")) {
            try await commit(store, .updateQueryCredential(first.failing(at: t0), expectedVersion: first.version))
        }
        var locked = failed
        for _ in 1..<PortalPolicy.failuresMax { locked = locked.failing(at: t0) }
        try await commit(store, .updateQueryCredential(locked, expectedVersion: failed.version))
        let stored = try #require(try await store.queryCredential(cardID: card.id))
        #expect(stored == locked && stored.isLocked(at: t0) && stored.failedAttempts == 0)
        try await store.close()
    }

    @Test(
        "sessions: read by token hash, ended one by one, by card keeping one, and when expired",
        arguments: Backend.allCases)
    func sessions(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = try await seeded(store)
        let hashes: [[UInt8]] = (1...4).map { [UInt8](repeating: $0, count: 32) }
        for (index, hash) in hashes.enumerated() {
            try await commit(
                store,
                .insertPortalSession(
                    PortalSession(
                        tokenHash: hash, cardID: card.id, personID: card.personID, createdAt: t0,
                        expiresAt: t0.adding(seconds: Int64(index) * 100))))
        }
        #expect(try await store.portalSession(tokenHash: hashes[2])?.expiresAt == t0.adding(seconds: 200))
        try await commit(store, .deleteExpiredPortalSessions(cardID: card.id, at: t0))
        #expect(try await store.portalSession(tokenHash: hashes[0]) == nil)
        try await commit(store, .deletePortalSession(tokenHash: hashes[1]))
        #expect(try await store.portalSession(tokenHash: hashes[1]) == nil)
        try await commit(store, .deletePortalSessions(cardID: card.id, keeping: hashes[3]))
        #expect(try await store.portalSession(tokenHash: hashes[2]) == nil)
        #expect(try await store.portalSession(tokenHash: hashes[3]) != nil)
        try await commit(store, .deletePortalSessions(cardID: card.id, keeping: nil))
        #expect(try await store.portalSession(tokenHash: hashes[3]) == nil)
        try await store.close()
    }

    @Test("catalogue entries and activations: codes and activations are unique", arguments: Backend.allCases)
    func catalogue(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = try await seeded(store)
        let day = t0.calendarDate()
        let pool = CatalogueEntry(
            code: "swimming-pool", name: "Pool", nameZh: "游泳馆", description: "d", descriptionZh: "说明",
            effectiveFrom: day, publishedAt: t0, publishedBy: "admin")
        var library = pool
        library.code = "library"
        try await commit(store, .insertCatalogueEntry(pool))
        try await commit(store, .insertCatalogueEntry(library))
        await #expect(throws: StorageError.duplicate(.serviceCode)) {
            try await commit(store, .insertCatalogueEntry(library))
        }
        #expect(try await store.catalogueEntries().map(\.code) == ["library", "swimming-pool"])
        var withdrawn = pool
        withdrawn.withdrawnAt = t0.adding(seconds: 60)
        withdrawn.withdrawnBy = "admin"
        withdrawn.version = 2
        try await commit(store, .updateCatalogueEntry(withdrawn, expectedVersion: 1))
        #expect(try await store.catalogueEntry(code: "swimming-pool") == withdrawn)
        await #expect(throws: StorageError.conflict(entity: "catalogue entry")) {
            try await commit(store, .updateCatalogueEntry(withdrawn, expectedVersion: 1))
        }
        let activation = ServiceActivation(
            id: ServiceActivation.ID(rawValue: ids.next()), cardID: card.id, personID: card.personID,
            serviceCode: "library", activatedAt: t0)
        try await commit(store, .insertServiceActivation(activation))
        var again = activation
        again.id = ServiceActivation.ID(rawValue: ids.next())
        await #expect(throws: StorageError.duplicate(.serviceActivation)) {
            try await commit(store, .insertServiceActivation(again))
        }
        #expect(try await store.serviceActivations(cardID: card.id) == [activation])
        try await store.close()
    }
}

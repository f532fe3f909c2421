import CitizenCardDomain
import CitizenCardTesting
import Storage
import Testing

/// The hotlist's versions, entries and deltas, the same on both backends (the reads are written
/// once since issue 17; a delta with removed cards once failed on PostgreSQL only).
@Suite("Hotlist store contract")
struct HotlistStoreTests {
    let t0 = Timestamp(secondsSinceEpoch: 1_790_000_000)

    func publish(_ store: any CitizenCardStore, _ publication: HotlistPublication) async throws {
        var changes = ChangeSet()
        changes.add(.publishHotlist(publication))
        try await store.commit(changes)
    }

    @Test("versions, entries and deltas: added, re-reasoned and removed cards", arguments: Backend.allCases)
    func deltas(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        #expect(try await store.hotlistVersion().version == 0)
        try await publish(
            store,
            HotlistPublication(
                version: 1, publishedAt: t0,
                added: [
                    HotlistRow(asn: "B2", reason: 1), HotlistRow(asn: "A1", reason: 1),
                    HotlistRow(asn: "a0", reason: 2),
                ],
                removed: []))
        try await publish(
            store,
            HotlistPublication(
                version: 2, publishedAt: t0.adding(seconds: 60), added: [HotlistRow(asn: "B2", reason: 3)],
                removed: ["A1", "a0"]))
        let (version, publishedAt) = try await store.hotlistVersion()
        #expect(version == 2 && publishedAt == t0.adding(seconds: 60))
        #expect(try await store.hotlistEntries() == [HotlistRow(asn: "B2", reason: 3)])
        let sinceFirst = try await store.hotlistChanges(since: 1)
        #expect(sinceFirst.added == [HotlistRow(asn: "B2", reason: 3)])
        // Byte order on both backends: upper case before lower case.
        #expect(sinceFirst.removed == ["A1", "a0"])
        let sinceStart = try await store.hotlistChanges(since: 0)
        #expect(sinceStart.added == [HotlistRow(asn: "B2", reason: 3)] && sinceStart.removed.isEmpty)
        // A version that is not one past the stored one is refused, and nothing changes.
        await #expect(throws: StorageError.conflict(entity: "hotlist")) {
            try await publish(
                store,
                HotlistPublication(version: 2, publishedAt: t0, added: [HotlistRow(asn: "C", reason: 1)], removed: []))
        }
        #expect(try await store.hotlistVersion().version == 2)
    }
}

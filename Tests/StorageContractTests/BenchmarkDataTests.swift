import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// The benchmarks drop what they wrote (`bench ingest`, `bench clearing`, `bench lifecycle`), and
/// only that: on PostgreSQL a store's own schema when it is a benchmark's (`bench_…`).
@Suite("Benchmark data")
struct BenchmarkDataTests {
    let merchant = Merchant(
        id: .init(rawValue: "m-bench"), code: "BENCH", name: "Bench", commissionBasisPoints: 0,
        createdAt: Timestamp(secondsSinceEpoch: 1_790_000_000))

    /// A store at `url` holding one merchant.
    func store(_ backend: Backend, url: String) async throws -> any CitizenCardStore {
        let store = try await backend.makeStore(url: url)
        var changes = ChangeSet()
        changes.add(.insertMerchant(merchant))
        try await store.commit(changes)
        return store
    }

    @Test("a store that is not a benchmark's keeps everything", arguments: Backend.allCases)
    func kept(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, url: backend.freshURL(in: directory))
        try await #require(store as? any PurchaseInsertBaseline).dropBenchmarkData()
        #expect(try await store.merchants() == [merchant])
        try await store.close()
    }

    @Test("a benchmark's schema is dropped with everything in it")
    func dropped() async throws {
        guard let base = Backend.postgresURL else { return }
        let schema = "bench_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let store = try await store(.postgres, url: base + (base.contains("?") ? "&" : "?") + "schema=\(schema)")
        try await #require(store as? any PurchaseInsertBaseline).dropBenchmarkData()
        await #expect(throws: StorageError.self) { try await store.merchants() }
        try await store.close()
    }
}

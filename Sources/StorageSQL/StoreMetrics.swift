package import Storage
package import Metrics

/// What the stores report to the metrics system (`/metrics` when the server runs): commits by
/// outcome, commit latency, transactions in flight, and the pool's size. Cheap when no metrics
/// backend is bootstrapped.
package struct StoreMetrics: Sendable {
    package let backend: String
    package let inFlight: Meter
    package let duration: Timer

    package init(backend: String) {
        self.backend = backend
        inFlight = Meter(label: "citizencard_db_transactions_in_flight", dimensions: [("backend", backend)])
        duration = Timer(label: "citizencard_db_commit_duration_seconds", dimensions: [("backend", backend)])
    }

    /// Times `body` as one commit and counts its outcome.
    package func commit<T>(_ body: () async throws(StorageError) -> T) async throws(StorageError) -> T {
        inFlight.increment()
        let start = ContinuousClock.now
        defer {
            inFlight.decrement()
            let elapsed = ContinuousClock.now - start
            duration.recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        }
        do {
            let result = try await body()
            count("ok")
            return result
        } catch {
            count(Self.outcome(error))
            throw error
        }
    }

    package func count(_ outcome: String) {
        Counter(label: "citizencard_db_commits_total", dimensions: [("backend", backend), ("outcome", outcome)])
            .increment()
    }

    package static func outcome(_ error: StorageError) -> String {
        switch error {
        case .conflict: "conflict"
        case .duplicate: "duplicate"
        case .ledger: "ledger"
        case .invalidValue: "invalid_value"
        case .unavailable: "unavailable"
        case .corrupt: "corrupt"
        }
    }
}

import CitizenCardDomain
import Storage
import Synchronization

/// Commits that many requests make at the same moment, grouped: a request's change set joins
/// the next transaction and the request is answered once that transaction is durable (issue 18:
/// every department query and card check writes its disclosure and audit entry before it is
/// answered; one fsync for many of them keeps that cheap). If a grouped commit fails, each of
/// its change sets is committed again on its own, so that one bad set fails alone.
public final class GroupCommit: Sendable {
    struct Waiting {
        var changes: ChangeSet
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let state = Mutex<(queue: [Waiting], running: Bool)>(([], false))
    /// Change sets in one transaction at most.
    let groupMax: Int

    public init(groupMax: Int = 256) {
        self.groupMax = groupMax
    }

    /// Commits `changes` together with whatever else waits; returns when it is durable.
    func commit(_ changes: ChangeSet, to store: any CitizenCardStore) async throws(StorageError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let start = state.withLock { state -> Bool in
                    state.queue.append(Waiting(changes: changes, continuation: continuation))
                    guard !state.running else { return false }
                    state.running = true
                    return true
                }
                if start { Task { await self.drain(store) } }
            }
        } catch let error as StorageError {
            throw error
        } catch {
            throw .unavailable(reason: "group commit: \(error)")
        }
    }

    /// Commits what waits, group after group, until nothing does.
    private func drain(_ store: any CitizenCardStore) async {
        while true {
            let group = state.withLock { state -> [Waiting] in
                let taken = Array(state.queue.prefix(groupMax))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.running = false }
                return taken
            }
            if group.isEmpty { return }
            var merged = ChangeSet()
            for waiting in group {
                for change in waiting.changes.changes { merged.add(change) }
                for draft in waiting.changes.audit { merged.record(draft) }
            }
            do {
                try await store.commit(merged)
                for waiting in group { waiting.continuation.resume() }
            } catch {
                if group.count == 1 {
                    group[0].continuation.resume(throwing: error)
                    continue
                }
                for waiting in group {
                    do {
                        try await store.commit(waiting.changes)
                        waiting.continuation.resume()
                    } catch {
                        waiting.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}

extension ServiceEnvironment {
    /// `commit`, grouped with other requests' commits of the same moment (`GroupCommit`).
    func commitGrouped(_ changes: ChangeSet) async throws(CitizenCardError) {
        guard !changes.isEmpty else { return }
        do {
            try await groupCommit.commit(changes, to: store)
        } catch {
            throw translate(error)
        }
    }
}

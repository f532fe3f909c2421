public import CitizenCardDomain
import Storage
public import Foundation

/// The answer a request with an idempotency key got the first time, to send again.
public struct StoredAnswer: Sendable, Hashable {
    public var status: Int
    public var body: Data
}

extension ServiceEnvironment {
    /// The stored answer for `key`, nil when the key is new; `idempotencyKeyReused` when the
    /// key came before with another request (actor, route or body).
    public func storedAnswer(for key: IdempotencyKey) async throws(CitizenCardError) -> StoredAnswer? {
        guard let stored = try await fetch(try await store.idempotencyRecord(key: key.key)) else { return nil }
        guard stored.requestHash == Data(key.requestHash) else { throw CitizenCardError(.idempotencyKeyReused) }
        return StoredAnswer(status: stored.status, body: stored.response)
    }

    /// Answers when the database answers a trivial read (`/health`); `unavailable` otherwise.
    public func checkDatabase() async throws(CitizenCardError) {
        do {
            _ = try await store.setting("schema")
        } catch {
            throw CitizenCardError(.unavailable, "the database does not answer", retryAfterSeconds: 1)
        }
    }

    /// `postgres` or `sqlite`, for `/health`.
    public var backendName: String {
        String(describing: type(of: store)).contains("Postgres") ? "postgres" : "sqlite"
    }

    /// Audits a member of staff's read of a card's records (events, loads, purchases, receipts)
    /// before they are returned: who read whose, what, and why.
    func auditCardRead(
        _ card: Card, what: String, subject: String? = nil, actor: Actor
    ) async throws(CitizenCardError) {
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: clock.now(), actor: actor.name, action: "card.read_\(what)", subject: subject ?? "card:\(card.id)",
                personID: card.personID, purpose: "counter service"))
        try await commit(changes)
    }

    /// Commits a use case's outcome, turning storage failures into operating errors.
    /// Commits, with the notices to partner banks the changes cause (the bank outbox, issue 20).
    func commit(_ changes: ChangeSet) async throws(CitizenCardError) {
        let (changes, notices) = try await withBankNotices(changes)
        do {
            try await store.commit(changes)
        } catch {
            throw translate(error)
        }
        if notices > 0 { bankOutbox.kick() }
    }

    /// `changes` and the bank notices they cause, and how many; for use cases that commit
    /// through the store themselves.
    func withBankNotices(_ changes: ChangeSet) async throws(CitizenCardError) -> (ChangeSet, Int) {
        let drafts = try await BankService.noticeDrafts(for: changes, env: self)
        guard !drafts.isEmpty else { return (changes, 0) }
        var changes = changes
        for draft in drafts { changes.add(.banks(.enqueueNotice(draft))) }
        return (changes, drafts.count)
    }

    /// Runs a store read, turning storage failures into operating errors.
    func fetch<T>(_ body: @autoclosure () async throws(StorageError) -> T) async throws(CitizenCardError) -> T {
        do {
            return try await body()
        } catch {
            throw translate(error)
        }
    }

    /// `Self.translate`, logging why the database is unavailable: the reason (a driver's error
    /// type, an SQLSTATE) is for the operator's log, never for the client's answer.
    func translate(_ error: StorageError) -> CitizenCardError {
        if case .unavailable(let reason) = error {
            logger.warning("database unavailable", metadata: ["reason": "\(reason)"])
        }
        return Self.translate(error)
    }

    static func translate(_ error: StorageError) -> CitizenCardError {
        switch error {
        case .conflict(let entity):
            return CitizenCardError(.conflict, "the \(entity) was changed concurrently")
        case .duplicate(.personIDNumber):
            return CitizenCardError(.personExists, field: "idNumber")
        case .duplicate(.cardSlot):
            return CitizenCardError(.conflict, "the person's cards were changed concurrently")
        case .duplicate(.idempotencyKey):
            return CitizenCardError(.conflict, "a request with this idempotency key is being processed")
        case .duplicate(let rule):
            return CitizenCardError(.conflict, "duplicate \(rule.rawValue)")
        case .unavailable:
            return CitizenCardError(
                .unavailable, "the database is not available; try again shortly", zh: "数据库暂时不可用，请稍后重试",
                retryAfterSeconds: 1)
        case .invalidValue:
            return CitizenCardError(
                .invalidField, "a value cannot be stored: it holds a character that is not allowed",
                zh: "含有不允许的字符，无法保存")
        case .corrupt(let reason):
            return CitizenCardError(.internal, "stored data unreadable: \(reason)")
        case .ledger(let error):
            switch error.code {
            case .idConflict: return CitizenCardError(.idempotencyKeyReused, "ledger transfer id reused")
            case .purseBelowZero: return CitizenCardError(.insufficientBalance)
            case .purseAboveCap, .balanceAboveMaximum, .balanceBelowMinimum:
                return CitizenCardError(.balanceLimit)
            default: return CitizenCardError(.internal, "ledger: \(error.code.rawValue)")
            }
        }
    }
}

/// Stated by a client that wants its request applied once: the key and a hash of the request.
public struct IdempotencyKey: Hashable, Sendable {
    public var key: String
    public var requestHash: [UInt8]
    /// The HTTP status the first answer had (201 for a creation), replayed with it.
    public var status: Int

    public init(key: String, requestHash: [UInt8], status: Int = 200) {
        self.key = key
        self.requestHash = requestHash
        self.status = status
    }
}

import Crypto
public import Foundation

extension IdempotencyKey {
    /// Ties a client's key to who sent what where: the same key with another actor, route or
    /// body is a different request and is refused.
    public static func make(
        key: String, actor: String, method: String, path: String, body: some Sequence<UInt8>, status: Int = 200
    ) throws(CitizenCardError) -> IdempotencyKey {
        let trimmed = key.trimmingSpaces
        guard (1...100).contains(trimmed.utf8.count), trimmed.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw CitizenCardError.invalid("Idempotency-Key", "1-100 visible ASCII characters")
        }
        var hasher = SHA256()
        for part in [actor, method, path] {
            hasher.update(data: Data(part.utf8))
            hasher.update(data: [0])
        }
        hasher.update(data: Data(body))
        // Keys are scoped to the actor: two operators who happen to pick the same key do not collide.
        return IdempotencyKey(key: "\(actor):\(trimmed)", requestHash: Array(hasher.finalize()), status: status)
    }
}

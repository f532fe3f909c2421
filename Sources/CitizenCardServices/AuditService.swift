public import CitizenCardDomain
public import Storage

/// What an audit query selects, and where a page of it starts: the storage contract's types,
/// named here so that the HTTP module needs services only.
public typealias AuditFilter = Storage.AuditFilter
public typealias AuditCursor = Storage.AuditCursor

/// The audit trail: query it, and check its hash chain.
public struct AuditService: Sendable {
    let env: ServiceEnvironment
    /// The only part of the store this use case reads (issue 17: narrow protocols, so that a
    /// test can hand it a small double).
    let store: any AuditStore

    public init(_ env: ServiceEnvironment) { self.init(env, store: env.store) }

    /// The use case on `store` instead of the environment's whole store.
    public init(_ env: ServiceEnvironment, store: any AuditStore) {
        self.env = env
        self.store = store
    }

    public func entries(
        _ filter: AuditFilter, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [AuditEntryView] {
        try actor.require(.readAudit)
        return try await env.fetch(try await store.auditEntries(filter, limit: limit))
            .map(Self.view)
    }

    static func view(_ entry: AuditEntry) -> AuditEntryView {
        AuditEntryView(
            lane: entry.lane, sequence: entry.sequence, cursor: entry.cursor.description, at: entry.draft.at,
            actor: entry.draft.actor, action: entry.draft.action,
            subject: entry.draft.subject, personId: entry.draft.personID, purpose: entry.draft.purpose,
            detail: entry.draft.detail, hash: hexString(entry.hash))
    }

    public struct VerificationView: Codable, Hashable, Sendable {
        public var intact: Bool
        public var entriesChecked: Int64
        public var firstBadLane: Int?
        public var firstBadSequence: Int64?
        public var problem: String?
        public var headHash: String
    }

    public func verify(actor: Actor) async throws(CitizenCardError) -> VerificationView {
        try actor.require(.readAudit)
        return Self.view(
            try await env.fetch(try await store.verifyAuditChain()))
    }

    public static func view(_ result: AuditVerification) -> VerificationView {
        VerificationView(
            intact: result.isIntact, entriesChecked: result.entriesChecked, firstBadLane: result.firstBad?.lane,
            firstBadSequence: result.firstBad?.sequence,
            problem: result.firstBad.map { describe($0.problem) }, headHash: hexString(result.headHash))
    }

    public static func describe(_ problem: AuditVerification.Problem) -> String {
        switch problem {
        case .contentAltered: "its content does not match its hash (edited)"
        case .brokenLink: "it does not follow the entry before it (an entry was removed, inserted or reordered)"
        case .missingEntries(let expected): "entries from \(expected) on are missing"
        case .headMismatch: "the chain head does not match the last entry (entries removed from the end)"
        case .unknownLane: "it is in a lane the store does not have"
        }
    }
}

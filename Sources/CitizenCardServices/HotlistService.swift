public import CitizenCardDomain
public import Hotlist
import Storage

/// The versioned hotlist (R-17, issue 5 part 4; docs/hotlist.md): every card that must not be
/// used, published as numbered versions; terminals fetch the full list or the changes since the
/// version they hold, in the compact binary formats of the Hotlist module.
///
/// A new version is published when the cards' states differ from the newest version: by the
/// server's minute job and whenever `publish` is called. A version is never changed afterwards.
public struct HotlistService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Why a card in a state is listed, and whether a terminal should also block its application.
    static func listing(state: CardState, lost: Bool, blocked: Bool = false) -> (reason: HotlistReason, blocks: Bool)? {
        if blocked && state == .active { return (.blocked, false) }
        return switch state {
        case .preLost: (.preLost, false)
        case .lost: (.lost, true)
        // An old card after a reissue (it was lost) or a replacement (it was superseded).
        case .replaced: lost ? (.lost, true) : (.cancelled, true)
        case .cancelled: (.cancelled, true)
        case .expired: (.expired, false)
        default: nil
        }
    }

    static func entry(_ row: HotlistRow) -> HotlistEntry? {
        guard let asn = CardASN(hex: row.asn), let reason = HotlistReason(rawValue: UInt8(clamping: row.reason)) else {
            return nil
        }
        return HotlistEntry(asn: asn, reason: reason, blocksApplication: reason == .lost || reason == .cancelled)
    }

    public struct Publication: Codable, Sendable, Equatable {
        public var version: Int64
        public var added: Int
        public var removed: Int
        public var count: Int
    }

    /// Publishes a new version if any card joined, left or changed reason since the newest one;
    /// otherwise answers the newest version unchanged (added and removed 0).
    public func publish(actor: Actor) async throws(CitizenCardError) -> Publication {
        guard actor.role == nil || actor.role == .administrator else {
            throw CitizenCardError(.forbidden, "only the center publishes the hotlist")
        }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await publishOnce(actor: actor)
            } catch  where error.code == .conflict && attempt < 3 {
                continue
            }
        }
    }

    func publishOnce(actor: Actor) async throws(CitizenCardError) -> Publication {
        let (version, _) = try await env.fetch(try await env.store.hotlistVersion())
        var wanted: [String: Int64] = [:]
        for candidate in try await env.fetch(try await env.store.hotlistCandidates()) {
            guard let listing = Self.listing(state: candidate.state, lost: candidate.lost, blocked: candidate.blocked)
            else { continue }
            wanted[candidate.asn] = Int64(listing.reason.rawValue)
        }
        let current = Dictionary(
            try await env.fetch(try await env.store.hotlistEntries()).map { ($0.asn, $0.reason) },
            uniquingKeysWith: { first, _ in first })
        let added = wanted.filter { current[$0.key] != $0.value }.map { HotlistRow(asn: $0.key, reason: $0.value) }
            .sorted { $0.asn < $1.asn }
        let removed = current.keys.filter { wanted[$0] == nil }.sorted()
        guard !added.isEmpty || !removed.isEmpty else {
            return Publication(version: version, added: 0, removed: 0, count: current.count)
        }
        let now = env.clock.now()
        var changes = ChangeSet()
        changes.add(
            .publishHotlist(HotlistPublication(version: version + 1, publishedAt: now, added: added, removed: removed)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "hotlist.publish", subject: "hotlist:\(version + 1)",
                purpose: "card security",
                detail: #"{"added":\#(added.count),"removed":\#(removed.count),"count":\#(wanted.count)}"#))
        try await env.commit(changes)
        return Publication(version: version + 1, added: added.count, removed: removed.count, count: wanted.count)
    }

    /// The newest version as a full list.
    public func full(actor: Actor) async throws(CitizenCardError) -> Hotlist {
        try Self.requireReader(actor)
        // Read the version first: entries read afterwards are at least as new, never older.
        let (version, _) = try await env.fetch(try await env.store.hotlistVersion())
        let rows = try await env.fetch(try await env.store.hotlistEntries())
        do {
            return try Hotlist(version: UInt64(version), entries: rows.compactMap(Self.entry))
        } catch {
            throw CitizenCardError(.internal, "hotlist: \(error)")
        }
    }

    /// The newest version as a full list, with the time it was published (nil when a newer
    /// version was published between the two reads, or none ever was).
    public func current(actor: Actor) async throws(CitizenCardError) -> (hotlist: Hotlist, publishedAt: Timestamp?) {
        try Self.requireReader(actor)
        // The version's time first: the list read after it is of that version or a newer one.
        let (version, publishedAt) = try await env.fetch(try await env.store.hotlistVersion())
        let list = try await full(actor: actor)
        return (list, Int64(list.version) == version ? publishedAt : nil)
    }

    /// The changes from `since` to the newest version; nil when `since` is the newest.
    public func delta(since: Int64, actor: Actor) async throws(CitizenCardError) -> HotlistDelta? {
        try Self.requireReader(actor)
        let (version, _) = try await env.fetch(try await env.store.hotlistVersion())
        guard (0...version).contains(since) else {
            throw CitizenCardError.invalid("since", "0 to \(version), the newest published version")
        }
        guard since < version else { return nil }
        let (added, removed) = try await env.fetch(try await env.store.hotlistChanges(since: since))
        do {
            return try HotlistDelta(
                fromVersion: UInt64(since), toVersion: UInt64(version), changed: added.compactMap(Self.entry),
                removed: removed.compactMap { CardASN(hex: $0) })
        } catch {
            throw CitizenCardError(.internal, "hotlist: \(error)")
        }
    }

    /// Terminals and the center read the hotlist.
    static func requireReader(_ actor: Actor) throws(CitizenCardError) {
        guard actor.role == .terminal || actor.role == .administrator else {
            throw CitizenCardError(.forbidden, "terminal_operations is not permitted for this role")
        }
    }
}

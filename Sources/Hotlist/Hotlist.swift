/// The cards terminals must refuse (issue 5, part 4; CARDTECH.md §10), at one version.
///
/// Guarantees: at most one entry per ASN; `entries` sorted by ASN (so lookups are binary searches
/// and the encoding is canonical); at most `entryCountMax` entries. The host raises `version` with
/// every change; terminals fetch the full list (`encoded()`) or the changes since their version
/// (`Hotlist.delta(from:to:)`, `HotlistDelta.encoded()`). See docs/hotlist.md.
public struct Hotlist: Hashable, Sendable {
    /// The most entries a list (or a delta's changes, or its removals) may hold; decoders refuse more.
    public static let entryCountMax = 10_000_000

    public let version: UInt64
    /// Sorted by ASN, one per ASN.
    public let entries: [HotlistEntry]

    /// - Throws: `.duplicateASN` when two entries name the same card, `.tooManyEntries` above the limit.
    public init(version: UInt64, entries: some Sequence<HotlistEntry>) throws(HotlistError) {
        let sorted = entries.sorted { $0.asn < $1.asn }
        guard sorted.count <= Self.entryCountMax else { throw .tooManyEntries(sorted.count) }
        for index in sorted.indices.dropFirst() where sorted[index - 1].asn == sorted[index].asn {
            throw .duplicateASN(sorted[index].asn)
        }
        self.init(version: version, sortedUniqueEntries: sorted)
    }

    /// An empty list at `version`.
    public init(version: UInt64) {
        self.init(version: version, sortedUniqueEntries: [])
    }

    package init(version: UInt64, sortedUniqueEntries entries: [HotlistEntry]) {
        self.version = version
        self.entries = entries
    }

    public var count: Int { entries.count }

    /// The entry for `asn`, found by binary search: O(log n).
    public func entry(for asn: CardASN) -> HotlistEntry? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = low + (high - low) / 2
            let found = entries[middle].asn
            if found == asn { return entries[middle] }
            if found < asn {
                low = middle + 1
            } else {
                high = middle
            }
        }
        return nil
    }

    /// Whether a terminal must refuse the card with this ASN.
    public func contains(_ asn: CardASN) -> Bool {
        entry(for: asn) != nil
    }
}

extension Hotlist {
    /// The changes that turn `old` into `new`: entries of `new` that are not in `old` or differ from
    /// their entry there, and ASNs of `old` that `new` no longer lists.
    ///
    /// `new.version` must be greater than `old.version` (a programmer error otherwise: the host
    /// numbers its own lists).
    public static func delta(from old: Hotlist, to new: Hotlist) -> HotlistDelta {
        precondition(new.version > old.version, "a delta goes from an older list to a newer one")
        var changed: [HotlistEntry] = []
        var removed: [CardASN] = []
        var oldIndex = 0
        var newIndex = 0
        while oldIndex < old.entries.count || newIndex < new.entries.count {
            guard newIndex < new.entries.count else {
                removed.append(old.entries[oldIndex].asn)
                oldIndex += 1
                continue
            }
            guard oldIndex < old.entries.count else {
                changed.append(new.entries[newIndex])
                newIndex += 1
                continue
            }
            let before = old.entries[oldIndex]
            let after = new.entries[newIndex]
            if before.asn < after.asn {
                removed.append(before.asn)
                oldIndex += 1
            } else if after.asn < before.asn {
                changed.append(after)
                newIndex += 1
            } else {
                if before != after { changed.append(after) }
                oldIndex += 1
                newIndex += 1
            }
        }
        return HotlistDelta(
            fromVersion: old.version, toVersion: new.version, sortedChanged: changed, sortedRemoved: removed)
    }

    /// This list with `delta` applied: the list at `delta.toVersion`.
    ///
    /// - Throws: `.versionMismatch` when the list is not at `delta.fromVersion`;
    ///   `.removesUnlistedASN` when the delta removes a card this list does not hold (the list is
    ///   not the one the delta was computed from); `.tooManyEntries` above the limit.
    public func applying(_ delta: HotlistDelta) throws(HotlistError) -> Hotlist {
        guard version == delta.fromVersion else {
            throw .versionMismatch(listVersion: version, deltaFromVersion: delta.fromVersion)
        }
        let kept = try Self.removing(delta.removed, from: entries)
        let merged = Self.merging(delta.changed, into: kept)
        guard merged.count <= Self.entryCountMax else { throw .tooManyEntries(merged.count) }
        return Hotlist(version: delta.toVersion, sortedUniqueEntries: merged)
    }

    /// Applies `delta` in place; on error the list is unchanged.
    public mutating func apply(_ delta: HotlistDelta) throws(HotlistError) {
        self = try applying(delta)
    }

    private static func removing(
        _ removed: [CardASN], from entries: [HotlistEntry]
    ) throws(HotlistError)
        -> [HotlistEntry]
    {
        var kept: [HotlistEntry] = []
        kept.reserveCapacity(entries.count)
        var next = 0
        for entry in entries {
            if next < removed.count, removed[next] < entry.asn { throw .removesUnlistedASN(removed[next]) }
            if next < removed.count, removed[next] == entry.asn {
                next += 1
            } else {
                kept.append(entry)
            }
        }
        if next < removed.count { throw .removesUnlistedASN(removed[next]) }
        return kept
    }

    /// Both sorted and unique; an entry of `changed` replaces the one of `entries` with its ASN.
    private static func merging(_ changed: [HotlistEntry], into entries: [HotlistEntry]) -> [HotlistEntry] {
        var merged: [HotlistEntry] = []
        merged.reserveCapacity(entries.count + changed.count)
        var index = 0
        for change in changed {
            while index < entries.count, entries[index].asn < change.asn {
                merged.append(entries[index])
                index += 1
            }
            if index < entries.count, entries[index].asn == change.asn { index += 1 }
            merged.append(change)
        }
        merged.append(contentsOf: entries[index...])
        return merged
    }
}

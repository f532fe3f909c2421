/// The changes between two versions of the hotlist: what a terminal at `fromVersion` applies to
/// reach `toVersion` (`Hotlist.applying(_:)`). Its size is proportional to the number of changes,
/// not to the size of the list.
///
/// Guarantees: `fromVersion < toVersion`; `changed` and `removed` sorted by ASN, each without
/// duplicates, and no ASN in both.
public struct HotlistDelta: Hashable, Sendable {
    public let fromVersion: UInt64
    public let toVersion: UInt64
    /// Entries added, or whose reason or block flag changed; sorted by ASN.
    public let changed: [HotlistEntry]
    /// Cards no longer listed (found, reissued and expired out of use …); sorted.
    public let removed: [CardASN]

    /// - Throws: `.versionsNotIncreasing`, `.duplicateASN` (twice in `changed` or in `removed`),
    ///   `.changedAndRemoved`, `.tooManyEntries` (either part above `Hotlist.entryCountMax`).
    public init(
        fromVersion: UInt64, toVersion: UInt64, changed: some Sequence<HotlistEntry>, removed: some Sequence<CardASN>
    ) throws(HotlistError) {
        guard fromVersion < toVersion else { throw .versionsNotIncreasing(from: fromVersion, to: toVersion) }
        let changed = try Hotlist(version: toVersion, entries: changed).entries
        let removed = removed.sorted()
        guard removed.count <= Hotlist.entryCountMax else { throw .tooManyEntries(removed.count) }
        for index in removed.indices.dropFirst() where removed[index - 1] == removed[index] {
            throw .duplicateASN(removed[index])
        }
        if let both = Self.firstCommonASN(changed, removed) { throw .changedAndRemoved(both) }
        self.init(fromVersion: fromVersion, toVersion: toVersion, sortedChanged: changed, sortedRemoved: removed)
    }

    init(fromVersion: UInt64, toVersion: UInt64, sortedChanged: [HotlistEntry], sortedRemoved: [CardASN]) {
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.changed = sortedChanged
        self.removed = sortedRemoved
    }

    /// Changed plus removed cards.
    public var changeCount: Int { changed.count + removed.count }

    /// The first ASN present in both sorted lists, if any.
    static func firstCommonASN(_ changed: [HotlistEntry], _ removed: [CardASN]) -> CardASN? {
        var changedIndex = 0
        var removedIndex = 0
        while changedIndex < changed.count, removedIndex < removed.count {
            let left = changed[changedIndex].asn
            let right = removed[removedIndex]
            if left == right { return left }
            if left < right {
                changedIndex += 1
            } else {
                removedIndex += 1
            }
        }
        return nil
    }
}

public import CitizenCardDomain
public import Foundation

/// The departments' old cards (R-20, issue 21; docs/legacy-cards.md): imported from their files
/// with their balances, linked to their holders by the blind index of the ID number, and folded
/// into the holder's citizen card by an online load.
public protocol LegacyStore: Sendable {
    /// The stored old cards among these (kind, number) pairs.
    func legacyCards(kind: LegacyCardKind, numbers: [String]) async throws(StorageError) -> [LegacyCard]
    /// The old cards of the person with this blind index, any state, by kind and number.
    func legacyCards(holderIndex: Data) async throws(StorageError) -> [LegacyCard]
    func legacyCard(id: LegacyCard.ID) async throws(StorageError) -> LegacyCard?
    /// The old card a load folded in, if any.
    func legacyCard(foldedLoadID: PurseLoad.ID) async throws(StorageError) -> LegacyCard?
    /// Counts and sums of the old cards, by kind, folded or not, and whether an ID number is known.
    func legacySummary() async throws(StorageError) -> [LegacySummaryLine]
    /// The old cards the old systems must refuse, in kind and number order after a (kind, number):
    /// those folded in, and — `all` once the coexistence period is over — every one.
    func legacyStopList(
        all: Bool, after: (LegacyCardKind, String)?, limit: Int
    ) async throws(StorageError) -> [LegacyCard]
    /// Old cards not folded yet, of one kind or all, in id order after an id.
    func unclaimedLegacyCards(
        kind: LegacyCardKind?, after: LegacyCard.ID?, limit: Int
    ) async throws(StorageError) -> [LegacyCard]
}

/// One old card of a department.
public struct LegacyCard: Hashable, Sendable {
    public typealias ID = Identifier<LegacyCard>

    public var id: ID
    public var kind: LegacyCardKind
    /// The card's number in the department's system: 8-20 of `[0-9A-Z]`.
    public var number: String
    /// The blind index of the holder's resident ID number, when the file had it.
    public var holderIndex: Data?
    /// The balance imported (fen); 0 for a card without a purse.
    public var balanceFen: Int64
    public var status: LegacyCardStatus
    public var importedAt: Timestamp
    /// The file it came from: its name and SHA-256.
    public var source: String
    /// Set when its balance was folded into a citizen card (by the load `foldedLoadID`).
    public var foldedAt: Timestamp?
    public var foldedCardID: Card.ID?
    public var foldedLoadID: PurseLoad.ID?
    public var version: Int64

    public init(
        id: ID, kind: LegacyCardKind, number: String, holderIndex: Data?, balanceFen: Int64, status: LegacyCardStatus,
        importedAt: Timestamp, source: String
    ) {
        self.id = id
        self.kind = kind
        self.number = number
        self.holderIndex = holderIndex
        self.balanceFen = balanceFen
        self.status = status
        self.importedAt = importedAt
        self.source = source
        self.foldedAt = nil
        self.foldedCardID = nil
        self.foldedLoadID = nil
        self.version = 1
    }

    public var isFolded: Bool { foldedLoadID != nil }
}

public struct LegacySummaryLine: Hashable, Sendable {
    public var kind: LegacyCardKind
    public var folded: Bool
    /// Whether the file gave the holder's ID number.
    public var holderKnown: Bool
    public var count: Int64
    public var balanceFen: Int64

    public init(kind: LegacyCardKind, folded: Bool, holderKnown: Bool, count: Int64, balanceFen: Int64) {
        self.kind = kind
        self.folded = folded
        self.holderKnown = holderKnown
        self.count = count
        self.balanceFen = balanceFen
    }
}

extension ChangeSet.Change {
    /// The departments' old cards.
    public enum Legacy: Sendable {
        /// New old cards (`duplicate(.legacyCard)` for a (kind, number) stored already).
        case insertLegacyCards([LegacyCard])
        /// `card.version` must be `expectedVersion + 1`, else `conflict`.
        case updateLegacyCard(LegacyCard, expectedVersion: Int64)
    }
}

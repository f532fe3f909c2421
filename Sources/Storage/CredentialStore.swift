public import CitizenCardDomain
public import Foundation

/// The electronic card (issue 19, docs/electronic-card.md): each issued card's place in the
/// status list, the published status lists, and the codes a verifier asked to mark used.
public protocol CredentialStore: Sendable {
    /// The card's index in the status list, if it has one.
    func statusIndex(cardID: Card.ID) async throws(StorageError) -> Int64?
    /// The highest index given so far; nil before the first.
    func maxStatusIndex() async throws(StorageError) -> Int64?
    /// Every card with an index, with what decides its status, in no order.
    func statusListCards() async throws(StorageError) -> [StatusListCard]
    /// The newest published status list; nil before the first.
    func statusListPublication() async throws(StorageError) -> StatusListPublication?
    /// The code with this id (`cti`) marked used, if it was.
    func credentialUse(codeID: Data) async throws(StorageError) -> CredentialUse?
}

/// A card in the status list: its index and what decides its status.
public struct StatusListCard: Sendable, Hashable {
    public var index: Int64
    public var state: CardState
    /// Blocked at once after its holder's death (`CardHold`).
    public var blocked: Bool

    public init(index: Int64, state: CardState, blocked: Bool) {
        self.index = index
        self.state = state
        self.blocked = blocked
    }
}

/// One published version of the status list: the signed token as served.
public struct StatusListPublication: Sendable, Hashable {
    public var version: Int64
    public var publishedAt: Timestamp
    /// Entries in the list (the highest index + 1).
    public var count: Int64
    /// The status list token (COSE_Sign1, CWT), bytes as served.
    public var token: Data

    public init(version: Int64, publishedAt: Timestamp, count: Int64, token: Data) {
        self.version = version
        self.publishedAt = publishedAt
        self.count = count
        self.token = token
    }
}

/// A code a verifier asked to mark used once (replay within validity).
public struct CredentialUse: Sendable, Hashable {
    /// The code's `cti`.
    public var codeID: Data
    public var cardID: Card.ID
    public var usedAt: Timestamp
    /// The code's expiry: after it the record can go.
    public var expiresAt: Timestamp
    /// Who asked: `staff:NAME` or `department:CODE`.
    public var verifier: String

    public init(codeID: Data, cardID: Card.ID, usedAt: Timestamp, expiresAt: Timestamp, verifier: String) {
        self.codeID = codeID
        self.cardID = cardID
        self.usedAt = usedAt
        self.expiresAt = expiresAt
        self.verifier = verifier
    }
}

extension ChangeSet.Change {
    /// The electronic card.
    public enum Credentials: Sendable {
        /// Gives every issued card without a place in the status list the next ones, in order of
        /// issue (or only `card`, issued or not); one statement, whatever the number of cards.
        /// `duplicate(.statusIndex)` when a concurrent commit took an index: retry.
        case indexCards(only: Card.ID?)
        /// `duplicate(.statusListVersion)` if this version was already published.
        case publishStatusList(StatusListPublication)
        /// `duplicate(.credentialUse)` if the code was already marked used.
        case markCredentialUsed(CredentialUse)
        /// Forgets used codes that expired before this time.
        case forgetCredentialUses(expiredBefore: Timestamp)
    }
}

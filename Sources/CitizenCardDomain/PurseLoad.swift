/// One online load (圈存) of a card's e-purse at an outlet or a machine: the host checked
/// the card's MAC1 and gave MAC2; the card then credits and answers a TAC. Between the two the
/// card may leave the reader, so a load is `approved` until the host learns what the card did:
/// `completed` (credited; the TAC verified, or the card's counter and balance show the credit) or
/// `reversed` (never credited; the money is given back). The ledger transfer is posted at
/// approval, so the purse's shadow balance is right in both cases once the load is resolved.
public struct PurseLoad: Hashable, Codable, Sendable {
    public typealias ID = Identifier<PurseLoad>

    public enum Funding: String, Hashable, Codable, Sendable, CaseIterable {
        case cash
        case bankTransfer = "bank_transfer"
        /// The refunded balance of the holder's old card (after reissue or cancellation).
        case oldCardRefund = "old_card_refund"
        /// The imported balance of one of the holder's old cards, folded into the purse.
        case legacyBalance = "legacy_balance"
    }

    public enum Status: String, Hashable, Codable, Sendable, CaseIterable {
        case approved
        case completed
        case reversed
    }

    public var id: ID
    public var cardID: Card.ID
    public var outletID: Outlet.ID
    /// The staff account (or machine) that took the money.
    public var actor: String
    public var amount: Money
    public var funding: Funding
    /// The card's online counter and balance before the load, as INITIALIZE FOR LOAD reported.
    public var onlineCounter: Int64
    public var balanceBefore: Money
    /// The key version and algorithm id the card reported (its TAC is checked with them).
    public var keyVersion: Int64
    public var algorithmID: Int64
    /// 12 hex digits.
    public var terminalID: String
    /// `YYYYMMDDhhmmss` as sent to the card with MAC2.
    public var transactionTime: String
    /// 8 hex digits.
    public var mac2: String
    /// 8 hex digits, once the card's TAC came back and verified.
    public var tac: String?
    public var status: Status
    public var approvedAt: Timestamp
    public var resolvedAt: Timestamp?
    /// How it was resolved: `tac`, `card_state` (counter and balance read later), `not_credited`.
    public var resolution: String?
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, actor, amount, funding, onlineCounter, balanceBefore, keyVersion, transactionTime, mac2, tac, status
        case approvedAt, resolvedAt, resolution, version
        case cardID = "cardId", outletID = "outletId", algorithmID = "algorithmId", terminalID = "terminalId"
    }

    public init(
        id: ID, cardID: Card.ID, outletID: Outlet.ID, actor: String, amount: Money, funding: Funding,
        onlineCounter: Int64, balanceBefore: Money, keyVersion: Int64, algorithmID: Int64, terminalID: String,
        transactionTime: String, mac2: String, approvedAt: Timestamp
    ) {
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.id = id
        self.cardID = cardID
        self.outletID = outletID
        self.actor = actor
        self.amount = amount
        self.funding = funding
        self.onlineCounter = onlineCounter
        self.balanceBefore = balanceBefore
        self.terminalID = terminalID
        self.transactionTime = transactionTime
        self.mac2 = mac2
        self.tac = nil
        self.status = .approved
        self.approvedAt = approvedAt
        self.resolvedAt = nil
        self.resolution = nil
        self.version = 1
    }
}

/// Who received the refund of a closed purse, and how (issue 21; R-17, Art 20).
///
/// The holder is paid on their own identity document. When the holder has died, a close relative
/// or an heir is paid on the death registered in the population database, their own identity
/// document and the document that shows the relationship (a household register, a notarised
/// certificate of inheritance). The views carry masked values only: the payee's name, ID number,
/// document reference and bank account are sealed with the personal-data key, bound to the card.
public struct RefundPayee: Hashable, Codable, Sendable {
    public enum Kind: String, Hashable, Codable, Sendable, CaseIterable {
        /// The card's holder, alive, on their identity document.
        case holder
        /// A close relative of a deceased holder (`relationship`), on the relationship document.
        case relative
        /// An heir named in a notarised certificate of inheritance or a court decision.
        case heir
    }

    public var cardID: Card.ID
    public var kind: Kind
    /// For a relative: how they are related to the holder.
    public var relationship: Cancellation.Relationship?
    public var nameMasked: String
    public var idNumberMasked: String
    /// The relationship or inheritance document shown, masked (a relative's or an heir's).
    public var documentReferenceMasked: String?
    /// `cash` or `bank_transfer`.
    public var channel: String
    /// For a bank transfer: the payee's bank and the account, masked.
    public var bankName: String?
    public var accountMasked: String?
    public var paidAt: Timestamp
    public var outletID: Outlet.ID
    /// The staff account that paid.
    public var actor: String

    enum CodingKeys: String, CodingKey {
        case kind, relationship, nameMasked, idNumberMasked, documentReferenceMasked, channel, bankName,
            accountMasked, paidAt, actor
        case cardID = "cardId", outletID = "outletId"
    }

    public init(
        cardID: Card.ID, kind: Kind, relationship: Cancellation.Relationship?, nameMasked: String,
        idNumberMasked: String, documentReferenceMasked: String?, channel: String, bankName: String?,
        accountMasked: String?, paidAt: Timestamp, outletID: Outlet.ID, actor: String
    ) {
        self.cardID = cardID
        self.kind = kind
        self.relationship = relationship
        self.nameMasked = nameMasked
        self.idNumberMasked = idNumberMasked
        self.documentReferenceMasked = documentReferenceMasked
        self.channel = channel
        self.bankName = bankName
        self.accountMasked = accountMasked
        self.paidAt = paidAt
        self.outletID = outletID
        self.actor = actor
    }
}

/// Something of a card not settled yet, which holds its cancellation back (R-17: "after related
/// affairs are settled"). The cancellation's problem lists each one with what to do.
public struct PendingAffair: Hashable, Codable, Sendable {
    public enum Kind: String, Hashable, Codable, Sendable {
        /// An online load approved and never completed or resolved: the chip may or may not have
        /// been credited. Resolve it with the card in the reader.
        case interruptedLoad = "interrupted_load"
        /// An offline record parked behind a missing one, inside the waiting period: the missing
        /// record may still arrive and change the balance.
        case parkedRecord = "parked_record"
    }

    public var kind: Kind
    /// The load's or the record's id.
    public var id: String
    public var amountFen: Int64
    public var since: Timestamp
    /// When the affair settles by itself (a parked record's waiting period), if it does.
    public var settlesBy: Timestamp?

    public init(kind: Kind, id: String, amountFen: Int64, since: Timestamp, settlesBy: Timestamp?) {
        self.kind = kind
        self.id = id
        self.amountFen = amountFen
        self.since = since
        self.settlesBy = settlesBy
    }
}

/// A decision of the card center about money held in a suspense account (issue 21): what cards
/// spent in missing offline records that were written off (`suspense:missing-records`, owed to
/// merchants not known) and refunds nobody claimed (`refunds:payable`, owed to the holders of
/// cancelled or expired cards). Each decision is a ledger transfer out of the suspense account,
/// under the decision's id, with the reference of the center's written decision, audited.
public struct SuspenseDecision: Hashable, Codable, Sendable {
    public typealias ID = Identifier<SuspenseDecision>

    public enum Source: String, Hashable, Codable, Sendable, CaseIterable {
        /// `suspense:missing-records`.
        case missingRecords = "missing_records"
        /// `refunds:payable`, for one card's refund that was never claimed.
        case unclaimedRefund = "unclaimed_refund"
    }

    public enum Outcome: String, Hashable, Codable, Sendable, CaseIterable {
        /// Paid to the merchant now known to be owed it (missing records).
        case merchant
        /// Taken to `income:unclaimed` after the limitation period, by the center's decision.
        case unclaimedIncome = "unclaimed_income"
    }

    public var id: ID
    public var source: Source
    public var outcome: Outcome
    public var amountFen: Int64
    /// For `merchant`: the merchant paid.
    public var merchantID: Merchant.ID?
    /// For `unclaimed_refund`: the card whose refund it was.
    public var cardID: Card.ID?
    /// The reference of the center's written decision (a file or minute number).
    public var decisionReference: String
    public var reason: String
    public var decidedAt: Timestamp
    public var actor: String

    enum CodingKeys: String, CodingKey {
        case id, source, outcome, amountFen, decisionReference, reason, decidedAt, actor
        case merchantID = "merchantId", cardID = "cardId"
    }

    public init(
        id: ID, source: Source, outcome: Outcome, amountFen: Int64, merchantID: Merchant.ID?, cardID: Card.ID?,
        decisionReference: String, reason: String, decidedAt: Timestamp, actor: String
    ) {
        self.id = id
        self.source = source
        self.outcome = outcome
        self.amountFen = amountFen
        self.merchantID = merchantID
        self.cardID = cardID
        self.decisionReference = decisionReference
        self.reason = reason
        self.decidedAt = decidedAt
        self.actor = actor
    }
}

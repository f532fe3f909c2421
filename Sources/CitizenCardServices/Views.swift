public import CitizenCardDomain
public import Foundation

/// A person as the API shows it: masked unless the caller may and did ask to see more.
public struct PersonView: Codable, Hashable, Sendable {
    public var id: Person.ID
    public var masked: Bool
    public var idNumber: String
    public var name: String
    public var sex: Sex
    /// Full date unmasked; only the year (`1985`) masked.
    public var birthDate: String
    public var socialSecurityNumber: String
    public var phone: String?
    public var address: String?
    public var employer: String?
    public var household: Household
    public var socialInsurance: Bool
    public var ruralMedical: Bool
    public var lifeStatus: LifeStatus
    public var hasPhoto: Bool
    public var version: Int64
    public var changedAt: Timestamp
    public var changedBy: String
    public var changeReason: String
    public var changeSource: Provenance.Source
    public var createdAt: Timestamp

    public init(_ person: Person, masked: Bool) {
        let details = person.details
        self.id = person.id
        self.masked = masked
        self.idNumber = masked ? Masking.residentID(details.residentID.number) : details.residentID.number
        self.name = masked ? Masking.name(details.name) : details.name
        self.sex = details.sex
        self.birthDate = masked ? String(details.birthDate.year) : details.birthDate.iso8601
        self.socialSecurityNumber =
            masked ? Masking.residentID(details.socialSecurityNumber) : details.socialSecurityNumber
        self.phone = masked ? details.phone.map(Masking.phone) : details.phone
        self.address = masked ? details.address.map(Masking.address) : details.address
        self.employer = masked ? details.employer.map(Masking.employer) : details.employer
        self.household = person.attributes.household
        self.socialInsurance = person.attributes.socialInsurance
        self.ruralMedical = person.attributes.ruralMedical
        self.lifeStatus = person.attributes.lifeStatus
        self.hasPhoto = details.photoID != nil
        self.version = person.version
        self.changedAt = person.provenance.at
        self.changedBy = person.provenance.actor
        self.changeReason = person.provenance.reason
        self.changeSource = person.provenance.source
        self.createdAt = person.createdAt
    }
}

public struct CardView: Codable, Hashable, Sendable {
    public var id: Card.ID
    public var personId: Person.ID
    public var number: String
    public var asn: String
    public var kind: Card.Kind
    public var state: CardState
    public var usable: Bool
    public var channel: ApplicationChannel
    public var outletId: Outlet.ID
    public var predecessorId: Card.ID?
    public var successorId: Card.ID?
    public var batchId: ProductionBatch.ID?
    public var appliedAt: Timestamp
    public var approvedAt: Timestamp?
    public var issuedAt: Timestamp?
    public var expiresAt: Timestamp?
    public var loss: LossReport?
    public var note: String?
    public var replacementReason: ReplacementReason?
    public var cancellation: Cancellation?
    public var closedAt: Timestamp?
    public var version: Int64
    public var updatedAt: Timestamp

    public init(_ card: Card) {
        self.id = card.id
        self.personId = card.personID
        self.number = card.number
        self.asn = card.asn
        self.kind = card.kind
        self.state = card.state
        self.usable = card.state.isUsable
        self.channel = card.channel
        self.outletId = card.outletID
        self.predecessorId = card.predecessorID
        self.successorId = card.successorID
        self.batchId = card.batchID
        self.appliedAt = card.appliedAt
        self.approvedAt = card.approvedAt
        self.issuedAt = card.issuedAt
        self.expiresAt = card.expiresAt
        self.loss = card.loss
        self.note = card.note
        self.replacementReason = card.replacementReason
        self.cancellation = card.cancellation
        self.closedAt = card.closedAt
        self.version = card.version
        self.updatedAt = card.updatedAt
    }
}

/// The answer to a counter service: the card it concerns, the new card it created (reissue,
/// replacement, renewal) and the receipt of the fee, when there is one.
public struct CardServiceResult: Codable, Hashable, Sendable {
    public var card: CardView
    public var newCard: CardView?
    public var receipt: Receipt?

    public init(card: Card, newCard: Card? = nil, receipt: Receipt? = nil) {
        self.card = CardView(card)
        self.newCard = newCard.map(CardView.init)
        self.receipt = receipt
    }
}

public struct OperatorView: Codable, Hashable, Sendable {
    public var id: Operator.ID
    public var username: String
    public var displayName: String
    public var role: Role
    public var outletId: Outlet.ID?
    public var active: Bool

    public init(_ staff: Operator) {
        self.id = staff.id
        self.username = staff.username
        self.displayName = staff.displayName
        self.role = staff.role
        self.outletId = staff.outletID
        self.active = staff.active
    }
}

public struct AuditEntryView: Codable, Hashable, Sendable {
    /// The chain (lane) of the entry and its place in it.
    public var lane: Int
    public var sequence: Int64
    /// Pass as `before` to get the entries older than this one.
    public var cursor: String
    public var at: Timestamp
    public var actor: String
    public var action: String
    public var subject: String
    public var personId: Person.ID?
    public var purpose: String
    public var detail: String
    public var hash: String
}

/// Lowercase hex of bytes.
public func hexString(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// The JSON conventions of the API, shared by responses and stored idempotent answers.
public enum APIJSON {
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }
}

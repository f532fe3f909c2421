/// A citizen card, from the application for it to its end (R-10 … R-18).
///
/// The record exists from the moment someone applies: an application *is* a card in its first
/// state. `docs/card-lifecycle.md` lists every state and transition; `CardLifecycle` implements
/// them as a pure function.
public struct Card: Hashable, Sendable {
    public typealias ID = Identifier<Card>

    public let id: ID
    public let personID: Person.ID
    public let kind: Kind
    public internal(set) var state: CardState
    /// The printed card serial number (市民卡序号): city prefix, sequence, Luhn check digit.
    public let number: String
    /// Application serial number, 10 bytes as 20 hex digits; the card keys are diversified from it.
    public let asn: String
    public let channel: ApplicationChannel
    /// The outlet that took the application; the card is delivered there for pick-up.
    public let outletID: Outlet.ID
    public let predecessorID: Card.ID?
    public internal(set) var successorID: Card.ID?
    public internal(set) var batchID: ProductionBatch.ID?
    public let appliedAt: Timestamp
    public internal(set) var approvedAt: Timestamp?
    public internal(set) var issuedAt: Timestamp?
    public internal(set) var expiresAt: Timestamp?
    public internal(set) var loss: LossReport?
    /// Why verification rejected the application, or why the factory failed the card last.
    public internal(set) var note: String?
    public internal(set) var replacementReason: ReplacementReason?
    public internal(set) var cancellation: Cancellation?
    /// When the card reached a final state (replaced, cancelled, expired, rejected).
    public internal(set) var closedAt: Timestamp?
    /// 1 on creation, +1 with every transition; guards concurrent changes.
    public internal(set) var version: Int64
    public internal(set) var updatedAt: Timestamp

    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The person's first card, or a new application after an earlier card ended.
        case application
        /// 补领: after the previous card was lost.
        case reissue
        /// 换领: the previous card is damaged, or the holder's name or ID number changed.
        case replacement
        /// The previous card is expiring or expired.
        case renewal
    }

    /// A new application (state `applied`), or a successor card (state `approved`, since the
    /// holder's identity and data were checked when the predecessor was issued).
    public init(
        id: ID, personID: Person.ID, kind: Kind, number: String, asn: String, channel: ApplicationChannel,
        outletID: Outlet.ID, predecessorID: Card.ID?, at time: Timestamp
    ) {
        precondition((kind == .application) == (predecessorID == nil), "only successors have a predecessor")
        self.id = id
        self.personID = personID
        self.kind = kind
        self.state = kind == .application ? .applied : .approved
        self.number = number
        self.asn = asn
        self.channel = channel
        self.outletID = outletID
        self.predecessorID = predecessorID
        self.appliedAt = time
        self.approvedAt = kind == .application ? nil : time
        self.version = 1
        self.updatedAt = time
    }

    /// Rebuilds a card from storage. Only storage backends call this.
    public init(
        stored id: ID, personID: Person.ID, kind: Kind, state: CardState, number: String, asn: String,
        channel: ApplicationChannel, outletID: Outlet.ID, predecessorID: Card.ID?, successorID: Card.ID?,
        batchID: ProductionBatch.ID?, appliedAt: Timestamp, approvedAt: Timestamp?, issuedAt: Timestamp?,
        expiresAt: Timestamp?, loss: LossReport?, note: String?, replacementReason: ReplacementReason?,
        cancellation: Cancellation?, closedAt: Timestamp?, version: Int64, updatedAt: Timestamp
    ) {
        self.id = id
        self.personID = personID
        self.kind = kind
        self.state = state
        self.number = number
        self.asn = asn
        self.channel = channel
        self.outletID = outletID
        self.predecessorID = predecessorID
        self.successorID = successorID
        self.batchID = batchID
        self.appliedAt = appliedAt
        self.approvedAt = approvedAt
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.loss = loss
        self.note = note
        self.replacementReason = replacementReason
        self.cancellation = cancellation
        self.closedAt = closedAt
        self.version = version
        self.updatedAt = updatedAt
    }
}

public enum CardState: String, Codable, Sendable, CaseIterable {
    /// Application received, waiting for verification (待校核).
    case applied
    /// Verification refused the application; final.
    case rejected
    /// Verified, waiting for a production batch (待制卡).
    case approved
    /// In an exported production batch at the factory.
    case inProduction = "in_production"
    /// The factory reported the card made.
    case produced
    /// At the outlet, waiting for the holder (待领取).
    case delivered
    /// Issued and usable (正常).
    case active
    /// Temporarily reported lost by phone or self-service (预挂失); blocked until confirmed, withdrawn or expired.
    case preLost = "pre_lost"
    /// Reported lost in writing at an outlet (书面挂失); blocked.
    case lost
    /// A successor card was issued, or a reissue was applied for; final.
    case replaced
    /// Cancelled (注销); final.
    case cancelled
    /// Past its validity; final.
    case expired

    /// Where the state sits for the one-card rule: a person has at most one card in each slot.
    public var slot: Slot {
        switch self {
        case .applied, .approved, .inProduction, .produced, .delivered: .pipeline
        case .active, .preLost, .lost: .held
        case .rejected, .replaced, .cancelled, .expired: .closed
        }
    }

    public enum Slot: String, Sendable {
        /// Applied for and not yet issued.
        case pipeline
        /// Issued to the holder and not ended; the only slot that can ever be usable.
        case held
        /// Ended; kept for history.
        case closed
    }

    /// Usable for transactions and as a credential.
    public var isUsable: Bool { self == .active }
}

/// How an application reached the outlet.
public struct ApplicationChannel: Hashable, Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case individual, employer }
    public var kind: Kind
    /// The employer's unified social credit code for a bulk application.
    public var employerCode: String?
    public var employerName: String?

    public init(kind: Kind, employerCode: String?, employerName: String?) {
        self.kind = kind
        self.employerCode = employerCode
        self.employerName = employerName
    }

    public static let individual = ApplicationChannel(kind: .individual, employerCode: nil, employerName: nil)

    public static func employer(code: String, name: String) -> ApplicationChannel {
        ApplicationChannel(kind: .employer, employerCode: code, employerName: name)
    }
}

public struct LossReport: Hashable, Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case pre, written }
    /// `bank`: reported at a partner bank's counter or app, sent by the bank (issue 20).
    public enum Channel: String, Codable, Sendable, CaseIterable {
        case outlet, phone, selfService = "self_service", bank
    }

    public var kind: Kind
    public var channel: Channel
    /// When the loss took effect, to the second. For a pre-loss later confirmed in writing this
    /// stays the time of the pre-loss (Art 17: losses after it are not the holder's).
    public var effectiveAt: Timestamp
    /// When an unconfirmed pre-loss lapses; nil for a written report.
    public var preLossExpiresAt: Timestamp?
    /// When the written report was made (equal to `effectiveAt` unless it confirmed a pre-loss).
    public var writtenAt: Timestamp?

    public init(
        kind: Kind, channel: Channel, effectiveAt: Timestamp, preLossExpiresAt: Timestamp?, writtenAt: Timestamp?
    ) {
        self.kind = kind
        self.channel = channel
        self.effectiveAt = effectiveAt
        self.preLossExpiresAt = preLossExpiresAt
        self.writtenAt = writtenAt
    }
}

public enum ReplacementReason: String, Codable, Sendable, CaseIterable {
    /// Damaged, illegible or unreadable (Art 16 ¶1).
    case damaged
    /// Name, ID number or other basic data changed (Art 16 ¶2).
    case dataChanged = "data_changed"
}

public struct Cancellation: Hashable, Codable, Sendable {
    public enum Reason: String, Codable, Sendable, CaseIterable {
        case death
        case householdMove = "household_move"
        case ineligible
        case holderRequest = "holder_request"
    }
    public enum Applicant: String, Codable, Sendable, CaseIterable { case holder, relative }
    public enum Relationship: String, Codable, Sendable, CaseIterable {
        case spouse, parent, child, sibling, grandparent, grandchild
    }

    public var reason: Reason
    public var applicant: Applicant
    public var relationship: Relationship?
    /// The document shown (death certificate number, household-move certificate …), masked
    /// (`Masking.documentReference`): the full reference is personal data, stored sealed apart
    /// from the card and read only through an audited reveal. On a card cancelled before
    /// references were sealed, the clear text until the start-up pass seals it.
    public var documentReference: String
    public var at: Timestamp

    public init(
        reason: Reason, applicant: Applicant, relationship: Relationship?, documentReference: String, at: Timestamp
    ) {
        self.reason = reason
        self.applicant = applicant
        self.relationship = relationship
        self.documentReference = documentReference
        self.at = at
    }
}

/// One transition of a card, kept forever: the card's history and the evidence of every effective time.
public struct CardEvent: Hashable, Codable, Sendable {
    public var cardID: Card.ID
    /// Equals the card's version after the transition.
    public var sequence: Int64
    public var action: CardAction.Kind
    public var from: CardState
    public var to: CardState
    /// When the transition took effect, to the second.
    public var at: Timestamp
    /// Operator user name, `system`, or `self-service`.
    public var actor: String
    public var outletID: Outlet.ID?
    public var reason: String?
    public var receiptID: Receipt.ID?

    enum CodingKeys: String, CodingKey {
        case sequence, action, from, to, at, actor, reason
        case cardID = "cardId"
        case outletID = "outletId"
        case receiptID = "receiptId"
    }

    public init(
        cardID: Card.ID, sequence: Int64, action: CardAction.Kind, from: CardState, to: CardState, at: Timestamp,
        actor: String, outletID: Outlet.ID?, reason: String?, receiptID: Receipt.ID? = nil
    ) {
        self.cardID = cardID
        self.sequence = sequence
        self.action = action
        self.from = from
        self.to = to
        self.at = at
        self.actor = actor
        self.outletID = outletID
        self.reason = reason
        self.receiptID = receiptID
    }
}

/// Card serial numbers and application serial numbers, both derived from one sequence number.
public enum CardNumbering {
    /// `prefix` (the city's 4-digit code, e.g. 3309), the sequence as 8 digits, a Luhn check digit.
    public static func cardNumber(prefix: String, sequence: Int64) -> String {
        precondition(sequence > 0 && sequence < 100_000_000)
        let body = prefix + zeroPadded(sequence, width: 8)
        return body + String(Luhn.checkDigit(for: body))
    }

    /// `prefix` (4 digits), `0001` (application type: citizen card), the sequence as 12 digits.
    public static func asn(prefix: String, sequence: Int64) -> String {
        prefix + "0001" + zeroPadded(sequence, width: 12)
    }

    public static func zeroPadded(_ value: Int64, width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

public enum Luhn {
    /// The Luhn check digit of a string of decimal digits.
    public static func checkDigit(for digits: String) -> Int {
        var sum = 0
        for (offset, byte) in digits.utf8.reversed().enumerated() {
            precondition(byte.isASCIIDigit)
            var digit = Int(byte - 0x30)
            if offset % 2 == 0 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return (10 - sum % 10) % 10
    }

    public static func isValid(_ number: String) -> Bool {
        guard number.utf8.count >= 2, number.utf8.allSatisfy(\.isASCIIDigit) else { return false }
        return checkDigit(for: String(number.dropLast())) == Int(number.utf8.last! - 0x30)
    }
}

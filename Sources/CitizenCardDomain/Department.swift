/// A government department that sends feeds to the population database (R-04) or reads from it
/// under a grant (R-40): the police, civil affairs, human resources and social security, health,
/// transit … (docs/departments.md). The kind is data: a city adds kinds without a release.
public struct Department: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Department>

    public var id: ID
    /// Short code, unique, upper-case letters, digits and `-`: `PSB`, `CIVIL`, `HRSS`.
    public var code: String
    public var name: String
    public var nameZh: String
    /// `public_security`, `civil_affairs`, `human_resources_social_security`, `health`,
    /// `transit`, or another lower-case code the city uses.
    public var kind: String
    /// The feed kinds this department may send (default deny: none).
    public var feedKinds: [FeedKind]
    public var active: Bool
    public var createdAt: Timestamp
    public var version: Int64

    public init(
        id: ID, code: String, name: String, nameZh: String, kind: String, feedKinds: [FeedKind], active: Bool = true,
        createdAt: Timestamp, version: Int64 = 1
    ) {
        self.id = id
        self.code = code
        self.name = name
        self.nameZh = nameZh
        self.kind = kind
        self.feedKinds = feedKinds
        self.active = active
        self.createdAt = createdAt
        self.version = version
    }

    /// The kinds the regulation names; others may be used.
    public static let knownKinds = [
        "public_security", "civil_affairs", "human_resources_social_security", "health", "transit",
    ]

    /// Checks a department code: 2-16 of `A-Z`, `0-9`, `-`, starting with a letter.
    public static func validateCode(_ code: String, field: String = "code") throws(CitizenCardError) {
        let bytes = Array(code.utf8)
        guard (2...16).contains(bytes.count), let first = bytes.first, (0x41...0x5A).contains(first),
            bytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D })
        else {
            throw CitizenCardError.invalid(
                field, "2-16 upper-case letters, digits or '-', starting with a letter",
                zh: "须为2至16位大写字母、数字或“-”，以字母开头")
        }
    }

    /// Checks a kind: 2-40 of `a-z` and `_`.
    public static func validateKind(_ kind: String) throws(CitizenCardError) {
        let bytes = Array(kind.utf8)
        guard (2...40).contains(bytes.count), bytes.allSatisfy({ (0x61...0x7A).contains($0) || $0 == 0x5F }) else {
            throw CitizenCardError.invalid("kind", "2-40 lower-case letters or '_'", zh: "须为2至40位小写字母或“_”")
        }
    }
}

/// A program of a department that calls the API: it authenticates with a key the center issued
/// (shown once, stored as a hash) or, over mutual TLS, with a certificate whose subject is
/// recorded here.
public struct DepartmentClient: Hashable, Codable, Sendable {
    public typealias ID = Identifier<DepartmentClient>

    public var id: ID
    public var departmentID: Department.ID
    public var name: String
    /// The certificate subject (RFC 4514 text, e.g. `CN=psb-gateway,O=Zhoushan PSB`) that
    /// identifies this client over mutual TLS; nil for a client that uses keys only.
    public var certificateSubject: String?
    public var createdAt: Timestamp
    public var createdBy: String
    /// Set when revoked: from then on no key and no certificate of the client is accepted.
    public var revokedAt: Timestamp?
    public var version: Int64

    public init(
        id: ID, departmentID: Department.ID, name: String, certificateSubject: String?, createdAt: Timestamp,
        createdBy: String, revokedAt: Timestamp? = nil, version: Int64 = 1
    ) {
        self.id = id
        self.departmentID = departmentID
        self.name = name
        self.certificateSubject = certificateSubject
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
        self.version = version
    }
}

/// One key of a department client. Only the SHA-256 of the key is stored; the key is shown once
/// when it is issued. A rotation issues a new key and shortens the old one's life to the overlap,
/// so that both work while the department deploys the new one.
public struct DepartmentKey: Hashable, Sendable {
    public typealias ID = Identifier<DepartmentKey>

    public var id: ID
    public var clientID: DepartmentClient.ID
    public var keyHash: [UInt8]
    /// The first characters of the key (`ccd_AbCd`), to tell keys apart in lists.
    public var hint: String
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var revokedAt: Timestamp?
    public var version: Int64

    public init(
        id: ID, clientID: DepartmentClient.ID, keyHash: [UInt8], hint: String, createdAt: Timestamp,
        expiresAt: Timestamp, revokedAt: Timestamp? = nil, version: Int64 = 1
    ) {
        self.id = id
        self.clientID = clientID
        self.keyHash = keyHash
        self.hint = hint
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.version = version
    }

    public func isValid(at time: Timestamp) -> Bool { revokedAt == nil && time < expiresAt }
}

/// What department clients' keys and feeds are bound by.
public enum DepartmentPolicy {
    /// A new key is valid this long unless the issuer says otherwise (one year).
    public static let keyLifetimeSeconds: Int64 = 365 * 86_400
    /// How long the old key keeps working after a rotation unless the issuer says otherwise.
    public static let rotationOverlapSeconds: Int64 = 7 * 86_400
    /// Longest overlap a rotation may give (30 days).
    public static let rotationOverlapMax: Int64 = 30 * 86_400
    /// Messages in one feed request (`POST /department/feeds`); larger sets go as a file.
    public static let feedBatchMax = 1000
    /// ID numbers in one batch query or card checks in one batch verification.
    public static let queryBatchMax = 100
    /// A department's message id: 1-64 visible ASCII characters.
    public static func validateMessageID(_ id: String, field: String = "messageId") throws(CitizenCardError) {
        let bytes = Array(id.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw CitizenCardError.invalid(
                field, "give 1-64 visible ASCII characters", zh: "须为1至64个可见ASCII字符")
        }
    }
}

/// What a feed message says happened (R-04).
public enum FeedKind: String, Codable, Sendable, CaseIterable {
    /// The person died on `occurredOn`.
    case death
    /// The person's ID number changed to `newIdNumber`.
    case idNumberChange = "id_number_change"
    /// The person's name changed to `newName`.
    case nameChange = "name_change"
    /// The household registration moved out of the city (or back: `household`).
    case householdMove = "household_move"
    /// The person joined the city's social insurance.
    case insuranceEnrolment = "insurance_enrolment"
    /// The person's social insurance ended.
    case insuranceEnd = "insurance_end"
    /// A child was born and is pre-registered.
    case birth
}

/// The answer to one feed message; stored with the message, so that a repeat gets it again.
public struct FeedResult: Hashable, Codable, Sendable {
    public enum Outcome: String, Codable, Sendable, CaseIterable {
        /// The record changed and its effects were queued.
        case applied
        /// The record already said so; nothing changed.
        case unchanged
        /// No person with this ID number is registered.
        case unknownPerson = "unknown_person"
        /// The message contradicts the record; a review item waits, nothing changed.
        case conflict
        /// The message is not valid (a field is missing or wrong); nothing changed.
        case invalid
    }

    public var messageId: String
    public var outcome: Outcome
    /// True when this is the stored answer to an earlier message with the same id.
    public var duplicate: Bool
    /// Stable code of a refusal or conflict (`invalid_field`, `death_before_card_use` …).
    public var code: String?
    /// Safe to show and log: names fields and reasons, never values.
    public var detail: String?
    public var personId: Person.ID?
    /// Cards blocked, queued for replacement, cancellation or review, in order.
    public var cards: [CardEffect]
    public var reviewItemId: ReviewItem.ID?

    public struct CardEffect: Hashable, Codable, Sendable {
        public var cardId: Card.ID
        public var effect: String

        public init(cardId: Card.ID, effect: String) {
            self.cardId = cardId
            self.effect = effect
        }
    }

    public init(
        messageId: String, outcome: Outcome, duplicate: Bool = false, code: String? = nil, detail: String? = nil,
        personId: Person.ID? = nil, cards: [CardEffect] = [], reviewItemId: ReviewItem.ID? = nil
    ) {
        self.messageId = messageId
        self.outcome = outcome
        self.duplicate = duplicate
        self.code = code
        self.detail = detail
        self.personId = personId
        self.cards = cards
        self.reviewItemId = reviewItemId
    }
}

/// A feed message as stored: who sent it, when, what it answered. The key is the department and
/// its own message id; `digest` is the SHA-256 of the message as sent, so that an id reused for a
/// different message is told apart from a repeat.
public struct FeedRecord: Hashable, Sendable {
    public var departmentID: Department.ID
    public var messageID: String
    public var kind: String
    public var digest: [UInt8]
    public var receivedAt: Timestamp
    public var clientID: DepartmentClient.ID?
    public var result: FeedResult

    public init(
        departmentID: Department.ID, messageID: String, kind: String, digest: [UInt8], receivedAt: Timestamp,
        clientID: DepartmentClient.ID?, result: FeedResult
    ) {
        self.departmentID = departmentID
        self.messageID = messageID
        self.kind = kind
        self.digest = digest
        self.receivedAt = receivedAt
        self.clientID = clientID
        self.result = result
    }
}

/// Something a person must look at: a feed that conflicts with the record, a grant suspended for
/// scraping. Closed with a note.
public struct ReviewItem: Hashable, Codable, Sendable {
    public typealias ID = Identifier<ReviewItem>

    public var id: ID
    /// `feed_conflict` or `bulk_scraping`.
    public var kind: String
    public var departmentID: Department.ID?
    public var messageID: String?
    public var personID: Person.ID?
    public var grantID: Grant.ID?
    /// Why, in words safe to show (no personal data).
    public var detail: String
    public var createdAt: Timestamp
    public var closedAt: Timestamp?
    public var closedBy: String?
    public var closingNote: String?
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, kind, detail, createdAt, closedAt, closedBy, closingNote, version
        case departmentID = "departmentId", messageID = "messageId", personID = "personId", grantID = "grantId"
    }

    public init(
        id: ID, kind: String, departmentID: Department.ID?, messageID: String?, personID: Person.ID?,
        grantID: Grant.ID?, detail: String, createdAt: Timestamp, closedAt: Timestamp? = nil, closedBy: String? = nil,
        closingNote: String? = nil, version: Int64 = 1
    ) {
        self.id = id
        self.kind = kind
        self.departmentID = departmentID
        self.messageID = messageID
        self.personID = personID
        self.grantID = grantID
        self.detail = detail
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.closedBy = closedBy
        self.closingNote = closingNote
        self.version = version
    }
}

/// Work a feed leaves for the outlets: a card to cancel after a death, to replace after a change
/// of data, or to look at because its holder is no longer due one. Never done silently: a case
/// closes when the outlet does the work (or a supervisor closes it with a note).
public struct CardCase: Hashable, Codable, Sendable {
    public typealias ID = Identifier<CardCase>

    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The holder died: cancel the card (purse balance held for the heirs).
        case cancelAfterDeath = "cancel_after_death"
        /// The name or ID number on the card is no longer the holder's: replace the card.
        case replaceDataChanged = "replace_data_changed"
        /// The holder is no longer due a card under the rules in force: decide with the holder.
        case eligibilityReview = "eligibility_review"
    }

    public var id: ID
    public var cardID: Card.ID
    public var personID: Person.ID
    public var kind: Kind
    public var outletID: Outlet.ID
    public var departmentID: Department.ID?
    public var messageID: String?
    public var createdAt: Timestamp
    public var closedAt: Timestamp?
    public var closedBy: String?
    public var version: Int64

    public init(
        id: ID, cardID: Card.ID, personID: Person.ID, kind: Kind, outletID: Outlet.ID, departmentID: Department.ID?,
        messageID: String?, createdAt: Timestamp, closedAt: Timestamp? = nil, closedBy: String? = nil,
        version: Int64 = 1
    ) {
        self.id = id
        self.cardID = cardID
        self.personID = personID
        self.kind = kind
        self.outletID = outletID
        self.departmentID = departmentID
        self.messageID = messageID
        self.createdAt = createdAt
        self.closedAt = closedAt
        self.closedBy = closedBy
        self.version = version
    }
}

/// A card blocked at once, before any counter action: after its holder's death. A blocked card
/// is on the next hotlist (reason `blocked`), refused by the portal and by online loads; its purse
/// balance, recorded here, is held for the heirs.
public struct CardHold: Hashable, Codable, Sendable {
    public var cardID: Card.ID
    public var reason: String
    public var departmentID: Department.ID?
    public var messageID: String?
    public var at: Timestamp
    /// The purse balance when the card was blocked, fen.
    public var purseBalanceFen: Int64

    public init(
        cardID: Card.ID, reason: String, departmentID: Department.ID?, messageID: String?, at: Timestamp,
        purseBalanceFen: Int64
    ) {
        self.cardID = cardID
        self.reason = reason
        self.departmentID = departmentID
        self.messageID = messageID
        self.at = at
        self.purseBalanceFen = purseBalanceFen
    }
}

extension FeedResult {
    /// The answer as compact JSON, the same object `JSONEncoder` writes (keys in another order):
    /// a feed file writes one for every row twice (the stored answer and the results file), and
    /// this is several times cheaper.
    public var json: String {
        var out = #"{"messageId":"#
        Self.append(messageId, to: &out)
        out += #","outcome":""# + outcome.rawValue + #"","duplicate":"# + (duplicate ? "true" : "false")
        if let code {
            out += #","code":"#
            Self.append(code, to: &out)
        }
        if let detail {
            out += #","detail":"#
            Self.append(detail, to: &out)
        }
        if let personId { out += #","personId":""# + personId.rawValue + "\"" }
        out += #","cards":["#
        for (index, card) in cards.enumerated() {
            if index > 0 { out += "," }
            out += #"{"cardId":""# + card.cardId.rawValue + #"","effect":"#
            Self.append(card.effect, to: &out)
            out += "}"
        }
        out += "]"
        if let reviewItemId { out += #","reviewItemId":""# + reviewItemId.rawValue + "\"" }
        out += "}"
        return out
    }

    /// `text` as a JSON string literal (RFC 8259: quote, backslash and controls escaped).
    static func append(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(control.value, radix: 16).count)
                    + String(control.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// The citizen self-service portal: the rules of a card's query password (查询密码),
/// its lockout, a holder's session, and the center's service catalogue. Pure values; storage and
/// use cases live in `Storage` and `CitizenCardServices.PortalService` (docs/portal.md).
public enum PortalPolicy {
    /// A query password is 6 to 12 decimal digits (it is typed on a phone keypad or a PIN pad).
    public static let passwordDigits = 6...12
    /// Wrong passwords in a row after which the credential locks.
    public static let failuresMax: Int64 = 5
    /// How long a locked credential refuses every log-in, even with the right password.
    public static let lockSeconds: Int64 = 30 * 60
    /// A holder's session lasts a fixed 2 hours from log-in, however active; then log in again.
    public static let sessionSeconds: Int64 = 2 * 3600
    /// Records (loads and purchases) the overview shows, newest first.
    public static let recentRecordsMax = 20
    /// Entries the access log shows at most per call.
    public static let accessLogMax = 200

    /// The card states in which a holder may use the portal: the card is in the holder's hands
    /// (active, or blocked by a loss report the holder may want to check or follow up). A card
    /// that ended (replaced, cancelled, expired) or was never issued has no portal access; the
    /// new card gets its own password at the counter.
    public static func allowsPortal(_ state: CardState) -> Bool { state.slot == .held }
}

/// The rule a new query password must meet; checked when it is set at the counter and when the
/// holder changes it, never at log-in (a log-in does not tell what the rule is).
public enum QueryPassword {
    /// Throws `invalid_field` unless `password` is 6-12 ASCII digits, not all the same digit, and
    /// not a run that steps by +1 or -1 throughout (`123456`, `654321`; wrapping `7890123` too).
    public static func validate(_ password: String, field: String = "password") throws(CitizenCardError) {
        let digits = Array(password.utf8)
        guard PortalPolicy.passwordDigits.contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) })
        else {
            throw CitizenCardError.invalid(
                field, "the query password is 6 to 12 digits", zh: "查询密码须为6至12位数字")
        }
        if Set(digits).count == 1 {
            throw CitizenCardError.invalid(
                field, "the query password must not be one digit repeated", zh: "查询密码不能全部为相同数字")
        }
        let steps = zip(digits.dropFirst(), digits).map { (Int($0) - Int($1) + 10) % 10 }
        if steps.allSatisfy({ $0 == 1 }) || steps.allSatisfy({ $0 == 9 }) {
            throw CitizenCardError.invalid(
                field, "the query password must not be a run of consecutive digits such as 123456",
                zh: "查询密码不能为123456等连续数字")
        }
    }
}

/// A card's query password as stored: its bcrypt hash and the lockout state.
public struct QueryCredential: Hashable, Sendable {
    public var cardID: Card.ID
    /// bcrypt; the password itself is never stored nor logged.
    public var passwordHash: String
    /// Wrong passwords since the last success, the last reset or the last lock.
    public var failedAttempts: Int64
    /// While in the future, every log-in is refused (`too_many_attempts`).
    public var lockedUntil: Timestamp?
    /// When the password was last set at the counter or changed by the holder.
    public var changedAt: Timestamp
    /// Who set it: the counter operator's user name, or `citizen:<masked card number>`.
    public var changedBy: String
    /// 1 when created, +1 with every change; guards concurrent log-ins.
    public var version: Int64

    public init(
        cardID: Card.ID, passwordHash: String, failedAttempts: Int64 = 0, lockedUntil: Timestamp? = nil,
        changedAt: Timestamp, changedBy: String, version: Int64 = 1
    ) {
        self.cardID = cardID
        self.passwordHash = passwordHash
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.changedAt = changedAt
        self.changedBy = changedBy
        self.version = version
    }

    public func isLocked(at time: Timestamp) -> Bool { lockedUntil.map { time < $0 } ?? false }

    /// After a wrong password at `time`: one more failure; the `failuresMax`-th locks the
    /// credential for `lockSeconds` and starts the count again (so after the lock the holder has
    /// `failuresMax` attempts again).
    public func failing(at time: Timestamp) -> QueryCredential {
        var next = self
        next.version = version + 1
        next.failedAttempts = failedAttempts + 1
        if next.failedAttempts >= PortalPolicy.failuresMax {
            next.failedAttempts = 0
            next.lockedUntil = time.adding(seconds: PortalPolicy.lockSeconds)
        }
        return next
    }

    /// After the right password: no failures, no lock. Nil when there is nothing to reset.
    public func succeeding() -> QueryCredential? {
        guard failedAttempts != 0 || lockedUntil != nil else { return nil }
        var next = self
        next.version = version + 1
        next.failedAttempts = 0
        next.lockedUntil = nil
        return next
    }

    /// A new password (set at the counter or changed by the holder): failures and lock reset.
    public func replacing(hash: String, at time: Timestamp, by actor: String) -> QueryCredential {
        QueryCredential(
            cardID: cardID, passwordHash: hash, changedAt: time, changedBy: actor, version: version + 1)
    }
}

/// A holder's portal session as stored: only the SHA-256 of the bearer token is kept.
public struct PortalSession: Hashable, Sendable {
    public var tokenHash: [UInt8]
    public var cardID: Card.ID
    public var personID: Person.ID
    public var createdAt: Timestamp
    /// `createdAt + PortalPolicy.sessionSeconds`; not extended by use.
    public var expiresAt: Timestamp

    public init(tokenHash: [UInt8], cardID: Card.ID, personID: Person.ID, createdAt: Timestamp, expiresAt: Timestamp) {
        self.tokenHash = tokenHash
        self.cardID = cardID
        self.personID = personID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// A service the center offers on citizen cards (R-35, Art 14), e.g. the library or a transit
/// concession: published with an effective date, later perhaps withdrawn. Codes are never reused.
public struct CatalogueEntry: Hashable, Codable, Sendable {
    /// 2-32 of `a-z 0-9 -`, starting with a letter: `library`, `bus-concession`.
    public var code: String
    public var name: String
    public var nameZh: String
    public var description: String
    public var descriptionZh: String
    /// Holders may activate it from this day on (Asia/Shanghai).
    public var effectiveFrom: CalendarDate
    public var publishedAt: Timestamp
    public var publishedBy: String
    /// Once withdrawn, it is no longer listed nor activated; activations made before are kept.
    public var withdrawnAt: Timestamp?
    public var withdrawnBy: String?
    public var version: Int64

    public init(
        code: String, name: String, nameZh: String, description: String, descriptionZh: String,
        effectiveFrom: CalendarDate, publishedAt: Timestamp, publishedBy: String, withdrawnAt: Timestamp? = nil,
        withdrawnBy: String? = nil, version: Int64 = 1
    ) {
        self.code = code
        self.name = name
        self.nameZh = nameZh
        self.description = description
        self.descriptionZh = descriptionZh
        self.effectiveFrom = effectiveFrom
        self.publishedAt = publishedAt
        self.publishedBy = publishedBy
        self.withdrawnAt = withdrawnAt
        self.withdrawnBy = withdrawnBy
        self.version = version
    }

    public var isWithdrawn: Bool { withdrawnAt != nil }

    /// Listed, and activatable on `date`.
    public func isAvailable(on date: CalendarDate) -> Bool { !isWithdrawn && effectiveFrom <= date }

    /// Throws `invalid_field` for a code that is not 2-32 of `a-z 0-9 -` starting with a letter.
    public static func validate(code: String, field: String = "code") throws(CitizenCardError) {
        let bytes = Array(code.utf8)
        let allowed = bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        guard (2...32).contains(bytes.count), allowed, let first = bytes.first, (0x61...0x7A).contains(first) else {
            throw CitizenCardError.invalid(
                field, "2-32 lowercase letters, digits or hyphens, starting with a letter",
                zh: "服务代码须为2至32位小写字母、数字或连字符，以字母开头")
        }
    }
}

/// A holder's application to use a catalogue service with one card, granted when recorded.
/// One per card and service.
public struct ServiceActivation: Hashable, Codable, Sendable {
    public typealias ID = Identifier<ServiceActivation>

    public var id: ID
    public var cardID: Card.ID
    public var personID: Person.ID
    public var serviceCode: String
    public var activatedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, serviceCode, activatedAt
        case cardID = "cardId", personID = "personId"
    }

    public init(id: ID, cardID: Card.ID, personID: Person.ID, serviceCode: String, activatedAt: Timestamp) {
        self.id = id
        self.cardID = cardID
        self.personID = personID
        self.serviceCode = serviceCode
        self.activatedAt = activatedAt
    }
}

extension Masking {
    /// Keeps the first four (the city) and the last four digits: `3309*****0012`.
    public static func cardNumber(_ value: String) -> String {
        let characters = Array(value)
        guard characters.count > 8 else { return String(repeating: "*", count: characters.count) }
        return String(characters.prefix(4)) + String(repeating: "*", count: characters.count - 8)
            + String(characters.suffix(4))
    }
}

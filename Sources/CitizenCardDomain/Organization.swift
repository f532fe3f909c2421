/// A service outlet (服务网点) of the card center.
public struct Outlet: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Outlet>

    public var id: ID
    /// Short code, unique, used in receipt numbers: `DH01`.
    public var code: String
    public var name: String
    public var nameZh: String
    /// The district's 6-digit administrative code, e.g. 330902 (Dinghai).
    public var regionCode: String
    public var address: String

    public init(id: ID, code: String, name: String, nameZh: String, regionCode: String, address: String) {
        self.id = id
        self.code = code
        self.name = name
        self.nameZh = nameZh
        self.regionCode = regionCode
        self.address = address
    }
}

/// What a logged-in member of staff may do.
public enum Role: String, Codable, Sendable, CaseIterable {
    /// Front-desk staff of one outlet.
    case outletOperator = "operator"
    /// Supervises one outlet; verifies applications and may do what its operators do.
    case supervisor
    /// Card center administrator: production, schedules, rules, outlets, staff, audit.
    case administrator = "admin"
    /// A merchant's purchase terminal, authenticated by its terminal key (not a member of staff:
    /// no staff account can have this role).
    case terminal
    /// A department's API client, authenticated by its key or certificate (not a member of
    /// staff): it reaches the department routes only.
    case department
    /// A member of the commission (市民卡管理委员会) who approves or refuses departments'
    /// requests for data; never the requester.
    case commissioner
    /// Supervises: reads the audit trail and the reports, never personal data.
    case auditor

    /// Bound to one outlet: every counter action is done at, and charged to, that outlet.
    public var isOutletBound: Bool { self == .outletOperator || self == .supervisor }

    /// Roles a staff account may have.
    public var isStaff: Bool { self != .terminal && self != .department }
}

/// A member of staff who logs in.
public struct Operator: Hashable, Sendable {
    public typealias ID = Identifier<Operator>

    public var id: ID
    public var username: String
    public var displayName: String
    public var role: Role
    /// Set for outlet-bound roles, nil for administrators.
    public var outletID: Outlet.ID?
    /// bcrypt hash of the password.
    public var passwordHash: String
    public var active: Bool

    public init(
        id: ID, username: String, displayName: String, role: Role, outletID: Outlet.ID?, passwordHash: String,
        active: Bool = true
    ) {
        precondition(role.isOutletBound == (outletID != nil), "outlet-bound roles need an outlet")
        self.id = id
        self.username = username
        self.displayName = displayName
        self.role = role
        self.outletID = outletID
        self.passwordHash = passwordHash
        self.active = active
    }
}

/// A production batch (制卡批次): cards sent to the factory together.
public struct ProductionBatch: Hashable, Codable, Sendable {
    public typealias ID = Identifier<ProductionBatch>

    public var id: ID
    /// Human number, e.g. `PB000012`.
    public var number: String
    public var state: State
    public var cardCount: Int
    public var createdAt: Timestamp
    public var createdBy: String
    /// When the last factory result arrived.
    public var producedAt: Timestamp?
    public var deliveredAt: Timestamp?
    public var version: Int64

    public enum State: String, Codable, Sendable, CaseIterable {
        /// The personalisation file is out; waiting for the factory's per-card results.
        case exported
        /// Every card has a result.
        case produced
        /// The made cards are at their outlets.
        case delivered
    }

    public init(id: ID, number: String, cardCount: Int, createdAt: Timestamp, createdBy: String) {
        self.id = id
        self.number = number
        self.state = .exported
        self.cardCount = cardCount
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.version = 1
    }
}

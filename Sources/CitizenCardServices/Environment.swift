public import CardCrypto
public import CitizenCardDomain
public import Credentials
public import DataProtection
public import Logging
public import Storage
import Foundation
import Synchronization

/// Everything a use case depends on, built once at start-up and injected (STYLE §4).
public struct ServiceEnvironment: Sendable {
    public var store: any CitizenCardStore
    public var vault: PersonVault
    public var clock: any Clock
    public var ids: any IdentifierGenerator
    public var city: CityConfiguration
    public var policy: LifecyclePolicy
    /// bcrypt cost for new password hashes (12 in production; tests use 4 to stay fast).
    public var passwordCost: UInt8
    public var logger: Logger
    /// The issuer's card master keys: personalisation of produced cards, load and TAC checks.
    public var issuerKeys: IssuerKeyring
    /// The region codes (GB/T 2260) ID numbers entered are checked against (docs/region-codes.md).
    public var regions: RegionCodes
    /// Grants' request rates, volumes and the scraping detector (one per server).
    public var grantMonitor = GrantMonitor()
    /// Groups the commits of concurrent department queries and card checks (one per server).
    public let groupCommit = GroupCommit()
    /// The city's credential keys (card codes, status lists, the key list); the server reads them
    /// from `DATA/keys/credential-keys.json`. The default, for tests, is made once per process.
    public var credentialKeys: CredentialKeyring = CredentialKeyring.ephemeral
    /// How card codes are signed and how long they live.
    public var credentialPolicy = CredentialPolicy()
    /// How the center talks to partner banks.
    public var bankPolicy = BankPolicy()
    /// The old cards' coexistence period (docs/legacy-cards.md).
    public var legacyPolicy = LegacyPolicy()
    /// Wakes the bank outbox's sender after a commit that enqueued notices (one per server).
    public let bankOutbox = BankOutboxSignal()

    public init(
        store: any CitizenCardStore, vault: PersonVault, clock: any Clock, ids: any IdentifierGenerator,
        city: CityConfiguration = .zhoushan, policy: LifecyclePolicy = .default, passwordCost: UInt8 = 12,
        issuerKeys: IssuerKeyring, regions: RegionCodes = .bundled, logger: Logger
    ) {
        self.store = store
        self.regions = regions
        self.issuerKeys = issuerKeys
        self.vault = vault
        self.clock = clock
        self.ids = ids
        self.city = city
        self.policy = policy
        self.passwordCost = passwordCost
        self.logger = logger
    }

    func context(_ actor: Actor) -> LifecycleContext {
        LifecycleContext(now: clock.now(), policy: policy, actor: actor.name, outletID: actor.outletID)
    }

    /// Today's date in the city's time zone.
    var today: CalendarDate { clock.now().calendarDate(offsetSeconds: city.utcOffsetSeconds) }
}

/// What makes one city's programme different from another's: configuration, not code.
public struct CityConfiguration: Hashable, Codable, Sendable {
    public var name: String
    public var nameZh: String
    /// The city's 6-digit administrative division code.
    public var divisionCode: String
    /// The 4 digits that start card numbers and application serial numbers.
    public var cardPrefix: String
    /// Offset of local time from UTC; Asia/Shanghai is +8 h all year.
    public var utcOffsetSeconds: Int64
    public var districts: [District]

    public struct District: Hashable, Codable, Sendable {
        public var code: String
        public var name: String
        public var nameZh: String

        public init(code: String, name: String, nameZh: String) {
            self.code = code
            self.name = name
            self.nameZh = nameZh
        }
    }

    public init(
        name: String, nameZh: String, divisionCode: String, cardPrefix: String, utcOffsetSeconds: Int64,
        districts: [District]
    ) {
        self.name = name
        self.nameZh = nameZh
        self.divisionCode = divisionCode
        self.cardPrefix = cardPrefix
        self.utcOffsetSeconds = utcOffsetSeconds
        self.districts = districts
    }

    public static let zhoushan = CityConfiguration(
        name: "Zhoushan", nameZh: "舟山市", divisionCode: "330900", cardPrefix: "3309", utcOffsetSeconds: 8 * 3600,
        districts: [
            District(code: "330902", name: "Dinghai", nameZh: "定海区"),
            District(code: "330903", name: "Putuo", nameZh: "普陀区"),
            District(code: "330921", name: "Daishan", nameZh: "岱山县"),
            District(code: "330922", name: "Shengsi", nameZh: "嵊泗县"),
        ])
}

/// Who is acting: a logged-in member of staff, or the system itself.
public struct Actor: Hashable, Sendable {
    public var operatorID: Operator.ID?
    /// User name as written into events and the audit log.
    public var name: String
    public var role: Role?
    public var outletID: Outlet.ID?
    /// Set for a purchase terminal (role `terminal`).
    public var terminalID: Terminal.ID?
    /// The merchant of a purchase terminal, as found when it authenticated (a terminal never
    /// changes merchant): an upload reads the merchant while it reads the terminal.
    public var merchantID: Merchant.ID?
    /// Set for a department's client (role `department`).
    public var departmentID: Department.ID?
    public var departmentClientID: DepartmentClient.ID?

    public init(
        operatorID: Operator.ID?, name: String, role: Role?, outletID: Outlet.ID?, terminalID: Terminal.ID? = nil,
        merchantID: Merchant.ID? = nil, departmentID: Department.ID? = nil,
        departmentClientID: DepartmentClient.ID? = nil
    ) {
        self.operatorID = operatorID
        self.name = name
        self.role = role
        self.outletID = outletID
        self.terminalID = terminalID
        self.merchantID = merchantID
        self.departmentID = departmentID
        self.departmentClientID = departmentClientID
    }

    public init(_ staff: Operator) {
        self.init(operatorID: staff.id, name: staff.username, role: staff.role, outletID: staff.outletID)
    }

    /// Time-based transitions and maintenance jobs.
    public static let system = Actor(operatorID: nil, name: "system", role: nil, outletID: nil)

    /// The command line, run by whoever operates the server (`citizencard import …`).
    public static func commandLine(_ name: String) -> Actor {
        Actor(operatorID: nil, name: name, role: .administrator, outletID: nil)
    }

    /// Throws `forbidden` unless the actor's role has the permission.
    public func require(_ permission: Permission) throws(CitizenCardError) {
        guard let role, permission.roles.contains(role) else {
            throw CitizenCardError(.forbidden, "\(permission.rawValue) is not permitted for this role")
        }
    }

    /// The outlet where a counter action happens: the actor's own. If the request names another
    /// outlet, the actor may not act for it.
    public func counterOutlet(requested: Outlet.ID? = nil) throws(CitizenCardError) -> Outlet.ID {
        guard let outletID else {
            throw CitizenCardError(.forbidden, "counter services need an outlet-bound role")
        }
        if let requested, requested != outletID {
            throw CitizenCardError(.wrongOutlet, field: "outletId", "you may act only for your own outlet")
        }
        return outletID
    }
}

/// What a role may do. The HTTP route table and every use case check these; a test checks every
/// route against every role.
public enum Permission: String, Sendable, CaseIterable {
    /// Register persons, correct their data, take portraits.
    case maintainPersons = "maintain_persons"
    /// Find and read persons, masked.
    case readPersons = "read_persons"
    /// See personal data unmasked (counter identity checks).
    case revealPersonalData = "reveal_personal_data"
    /// Take applications, issue cards, losses, reissue, replacement, renewal, cancellation, fees.
    case counterService = "counter_service"
    /// 校核: approve or reject applications.
    case verifyApplications = "verify_applications"
    /// Production batches, personalisation files, factory results, delivery.
    case manageProduction = "manage_production"
    /// Fee schedule, eligibility rules, outlets, staff.
    case administer
    /// Read the audit trail and check its chain.
    case readAudit = "read_audit"
    /// Read receipts and cards.
    case readCards = "read_cards"
    /// The outlets' business and cash reports (no personal data: auditors read them too).
    case readReports = "read_reports"
    /// Merchants, terminals, the exceptions queue, fraud signals, clearing and settlement.
    case acquiring
    /// What a purchase terminal does: sign in, upload batches, fetch the hotlist.
    case terminalOperations = "terminal_operations"
    /// What a department's client does: send feeds, request grants, query under them, read its
    /// own access log (docs/departments.md).
    case departmentOperations = "department_operations"
    /// Check a card online: valid, and whether it belongs to an ID number.
    case verifyCards = "verify_cards"
    /// Check an electronic card code online, optionally marking it used (staff, departments,
    /// terminals).
    case verifyCredentials = "verify_credentials"
    /// Departments, their clients and keys, grant agreements, feed results, the review queue.
    case manageDepartments = "manage_departments"
    /// Approve or refuse departments' requests for data (the commission, R-40).
    case decideGrants = "decide_grants"
    /// The disclosure report and the grants (no personal data).
    case superviseDisclosures = "supervise_disclosures"
    /// Stop a grant at once: suspend or revoke it (the center and the commission).
    case stopGrants = "stop_grants"
    /// The cases feeds leave for the outlets (cancel after a death, replace after a change).
    case workCardCases = "work_card_cases"
    /// Close such a case by hand, with a note (a supervisor or the center).
    case closeCardCases = "close_card_cases"
    /// Partner banks: register and change them, retry parked notices, reconcile (issue 20).
    case manageBanks = "manage_banks"
    /// The banks, the notice outbox and the reconciliations (no personal data: auditors too).
    case readBanks = "read_banks"
    /// Release suspense money by a decision of the center (issue 21).
    case decideSuspense = "decide_suspense"
    /// The suspense accounts, unclaimed refunds and the decisions (no personal data).
    case readSuspense = "read_suspense"
    /// The old cards' stop list (no personal data): the center and the departments' systems.
    case readLegacyStopList = "read_legacy_stop_list"

    public var roles: Set<Role> {
        switch self {
        case .maintainPersons, .revealPersonalData, .counterService: [.outletOperator, .supervisor]
        case .readPersons, .readCards: [.outletOperator, .supervisor, .administrator]
        case .verifyApplications: [.supervisor, .administrator]
        case .manageProduction, .administer, .acquiring: [.administrator]
        case .readAudit: [.administrator, .auditor]
        case .readReports: [.outletOperator, .supervisor, .administrator, .auditor]
        case .terminalOperations: [.terminal]
        case .departmentOperations: [.department]
        case .verifyCards: [.department, .terminal]
        case .verifyCredentials: [.outletOperator, .supervisor, .administrator, .department, .terminal]
        case .manageDepartments: [.administrator]
        case .decideGrants: [.commissioner]
        case .superviseDisclosures: [.administrator, .auditor, .commissioner]
        case .stopGrants: [.administrator, .commissioner]
        case .workCardCases: [.outletOperator, .supervisor, .administrator]
        case .closeCardCases: [.supervisor, .administrator]
        case .manageBanks: [.administrator]
        case .readBanks: [.administrator, .auditor]
        case .decideSuspense: [.administrator]
        case .readSuspense: [.administrator, .auditor]
        case .readLegacyStopList: [.administrator, .department]
        }
    }
}

/// The wall clock, truncated to whole seconds.
public struct SystemClock: Clock {
    public init() {}

    public func now() -> Timestamp {
        Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970.rounded(.down)))
    }
}

/// UUID version 7: 48 bits of Unix milliseconds, then 74 bits that are unique: a random
/// per-generator seed mixed with a counter. Ids sort by creation time; two ids from one generator
/// never collide, ids from different processes collide only if 64 random bits do.
public final class UUIDv7Generator: IdentifierGenerator, Sendable {
    private let seed: UInt64
    private let counter = Atomic<UInt64>(0)

    public init() {
        var generator = SystemRandomNumberGenerator()
        seed = generator.next()
    }

    public func next() -> String {
        let milliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
        let count = counter.wrappingAdd(1, ordering: .relaxed).newValue
        // A bijective mix of the counter keeps successive ids from looking sequential.
        let unique = Self.mix(count ^ seed)
        var bytes = (UInt64(0), UInt64(0))
        bytes.0 = milliseconds << 16 | 0x7000 | (unique >> 52 & 0x0FFF)
        bytes.1 = 0x8000_0000_0000_0000 | (unique & 0x3FFF_FFFF_FFFF_FFFF)
        return Self.format(bytes.0, bytes.1)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// 8-4-4-4-12 lowercase hexadecimal digits of the 128 bits `high ‖ low`.
    static func format(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            func put(_ word: UInt64, nibbles: Range<Int>) {
                for nibble in nibbles {
                    if position == 8 || position == 13 || position == 18 || position == 23 {
                        buffer[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    buffer[position] = hexDigits[Int(word >> UInt64(60 - 4 * nibble) & 0xF)]
                    position += 1
                }
            }
            put(high, nibbles: 0..<16)
            put(low, nibbles: 0..<16)
            return 36
        }
    }
}

public import BankProtocol
public import CitizenCardDomain
import BankLink
import DataProtection
import Foundation
public import Storage

/// Partner banks (R-34, R-30; issue 20, docs/banks.md): the banks as data, the account behind
/// each card, the notices to and from the banks, the daily reconciliation.
public struct BankService: Sendable {
    let env: ServiceEnvironment
    var registry: RegistryService { RegistryService(env) }
    var cards: CardService { CardService(env) }

    public init(_ env: ServiceEnvironment) { self.env = env }

    // MARK: Views

    /// A notice's state in the outbox (`pending`, `delivered`, `parked`).
    public typealias NoticeState = BankNotice.State
    /// An account's state (`wanted`, `open`, `held`, `closed`).
    public typealias AccountState = BankAccount.State

    public struct BankView: Codable, Hashable, Sendable {
        public var code: String
        public var name: String
        public var bins: [String]
        public var endpoint: String
        public var activeFrom: Timestamp
        public var activeUntil: Timestamp?
        public var isDefault: Bool
        /// Active at the time of the answer.
        public var active: Bool
        public var pendingNotices: Int64
        public var deliveredNotices: Int64
        public var parkedNotices: Int64
        public var oldestPendingAt: Timestamp?
        public var version: Int64
    }

    /// A bank just registered, or its secret renewed: the secret in hex, shown this once.
    public struct RegisteredBank: Codable, Hashable, Sendable {
        public var bank: BankView
        public var secret: String?
    }

    public struct NoticeView: Codable, Hashable, Sendable {
        public var id: Int64
        public var noticeId: String
        public var bankCode: String
        public var cardId: Card.ID
        public var kind: String
        public var sequence: Int64
        public var state: BankNotice.State
        public var attempts: Int64
        public var nextAttemptAt: Timestamp
        public var lastError: String?
        public var createdAt: Timestamp
        public var businessDate: String
        public var deliveredAt: Timestamp?
        public var parkedAt: Timestamp?

        init(_ n: BankNotice) {
            id = n.id
            noticeId = n.noticeID
            bankCode = n.bankCode
            cardId = n.cardID
            kind = n.kind
            sequence = n.sequence
            state = n.state
            attempts = n.attempts
            nextAttemptAt = n.nextAttemptAt
            lastError = n.lastError
            createdAt = n.createdAt
            businessDate = n.businessDate
            deliveredAt = n.deliveredAt
            parkedAt = n.parkedAt
        }
    }

    /// A card's bank account as staff and the holder see it: the number masked.
    public struct AccountView: Codable, Hashable, Sendable {
        public var cardId: Card.ID
        public var bankCode: String
        public var bankName: String
        public var state: BankAccount.State
        public var maskedNumber: String?
        public var reason: String?
        public var openedAt: Timestamp?
        public var closedAt: Timestamp?
    }

    func view(_ bank: PartnerBank, counts: BankNoticeCount?) -> BankView {
        BankView(
            code: bank.code, name: bank.name, bins: bank.bins, endpoint: bank.endpoint, activeFrom: bank.activeFrom,
            activeUntil: bank.activeUntil, isDefault: bank.isDefault, active: bank.isActive(at: env.clock.now()),
            pendingNotices: counts?.pending ?? 0, deliveredNotices: counts?.delivered ?? 0,
            parkedNotices: counts?.parked ?? 0, oldestPendingAt: counts?.oldestPending, version: bank.version)
    }

    public func banks(actor: Actor) async throws(CitizenCardError) -> [BankView] {
        try actor.require(.readBanks)
        let counts = Dictionary(
            uniqueKeysWithValues: try await env.fetch(try await env.store.bankNoticeCounts()).map { ($0.bankCode, $0) })
        return try await env.fetch(try await env.store.banks()).map { view($0, counts: counts[$0.code]) }
    }

    public func bank(_ code: String, actor: Actor) async throws(CitizenCardError) -> BankView {
        try actor.require(.readBanks)
        let bank = try await load(code)
        let counts = try await env.fetch(try await env.store.bankNoticeCounts()).first { $0.bankCode == bank.code }
        return view(bank, counts: counts)
    }

    func load(_ code: String) async throws(CitizenCardError) -> PartnerBank {
        guard Self.isBankCode(code), let bank = try await env.fetch(try await env.store.bank(code: code)) else {
            throw CitizenCardError.notFound("bank")
        }
        return bank
    }

    /// The account of a card, masked (staff with `readCards`; the portal calls `holderAccount`).
    public func account(cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> AccountView? {
        try actor.require(.readCards)
        return try await accountView(cardID: cardID)
    }

    func accountView(cardID: Card.ID) async throws(CitizenCardError) -> AccountView? {
        guard let account = try await env.fetch(try await env.store.bankAccount(cardID: cardID)) else { return nil }
        let bank = try await env.fetch(try await env.store.bank(code: account.bankCode))
        return AccountView(
            cardId: account.cardID, bankCode: account.bankCode, bankName: bank?.name ?? account.bankCode,
            state: account.state, maskedNumber: account.maskedNumber, reason: account.reason,
            openedAt: account.openedAt, closedAt: account.closedAt)
    }

    // MARK: Registering banks

    public struct BankRegistration: Codable, Sendable {
        public var code: String
        public var name: String
        public var bins: [String]
        public var endpoint: String
        /// `YYYY-MM-DD`, the city's day; today when absent.
        public var activeFrom: String?
        /// `YYYY-MM-DD`: the last day is the one before.
        public var activeUntil: String?
        public var isDefault: Bool?
        /// The shared secret in hex (64-256 digits); the center makes one when absent.
        public var secret: String?

        public init(
            code: String, name: String, bins: [String], endpoint: String, activeFrom: String? = nil,
            activeUntil: String? = nil, isDefault: Bool? = nil, secret: String? = nil
        ) {
            self.code = code
            self.name = name
            self.bins = bins
            self.endpoint = endpoint
            self.activeFrom = activeFrom
            self.activeUntil = activeUntil
            self.isDefault = isDefault
            self.secret = secret
        }
    }

    public struct BankChange: Codable, Sendable {
        public var name: String?
        public var bins: [String]?
        public var endpoint: String?
        public var activeUntil: String?
        public var isDefault: Bool?
        /// A new secret (hex) for the bank; `renewSecret` makes one instead.
        public var secret: String?
        public var renewSecret: Bool?

        public init(
            name: String? = nil, bins: [String]? = nil, endpoint: String? = nil, activeUntil: String? = nil,
            isDefault: Bool? = nil, secret: String? = nil, renewSecret: Bool? = nil
        ) {
            self.name = name
            self.bins = bins
            self.endpoint = endpoint
            self.activeUntil = activeUntil
            self.isDefault = isDefault
            self.secret = secret
            self.renewSecret = renewSecret
        }
    }

    public func register(
        _ request: BankRegistration, actor: Actor, idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> RegisteredBank {
        try actor.require(.manageBanks)
        let code = request.code.trimmingSpaces
        guard Self.isBankCode(code) else {
            throw CitizenCardError.invalid("code", "2-16 capital letters and digits", zh: "银行代码须为2至16位大写字母或数字")
        }
        let now = env.clock.now()
        let from = try date(request.activeFrom, field: "activeFrom") ?? env.today
        let until = try date(request.activeUntil, field: "activeUntil")
        if let until, until <= from {
            throw CitizenCardError.invalid("activeUntil", "after activeFrom", zh: "终止日期须晚于起始日期")
        }
        let secret = try secret(request.secret) ?? BankSignature.newSecret()
        var bank = PartnerBank(
            code: code, name: try Self.name(request.name), bins: try Self.bins(request.bins),
            endpoint: try Self.endpoint(request.endpoint), sealedSecret: try seal(secret, code: code),
            activeFrom: from.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds),
            activeUntil: until?.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds),
            isDefault: request.isDefault ?? false, createdAt: now, createdBy: actor.name)
        var changes = ChangeSet()
        if bank.isDefault { try await clearDefault(except: code, into: &changes) }
        changes.add(.banks(.insertBank(bank)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "bank.register", subject: "bank:\(code)",
                purpose: "partner bank", detail: #"{"bins":\#(bank.bins.count),"default":\#(bank.isDefault)}"#))
        bank.version = 1
        let result = RegisteredBank(bank: view(bank, counts: nil), secret: Self.hex(secret))
        do {
            return try await cards.commit(changes, result: result, idempotency: idempotency)
        } catch  where error.code == .conflict && error.detail?.contains("bank_code") == true {
            throw CitizenCardError(.conflict, field: "code", "a bank with this code exists")
        }
    }

    public func change(
        _ code: String, _ request: BankChange, actor: Actor, idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> RegisteredBank {
        try actor.require(.manageBanks)
        let stored = try await load(code)
        var bank = stored
        if let name = request.name { bank.name = try Self.name(name) }
        if let bins = request.bins { bank.bins = try Self.bins(bins) }
        if let endpoint = request.endpoint { bank.endpoint = try Self.endpoint(endpoint) }
        if let text = request.activeUntil {
            if text.isEmpty {
                bank.activeUntil = nil
            } else {
                let until = try date(text, field: "activeUntil")!.startTimestamp(
                    offsetSeconds: env.city.utcOffsetSeconds)
                guard until > bank.activeFrom else {
                    throw CitizenCardError.invalid("activeUntil", "after activeFrom", zh: "终止日期须晚于起始日期")
                }
                bank.activeUntil = until
            }
        }
        if let isDefault = request.isDefault { bank.isDefault = isDefault }
        var newSecret: Data? = try secret(request.secret)
        if newSecret == nil, request.renewSecret == true { newSecret = BankSignature.newSecret() }
        if let newSecret { bank.sealedSecret = try seal(newSecret, code: bank.code) }
        bank.version = stored.version + 1
        var changes = ChangeSet()
        if bank.isDefault && !stored.isDefault { try await clearDefault(except: bank.code, into: &changes) }
        changes.add(.banks(.updateBank(bank, expectedVersion: stored.version)))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "bank.change", subject: "bank:\(bank.code)",
                purpose: "partner bank", detail: #"{"secretRenewed":\#(newSecret != nil)}"#))
        let result = RegisteredBank(bank: view(bank, counts: nil), secret: newSecret.map(Self.hex))
        return try await cards.commit(changes, result: result, idempotency: idempotency)
    }

    func clearDefault(except code: String, into changes: inout ChangeSet) async throws(CitizenCardError) {
        for var other in try await env.fetch(try await env.store.banks()) where other.isDefault && other.code != code {
            let expected = other.version
            other.isDefault = false
            other.version += 1
            changes.add(.banks(.updateBank(other, expectedVersion: expected)))
        }
    }

    func seal(_ secret: Data, code: String) throws(CitizenCardError) -> Data {
        do {
            return try env.vault.sealer.seal(secret, context: "bank_secret:\(code)")
        } catch {
            throw CitizenCardError(.internal, "the bank's secret cannot be sealed")
        }
    }

    func signature(of bank: PartnerBank) throws(CitizenCardError) -> BankSignature {
        do {
            return BankSignature(
                secret: try env.vault.sealer.open(bank.sealedSecret, context: "bank_secret:\(bank.code)"))
        } catch {
            throw CitizenCardError(.internal, "the bank's secret cannot be opened")
        }
    }

    func secret(_ text: String?) throws(CitizenCardError) -> Data? {
        guard let text else { return nil }
        guard text.utf8.count % 2 == 0, BankSignature.secretBytes.contains(text.utf8.count / 2),
            let bytes = Self.unhex(text)
        else {
            throw CitizenCardError.invalid("secret", "64-256 hex digits", zh: "密钥须为64至256位十六进制数字")
        }
        return bytes
    }

    func date(_ text: String?, field: String) throws(CitizenCardError) -> CalendarDate? {
        guard let text else { return nil }
        guard let date = CalendarDate(iso8601: text) else {
            throw CitizenCardError.invalid(field, "a date YYYY-MM-DD", zh: "日期格式须为YYYY-MM-DD")
        }
        return date
    }

    static func isBankCode(_ code: String) -> Bool {
        (2...16).contains(code.utf8.count)
            && code.utf8.allSatisfy { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }
    }

    static func name(_ text: String) throws(CitizenCardError) -> String {
        let name = text.trimmingSpaces
        guard (1...64).contains(name.count) else {
            throw CitizenCardError.invalid("name", "1-64 characters", zh: "名称须为1至64个字符")
        }
        try TextRule.check(name, field: "name", kind: .line)
        return name
    }

    static func bins(_ bins: [String]) throws(CitizenCardError) -> [String] {
        guard (1...20).contains(bins.count), Set(bins).count == bins.count,
            bins.allSatisfy({ (6...8).contains($0.utf8.count) && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } })
        else {
            throw CitizenCardError.invalid("bins", "1-20 distinct prefixes of 6-8 digits", zh: "卡BIN须为1至20个不重复的6至8位数字")
        }
        return bins
    }

    static func endpoint(_ text: String) throws(CitizenCardError) -> String {
        var endpoint = text.trimmingSpaces
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        guard endpoint.utf8.count <= 200, let url = URLComponents(string: endpoint),
            let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", url.host?.isEmpty == false,
            url.user == nil, url.password == nil, url.query == nil, url.fragment == nil,
            BankLink.target(baseURL: endpoint, path: "/notices") != nil
        else {
            throw CitizenCardError.invalid(
                "endpoint", "an http(s) URL of at most 200 characters without user, query or fragment",
                zh: "接口地址须为不含用户、查询串和片段的http(s)地址")
        }
        return endpoint
    }

    static func hex(_ data: Data) -> String { HexText.encode(data) }

    static func unhex(_ text: String) -> Data? { HexText.decode(text) }

    // MARK: Talking to a bank

    func link() throws(CitizenCardError) -> BankLink {
        do {
            return try BankLinks.link(trustRoots: env.bankPolicy.trustRoots, concurrency: env.bankPolicy.concurrency)
        } catch {
            throw CitizenCardError(.internal, "the banks' trust roots cannot be read")
        }
    }

    /// One signed request to a bank.
    func send(
        _ bank: PartnerBank, path: String, method: String = "POST", body: Data
    ) async throws(CitizenCardError) -> BankLink.Outcome {
        let signature = try signature(of: bank)
        return await try link().send(
            BankLink.Request(
                baseURL: bank.endpoint, path: path, method: method, body: body, direction: .toBank,
                bankCode: bank.code, timeoutSeconds: env.bankPolicy.timeoutSeconds),
            signature: signature, timestamp: env.clock.now().secondsSinceEpoch)
    }

    /// The city's business date of a time (`YYYY-MM-DD`).
    func businessDate(_ time: Timestamp) -> String {
        time.calendarDate(offsetSeconds: env.city.utcOffsetSeconds).iso8601
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
}

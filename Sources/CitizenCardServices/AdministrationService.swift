public import CitizenCardDomain
import Foundation
import HummingbirdBcrypt
import Storage

/// The card center's reference data: fee schedule (R-19), eligibility rules (R-03), outlets and
/// staff. Every change is audited.
public struct AdministrationService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    // MARK: Fees

    public struct FeeScheduleView: Codable, Hashable, Sendable {
        /// Every entry ever made, by item and start.
        public var entries: [FeeEntry]
        /// The amount in force now for each item that has one.
        public var current: [String: Money]
    }

    public func feeSchedule(actor: Actor) async throws(CitizenCardError) -> FeeScheduleView {
        try actor.require(.readCards)
        let entries = try await env.fetch(try await env.store.feeEntries())
        let schedule = FeeSchedule(entries: entries)
        var current: [String: Money] = [:]
        for item in FeeItem.allCases {
            if let amount = try? schedule.fee(for: item, at: env.clock.now()) { current[item.rawValue] = amount }
        }
        return FeeScheduleView(entries: entries, current: current)
    }

    public struct NewFee: Codable, Sendable {
        public var item: FeeItem
        public var amountFen: Int64
        /// From when; not in the past (a schedule never changes what was charged).
        public var effectiveFrom: Timestamp
        public var authority: String

        public init(item: FeeItem, amountFen: Int64, effectiveFrom: Timestamp, authority: String) {
            self.item = item
            self.amountFen = amountFen
            self.effectiveFrom = effectiveFrom
            self.authority = authority
        }
    }

    public func addFee(_ request: NewFee, actor: Actor) async throws(CitizenCardError) -> FeeScheduleView {
        try actor.require(.administer)
        let entry = FeeEntry(
            item: request.item, amount: Money(fen: request.amountFen), effectiveFrom: request.effectiveFrom,
            authority: request.authority.trimmingSpaces)
        do {
            try entry.validate()
            try TextRule.check(entry.authority, field: "authority", kind: .line)
        } catch  where error.field == "amount" {
            // The request names the field `amountFen`; the problem names what the client sent.
            throw CitizenCardError(
                error.code, field: "amountFen", error.detail, zh: error.detailZh, retryAfterSeconds: nil)
        }
        guard entry.effectiveFrom >= env.clock.now() else {
            throw CitizenCardError.invalid(
                "effectiveFrom", "a fee takes effect now or later, never in the past", zh: "收费标准的生效日期不能早于今天")
        }
        var changes = ChangeSet()
        changes.add(.insertFeeEntry(entry))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "fee.add", subject: "fee:\(entry.item.rawValue)",
                purpose: entry.authority,
                detail: #"{"amountFen":\#(entry.amount.fen),"effectiveFrom":"\#(entry.effectiveFrom.iso8601)"}"#))
        try await env.commit(changes)
        return try await feeSchedule(actor: actor)
    }

    // MARK: Eligibility rules

    public func eligibilityRules(actor: Actor) async throws(CitizenCardError) -> [EligibilityRule] {
        try actor.require(.readPersons)
        return try await env.fetch(try await env.store.eligibilityRules())
    }

    public struct NewRule: Codable, Sendable {
        public var code: String
        public var title: String
        public var titleZh: String
        public var criteria: [Criterion]
        public var effectiveFrom: CalendarDate
        public var effectiveUntil: CalendarDate?

        public init(
            code: String, title: String, titleZh: String, criteria: [Criterion], effectiveFrom: CalendarDate,
            effectiveUntil: CalendarDate? = nil
        ) {
            self.code = code
            self.title = title
            self.titleZh = titleZh
            self.criteria = criteria
            self.effectiveFrom = effectiveFrom
            self.effectiveUntil = effectiveUntil
        }
    }

    /// A rule the city adds (Art 4: "符合市政府相关规定的…"): data, effective-dated, audited.
    public func addRule(_ request: NewRule, actor: Actor) async throws(CitizenCardError) -> EligibilityRule {
        try actor.require(.administer)
        let rule = EligibilityRule(
            id: env.ids.make(), code: request.code, title: request.title.trimmingSpaces,
            titleZh: request.titleZh.trimmingSpaces, criteria: request.criteria, effectiveFrom: request.effectiveFrom,
            effectiveUntil: request.effectiveUntil)
        try rule.validate()
        guard rule.effectiveFrom >= env.today else {
            throw CitizenCardError.invalid(
                "effectiveFrom", "a rule takes effect today or later; past eligibility is not rewritten")
        }
        var changes = ChangeSet()
        changes.add(.insertEligibilityRule(rule))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "rule.add", subject: "rule:\(rule.id)",
                purpose: "eligibility rule", detail: #"{"code":"\#(rule.code)","from":"\#(rule.effectiveFrom)"}"#))
        try await env.commit(changes)
        return rule
    }

    /// Ends a rule: it no longer applies from `effectiveUntil` on.
    public func endRule(
        _ id: EligibilityRule.ID, effectiveUntil: CalendarDate, actor: Actor
    ) async throws(CitizenCardError)
        -> EligibilityRule
    {
        try actor.require(.administer)
        let rules = try await env.fetch(try await env.store.eligibilityRules())
        guard var rule = rules.first(where: { $0.id == id }) else {
            throw CitizenCardError.notFound("eligibility rule")
        }
        guard effectiveUntil >= env.today else {
            throw CitizenCardError.invalid(
                "effectiveUntil", "a rule ends today or later; past eligibility is not rewritten")
        }
        if let current = rule.effectiveUntil, current <= env.today {
            throw CitizenCardError.invalid("effectiveUntil", "the rule has ended already")
        }
        rule.effectiveUntil = effectiveUntil
        try rule.validate()
        var changes = ChangeSet()
        changes.add(.updateEligibilityRule(rule))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "rule.end", subject: "rule:\(rule.id)",
                purpose: "eligibility rule", detail: #"{"code":"\#(rule.code)","until":"\#(effectiveUntil)"}"#))
        try await env.commit(changes)
        return rule
    }

    // MARK: Outlets and staff

    public func outlets(actor: Actor) async throws(CitizenCardError) -> [Outlet] {
        try actor.require(.readCards)
        return try await env.fetch(try await env.store.outlets())
    }

    public struct NewOutlet: Codable, Sendable {
        public var code: String
        public var name: String
        public var nameZh: String
        public var regionCode: String
        public var address: String

        public init(code: String, name: String, nameZh: String, regionCode: String, address: String) {
            self.code = code
            self.name = name
            self.nameZh = nameZh
            self.regionCode = regionCode
            self.address = address
        }
    }

    public func addOutlet(_ request: NewOutlet, actor: Actor) async throws(CitizenCardError) -> Outlet {
        try actor.require(.administer)
        let code = request.code.trimmingSpaces.uppercased()
        guard (2...8).contains(code.count), code.utf8.allSatisfy({ $0.isASCIIAlphanumeric }) else {
            throw CitizenCardError.invalid("code", "2-8 letters and digits")
        }
        guard request.regionCode.utf8.count == 6, request.regionCode.utf8.allSatisfy({ (0x30...0x39).contains($0) })
        else { throw CitizenCardError.invalid("regionCode", "a 6-digit administrative division code") }
        let outlet = Outlet(
            id: env.ids.make(), code: code, name: try PersonFields.name(request.name, field: "name"),
            nameZh: try PersonFields.name(request.nameZh, field: "nameZh"), regionCode: request.regionCode,
            address: try PersonFields.text(request.address, field: "address", lengthMax: 200) ?? "")
        var changes = ChangeSet()
        changes.add(.insertOutlet(outlet))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "outlet.add", subject: "outlet:\(outlet.id)",
                purpose: "administration", detail: #"{"code":"\#(code)"}"#))
        do {
            try await env.store.commit(changes)
        } catch .duplicate(.outletCode) {
            throw CitizenCardError(.conflict, field: "code", "an outlet with this code exists")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return outlet
    }

    public func operators(actor: Actor) async throws(CitizenCardError) -> [OperatorView] {
        try actor.require(.administer)
        return try await env.fetch(try await env.store.operators()).map(
            OperatorView.init)
    }

    public struct NewOperator: Codable, Sendable {
        public var username: String
        public var displayName: String
        public var role: Role
        public var outletId: Outlet.ID?
        public var password: String

        public init(username: String, displayName: String, role: Role, outletId: Outlet.ID?, password: String) {
            self.username = username
            self.displayName = displayName
            self.role = role
            self.outletId = outletId
            self.password = password
        }
    }

    public static let passwordLengthMin = 10

    static func checkPassword(_ password: String, field: String = "password") throws(CitizenCardError) {
        guard password.count >= passwordLengthMin, password.utf8.count <= 72 else {
            throw CitizenCardError.invalid(
                field, "\(passwordLengthMin)-72 characters", zh: "密码须为\(passwordLengthMin)至72个字符")
        }
    }

    public struct OperatorChange: Codable, Sendable {
        public var displayName: String?
        /// false ends every session of the account at once and refuses new log-ins.
        public var active: Bool?
        /// A new password (a reset by an administrator).
        public var password: String?

        public init(displayName: String? = nil, active: Bool? = nil, password: String? = nil) {
            self.displayName = displayName
            self.active = active
            self.password = password
        }
    }

    /// Renames, deactivates or reactivates an account, or resets its password.
    public func changeOperator(
        _ id: Operator.ID, _ change: OperatorChange, actor: Actor
    ) async throws(CitizenCardError)
        -> OperatorView
    {
        try actor.require(.administer)
        guard var staff = try await env.fetch(try await env.store.operator(id: id))
        else {
            throw CitizenCardError.notFound("operator")
        }
        var fields: [String] = []
        if let name = change.displayName {
            staff.displayName = try PersonFields.name(name, field: "displayName")
            fields.append("displayName")
        }
        if let active = change.active {
            if staff.id == actor.operatorID && !active {
                throw CitizenCardError.invalid("active", "you cannot deactivate your own account")
            }
            staff.active = active
            fields.append("active")
        }
        if let password = change.password {
            try Self.checkPassword(password)
            staff.passwordHash = await PasswordHashing.hash(password, cost: env.passwordCost)
            fields.append("password")
        }
        guard !fields.isEmpty else { throw CitizenCardError.invalid("displayName", "the change changes nothing") }
        var changes = ChangeSet()
        changes.add(.updateOperator(staff))
        if change.password != nil || change.active == false {
            // A reset or a deactivation ends every session of the account at once.
            changes.add(.deleteSessions(operatorID: staff.id, keeping: nil))
        }
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "operator.change", subject: "operator:\(staff.id)",
                purpose: "administration",
                detail: #"{"fields":"\#(fields.joined(separator: ","))","active":\#(staff.active)}"#))
        try await env.commit(changes)
        return OperatorView(staff)
    }

    /// The account of a user name (the command line manages staff by name).
    public func operatorID(username: String) async throws(CitizenCardError) -> Operator.ID {
        let name = username.trimmingSpaces.lowercased()
        guard
            let staff = try await env.fetch(try await env.store.operator(username: name))
        else {
            throw CitizenCardError.notFound("operator")
        }
        return staff.id
    }

    /// 3-32 of `a-z 0-9 . - _`: the form of every staff user name (canonical: lowercase).
    public static func isUsername(_ name: String) -> Bool {
        (3...32).contains(name.utf8.count)
            && name.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) || $0 == UInt8(ascii: ".")
                    || $0 == UInt8(ascii: "-")
                    || $0 == UInt8(ascii: "_")
            }
    }

    public func addOperator(_ request: NewOperator, actor: Actor) async throws(CitizenCardError) -> OperatorView {
        try actor.require(.administer)
        let username = AuthService.canonicalUsername(request.username)
        guard Self.isUsername(username) else {
            throw CitizenCardError.invalid("username", "3-32 of a-z, 0-9, '.', '-', '_'")
        }
        guard request.role.isStaff else {
            throw CitizenCardError.invalid(
                "role",
                "operator, supervisor, admin, commissioner or auditor (terminals are registered under a merchant, department clients under their department)"
            )
        }
        guard request.role.isOutletBound == (request.outletId != nil) else {
            throw CitizenCardError.invalid(
                "outletId", "operators and supervisors belong to an outlet; other roles do not")
        }
        if let outletID = request.outletId,
            try await env.fetch(try await env.store.outlet(id: outletID)) == nil
        {
            throw CitizenCardError.notFound("outlet")
        }
        try Self.checkPassword(request.password)
        let staff = Operator(
            id: env.ids.make(), username: username,
            displayName: try PersonFields.name(request.displayName, field: "displayName"),
            role: request.role, outletID: request.outletId,
            passwordHash: await PasswordHashing.hash(request.password, cost: env.passwordCost))
        var changes = ChangeSet()
        changes.add(.insertOperator(staff))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "operator.add", subject: "operator:\(staff.id)",
                purpose: "administration", detail: #"{"username":"\#(username)","role":"\#(staff.role.rawValue)"}"#))
        do {
            try await env.store.commit(changes)
        } catch .duplicate(.operatorUsername) {
            throw CitizenCardError(.conflict, field: "username", "the user name is taken")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return OperatorView(staff)
    }
}

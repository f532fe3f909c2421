public import CitizenCardDomain
import Crypto
import Foundation
import Storage
import Synchronization

/// Grants (R-40, issue 18): a department's request for fields, for a purpose, on a legal basis,
/// for a period and a volume; the commission's decision; the confidentiality agreement the
/// information center records; suspension and revocation with immediate effect.
public struct GrantService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct GrantRequest: Codable, Sendable {
        /// Only when the center files the request on a department's behalf; a department's
        /// client asks for its own department.
        public var departmentId: Department.ID?
        /// Field → form (`{"name":"masked","socialInsurance":"yes_no"}`).
        public var fields: [String: String]
        public var purpose: String
        public var legalBasis: String
        public var validFrom: CalendarDate
        public var validUntil: CalendarDate
        public var dailyVolume: Int64?
        public var ratePerMinute: Int64?

        public init(
            departmentId: Department.ID? = nil, fields: [String: String], purpose: String, legalBasis: String,
            validFrom: CalendarDate, validUntil: CalendarDate, dailyVolume: Int64? = nil, ratePerMinute: Int64? = nil
        ) {
            self.departmentId = departmentId
            self.fields = fields
            self.purpose = purpose
            self.legalBasis = legalBasis
            self.validFrom = validFrom
            self.validUntil = validUntil
            self.dailyVolume = dailyVolume
            self.ratePerMinute = ratePerMinute
        }
    }

    public func request(_ request: GrantRequest, actor: Actor) async throws(CitizenCardError) -> Grant {
        let departmentID: Department.ID
        if actor.role == .department {
            guard request.departmentId == nil || request.departmentId == actor.departmentID,
                let own = actor.departmentID
            else { throw CitizenCardError(.forbidden, field: "departmentId", "a department asks for itself") }
            departmentID = own
        } else {
            try actor.require(.manageDepartments)
            guard let id = request.departmentId else {
                throw CitizenCardError.invalid("departmentId", "name the department", zh: "请指明部门")
            }
            departmentID = id
        }
        guard try await env.fetch(try await env.store.department(id: departmentID)) != nil else {
            throw CitizenCardError.notFound("department")
        }
        let fields = try Self.fields(request.fields)
        let purpose = try RegistryService.reason(request.purpose, default: nil, field: "purpose")
        let basis = try RegistryService.reason(request.legalBasis, default: nil, field: "legalBasis")
        let today = env.today
        guard request.validFrom >= today, request.validFrom <= request.validUntil else {
            throw CitizenCardError.invalid(
                "validFrom", "from today or later, and not after validUntil", zh: "起始日期不得早于今天且不得晚于截止日期")
        }
        guard request.validUntil.daysSinceEpoch - request.validFrom.daysSinceEpoch <= 3 * 366 else {
            throw CitizenCardError.invalid("validUntil", "a grant lasts at most 3 years", zh: "授权期限最长3年")
        }
        let volume = request.dailyVolume ?? 1000
        guard (1...1_000_000).contains(volume) else {
            throw CitizenCardError.invalid("dailyVolume", "1 to 1000000 persons a day", zh: "须为每日1至1000000人次")
        }
        let rate = request.ratePerMinute ?? 60
        guard (1...60_000).contains(rate) else {
            throw CitizenCardError.invalid("ratePerMinute", "1 to 60000 requests a minute", zh: "须为每分钟1至60000次")
        }
        let now = env.clock.now()
        let grant = Grant(
            id: Grant.ID(rawValue: env.ids.next()), departmentID: departmentID, fields: fields, purpose: purpose,
            legalBasis: basis, validFrom: request.validFrom, validUntil: request.validUntil, dailyVolume: volume,
            ratePerMinute: rate, requestedBy: actor.name, requestedAt: now)
        var changes = ChangeSet()
        changes.add(.department(.insertGrant(grant)))
        changes.record(audit(grant, actor: actor, action: "grant.request", purpose: purpose))
        try await env.commit(changes)
        return grant
    }

    public struct Decision: Codable, Sendable {
        public var note: String?
        public init(note: String? = nil) { self.note = note }
    }

    public struct AgreementRequest: Codable, Sendable {
        public var reference: String
        public var signatory: String
        public var signedOn: CalendarDate

        public init(reference: String, signatory: String, signedOn: CalendarDate) {
            self.reference = reference
            self.signatory = signatory
            self.signedOn = signedOn
        }
    }

    public func approve(_ id: Grant.ID, _ decision: Decision, actor: Actor) async throws(CitizenCardError) -> Grant {
        try actor.require(.decideGrants)
        let note = try decision.note.map { (text) throws(CitizenCardError) in
            try RegistryService.reason(text, default: nil, field: "note")
        }
        return try await move(id, .approve(by: actor.name, note: note), actor: actor, action: "grant.approve")
    }

    public func refuse(_ id: Grant.ID, _ decision: Decision, actor: Actor) async throws(CitizenCardError) -> Grant {
        try actor.require(.decideGrants)
        let note = try RegistryService.reason(decision.note, default: nil, field: "note")
        return try await move(id, .refuse(by: actor.name, note: note), actor: actor, action: "grant.refuse")
    }

    public func recordAgreement(
        _ id: Grant.ID, _ request: AgreementRequest, actor: Actor
    ) async throws(CitizenCardError) -> Grant {
        try actor.require(.manageDepartments)
        let reference = try DepartmentService.text(request.reference, field: "reference", max: 100)
        let signatory = try DepartmentService.text(request.signatory, field: "signatory", max: 100)
        guard request.signedOn <= env.today else {
            throw CitizenCardError.invalid("signedOn", "not in the future", zh: "不得晚于今天")
        }
        let agreement = Grant.Agreement(
            reference: reference, signatory: signatory, signedOn: request.signedOn, recordedBy: actor.name,
            recordedAt: env.clock.now())
        return try await move(id, .recordAgreement(agreement), actor: actor, action: "grant.agreement")
    }

    public struct StateChange: Codable, Sendable {
        public var reason: String
        public init(reason: String) { self.reason = reason }
    }

    public func suspend(_ id: Grant.ID, _ change: StateChange, actor: Actor) async throws(CitizenCardError) -> Grant {
        try requireOversight(actor)
        let reason = try RegistryService.reason(change.reason, default: nil)
        return try await move(id, .suspend(reason: reason), actor: actor, action: "grant.suspend")
    }

    public func resume(_ id: Grant.ID, _ change: StateChange, actor: Actor) async throws(CitizenCardError) -> Grant {
        try actor.require(.manageDepartments)
        let reason = try RegistryService.reason(change.reason, default: nil)
        let resumed = try await move(id, .resume, actor: actor, action: "grant.resume", purpose: reason)
        env.grantMonitor.reset(id)  // the scraping window starts afresh
        return resumed
    }

    public func revoke(_ id: Grant.ID, _ change: StateChange, actor: Actor) async throws(CitizenCardError) -> Grant {
        try requireOversight(actor)
        let reason = try RegistryService.reason(change.reason, default: nil)
        return try await move(id, .revoke(reason: reason), actor: actor, action: "grant.revoke")
    }

    /// The center and the commission may stop a grant at once.
    func requireOversight(_ actor: Actor) throws(CitizenCardError) {
        try actor.require(.stopGrants)
    }

    /// Grants a caller may see: the center, the commission and auditors see all; a department its own.
    public func list(actor: Actor) async throws(CitizenCardError) -> [Grant] {
        if actor.role == .department {
            return try await env.fetch(try await env.store.grants(departmentID: actor.departmentID))
        }
        try actor.require(.superviseDisclosures)
        return try await env.fetch(try await env.store.grants(departmentID: nil))
    }

    public func grant(_ id: Grant.ID, actor: Actor) async throws(CitizenCardError) -> Grant {
        let grant = try await load(id)
        if actor.role == .department {
            guard grant.departmentID == actor.departmentID else { throw CitizenCardError.notFound("grant") }
        } else {
            try actor.require(.superviseDisclosures)
        }
        return grant
    }

    /// One step in a grant's life as the audit trail recorded it: no personal data.
    public struct HistoryEntry: Codable, Sendable, Hashable {
        public var at: Timestamp
        public var actor: String
        /// `grant.request`, `grant.approve`, `grant.refuse`, `grant.agreement`, `grant.suspend`,
        /// `grant.resume`, `grant.revoke`, `grant.scraping_signal`.
        public var action: String
        /// The note or reason given with a decision, suspension, resumption or revocation.
        public var reason: String?
    }

    /// The grant's history, oldest first, for whoever may read the grant (the console's grant
    /// page shows it; the commission reads it without reading the whole audit trail).
    public func history(_ id: Grant.ID, actor: Actor) async throws(CitizenCardError) -> [HistoryEntry] {
        _ = try await grant(id, actor: actor)
        let entries = try await env.fetch(
            try await env.store.auditEntries(AuditFilter(subject: "grant:\(id)"), limit: 1000))
        let reasoned: Set<String> = ["grant.approve", "grant.refuse", "grant.suspend", "grant.resume", "grant.revoke"]
        return entries.reversed().map { entry in
            let draft = entry.draft
            // An approval without a note is recorded with the placeholder purpose "grant".
            let reason = reasoned.contains(draft.action) && draft.purpose != "grant" ? draft.purpose : nil
            return HistoryEntry(at: draft.at, actor: draft.actor, action: draft.action, reason: reason)
        }
    }

    func load(_ id: Grant.ID) async throws(CitizenCardError) -> Grant {
        guard let grant = try await env.fetch(try await env.store.grant(id: id)) else {
            throw CitizenCardError.notFound("grant")
        }
        return grant
    }

    func move(
        _ id: Grant.ID, _ action: Grant.Action, actor: Actor, action name: String, purpose: String? = nil
    ) async throws(CitizenCardError) -> Grant {
        let stored = try await load(id)
        let next = try stored.applying(action, at: env.clock.now())
        var changes = ChangeSet()
        changes.add(.department(.updateGrant(next, expectedVersion: stored.version)))
        changes.record(
            audit(
                next, actor: actor, action: name, purpose: purpose ?? next.stateReason ?? next.decisionNote ?? "grant"))
        try await env.commit(changes)
        return next
    }

    func audit(_ grant: Grant, actor: Actor, action: String, purpose: String) -> AuditDraft {
        AuditDraft(
            at: env.clock.now(), actor: actor.name, action: action, subject: "grant:\(grant.id)", purpose: purpose,
            detail: RegistryService.json([
                "department": grant.departmentID.rawValue, "state": grant.state.rawValue,
                "fields": GrantField.allCases.filter { grant.fields[$0] != nil }.map(\.rawValue).joined(separator: ","),
            ]))
    }

    static func fields(_ requested: [String: String]) throws(CitizenCardError) -> [GrantField: DisclosureForm] {
        guard !requested.isEmpty, requested.count <= GrantField.allCases.count else {
            throw CitizenCardError.invalid("fields", "name at least one field", zh: "至少申请一个字段")
        }
        var fields: [GrantField: DisclosureForm] = [:]
        for (name, formName) in requested.sorted(by: { $0.key < $1.key }) {
            guard let field = GrantField(rawValue: name) else {
                throw CitizenCardError.invalid(
                    "fields.\(name.prefix(40))",
                    "not in the catalogue: \(GrantField.allCases.map(\.rawValue).joined(separator: ", "))",
                    zh: "不在字段目录中")
            }
            guard let form = DisclosureForm(rawValue: formName), field.forms.contains(form) else {
                throw CitizenCardError.invalid(
                    "fields.\(name)",
                    "\(name) may be disclosed as \(field.forms.map(\.rawValue).sorted().joined(separator: ", "))",
                    zh: "该字段不能以此形式提供")
            }
            fields[field] = form
        }
        return fields
    }
}

/// Per-grant request rates, daily volumes and the bulk-scraping detector, held in memory per
/// instance (as the log-in throttles are; docs/departments.md).
public final class GrantMonitor: Sendable {
    struct Usage {
        var minuteStart: Int64 = 0
        var minuteCount: Int64 = 0
        var day: Int64 = -1
        var dayCount: Int64 = 0
        var daySeeded = false
        /// Persons disclosed in the scraping window: person → last time.
        var recent: [String: Int64] = [:]
        var signalled = false
    }

    private let usage = Mutex<[Grant.ID: Usage]>([:])

    /// Distinct persons one grant may disclose within `window` seconds before a signal is raised
    /// (`signalPersons`) and before the grant is suspended (`suspendPersons`).
    public let window: Int64
    public let signalPersons: Int
    public let suspendPersons: Int

    public init(window: Int64 = 600, signalPersons: Int = 200, suspendPersons: Int = 500) {
        precondition(window > 0 && signalPersons > 0 && suspendPersons >= signalPersons)
        self.window = window
        self.signalPersons = signalPersons
        self.suspendPersons = suspendPersons
    }

    enum Verdict: Equatable {
        case allowed
        case rateExceeded(retryAfter: Int64)
        case volumeExceeded
    }

    /// Counts `count` requests on the grant at `now`, or refuses them. `seed` gives the day's
    /// count stored so far (read once a day per grant).
    func admit(
        _ grant: Grant, count: Int64, now: Int64, day: Int64, seed: () -> Int64?
    ) -> Verdict {
        usage.withLock { table in
            var entry = table[grant.id] ?? Usage()
            if now - entry.minuteStart >= 60 {
                entry.minuteStart = now
                entry.minuteCount = 0
            }
            if entry.day != day {
                entry.day = day
                entry.dayCount = 0
                entry.daySeeded = false
            }
            if !entry.daySeeded, let stored = seed() {
                entry.dayCount = max(entry.dayCount, stored)
                entry.daySeeded = true
            }
            guard entry.minuteCount + count <= grant.ratePerMinute else {
                table[grant.id] = entry
                return .rateExceeded(retryAfter: max(1, 60 - (now - entry.minuteStart)))
            }
            guard entry.dayCount + count <= grant.dailyVolume else {
                table[grant.id] = entry
                return .volumeExceeded
            }
            entry.minuteCount += count
            entry.dayCount += count
            table[grant.id] = entry
            return .allowed
        }
    }

    func needsSeed(_ grant: Grant.ID, day: Int64) -> Bool {
        usage.withLock { table in
            guard let entry = table[grant] else { return true }
            return entry.day != day || !entry.daySeeded
        }
    }

    /// Records the persons disclosed; answers how many distinct persons the grant disclosed in
    /// the window, and whether this crossed the signal threshold for the first time.
    func observe(_ grant: Grant.ID, persons: [Person.ID], now: Int64) -> (distinct: Int, newSignal: Bool) {
        usage.withLock { table in
            var entry = table[grant] ?? Usage()
            for person in persons { entry.recent[person.rawValue] = now }
            if entry.recent.count > signalPersons {
                entry.recent = entry.recent.filter { now - $0.value < window }
            }
            let distinct = entry.recent.count
            var newSignal = false
            if distinct > signalPersons && !entry.signalled {
                entry.signalled = true
                newSignal = true
            } else if distinct <= signalPersons {
                entry.signalled = false
            }
            table[grant] = entry
            return (distinct, newSignal)
        }
    }

    /// Forgets a grant's window (after it was resumed).
    func reset(_ grant: Grant.ID) {
        _ = usage.withLock { $0.removeValue(forKey: grant) }
    }
}

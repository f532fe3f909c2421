public import CitizenCardDomain
import Foundation
import Storage

/// What departments learn (R-40, R-41, R-42, R-31 online; issue 18): persons looked up under an
/// active grant, in the grant's forms only; cards checked online; every answer recorded as a
/// disclosure with its purpose, case number and end user, audited in the same commit, shown to
/// the department in its access log and to the citizen in the portal.
public struct DisclosureService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// The purpose headers every department request carries.
    public struct Purpose: Sendable, Hashable {
        public var purpose: String
        public var caseNumber: String
        public var endUser: String

        public init(purpose: String?, caseNumber: String?, endUser: String?) throws(CitizenCardError) {
            func value(_ text: String?, _ header: String, max: Int) throws(CitizenCardError) -> String {
                let trimmed = text?.trimmingSpaces ?? ""
                guard !trimmed.isEmpty else {
                    throw CitizenCardError(.purposeRequired, field: header, "the \(header) header is required")
                }
                guard trimmed.count <= max else {
                    throw CitizenCardError.invalid(header, "at most \(max) characters", zh: "不超过\(max)个字符")
                }
                try TextRule.check(trimmed, field: header, kind: .line)
                return trimmed
            }
            self.purpose = try value(purpose, "X-Purpose", max: 200)
            self.caseNumber = try value(caseNumber, "X-Case-Number", max: 64)
            self.endUser = try value(endUser, "X-End-User", max: 64)
        }
    }

    // MARK: Person queries

    public struct LookupRequest: Codable, Sendable {
        public var grantId: Grant.ID
        /// One to `DepartmentPolicy.queryBatchMax` ID numbers, in the body (never in a URL).
        public var idNumbers: [String]

        public init(grantId: Grant.ID, idNumbers: [String]) {
            self.grantId = grantId
            self.idNumbers = idNumbers
        }
    }

    /// A disclosed value: text, or yes/no.
    public enum Value: Codable, Sendable, Hashable {
        case text(String)
        case flag(Bool)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .flag(flag)
            } else {
                self = .text(try container.decode(String.self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .flag(let flag): try container.encode(flag)
            }
        }
    }

    public struct LookupAnswer: Codable, Sendable, Hashable {
        /// The position of the ID number in the request.
        public var index: Int
        /// False for an unknown person, and for an ID number that is not a valid one: the same answer.
        public var found: Bool
        public var fields: [String: Value]?
    }

    public struct Lookup: Codable, Sendable {
        public var grantId: Grant.ID
        public var results: [LookupAnswer]
    }

    /// Looks persons up under a grant. A grant that is not the caller's, not active or not in
    /// force today is `grant_inactive`, before anything about a person is read.
    public func lookup(
        _ request: LookupRequest, purpose: Purpose, actor: Actor
    ) async throws(CitizenCardError) -> Lookup {
        try actor.require(.departmentOperations)
        guard (1...DepartmentPolicy.queryBatchMax).contains(request.idNumbers.count) else {
            throw CitizenCardError.invalid(
                "idNumbers", "1 to \(DepartmentPolicy.queryBatchMax) ID numbers",
                zh: "须为1至\(DepartmentPolicy.queryBatchMax)个身份证号码")
        }
        let grant = try await activeGrant(request.grantId, actor: actor)
        try await admit(grant, count: Int64(request.idNumbers.count))
        let today = env.today
        let now = env.clock.now()
        let registry = RegistryService(env)
        var answers: [LookupAnswer] = []
        var changes = ChangeSet()
        var disclosures: [Disclosure] = []
        var persons: [Person.ID] = []
        let names = GrantField.allCases.filter { grant.fields[$0] != nil }
        for (index, text) in request.idNumbers.enumerated() {
            var person: Person? = nil
            if let id = try? PersonFields.residentID(text, today: today, regions: nil),
                let sealed = try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(id)))
            {
                person = try registry.open(sealed)
            }
            guard let person else {
                answers.append(LookupAnswer(index: index, found: false, fields: nil))
                disclosures.append(
                    disclosure(.query, grant: grant, person: nil, purpose: purpose, fields: [], actor: actor, at: now))
                continue
            }
            let card =
                grant.fields[.cardStatus] == nil
                ? nil : try await currentCard(of: person.id)
            answers.append(
                LookupAnswer(index: index, found: true, fields: try disclose(person, card: card, grant: grant)))
            persons.append(person.id)
            disclosures.append(
                disclosure(
                    .query, grant: grant, person: person.id, purpose: purpose, fields: names.map(\.rawValue),
                    actor: actor, at: now))
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: "department.query", subject: "person:\(person.id)",
                    personID: person.id, purpose: purpose.purpose,
                    detail: RegistryService.json([
                        "grant": grant.id.rawValue, "case": purpose.caseNumber,
                        "fields": names.map(\.rawValue).joined(separator: ","),
                    ])))
        }
        let missed = answers.count - persons.count
        if missed > 0 {
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: "department.query.not_found", subject: "grant:\(grant.id)",
                    purpose: purpose.purpose,
                    detail: RegistryService.json(["case": purpose.caseNumber, "count": "\(missed)"])))
        }
        changes.add(.department(.insertDisclosures(disclosures)))
        try await env.commitGrouped(changes)
        try await watch(grant, persons: persons, actor: actor)
        return Lookup(grantId: grant.id, results: answers)
    }

    /// The grant's fields of one person in the grant's forms.
    func disclose(
        _ person: Person, card: (card: Card, held: Bool)?, grant: Grant
    ) throws(CitizenCardError) -> [String: Value] {
        var fields: [String: Value] = [:]
        let details = person.details
        let department = grant.departmentID.rawValue
        func keyed(_ value: String, _ field: GrantField) -> Value {
            .text(
                env.vault.departmentHash(value, department: department, field: field.rawValue)
                    .map { String(format: "%02x", $0) }.joined())
        }
        for (field, form) in grant.fields {
            let value: Value?
            switch (field, form) {
            case (.name, .full): value = .text(details.name)
            case (.name, .masked): value = .text(Masking.name(details.name))
            case (.name, .keyedHash): value = keyed(details.name, field)
            case (.idNumber, .full): value = .text(details.residentID.number)
            case (.idNumber, .masked): value = .text(Masking.residentID(details.residentID.number))
            case (.idNumber, .keyedHash): value = keyed(details.residentID.number, field)
            case (.phone, .full): value = details.phone.map(Value.text)
            case (.phone, .masked): value = details.phone.map { .text(Masking.phone($0)) }
            case (.phone, .keyedHash): value = details.phone.map { keyed($0, field) }
            case (.address, .full): value = details.address.map(Value.text)
            case (.address, .masked): value = details.address.map { .text(Masking.address($0)) }
            case (.address, .keyedHash): value = details.address.map { keyed($0, field) }
            case (.employer, .full): value = details.employer.map(Value.text)
            case (.employer, .keyedHash): value = details.employer.map { keyed($0, field) }
            case (.sex, _): value = .text(details.sex.rawValue)
            case (.birthDate, .yearOnly): value = .text(String(details.birthDate.year))
            case (.birthDate, _): value = .text(details.birthDate.iso8601)
            case (.household, _): value = .text(person.attributes.household.rawValue)
            case (.socialInsurance, _): value = .flag(person.attributes.socialInsurance)
            case (.ruralMedical, _): value = .flag(person.attributes.ruralMedical)
            case (.lifeStatus, .yesNo): value = .flag(person.attributes.lifeStatus == .alive)
            case (.lifeStatus, _): value = .text(person.attributes.lifeStatus.rawValue)
            case (.cardStatus, .yesNo):
                value = .flag(card.map { CardCheck.reason(of: $0.card, held: $0.held) == .active } ?? false)
            case (.cardStatus, _):
                value = .text(card.map { CardCheck.reason(of: $0.card, held: $0.held).rawValue } ?? "none")
            default: throw CitizenCardError(.internal, "grant form \(form.rawValue) for \(field.rawValue)")
            }
            if let value { fields[field.rawValue] = value }
        }
        return fields
    }

    /// The person's newest card that is not closed, with whether it is blocked.
    func currentCard(of person: Person.ID) async throws(CitizenCardError) -> (card: Card, held: Bool)? {
        let cards = try await env.fetch(try await env.store.cards(personID: person))
        guard let card = cards.last(where: { $0.state.slot == .held }) ?? cards.last else { return nil }
        let effective = card.dueTransitions(context: env.context(.system)).last?.0 ?? card
        return (effective, try await env.fetch(try await env.store.cardHold(cardID: card.id)) != nil)
    }

    func activeGrant(_ id: Grant.ID, actor: Actor) async throws(CitizenCardError) -> Grant {
        guard let grant = try await env.fetch(try await env.store.grant(id: id)),
            grant.departmentID == actor.departmentID
        else { throw CitizenCardError(.grantInactive, "no such grant of this department") }
        if grant.state == .suspended {
            throw CitizenCardError(.grantSuspended, "suspended: \(grant.stateReason ?? "by the center")")
        }
        guard grant.isInForce(on: env.today) else {
            throw CitizenCardError(.grantInactive, "the grant is \(grant.state.rawValue) or outside its dates")
        }
        return grant
    }

    func admit(_ grant: Grant, count: Int64) async throws(CitizenCardError) {
        let now = env.clock.now()
        let dayStart = env.today.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds)
        let day = env.today.daysSinceEpoch
        var stored: Int64? = nil
        if env.grantMonitor.needsSeed(grant.id, day: day) {
            stored = try await env.fetch(try await env.store.grantUsage(grantID: grant.id, since: dayStart)).requests
        }
        switch env.grantMonitor.admit(grant, count: count, now: now.secondsSinceEpoch, day: day, seed: { stored }) {
        case .allowed: return
        case .rateExceeded(let retry):
            throw CitizenCardError(
                .tooManyAttempts, "more than \(grant.ratePerMinute) requests a minute under this grant",
                retryAfterSeconds: retry)
        case .volumeExceeded:
            let tomorrow = dayStart.adding(days: 1).secondsSinceEpoch - now.secondsSinceEpoch
            throw CitizenCardError(
                .tooManyAttempts, "the grant's daily volume of \(grant.dailyVolume) is used up",
                retryAfterSeconds: max(1, tomorrow))
        }
    }

    /// Feeds the scraping detector; a signal opens a review item, the threshold suspends the grant.
    func watch(_ grant: Grant, persons: [Person.ID], actor: Actor) async throws(CitizenCardError) {
        guard !persons.isEmpty else { return }
        let now = env.clock.now()
        let seen = env.grantMonitor.observe(grant.id, persons: persons, now: now.secondsSinceEpoch)
        if seen.newSignal {
            var changes = ChangeSet()
            changes.add(
                .department(
                    .insertReviewItem(
                        ReviewItem(
                            id: ReviewItem.ID(rawValue: env.ids.next()), kind: "bulk_scraping",
                            departmentID: grant.departmentID, messageID: nil, personID: nil, grantID: grant.id,
                            detail: "\(seen.distinct) distinct persons in \(env.grantMonitor.window / 60) minutes",
                            createdAt: now))))
            changes.record(
                AuditDraft(
                    at: now, actor: "system", action: "grant.scraping_signal", subject: "grant:\(grant.id)",
                    purpose: "bulk scraping detection", detail: #"{"persons":\#(seen.distinct)}"#))
            try await env.commit(changes)
        }
        if seen.distinct > env.grantMonitor.suspendPersons {
            let reason = "bulk scraping: \(seen.distinct) distinct persons in \(env.grantMonitor.window / 60) minutes"
            if let stored = try await env.fetch(try await env.store.grant(id: grant.id)), stored.state == .active {
                let next = try stored.applying(.suspend(reason: reason), at: now)
                var changes = ChangeSet()
                changes.add(.department(.updateGrant(next, expectedVersion: stored.version)))
                changes.record(
                    AuditDraft(
                        at: now, actor: "system", action: "grant.suspend", subject: "grant:\(grant.id)",
                        purpose: reason))
                do {
                    try await env.store.commit(changes)
                } catch .conflict {
                    // Changed meanwhile (suspended or revoked already): nothing to do.
                } catch {
                    throw env.translate(error)
                }
                env.grantMonitor.reset(grant.id)
            }
        }
    }

    func disclosure(
        _ kind: Disclosure.Kind, grant: Grant?, person: Person.ID?, purpose: Purpose, fields: [String], actor: Actor,
        at now: Timestamp
    ) -> Disclosure {
        Disclosure(
            id: Disclosure.ID(rawValue: env.ids.next()), at: now, kind: kind, departmentID: actor.departmentID,
            clientID: actor.departmentClientID, grantID: grant?.id, personID: person, purpose: purpose.purpose,
            caseNumber: purpose.caseNumber, endUser: purpose.endUser, fields: fields, found: person != nil)
    }

    // MARK: Card checks

    public struct CardCheckRequest: Codable, Sendable {
        public var cardNumber: String
        /// When given, the answer says whether the card belongs to this ID number.
        public var idNumber: String?

        public init(cardNumber: String, idNumber: String? = nil) {
            self.cardNumber = cardNumber
            self.idNumber = idNumber
        }
    }

    public struct CardCheckBatch: Codable, Sendable {
        public var cards: [CardCheckRequest]
    }

    /// The answer to a card check: only this.
    public struct CardCheck: Codable, Sendable, Hashable {
        public enum Reason: String, Codable, Sendable, CaseIterable {
            case active
            case preLost = "pre_lost"
            case lost
            /// Blocked after its holder's death (until the outlet cancels it).
            case blocked
            case cancelled
            case expired
            /// No such card, or one not issued yet.
            case unknown
        }

        public var valid: Bool
        public var reason: Reason
        /// nil when no ID number was asked about.
        public var holderMatches: Bool?

        static func reason(of card: Card, held: Bool) -> Reason {
            switch card.state {
            case .active: held ? .blocked : .active
            case .preLost: .preLost
            case .lost: .lost
            case .cancelled, .replaced: .cancelled
            case .expired: .expired
            case .applied, .rejected, .approved, .inProduction, .produced, .delivered: .unknown
            }
        }
    }

    /// Checks cards online. Departments give the purpose headers and every check is a disclosure
    /// shown to the holder; a terminal's check is recorded when it asks about an ID number.
    public func check(
        _ requests: [CardCheckRequest], purpose: Purpose?, actor: Actor
    ) async throws(CitizenCardError) -> [CardCheck] {
        try actor.require(.verifyCards)
        guard (1...DepartmentPolicy.queryBatchMax).contains(requests.count) else {
            throw CitizenCardError.invalid(
                "cards", "1 to \(DepartmentPolicy.queryBatchMax) cards", zh: "须为1至\(DepartmentPolicy.queryBatchMax)张卡")
        }
        if actor.role == .department, purpose == nil {
            throw CitizenCardError(.purposeRequired, field: "X-Purpose", "the X-Purpose header is required")
        }
        let today = env.today
        let now = env.clock.now()
        var answers: [CardCheck] = []
        var disclosures: [Disclosure] = []
        var changes = ChangeSet()
        let terminalPurpose = try? Purpose(purpose: "card check", caseNumber: "-", endUser: actor.name)
        for (index, request) in requests.enumerated() {
            let number = request.cardNumber.trimmingSpaces
            guard (1...32).contains(number.utf8.count), number.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw CitizenCardError.invalid(
                    requests.count == 1 ? "cardNumber" : "cards[\(index)].cardNumber", "a card number of digits",
                    zh: "须为数字组成的卡号")
            }
            var index_: Data? = nil
            if let text = request.idNumber {
                guard let id = try? PersonFields.residentID(text, today: today, regions: nil) else {
                    throw CitizenCardError.invalid(
                        requests.count == 1 ? "idNumber" : "cards[\(index)].idNumber", "not a valid ID number",
                        zh: "身份证号码无效")
                }
                index_ = env.vault.indexOf(id)
            }
            var answer = CardCheck(valid: false, reason: .unknown, holderMatches: index_ == nil ? nil : false)
            var holder: Person.ID? = nil
            if let found = try await env.fetch(try await env.store.cardForCheck(number: number)) {
                let effective = found.card.dueTransitions(context: env.context(.system)).last?.0 ?? found.card
                answer.reason = CardCheck.reason(of: effective, held: effective.state == .active && found.blocked)
                answer.valid = answer.reason == .active
                if let index_ { answer.holderMatches = index_ == found.holderIndex }
                if answer.reason != .unknown { holder = found.card.personID }
            }
            answers.append(answer)
            let recorded = actor.role == .department || request.idNumber != nil
            if recorded, let said = purpose ?? terminalPurpose {
                let fields = request.idNumber == nil ? ["cardStatus"] : ["cardStatus", "holderMatch"]
                disclosures.append(
                    disclosure(
                        .cardCheck, grant: nil, person: holder, purpose: said, fields: holder == nil ? [] : fields,
                        actor: actor, at: now))
                if let holder {
                    changes.record(
                        AuditDraft(
                            at: now, actor: actor.name, action: "card.check", subject: "person:\(holder)",
                            personID: holder, purpose: said.purpose,
                            detail: RegistryService.json([
                                "case": said.caseNumber, "fields": fields.joined(separator: ","),
                            ])))
                }
            }
        }
        if !disclosures.isEmpty {
            changes.add(.department(.insertDisclosures(disclosures)))
            try await env.commitGrouped(changes)
        }
        return answers
    }

    // MARK: Logs

    public struct DisclosureView: Codable, Sendable, Hashable {
        public var id: Disclosure.ID
        public var at: Timestamp
        public var kind: Disclosure.Kind
        public var grantId: Grant.ID?
        public var found: Bool
        public var purpose: String
        public var caseNumber: String
        public var endUser: String
        public var fields: [String]
    }

    /// The department's own access log: every request it made, newest first (no personal data).
    public func accessLog(
        before: (at: Timestamp, id: Disclosure.ID)?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [DisclosureView] {
        try actor.require(.departmentOperations)
        guard let department = actor.departmentID else { throw CitizenCardError(.unauthenticated) }
        return try await env.fetch(
            try await env.store.disclosures(departmentID: department, before: before, limit: min(max(limit, 1), 500))
        ).map {
            DisclosureView(
                id: $0.id, at: $0.at, kind: $0.kind, grantId: $0.grantID, found: $0.found, purpose: $0.purpose,
                caseNumber: $0.caseNumber, endUser: $0.endUser, fields: $0.fields)
        }
    }

    public struct ReportLine: Codable, Sendable, Hashable {
        public var department: String?
        public var grantId: Grant.ID?
        public var grantState: Grant.State?
        public var kind: Disclosure.Kind
        public var found: Bool
        public var requests: Int64
        public var persons: Int64
    }

    public struct Report: Codable, Sendable {
        public var from: CalendarDate
        public var until: CalendarDate
        public var lines: [ReportLine]
        /// Grants suspended now, with why.
        public var suspendedGrants: [Grant]
        /// Open review items: feed conflicts and scraping signals.
        public var anomalies: [ReviewItem]
    }

    /// Disclosures by department and grant between two dates (inclusive), with the suspended
    /// grants and the open anomalies. No personal data: auditors read it.
    public func report(from: CalendarDate, until: CalendarDate, actor: Actor) async throws(CitizenCardError) -> Report {
        try actor.require(.superviseDisclosures)
        guard from <= until, until.daysSinceEpoch - from.daysSinceEpoch <= 366 else {
            throw CitizenCardError.invalid("until", "a range of at most a year, from before until", zh: "日期范围须在一年以内")
        }
        let offset = env.city.utcOffsetSeconds
        let counts = try await env.fetch(
            try await env.store.disclosureCounts(
                from: from.startTimestamp(offsetSeconds: offset),
                until: until.startTimestamp(offsetSeconds: offset).adding(days: 1)))
        let departments = Dictionary(
            try await env.fetch(try await env.store.departments()).map { ($0.id, $0.code) },
            uniquingKeysWith: { a, _ in a })
        let grants = try await env.fetch(try await env.store.grants(departmentID: nil))
        let states = Dictionary(grants.map { ($0.id, $0.state) }, uniquingKeysWith: { a, _ in a })
        let lines = counts.map {
            ReportLine(
                department: $0.departmentID.flatMap { departments[$0] }, grantId: $0.grantID,
                grantState: $0.grantID.flatMap { states[$0] }, kind: $0.kind, found: $0.found, requests: $0.count,
                persons: $0.persons)
        }
        let anomalies = try await env.fetch(try await env.store.reviewItems(open: true, limit: 500))
        return Report(
            from: from, until: until, lines: lines, suspendedGrants: grants.filter { $0.state == .suspended },
            anomalies: anomalies)
    }
}

public import CitizenCardDomain
import Crypto
import Foundation
import Ledger
import Storage

/// Department feeds (R-04, issue 18, docs/departments.md): a death, a new ID number or name, a
/// household move, social insurance starting or ending, a birth. Each message is idempotent by
/// the department's own message id: it is applied with its effects in one commit together with
/// the claim of its id, and a repeat gets the stored answer. Nothing is ever half-applied.
public struct FeedService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// One message as a department sends it. Values are text, so that a wrong one gets this
    /// message's answer rather than the refusal of a whole file.
    public struct Message: Codable, Sendable, Hashable {
        public var messageId: String
        public var kind: String
        public var idNumber: String
        /// When it happened (`YYYY-MM-DD`); required for a death, today when absent otherwise.
        public var occurredOn: String?
        /// `id_number_change`.
        public var newIdNumber: String?
        /// `name_change`.
        public var newName: String?
        /// `birth`: the child's name.
        public var name: String?
        /// `household_move` (default `nonlocal`) and `birth` (default `local`).
        public var household: String?

        public init(
            messageId: String, kind: String, idNumber: String, occurredOn: String? = nil, newIdNumber: String? = nil,
            newName: String? = nil, name: String? = nil, household: String? = nil
        ) {
            self.messageId = messageId
            self.kind = kind
            self.idNumber = idNumber
            self.occurredOn = occurredOn
            self.newIdNumber = newIdNumber
            self.newName = newName
            self.name = name
            self.household = household
        }

        /// SHA-256 over the fields in a fixed order: the same message always has the same digest.
        var digest: [UInt8] {
            let fields = [messageId, kind, idNumber, occurredOn, newIdNumber, newName, name, household]
            var text = ""
            for field in fields {
                let value = field ?? "\u{1}"
                text += "\(value.utf8.count):\(value);"
            }
            return Array(SHA256.hash(data: Data(text.utf8)))
        }
    }

    /// Applies one message from `actor`'s department. Never throws for a bad message (that is
    /// its answer, `invalid`); throws only when the caller may not send feeds or the database fails.
    public func apply(_ message: Message, actor: Actor) async throws(CitizenCardError) -> FeedResult {
        let department = try await sender(actor)
        return try await apply(message, department: department, clientID: actor.departmentClientID, actor: actor)
    }

    /// Applies many messages in order, each on its own (a file, or a request of at most
    /// `DepartmentPolicy.feedBatchMax`).
    public func apply(_ messages: [Message], actor: Actor) async throws(CitizenCardError) -> [FeedResult] {
        let department = try await sender(actor)
        var results: [FeedResult] = []
        results.reserveCapacity(messages.count)
        for message in messages {
            results.append(
                try await apply(message, department: department, clientID: actor.departmentClientID, actor: actor))
        }
        return results
    }

    /// Applies a chunk of a file's messages from `department`, in order, each on its own terms.
    ///
    /// The messages that only change a person's attributes (household, social insurance), each
    /// about a person and with an id that appear once in the chunk, whose person stays eligible
    /// or holds no card, are decided together: the chunk's stored ids and persons are read in two
    /// queries and their new versions and claims are committed in one transaction, audited as one
    /// entry (as an import is; each person's history names the department and the message). Every
    /// other message, and the whole chunk if that commit fails, goes through `apply` one by one.
    public func applyBatch(
        _ messages: [Message], department: Department, actor: Actor
    ) async throws(CitizenCardError) -> [FeedResult] {
        let prepared = try await prepareBatch(messages, department: department, actor: actor)
        return try await finishBatch(prepared, messages: messages, department: department, actor: actor)
    }

    /// What `prepareBatch` decided for a chunk: the answers decided together, and the one commit
    /// that stores them.
    public struct PreparedBatch: Sendable {
        var results: [FeedResult?]
        var decided: [Int]
        var changes: ChangeSet
    }

    /// Reads and decides a chunk (see `applyBatch`) without writing: a file's next chunk is
    /// prepared while the previous one commits. A decision made on a read the previous chunk then
    /// changed fails its version guard or its claim, and the chunk goes one by one.
    public func prepareBatch(
        _ messages: [Message], department: Department, actor: Actor
    ) async throws(CitizenCardError) -> PreparedBatch {
        var prepared = PreparedBatch(
            results: [FeedResult?](repeating: nil, count: messages.count), decided: [], changes: ChangeSet())
        let today = env.today
        // Candidates for the chunk commit: index in `messages`, kind, the person's blind index.
        var candidates: [(index: Int, kind: FeedKind, idIndex: Data)] = []
        var personCount: [Data: Int] = [:]
        var idCount: [String: Int] = [:]
        for (index, message) in messages.enumerated() {
            idCount[message.messageId, default: 0] += 1
            guard let kind = FeedKind(rawValue: message.kind),
                [.householdMove, .insuranceEnrolment, .insuranceEnd].contains(kind),
                department.feedKinds.contains(kind), message.occurredOn == nil || kind == .householdMove,
                (try? DepartmentPolicy.validateMessageID(message.messageId)) != nil,
                let residentID = try? PersonFields.residentID(message.idNumber, today: today, regions: env.regions)
            else { continue }
            let idIndex = env.vault.indexOf(residentID)
            personCount[idIndex, default: 0] += 1
            candidates.append((index, kind, idIndex))
        }
        candidates.removeAll { personCount[$0.idIndex]! > 1 || idCount[messages[$0.index].messageId]! > 1 }
        guard !candidates.isEmpty else { return prepared }
        try await decideTogether(candidates, messages: messages, department: department, actor: actor, into: &prepared)
        return prepared
    }

    /// Commits what `prepareBatch` decided (or, if that fails, leaves those messages undecided),
    /// then applies every undecided message one by one, in order.
    public func finishBatch(
        _ prepared: PreparedBatch, messages: [Message], department: Department, actor: Actor
    ) async throws(CitizenCardError) -> [FeedResult] {
        var results = prepared.results
        if !prepared.changes.isEmpty {
            do {
                try await env.store.commit(prepared.changes)
            } catch {
                for index in prepared.decided { results[index] = nil }
            }
        }
        for index in messages.indices where results[index] == nil {
            results[index] = try await apply(messages[index], department: department, clientID: nil, actor: actor)
        }
        return results.map { $0! }
    }

    /// Decides the candidates of `prepareBatch` from two reads; those it cannot decide here (a
    /// person no longer due who holds a card) are left undecided.
    func decideTogether(
        _ candidates: [(index: Int, kind: FeedKind, idIndex: Data)], messages: [Message], department: Department,
        actor: Actor, into prepared: inout PreparedBatch
    ) async throws(CitizenCardError) {
        let stored = Dictionary(
            try await env.fetch(
                try await env.store.feedRecords(
                    departmentID: department.id, messageIDs: candidates.map { messages[$0.index].messageId })
            ).map { ($0.messageID, $0) }, uniquingKeysWith: { first, _ in first })
        let persons = Dictionary(
            try await env.fetch(try await env.store.persons(idIndexes: candidates.map(\.idIndex))).map {
                ($0.idIndex, $0)
            }, uniquingKeysWith: { first, _ in first })
        let rules = try await env.fetch(try await env.store.eligibilityRules())
        let today = env.today
        let now = env.clock.now()
        var changed: [FeedChunk.PersonChange] = []
        var records: [FeedRecord] = []
        var counts: [String: Int] = [:]
        for candidate in candidates {
            let message = messages[candidate.index]
            let digest = message.digest
            if let repeated = stored[message.messageId] {
                // Answered without writing: a repeat, or an id reused for another message.
                prepared.results[candidate.index] =
                    repeated.digest == digest
                    ? {
                        var answer = repeated.result; answer.duplicate = true; return answer
                    }()
                    : FeedResult(
                        messageId: message.messageId, outcome: .invalid, code: "message_id_reused",
                        detail: "this message id was used for a different message")
                continue
            }
            var result = FeedResult(messageId: message.messageId, outcome: .unknownPerson)
            if let sealed = persons[candidate.idIndex] {
                var attributes = sealed.attributes
                switch candidate.kind {
                case .householdMove:
                    guard let household = try? Self.household(message.household, default: .nonlocal) else { continue }
                    attributes.household = household
                case .insuranceEnrolment: attributes.socialInsurance = true
                default: attributes.socialInsurance = false
                }
                result = FeedResult(
                    messageId: message.messageId, outcome: attributes == sealed.attributes ? .unchanged : .applied,
                    personId: sealed.id)
                if result.outcome == .applied {
                    let details: PersonalDetails
                    do { details = try env.vault.open(sealed.details, personID: sealed.id) } catch {
                        throw CitizenCardError(.internal, "person record cannot be opened")
                    }
                    let wasEligible = Eligibility.decide(
                        EligibilityFacts(person: details, attributes: sealed.attributes, on: today), rules: rules,
                        on: today
                    ).eligible
                    let isEligible = Eligibility.decide(
                        EligibilityFacts(person: details, attributes: attributes, on: today), rules: rules, on: today
                    ).eligible
                    // Cards to queue for review: decided one by one, with the cards read.
                    if wasEligible && !isEligible { continue }
                    changed.append(
                        FeedChunk.PersonChange(
                            personID: sealed.id, expectedVersion: sealed.version, attributes: attributes,
                            fingerprint: env.vault.fingerprint(details, attributes),
                            provenance: Provenance(
                                actor: "department:\(department.code)", at: now,
                                reason: "\(candidate.kind.rawValue) \(message.messageId)", source: .department)))
                }
            }
            counts[result.outcome.rawValue, default: 0] += 1
            records.append(
                FeedRecord(
                    departmentID: department.id, messageID: message.messageId, kind: message.kind, digest: digest,
                    receivedAt: now, clientID: actor.departmentClientID, result: result))
            prepared.results[candidate.index] = result
            prepared.decided.append(candidate.index)
        }
        guard !records.isEmpty else { return }
        prepared.changes.add(.department(.applyFeedChunk(FeedChunk(persons: changed, records: records))))
        prepared.changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "feed.batch", subject: "department:\(department.id)",
                purpose: "department feed \(department.code)",
                detail: RegistryService.json(
                    counts.mapValues { "\($0)" }.merging(["department": department.code]) { a, _ in a })))
    }

    /// The department a feed comes from: the client's own, or for the command line
    /// (`citizencard feed apply --department CODE`) the one it names.
    public func department(code: String) async throws(CitizenCardError) -> Department {
        guard let found = try await env.fetch(try await env.store.department(code: code)) else {
            throw CitizenCardError.notFound("department")
        }
        return found
    }

    func sender(_ actor: Actor) async throws(CitizenCardError) -> Department {
        try actor.require(.departmentOperations)
        guard let id = actor.departmentID, let department = try await env.fetch(try await env.store.department(id: id)),
            department.active
        else { throw CitizenCardError(.unauthenticated) }
        return department
    }

    public func apply(
        _ message: Message, department: Department, clientID: DepartmentClient.ID?, actor: Actor
    ) async throws(CitizenCardError) -> FeedResult {
        do {
            try DepartmentPolicy.validateMessageID(message.messageId)
        } catch {
            return FeedResult(
                messageId: String(message.messageId.prefix(64)), outcome: .invalid, code: error.code.rawValue,
                detail: error.detail)
        }
        let digest = message.digest
        var attempt = 0
        while true {
            attempt += 1
            if let stored = try await env.fetch(
                try await env.store.feedRecord(departmentID: department.id, messageID: message.messageId))
            {
                guard stored.digest == digest else {
                    return FeedResult(
                        messageId: message.messageId, outcome: .invalid, code: "message_id_reused",
                        detail: "this message id was used for a different message")
                }
                var repeated = stored.result
                repeated.duplicate = true
                return repeated
            }
            let decided: Decision
            do {
                decided = try await decide(message, department: department)
            } catch {
                return FeedResult(
                    messageId: message.messageId, outcome: .invalid, code: error.code.rawValue,
                    detail: [error.field, error.detail].compactMap { $0 }.joined(separator: ": "))
            }
            var changes = decided.changes
            let record = FeedRecord(
                departmentID: department.id, messageID: message.messageId, kind: message.kind, digest: digest,
                receivedAt: env.clock.now(), clientID: clientID, result: decided.result)
            changes.add(.department(.insertFeedRecord(record)))
            changes.record(
                AuditDraft(
                    at: record.receivedAt, actor: actor.name, action: "feed.\(message.kind)",
                    subject: decided.result.personId.map { "person:\($0)" } ?? "department:\(department.id)",
                    personID: decided.result.personId, purpose: "department feed \(department.code)",
                    detail: RegistryService.json([
                        "department": department.code, "messageId": message.messageId,
                        "outcome": decided.result.outcome.rawValue, "fields": decided.fields.joined(separator: ","),
                        "cards": "\(decided.result.cards.count)",
                    ])))
            let (withNotices, notices) = try await env.withBankNotices(changes)
            do {
                try await env.store.commit(withNotices)
                if notices > 0 { env.bankOutbox.kick() }
                return decided.result
            } catch .duplicate(.feedMessage) {
                continue  // the same id arrived concurrently: answer as the stored one
            } catch .conflict where attempt < 4 {
                continue  // the person or a card changed meanwhile: decide again
            } catch .duplicate(.personIDNumber) where attempt < 4 {
                continue
            } catch {
                throw env.translate(error)
            }
        }
    }

    struct Decision {
        var result: FeedResult
        var changes = ChangeSet()
        /// Names of the fields changed, for the audit.
        var fields: [String] = []
    }

    func decide(_ message: Message, department: Department) async throws(CitizenCardError) -> Decision {
        guard let kind = FeedKind(rawValue: message.kind) else {
            throw CitizenCardError.invalid(
                "kind", "one of \(FeedKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard department.feedKinds.contains(kind) else {
            throw CitizenCardError(.forbidden, field: "kind", "this department may not send \(kind.rawValue) messages")
        }
        let today = env.today
        let occurred = try Self.date(message.occurredOn, required: kind == .death, today: today)
        let residentID = try PersonFields.residentID(message.idNumber, today: today, regions: env.regions)
        let registry = RegistryService(env)
        let sealed = try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(residentID)))
        let now = env.clock.now()
        let provenance = Provenance(
            actor: "department:\(department.code)", at: now, reason: "\(kind.rawValue) \(message.messageId)",
            source: .department)

        if kind == .birth {
            if let sealed {
                return Decision(
                    result: FeedResult(
                        messageId: message.messageId, outcome: .unchanged, code: "person_exists", personId: sealed.id))
            }
            let name = try PersonFields.name(message.name ?? "")
            let household = try Self.household(message.household, default: .local)
            let person = Person(
                id: Person.ID(rawValue: env.ids.next()),
                details: PersonalDetails(residentID: residentID, name: name),
                attributes: PersonAttributes(household: household, socialInsurance: false, ruralMedical: false),
                version: 1, provenance: provenance, createdAt: now)
            var decision = Decision(
                result: FeedResult(messageId: message.messageId, outcome: .applied, personId: person.id))
            decision.changes.add(.insertPerson(try registry.seal(person)))
            decision.fields = ["registered"]
            return decision
        }

        guard let sealed else {
            return Decision(result: FeedResult(messageId: message.messageId, outcome: .unknownPerson))
        }
        var person = try registry.open(sealed)
        let before = person
        let cards = try await env.fetch(try await env.store.cards(personID: person.id))
        let live = cards.filter { $0.state.slot != .closed }
        var decision = Decision(
            result: FeedResult(messageId: message.messageId, outcome: .applied, personId: person.id))

        switch kind {
        case .death:
            guard person.attributes.lifeStatus == .alive else {
                return Decision(
                    result: FeedResult(messageId: message.messageId, outcome: .unchanged, personId: person.id))
            }
            // A card used successfully after the day of death contradicts the record: a person looks.
            let endOfDay = occurred.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds).adding(days: 1)
            if let used = try await lastUse(of: cards), used >= endOfDay {
                return try await conflict(
                    message, department: department, person: person.id, code: "death_before_card_use",
                    detail: "a card of the person was used successfully after the date of death")
            }
            person.attributes.lifeStatus = .deceased
            for card in live {
                if card.state.slot == .held, try await env.fetch(try await env.store.cardHold(cardID: card.id)) == nil {
                    let account = AccountID.purse(card.id)
                    let signed = try await env.fetch(try await env.store.ledgerBalances([account]))[account] ?? 0
                    decision.changes.add(
                        .department(
                            .insertCardHold(
                                CardHold(
                                    cardID: card.id, reason: "death", departmentID: department.id,
                                    messageID: message.messageId, at: now,
                                    purseBalanceFen: account.normalBalance(signed: signed)))))
                    decision.result.cards.append(.init(cardId: card.id, effect: "blocked"))
                    decision.changes.add(.deletePortalSessions(cardID: card.id, keeping: nil))
                }
                try await openCase(
                    .cancelAfterDeath, card: card, message: message, department: department, into: &decision)
            }
        case .idNumberChange:
            guard let text = message.newIdNumber else {
                throw CitizenCardError.invalid("newIdNumber", "required for id_number_change")
            }
            let newID = try PersonFields.residentID(text, today: today, field: "newIdNumber", regions: env.regions)
            guard newID != person.details.residentID else {
                return Decision(
                    result: FeedResult(messageId: message.messageId, outcome: .unchanged, personId: person.id))
            }
            if try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(newID))) != nil {
                return try await conflict(
                    message, department: department, person: person.id, code: "id_number_taken",
                    detail: "the new ID number belongs to another person record")
            }
            if person.details.socialSecurityNumber == person.details.residentID.number {
                person.details.socialSecurityNumber = newID.number
            }
            person.details.residentID = newID
            for card in live where card.state.slot == .held {
                try await openCase(
                    .replaceDataChanged, card: card, message: message, department: department, into: &decision)
            }
        case .nameChange:
            let name = try PersonFields.name(message.newName ?? "", field: "newName")
            guard name != person.details.name else {
                return Decision(
                    result: FeedResult(messageId: message.messageId, outcome: .unchanged, personId: person.id))
            }
            person.details.name = name
            for card in live where card.state.slot == .held {
                try await openCase(
                    .replaceDataChanged, card: card, message: message, department: department, into: &decision)
            }
        case .householdMove, .insuranceEnrolment, .insuranceEnd:
            switch kind {
            case .householdMove: person.attributes.household = try Self.household(message.household, default: .nonlocal)
            case .insuranceEnrolment: person.attributes.socialInsurance = true
            default: person.attributes.socialInsurance = false
            }
            guard person.attributes != before.attributes else {
                return Decision(
                    result: FeedResult(messageId: message.messageId, outcome: .unchanged, personId: person.id))
            }
            // Decided again by the rules in force; a card no longer due is queued, never cancelled here.
            if !(try await registry.decideEligibility(person)).eligible {
                for card in live {
                    try await openCase(
                        .eligibilityReview, card: card, message: message, department: department, into: &decision)
                }
            }
        case .birth:
            preconditionFailure("handled above")
        }

        decision.fields = RegistryService.changedFields(
            from: before, details: person.details, attributes: person.attributes)
        person.version = sealed.version + 1
        person.provenance = provenance
        decision.changes.add(.updatePerson(try registry.seal(person), expectedVersion: sealed.version))
        return decision
    }

    /// A case for the outlet that holds the card, unless one of this kind is open already.
    func openCase(
        _ kind: CardCase.Kind, card: Card, message: Message, department: Department, into decision: inout Decision
    ) async throws(CitizenCardError) {
        let open = try await env.fetch(try await env.store.cardCases(cardID: card.id))
        decision.result.cards.append(.init(cardId: card.id, effect: kind.rawValue))
        guard !open.contains(where: { $0.kind == kind && $0.closedAt == nil }) else { return }
        decision.changes.add(
            .department(
                .insertCardCase(
                    CardCase(
                        id: CardCase.ID(rawValue: env.ids.next()), cardID: card.id, personID: card.personID, kind: kind,
                        outletID: card.outletID, departmentID: department.id, messageID: message.messageId,
                        createdAt: env.clock.now()))))
    }

    /// A conflict: a review item, and nothing else changes.
    func conflict(
        _ message: Message, department: Department, person: Person.ID, code: String, detail: String
    ) async throws(CitizenCardError) -> Decision {
        let item = ReviewItem(
            id: ReviewItem.ID(rawValue: env.ids.next()), kind: "feed_conflict", departmentID: department.id,
            messageID: message.messageId, personID: person, grantID: nil, detail: "\(message.kind): \(detail)",
            createdAt: env.clock.now())
        var decision = Decision(
            result: FeedResult(
                messageId: message.messageId, outcome: .conflict, code: code, detail: detail, personId: person,
                reviewItemId: item.id))
        decision.changes.add(.department(.insertReviewItem(item)))
        return decision
    }

    /// When a card of the person was last used successfully: a posted purchase or a completed load.
    func lastUse(of cards: [Card]) async throws(CitizenCardError) -> Timestamp? {
        var last: Timestamp? = nil
        for card in cards where card.issuedAt != nil {
            for purchase in try await env.fetch(try await env.store.purchases(cardID: card.id, limit: 1))
            where purchase.outcome == .posted {
                last = max(last ?? purchase.tappedAt, purchase.tappedAt)
            }
            for load in try await env.fetch(try await env.store.purseLoads(cardID: card.id))
            where load.status == .completed {
                last = max(last ?? load.approvedAt, load.approvedAt)
            }
        }
        return last
    }

    static func date(_ text: String?, required: Bool, today: CalendarDate) throws(CitizenCardError) -> CalendarDate {
        guard let text else {
            if required { throw CitizenCardError.invalid("occurredOn", "required: YYYY-MM-DD", zh: "必填，格式为YYYY-MM-DD") }
            return today
        }
        guard let date = CalendarDate(iso8601: text), date <= today, date.year >= 1900 else {
            throw CitizenCardError.invalid(
                "occurredOn", "a date YYYY-MM-DD, not in the future", zh: "须为不晚于今天的日期（YYYY-MM-DD）")
        }
        return date
    }

    static func household(_ text: String?, default fallback: Household) throws(CitizenCardError) -> Household {
        guard let text else { return fallback }
        guard let value = Household(rawValue: text) else {
            throw CitizenCardError.invalid("household", "local or nonlocal", zh: "须为local或nonlocal")
        }
        return value
    }
}

public import CitizenCardDomain
import Foundation
import Storage

/// The work feeds leave (issue 18): the outlets' card cases (cancel after a death, replace after
/// a change of data, eligibility to review), the center's review queue (feed conflicts, scraping
/// signals), and the feed results.
public struct CaseService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct CaseView: Codable, Sendable, Hashable {
        public var id: CardCase.ID
        public var kind: CardCase.Kind
        public var cardId: Card.ID
        public var cardNumber: String
        public var cardState: CardState
        public var personId: Person.ID
        public var outletId: Outlet.ID
        public var department: String?
        public var messageId: String?
        public var createdAt: Timestamp
        public var closedAt: Timestamp?
        public var closedBy: String?
        /// For a blocked card, the purse balance held for the heirs (fen).
        public var heldBalanceFen: Int64?
    }

    /// Open (or closed) cases, oldest first: an outlet's own, or all for the center.
    public func cases(open: Bool, limit: Int, actor: Actor) async throws(CitizenCardError) -> [CaseView] {
        try actor.require(.workCardCases)
        let cases = try await env.fetch(
            try await env.store.cardCases(open: open, outletID: actor.outletID, limit: min(max(limit, 1), 500)))
        let codes = Dictionary(
            try await env.fetch(try await env.store.departments()).map { ($0.id, $0.code) },
            uniquingKeysWith: { a, _ in a })
        var views: [CaseView] = []
        for item in cases { views.append(try await view(item, codes: codes)) }
        return views
    }

    func view(_ item: CardCase, codes: [Department.ID: String]? = nil) async throws(CitizenCardError) -> CaseView {
        var department: String? = nil
        if let id = item.departmentID {
            department =
                if let codes { codes[id] } else { try await env.fetch(try await env.store.department(id: id))?.code }
        }
        guard let card = try await env.fetch(try await env.store.card(id: item.cardID)) else {
            throw CitizenCardError(.internal, "a case's card is missing")
        }
        let hold = try await env.fetch(try await env.store.cardHold(cardID: card.id))
        return CaseView(
            id: item.id, kind: item.kind, cardId: card.id, cardNumber: Masking.cardNumber(card.number),
            cardState: card.state, personId: item.personID, outletId: item.outletID, department: department,
            messageId: item.messageID, createdAt: item.createdAt, closedAt: item.closedAt, closedBy: item.closedBy,
            heldBalanceFen: hold?.purseBalanceFen)
    }

    public struct Closing: Codable, Sendable {
        public var note: String
        public init(note: String) { self.note = note }
    }

    /// Closes a case without the card action it asks for (the holder keeps a card still due under
    /// a rule decided by hand …): a supervisor of the card's outlet or the center, with a note.
    public func close(_ id: CardCase.ID, _ closing: Closing, actor: Actor) async throws(CitizenCardError) -> CaseView {
        try actor.require(.closeCardCases)
        let note = try RegistryService.reason(closing.note, default: nil, field: "note")
        guard let item = try await env.fetch(try await env.store.cardCase(id: id)),
            actor.outletID == nil || actor.outletID == item.outletID
        else { throw CitizenCardError.notFound("case") }
        guard item.closedAt == nil else { throw CitizenCardError(.notClosable, "the case is closed already") }
        let now = env.clock.now()
        var changes = ChangeSet()
        changes.add(.department(.closeCardCases(cardID: item.cardID, kinds: [item.kind], at: now, by: actor.name)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "case.close", subject: "card:\(item.cardID)",
                personID: item.personID,
                purpose: note, detail: RegistryService.json(["kind": item.kind.rawValue])))
        try await env.commit(changes)
        var closed = item
        closed.closedAt = now
        closed.closedBy = actor.name
        return try await view(closed)
    }

    // MARK: Review queue

    public func reviewItems(open: Bool, limit: Int, actor: Actor) async throws(CitizenCardError) -> [ReviewItem] {
        try actor.require(.superviseDisclosures)
        return try await env.fetch(try await env.store.reviewItems(open: open, limit: min(max(limit, 1), 500)))
    }

    public func closeReviewItem(
        _ id: ReviewItem.ID, _ closing: Closing, actor: Actor
    ) async throws(CitizenCardError) -> ReviewItem {
        try actor.require(.manageDepartments)
        let note = try RegistryService.reason(closing.note, default: nil, field: "note")
        guard let item = try await env.fetch(try await env.store.reviewItem(id: id)) else {
            throw CitizenCardError.notFound("review item")
        }
        guard item.closedAt == nil else { throw CitizenCardError(.notClosable, "the item is closed already") }
        var next = item
        next.closedAt = env.clock.now()
        next.closedBy = actor.name
        next.closingNote = note
        next.version += 1
        var changes = ChangeSet()
        changes.add(.department(.updateReviewItem(next, expectedVersion: item.version)))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "review.close", subject: "review:\(id)",
                personID: item.personID, purpose: note))
        try await env.commit(changes)
        return next
    }

    // MARK: Feed results

    public struct FeedRecordView: Codable, Sendable, Hashable {
        public var department: String
        public var messageId: String
        public var kind: String
        public var receivedAt: Timestamp
        public var result: FeedResult
    }

    /// Feed results, newest first: a department sees its own, the center all (or one department's).
    public func feedResults(
        department code: String?, outcome: FeedResult.Outcome?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [FeedRecordView] {
        var departmentID: Department.ID? = nil
        if actor.role == .department {
            departmentID = actor.departmentID
        } else {
            try actor.require(.superviseDisclosures)
            if let code {
                guard let found = try await env.fetch(try await env.store.department(code: code)) else {
                    throw CitizenCardError.notFound("department")
                }
                departmentID = found.id
            }
        }
        let codes = Dictionary(
            try await env.fetch(try await env.store.departments()).map { ($0.id, $0.code) },
            uniquingKeysWith: { a, _ in a })
        return try await env.fetch(
            try await env.store.feedRecords(
                departmentID: departmentID, outcome: outcome, limit: min(max(limit, 1), 500))
        ).map {
            FeedRecordView(
                department: codes[$0.departmentID] ?? "?", messageId: $0.messageID, kind: $0.kind,
                receivedAt: $0.receivedAt, result: $0.result)
        }
    }
}

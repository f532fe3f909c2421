public import CitizenCardDomain
import Foundation
import DataProtection
import Storage

/// The card lifecycle at the counter (R-10 … R-19): applications, verification, issuing, loss,
/// reissue, replacement, renewal, cancellation, and the time-based transitions.
///
/// Each use case reads, decides with `Card.applying` and commits the card changes, events,
/// receipt and audit entry together. Due time-based transitions (a lapsed pre-loss, an expired
/// card) are recorded in the same commit before the requested action.
public struct CardService: Sendable {
    let env: ServiceEnvironment
    var registry: RegistryService { RegistryService(env) }

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// The identity document shown at the counter (R-12: a card is usable only by its holder).
    public struct IdentityCheck: Codable, Sendable {
        /// The resident ID number on the document presented.
        public var idNumber: String
        /// The operator confirms having checked the document itself.
        public var documentChecked: Bool

        public init(idNumber: String, documentChecked: Bool) {
            self.idNumber = idNumber
            self.documentChecked = documentChecked
        }
    }

    // MARK: Applications

    public struct Application: Codable, Sendable {
        public var personId: Person.ID
        public var outletId: Outlet.ID?
        /// The fee the operator is about to charge; refused if the schedule says otherwise.
        public var expectedFeeFen: Int64?
        /// The partner bank the holder chose for the card's bank account; the city's
        /// default bank when absent. A bank not active today is refused (`bank_not_active`).
        public var bankCode: String?

        public init(
            personId: Person.ID, outletId: Outlet.ID? = nil, expectedFeeFen: Int64? = nil, bankCode: String? = nil
        ) {
            self.personId = personId
            self.outletId = outletId
            self.expectedFeeFen = expectedFeeFen
            self.bankCode = bankCode
        }
    }

    /// Takes an application for a person's card at the actor's outlet.
    public func apply(
        _ application: Application, channel: ApplicationChannel = .individual, actor: Actor,
        idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> CardServiceResult {
        try actor.require(.counterService)
        let outletID = try actor.counterOutlet(requested: application.outletId)
        let person = try registry.open(try await registry.load(application.personId))
        try await requireCardable(person)
        var changes = ChangeSet()
        let cards = try await normalizedCards(of: person.id, into: &changes)
        if cards.contains(where: { $0.state.slot == .held }) {
            throw CitizenCardError(.liveCardExists, "use replacement, reissue or renewal for a new card")
        }
        if cards.contains(where: { $0.state.slot == .pipeline }) { throw CitizenCardError(.applicationExists) }
        let item: FeeItem = cards.contains(where: { $0.issuedAt != nil }) ? .repeatApplication : .firstCard
        let card = try await newCard(
            for: person.id, kind: .application, channel: channel, outletID: outletID, predecessor: nil)
        let receipt = try await makeReceipt(
            item, card: card, expectedFeeFen: application.expectedFeeFen, outletID: outletID, actor: actor)
        changes.add(.insertCard(card))
        if let account = try await BankService(env).accountRequest(
            for: card, bankCode: application.bankCode, predecessor: nil)
        {
            changes.add(.banks(.insertBankAccount(account)))
        }
        changes.charge(receipt)
        changes.add(.appendCardEvent(creationEvent(card, actor: actor, receipt: receipt)))
        changes.record(
            audit(
                card, action: "card.apply", actor: actor,
                detail: ["channel": channel.kind.rawValue, "feeFen": "\(receipt.amount.fen)"]))
        let result = CardServiceResult(card: card, receipt: receipt)
        return try await commit(changes, result: result, idempotency: idempotency)
    }

    public struct BulkApplication: Codable, Sendable {
        public var employerCode: String
        public var employerName: String
        public var idNumbers: [String]

        public init(employerCode: String, employerName: String, idNumbers: [String]) {
            self.employerCode = employerCode
            self.employerName = employerName
            self.idNumbers = idNumbers
        }
    }

    public struct BulkRowResult: Codable, Hashable, Sendable {
        /// 1-based position in the request.
        public var row: Int
        public var idNumber: String
        public var card: CardView?
        public var receipt: Receipt?
        public var error: String?
        public var detail: String?
    }

    /// A bulk application by an employer: each row is its own application and commit, so
    /// one bad row does not stop the others; the answer has a result for every row.
    public static let bulkRowsMax = 1000

    public func applyInBulk(_ bulk: BulkApplication, actor: Actor) async throws(CitizenCardError) -> [BulkRowResult] {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        let code = bulk.employerCode.trimmingSpaces
        guard (1...32).contains(code.count), code.utf8.allSatisfy({ $0.isASCIIAlphanumeric }) else {
            throw CitizenCardError.invalid(
                "employerCode", "1-32 letters and digits (unified social credit code)",
                zh: "统一社会信用代码须为1至32位字母或数字")
        }
        let name = try PersonFields.name(bulk.employerName, field: "employerName")
        guard (1...Self.bulkRowsMax).contains(bulk.idNumbers.count) else {
            throw CitizenCardError.invalid(
                "idNumbers", "give 1-\(Self.bulkRowsMax) ID numbers", zh: "请提供1至\(Self.bulkRowsMax)个身份证号码")
        }
        let channel = ApplicationChannel.employer(code: code, name: name)
        var results: [BulkRowResult] = []
        for (index, number) in bulk.idNumbers.enumerated() {
            var row = BulkRowResult(row: index + 1, idNumber: Masking.residentID(number.trimmingSpaces))
            do {
                let person = try await registry.lookupSealed(idNumber: number)
                let result = try await apply(Application(personId: person.id), channel: channel, actor: actor)
                row.card = result.card
                row.receipt = result.receipt
            } catch {
                row.error = error.code.rawValue
                row.detail = error.detail ?? error.code.title
            }
            results.append(row)
        }
        return results
    }

    // MARK: Verification (校核)

    public enum Decision: String, Codable, Sendable { case approve, reject }

    public func verify(
        _ cardID: Card.ID, decision: Decision, reason: String?, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try actor.require(.verifyApplications)
        let card = try await load(cardID)
        if actor.role == .supervisor && actor.outletID != card.outletID {
            throw CitizenCardError(.wrongOutlet, "supervisors verify their own outlet's applications")
        }
        if decision == .approve {
            let person = try registry.open(try await registry.load(card.personID))
            try await requireCardable(person)
        }
        let action: CardAction = decision == .approve ? .approve : .reject(reason: reason ?? "")
        return try await transition(card, action, actor: actor, idempotency: idempotency)
    }

    // MARK: Issuing and loss

    /// Hands a delivered card to its holder after the identity check; a predecessor still held is
    /// superseded in the same commit (R-13: the old card ends when the new one is issued).
    public func issue(
        _ cardID: Card.ID, identity: IdentityCheck, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try actor.require(.counterService)
        let outletID = try actor.counterOutlet()
        var (card, holderIndex) = try await loadWithHolder(cardID)
        guard card.outletID == outletID else {
            throw CitizenCardError(.wrongOutlet, "the card is delivered to another outlet")
        }
        try check(identity, holderIndex: holderIndex)
        var changes = ChangeSet()
        if let predecessorID = card.predecessorID {
            let predecessor = try await normalized(try await load(predecessorID), into: &changes)
            if predecessor.state.slot == .held {
                let (superseded, event) = try predecessor.applying(.supersede, context: env.context(actor))
                changes.add(.updateCard(superseded, expectedVersion: try await storedVersion(predecessorID)))
                changes.add(.appendCardEvent(event))
            }
        }
        card = try await apply(.issue, to: card, actor: actor, into: &changes)
        return try await commit(changes, result: CardServiceResult(card: card), idempotency: idempotency)
    }

    public func reportWrittenLoss(
        _ cardID: Card.ID, identity: IdentityCheck, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        let card = try await load(cardID, checking: identity)
        return try await transition(card, .reportWrittenLoss, actor: actor, idempotency: idempotency)
    }

    /// A temporary loss report by phone (the caller states the holder's ID number) or by the holder
    /// through self-service; it lapses after the configured period unless confirmed in writing.
    public func reportPreLoss(
        _ cardID: Card.ID, idNumber: String, channel: LossReport.Channel, actor: Actor,
        idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> CardServiceResult {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        guard channel != .outlet else {
            throw CitizenCardError.invalid("channel", "at the outlet, report the loss in writing", zh: "网点请办理书面挂失")
        }
        guard channel != .bank else {
            throw CitizenCardError.invalid(
                "channel", "phone or self_service; banks send their own notices", zh: "银行挂失由银行报文送达")
        }
        let card = try await load(cardID, checking: IdentityCheck(idNumber: idNumber, documentChecked: true))
        return try await transition(card, .reportPreLoss(channel: channel), actor: actor, idempotency: idempotency)
    }

    /// The holder's own temporary loss report through the portal (R-14, channel `self_service`).
    /// The caller (`PortalService.reportLoss`) has authenticated the holder of this very card,
    /// which stands in for the counter's identity check; `actor` names the holder.
    func reportPreLossBySelfService(_ cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> CardView {
        let card = try await load(cardID)
        return try await transition(card, .reportPreLoss(channel: .selfService), actor: actor, idempotency: nil).card
    }

    /// 解挂, only before a reissue was applied for (after it the old card is `replaced`).
    public func withdrawLoss(
        _ cardID: Card.ID, identity: IdentityCheck, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        let card = try await load(cardID, checking: identity)
        return try await transition(card, .withdrawLoss, actor: actor, idempotency: idempotency)
    }

    // MARK: Successor cards

    public struct SuccessorRequest: Codable, Sendable {
        public var identity: IdentityCheck
        /// For a replacement: why.
        public var reason: ReplacementReason?
        public var expectedFeeFen: Int64?

        public init(identity: IdentityCheck, reason: ReplacementReason? = nil, expectedFeeFen: Int64? = nil) {
            self.identity = identity
            self.reason = reason
            self.expectedFeeFen = expectedFeeFen
        }
    }

    /// 补领: the lost card ends at once (its loss can no longer be withdrawn) and a new card goes
    /// to production.
    public func reissue(
        _ cardID: Card.ID, _ request: SuccessorRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try await succeed(cardID, request, item: .reissue, kind: .reissue, actor: actor, idempotency: idempotency) {
            .reissue(successor: $0)
        }
    }

    /// 换领: the card stays usable until the new one is issued.
    public func replace(
        _ cardID: Card.ID, _ request: SuccessorRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        guard let reason = request.reason else {
            throw CitizenCardError.invalid("reason", "damaged or data_changed", zh: "请选择换领原因")
        }
        let item: FeeItem = reason == .damaged ? .replacementDamaged : .replacementDataChanged
        return try await succeed(
            cardID, request, item: item, kind: .replacement, actor: actor, idempotency: idempotency
        ) {
            .requestReplacement(reason: reason, successor: $0)
        }
    }

    /// A new card for one that expires within the renewal window or has expired (Art 26).
    public func renew(
        _ cardID: Card.ID, _ request: SuccessorRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try await succeed(cardID, request, item: .renewal, kind: .renewal, actor: actor, idempotency: idempotency) {
            .renew(successor: $0)
        }
    }

    func succeed(
        _ cardID: Card.ID, _ request: SuccessorRequest, item: FeeItem, kind: Card.Kind, actor: Actor,
        idempotency: IdempotencyKey?, action: (Card.ID) -> CardAction
    ) async throws(CitizenCardError) -> CardServiceResult {
        try actor.require(.counterService)
        let outletID = try actor.counterOutlet()
        let stored = try await load(cardID, checking: request.identity)
        let person = try registry.open(try await registry.load(stored.personID))
        try await requireCardable(person)
        var changes = ChangeSet()
        let current = try await normalized(stored, into: &changes)
        let successor = try await newCard(
            for: person.id, kind: kind, channel: .individual, outletID: outletID, predecessor: current.id)
        let (closed, event) = try current.applying(action(successor.id), context: env.context(actor))
        if kind == .replacement || kind == .reissue {
            // A new card carries the holder's current data: a feed's replacement case is done.
            changes.add(
                .department(
                    .closeCardCases(
                        cardID: current.id, kinds: [.replaceDataChanged], at: env.clock.now(), by: actor.name)))
        }
        let receipt = try await makeReceipt(
            item, card: successor, expectedFeeFen: request.expectedFeeFen, outletID: outletID, actor: actor)
        // The old card leaves its slot before the new one takes the pipeline slot.
        changes.add(.updateCard(closed, expectedVersion: stored.version))
        var oldEvent = event
        oldEvent.receiptID = receipt.id
        changes.add(.appendCardEvent(oldEvent))
        changes.add(.insertCard(successor))
        if let account = try await BankService(env).accountRequest(
            for: successor, bankCode: nil, predecessor: current.id)
        {
            changes.add(.banks(.insertBankAccount(account)))
        }
        changes.charge(receipt)
        changes.add(.appendCardEvent(creationEvent(successor, actor: actor, receipt: receipt)))
        changes.record(
            audit(
                closed, action: "card.\(event.action.rawValue)", actor: actor,
                detail: [
                    "to": closed.state.rawValue, "successor": successor.id.rawValue, "feeFen": "\(receipt.amount.fen)",
                ]))
        let result = CardServiceResult(card: closed, newCard: successor, receipt: receipt)
        return try await commit(changes, result: result, idempotency: idempotency)
    }

    // MARK: Cancellation

    public struct CancellationRequest: Codable, Sendable {
        public var reason: Cancellation.Reason
        public var applicant: Cancellation.Applicant
        public var relationship: Cancellation.Relationship?
        /// The document shown: death certificate, household-move certificate …
        public var documentReference: String
        /// When the holder applies: the identity document.
        public var identity: IdentityCheck?

        public init(
            reason: Cancellation.Reason, applicant: Cancellation.Applicant,
            relationship: Cancellation.Relationship? = nil,
            documentReference: String, identity: IdentityCheck? = nil
        ) {
            self.reason = reason
            self.applicant = applicant
            self.relationship = relationship
            self.documentReference = documentReference
            self.identity = identity
        }
    }

    /// 注销 by the holder or a close relative with a document; a successor in progress is
    /// cancelled with it.
    public func cancel(
        _ cardID: Card.ID, _ request: CancellationRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        let document = request.documentReference.trimmingSpaces
        guard (1...100).contains(document.count) else {
            throw CitizenCardError.invalid(
                "documentReference", "name the document shown (1-100 characters)", zh: "请填写证明材料编号")
        }
        try TextRule.check(document, field: "documentReference", kind: .line)
        let card = try await load(cardID)
        if card.state.slot == .pipeline, let predecessorID = card.predecessorID,
            let predecessor = try await env.fetch(try await env.store.card(id: predecessorID)),
            predecessor.state.slot == .held, predecessor.successorID == card.id
        {
            throw CitizenCardError(.transitionNotAllowed, "cancel the card it replaces; this one goes with it")
        }
        let holder = try await registry.load(card.personID)
        let person = try registry.open(holder)
        switch request.applicant {
        case .holder:
            guard request.reason != .death else { throw CitizenCardError(.relativeRequired) }
            guard let identity = request.identity else {
                throw CitizenCardError.invalid(
                    "identity", "the holder shows their identity document", zh: "持卡人本人申请须出示身份证件")
            }
            try check(identity, holderIndex: holder.idIndex)
        case .relative:
            guard request.relationship != nil else {
                throw CitizenCardError.invalid(
                    "relationship", "state the relative's relationship to the holder", zh: "请选择申请人与持卡人的关系")
            }
        }
        if request.reason == .death && person.attributes.lifeStatus != .deceased {
            throw CitizenCardError(
                .invalidField, field: "reason", "record the death in the population database first",
                zh: "请先在人口库登记死亡信息")
        }
        try await requireNoPendingAffairs(card)
        let cancellation = Cancellation(
            reason: request.reason, applicant: request.applicant, relationship: request.relationship,
            documentReference: Masking.documentReference(document), at: env.clock.now())
        var changes = ChangeSet()
        changes.add(.insertCancellationDocument(cardID: card.id, sealed: try sealDocument(document, cardID: card.id)))
        let cancelled = try await apply(.cancel(cancellation), to: card, actor: actor, into: &changes)
        if let successorID = cancelled.successorID,
            let successor = try await env.fetch(try await env.store.card(id: successorID)),
            successor.state.slot == .pipeline
        {
            _ = try await apply(.cancel(cancellation), to: successor, actor: actor, into: &changes)
            changes.add(
                .department(
                    .closeCardCases(
                        cardID: successor.id, kinds: CardCase.Kind.allCases, at: cancellation.at, by: actor.name)))
        }
        // The outlet's work on this card is done: a feed's cases for it close with it.
        changes.add(
            .department(
                .closeCardCases(cardID: card.id, kinds: CardCase.Kind.allCases, at: cancellation.at, by: actor.name)))
        return try await commit(changes, result: CardServiceResult(card: cancelled), idempotency: idempotency)
    }

    // MARK: Time-based transitions

    /// Records every due time-based transition (lapsed pre-losses, expiries), one commit per card.
    /// Returns how many cards changed. A card changed concurrently is left for the next run.
    @discardableResult
    public func recordDueTransitions(limit: Int = 1000) async throws(CitizenCardError) -> Int {
        let now = env.clock.now()
        let due = try await env.fetch(try await env.store.cardsWithTransitionsDue(at: now, limit: limit))
        var changed = 0
        for card in due {
            var changes = ChangeSet()
            _ = try await normalized(card, into: &changes)
            guard !changes.isEmpty else { continue }
            do {
                try await env.commit(changes)
                changed += 1
            } catch  where error.code == .conflict {
                continue
            }
        }
        return changed
    }

    // MARK: Reads

    public func card(_ id: Card.ID, actor: Actor) async throws(CitizenCardError) -> CardView {
        try actor.require(.readCards)
        return CardView(try await load(id))
    }

    public func card(number: String, actor: Actor) async throws(CitizenCardError) -> CardView {
        try actor.require(.readCards)
        guard
            let card = try await env.fetch(try await env.store.card(number: number.trimmingSpaces))
        else { throw CitizenCardError.notFound("card") }
        return CardView(card)
    }

    public func cards(of personID: Person.ID, actor: Actor) async throws(CitizenCardError) -> [CardView] {
        try actor.require(.readCards)
        _ = try await registry.load(personID)
        return try await env.fetch(try await env.store.cards(personID: personID))
            .map(
                CardView.init)
    }

    public func events(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [CardEvent] {
        try actor.require(.readCards)
        let card = try await load(cardID)
        try await env.auditCardRead(card, what: "events", actor: actor)
        return try await env.fetch(try await env.store.cardEvents(cardID: cardID))
    }

    /// Cards in a state (e.g. `applied` for the verification queue); outlet-bound roles see their
    /// own outlet only.
    public func cards(
        in state: CardState, outletID: Outlet.ID?, after: Card.ID?, limit: Int, actor: Actor
    )
        async throws(CitizenCardError) -> [CardView]
    {
        try actor.require(.readCards)
        let outlet = actor.role?.isOutletBound == true ? try actor.counterOutlet(requested: outletID) : outletID
        return try await env.fetch(
            try await env.store.cards(state: state, outletID: outlet, after: after, limit: limit)
        ).map(CardView.init)
    }

    /// Renewal offered: the held cards without a new card in progress that expire in the
    /// next `withinDays` days (1-366), soonest first; outlet-bound roles see their own outlet's
    /// cards (the outlet that took the application), others one outlet or all. `after` is the
    /// last card of the previous page.
    public func expiringCards(
        withinDays: Int, outletID: Outlet.ID?, after: Card.ID?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [CardView] {
        try actor.require(.readCards)
        guard (1...366).contains(withinDays) else { throw CitizenCardError.invalid("withinDays", "1 to 366") }
        let outlet = actor.role?.isOutletBound == true ? try actor.counterOutlet(requested: outletID) : outletID
        var key: (Timestamp, Card.ID)?
        if let after {
            guard let card = try await env.fetch(try await env.store.card(id: after)), let expiresAt = card.expiresAt
            else { throw CitizenCardError.invalid("after", "a card of the previous page") }
            key = (expiresAt, card.id)
        }
        let now = env.clock.now()
        return try await env.fetch(
            try await env.store.cardsExpiring(
                from: now, until: now.adding(days: withinDays), outletID: outlet, after: key, limit: limit)
        ).map(CardView.init)
    }

    public func receipt(_ id: Receipt.ID, actor: Actor) async throws(CitizenCardError) -> Receipt {
        try actor.require(.readCards)
        guard
            let receipt = try await env.fetch(try await env.store.receipt(id: id))
        else {
            throw CitizenCardError.notFound("receipt")
        }
        if actor.role?.isOutletBound == true && actor.outletID != receipt.outletID {
            throw CitizenCardError(.wrongOutlet, "the receipt belongs to another outlet")
        }
        if let card = try await env.fetch(try await env.store.card(id: receipt.cardID)) {
            try await env.auditCardRead(card, what: "receipt", subject: "receipt:\(receipt.id)", actor: actor)
        }
        return receipt
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (0x30...0x39).contains(self) || (0x41...0x5A).contains(self) || (0x61...0x7A).contains(self)
    }
}

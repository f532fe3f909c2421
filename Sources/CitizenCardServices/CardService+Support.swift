import CitizenCardDomain
import Foundation
import DataProtection
import Storage

extension CardService {
    func load(_ id: Card.ID) async throws(CitizenCardError) -> Card {
        guard let card = try await env.fetch(try await env.store.card(id: id))
        else {
            throw CitizenCardError.notFound("card")
        }
        return card
    }

    func storedVersion(_ id: Card.ID) async throws(CitizenCardError) -> Int64 {
        try await load(id).version
    }

    /// The card after any time-based transitions that were due; their updates and events join
    /// `changes` (which then also guards on the stored version).
    func normalized(_ card: Card, into changes: inout ChangeSet) async throws(CitizenCardError) -> Card {
        let steps = card.dueTransitions(context: env.context(.system))
        guard let last = steps.last?.0 else { return card }
        changes.add(.updateCard(last, expectedVersion: card.version))
        for (stepCard, event) in steps {
            changes.add(.appendCardEvent(event))
            changes.record(
                audit(
                    stepCard, action: "card.\(event.action.rawValue)", actor: .system,
                    detail: ["to": stepCard.state.rawValue]))
        }
        return last
    }

    func normalizedCards(of personID: Person.ID, into changes: inout ChangeSet) async throws(CitizenCardError) -> [Card]
    {
        let cards = try await env.fetch(try await env.store.cards(personID: personID))
        var result: [Card] = []
        for card in cards { result.append(try await normalized(card, into: &changes)) }
        return result
    }

    /// Normalises `card`, applies `action` and adds the update, the event and the audit entry to
    /// `changes`. When normalisation already updated the card, the update is merged into one.
    func apply(
        _ action: CardAction, to stored: Card, actor: Actor, into changes: inout ChangeSet
    )
        async throws(CitizenCardError) -> Card
    {
        var pending = ChangeSet()
        let current = try await normalized(stored, into: &pending)
        let (next, event) = try current.applying(action, context: env.context(actor))
        for change in pending.changes {
            if case .card(.updateCard) = change { continue }
            changes.add(change)
        }
        for entry in pending.audit { changes.record(entry) }
        changes.add(.updateCard(next, expectedVersion: stored.version))
        changes.add(.appendCardEvent(event))
        changes.record(
            audit(
                next, action: "card.\(event.action.rawValue)", actor: actor,
                detail: ["from": event.from.rawValue, "to": event.to.rawValue]))
        return next
    }

    /// One transition of one card, committed.
    func transition(
        _ card: Card, _ action: CardAction, actor: Actor, idempotency: IdempotencyKey?
    )
        async throws(CitizenCardError) -> CardServiceResult
    {
        var changes = ChangeSet()
        let next = try await apply(action, to: card, actor: actor, into: &changes)
        return try await commit(changes, result: CardServiceResult(card: next), idempotency: idempotency)
    }

    /// Commits and, when the client gave an idempotency key, stores the answer in the same commit.
    func commit<Result: Encodable & Sendable>(
        _ changes: ChangeSet, result: Result, idempotency: IdempotencyKey?
    ) async throws(CitizenCardError) -> Result {
        var changes = changes
        if let idempotency {
            let body = (try? APIJSON.encoder.encode(result)) ?? Data()
            changes.add(
                .saveIdempotencyRecord(
                    IdempotencyRecord(
                        key: idempotency.key, requestHash: Data(idempotency.requestHash), status: idempotency.status,
                        response: body, createdAt: env.clock.now())))
        }
        try await env.commit(changes)
        return result
    }

    func newCard(
        for personID: Person.ID, kind: Card.Kind, channel: ApplicationChannel, outletID: Outlet.ID,
        predecessor: Card.ID?
    )
        async throws(CitizenCardError) -> Card
    {
        let sequence = try await env.fetch(try await env.store.allocate(.card, count: 1))
        return Card(
            id: env.ids.make(), personID: personID, kind: kind,
            number: CardNumbering.cardNumber(prefix: env.city.cardPrefix, sequence: sequence),
            asn: CardNumbering.asn(prefix: env.city.cardPrefix, sequence: sequence), channel: channel,
            outletID: outletID, predecessorID: predecessor, at: env.clock.now())
    }

    func makeReceipt(
        _ item: FeeItem, card: Card, expectedFeeFen: Int64?, outletID: Outlet.ID, actor: Actor
    )
        async throws(CitizenCardError) -> Receipt
    {
        let now = env.clock.now()
        let schedule = FeeSchedule(
            entries: try await env.fetch(try await env.store.feeEntries()))
        let amount = try schedule.charge(for: item, at: now, expected: expectedFeeFen.map(Money.init(fen:)))
        guard
            let outlet = try await env.fetch(try await env.store.outlet(id: outletID)),
            let operatorID = actor.operatorID
        else { throw CitizenCardError(.forbidden, "receipts are made by outlet staff") }
        let sequence = try await env.fetch(try await env.store.allocate(.receipt, count: 1))
        return Receipt(
            id: env.ids.make(), number: "R\(outlet.code)-\(CardNumbering.zeroPadded(sequence, width: 8))", at: now,
            outletID: outletID, operatorID: operatorID, personID: card.personID, cardID: card.id, item: item,
            amount: amount)
    }

    func creationEvent(_ card: Card, actor: Actor, receipt: Receipt?) -> CardEvent {
        CardEvent(
            cardID: card.id, sequence: card.version, action: .create, from: card.state, to: card.state,
            at: card.appliedAt, actor: actor.name, outletID: card.outletID, reason: card.kind.rawValue,
            receiptID: receipt?.id)
    }

    func audit(_ card: Card, action: String, actor: Actor, detail: [String: String]) -> AuditDraft {
        AuditDraft(
            at: env.clock.now(), actor: actor.name, action: action, subject: "card:\(card.id)", personID: card.personID,
            purpose: "card lifecycle", detail: RegistryService.json(detail))
    }

    /// The card, after checking that the document shown is its holder's (one read for both).
    func load(_ id: Card.ID, checking identity: IdentityCheck) async throws(CitizenCardError) -> Card {
        let (card, holderIndex) = try await loadWithHolder(id)
        try check(identity, holderIndex: holderIndex)
        return card
    }

    /// The card and the blind index of its holder's ID number.
    func loadWithHolder(_ id: Card.ID) async throws(CitizenCardError) -> (Card, Data) {
        guard let found = try await env.fetch(await env.store.cardWithHolderIndex(id: id)) else {
            throw CitizenCardError.notFound("card")
        }
        return found
    }

    /// The document shown must be the holder's: the blind index of the number presented equals the
    /// holder's.
    func check(_ identity: IdentityCheck, holderIndex: Data) throws(CitizenCardError) {
        guard identity.documentChecked else {
            throw CitizenCardError.invalid(
                "identity.documentChecked", "check the identity document first", zh: "请先核验身份证件")
        }
        let presented = try PersonFields.residentID(
            identity.idNumber, today: env.today, field: "identity.idNumber", regions: env.regions)
        guard env.vault.indexOf(presented) == holderIndex else { throw CitizenCardError(.identityMismatch) }
    }

    /// Alive, eligible under the rules in force, with a portrait on file.
    func requireCardable(_ person: Person) async throws(CitizenCardError) {
        guard person.attributes.lifeStatus == .alive else { throw CitizenCardError(.personDeceased) }
        let decision = try await registry.decideEligibility(person)
        guard decision.eligible else { throw CitizenCardError(.notEligible, decision.reason) }
        guard person.details.photoID != nil else { throw CitizenCardError(.photoRequired) }
    }
}

extension RegistryService {
    /// The sealed record for an ID number, without reading (and so without auditing) its content.
    func lookupSealed(idNumber: String) async throws(CitizenCardError) -> SealedPerson {
        let residentID = try PersonFields.residentID(idNumber, today: env.today, regions: env.regions)
        guard
            let sealed = try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(residentID)))
        else { throw CitizenCardError.notFound("person") }
        return sealed
    }
}

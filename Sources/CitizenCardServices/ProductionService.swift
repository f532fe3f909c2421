public import SmartCard
public import CitizenCardDomain
import Foundation
import DataProtection
import Storage

/// Card production (R-11): batches of verified cards, the personalisation file for the factory,
/// the factory's per-card results, delivery to the outlets.
public struct ProductionService: Sendable {
    let env: ServiceEnvironment
    var cards: CardService { CardService(env) }
    var registry: RegistryService { RegistryService(env) }

    public init(_ env: ServiceEnvironment) { self.env = env }

    public static let batchSizeMax = 5000

    public struct BatchRequest: Codable, Sendable {
        /// At most this many approved cards, oldest application first (default and maximum 5000).
        public var limit: Int?
        /// Only cards applied for at this outlet.
        public var outletId: Outlet.ID?
        /// Exactly these cards (each must be approved); `limit` and `outletId` then do not apply.
        public var cardIds: [Card.ID]?

        public init(limit: Int? = nil, outletId: Outlet.ID? = nil, cardIds: [Card.ID]? = nil) {
            self.limit = limit
            self.outletId = outletId
            self.cardIds = cardIds
        }
    }

    public struct BatchView: Codable, Hashable, Sendable {
        public var batch: ProductionBatch
        public var cards: [CardView]
        /// Cards the batch was to take that their bank held out (refused or did not answer);
        /// they stay approved and go into a later batch (issue 20).
        public var heldByBank: [BankService.HeldCard]?
    }

    /// Puts approved cards into a new batch (state `exported`).
    public func createBatch(
        _ request: BatchRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> BatchView
    {
        try actor.require(.manageProduction)
        let limit = request.limit ?? Self.batchSizeMax
        guard (1...Self.batchSizeMax).contains(limit) else {
            throw CitizenCardError.invalid("limit", "1-\(Self.batchSizeMax)")
        }
        var approved: [Card]
        if let ids = request.cardIds {
            guard (1...Self.batchSizeMax).contains(ids.count), Set(ids).count == ids.count else {
                throw CitizenCardError.invalid("cardIds", "1-\(Self.batchSizeMax) distinct card ids")
            }
            approved = try await chosenCards(ids)
        } else {
            approved = try await approvedCards(outletID: request.outletId, limit: limit)
        }
        guard !approved.isEmpty else {
            throw CitizenCardError(.batchNotOpen, "no approved cards are waiting for production", zh: "没有待制卡的卡片")
        }
        // Each card's bank opens its account first; a card its bank holds out waits, the rest go on.
        var (held, changes) = try await BankService(env).openAccounts(for: approved, actor: actor)
        let heldIDs = Set(held.map(\.cardId))
        approved = approved.filter { !heldIDs.contains($0.id) }
        guard !approved.isEmpty else {
            try await env.commit(changes)
            throw CitizenCardError(
                .batchNotOpen, "every card is held by its bank: \(held.first?.reason ?? "")",
                zh: "所有卡片均被银行暂缓制卡")
        }
        let sequence = try await env.fetch(try await env.store.allocate(.batch, count: 1))
        let batch = ProductionBatch(
            id: env.ids.make(), number: "PB" + CardNumbering.zeroPadded(sequence, width: 6), cardCount: approved.count,
            createdAt: env.clock.now(), createdBy: actor.name)
        changes.add(.insertBatch(batch))
        var inBatch: [Card] = []
        for card in approved {
            inBatch.append(try await cards.apply(.addToBatch(batch.id), to: card, actor: actor, into: &changes))
        }
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "batch.create", subject: "batch:\(batch.id)",
                purpose: "card production", detail: #"{"cards":\#(approved.count),"heldByBank":\#(held.count)}"#))
        return try await cards.commit(
            changes,
            result: BatchView(batch: batch, cards: inBatch.map(CardView.init), heldByBank: held.isEmpty ? nil : held),
            idempotency: idempotency)
    }

    /// The named cards, all approved, or an error naming the positions that are not.
    func chosenCards(_ ids: [Card.ID]) async throws(CitizenCardError) -> [Card] {
        var cards: [Card] = []
        var problems: [String] = []
        for (index, id) in ids.enumerated() {
            let card = try await env.fetch(try await env.store.card(id: id))
            if let card, card.state == .approved { cards.append(card) } else { problems.append("\(index + 1)") }
        }
        guard problems.isEmpty else {
            throw CitizenCardError.invalid(
                "cardIds", "not approved cards at positions \(problems.prefix(20).joined(separator: ", "))")
        }
        return cards
    }

    func approvedCards(outletID: Outlet.ID?, limit: Int) async throws(CitizenCardError) -> [Card] {
        var result: [Card] = []
        var after: Card.ID? = nil
        while result.count < limit {
            let wanted = min(1000, limit - result.count)
            let page = try await env.fetch(
                try await env.store.cards(state: .approved, outletID: outletID, after: after, limit: wanted))
            result += page
            guard page.count == wanted, let last = page.last else { break }
            after = last.id
        }
        return result
    }

    public func batch(_ id: ProductionBatch.ID, actor: Actor) async throws(CitizenCardError) -> BatchView {
        try actor.require(.manageProduction)
        let batch = try await load(id)
        let members = try await env.fetch(try await env.store.cards(batchID: id))
        return BatchView(batch: batch, cards: members.map(CardView.init))
    }

    public func batches(limit: Int, actor: Actor) async throws(CitizenCardError) -> [ProductionBatch] {
        try actor.require(.manageProduction)
        return try await env.fetch(try await env.store.batches(limit: limit))
    }

    /// One card of the personalisation file: only what is printed on or written into the card.
    public struct PersonalisationRecord: Codable, Hashable, Sendable {
        public var cardNumber: String
        public var asn: String
        public var name: String
        public var sex: Sex
        public var socialSecurityNumber: String
        public var cardKind: Card.Kind
        /// The outlet the finished card goes to.
        public var outletCode: String
        /// `image/jpeg` or `image/png`, and the portrait in base64.
        public var photoMediaType: String
        public var photoBase64: String
        /// The partner bank and the bank card number printed on the card and written to the
        /// chip; absent for a card without a bank account (R-34).
        public var bankCode: String?
        public var bankCardNumber: String?
        /// What the chip gets: ASN, key version, the data files, the card's diversified keys
        /// wrapped under the factory's transport key (docs/software-card.md).
        public var chip: CardPersonalisation
    }

    public struct PersonalisationFile: Codable, Hashable, Sendable {
        public var format: String
        public var batchNumber: String
        public var cityCode: String
        public var createdAt: Timestamp
        public var records: [PersonalisationRecord]
    }

    /// The file the card factory needs; every person in it is an audited read.
    public func personalisationFile(
        _ id: ProductionBatch.ID, actor: Actor
    ) async throws(CitizenCardError)
        -> PersonalisationFile
    {
        try actor.require(.manageProduction)
        let batch = try await load(id)
        let members = try await env.fetch(try await env.store.cards(batchID: id))
            .filter { $0.state == .inProduction }
        let outlets = Dictionary(
            uniqueKeysWithValues: try await env.fetch(try await env.store.outlets())
                .map {
                    ($0.id, $0.code)
                })
        var records: [PersonalisationRecord] = []
        var changes = ChangeSet()
        let now = env.clock.now()
        // The chip's validity dates: from the personalisation day, for the validity of a card (Art 26).
        let issued = env.today
        let expires =
            CalendarDate(year: issued.year + env.policy.validityYears, month: issued.month, day: issued.day)
            ?? CalendarDate(year: issued.year + env.policy.validityYears, month: issued.month, day: 28) ?? issued
        func digits(_ date: CalendarDate) -> String { date.iso8601.replacingOccurrences(of: "-", with: "") }
        let banks = BankService(env)
        let bankNumbers = try await banks.openNumbers(cardIDs: members.map(\.id))
        var bankCodes: [Card.ID: String] = [:]
        for account in try await env.fetch(try await env.store.bankAccounts(cardIDs: members.map(\.id)))
        where account.state == .open {
            bankCodes[account.cardID] = account.bankCode
        }
        for card in members {
            let person = try registry.open(try await registry.load(card.personID))
            let photo = try await photo(of: person)
            let holder = Self.chipHolder(
                person, cardNumber: card.number, bankCardNumber: bankNumbers[card.id] ?? "", issued: digits(issued),
                expires: digits(expires))
            let chip: CardPersonalisation
            do {
                chip = try CardPersonalisation(asn: card.asn, holder: holder, keyring: env.issuerKeys)
            } catch {
                // Never the holder's data in the message: the field and the reason only.
                throw CitizenCardError(.internal, "card \(card.number) cannot be personalised: \(error)")
            }
            records.append(
                PersonalisationRecord(
                    cardNumber: card.number, asn: card.asn, name: person.details.name, sex: person.details.sex,
                    socialSecurityNumber: person.details.socialSecurityNumber, cardKind: card.kind,
                    outletCode: outlets[card.outletID] ?? "", photoMediaType: photo.mediaType,
                    photoBase64: photo.bytes.base64EncodedString(), bankCode: bankCodes[card.id],
                    bankCardNumber: bankNumbers[card.id], chip: chip))
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: "person.personalisation", subject: "batch:\(batch.id)",
                    personID: person.id, purpose: "card personalisation", detail: #"{"card":"\#(card.id)"}"#))
        }
        try await env.commit(changes)
        return PersonalisationFile(
            format: "citizencard-personalisation/1", batchNumber: batch.number, cityCode: env.city.divisionCode,
            createdAt: now, records: records)
    }

    /// The social-security application's data files for one card (R-30, docs/software-card.md
    /// "Printed and on the chip"): every field of the record the chip has a place for. The bank
    /// card number is the one the partner bank opened (R-34), empty for a card without a bank;
    /// sex, birth date and region code come from the resident ID number, as the register
    /// validated it.
    static func chipHolder(
        _ person: Person, cardNumber: String, bankCardNumber: String = "", issued: String, expires: String
    ) -> CardHolder {
        let details = person.details
        let birth = details.birthDate.iso8601.replacingOccurrences(of: "-", with: "")
        return CardHolder(
            name: details.name, socialSecurityNumber: details.socialSecurityNumber, cardSerialNumber: cardNumber,
            bankCardNumber: bankCardNumber, issueDate: issued, expiryDate: expires,
            photoReference: details.photoID?.rawValue ?? "", sexCode: details.sex == .male ? "1" : "2",
            birthDate: birth, regionCode: details.residentID.regionCode)
    }

    func photo(of person: Person) async throws(CitizenCardError) -> (mediaType: String, bytes: Data) {
        guard let photoID = person.details.photoID,
            let stored = try await env.fetch(try await env.store.photo(id: photoID))
        else { throw CitizenCardError(.photoRequired) }
        do {
            return (stored.mediaType, try env.vault.openPhoto(stored.content, photoID: photoID))
        } catch {
            throw CitizenCardError(.internal, "photo cannot be opened")
        }
    }

    public struct FactoryResult: Codable, Hashable, Sendable {
        public enum Outcome: String, Codable, Sendable { case ok, failed }
        public var cardNumber: String
        public var outcome: Outcome
        public var reason: String?

        public init(cardNumber: String, outcome: Outcome, reason: String? = nil) {
            self.cardNumber = cardNumber
            self.outcome = outcome
            self.reason = reason
        }
    }

    public struct ResultsRequest: Codable, Sendable {
        public var results: [FactoryResult]

        public init(results: [FactoryResult]) { self.results = results }
    }

    /// Records the factory's per-card results, all or none: a row for a card that is not in the
    /// batch or not in production refuses the whole request, naming the rows. Failed cards go back
    /// to the production queue. When every card has a result the batch is `produced`.
    public func recordResults(
        _ id: ProductionBatch.ID, _ request: ResultsRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    )
        async throws(CitizenCardError) -> BatchView
    {
        try actor.require(.manageProduction)
        var batch = try await load(id)
        guard batch.state == .exported else { throw CitizenCardError(.batchNotOpen, "the batch has all its results") }
        guard (1...Self.batchSizeMax).contains(request.results.count) else {
            throw CitizenCardError.invalid(
                "results", "give 1-\(Self.batchSizeMax) results", zh: "制卡结果须为1至\(Self.batchSizeMax)条")
        }
        let members = try await env.fetch(try await env.store.cards(batchID: id))
        let byNumber = Dictionary(uniqueKeysWithValues: members.map { ($0.number, $0) })
        var problems: [String] = []
        var seen = Set<String>()
        for (index, result) in request.results.enumerated() {
            if byNumber[result.cardNumber]?.state != .inProduction || !seen.insert(result.cardNumber).inserted {
                problems.append("row \(index + 1): card not in production in this batch, or listed twice")
            } else if result.outcome == .failed && (result.reason ?? "").trimmingSpaces.isEmpty {
                problems.append("row \(index + 1): a failure needs a reason")
            }
        }
        guard problems.isEmpty else {
            throw CitizenCardError.invalid(
                "results", problems.prefix(20).joined(separator: "; "),
                zh: "\(problems.count) 行有误：卡片不在本批次制卡中、重复，或失败未注明原因")
        }
        var changes = ChangeSet()
        var updated: [Card.ID: Card] = [:]
        var remaining = members.filter { $0.state == .inProduction }.count
        for result in request.results {
            let action: CardAction =
                result.outcome == .ok ? .productionSucceeded : .productionFailed(reason: result.reason ?? "")
            let card = try await cards.apply(action, to: byNumber[result.cardNumber]!, actor: actor, into: &changes)
            updated[card.id] = card
            remaining -= 1
        }
        let expected = batch.version
        if remaining == 0 {
            batch.state = .produced
            batch.producedAt = env.clock.now()
        }
        batch.version += 1
        changes.add(.updateBatch(batch, expectedVersion: expected))
        let failed = request.results.filter { $0.outcome == .failed }.count
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "batch.results", subject: "batch:\(batch.id)",
                purpose: "card production",
                detail: #"{"ok":\#(request.results.count - failed),"failed":\#(failed),"remaining":\#(remaining)}"#))
        let view = BatchView(batch: batch, cards: members.map { CardView(updated[$0.id] ?? $0) })
        return try await cards.commit(changes, result: view, idempotency: idempotency)
    }

    /// Sends the made cards of a produced batch to their outlets.
    public func deliver(
        _ id: ProductionBatch.ID, actor: Actor, idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError)
        -> BatchView
    {
        try actor.require(.manageProduction)
        var batch = try await load(id)
        guard batch.state == .produced else {
            throw CitizenCardError(.batchNotOpen, "only a produced batch can be delivered")
        }
        let members = try await env.fetch(try await env.store.cards(batchID: id))
        var changes = ChangeSet()
        var updated: [Card.ID: Card] = [:]
        for card in members where card.state == .produced {
            updated[card.id] = try await cards.apply(.deliver, to: card, actor: actor, into: &changes)
        }
        let delivered = updated.count
        let expected = batch.version
        batch.state = .delivered
        batch.deliveredAt = env.clock.now()
        batch.version += 1
        changes.add(.updateBatch(batch, expectedVersion: expected))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "batch.deliver", subject: "batch:\(batch.id)",
                purpose: "card production", detail: #"{"delivered":\#(delivered)}"#))
        let view = BatchView(batch: batch, cards: members.map { CardView(updated[$0.id] ?? $0) })
        return try await cards.commit(changes, result: view, idempotency: idempotency)
    }

    func load(_ id: ProductionBatch.ID) async throws(CitizenCardError) -> ProductionBatch {
        guard let batch = try await env.fetch(try await env.store.batch(id: id))
        else {
            throw CitizenCardError.notFound("production batch")
        }
        return batch
    }
}

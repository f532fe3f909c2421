public import CitizenCardDomain
import CardCrypto
import Foundation
import Ledger
public import Storage

/// Online loads (圈存) of a card's e-purse at an outlet (R-33, issue 5 part 2).
///
/// 1. The counter reads the card's INITIALIZE FOR LOAD answer and sends it with the amount and
///    the funding: `approveLoad` checks the card is active and has no unresolved load, checks the
///    card's MAC1 with the issuer's load master key, and commits in one transaction the load
///    (`approved`), the ledger transfer (funding → the card's purse) and the audit entry; it
///    answers MAC2 for the card's CREDIT FOR LOAD.
/// 2. The card answers a TAC: `completeLoad` verifies it (`completed`).
/// 3. If the card left before its answer came back, the next read of the card settles it:
///    `resolveLoad` with a fresh INITIALIZE FOR LOAD answer, whose MAC1 authenticates the card's
///    online counter and balance. A counter past the load's means
///    the card credited (`completed`); the same counter and balance mean it never did
///    (`reversed`: a reversing ledger transfer gives the money back). Money is never lost and
///    never loaded twice: one unreversed load per card and counter is a unique rule of the store.
public struct PurseService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct LoadRequest: Codable, Sendable {
        public var amountFen: Int64
        public var funding: PurseLoad.Funding
        /// The terminal id sent to the card in INITIALIZE FOR LOAD: 12 hex digits.
        public var terminalId: String
        /// The time to send with MAC2: `YYYYMMDDhhmmss`, the outlet's local time.
        public var transactionTime: String
        /// The card's 16-byte answer to INITIALIZE FOR LOAD (without the status word): 32 hex digits.
        public var initializeResponse: String
        /// For `legacy_balance` funding: the holder's old card whose balance is folded in.
        public var legacyCardId: LegacyCard.ID?

        public init(
            amountFen: Int64, funding: PurseLoad.Funding, terminalId: String, transactionTime: String,
            initializeResponse: String, legacyCardId: LegacyCard.ID? = nil
        ) {
            self.amountFen = amountFen
            self.funding = funding
            self.terminalId = terminalId
            self.transactionTime = transactionTime
            self.initializeResponse = initializeResponse
            self.legacyCardId = legacyCardId
        }
    }

    public struct LoadView: Codable, Sendable, Equatable {
        public var load: PurseLoad
        /// MAC2 for CREDIT FOR LOAD (8 hex digits).
        public var mac2: String
    }

    /// The ledger's purse policy (cap: 1,000.00 yuan).
    var policy: LedgerPolicy { .standard }

    /// The closed purse whose balance goes onto `card` with `old_card_refund` funding: the
    /// migration to it after a reissue, replacement or renewal, or — for a card renewed after its
    /// expired predecessor's purse was closed as a refund — that refund (issue 21: an expired
    /// card's balance is migrated to the renewed card or refunded).
    func oldCardClosure(of card: Card) async throws(CitizenCardError) -> PurseClosure? {
        if let migration = try await env.fetch(try await env.store.purseClosure(successorID: card.id)),
            migration.kind == .migration
        {
            return migration
        }
        guard let predecessorID = card.predecessorID,
            let closure = try await env.fetch(try await env.store.purseClosure(cardID: predecessorID)),
            closure.kind == .refund, closure.successorID == nil,
            let predecessor = try await env.fetch(try await env.store.card(id: predecessorID)),
            predecessor.state == .expired
        else { return nil }
        return closure
    }

    /// The amount of the predecessor's closed purse that `cardID` may be loaded with
    /// (`old_card_refund`), while it waits; nil when there is none.
    public func oldCardRefund(for cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> Money? {
        try actor.require(.readCards)
        guard let card = try await env.fetch(try await env.store.card(id: cardID)),
            let closure = try await oldCardClosure(of: card), closure.status == .due, closure.amountFen > 0
        else { return nil }
        return Money(fen: closure.amountFen)
    }

    public func approveLoad(
        _ cardID: Card.ID, _ request: LoadRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> LoadView {
        try actor.require(.counterService)
        let outlet = try actor.counterOutlet()
        guard let card = try await env.fetch(try await env.store.card(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        guard card.state == .active else {
            throw CitizenCardError(.transitionNotAllowed, "only an active card can be loaded", zh: "只有正常状态的卡可以圈存")
        }
        if try await env.fetch(try await env.store.cardHold(cardID: card.id)) != nil {
            throw CitizenCardError(
                .transitionNotAllowed, "the card is blocked after its holder's death", zh: "持卡人已身故，此卡已止付")
        }
        guard (1...policy.purseCapFen).contains(request.amountFen) else {
            throw CitizenCardError(.invalidField, field: "amountFen", "must be 1 to \(policy.purseCapFen) fen")
        }
        let parsed = try Self.parse(request, asn: card.asn)
        let unresolved = try await env.fetch(try await env.store.purseLoads(cardID: cardID))
            .filter { $0.status == .approved }
        guard unresolved.isEmpty else {
            throw CitizenCardError(
                .conflict, "a previous load of this card is not resolved yet", zh: "此卡上一笔圈存尚未确认")
        }
        let mac2: MAC4
        do {
            mac2 = try env.issuerKeys.authorizeLoad(parsed)
        } catch .macMismatch {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "MAC1 does not verify")
        } catch {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "\(error)")
        }
        let now = env.clock.now()
        let load = PurseLoad(
            id: env.ids.make(), cardID: cardID, outletID: outlet, actor: actor.name,
            amount: Money(fen: request.amountFen), funding: request.funding,
            onlineCounter: Int64(parsed.onlineCounter), balanceBefore: Money(fen: parsed.balanceBeforeFen),
            keyVersion: Int64(parsed.keyVersion), algorithmID: Int64(parsed.algorithmID),
            terminalID: request.terminalId.uppercased(), transactionTime: request.transactionTime,
            mac2: mac2.description, approvedAt: now)
        var changes = ChangeSet()
        var legacyKind: LegacyCardKind?
        if request.funding == .legacyBalance {
            let legacy = try await foldableLegacyCard(request, into: card, load: load.id, at: now)
            legacyKind = legacy.kind
            var folded = legacy
            folded.foldedAt = now
            folded.foldedCardID = card.id
            folded.foldedLoadID = load.id
            folded.version = legacy.version + 1
            changes.add(.legacy(.updateLegacyCard(folded, expectedVersion: legacy.version)))
        } else if request.legacyCardId != nil {
            throw CitizenCardError.invalid("legacyCardId", "only a legacy_balance load names an old card")
        }
        if request.funding == .oldCardRefund {
            // The money is the old card's closed purse: exactly its amount, once.
            guard let closure = try await oldCardClosure(of: card), closure.status == .due else {
                throw CitizenCardError.invalid(
                    "funding", "no old card's balance is waiting for this card", zh: "没有待转入此卡的旧卡余额")
            }
            guard closure.amountFen == request.amountFen else {
                throw CitizenCardError.invalid(
                    "amountFen", "the old card's balance is \(closure.amountFen) fen",
                    zh: "旧卡余额为 \(closure.amountFen) 分")
            }
            var settled = closure
            settled.status = .settled
            settled.settledAt = now
            settled.settlement = "load:\(load.id)"
            settled.version = closure.version + 1
            changes.add(.updatePurseClosure(settled, expectedVersion: closure.version))
        }
        changes.add(.insertPurseLoad(load))
        changes.add(
            .postTransfer(
                .load(
                    id: TransferID("load:\(load.id)"), card: cardID,
                    funding: Self.funding(request.funding, outlet, legacy: legacyKind),
                    amountFen: request.amountFen, at: now, memo: "load \(load.id)"),
                policy: policy))
        changes.record(audit(load, card: card, action: "purse.load.approve", actor: actor))
        let view = LoadView(load: load, mac2: mac2.description)
        if let idempotency {
            changes.add(
                .saveIdempotencyRecord(
                    IdempotencyRecord(
                        key: idempotency.key, requestHash: Data(idempotency.requestHash), status: idempotency.status,
                        response: (try? APIJSON.encoder.encode(view)) ?? Data(), createdAt: now)))
        }
        try await env.commit(changes)
        return view
    }

    /// The card's TAC after CREDIT FOR LOAD.
    public func completeLoad(
        _ id: PurseLoad.ID, tac: String, actor: Actor
    ) async throws(CitizenCardError) -> PurseLoad {
        try actor.require(.counterService)
        let (load, card) = try await loadWithCard(id)
        guard load.status == .approved else { throw Self.resolved(load) }
        do {
            let request = try Self.authorizationRequest(load, asn: card.asn)
            try env.issuerKeys.verifyLoadTAC(try MAC4(hex: tac), for: request)
        } catch {
            throw CitizenCardError(.invalidField, field: "tac", "the TAC does not verify")
        }
        var next = load
        next.tac = tac.uppercased()
        return try await resolve(load, as: next, .completed, resolution: "tac", card: card, actor: actor)
    }

    /// What the card shows when it is read again after an interruption: a fresh answer to
    /// INITIALIZE FOR LOAD, whose MAC1 (checked here, its MAC2 never given out) authenticates the
    /// card's online counter and balance, so that nobody can settle a load by typing numbers.
    public struct CardState: Codable, Sendable {
        /// The amount and terminal id the fresh INITIALIZE FOR LOAD was sent with.
        public var amountFen: Int64
        public var terminalId: String
        public var transactionTime: String
        public var initializeResponse: String

        public init(amountFen: Int64, terminalId: String, transactionTime: String, initializeResponse: String) {
            self.amountFen = amountFen
            self.terminalId = terminalId
            self.transactionTime = transactionTime
            self.initializeResponse = initializeResponse
        }
    }

    /// After an interruption: the card's authenticated counter and balance settle the load.
    public func resolveLoad(
        _ id: PurseLoad.ID, cardState: CardState, actor: Actor
    ) async throws(CitizenCardError) -> PurseLoad {
        try actor.require(.counterService)
        let (load, card) = try await loadWithCard(id)
        guard load.status == .approved else { throw Self.resolved(load) }
        let observed = try Self.parse(
            LoadRequest(
                amountFen: cardState.amountFen, funding: load.funding, terminalId: cardState.terminalId,
                transactionTime: cardState.transactionTime, initializeResponse: cardState.initializeResponse),
            asn: card.asn)
        do {
            _ = try env.issuerKeys.authorizeLoad(observed)
        } catch {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "MAC1 does not verify")
        }
        let onlineCounter = Int64(observed.onlineCounter), balanceFen = observed.balanceBeforeFen
        if onlineCounter > load.onlineCounter {
            return try await resolve(load, as: load, .completed, resolution: "card_state", card: card, actor: actor)
        }
        guard onlineCounter == load.onlineCounter, balanceFen == load.balanceBefore.fen else {
            throw CitizenCardError(
                .invalidField, field: "onlineCounter", "the card's counter and balance match neither outcome")
        }
        return try await resolve(load, as: load, .reversed, resolution: "not_credited", card: card, actor: actor)
    }

    func resolve(
        _ stored: PurseLoad, as next: PurseLoad, _ status: PurseLoad.Status, resolution: String, card: Card,
        actor: Actor
    ) async throws(CitizenCardError) -> PurseLoad {
        var next = next
        let now = env.clock.now()
        next.status = status
        next.resolution = resolution
        next.resolvedAt = now
        next.version = stored.version + 1
        var changes = ChangeSet()
        changes.add(.updatePurseLoad(next, expectedVersion: stored.version))
        if status == .reversed, stored.funding == .oldCardRefund,
            let closure = try await oldCardClosure(of: card), closure.settlement == "load:\(stored.id)"
        {
            // The chip never got the old card's balance: it is owed again.
            var due = closure
            due.status = .due
            due.settledAt = nil
            due.settlement = nil
            due.version = closure.version + 1
            changes.add(.updatePurseClosure(due, expectedVersion: closure.version))
        }
        var legacyKind: LegacyCardKind?
        if status == .reversed, stored.funding == .legacyBalance {
            // The chip never got the old card's balance: the old card keeps it, to be folded again.
            guard let legacy = try await env.fetch(try await env.store.legacyCard(foldedLoadID: stored.id)) else {
                throw CitizenCardError(.internal, "the old card of a legacy load is missing")
            }
            legacyKind = legacy.kind
            var unfolded = legacy
            unfolded.foldedAt = nil
            unfolded.foldedCardID = nil
            unfolded.foldedLoadID = nil
            unfolded.version = legacy.version + 1
            changes.add(.legacy(.updateLegacyCard(unfolded, expectedVersion: legacy.version)))
        }
        if status == .reversed {
            let amount = stored.amount.fen
            changes.add(
                .postTransfer(
                    Transfer(
                        id: TransferID("load-reversal:\(stored.id)"), kind: .correction, at: now,
                        memo: "load \(stored.id) not credited",
                        postings: [
                            .debit(.purse(stored.cardID), fen: amount),
                            .credit(
                                Self.funding(stored.funding, stored.outletID, legacy: legacyKind).account, fen: amount),
                        ]),
                    policy: policy))
        }
        changes.record(audit(next, card: card, action: "purse.load.\(status.rawValue)", actor: actor))
        try await env.commit(changes)
        return next
    }

    /// A card's online loads; 404 for a card that does not exist.
    public func loads(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [PurseLoad] {
        try actor.require(.readCards)
        guard let card = try await env.fetch(try await env.store.card(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        try await env.auditCardRead(card, what: "loads", actor: actor)
        return try await env.fetch(try await env.store.purseLoads(cardID: cardID))
    }

    /// Loads still waiting for the card's answer, oldest first: the exceptions a supervisor clears.
    public func unresolvedLoads(limit: Int, actor: Actor) async throws(CitizenCardError) -> [PurseLoad] {
        try actor.require(.readCards)
        return try await env.fetch(try await env.store.purseLoads(status: .approved, limit: limit))
    }

    func loadWithCard(_ id: PurseLoad.ID) async throws(CitizenCardError) -> (PurseLoad, Card) {
        guard let load = try await env.fetch(try await env.store.purseLoad(id: id)) else {
            throw CitizenCardError.notFound("load")
        }
        guard let card = try await env.fetch(try await env.store.card(id: load.cardID)) else {
            throw CitizenCardError(.internal, "the card of a load is missing")
        }
        return (load, card)
    }

    static func resolved(_ load: PurseLoad) -> CitizenCardError {
        CitizenCardError(.conflict, "the load is already \(load.status.rawValue)", zh: "该圈存已确认")
    }

    static func funding(_ funding: PurseLoad.Funding, _ outlet: Outlet.ID, legacy: LegacyCardKind?) -> LoadFunding {
        switch funding {
        case .cash: return .cash(outlet: outlet)
        case .bankTransfer: return .bankTransfer
        case .oldCardRefund: return .oldCardRefund
        case .legacyBalance:
            guard let legacy else { preconditionFailure("a legacy load knows its old card's kind") }
            return .legacy(legacy)
        }
    }

    /// The old card a `legacy_balance` load folds in: the holder's (the blind index of the ID
    /// number the department's file gave), not folded yet, and exactly its balance.
    func foldableLegacyCard(
        _ request: LoadRequest, into card: Card, load: PurseLoad.ID, at now: Timestamp
    ) async throws(CitizenCardError) -> LegacyCard {
        guard let legacyID = request.legacyCardId else {
            throw CitizenCardError.invalid("legacyCardId", "name the old card whose balance is folded in")
        }
        guard let legacy = try await env.fetch(try await env.store.legacyCard(id: legacyID)) else {
            throw CitizenCardError.notFound("old card")
        }
        guard let (_, holderIndex) = try await env.fetch(try await env.store.cardWithHolderIndex(id: card.id)),
            legacy.holderIndex == holderIndex
        else {
            throw CitizenCardError(
                .identityMismatch, "the old card is not this card holder's", zh: "旧卡不属于此持卡人")
        }
        guard !legacy.isFolded else {
            throw CitizenCardError(.transitionNotAllowed, "the old card's balance was folded in already", zh: "旧卡余额已转入")
        }
        guard legacy.balanceFen > 0, legacy.balanceFen == request.amountFen else {
            throw CitizenCardError.invalid(
                "amountFen", "the old card's balance is \(legacy.balanceFen) fen", zh: "旧卡余额为 \(legacy.balanceFen) 分")
        }
        return legacy
    }

    /// The host's view of the card's INITIALIZE FOR LOAD answer.
    static func parse(_ request: LoadRequest, asn: String) throws(CitizenCardError) -> LoadAuthorizationRequest {
        let answer: [UInt8]
        do {
            answer = try Hex.decode(request.initializeResponse, field: "initializeResponse")
        } catch {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "must be 32 hex digits")
        }
        guard answer.count == 16 else {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "must be 32 hex digits")
        }
        func number(_ range: Range<Int>) -> Int64 { answer[range].reduce(Int64(0)) { $0 << 8 | Int64($1) } }
        let terminal: TerminalID
        let time: TransactionDateTime
        do { terminal = try TerminalID(hex: request.terminalId) } catch {
            throw CitizenCardError(.invalidField, field: "terminalId", "must be 12 hex digits")
        }
        do { time = try TransactionDateTime(digits: request.transactionTime) } catch {
            throw CitizenCardError(.invalidField, field: "transactionTime", "must be a real YYYYMMDDhhmmss")
        }
        do {
            return LoadAuthorizationRequest(
                asn: try ApplicationSerialNumber(hex: asn), keyVersion: answer[6], algorithmID: answer[7],
                random: UInt32(number(8..<12)), onlineCounter: UInt16(number(4..<6)), balanceBeforeFen: number(0..<4),
                amountFen: request.amountFen, type: .purseLoad, terminal: terminal, dateTime: time,
                mac1: try MAC4(bytes: answer[12..<16]))
        } catch {
            throw CitizenCardError(.invalidField, field: "initializeResponse", "\(error)")
        }
    }

    /// The request a stored load was approved for (to check its TAC).
    static func authorizationRequest(
        _ load: PurseLoad, asn: String
    ) throws(CardCryptoError) -> LoadAuthorizationRequest {
        LoadAuthorizationRequest(
            asn: try ApplicationSerialNumber(hex: asn), keyVersion: UInt8(truncatingIfNeeded: load.keyVersion),
            algorithmID: UInt8(truncatingIfNeeded: load.algorithmID), random: 0,
            onlineCounter: UInt16(truncatingIfNeeded: load.onlineCounter), balanceBeforeFen: load.balanceBefore.fen,
            amountFen: load.amount.fen, type: .purseLoad, terminal: try TerminalID(hex: load.terminalID),
            dateTime: try TransactionDateTime(digits: load.transactionTime), mac1: try MAC4(hex: "00000000"))
    }

    func audit(_ load: PurseLoad, card: Card, action: String, actor: Actor) -> AuditDraft {
        AuditDraft(
            at: env.clock.now(), actor: actor.name, action: action, subject: "card:\(card.id)", personID: card.personID,
            purpose: "e-purse load",
            detail: RegistryService.json([
                "load": load.id.rawValue, "amountFen": String(load.amount.fen), "funding": load.funding.rawValue,
            ]))
    }
}

public import CitizenCardDomain
import Foundation
import Ledger
import Storage

/// Money held in suspense, and its way out (issue 21; docs/e-purse.md, *Suspense accounts*).
///
/// Two kinds of money wait for someone the center does not know yet: what cards spent in offline
/// records that never reached the host and were written off (`suspense:missing-records`, owed to
/// merchants), and refunds of closed purses that nobody claimed (`refunds:payable`). Neither is
/// ever moved by the system on its own: an administrator records the center's written decision
/// (its reference and reason), and the decision and its ledger transfer are one commit, audited.
///
/// - missing records: paid to the merchant found to be owed it, or taken to `income:unclaimed`;
/// - an unclaimed refund (one card's, owed at least `unclaimedAfterDays`): taken to
///   `income:unclaimed`; the closure is then settled with `unclaimed:<decision id>`.
public struct SuspenseService: Sendable {
    let env: ServiceEnvironment

    /// How long a refund must have been owed before the center may decide it is unclaimed: the
    /// general limitation period of three years (Civil Code, Art 188).
    public static let unclaimedAfterDays = 1095

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct Overview: Codable, Sendable {
        /// `suspense:missing-records`, normal balance.
        public var missingRecordsFen: Int64
        /// `refunds:payable`: every refund owed, claimed or not.
        public var refundsPayableFen: Int64
        /// `income:unclaimed`: what decisions took to income so far.
        public var unclaimedIncomeFen: Int64
        /// Refunds owed for at least `unclaimedAfterDays` (oldest first, at most 200).
        public var unclaimedRefunds: [PurseClosure]
        public var unclaimedAfterDays: Int
        /// The latest decisions, newest first.
        public var decisions: [SuspenseDecision]
    }

    public func overview(actor: Actor) async throws(CitizenCardError) -> Overview {
        try actor.require(.readSuspense)
        let accounts: [AccountID] = [.missingRecords, .refundsPayable, .unclaimedIncome]
        let balances = try await env.fetch(try await env.store.ledgerBalances(accounts))
        func normal(_ account: AccountID) -> Int64 { account.normalBalance(signed: balances[account] ?? 0) }
        return Overview(
            missingRecordsFen: normal(.missingRecords), refundsPayableFen: normal(.refundsPayable),
            unclaimedIncomeFen: normal(.unclaimedIncome),
            unclaimedRefunds: try await env.fetch(
                try await env.store.dueRefunds(closedBefore: unclaimedBefore, limit: 200)),
            unclaimedAfterDays: Self.unclaimedAfterDays,
            decisions: try await env.fetch(try await env.store.suspenseDecisions(limit: 200)))
    }

    var unclaimedBefore: Timestamp {
        env.clock.now().adding(seconds: -Int64(Self.unclaimedAfterDays) * 86_400 + 1)
    }

    public struct DecisionRequest: Codable, Sendable {
        public var source: SuspenseDecision.Source
        public var outcome: SuspenseDecision.Outcome
        /// For `missing_records`: how much (1 to the account's balance). For an unclaimed refund
        /// it is the refund's amount and may be left out.
        public var amountFen: Int64?
        public var merchantId: Merchant.ID?
        public var cardId: Card.ID?
        /// The center's written decision: 1-100 characters.
        public var decisionReference: String
        /// 1-500 characters.
        public var reason: String

        public init(
            source: SuspenseDecision.Source, outcome: SuspenseDecision.Outcome, amountFen: Int64? = nil,
            merchantId: Merchant.ID? = nil, cardId: Card.ID? = nil, decisionReference: String, reason: String
        ) {
            self.source = source
            self.outcome = outcome
            self.amountFen = amountFen
            self.merchantId = merchantId
            self.cardId = cardId
            self.decisionReference = decisionReference
            self.reason = reason
        }
    }

    /// Records a decision and moves the money in one commit.
    ///
    /// - Throws: `forbidden`, `invalid_field` (a field; an outcome the source does not take),
    ///   `not_found` (the merchant or the card's closure), `transition_not_allowed` (the refund is
    ///   not owed, or not owed long enough), `insufficient_balance` (more than the suspense
    ///   account holds), `idempotency_key_reused`.
    public func decide(
        _ request: DecisionRequest, actor: Actor, idempotency: IdempotencyKey? = nil
    ) async throws(CitizenCardError) -> SuspenseDecision {
        try actor.require(.decideSuspense)
        let reference = request.decisionReference.trimmingSpaces
        guard (1...100).contains(reference.count) else {
            throw CitizenCardError.invalid("decisionReference", "the decision's reference, 1-100 characters")
        }
        try TextRule.check(reference, field: "decisionReference", kind: .line)
        let reason = request.reason.trimmingSpaces
        guard (1...500).contains(reason.count) else {
            throw CitizenCardError.invalid("reason", "1-500 characters")
        }
        try TextRule.check(reason, field: "reason", kind: .line)
        let now = env.clock.now()
        let id: SuspenseDecision.ID = env.ids.make()
        var changes = ChangeSet()
        let amount: Int64, from: AccountID, to: AccountID
        switch (request.source, request.outcome) {
        case (.missingRecords, let outcome):
            guard request.cardId == nil else {
                throw CitizenCardError.invalid("cardId", "missing records are not one card's")
            }
            guard let fen = request.amountFen, fen > 0 else {
                throw CitizenCardError.invalid("amountFen", "a positive amount of fen")
            }
            amount = fen
            from = .missingRecords
            if outcome == .merchant {
                guard let merchantID = request.merchantId else {
                    throw CitizenCardError.invalid("merchantId", "name the merchant owed the money")
                }
                guard try await env.fetch(try await env.store.merchant(id: merchantID)) != nil else {
                    throw CitizenCardError.notFound("merchant")
                }
                to = .merchantPayable(merchantID)
            } else {
                guard request.merchantId == nil else {
                    throw CitizenCardError.invalid("merchantId", "only a payment to a merchant names one")
                }
                to = .unclaimedIncome
            }
        case (.unclaimedRefund, .unclaimedIncome):
            guard request.merchantId == nil else {
                throw CitizenCardError.invalid("merchantId", "a refund is not a merchant's")
            }
            guard let cardID = request.cardId else {
                throw CitizenCardError.invalid("cardId", "name the card whose refund is unclaimed")
            }
            guard let closure = try await env.fetch(try await env.store.purseClosure(cardID: cardID)) else {
                throw CitizenCardError.notFound("closure of this card's purse")
            }
            guard closure.kind == .refund, closure.status == .due, closure.amountFen > 0 else {
                throw CitizenCardError(.transitionNotAllowed, "this card's refund is not owed")
            }
            guard closure.closedAt < unclaimedBefore else {
                throw CitizenCardError(
                    .transitionNotAllowed,
                    "a refund is unclaimed only after \(Self.unclaimedAfterDays) days; this one was closed \(closure.closedAt.iso8601)"
                )
            }
            if let fen = request.amountFen, fen != closure.amountFen {
                throw CitizenCardError.invalid("amountFen", "the refund is \(closure.amountFen) fen")
            }
            amount = closure.amountFen
            from = .refundsPayable
            to = .unclaimedIncome
            var settled = closure
            settled.status = .settled
            settled.settledAt = now
            settled.settlement = "unclaimed:\(id)"
            settled.version = closure.version + 1
            changes.add(.updatePurseClosure(settled, expectedVersion: closure.version))
        case (.unclaimedRefund, .merchant):
            throw CitizenCardError.invalid("outcome", "an unclaimed refund goes to unclaimed_income")
        }
        let decision = SuspenseDecision(
            id: id, source: request.source, outcome: request.outcome, amountFen: amount,
            merchantID: request.outcome == .merchant ? request.merchantId : nil, cardID: request.cardId,
            decisionReference: reference, reason: reason, decidedAt: now, actor: actor.name)
        changes.add(.insertSuspenseDecision(decision))
        changes.add(
            .postTransfer(
                .suspenseRelease(
                    id: TransferID("suspense:\(id)"), from: from, to: to, amountFen: amount, at: now,
                    memo: "decision \(reference)"), policy: .standard))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "suspense.decide", subject: "suspense:\(id)",
                purpose: "suspense money",
                detail: RegistryService.json([
                    "source": request.source.rawValue, "outcome": request.outcome.rawValue, "amountFen": "\(amount)",
                    "to": to.rawValue, "decisionReference": reference,
                ])))
        if let idempotency {
            changes.add(
                .saveIdempotencyRecord(
                    IdempotencyRecord(
                        key: idempotency.key, requestHash: Data(idempotency.requestHash), status: idempotency.status,
                        response: (try? APIJSON.encoder.encode(decision)) ?? Data(), createdAt: now)))
        }
        try await env.commit(changes)
        return decision
    }
}

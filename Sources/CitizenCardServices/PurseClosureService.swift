public import CitizenCardDomain
import Foundation
import Ledger
import Storage

/// The e-purse of a card that left service (issue 5 part 5; Art 19 reissue, Art 20 cancellation).
///
/// Terminals upload late, so the old card's balance is final only after a waiting period
/// (`LifecyclePolicy.purseWaitingSeconds`, in the configuration; default 7 days) from the moment the card left service (`replaced` or `cancelled`). Then the host takes
/// the purse's shadow balance — after every record that arrived, each either the holder's or, after
/// the loss's effective time, the operator's — and moves it to refunds payable in one transfer
/// (`closure:<cardID>`), recording a `PurseClosure`:
///
/// - after a reissue or replacement (`migration`): the successor card is loaded with exactly that
///   amount at its next online load with `old_card_refund` funding (the chip is credited with a
///   real MAC2), which settles the closure in the same transaction;
/// - after a cancellation (`refund`): paid out at a counter in cash or by bank transfer.
///
/// A record of the old card that arrives after the closure finds its purse empty and is charged
/// to the operator's risk account.
public struct PurseClosureService: Sendable {
    let env: ServiceEnvironment
    let waitingSeconds: Int64

    /// - Parameter waitingSeconds: the waiting period; nil: the configured policy's.
    public init(_ env: ServiceEnvironment, waitingSeconds: Int64? = nil) {
        self.env = env
        self.waitingSeconds = waitingSeconds ?? env.policy.purseWaitingSeconds
    }

    /// Closes every purse whose card left service at least the waiting period ago; returns how
    /// many were closed. Run by the server's minute job.
    public func closeDue(limit: Int = 500) async throws(CitizenCardError) -> Int {
        let now = env.clock.now()
        var closed = 0
        // Only cards whose waiting period is over: the query never returns the same waiting card
        // again and again, so no due card is starved behind those still waiting.
        let leftBefore = now.adding(seconds: -waitingSeconds)
        for card in try await env.fetch(
            try await env.store.cardsAwaitingPurseClosure(leftBefore: leftBefore, limit: limit))
        {
            let successor =
                card.state == .replaced
                ? try await env.fetch(try await env.store.cards(personID: card.personID)).first {
                    $0.predecessorID == card.id
                }?.id : nil
            let account = AccountID.purse(card.id)
            let balance = account.normalBalance(
                signed: try await env.fetch(try await env.store.ledgerBalances([account]))[account] ?? 0)
            let closure = PurseClosure(
                cardID: card.id, successorID: successor, kind: successor == nil ? .refund : .migration,
                amountFen: balance, closedAt: now)
            var changes = ChangeSet()
            changes.add(.insertPurseClosure(closure))
            if balance > 0 {
                changes.add(
                    .postTransfer(
                        .cancellationRefund(
                            id: TransferID("closure:\(card.id)"), card: card.id, amountFen: balance, at: now,
                            memo: "\(closure.kind.rawValue) after the waiting period"), policy: .standard))
            }
            changes.record(
                AuditDraft(
                    at: now, actor: Actor.system.name, action: "purse.close", subject: "card:\(card.id)",
                    personID: card.personID, purpose: "e-purse closure",
                    detail:
                        #"{"kind":"\#(closure.kind.rawValue)","amountFen":\#(balance),"successor":"\#(successor?.rawValue ?? "")"}"#
                ))
            do throws(StorageError) {
                try await env.store.commit(changes)
                closed += 1
            } catch .duplicate(.purseClosure) {
                continue
            } catch {
                throw ServiceEnvironment.translate(error)
            }
        }
        return closed
    }

    public func closure(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> PurseClosure {
        try actor.require(.readCards)
        guard let closure = try await env.fetch(try await env.store.purseClosure(cardID: cardID)) else {
            throw CitizenCardError.notFound("closure of this card's purse (not closed yet)")
        }
        return closure
    }

    public struct Payout: Codable, Sendable {
        /// `cash` at the actor's outlet or `bank_transfer`.
        public var channel: String

        public init(channel: String) { self.channel = channel }
    }

    /// Pays a cancelled card's refund out at the counter.
    public func payOut(
        _ cardID: Card.ID, _ payout: Payout, actor: Actor
    ) async throws(CitizenCardError)
        -> PurseClosure
    {
        try actor.require(.counterService)
        let outlet = try actor.counterOutlet()
        guard let closure = try await env.fetch(try await env.store.purseClosure(cardID: cardID)) else {
            throw CitizenCardError.notFound("closure of this card's purse (not closed yet)")
        }
        guard closure.kind == .refund else {
            throw CitizenCardError(
                .transitionNotAllowed, "the balance goes to the new card: load it with old_card_refund",
                zh: "余额转入新卡：请以旧卡退款方式圈存")
        }
        guard closure.status == .due else {
            throw CitizenCardError(.transitionNotAllowed, "the refund was already paid", zh: "退款已支付")
        }
        let channel: PaymentChannel
        switch payout.channel {
        case "cash": channel = .cash(outlet: outlet)
        case "bank_transfer": channel = .bankTransfer
        default: throw CitizenCardError.invalid("channel", "cash or bank_transfer")
        }
        let now = env.clock.now()
        var next = closure
        next.status = .settled
        next.settledAt = now
        // The outlet reports find cash payouts by this settlement (`ReportStore.outletActivity`).
        next.settlement = payout.channel == "cash" ? OutletActivity.cashSettlement(outlet) : "bank_transfer"
        next.version = closure.version + 1
        var changes = ChangeSet()
        changes.add(.updatePurseClosure(next, expectedVersion: closure.version))
        changes.add(
            .postTransfer(
                .refundPayout(
                    id: TransferID("refund-payout:\(cardID)"), paidBy: channel, amountFen: closure.amountFen, at: now,
                    memo: "refund of a cancelled card"), policy: .standard))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "purse.refund.payout", subject: "card:\(cardID)",
                purpose: "e-purse refund",
                detail: #"{"amountFen":\#(closure.amountFen),"channel":"\#(payout.channel)"}"#))
        try await env.commit(changes)
        return next
    }
}

public import CitizenCardDomain
import Storage

/// What of a card's money is not settled yet (R-17: a card is cancelled "after related affairs are
/// settled"; issue 21). A cancellation is refused with `affairs_pending` while any is left, and
/// the problem names each one; the counter can read the list first.
extension CardService {
    /// The card's interrupted loads (approved, never completed or resolved) and its records parked
    /// behind a missing one that arrived inside the waiting period (the missing record may still
    /// come and change the balance; after the period the missing records are written off).
    public func pendingAffairs(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [PendingAffair] {
        try actor.require(.readCards)
        return try await pendingAffairs(of: try await load(cardID))
    }

    func pendingAffairs(of card: Card) async throws(CitizenCardError) -> [PendingAffair] {
        let now = env.clock.now()
        let waiting = env.policy.purseWaitingSeconds
        var affairs: [PendingAffair] = []
        for load in try await env.fetch(try await env.store.purseLoads(cardID: card.id)) where load.status == .approved
        {
            affairs.append(
                PendingAffair(
                    kind: .interruptedLoad, id: load.id.rawValue, amountFen: load.amount.fen, since: load.approvedAt,
                    settlesBy: nil))
        }
        for record in try await env.fetch(try await env.store.releasablePurchases(cardIDs: [card.id]))
        where record.receivedAt.adding(seconds: waiting) > now {
            affairs.append(
                PendingAffair(
                    kind: .parkedRecord, id: record.id.rawValue, amountFen: record.amountFen, since: record.receivedAt,
                    settlesBy: record.receivedAt.adding(seconds: waiting)))
        }
        return affairs.sorted { ($0.since, $0.id) < ($1.since, $1.id) }
    }

    /// `affairs_pending`, naming each affair and what to do about it.
    func requireNoPendingAffairs(_ card: Card) async throws(CitizenCardError) {
        let affairs = try await pendingAffairs(of: card)
        guard !affairs.isEmpty else { return }
        let english = affairs.map { affair in
            switch affair.kind {
            case .interruptedLoad:
                "interrupted load \(affair.id) of \(Money(fen: affair.amountFen)) since \(affair.since.iso8601): resolve it with the card in the reader"
            case .parkedRecord:
                "record \(affair.id) of \(Money(fen: affair.amountFen)) parked behind a missing one since \(affair.since.iso8601): wait until \(affair.settlesBy?.iso8601 ?? "")"
            }
        }
        let chinese = affairs.map { affair in
            switch affair.kind {
            case .interruptedLoad: "圈存 \(affair.id)（\(Money(fen: affair.amountFen))）未完成：请插卡处理"
            case .parkedRecord:
                "交易记录 \(affair.id)（\(Money(fen: affair.amountFen))）因缺失记录挂起：请于 \(affair.settlesBy?.iso8601 ?? "") 后办理"
            }
        }
        throw CitizenCardError(
            .affairsPending, english.joined(separator: "; "), zh: chinese.joined(separator: "；"))
    }
}

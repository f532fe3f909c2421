public import CitizenCardDomain
import Foundation
import Ledger
import Storage

/// Writing off a card's missing offline records (docs/terminal-protocol.md, *Writing off missing
/// records*): a record that never reaches the host holds back every later record of its card,
/// parked `gap`, and its merchant is never paid for them. The center writes the missing ones off:
/// the chain moves past them, what they spent moves from the purse to `suspense:missing-records`,
/// and the records behind them are released as a late record would release them.
extension AcquiringService {
    public struct MissingRecordsWriteOff: Codable, Sendable, Equatable {
        public var cardID: Card.ID
        /// The counters written off, first and last.
        public var firstCounter: Int64
        public var lastCounter: Int64
        /// What the missing records spent together, moved from the purse to the suspense account.
        public var amountFen: Int64
        /// Completed loads that lay among the missing records.
        public var loadsInGap: Int
        /// The card's parked records now posted or charged to risk, and those still waiting.
        public var released: Int
        public var stillParked: Int
        public var transferID: String
        public var note: String
        public var writtenOffBy: String
        public var writtenOffAt: Timestamp

        enum CodingKeys: String, CodingKey {
            case firstCounter, lastCounter, amountFen, loadsInGap, released, stillParked, note, writtenOffBy
            case writtenOffAt
            case cardID = "cardId", transferID = "transferId"
        }
    }

    /// Writes off the records missing before the first record of the card parked behind them.
    /// `transition_not_allowed` when the card has no such record, when the known balances do not
    /// add up across the gap (`MissingRecords.Refusal`), or when the purse no longer holds what
    /// they spent (its balance was moved to a new card or refunded); `conflict` when an upload
    /// moved the card's chain meanwhile (send it again).
    public func writeOffMissingRecords(
        card cardID: Card.ID, _ request: NoteRequest, actor: Actor
    ) async throws(CitizenCardError) -> MissingRecordsWriteOff {
        try actor.require(.acquiring)
        let note = try Self.operatorNote(request.note)
        guard let card = try await env.fetch(try await env.store.card(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        guard let state = try await env.fetch(try await env.store.purseStates(asns: [card.asn])).first else {
            throw CitizenCardError(.transitionNotAllowed, "the card has no offline records", zh: "该卡没有脱机消费记录")
        }
        let chain = state.chain ?? PurseChain(cardID: cardID)
        let parked = try await env.fetch(try await env.store.releasablePurchases(cardIDs: [cardID]))
            .sorted { ($0.cardCounter, $0.id.rawValue) < ($1.cardCounter, $1.id.rawValue) }
        guard let first = parked.first, first.reason == .gap, first.cardCounter > chain.nextCounter else {
            throw CitizenCardError(
                .transitionNotAllowed, "no record of the card waits behind missing ones", zh: "该卡没有等待缺失记录的交易")
        }
        guard parked.count(where: { $0.cardCounter == first.cardCounter }) == 1 else {
            throw CitizenCardError(
                .transitionNotAllowed, "two records claim counter \(first.cardCounter); nothing was written off",
                zh: "两条记录使用同一交易序号，未作处理")
        }
        let loads = try await env.fetch(try await env.store.purseLoads(cardID: cardID))
            .filter { $0.status == .completed && $0.onlineCounter >= chain.nextOnlineCounter }
            .sorted { $0.onlineCounter < $1.onlineCounter }
            .map {
                MissingRecords.Load(
                    onlineCounter: $0.onlineCounter, balanceBeforeFen: $0.balanceBefore.fen, amountFen: $0.amount.fen,
                    at: OfflineBatchAssessment.tapTime($0.transactionTime))
            }
        let decision: MissingRecords.Decision
        switch MissingRecords.decide(chain: chain, loads: loads, first: first) {
        case .success(let decided): decision = decided
        case .failure(let refusal): throw Self.refused(refusal)
        }
        let purse = AccountID.purse(cardID).normalBalance(signed: state.signedBalanceFen)
        guard purse >= decision.amountFen else {
            throw CitizenCardError(
                .transitionNotAllowed,
                "the purse holds \(purse) fen, less than the \(decision.amountFen) fen the missing records spent: its balance was moved or refunded",
                zh: "电子钱包余额低于缺失记录的金额（余额已转移或退还）")
        }

        // The records behind the gap, decided again on the moved chain as a late record would.
        guard let terminal = try await env.fetch(try await env.store.terminal(id: first.terminalID)),
            let merchant = try await env.fetch(try await env.store.merchant(id: first.merchantID))
        else { throw CitizenCardError(.internal, "a parked record's terminal or merchant is missing") }
        let now = env.clock.now()
        let releaseID: PurchaseBatch.ID = env.ids.make()
        var input = OfflineBatchAssessment.Input(
            batchID: releaseID, terminal: terminal, merchant: merchant, records: [],
            cards: [
                state.card.asn: .init(
                    card: state.card, chain: decision.chain, loads: [], purseBalanceFen: purse - decision.amountFen)
            ],
            byCardCounter: [:], byPSAMSerial: [:], parked: parked, now: now)
        try await attachLoads([state.card.asn], to: &input)
        let ids = env.ids
        let assessment: OfflineBatchAssessment
        do {
            assessment = try OfflineBatchAssessment(input, newID: { ids.next() }, verifyTAC: { _ in true })
        } catch {
            throw CitizenCardError(.internal, "the released records' transfer: \(error.code.rawValue)")
        }

        guard assessment.released.contains(where: { $0.id == first.id }), assessment.chains.count == 1 else {
            throw CitizenCardError(.internal, "the first record behind the gap did not chain")
        }
        let writeOff = Transfer.missingRecordsWriteOff(
            id: TransferID("missing-records:\(cardID):\(decision.firstCounter)"), card: cardID,
            amountFen: decision.amountFen, at: now,
            memo: "card counters \(decision.firstCounter)-\(decision.lastCounter) written off")
        var changes = ChangeSet()
        changes.add(.postTransfer(writeOff, policy: .standard))
        changes.add(.putPurseChains(assessment.chains))
        if !assessment.released.isEmpty { changes.add(.releasePurchases(assessment.released)) }
        if let released = assessment.transfer {
            changes.add(
                .postTransfer(
                    Transfer(
                        id: TransferID("purchases:\(releaseID)"), kind: .purchase, at: now,
                        memo:
                            "released after counters \(decision.firstCounter)-\(decision.lastCounter) were written off",
                        postings: released.postings),
                    policy: .standard))
        }
        if !assessment.signals.isEmpty { changes.add(.insertFraudSignals(assessment.signals)) }
        // The note stays out of the audit entry: it is free text.
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "purse.missing-records.write-off", subject: "card:\(cardID)",
                purpose: "acquiring",
                detail:
                    #"{"firstCounter":\#(decision.firstCounter),"lastCounter":\#(decision.lastCounter),"amountFen":\#(decision.amountFen),"loadsInGap":\#(decision.loadsInGap),"released":\#(assessment.released.count)}"#
            ))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .conflict {
            throw CitizenCardError(
                .conflict, "an upload moved the card's chain meanwhile; nothing was written off, try again",
                zh: "该卡的交易链刚被更新，未作处理，请重试")
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return MissingRecordsWriteOff(
            cardID: cardID, firstCounter: decision.firstCounter, lastCounter: decision.lastCounter,
            amountFen: decision.amountFen, loadsInGap: decision.loadsInGap, released: assessment.released.count,
            stillParked: parked.count - assessment.released.count, transferID: writeOff.id.rawValue, note: note,
            writtenOffBy: actor.name, writtenOffAt: now)
    }

    static func refused(_ refusal: MissingRecords.Refusal) -> CitizenCardError {
        switch refusal {
        case .noGap:
            CitizenCardError(.transitionNotAllowed, "no record is missing before the card's first parked record")
        case .loadsOutOfOrder:
            CitizenCardError(
                .transitionNotAllowed, "the card's loads are not in time order around the first record behind the gap",
                zh: "圈存记录的时间顺序与缺失记录不一致，未作处理")
        case .balanceRises:
            CitizenCardError(
                .transitionNotAllowed, "the card's balances do not add up across the missing records and its loads",
                zh: "缺失记录前后的余额与圈存记录对不上，未作处理")
        case .tooLittle:
            CitizenCardError(
                .transitionNotAllowed, "the missing records would have spent less than one fen each",
                zh: "缺失记录的金额不合理，未作处理")
        }
    }
}

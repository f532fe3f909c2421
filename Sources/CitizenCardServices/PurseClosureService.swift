public import CitizenCardDomain
public import Foundation
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

    /// Closes every purse whose card left service at least the waiting period ago, a page of
    /// `limit` cards at a time in id order, until none is left or `maxCards` were closed; returns
    /// how many were closed. Run by the server's minute job: a day when many cards leave service
    /// at once (an expiry date shared by a whole issuing year) is closed in one run, not 500 a
    /// minute.
    public func closeDue(limit: Int = 500, maxCards: Int = 100_000) async throws(CitizenCardError) -> Int {
        var closed = 0
        var after: Card.ID?
        while closed < maxCards {
            let (page, last) = try await closePage(after: after, limit: min(limit, maxCards - closed))
            closed += page
            guard let last else { break }
            after = last
        }
        return closed
    }

    /// One page of `closeDue`: how many it closed, and the last card it read (nil: none left).
    func closePage(after: Card.ID?, limit: Int) async throws(CitizenCardError) -> (Int, Card.ID?) {
        let now = env.clock.now()
        var closed = 0
        // Only cards whose waiting period is over: the query never returns the same waiting card
        // again and again, so no due card is starved behind those still waiting.
        let leftBefore = now.adding(seconds: -waitingSeconds)
        let due = try await env.fetch(
            try await env.store.cardsAwaitingPurseClosure(leftBefore: leftBefore, after: after, limit: limit))
        guard !due.isEmpty else { return (0, nil) }
        // The page's balances in one read, its closures in one commit; if another sweep closed one
        // of them meanwhile, the page is done card by card.
        let accounts = due.map { AccountID.purse($0.id) }
        let balances = try await env.fetch(try await env.store.ledgerBalances(accounts))
        var pieces: [ChangeSet] = []
        for card in due {
            let successor =
                card.state == .replaced
                ? try await env.fetch(try await env.store.cards(personID: card.personID)).first {
                    $0.predecessorID == card.id
                }?.id : nil
            let account = AccountID.purse(card.id)
            let balance = account.normalBalance(signed: balances[account] ?? 0)
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
            pieces.append(changes)
        }
        var page = ChangeSet()
        for piece in pieces { page.append(piece) }
        do throws(StorageError) {
            try await env.store.commit(page)
            closed = pieces.count
        } catch .duplicate(.purseClosure) {
            for piece in pieces {
                do throws(StorageError) {
                    try await env.store.commit(piece)
                    closed += 1
                } catch .duplicate(.purseClosure) {
                    continue
                } catch {
                    throw ServiceEnvironment.translate(error)
                }
            }
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return (closed, due.count == limit ? due.last?.id : nil)
    }

    public func closure(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> PurseClosure {
        try actor.require(.readCards)
        guard let closure = try await env.fetch(try await env.store.purseClosure(cardID: cardID)) else {
            throw CitizenCardError.notFound("closure of this card's purse (not closed yet)")
        }
        return closure
    }

    /// A refund paid out at the counter (R-17): how, to whom, and on what documents.
    public struct Payout: Codable, Sendable {
        /// `cash` at the actor's outlet or `bank_transfer`.
        public var channel: String
        public var payee: Payee
        /// For `bank_transfer`: the payee's account. Refused for `cash`.
        public var bankAccount: BankAccount?

        public init(channel: String, payee: Payee, bankAccount: BankAccount? = nil) {
            self.channel = channel
            self.payee = payee
            self.bankAccount = bankAccount
        }
    }

    public struct Payee: Codable, Sendable {
        public var kind: RefundPayee.Kind
        /// The payee's name as on their document; for the holder, the registered name is recorded
        /// and this may be left out.
        public var name: String?
        /// The resident ID number on the payee's identity document.
        public var idNumber: String
        /// The operator confirms having checked the payee's identity document itself.
        public var documentChecked: Bool
        /// A relative's relationship to the deceased holder (required for `relative`).
        public var relationship: Cancellation.Relationship?
        /// The document that shows the relationship or the inheritance (required for `relative`
        /// and `heir`): a household register, a notarised certificate of inheritance, a judgment.
        public var documentReference: String?

        public init(
            kind: RefundPayee.Kind, name: String? = nil, idNumber: String, documentChecked: Bool,
            relationship: Cancellation.Relationship? = nil, documentReference: String? = nil
        ) {
            self.kind = kind
            self.name = name
            self.idNumber = idNumber
            self.documentChecked = documentChecked
            self.relationship = relationship
            self.documentReference = documentReference
        }
    }

    public struct BankAccount: Codable, Sendable {
        public var bankName: String
        /// 8-30 digits.
        public var accountNumber: String

        public init(bankName: String, accountNumber: String) {
            self.bankName = bankName
            self.accountNumber = accountNumber
        }
    }

    /// A closure as the API shows it: the closure and, once paid, who was paid (masked).
    public struct ClosureView: Codable, Sendable {
        public var closure: PurseClosure
        public var payee: RefundPayee?

        public func encode(to encoder: any Encoder) throws {
            try closure.encode(to: encoder)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encodeIfPresent(payee, forKey: .payee)
        }

        public init(from decoder: any Decoder) throws {
            closure = try PurseClosure(from: decoder)
            payee = try decoder.container(keyedBy: Keys.self).decodeIfPresent(RefundPayee.self, forKey: .payee)
        }

        init(closure: PurseClosure, payee: RefundPayee?) {
            self.closure = closure
            self.payee = payee
        }

        enum Keys: String, CodingKey { case payee }
    }

    public func view(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> ClosureView {
        let closure = try await closure(of: cardID, actor: actor)
        return ClosureView(
            closure: closure, payee: try await env.fetch(try await env.store.refundPayee(cardID: cardID))?.payee)
    }

    /// The sealed details of a payee: bound to the card.
    struct SealedPayee: Codable {
        var name: String
        var idNumber: String
        var documentReference: String?
        var accountNumber: String?
    }

    /// Pays a closed purse's refund out at the counter, to the holder on their identity document,
    /// or — the holder's death registered — to a close relative or an heir on theirs and the
    /// document of the relationship; in cash at the actor's outlet or to a bank account. The payee
    /// is recorded (masked; the full details sealed) with the ledger transfer in one commit.
    ///
    /// - Throws: `not_found` (no closure yet), `transition_not_allowed` (a migration, or paid
    ///   already), `invalid_field` (a field), `invalid_resident_id`, `identity_mismatch` (the
    ///   holder's document is not theirs, or a relative shows the holder's), `person_deceased`
    ///   (the holder was registered dead: a relative or an heir is paid), `relative_required`.
    public func payOut(
        _ cardID: Card.ID, _ payout: Payout, actor: Actor
    ) async throws(CitizenCardError)
        -> ClosureView
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
        switch (payout.channel, payout.bankAccount) {
        case ("cash", nil): channel = .cash(outlet: outlet)
        case ("cash", .some):
            throw CitizenCardError.invalid("bankAccount", "a cash payout has no bank account", zh: "现金支付无需银行账户")
        case ("bank_transfer", .some): channel = .bankTransfer
        case ("bank_transfer", nil):
            throw CitizenCardError.invalid("bankAccount", "name the payee's bank account", zh: "请填写收款银行账户")
        default: throw CitizenCardError.invalid("channel", "cash or bank_transfer")
        }
        let (card, holderIndex) = try await CardService(env).loadWithHolder(cardID)
        let holder = try RegistryService(env).open(try await RegistryService(env).load(card.personID))
        let (payee, sealed) = try await checkedPayee(
            payout, card: card, holder: holder, holderIndex: holderIndex, outlet: outlet, actor: actor)
        let now = env.clock.now()
        var next = closure
        next.status = .settled
        next.settledAt = now
        // The outlet reports find cash payouts by this settlement (`ReportStore.outletActivity`).
        next.settlement = payout.channel == "cash" ? OutletActivity.cashSettlement(outlet) : "bank_transfer"
        next.version = closure.version + 1
        var changes = ChangeSet()
        changes.add(.updatePurseClosure(next, expectedVersion: closure.version))
        changes.add(.insertRefundPayee(payee, sealed: sealed))
        changes.add(
            .postTransfer(
                .refundPayout(
                    id: TransferID("refund-payout:\(cardID)"), paidBy: channel, amountFen: closure.amountFen, at: now,
                    memo: "refund of a closed purse to the \(payee.kind.rawValue)"), policy: .standard))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "purse.refund.payout", subject: "card:\(cardID)",
                personID: card.personID, purpose: "e-purse refund",
                detail:
                    #"{"amountFen":\#(closure.amountFen),"channel":"\#(payout.channel)","payee":"\#(payee.kind.rawValue)"}"#
            ))
        try await env.commit(changes)
        return ClosureView(closure: next, payee: payee)
    }

    func checkedPayee(
        _ payout: Payout, card: Card, holder: Person, holderIndex: Data, outlet: Outlet.ID, actor: Actor
    ) async throws(CitizenCardError) -> (RefundPayee, Data) {
        let request = payout.payee
        guard request.documentChecked else {
            throw CitizenCardError.invalid(
                "payee.documentChecked", "check the payee's identity document first", zh: "请先核验领款人身份证件")
        }
        let presented = try PersonFields.residentID(
            request.idNumber, today: env.today, field: "payee.idNumber", regions: env.regions)
        let isHolder = env.vault.indexOf(presented) == holderIndex
        let deceased = holder.attributes.lifeStatus == .deceased
        var name: String
        var document: String?
        switch request.kind {
        case .holder:
            guard !deceased else {
                throw CitizenCardError(
                    .personDeceased, "the holder's death is registered: pay a close relative or an heir",
                    zh: "持卡人已登记死亡，应向近亲属或继承人支付")
            }
            guard isHolder else { throw CitizenCardError(.identityMismatch) }
            guard request.relationship == nil, request.documentReference == nil else {
                throw CitizenCardError.invalid("payee", "the holder is paid on their identity document alone")
            }
            name = holder.details.name
        case .relative, .heir:
            guard deceased else {
                throw CitizenCardError(
                    .invalidField, field: "payee.kind",
                    "the holder is alive: only the holder is paid; a death must be registered first",
                    zh: "持卡人在世，退款只支付给本人；如已身故请先登记死亡信息")
            }
            guard !isHolder else {
                throw CitizenCardError(
                    .identityMismatch, "the payee's document is the holder's own", zh: "领款人证件为持卡人本人证件")
            }
            if request.kind == .relative, request.relationship == nil {
                throw CitizenCardError(.relativeRequired, "state the relative's relationship to the holder")
            }
            let text = (request.name ?? "").trimmingSpaces
            guard (1...50).contains(text.count) else {
                throw CitizenCardError.invalid("payee.name", "the payee's name, 1-50 characters", zh: "请填写领款人姓名")
            }
            try TextRule.check(text, field: "payee.name", kind: .name)
            name = text
            let reference = (request.documentReference ?? "").trimmingSpaces
            guard (1...100).contains(reference.count) else {
                throw CitizenCardError.invalid(
                    "payee.documentReference", "name the relationship or inheritance document (1-100 characters)",
                    zh: "请填写亲属关系或继承证明文件编号")
            }
            try TextRule.check(reference, field: "payee.documentReference", kind: .line)
            document = reference
        }
        var bankName: String?, accountNumber: String?, accountMasked: String?
        if let account = payout.bankAccount {
            let bank = account.bankName.trimmingSpaces
            guard (1...50).contains(bank.count) else {
                throw CitizenCardError.invalid("bankAccount.bankName", "1-50 characters", zh: "请填写开户银行")
            }
            try TextRule.check(bank, field: "bankAccount.bankName", kind: .line)
            let digits = account.accountNumber.filter { $0 != " " }
            guard (8...30).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw CitizenCardError.invalid(
                    "bankAccount.accountNumber", "8-30 digits", zh: "银行账号应为8至30位数字")
            }
            bankName = bank
            accountNumber = digits
            accountMasked = String(repeating: "*", count: digits.count - 4) + String(digits.suffix(4))
        }
        let payee = RefundPayee(
            cardID: card.id, kind: request.kind, relationship: request.kind == .holder ? nil : request.relationship,
            nameMasked: Masking.name(name), idNumberMasked: Masking.residentID(presented.number),
            documentReferenceMasked: document.map(Masking.documentReference), channel: payout.channel,
            bankName: bankName, accountMasked: accountMasked, paidAt: env.clock.now(), outletID: outlet,
            actor: actor.name)
        let details = SealedPayee(
            name: name, idNumber: presented.number, documentReference: document, accountNumber: accountNumber)
        do {
            let sealed = try env.vault.sealer.seal(
                try JSONEncoder().encode(details), context: "refund_payee:\(card.id.rawValue)")
            return (payee, sealed)
        } catch {
            throw CitizenCardError(.internal, "sealing failed")
        }
    }

    /// Refunds still owed of purses closed more than `olderThanDays` ago (0: all), oldest first:
    /// the unclaimed refunds report, from which the center may decide (`SuspenseService`).
    public func dueRefunds(
        olderThanDays: Int, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [PurseClosure] {
        try actor.require(.readCards)
        guard (0...36_500).contains(olderThanDays) else {
            throw CitizenCardError.invalid("olderThanDays", "0 to 36500")
        }
        let before = env.clock.now().adding(seconds: -Int64(olderThanDays) * 86_400 + 1)
        return try await env.fetch(try await env.store.dueRefunds(closedBefore: before, limit: limit))
    }
}

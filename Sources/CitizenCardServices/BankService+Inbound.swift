public import BankProtocol
public import CitizenCardDomain
import BankLink
public import Foundation
public import Storage

/// Notices from the banks: a loss reported at the bank, an account the bank closed.
extension BankService {
    /// What a bank's request brings: the headers that sign it and the body as received.
    public struct SignedMessage: Sendable {
        public var bankCodeHeader: String?
        public var timestamp: String?
        public var signature: String?
        public var method: String
        public var path: String
        public var body: Data

        public init(
            bankCodeHeader: String?, timestamp: String?, signature: String?, method: String, path: String, body: Data
        ) {
            self.bankCodeHeader = bankCodeHeader
            self.timestamp = timestamp
            self.signature = signature
            self.method = method
            self.path = path
            self.body = body
        }
    }

    /// The bank that signed `message`, or `bank_signature_invalid` (the same for an unknown bank,
    /// so that a stranger learns nothing).
    func authenticate(_ code: String, _ message: SignedMessage) async throws(CitizenCardError) -> PartnerBank {
        let refused = CitizenCardError(.bankSignatureInvalid, "the message is not signed by this bank, or is stale")
        guard Self.isBankCode(code), message.bankCodeHeader == code,
            let bank = try await env.fetch(try await env.store.bank(code: code))
        else { throw refused }
        do {
            try signature(of: bank).verify(
                direction: .toCenter, bankCode: code, timestamp: message.timestamp, signature: message.signature,
                method: message.method, path: message.path, body: message.body,
                now: env.clock.now().secondsSinceEpoch, window: env.bankPolicy.signatureWindowSeconds)
        } catch {
            env.logger.notice("bank message refused", metadata: ["bank": "\(code)", "reason": "\(error)"])
            throw refused
        }
        return bank
    }

    /// A notice from a bank, applied once per notice id: `applied`, `unchanged` (nothing to do:
    /// the card was already lost, say) or `duplicate` (this id was received before; nothing done).
    public func receive(
        bankCode code: String, _ message: SignedMessage
    ) async throws(CitizenCardError) -> BankMessages.BankNoticeAnswer {
        let bank = try await authenticate(code, message)
        let notice: BankMessages.BankNotice
        do {
            notice = try JSONDecoder().decode(BankMessages.BankNotice.self, from: message.body)
        } catch {
            throw CitizenCardError(.malformedRequest, "the body is not a bank notice")
        }
        guard (1...64).contains(notice.noticeId.utf8.count),
            notice.noticeId.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw CitizenCardError.invalid("noticeId", "1-64 visible ASCII characters") }
        for attempt in 0..<4 {
            if try await env.fetch(
                try await env.store.bankInboundNotice(bankCode: bank.code, noticeID: notice.noticeId))
                != nil
            {
                return .init(noticeId: notice.noticeId, status: "duplicate")
            }
            do {
                return try await apply(notice, from: bank)
            } catch  where error.code == .conflict && attempt < 3 {
                continue  // the same id concurrently, or the card changed meanwhile: look again
            }
        }
        throw CitizenCardError(.conflict, "the card was changed concurrently")
    }

    func apply(
        _ notice: BankMessages.BankNotice, from bank: PartnerBank
    ) async throws(CitizenCardError) -> BankMessages.BankNoticeAnswer {
        let unknown = CitizenCardError(.notFound, "no card of this bank has this card and account number")
        guard notice.cardNumber.utf8.count <= 32, BankCardNumber.isWellFormed(notice.accountNumber),
            let card = try await env.fetch(try await env.store.card(number: notice.cardNumber)),
            let account = try await env.fetch(try await env.store.bankAccount(cardID: card.id)),
            account.bankCode == bank.code,
            account.numberIndex == env.vault.index.digest(domain: "bank_account", Data(notice.accountNumber.utf8))
        else { throw unknown }
        let now = env.clock.now()
        let actor = Actor(operatorID: nil, name: "bank:\(bank.code)", role: nil, outletID: nil)
        var changes = ChangeSet()
        var outcome = "unchanged"
        switch notice.kind {
        case .loss:
            var pending = ChangeSet()
            let current = try await cards.normalized(card, into: &pending)
            if current.state == .active {
                _ = try await cards.apply(.reportPreLoss(channel: .bank), to: card, actor: actor, into: &changes)
                outcome = "applied"
            } else {
                changes = pending
            }
        case .accountClosed:
            if account.state != .closed {
                var closed = account
                closed.state = .closed
                closed.closedAt = now
                closed.reason = "closed by the bank"
                closed.version = account.version + 1
                changes.add(.banks(.updateBankAccount(closed, expectedVersion: account.version)))
                outcome = "applied"
            }
        }
        changes.add(
            .banks(
                .insertInboundNotice(
                    BankInboundNotice(
                        bankCode: bank.code, noticeID: notice.noticeId, kind: notice.kind.rawValue, cardID: card.id,
                        receivedAt: now, outcome: outcome))))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "bank.notice_received", subject: "card:\(card.id)",
                purpose: "bank notice",
                detail: #"{"kind":"\#(notice.kind.rawValue)","outcome":"\#(outcome)"}"#))
        do {
            try await env.commit(changes)
        } catch  where error.code == .conflict && error.detail?.contains("bank_inbound_notice") == true {
            return .init(noticeId: notice.noticeId, status: "duplicate")
        }
        return .init(noticeId: notice.noticeId, status: outcome)
    }
}

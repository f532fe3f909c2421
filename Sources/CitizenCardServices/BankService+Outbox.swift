public import BankProtocol
public import CitizenCardDomain
import BankLink
import Foundation
import Logging
import Synchronization
public import Storage

/// The outbox of notices to the banks: written in the commit of the change that causes them,
/// sent in order per card, retried while a bank does not answer, parked after a limit.
extension BankService {
    /// What a notice carries besides its columns (the account number is added when it is sent).
    struct NoticePayload: Codable, Hashable {
        var kind: BankMessages.NoticeKind
        var cardNumber: String
        var effectiveAt: Int64
        var successorCardNumber: String?
    }

    /// The notices a commit causes: a loss, its withdrawal or lapse, a successor card, a
    /// cancellation, a death. Each is enqueued only if its card has an open account (the
    /// statement itself looks), so a city without banks pays nothing but this scan.
    static func noticeDrafts(
        for changes: ChangeSet, env: ServiceEnvironment
    ) async throws(CitizenCardError) -> [BankNoticeDraft] {
        var cardsInCommit: [Card.ID: Card] = [:]
        var interesting = false
        for change in changes.changes {
            switch change {
            case .card(.updateCard(let card, _)), .card(.insertCard(let card)): cardsInCommit[card.id] = card
            case .card(.appendCardEvent(let event)) where kind(of: event.action) != nil: interesting = true
            case .department(.insertCardHold(let hold)) where hold.reason == "death": interesting = true
            default: break
            }
        }
        guard interesting else { return [] }
        let now = env.clock.now()
        let date = now.calendarDate(offsetSeconds: env.city.utcOffsetSeconds).iso8601
        var drafts: [BankNoticeDraft] = []
        func draft(_ payload: NoticePayload, card: Card.ID) throws(CitizenCardError) {
            let data: Data
            do { data = try encoder.encode(payload) } catch { throw CitizenCardError(.internal, "notice payload") }
            drafts.append(
                BankNoticeDraft(
                    noticeID: (env.ids.make() as Card.ID).rawValue, cardID: card, kind: payload.kind.rawValue,
                    payload: data,
                    createdAt: now, businessDate: date))
        }
        for change in changes.changes {
            switch change {
            case .card(.appendCardEvent(let event)):
                guard var kind = kind(of: event.action), let card = cardsInCommit[event.cardID] else { continue }
                if kind == .lossPre, card.loss?.channel == .bank { continue }  // the bank told us
                if event.action == .reportWrittenLoss { kind = .lossWritten }
                let effective =
                    (kind == .lossPre || kind == .lossWritten) ? (card.loss?.effectiveAt ?? event.at) : event.at
                let successor = card.successorID.flatMap { cardsInCommit[$0]?.number }
                try draft(
                    NoticePayload(
                        kind: kind, cardNumber: card.number, effectiveAt: effective.secondsSinceEpoch,
                        successorCardNumber: [.reissue, .replacement, .renewal].contains(kind) ? successor : nil),
                    card: card.id)
            case .department(.insertCardHold(let hold)) where hold.reason == "death":
                let card = try await env.fetch(try await env.store.card(id: hold.cardID))
                guard let card else { continue }
                try draft(
                    NoticePayload(kind: .death, cardNumber: card.number, effectiveAt: hold.at.secondsSinceEpoch),
                    card: card.id)
            default: continue
            }
        }
        return drafts
    }

    static func kind(of action: CardAction.Kind) -> BankMessages.NoticeKind? {
        switch action {
        case .reportPreLoss: .lossPre
        case .reportWrittenLoss: .lossWritten
        case .withdrawLoss: .lossWithdrawn
        case .expirePreLoss: .lossLapsed
        case .reissue: .reissue
        case .requestReplacement: .replacement
        case .renew: .renewal
        case .cancel: .cancellation
        default: nil
        }
    }

    // MARK: Sending

    public struct SendReport: Sendable, Hashable {
        public var delivered = 0
        public var failed = 0
        public var parked = 0
        /// Due but not sent: their bank is not answering and another notice is probing it.
        public var deferred = 0

        public var sent: Int { delivered + failed + parked }

        public init() {}
    }

    enum Delivery {
        case delivered
        /// The bank did not answer, or answered 5xx, 408 or 429: try again later.
        case unavailable(String)
        /// The bank answered but not acceptably (4xx, not an answer to this notice).
        case refused(String)
    }

    /// One pass over the outbox: the due notices (the first undelivered of each card), at most
    /// `batchSize`, sent `concurrency` at a time; the results in one commit.
    public func sendDue(breaker: BankBreaker) async throws(CitizenCardError) -> SendReport {
        let policy = env.bankPolicy
        let now = env.clock.now()
        let due = try await env.fetch(try await env.store.dueBankNotices(now: now, limit: policy.batchSize))
        var report = SendReport()
        guard !due.isEmpty else { return report }
        var banks: [String: PartnerBank] = [:]
        for bank in try await env.fetch(try await env.store.banks()) { banks[bank.code] = bank }
        var accounts: [Card.ID: BankAccount] = [:]
        for account in try await env.fetch(try await env.store.bankAccounts(cardIDs: due.map(\.cardID))) {
            accounts[account.cardID] = account
        }
        // A bank that is not answering gets one probe; the rest of its notices wait for it.
        var probing = Set<String>()
        var sending: [BankNotice] = []
        for notice in due {
            if breaker.isOpen(notice.bankCode) {
                if probing.insert(notice.bankCode).inserted { sending.append(notice) } else { report.deferred += 1 }
            } else {
                sending.append(notice)
            }
        }
        let service = self
        var signatures: [String: BankSignature] = [:]
        for code in Set(sending.map(\.bankCode)) {
            if let bank = banks[code], let signature = try? self.signature(of: bank) { signatures[code] = signature }
        }
        var results: [(BankNotice, Delivery)] = []
        await withTaskGroup(of: (BankNotice, Delivery).self) { group in
            var next = 0
            func start() {
                guard next < sending.count else { return }
                let notice = sending[next]
                next += 1
                let bank = banks[notice.bankCode]
                let account = accounts[notice.cardID]
                let signature = signatures[notice.bankCode]
                group.addTask {
                    (notice, await service.deliver(notice, bank: bank, account: account, signature: signature))
                }
            }
            for _ in 0..<min(policy.concurrency, sending.count) { start() }
            while let result = await group.next() {
                results.append(result)
                start()
            }
        }

        var changes = ChangeSet()
        var answered = Set<String>()
        var unavailable = Set<String>()
        for (notice, delivery) in results {
            switch delivery {
            case .delivered:
                changes.add(.banks(.noticeDelivered(id: notice.id, at: now)))
                answered.insert(notice.bankCode)
                report.delivered += 1
            case .unavailable(let why):
                unavailable.insert(notice.bankCode)
                let failures = breaker.failed(notice.bankCode, now: now, policy: policy)
                let park = notice.attempts + 1 >= policy.maxAttempts
                changes.add(
                    .banks(
                        .noticeFailed(
                            id: notice.id, error: why,
                            nextAttemptAt: now.adding(seconds: policy.backoff(afterFailures: failures)),
                            parkedAt: park ? now : nil)))
                if park { report.parked += 1 } else { report.failed += 1 }
            case .refused(let why):
                answered.insert(notice.bankCode)
                let park = notice.attempts + 1 >= min(3, policy.maxAttempts)
                changes.add(
                    .banks(
                        .noticeFailed(
                            id: notice.id, error: why,
                            nextAttemptAt: now.adding(seconds: policy.backoff(afterFailures: notice.attempts + 1)),
                            parkedAt: park ? now : nil)))
                if park { report.parked += 1 } else { report.failed += 1 }
            }
        }
        for code in answered.subtracting(unavailable) where breaker.recovered(code) {
            changes.add(.banks(.wakeNotices(bankCode: code, at: now)))
            env.logger.info("bank answers again", metadata: ["bank": "\(code)"])
        }
        for code in unavailable {
            changes.add(.banks(.deferNotices(bankCode: code, until: breaker.retryAt(code) ?? now)))
        }
        if report.parked > 0 {
            changes.record(
                AuditDraft(
                    at: now, actor: "system", action: "bank.notices_parked", subject: "bank_outbox",
                    purpose: "bank notices", detail: #"{"parked":\#(report.parked)}"#))
        }
        do {
            try await env.commit(changes)
        } catch  where error.code == .conflict {
            // Another sender recorded some of these first: record ours one by one.
            for change in changes.changes {
                var single = ChangeSet()
                single.add(change)
                try? await env.commit(single)
            }
        }
        return report
    }

    /// Sends one notice and says how it went.
    func deliver(
        _ notice: BankNotice, bank: PartnerBank?, account: BankAccount?, signature: BankSignature?
    ) async -> Delivery {
        guard let bank else { return .refused("the bank is no longer registered") }
        guard let account, let sealed = account.sealedNumber,
            let number = try? env.vault.sealer.open(sealed, context: "bank_account:\(notice.cardID.rawValue)"),
            let payload = try? JSONDecoder().decode(NoticePayload.self, from: notice.payload)
        else { return .refused("the card's account number or the notice cannot be read") }
        let message = BankMessages.Notice(
            noticeId: notice.noticeID, kind: payload.kind, cardNumber: payload.cardNumber,
            accountNumber: String(decoding: number, as: UTF8.self), effectiveAt: payload.effectiveAt,
            createdAt: notice.createdAt.secondsSinceEpoch, businessDate: notice.businessDate, sequence: notice.sequence,
            successorCardNumber: payload.successorCardNumber)
        guard let signature else { return .refused("the bank's secret cannot be opened") }
        guard let body = try? Self.encoder.encode(message), let link = try? link() else {
            return .refused("the notice cannot be encoded")
        }
        let outcome = await link.send(
            BankLink.Request(
                baseURL: bank.endpoint, path: "/notices", body: body, direction: .toBank, bankCode: bank.code,
                timeoutSeconds: env.bankPolicy.timeoutSeconds),
            signature: signature, timestamp: env.clock.now().secondsSinceEpoch)
        switch outcome {
        case .noAnswer(let reason):
            return .unavailable(reason)
        case .answered(let status, let data):
            if status >= 500 || status == 408 || status == 429 { return .unavailable("HTTP \(status)") }
            guard status == 200 else { return .refused("HTTP \(status)") }
            guard let answer = try? JSONDecoder().decode(BankMessages.NoticeAnswer.self, from: data),
                answer.noticeId == notice.noticeID
            else { return .refused("the answer does not echo the notice id") }
            return .delivered
        }
    }

    // MARK: Staff

    public func notices(
        bankCode: String?, state: BankNotice.State?, limit: Int, actor: Actor
    ) async throws(CitizenCardError) -> [NoticeView] {
        try actor.require(.readBanks)
        guard (1...1000).contains(limit) else { throw CitizenCardError.invalid("limit", "1-1000") }
        if let bankCode, !Self.isBankCode(bankCode) { throw CitizenCardError.invalid("bank", "a bank code") }
        return try await env.fetch(try await env.store.bankNotices(bankCode: bankCode, state: state, limit: limit))
            .map(NoticeView.init)
    }

    public func notices(cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [NoticeView] {
        try actor.require(.readBanks)
        return try await env.fetch(try await env.store.bankNotices(cardID: cardID)).map(NoticeView.init)
    }

    /// Puts a parked notice back in the queue, due now (the card's later notices follow it).
    public func retry(noticeID id: Int64, actor: Actor) async throws(CitizenCardError) -> NoticeView {
        try actor.require(.manageBanks)
        guard let notice = try await env.fetch(try await env.store.bankNotice(id: id)) else {
            throw CitizenCardError.notFound("bank notice")
        }
        guard notice.state == .parked else {
            throw CitizenCardError(.transitionNotAllowed, "only a parked notice can be retried")
        }
        let now = env.clock.now()
        var changes = ChangeSet()
        changes.add(.banks(.retryNotice(id: id, at: now)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "bank.notice_retry", subject: "card:\(notice.cardID)",
                purpose: "bank notices", detail: #"{"notice":\#(id),"bank":"\#(notice.bankCode)"}"#))
        try await env.commit(changes)
        env.bankOutbox.kick()
        var view = NoticeView(notice)
        view.state = .pending
        view.attempts = 0
        view.nextAttemptAt = now
        view.parkedAt = nil
        return view
    }
}

/// Which banks are not answering, and until when the center waits before probing again (per
/// server, in memory).
public final class BankBreaker: Sendable {
    struct State {
        var failures: Int64
        var retryAt: Timestamp
    }

    let states = Mutex<[String: State]>([:])

    public init() {}

    /// True while the bank failed and its wait has not passed: send it one probe only.
    func isOpen(_ code: String) -> Bool { states.withLock { $0[code] != nil } }

    func retryAt(_ code: String) -> Timestamp? { states.withLock { $0[code]?.retryAt } }

    /// Records a failure; the consecutive failures so far.
    func failed(_ code: String, now: Timestamp, policy: BankPolicy) -> Int64 {
        states.withLock { states in
            var state = states[code] ?? State(failures: 0, retryAt: now)
            state.failures += 1
            state.retryAt = now.adding(seconds: policy.backoff(afterFailures: state.failures))
            states[code] = state
            return state.failures
        }
    }

    /// Clears the bank's failures; true if it had any.
    func recovered(_ code: String) -> Bool { states.withLock { $0.removeValue(forKey: code) != nil } }
}

/// Sends the outbox for as long as the server runs: at once after a commit that enqueued
/// notices, else every `pollSeconds`.
public struct BankOutboxSender: Sendable {
    let banks: BankService
    let breaker = BankBreaker()
    let pollSeconds: Double

    public init(_ env: ServiceEnvironment, pollSeconds: Double = 1) {
        self.banks = BankService(env)
        self.pollSeconds = pollSeconds
    }

    public func run() async {
        let logger = banks.env.logger
        while !Task.isCancelled {
            var report = BankService.SendReport()
            do {
                report = try await banks.sendDue(breaker: breaker)
                if report.parked > 0 { logger.warning("bank notices parked", metadata: ["count": "\(report.parked)"]) }
            } catch  where !Task.isCancelled {
                logger.warning("bank outbox pass failed", metadata: ["error": "\(error.code.rawValue)"])
            } catch {
                return  // shutting down
            }
            // A full pass that delivered goes straight on; otherwise wait for work or the poll.
            if report.delivered == 0 || report.sent < banks.env.bankPolicy.batchSize / 2 {
                await banks.env.bankOutbox.wait(seconds: report.delivered > 0 ? 0.05 : pollSeconds)
            }
        }
    }
}

public import BankProtocol
public import CitizenCardDomain
import BankLink
import Foundation
public import Storage

/// The daily reconciliation with a bank: what the center sent and opened against what the bank
/// says it received and opened, every difference named.
extension BankService {
    public struct Difference: Codable, Hashable, Sendable {
        /// `missing_at_bank`: delivered, the bank does not list it. `undelivered`: not delivered
        /// yet (pending or parked). `unacknowledged`: the bank has it, the center has no answer
        /// recorded. `unknown_at_center`: the bank lists a notice id the center never made.
        /// `account_missing_at_bank`, `account_unknown_at_center`, `account_number_mismatch`.
        public var kind: String
        /// A notice id, or a card number.
        public var subject: String
        public var detail: String?
    }

    public struct ReconciliationView: Codable, Hashable, Sendable {
        public var bankCode: String
        public var date: String
        public var runAt: Timestamp
        public var runBy: String
        public var noticesSent: Int64
        public var noticesConfirmed: Int64
        public var accountsOpened: Int64
        public var accountsConfirmed: Int64
        public var differences: [Difference]
    }

    func view(_ r: BankReconciliation) -> ReconciliationView {
        ReconciliationView(
            bankCode: r.bankCode, date: r.businessDate, runAt: r.runAt, runBy: r.runBy, noticesSent: r.noticesSent,
            noticesConfirmed: r.noticesConfirmed, accountsOpened: r.accountsOpened,
            accountsConfirmed: r.accountsConfirmed,
            differences: (try? JSONDecoder().decode([Difference].self, from: r.differences)) ?? [])
    }

    /// Fetches the bank's statement of `date` and compares; a new run of the same bank and date
    /// replaces the last (the same statement gives the same result).
    public func reconcile(
        bankCode: String, date text: String, actor: Actor
    ) async throws(CitizenCardError) -> ReconciliationView {
        try actor.require(.manageBanks)
        let bank = try await load(bankCode)
        guard let date = CalendarDate(iso8601: text) else {
            throw CitizenCardError.invalid("date", "a date YYYY-MM-DD", zh: "日期格式须为YYYY-MM-DD")
        }
        guard date <= env.today else { throw CitizenCardError.invalid("date", "today or earlier", zh: "日期不能晚于今天") }
        let outcome = try await send(bank, path: "/reconciliation?date=\(date.iso8601)", method: "GET", body: Data())
        let statement: BankMessages.ReconciliationStatement
        switch outcome {
        case .noAnswer(let reason):
            throw CitizenCardError(.bankUnavailable, "the bank did not answer: \(reason)")
        case .answered(let status, let data):
            guard status == 200,
                let decoded = try? JSONDecoder().decode(BankMessages.ReconciliationStatement.self, from: data),
                decoded.date == date.iso8601
            else { throw CitizenCardError(.bankUnavailable, "the bank's statement was not usable (HTTP \(status))") }
            statement = decoded
        }

        var differences: [Difference] = []
        let notices = try await env.fetch(
            try await env.store.bankNotices(bankCode: bank.code, businessDate: date.iso8601))
        let theirs = Set(statement.notices)
        var confirmed: Int64 = 0
        var sent: Int64 = 0
        for notice in notices {
            let atBank = theirs.contains(notice.noticeID)
            switch (notice.state, atBank) {
            case (.delivered, true):
                sent += 1
                confirmed += 1
            case (.delivered, false):
                sent += 1
                differences.append(.init(kind: "missing_at_bank", subject: notice.noticeID, detail: notice.kind))
            case (_, true):
                differences.append(.init(kind: "unacknowledged", subject: notice.noticeID, detail: notice.kind))
            case (_, false):
                differences.append(
                    .init(
                        kind: "undelivered", subject: notice.noticeID,
                        detail: "\(notice.kind), \(notice.state.rawValue)"))
            }
        }
        let ours = Set(notices.map(\.noticeID))
        for id in statement.notices where !ours.contains(id) {
            differences.append(.init(kind: "unknown_at_center", subject: String(id.prefix(64)), detail: nil))
        }

        let accounts = try await env.fetch(
            try await env.store.bankAccounts(bankCode: bank.code, openedOn: date.iso8601))
        let numbers = try await openNumbers(cardIDs: accounts.map(\.cardID))
        var ourAccounts: [String: String] = [:]  // card number → account number
        for account in accounts {
            guard let card = try await env.fetch(try await env.store.card(id: account.cardID)) else { continue }
            ourAccounts[card.number] = numbers[account.cardID] ?? ""
        }
        var accountsConfirmed: Int64 = 0
        var listed = Set<String>()
        for entry in statement.accounts {
            listed.insert(entry.cardNumber)
            switch ourAccounts[entry.cardNumber] {
            case nil:
                differences.append(
                    .init(
                        kind: "account_unknown_at_center", subject: String(entry.cardNumber.prefix(32)),
                        detail: BankCardNumber.masked(entry.accountNumber)))
            case let number? where number == entry.accountNumber:
                accountsConfirmed += 1
            case let number?:
                differences.append(
                    .init(
                        kind: "account_number_mismatch", subject: entry.cardNumber,
                        detail:
                            "center \(BankCardNumber.masked(number)), bank \(BankCardNumber.masked(entry.accountNumber))"
                    ))
            }
        }
        for (cardNumber, number) in ourAccounts where !listed.contains(cardNumber) {
            differences.append(
                .init(kind: "account_missing_at_bank", subject: cardNumber, detail: BankCardNumber.masked(number)))
        }
        differences.sort { ($0.kind, $0.subject) < ($1.kind, $1.subject) }

        let now = env.clock.now()
        let encoded: Data
        do { encoded = try Self.encoder.encode(differences) } catch { throw CitizenCardError(.internal, "differences") }
        let record = BankReconciliation(
            bankCode: bank.code, businessDate: date.iso8601, runAt: now, runBy: actor.name, noticesSent: sent,
            noticesConfirmed: confirmed, accountsOpened: Int64(accounts.count), accountsConfirmed: accountsConfirmed,
            differences: encoded, differenceCount: Int64(differences.count))
        var changes = ChangeSet()
        changes.add(.banks(.putReconciliation(record)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "bank.reconcile", subject: "bank:\(bank.code)",
                purpose: "bank reconciliation",
                detail: #"{"date":"\#(date.iso8601)","differences":\#(differences.count)}"#))
        try await env.commit(changes)
        return view(record)
    }

    public func reconciliations(
        bankCode: String?, limit: Int, actor: Actor
    ) async throws(CitizenCardError)
        -> [ReconciliationView]
    {
        try actor.require(.readBanks)
        guard (1...1000).contains(limit) else { throw CitizenCardError.invalid("limit", "1-1000") }
        if let bankCode, !Self.isBankCode(bankCode) { throw CitizenCardError.invalid("bank", "a bank code") }
        return try await env.fetch(try await env.store.bankReconciliations(bankCode: bankCode, limit: limit)).map(view)
    }
}

import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import Hummingbird

/// The partner banks on the console (issue 20, docs/banks.md): the banks with their outbox
/// counts, the notices to them filtered by bank and state (a parked one retried by the center),
/// and the daily reconciliation with every difference named. The center (`manageBanks`) retries
/// and reconciles; the auditors read. A bank that does not answer is a message on the page.
extension Web {
    var bankService: BankService { BankService(env) }

    /// The outbox rows a page shows at most.
    static let noticeRowsMax = 100
    /// The reconciliation results a page lists.
    static let reconciliationRowsMax = 20

    func registerBankPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/banks", .staff(.readBanks)) { request, _, web in
            let filter = try NoticeFilter(bank: request.query("bank"), state: request.query("state"))
            return try await banksPage(web, filter: filter, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/banks/notices/{noticeId}/retry", .staff(.manageBanks)) { _, context, web in
            let id = try Self.noticeID(context.parameters.get("noticeId"))
            let filter = try NoticeFilter(bank: web.form["bank"], state: web.form["state"])
            switch await Self.attempt({ () async throws(CitizenCardError) in
                try await bankService.retry(noticeID: id, actor: web.actor!)
            }) {
            case .success: return redirect("/console/banks?\(filter.query)done=notice-retried", web: web)
            case .failure(let error): return try await banksPage(web, filter: filter, error: error)
            }
        }
        page(router, .post, "/console/banks/reconciliations", .staff(.manageBanks)) { _, _, web in
            let bank = (web.form["bank"] ?? "").trimmingCharacters(in: .whitespaces)
            let date = (web.form["date"] ?? "").trimmingCharacters(in: .whitespaces)
            switch await Self.attempt({ () async throws(CitizenCardError) in
                try await bankService.reconcile(bankCode: bank, date: date, actor: web.actor!)
            }) {
            case .success(let result):
                return try await banksPage(web, done: web.text("done.reconciled"), result: result)
            case .failure(let error):
                return try await banksPage(web, error: error, echo: ["bank": bank, "date": date])
            }
        }
    }

    /// Which notices the outbox shows: one bank or all; one state, every state (`all`), or (nil)
    /// the parked then the pending ones, what may need the center's attention.
    struct NoticeFilter: Sendable {
        var bank: String?
        var state: String?

        /// Every bank, the parked and pending notices.
        init() {}

        init(bank: String?, state: String?) throws(CitizenCardError) {
            let bank = bank?.trimmingCharacters(in: .whitespaces).uppercased() ?? ""
            let state = state?.trimmingCharacters(in: .whitespaces) ?? ""
            if !bank.isEmpty {
                guard (2...16).contains(bank.utf8.count),
                    bank.utf8.allSatisfy({ (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) })
                else { throw CitizenCardError.invalid("bank", "a bank code", zh: "请从列表中选择银行") }
                self.bank = bank
            }
            if !state.isEmpty {
                guard state == "all" || BankService.NoticeState(rawValue: state) != nil else {
                    throw CitizenCardError.invalid("state", "pending, delivered, parked or all", zh: "请从列表中选择状态")
                }
                self.state = state
            }
        }

        /// The filter as the start of a query string (`bank=ICBC&`), for the way back to the page.
        var query: String {
            [bank.map { "bank=\($0)&" }, state.map { "state=\($0)&" }].compactMap { $0 }.joined()
        }
    }

    /// The id in a notice's address; anything else is no notice.
    static func noticeID(_ text: String?) throws(CitizenCardError) -> Int64 {
        guard let text, text.utf8.count <= 18, let id = Int64(text), id > 0 else {
            throw CitizenCardError(.notFound, "no such notice", zh: "没有这条通知")
        }
        return id
    }

    /// The outbox as the filter asks for it, newest first, at most `noticeRowsMax` rows.
    func outbox(_ filter: NoticeFilter, actor: Actor) async throws(CitizenCardError) -> [BankService.NoticeView] {
        let limit = Self.noticeRowsMax
        switch filter.state {
        case nil:
            let parked = try await bankService.notices(
                bankCode: filter.bank, state: .parked, limit: limit, actor: actor)
            let pending = try await bankService.notices(
                bankCode: filter.bank, state: .pending, limit: limit, actor: actor)
            return Array((parked + pending).prefix(limit))
        case "all"?:
            return try await bankService.notices(bankCode: filter.bank, state: nil, limit: limit, actor: actor)
        case let state?:
            return try await bankService.notices(
                bankCode: filter.bank, state: BankService.NoticeState(rawValue: state), limit: limit, actor: actor)
        }
    }

    /// The banks, the outbox and the reconciliations; for the center the retry buttons and the
    /// reconciliation form, and the result of a reconciliation just run.
    func banksPage(
        _ web: WebRequest, filter: NoticeFilter = NoticeFilter(), done: String? = nil, error: CitizenCardError? = nil,
        result: BankService.ReconciliationView? = nil, echo: [String: String]? = nil
    ) async throws -> Response {
        let web = web.at("/console/banks")
        let actor = web.actor!
        let manage = Permission.manageBanks.roles.contains(actor.role!)
        let banks = try await bankService.banks(actor: actor).sorted { $0.code < $1.code }
        let notices = try await outbox(filter, actor: actor)
        let reconciliations = try await bankService.reconciliations(
            bankCode: nil, limit: Self.reconciliationRowsMax, actor: actor)
        var values: [String: Any] = [
            "banks": banks.map { bankValues($0, web: web) }, "noBanks": banks.isEmpty,
            "bankChoices": bankChoices(banks, selected: filter.bank),
            "stateChoices": (["all"] + BankService.NoticeState.allCases.map(\.rawValue)).map { state in
                [
                    "value": state, "selected": state == filter.state,
                    "label": web.text(state == "all" ? "banks.allStates" : "noticeState.\(state)"),
                ] as [String: Any]
            },
            "notices": notices.map { noticeValues($0, canRetry: manage, web: web) }, "noNotices": notices.isEmpty,
            "filterBank": filter.bank ?? "", "filterState": filter.state ?? "",
            "reconciliations": reconciliations.map { reconciliationValues($0, web: web) },
            "noReconciliations": reconciliations.isEmpty, "canManage": manage, "done": done ?? "",
        ]
        if manage {
            let today = env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset).iso8601
            values["reconcile"] =
                [
                    "date": echo?["date"] ?? today, "bankChoices": bankChoices(banks, selected: echo?["bank"]),
                ] as [String: Any]
        }
        if let result { values["result"] = reconciliationValues(result, web: web) }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "banks", title: web.text("nav.banks"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func bankChoices(_ banks: [BankService.BankView], selected: String?) -> [[String: Any]] {
        banks.map { ["value": $0.code, "label": "\($0.code) \($0.name)", "selected": $0.code == selected] }
    }

    func bankValues(_ bank: BankService.BankView, web: WebRequest) -> [String: Any] {
        [
            "code": bank.code, "name": bank.name, "bins": Self.list(bank.bins, web), "endpoint": bank.endpoint,
            "active": bank.active, "isDefault": bank.isDefault, "pending": "\(bank.pendingNotices)",
            "delivered": "\(bank.deliveredNotices)", "parked": "\(bank.parkedNotices)",
            "hasParked": bank.parkedNotices > 0, "oldestPending": WebFormat.time(bank.oldestPendingAt),
        ]
    }

    func noticeValues(_ notice: BankService.NoticeView, canRetry: Bool, web: WebRequest) -> [String: Any] {
        [
            "id": "\(notice.id)", "noticeId": notice.noticeId, "bank": notice.bankCode,
            "cardId": notice.cardId.rawValue, "cardShort": String(notice.cardId.rawValue.suffix(8)),
            "kind": Self.label("bankNotice", notice.kind, web), "sequence": "\(notice.sequence)",
            "state": web.text("noticeState.\(notice.state.rawValue)"), "stateCode": notice.state.rawValue,
            "attempts": "\(notice.attempts)", "lastError": notice.lastError ?? "",
            "createdAt": WebFormat.time(notice.createdAt),
            "nextAttemptAt": notice.state == .pending ? WebFormat.time(notice.nextAttemptAt) : "",
            "deliveredAt": WebFormat.time(notice.deliveredAt), "parkedAt": WebFormat.time(notice.parkedAt),
            "canRetry": canRetry && notice.state == .parked,
        ]
    }

    func reconciliationValues(_ run: BankService.ReconciliationView, web: WebRequest) -> [String: Any] {
        [
            "bank": run.bankCode, "date": run.date, "runAt": WebFormat.time(run.runAt), "runBy": run.runBy,
            "noticesSent": "\(run.noticesSent)", "noticesConfirmed": "\(run.noticesConfirmed)",
            "accountsOpened": "\(run.accountsOpened)", "accountsConfirmed": "\(run.accountsConfirmed)",
            "differenceCount": "\(run.differences.count)", "clean": run.differences.isEmpty,
            "differences": run.differences.map { difference in
                [
                    "kind": Self.label("bankDifference", difference.kind, web), "kindCode": difference.kind,
                    "subject": difference.subject, "detail": difference.detail ?? "",
                ]
            },
        ]
    }

    /// A card's bank account as the card page shows it: the number masked, the state, and why
    /// for an account held or closed.
    func bankAccountValues(_ account: BankService.AccountView, web: WebRequest) -> [String: Any] {
        [
            "bankName": account.bankName, "bankCode": account.bankCode, "maskedNumber": account.maskedNumber ?? "",
            "state": web.text("bankAccount.\(account.state.rawValue)"), "stateCode": account.state.rawValue,
            "reason": account.state == .held || account.state == .closed ? account.reason ?? "" : "",
            "openedAt": WebFormat.time(account.openedAt), "closedAt": WebFormat.time(account.closedAt),
        ]
    }

    /// A card's notices to its bank, as the card page lists them (oldest first, by sequence).
    func cardNoticeValues(_ notice: BankService.NoticeView, web: WebRequest) -> [String: Any] {
        [
            "kind": Self.label("bankNotice", notice.kind, web), "sequence": "\(notice.sequence)",
            "state": web.text("noticeState.\(notice.state.rawValue)"), "stateCode": notice.state.rawValue,
            "deliveredAt": WebFormat.time(notice.deliveredAt),
        ]
    }
}

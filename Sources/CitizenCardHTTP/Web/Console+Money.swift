import CitizenCardDomain
import CitizenCardServices
import Crypto
import Foundation
import Hummingbird

/// The money of cards that left service on the console (issue 21, part 5): a closed purse on its
/// card's page with the counter's payout of a refund to the holder, a close relative or an heir
/// (recorded masked), the refunds still owed, and the suspense accounts with the center's
/// decisions. The pages call the use cases the JSON API calls (`PurseClosureService`,
/// `SuspenseService`); payees' details are never shown in full, nor put in a URL.
extension Web {
    var closures: PurseClosureService { PurseClosureService(env) }
    var suspense: SuspenseService { SuspenseService(env) }

    /// The refunds the page lists at most.
    static let refundRowsMax = 200
    /// The card states whose purse is closed after the waiting period.
    static let closedPurseStates: Set<CardState> = [.replaced, .cancelled, .expired]

    func registerMoneyPages(_ router: Router<AppContext>) {
        page(router, .post, "/console/cards/{cardId}/purse-closure/payout", .staff(.counterService)) {
            _, context, web in
            let id: Card.ID = try context.id("cardId")
            do {
                _ = try await closures.payOut(id, try Self.payout(web.form), actor: web.actor!)
                return redirect("/console/cards/\(id)?done=refund-paid", web: web)
            } catch let error as CitizenCardError {
                let card = try await cards.card(id, actor: web.actor!)
                return try await cardPage(card, web: web.at("/console/cards/\(id)"), error: error)
            }
        }
        page(router, .get, "/console/refunds", .staff(.readCards)) { request, _, web in
            let days = try Self.days(request.query("olderThanDays"))
            let due = try await closures.dueRefunds(
                olderThanDays: days ?? 0, limit: Self.refundRowsMax, actor: web.actor!)
            let now = env.clock.now()
            return pages.response(
                "refunds", title: web.text("nav.refunds"),
                [
                    "refunds": due.map { closure in
                        [
                            "cardId": closure.cardID.rawValue, "cardShort": String(closure.cardID.rawValue.suffix(8)),
                            "amount": WebFormat.money(closure.amountFen), "closedAt": WebFormat.time(closure.closedAt),
                            "days": "\(max(0, (now.secondsSinceEpoch - closure.closedAt.secondsSinceEpoch) / 86_400))",
                        ]
                    },
                    "empty": due.isEmpty, "olderThanDays": days.map { "\($0)" } ?? "",
                    "total": WebFormat.money(due.reduce(0) { $0 + $1.amountFen }), "count": "\(due.count)",
                    "full": due.count == Self.refundRowsMax,
                ], web: web)
        }
        page(router, .get, "/console/suspense", .staff(.readSuspense)) { request, _, web in
            try await suspensePage(web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/suspense/decisions", .staff(.decideSuspense)) { _, _, web in
            let form = web.form
            do {
                let request = try Self.decision(form)
                // The form's own key: a second submit of the same form (a double click, a reload)
                // finds the first decision instead of making another.
                guard let requestKey = form.text("requestKey"), requestKey.count == 36,
                    requestKey.allSatisfy({ $0.isHexDigit || $0 == "-" })
                else {
                    throw CitizenCardError(.malformedRequest, "reload the page and decide again", zh: "请刷新页面后重新决定")
                }
                let canonical = ["source", "outcome", "amount", "merchantId", "cardId", "decisionReference", "reason"]
                    .map { "\($0)=\(form[$0] ?? "")" }.joined(separator: "\n")
                let key = IdempotencyKey(
                    key: "console:suspense:\(web.actor!.name):\(requestKey)",
                    requestHash: Array(SHA256.hash(data: Data(canonical.utf8))), status: 201)
                if try await env.storedAnswer(for: key) == nil {
                    do {
                        _ = try await suspense.decide(request, actor: web.actor!, idempotency: key)
                    } catch {
                        // `conflict`: the same form is being decided by its first submit.
                        guard let known = error as? CitizenCardError, known.code == .conflict else { throw error }
                    }
                }
                return redirect("/console/suspense?done=suspense-decided", web: web)
            } catch let error as CitizenCardError {
                return try await suspensePage(
                    web, error: error,
                    echo: Self.echo(
                        form, ["source", "outcome", "amount", "merchantId", "cardId", "decisionReference", "reason"]))
            }
        }
    }

    // MARK: A closed purse on its card's page

    /// The card page's closure: kind, amount, status, and once paid the payee as recorded
    /// (masked); while a refund is due, the payout form for the counter. Nil while the purse is
    /// open or the waiting period runs.
    func closureValues(_ card: CardView, web: WebRequest) async throws -> [String: Any]? {
        guard Self.closedPurseStates.contains(card.state) else { return nil }
        let actor = web.actor!
        // Not closed yet (the waiting period runs): no closure to show.
        let view: PurseClosureService.ClosureView
        switch await Self.attempt({ () async throws(CitizenCardError) in
            try await closures.view(of: card.id, actor: actor)
        }) {
        case .success(let found): view = found
        case .failure(let error) where error.code == .notFound: return nil
        case .failure(let error): throw error
        }
        let closure = view.closure
        var values: [String: Any] = [
            "closureKind": web.text("closure.kind.\(closure.kind.rawValue)"), "closureKindCode": closure.kind.rawValue,
            "closureAmount": WebFormat.money(closure.amountFen),
            "closureStatus": web.text("closure.status.\(closure.status.rawValue)"),
            "closureStatusCode": closure.status.rawValue, "closedAt": WebFormat.time(closure.closedAt),
            "settledAt": WebFormat.time(closure.settledAt),
            "settlement": closure.settlement.map { Self.settlementLabel($0, web) } ?? "",
            "successorId": closure.successorID?.rawValue ?? "",
        ]
        if let payee = view.payee {
            values["payee"] = [
                "payeeKind": web.text("payeeKind.\(payee.kind.rawValue)"),
                "payeeRelationship": payee.relationship.map { web.text("relation.\($0.rawValue)") } ?? "",
                "payeeName": payee.nameMasked, "payeeIdNumber": payee.idNumberMasked,
                "payeeDocument": payee.documentReferenceMasked ?? "",
                "payeeChannel": Self.label("payoutChannel", payee.channel, web), "payeeBank": payee.bankName ?? "",
                "payeeAccount": payee.accountMasked ?? "", "paidAt": WebFormat.time(payee.paidAt),
                "paidBy": payee.actor,
            ]
        }
        let counter = Permission.counterService.roles.contains(actor.role!) && actor.outletID != nil
        if counter && closure.kind == .refund && closure.status == .due {
            values["canPay"] = [
                "payeeKinds": RefundPayee.Kind.allCases.map {
                    ["value": $0.rawValue, "label": web.text("payeeKind.\($0.rawValue)")]
                },
                "relationships": Cancellation.Relationship.allCases.map {
                    ["value": $0.rawValue, "label": web.text("relation.\($0.rawValue)")]
                },
                "channels": ["cash", "bank_transfer"].map { ["value": $0, "label": web.text("payoutChannel.\($0)")] },
            ]
        }
        return values
    }

    /// How a closure was settled, as a person reads it: a load of the new card, cash at an
    /// outlet, a bank transfer, or a decision that the refund is unclaimed.
    static func settlementLabel(_ settlement: String, _ web: WebRequest) -> String {
        if settlement.hasPrefix("cash:") { return web.text("payoutChannel.cash") }
        if settlement == "bank_transfer" { return web.text("payoutChannel.bank_transfer") }
        if settlement.hasPrefix("unclaimed:") { return web.text("closure.unclaimed") }
        return web.text("closure.loaded")
    }

    /// The payout form as the use case takes it. Bank fields count only for a bank transfer; a
    /// holder is paid on their own document, so a relationship or a document left on the form
    /// from another choice is not sent for them.
    static func payout(_ form: WebForm) throws(CitizenCardError) -> PurseClosureService.Payout {
        guard let kind = form.text("payeeKind").flatMap(RefundPayee.Kind.init(rawValue:)) else {
            throw CitizenCardError.invalid("payee.kind", "choose who is paid", zh: "请选择领款人")
        }
        let relationship: Cancellation.Relationship?
        if kind == .relative {
            guard let chosen = form.text("relationship") else {
                throw CitizenCardError(
                    .relativeRequired, "choose the relative's relationship to the holder", zh: "请选择领款人与持卡人的关系")
            }
            guard let value = Cancellation.Relationship(rawValue: chosen) else {
                throw CitizenCardError.invalid("payee.relationship", "a relationship of the list", zh: "请从列表中选择关系")
            }
            relationship = value
        } else {
            relationship = nil
        }
        let channel = form.text("channel") ?? ""
        guard channel == "cash" || channel == "bank_transfer" else {
            throw CitizenCardError.invalid("channel", "cash or bank transfer", zh: "请选择现金或银行转账")
        }
        return PurseClosureService.Payout(
            channel: channel,
            payee: .init(
                kind: kind, name: kind == .holder ? nil : form["payeeName"], idNumber: form["payeeIdNumber"] ?? "",
                documentChecked: form.flag("documentChecked"), relationship: relationship,
                documentReference: kind == .holder ? nil : form["documentReference"]),
            bankAccount: channel == "bank_transfer"
                ? .init(bankName: form["bankName"] ?? "", accountNumber: form["accountNumber"] ?? "") : nil)
    }

    /// A number of days typed in the refunds filter; nil when left blank.
    static func days(_ text: String?) throws(CitizenCardError) -> Int? {
        guard let text = text?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }), let days = Int(text),
            days <= 36_500
        else {
            throw CitizenCardError.invalid("olderThanDays", "0 to 36500 days", zh: "请填写0至36500之间的天数")
        }
        return days
    }

    // MARK: Suspense

    /// The decision form as the use case takes it.
    static func decision(_ form: WebForm) throws(CitizenCardError) -> SuspenseService.DecisionRequest {
        guard let source = form.text("source").flatMap(SuspenseDecision.Source.init(rawValue:)) else {
            throw CitizenCardError.invalid("source", "choose where the money is held", zh: "请选择资金来源")
        }
        guard let outcome = form.text("outcome").flatMap(SuspenseDecision.Outcome.init(rawValue:)) else {
            throw CitizenCardError.invalid("outcome", "choose where the money goes", zh: "请选择处理结果")
        }
        let amount = try form.text("amount").map { text throws(CitizenCardError) in
            try Self.fen(yuan: text, field: "amountFen")
        }
        let merchant = try form.text("merchantId").map { text throws(CitizenCardError) in
            guard let id = Merchant.ID(parsing: text) else {
                throw CitizenCardError.invalid("merchantId", "a merchant of the list", zh: "请从列表中选择商户")
            }
            return id
        }
        let card = try form.text("cardId").map { text throws(CitizenCardError) in
            guard let id = Card.ID(parsing: text) else {
                throw CitizenCardError.invalid("cardId", "a refund of the list", zh: "请从列表中选择退款")
            }
            return id
        }
        return SuspenseService.DecisionRequest(
            source: source, outcome: outcome, amountFen: amount, merchantId: merchant, cardId: card,
            decisionReference: form["decisionReference"] ?? "", reason: form["reason"] ?? "")
    }

    /// The suspense accounts, the refunds unclaimed long enough to decide, the decisions; for the
    /// center the decision form.
    func suspensePage(
        _ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil, echo: [String: String]? = nil
    ) async throws -> Response {
        let web = web.at("/console/suspense")
        let actor = web.actor!
        let role = actor.role!
        let overview = try await suspense.overview(actor: actor)
        // Merchants by id, for the names of the decisions and the form: only a role that may read them.
        let merchants =
            Permission.acquiring.roles.contains(role)
            ? try await acquiringService.merchants(actor: actor).sorted { $0.code < $1.code } : []
        let codes = Dictionary(uniqueKeysWithValues: merchants.map { ($0.id, $0.code) })
        var values: [String: Any] = [
            "requestKey": UUID().uuidString,
            "missingRecords": WebFormat.money(overview.missingRecordsFen),
            "refundsPayable": WebFormat.money(overview.refundsPayableFen),
            "unclaimedIncome": WebFormat.money(overview.unclaimedIncomeFen),
            "unclaimedAfterDays": "\(overview.unclaimedAfterDays)",
            "unclaimed": overview.unclaimedRefunds.map { closure in
                [
                    "cardId": closure.cardID.rawValue, "cardShort": String(closure.cardID.rawValue.suffix(8)),
                    "amount": WebFormat.money(closure.amountFen), "closedAt": WebFormat.date(closure.closedAt),
                ]
            },
            "noUnclaimed": overview.unclaimedRefunds.isEmpty,
            "decisions": overview.decisions.map { decision in
                [
                    "at": WebFormat.time(decision.decidedAt), "actor": decision.actor,
                    "source": web.text("suspense.source.\(decision.source.rawValue)"),
                    "outcome": web.text("suspense.outcome.\(decision.outcome.rawValue)"),
                    "amount": WebFormat.money(decision.amountFen),
                    "merchant": decision.merchantID.map { codes[$0] ?? String($0.rawValue.suffix(8)) } ?? "",
                    "merchantId": decision.merchantID?.rawValue ?? "", "canLinkMerchant": !codes.isEmpty,
                    "cardId": decision.cardID?.rawValue ?? "",
                    "cardShort": decision.cardID.map { String($0.rawValue.suffix(8)) } ?? "",
                    "reference": decision.decisionReference, "reason": decision.reason,
                ] as [String: Any]
            },
            "noDecisions": overview.decisions.isEmpty, "done": done ?? "",
        ]
        if Permission.decideSuspense.roles.contains(role) {
            let chosen = echo ?? [:]
            values["decide"] =
                [
                    "sources": SuspenseDecision.Source.allCases.map { source in
                        [
                            "value": source.rawValue, "label": web.text("suspense.source.\(source.rawValue)"),
                            "selected": chosen["source"] == source.rawValue,
                        ] as [String: Any]
                    },
                    "outcomes": SuspenseDecision.Outcome.allCases.map { outcome in
                        [
                            "value": outcome.rawValue, "label": web.text("suspense.outcome.\(outcome.rawValue)"),
                            "selected": chosen["outcome"] == outcome.rawValue,
                        ] as [String: Any]
                    },
                    "merchantChoices": merchants.map { merchant in
                        [
                            "value": merchant.id.rawValue, "label": "\(merchant.code) \(merchant.name)",
                            "selected": chosen["merchantId"] == merchant.id.rawValue,
                        ] as [String: Any]
                    },
                    "refundChoices": overview.unclaimedRefunds.map { closure in
                        [
                            "value": closure.cardID.rawValue,
                            "label":
                                "…\(closure.cardID.rawValue.suffix(8)) · \(WebFormat.money(closure.amountFen)) · \(WebFormat.date(closure.closedAt))",
                            "selected": chosen["cardId"] == closure.cardID.rawValue,
                        ] as [String: Any]
                    },
                    "values": [
                        "amount": chosen["amount"] ?? "", "decisionReference": chosen["decisionReference"] ?? "",
                        "reason": chosen["reason"] ?? "",
                    ],
                ] as [String: Any]
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "suspense", title: web.text("nav.suspense"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }
}

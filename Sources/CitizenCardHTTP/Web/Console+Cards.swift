import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// A card's page and its counter services (issue, loss, withdrawal, reissue, replacement,
/// renewal, cancellation, verification), each showing the fee the schedule allows, and the
/// printable receipt.
extension Web {
    func registerCardPages(_ router: Router<AppContext>) {
        page(router, .post, "/console/cards/find", .staff(.readCards)) { _, _, web in
            let card = try await cards.card(number: web.form["number"] ?? "", actor: web.actor!)
            return redirect("/console/cards/\(card.id)", web: web)
        }
        page(router, .get, "/console/cards/{cardId}", .staff(.readCards)) { request, context, web in
            let card = try await cards.card(try context.id("cardId"), actor: web.actor!)
            return try await cardPage(card, web: web, done: request.query("done"))
        }
        page(router, .get, "/console/verification", .staff(.verifyApplications)) { _, _, web in
            let waiting = try await cards.cards(in: .applied, outletID: nil, after: nil, limit: 200, actor: web.actor!)
            return pages.response(
                "verification", title: web.text("nav.verification"),
                ["cards": waiting.map { cardValues($0, web: web) }, "empty": waiting.isEmpty], web: web)
        }
        page(router, .post, "/console/cards/{cardId}/verification", .staff(.verifyApplications)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            let decision: CardService.Decision = web.form["decision"] == "reject" ? .reject : .approve
            _ = try await cards.verify(id, decision: decision, reason: web.form.text("reason"), actor: web.actor!)
            let back =
                web.form["back"] == "queue"
                ? "/console/verification" : "/console/cards/\(id)?done=\(decision.rawValue)d"
            return redirect(back, web: web)
        }
        cardAction(router, "issue") { id, web in
            // The holder may choose the portal's query password at the counter, as the card is handed over.
            let password = web.form.text("queryPassword")
            if let password { try QueryPassword.validate(password, field: "queryPassword") }
            let result = try await cards.issue(id, identity: identity(web), actor: web.actor!)
            if let password {
                _ = try await portal.setQueryPassword(
                    cardID: id, password: password, identity: identity(web), actor: web.actor!)
            }
            return result
        }
        page(router, .post, "/console/cards/{cardId}/query-password", .staff(.counterService)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            do {
                _ = try await portal.setQueryPassword(
                    cardID: id, password: web.form["queryPassword"] ?? "", identity: try identity(web),
                    actor: web.actor!)
                return redirect("/console/cards/\(id)?done=query", web: web)
            } catch let error as CitizenCardError {
                return try await cardPage(try await cards.card(id, actor: web.actor!), web: web, error: error)
            }
        }
        cardAction(router, "written-loss") { id, web in
            try await cards.reportWrittenLoss(id, identity: identity(web), actor: web.actor!)
        }
        cardAction(router, "loss-withdrawal") { id, web in
            try await cards.withdrawLoss(id, identity: identity(web), actor: web.actor!)
        }
        cardAction(router, "reissue") { id, web in
            try await cards.reissue(id, successor(web), actor: web.actor!)
        }
        cardAction(router, "replacement") { id, web in
            try await cards.replace(id, successor(web), actor: web.actor!)
        }
        cardAction(router, "renewal") { id, web in
            try await cards.renew(id, successor(web), actor: web.actor!)
        }
        cardAction(router, "cancellation") { id, web in
            let form = web.form
            guard let reason = form.text("reason").flatMap(Cancellation.Reason.init(rawValue:)) else {
                throw CitizenCardError.invalid("reason", "choose why the card is cancelled", zh: "请选择注销原因")
            }
            let applicant = form.text("applicant").flatMap(Cancellation.Applicant.init(rawValue:)) ?? .holder
            let request = CardService.CancellationRequest(
                reason: reason, applicant: applicant,
                relationship: form.text("relationship").flatMap(Cancellation.Relationship.init(rawValue:)),
                documentReference: form["documentReference"] ?? "",
                identity: applicant == .holder ? try identity(web) : nil)
            return try await cards.cancel(id, request, actor: web.actor!)
        }
        page(router, .get, "/console/receipts/{receiptId}", .staff(.readCards)) { _, context, web in
            let receipt = try await cards.receipt(try context.id("receiptId"), actor: web.actor!)
            let card = try await cards.card(receipt.cardID, actor: web.actor!)
            let outlets = try await administration.outlets(actor: web.actor!)
            let outlet = outlets.first { $0.id == receipt.outletID }
            return pages.response(
                "receipt", title: web.text("receipt.title"),
                [
                    "number": receipt.number, "at": WebFormat.time(receipt.at),
                    "item": web.text("fee.\(receipt.item.rawValue)"), "amount": WebFormat.money(receipt.amount.fen),
                    "payment": web.text("payment.\(receipt.paymentMethod.rawValue)"),
                    "outlet": (web.language == .zh ? outlet?.nameZh : outlet?.name) ?? "",
                    "cardNumber": card.number, "cardId": card.id.rawValue, "operator": web.actor!.name,
                ], web: web)
        }
    }

    /// A POSTed counter service on a card: on success, its receipt (when a fee was recorded) or
    /// the card; on a refusal, the card page with the reason.
    func cardAction(
        _ router: Router<AppContext>, _ name: String,
        _ run: @escaping @Sendable (Card.ID, WebRequest) async throws -> CardServiceResult
    ) {
        page(router, .post, "/console/cards/{cardId}/\(name)", .staff(.counterService)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            do {
                let result = try await run(id, web)
                if let receipt = result.receipt { return redirect("/console/receipts/\(receipt.id)", web: web) }
                return redirect("/console/cards/\(result.newCard?.id ?? id)?done=\(name)", web: web)
            } catch let error as CitizenCardError {
                let card = try await cards.card(id, actor: web.actor!)
                return try await cardPage(card, web: web, error: error)
            }
        }
    }

    func identity(_ web: WebRequest) throws(CitizenCardError) -> CardService.IdentityCheck {
        guard web.form.flag("documentChecked") else {
            throw CitizenCardError.invalid(
                "documentChecked", "check the identity document and tick the box", zh: "请核验身份证件并勾选确认")
        }
        return CardService.IdentityCheck(idNumber: web.form["idNumber"] ?? "", documentChecked: true)
    }

    func successor(_ web: WebRequest) throws(CitizenCardError) -> CardService.SuccessorRequest {
        CardService.SuccessorRequest(
            identity: try identity(web), reason: web.form.text("reason").flatMap(ReplacementReason.init(rawValue:)),
            expectedFeeFen: web.form.text("expectedFeeFen").flatMap { Int64($0) })
    }

    func cardPage(
        _ card: CardView, web: WebRequest, done: String? = nil, error: CitizenCardError? = nil,
        chip: CounterCardService.ChipView? = nil
    ) async throws -> Response {
        let actor = web.actor!
        let role = actor.role!
        let events = try await cards.events(of: card.id, actor: actor)
        let fees = try await administration.feeSchedule(actor: actor).current
        func fee(_ item: FeeItem) -> [String: String] {
            let fen = fees[item.rawValue]?.fen ?? 0
            return ["fee": WebFormat.money(fen), "feeFen": "\(fen)"]
        }
        let counter = Permission.counterService.roles.contains(role) && actor.outletID != nil
        var values: [String: Any] = [
            "card": cardValues(card, web: web),
            "events": events.reversed().map { event in
                [
                    "at": WebFormat.time(event.at), "action": web.text("action.\(event.action.rawValue)"),
                    "from": web.text("state.\(event.from.rawValue)"), "to": web.text("state.\(event.to.rawValue)"),
                    "actor": event.actor, "reason": event.reason ?? "",
                ]
            },
            "done": done.map { web.text("done.\($0)") } ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        let state = card.state
        if counter {
            if state == .delivered { values["canIssue"] = true }
            if state == .active || state == .preLost { values["canWrittenLoss"] = true }
            if state == .preLost || state == .lost { values["canWithdraw"] = true }
            if state == .lost { values["canReissue"] = fee(.reissue) }
            if state == .active {
                values["canReplace"] = [
                    "reasons": ReplacementReason.allCases.map { reason in
                        let item: FeeItem = reason == .damaged ? .replacementDamaged : .replacementDataChanged
                        return [
                            "value": reason.rawValue,
                            "label": "\(web.text("replacement.\(reason.rawValue)")) — \(fee(item)["fee"]!)",
                        ]
                    }
                ]
                values["canRenew"] = fee(.renewal)
            }
            if [.active, .preLost, .lost, .expired].contains(state) || state.slot == .pipeline {
                values["canCancel"] = [
                    "reasons": Cancellation.Reason.allCases.map {
                        ["value": $0.rawValue, "label": web.text("cancel.\($0.rawValue)")]
                    },
                    "relationships": Cancellation.Relationship.allCases.map {
                        ["value": $0.rawValue, "label": web.text("relation.\($0.rawValue)")]
                    },
                ]
            }
        }
        if state == .applied && Permission.verifyApplications.roles.contains(role) { values["canVerify"] = true }
        if let account = try await bankService.account(cardID: card.id, actor: actor) {
            values["bankAccount"] = bankAccountValues(account, web: web)
        }
        if Permission.readBanks.roles.contains(role) {
            let notices = try await bankService.notices(cardID: card.id, actor: actor)
            values["bankNotices"] = notices.map { cardNoticeValues($0, web: web) }
            values["hasBankNotices"] = !notices.isEmpty
        }
        if let purse = try await purseValues(card, web: web, chip: chip) { values["purse"] = purse }
        if let closure = try await closureValues(card, web: web) { values["closure"] = closure }
        if state.slot == .held {
            let status = try await portal.queryPasswordStatus(cardID: card.id, actor: actor)
            var query: [String: Any] = ["isSet": status.isSet, "canSet": counter]
            if let until = status.lockedUntil, until > env.clock.now() { query["lockedUntil"] = WebFormat.time(until) }
            values["query"] = query
        }
        return pages.response(
            "card", title: web.text("card.title"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func cardValues(_ card: CardView, web: WebRequest) -> [String: Any] {
        var values: [String: Any] = [
            "id": card.id.rawValue, "personId": card.personId.rawValue, "number": card.number,
            "state": web.text("state.\(card.state.rawValue)"), "stateCode": card.state.rawValue, "usable": card.usable,
            "kind": web.text("kind.\(card.kind.rawValue)"), "appliedAt": WebFormat.time(card.appliedAt),
            "issuedAt": WebFormat.date(card.issuedAt), "expiresAt": WebFormat.date(card.expiresAt),
        ]
        if let loss = card.loss {
            values["loss"] = [
                "effectiveAt": WebFormat.time(loss.effectiveAt),
                // Only a pre-loss lapses. `false`, not a missing key: Mustache would find the card's
                // own `expiresAt` in the enclosing context and say a written loss lapses at expiry.
                "lapsesAt": loss.preLossExpiresAt.map { WebFormat.time($0) as Any } ?? false,
                "channel": web.text("channel.\(loss.channel.rawValue)"),
            ]
        }
        if let successor = card.successorId { values["successorId"] = successor.rawValue }
        if let predecessor = card.predecessorId { values["predecessorId"] = predecessor.rawValue }
        return values
    }
}

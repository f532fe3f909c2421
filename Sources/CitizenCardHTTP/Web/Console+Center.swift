import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// Supervisor and center pages: pre-losses about to lapse, the exception queues, the fee
/// schedule, the audit trail with its chain check.
extension Web {
    /// A pre-loss lapsing within this many hours is marked on its page.
    static let preLossSoonHours: Int64 = 24

    func registerCenterPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/pre-losses", .staff(.readCards)) { _, _, web in
            let now = env.clock.now()
            let soon = now.adding(seconds: Self.preLossSoonHours * 3600)
            let cards = try await cards.cards(in: .preLost, outletID: nil, after: nil, limit: 500, actor: web.actor!)
                .sorted { ($0.loss?.preLossExpiresAt ?? now) < ($1.loss?.preLossExpiresAt ?? now) }
            let rows: [[String: Any]] = cards.map { card in
                var values = cardValues(card, web: web)
                values["soon"] = (card.loss?.preLossExpiresAt).map { $0 <= soon } ?? false
                return values
            }
            return pages.response(
                "pre-losses", title: web.text("nav.preLosses"),
                ["cards": rows, "empty": rows.isEmpty, "soonCount": rows.filter { $0["soon"] as? Bool == true }.count],
                web: web)
        }
        page(router, .get, "/console/queues", .staff(.readCards)) { request, _, web in
            let done = request.query("done").flatMap {
                ["closed": "done.closed", "written-off": "done.writtenOff"][$0]
            }
            return try await queuesPage(web, done: done.map { web.text($0) })
        }
        page(router, .post, "/console/queues/cards/{cardId}/missing-records", .staff(.acquiring)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            do {
                _ = try await AcquiringService(env).writeOffMissingRecords(
                    card: id, .init(note: web.form["note"] ?? ""), actor: web.actor!)
                return redirect("/console/queues?done=written-off", web: web)
            } catch let error as CitizenCardError {
                return try await queuesPage(web, error: error)
            }
        }
        page(router, .post, "/console/queues/exceptions/{purchaseId}/closure", .staff(.acquiring)) { _, context, web in
            let id: OfflinePurchase.ID = try context.id("purchaseId")
            do {
                _ = try await AcquiringService(env).closeException(
                    id, .init(note: web.form["note"] ?? ""), actor: web.actor!)
                return redirect("/console/queues?done=closed", web: web)
            } catch let error as CitizenCardError {
                return try await queuesPage(web, error: error)
            }
        }
        page(router, .get, "/console/fees", .staff(.readCards)) { _, _, web in
            try await feePage(web)
        }
        page(router, .post, "/console/fees", .staff(.administer)) { _, _, web in
            do {
                guard let item = web.form.text("item").flatMap(FeeItem.init(rawValue:)) else {
                    throw CitizenCardError.invalid("item", "choose an item", zh: "请选择收费项目")
                }
                guard let from = web.form.text("effectiveFrom").flatMap(CalendarDate.init(iso8601:)) else {
                    throw CitizenCardError.invalid("effectiveFrom", "a date YYYY-MM-DD", zh: "请填写生效日期（年-月-日）")
                }
                _ = try await administration.addFee(
                    .init(
                        item: item, amountFen: try Self.fen(web.form["amount"] ?? ""),
                        effectiveFrom: from.startTimestamp(offsetSeconds: WebFormat.chinaOffset),
                        authority: web.form["authority"] ?? ""), actor: web.actor!)
                return try await feePage(web, done: web.text("done.fee"))
            } catch let error as CitizenCardError {
                return try await feePage(web, error: error)
            }
        }
        page(router, .get, "/console/catalogue", .staff(.readCards)) { _, _, web in
            try await cataloguePage(web)
        }
        page(router, .post, "/console/catalogue", .staff(.administer)) { _, _, web in
            do {
                let form = web.form
                guard let from = form.text("effectiveFrom").flatMap(CalendarDate.init(iso8601:)) else {
                    throw CitizenCardError.invalid("effectiveFrom", "a date YYYY-MM-DD", zh: "请填写开通起始日期（年-月-日）")
                }
                _ = try await portal.publishService(
                    .init(
                        code: (form["code"] ?? "").trimmingCharacters(in: .whitespaces).lowercased(),
                        name: form["name"] ?? "",
                        nameZh: form["nameZh"] ?? "", description: form["description"] ?? "",
                        descriptionZh: form["descriptionZh"] ?? "", effectiveFrom: from), actor: web.actor!)
                return try await cataloguePage(web, done: web.text("done.published"))
            } catch let error as CitizenCardError {
                return try await cataloguePage(web, error: error)
            }
        }
        page(router, .post, "/console/catalogue/{code}/withdrawal", .staff(.administer)) { _, context, web in
            do {
                _ = try await portal.withdrawService(code: context.parameters.get("code") ?? "", actor: web.actor!)
                return try await cataloguePage(web, done: web.text("done.withdrawn"))
            } catch let error as CitizenCardError {
                return try await cataloguePage(web, error: error)
            }
        }
        page(router, .get, "/console/audit", .staff(.readAudit)) { request, _, web in
            let query = QueryString(request.uri.query.map { $0[...] })
            func text(_ name: String) -> String? {
                query.get(name).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            let from = text("from").flatMap(CalendarDate.init(iso8601:))
            let until = text("until").flatMap(CalendarDate.init(iso8601:))
            let filter = AuditFilter(
                actor: text("actor"), action: text("action"), subject: text("subject"),
                from: from?.startTimestamp(offsetSeconds: WebFormat.chinaOffset),
                until: until.map { CalendarDate(daysSinceEpoch: $0.daysSinceEpoch + 1) }?
                    .startTimestamp(offsetSeconds: WebFormat.chinaOffset),
                before: text("before").flatMap(AuditCursor.init))
            let audit = AuditService(env)
            let entries = try await audit.entries(filter, limit: 100, actor: web.actor!)
            var values: [String: Any] = [
                "entries": entries.map { entry in
                    [
                        "at": WebFormat.time(entry.at), "actor": entry.actor, "action": entry.action,
                        "subject": entry.subject, "purpose": entry.purpose, "detail": entry.detail,
                    ]
                },
                "filter": [
                    "actor": text("actor") ?? "", "action": text("action") ?? "", "subject": text("subject") ?? "",
                    "from": from?.iso8601 ?? "", "until": until?.iso8601 ?? "",
                ],
                "empty": entries.isEmpty,
            ]
            if entries.count == 100, let last = entries.last {
                var next = URLComponents()
                next.path = "/console/audit"
                next.queryItems =
                    ["actor", "action", "subject", "from", "until"].compactMap { name in
                        text(name).map { URLQueryItem(name: name, value: $0) }
                    } + [URLQueryItem(name: "before", value: last.cursor)]
                values["next"] = next.string ?? ""
            }
            if query.get("verify") == "1" {
                let result = try await audit.verify(actor: web.actor!)
                values["verification"] = [
                    "intact": result.intact, "checked": "\(result.entriesChecked)", "problem": result.problem ?? "",
                    "head": String(result.headHash.prefix(16)),
                ]
            }
            return pages.response("audit", title: web.text("nav.audit"), values, web: web)
        }
    }

    func cataloguePage(
        _ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil
    ) async throws
        -> Response
    {
        let admin = Permission.administer.roles.contains(web.actor!.role!)
        let entries = try await portal.catalogue(actor: web.actor!, includeWithdrawn: admin)
        let zh = web.language == .zh
        var values: [String: Any] = [
            "services": entries.map { entry in
                [
                    "code": entry.code, "name": zh ? entry.nameZh : entry.name,
                    "description": zh ? entry.descriptionZh : entry.description, "from": entry.effectiveFrom.iso8601,
                    "withdrawn": entry.isWithdrawn, "canWithdraw": admin && !entry.isWithdrawn,
                ]
            },
            "empty": entries.isEmpty, "canPublish": admin,
            "today": env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset).iso8601, "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "catalogue", title: web.text("nav.catalogue"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// Interrupted loads (of the operator's outlet, if any); for acquiring staff also the open
    /// exceptions — with a form to close each one nothing will release, and on a `gap` record one
    /// to write off its card's missing records — and the latest closed ones.
    func queuesPage(_ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil) async throws -> Response {
        let actor = web.actor!
        let loads = try await PurseService(env).unresolvedLoads(limit: 200, actor: actor)
            .filter { actor.outletID == nil || $0.outletID == actor.outletID }
        var values: [String: Any] = [
            "loads": loads.map { load in
                [
                    "cardId": load.cardID.rawValue, "amount": WebFormat.money(load.amount.fen),
                    "funding": web.text("funding.\(load.funding.rawValue)"),
                    "approvedAt": WebFormat.time(load.approvedAt), "actor": load.actor,
                ]
            },
            "noLoads": loads.isEmpty,
            "done": done ?? "",
        ]
        if Permission.acquiring.roles.contains(actor.role!) {
            let acquiring = AcquiringService(env)
            let parked = try await acquiring.exceptions(after: nil, limit: 200, actor: actor)
            // Records that wait for their card's chain, unless the chain is past them.
            let waiting = Set(parked.filter { $0.reason?.isClosable == false }.compactMap(\.cardID))
            let chains = try await acquiring.chains(of: Array(waiting), actor: actor)
            values["showParked"] = true
            values["parked"] = parked.map { record in
                let behind = record.cardID.flatMap { chains[$0] }.map { record.cardCounter < $0.nextCounter } ?? false
                return [
                    "id": record.id.rawValue, "asn": record.asn, "counter": "\(record.cardCounter)",
                    "amount": WebFormat.money(record.amountFen),
                    "tappedAt": WebFormat.time(record.tappedAt), "receivedAt": WebFormat.time(record.receivedAt),
                    "reason": record.reason.map { web.text("park.\($0.rawValue)") } ?? "",
                    "closable": record.reason?.isClosable == true || behind,
                    "gapCard": record.reason == .gap && !behind ? record.cardID?.rawValue ?? "" : "",
                ]
            }
            values["noParked"] = parked.isEmpty
            let closed = try await acquiring.latestClosedExceptions(limit: 50, actor: actor)
            values["closed"] = closed.map { item in
                [
                    "asn": item.purchase.asn, "counter": "\(item.purchase.cardCounter)",
                    "amount": WebFormat.money(item.purchase.amountFen),
                    "reason": item.purchase.reason.map { web.text("park.\($0.rawValue)") } ?? "",
                    "note": item.closure.note, "closedBy": item.closure.closedBy,
                    "closedAt": WebFormat.time(item.closure.closedAt),
                ]
            }
            values["noClosed"] = closed.isEmpty
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "queues", title: web.text("nav.queues"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func feePage(_ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil) async throws -> Response {
        let schedule = try await administration.feeSchedule(actor: web.actor!)
        var values: [String: Any] = [
            "current": FeeItem.allCases.map { item in
                [
                    "item": web.text("fee.\(item.rawValue)"),
                    "amount": schedule.current[item.rawValue].map { WebFormat.money($0.fen) } ?? web.text("fees.none"),
                ]
            },
            "entries": schedule.entries.sorted { $0.effectiveFrom > $1.effectiveFrom }.map { entry in
                [
                    "item": web.text("fee.\(entry.item.rawValue)"), "amount": WebFormat.money(entry.amount.fen),
                    "from": WebFormat.date(entry.effectiveFrom), "authority": entry.authority,
                ]
            },
            "canAdd": Permission.administer.roles.contains(web.actor!.role!),
            "items": FeeItem.allCases.map { ["value": $0.rawValue, "label": web.text("fee.\($0.rawValue)")] },
            "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "fees", title: web.text("nav.fees"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// Yuan as typed at a counter (`12`, `12.5`, `12.50`, `¥12.50`) to fen, exactly.
    static func fen(_ text: String) throws(CitizenCardError) -> Int64 {
        var value = text.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("¥") { value.removeFirst() }
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 9,
            parts[0].allSatisfy(\.isASCII), let yuan = Int64(parts[0]), yuan >= 0,
            parts.count == 1 || ((1...2).contains(parts[1].count) && parts[1].allSatisfy { $0.isASCII && $0.isNumber })
        else {
            throw CitizenCardError.invalid("amount", "an amount in yuan such as 20 or 12.50", zh: "金额应为元，如 20 或 12.50")
        }
        let cents = parts.count == 2 ? Int64(parts[1].count == 1 ? "\(parts[1])0" : String(parts[1]))! : 0
        return yuan * 100 + cents
    }
}

import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// The e-purse at the counter (issue 21, part 5): loads with the card in the counter's reader,
/// reading the chip, settling an interrupted load, migrating an old card's balance and folding in
/// an old card's. The page sends an amount and a funding source; the server talks to the card
/// through the operator's counter agent and keeps every key and MAC to itself.
extension Web {
    var counter: CounterCardService { CounterCardService(env) }

    func registerPursePages(_ router: Router<AppContext>) {
        page(router, .post, "/console/cards/{cardId}/purse/load", .staff(.counterService)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            do {
                let form = web.form
                guard let funding = form.text("funding").flatMap(PurseLoad.Funding.init(rawValue:)) else {
                    throw CitizenCardError.invalid("funding", "choose how the load is paid", zh: "请选择圈存资金来源")
                }
                let amount = try Self.fen(yuan: form["amount"] ?? "", field: "amount")
                let outcome = try await counter.load(
                    id, amountFen: amount, funding: funding,
                    legacyCardID: form.text("legacyCardId"),
                    reader: try await reader(web), actor: web.actor!)
                switch outcome {
                case .completed:
                    return redirect("/console/cards/\(id)?done=loaded", web: web)
                case .interrupted(_, let reason):
                    let card = try await cards.card(id, actor: web.actor!)
                    return try await cardPage(
                        card, web: web,
                        error: CitizenCardError(
                            .readerUnavailable,
                            "the load is approved but the card's answer did not arrive (\(reason)): put the card back "
                                + "in the reader and settle the load below",
                            zh: "圈存已批准，但未收到卡片的应答（\(reason)）：请将卡放回读卡器，在下方确认此笔圈存"))
                }
            } catch let error as CitizenCardError {
                return try await cardPage(try await cards.card(id, actor: web.actor!), web: web, error: error)
            }
        }
        page(router, .post, "/console/cards/{cardId}/purse/read", .staff(.counterService)) { _, context, web in
            let id: Card.ID = try context.id("cardId")
            let card = try await cards.card(id, actor: web.actor!)
            do {
                let chip = try await counter.read(id, reader: try await reader(web), actor: web.actor!)
                return try await cardPage(card, web: web, chip: chip)
            } catch let error as CitizenCardError {
                return try await cardPage(card, web: web, error: error)
            }
        }
        page(router, .post, "/console/loads/{loadId}/resolution", .staff(.counterService)) { _, context, web in
            let loadID: PurseLoad.ID = try context.id("loadId")
            let cardID = web.form.text("cardId").map { Card.ID(rawValue: $0) }
            do {
                let load = try await counter.resolve(loadID, reader: try await reader(web), actor: web.actor!)
                return redirect("/console/cards/\(load.cardID)?done=load-\(load.status.rawValue)", web: web)
            } catch let error as CitizenCardError {
                guard let cardID, let card = try? await cards.card(cardID, actor: web.actor!) else { throw error }
                return try await cardPage(card, web: web, error: error)
            }
        }
    }

    /// The operator's counter reader, or one that says no agent is connected.
    func reader(_ web: WebRequest) async throws -> any CounterReader {
        guard let actor = web.actor, let reader = await agents.reader(for: actor) else { return NoCounterReader() }
        return reader
    }

    /// The purse part of a card's page: the reader, the loads, and what can be loaded.
    func purseValues(
        _ card: CardView, web: WebRequest, chip: CounterCardService.ChipView?
    ) async throws
        -> [String: Any]?
    {
        let actor = web.actor!
        guard (try? actor.require(.counterService)) != nil, actor.outletID != nil,
            [.active, .preLost, .lost, .expired, .cancelled, .replaced].contains(card.state)
        else { return nil }
        let loads = try await PurseService(env).loads(of: card.id, actor: actor)
        var values: [String: Any] = [
            "loads": loads.suffix(10).reversed().map { load -> [String: Any] in
                [
                    "id": load.id.rawValue, "at": WebFormat.time(load.approvedAt),
                    "amount": WebFormat.money(load.amount.fen), "funding": web.text("funding.\(load.funding.rawValue)"),
                    "status": web.text("load.\(load.status.rawValue)"), "statusCode": load.status.rawValue,
                    "open": load.status == .approved,
                ]
            },
            "hasLoads": !loads.isEmpty,
        ]
        if let status = await agents.status(for: actor) {
            values["reader"] = ["name": status.reader, "terminal": status.terminalID]
        }
        if let chip {
            values["chip"] = [
                "balance": WebFormat.money(chip.balanceFen), "ledger": WebFormat.money(chip.ledgerBalanceFen),
                "differs": chip.balanceFen != chip.ledgerBalanceFen,
            ]
        }
        let open = loads.contains { $0.status == .approved }
        if card.state == .active && !open {
            values["canLoad"] = [
                "fundings": [PurseLoad.Funding.cash, .bankTransfer].map {
                    ["value": $0.rawValue, "label": web.text("funding.\($0.rawValue)")]
                }
            ]
            if let closure = try await PurseService(env).oldCardRefund(for: card.id, actor: actor) {
                values["oldCard"] = ["amount": WebFormat.money(closure.fen), "amountYuan": Self.yuan(closure.fen)]
            }
            let legacy = try await LegacyService(env).cards(of: card.id, actor: actor)
                .filter { !$0.folded && $0.balanceFen > 0 }
            values["legacy"] = legacy.map { old in
                [
                    "id": old.id.rawValue, "number": old.number, "kind": web.text("legacy.\(old.kind.rawValue)"),
                    "amount": WebFormat.money(old.balanceFen), "amountYuan": Self.yuan(old.balanceFen),
                ]
            }
        }
        return values
    }

    /// `123`, `123.4` or `123.45` yuan → fen; anything else is refused.
    static func fen(yuan text: String, field: String) throws(CitizenCardError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), (1...7).contains(parts[0].count),
            parts[0].allSatisfy({ $0.isASCII && $0.isNumber }),
            parts.count == 1 || ((1...2).contains(parts[1].count) && parts[1].allSatisfy { $0.isASCII && $0.isNumber }),
            let whole = Int64(parts[0])
        else {
            throw CitizenCardError.invalid(
                field, "an amount in yuan, like 100 or 50.25", zh: "请输入以元为单位的金额，如 100 或 50.25")
        }
        let cents = parts.count == 2 ? Int64(parts[1].padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0 : 0
        return whole * 100 + cents
    }

    /// Fen → `123.45` (a form's amount).
    static func yuan(_ fen: Int64) -> String {
        let cents = fen % 100
        return "\(fen / 100).\(cents < 10 ? "0" : "")\(cents)"
    }
}

/// The reader of an operator with no counter agent connected: every operation says so.
struct NoCounterReader: CounterReader {
    var terminalID: String { "000000000000" }
    func begin() async throws(CounterReaderError) { throw .noAgent }
    func transmit(_ command: [UInt8]) async throws(CounterReaderError) -> [UInt8] { throw .noAgent }
    func end() async {}
}

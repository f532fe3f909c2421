import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Hotlist
import SmartCard
import Testing

/// The terminal protocol over HTTP (docs/terminal-protocol.md): the center registers a merchant and
/// a terminal, the terminal signs in with its key, uploads a batch of real purchases and fetches
/// the hotlist in its binary form.
@Suite("Terminal protocol over HTTP")
struct TerminalAPITests {
    @Test("register, sign in, upload (idempotent), refused batch, exceptions, hotlist full and delta")
    func terminalDay() async throws {
        let harness = try await Harness()
        let (resident, card) = try await harness.fixtures.activeCard()
        var chip = try harness.fixtures.chip(for: card)
        try await harness.fixtures.load(&chip, card: card, fen: 2000)
        var device = PurchaseTerminal(
            psam: PSAM(
                terminalID: try TerminalID(hex: "0000000000AA"), serialNumber: try Hex.decode("C0FFEE000001"),
                masterPurchaseKey: try harness.world.env.issuerKeys.masterKey(.purchase, version: 1)))
        let taps = [
            try device.purchase(amountFen: 200, dateTime: try TransactionDateTime(digits: "20260302080000"), on: &chip),
            try device.purchase(amountFen: 300, dateTime: try TransactionDateTime(digits: "20260302081000"), on: &chip),
        ]
        let records = String(decoding: try JSONEncoder().encode(taps), as: UTF8.self)
        try await harness.run { client in
            let admin = try await client.login("admin")
            let merchant = try await client.send(
                .post, "/api/v1/merchants", token: admin,
                json: #"{"code":"bus-1","name":"City Bus","commissionBasisPoints":60}"#)
            #expect(merchant.status == 201 && merchant.json["code"] as? String == "BUS-1", "\(merchant.text)")
            let merchantID = try #require(merchant.json["id"] as? String)
            let again = try await client.send(
                .post, "/api/v1/merchants", token: admin,
                json: #"{"code":"BUS-1","name":"Other","commissionBasisPoints":60}"#)
            #expect(again.status == 409)
            let registered = try await client.send(
                .post, "/api/v1/merchants/\(merchantID)/terminals", token: admin,
                json: #"{"number":"0000000000aa","psamSerial":"c0ffee000001","location":"Line 1"}"#)
            #expect(registered.status == 201, "\(registered.text)")
            let key = try #require(registered.json["key"] as? String)
            #expect(key.hasPrefix("ctk_"))
            #expect((registered.json["terminal"] as? [String: Any])?["keyHash"] == nil)

            let signIn = try await client.send(
                .post, "/api/v1/terminal/sign-in", token: key, json: #"{"hotlistVersion":0}"#)
            #expect(signIn.status == 200 && signIn.json["merchantCode"] as? String == "BUS-1", "\(signIn.text)")
            let asStaff = try await client.send(
                .post, "/api/v1/terminal/sign-in", token: admin, json: #"{"hotlistVersion":0}"#)
            #expect(asStaff.status == 403)
            let revoked = try await client.send(
                .post, "/api/v1/terminal/sign-in", token: "ctk_unknown", json: #"{"hotlistVersion":0}"#)
            #expect(revoked.status == 401)

            let batch = #"{"batchNumber":1,"records":\#(records)}"#
            let uploaded = try await client.send(.post, "/api/v1/terminal/batches", token: key, json: batch)
            #expect(uploaded.status == 200, "\(uploaded.text)")
            let outcomes = (uploaded.json["records"] as? [[String: Any]])?.compactMap { $0["outcome"] as? String }
            #expect(outcomes == ["posted", "posted"])
            let replayed = try await client.send(.post, "/api/v1/terminal/batches", token: key, json: batch)
            #expect(replayed.status == 200 && replayed.body == uploaded.body)

            var foreign = taps[0]
            foreign.terminalID = "000000000099"
            var tampered = taps[1]
            tampered.amountFen = 0
            let bad = String(decoding: try JSONEncoder().encode([foreign, tampered]), as: UTF8.self)
            let refused = try await client.send(
                .post, "/api/v1/terminal/batches", token: key, json: #"{"batchNumber":2,"records":\#(bad)}"#)
            #expect(refused.status == 422 && refused.code == "batch_refused")
            let detail = refused.json["detail"] as? String ?? ""
            #expect(detail.contains("record 0") && detail.contains("record 1"), "\(detail)")

            var forged = taps[1]
            forged.terminalSerial = 77
            forged.cardCounter = 7
            let parked = try await client.send(
                .post, "/api/v1/terminal/batches", token: key,
                json:
                    #"{"batchNumber":3,"records":\#(String(decoding: try JSONEncoder().encode([forged]), as: UTF8.self))}"#
            )
            #expect((parked.json["records"] as? [[String: Any]])?.first?["reason"] as? String == "bad_tac")
            let queue = try await client.send(.get, "/api/v1/purchase-exceptions", token: admin)
            #expect((queue.json["items"] as? [Any])?.count == 1)
            let signals = try await client.send(.get, "/api/v1/fraud-signals", token: admin)
            #expect((signals.json["items"] as? [[String: Any]])?.first?["kind"] as? String == "forged_tac")
            // The operator closes it with a note: it leaves the queue for the closed list.
            let forgedID = try #require((parked.json["records"] as? [[String: Any]])?.first?["purchaseId"] as? String)
            let closure = "/api/v1/purchase-exceptions/\(forgedID)/closure"
            let blank = try await client.send(.post, closure, token: admin, json: #"{"note":"  "}"#)
            #expect(blank.status == 422 && blank.code == "invalid_field", "\(blank.text)")
            let unknownField = try await client.send(.post, closure, token: admin, json: #"{"note":"x","refund":1}"#)
            #expect(unknownField.status == 400 && unknownField.code == "unknown_field", "\(unknownField.text)")
            let byTerminal = try await client.send(.post, closure, token: key, json: #"{"note":"mine"}"#)
            #expect(byTerminal.status == 403)
            let closed = try await client.send(.post, closure, token: admin, json: #"{"note":"forged TAC, checked"}"#)
            #expect(closed.status == 200, "\(closed.text)")
            #expect((closed.json["closure"] as? [String: Any])?["note"] as? String == "forged TAC, checked")
            let closedAgain = try await client.send(
                .post, closure, token: admin, json: #"{"note":"forged TAC, checked"}"#)
            #expect(closedAgain.status == 200 && closedAgain.body == closed.body)
            let postedID = try #require((uploaded.json["records"] as? [[String: Any]])?.first?["purchaseId"] as? String)
            let paid = try await client.send(
                .post, "/api/v1/purchase-exceptions/\(postedID)/closure", token: admin, json: #"{"note":"x"}"#)
            #expect(paid.status == 409 && paid.code == "not_closable", "\(paid.text)")
            let nowhere = try await client.send(
                .post, "/api/v1/purchase-exceptions/\(UUID().uuidString.lowercased())/closure", token: admin,
                json: #"{"note":"x"}"#)
            #expect(nowhere.status == 404)
            let open = try await client.send(.get, "/api/v1/purchase-exceptions", token: admin)
            #expect((open.json["items"] as? [Any])?.isEmpty == true)
            let closedList = try await client.send(.get, "/api/v1/purchase-exceptions/closed", token: admin)
            let items = closedList.json["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1 && (items.first?["purchase"] as? [String: Any])?["id"] as? String == forgedID)
            let badCursor = try await client.send(.get, "/api/v1/purchase-exceptions/closed?after=x", token: admin)
            #expect(badCursor.status == 422)
            let purchases = try await client.send(
                .get, "/api/v1/cards/\(card.id)/purchases", token: try await client.login("clerk"))
            #expect((purchases.json["items"] as? [Any])?.count == 3)

            // The hotlist: a loss, a publication, the full list and the delta in binary.
            _ = try await harness.fixtures.cards.reportWrittenLoss(
                card.id, identity: harness.fixtures.identity(resident), actor: harness.staff.clerk)
            let published = try await client.send(.post, "/api/v1/hotlist/publications", token: admin)
            #expect(published.json["version"] as? Int == 1, "\(published.text)")
            let full = try await client.send(.get, "/api/v1/terminal/hotlist", token: key)
            #expect(full.status == 200 && full.headers[.contentType] == "application/octet-stream")
            #expect(full.headers[HTTPField.Name("Hotlist-Version")!] == "1")
            let list = try Hotlist(decoding: Array(full.body))
            #expect(list.contains(try #require(CardASN(hex: card.asn))))
            let delta = try await client.send(.get, "/api/v1/terminal/hotlist?since=0", token: key)
            #expect(try HotlistDelta(decoding: Array(delta.body)).changed.count == 1)
            let current = try await client.send(.get, "/api/v1/terminal/hotlist?since=1", token: key)
            #expect(current.status == 204)
            let ahead = try await client.send(.get, "/api/v1/terminal/hotlist?since=5", token: key)
            #expect(ahead.status == 422)
            let status = try await client.send(.get, "/api/v1/hotlist", token: admin)
            #expect(status.json["count"] as? Int == 1 && status.json["publishedAt"] != nil)

            // A revoked terminal's key is refused at once; restored, it works again.
            let terminalID = try #require((registered.json["terminal"] as? [String: Any])?["id"] as? String)
            let revoke = try await client.send(
                .patch, "/api/v1/terminals/\(terminalID)", token: admin, json: #"{"active":false}"#)
            #expect(revoke.status == 200 && revoke.json["active"] as? Bool == false, "\(revoke.text)")
            let revokedKey = try await client.send(
                .post, "/api/v1/terminal/sign-in", token: key, json: #"{"hotlistVersion":1}"#)
            #expect(revokedKey.status == 401)
            _ = try await client.send(
                .patch, "/api/v1/terminals/\(terminalID)", token: admin, json: #"{"active":true}"#)
            let back = try await client.send(
                .post, "/api/v1/terminal/sign-in", token: key, json: #"{"hotlistVersion":1}"#)
            #expect(back.status == 200 && back.json["hotlistCurrent"] as? Bool == true)

            // The day is cleared the next day; its settlement file is served as CSV.
            let early = try await client.send(
                .post, "/api/v1/clearing-runs", token: admin, json: #"{"date":"2026-03-02"}"#)
            #expect(early.status == 409 && early.code == "not_yet_due", "\(early.text)")
            harness.world.clock.advance(days: 1)
            let center = try await client.login("admin")
            let cleared = try await client.send(
                .post, "/api/v1/clearing-runs", token: center, json: #"{"date":"2026-03-02"}"#)
            #expect(cleared.status == 200 && cleared.json["grossFen"] as? Int == 500, "\(cleared.text)")
            #expect((cleared.json["differences"] as? [Any])?.isEmpty == true, "\(cleared.text)")
            let file = try await client.send(.get, "/api/v1/clearing-runs/2026-03-02/settlements/bus-1", token: center)
            #expect(file.status == 200 && file.text.hasSuffix("2026-03-02,BUS-1,TOTAL,2,500,0,3,497\n"), "\(file.text)")
            let none = try await client.send(.get, "/api/v1/clearing-runs/2026-03-01", token: center)
            #expect(none.status == 404)
        }
    }

    @Test("the center writes off a card's record that never arrived; the records behind it are paid")
    func missingRecords() async throws {
        let harness = try await Harness()
        var (card, chip) = try await harness.fixtures.activeCardWithChip()
        try await harness.fixtures.load(&chip, card: card, fen: 1000, at: "20261129080000")
        var bus = try await harness.fixtures.acquirer()
        let first = try bus.tap(&chip, fen: 100, at: "20261129090000")
        _ = try bus.tap(&chip, fen: 250, at: "20261129100000")
        let behind = try bus.tap(&chip, fen: 300, at: "20261129110000")
        _ = try await bus.upload([first], env: harness.world.env)
        _ = try await bus.upload([behind], env: harness.world.env)
        let cardID = card.id
        try await harness.run { client in
            let admin = try await client.login("admin")
            let path = "/api/v1/cards/\(cardID)/missing-records/write-off"
            let clerk = try await client.send(
                .post, path, token: try await client.login("clerk"), json: #"{"note":"x"}"#)
            #expect(clerk.status == 403)
            let blank = try await client.send(.post, path, token: admin, json: #"{"note":""}"#)
            #expect(blank.status == 422 && blank.code == "invalid_field")
            let nowhere = try await client.send(
                .post, "/api/v1/cards/\(UUID().uuidString.lowercased())/missing-records/write-off", token: admin,
                json: #"{"note":"x"}"#)
            #expect(nowhere.status == 404)
            let written = try await client.send(.post, path, token: admin, json: #"{"note":"terminal lost"}"#)
            #expect(written.status == 200, "\(written.text)")
            #expect(written.json["amountFen"] as? Int == 250 && written.json["released"] as? Int == 1)
            #expect(written.json["transferId"] as? String == "missing-records:\(cardID):1")
            let again = try await client.send(.post, path, token: admin, json: #"{"note":"terminal lost"}"#)
            #expect(again.status == 409 && again.code == "transition_not_allowed", "\(again.text)")
            let queue = try await client.send(.get, "/api/v1/purchase-exceptions", token: admin)
            #expect((queue.json["items"] as? [Any])?.isEmpty == true)
        }
    }
}

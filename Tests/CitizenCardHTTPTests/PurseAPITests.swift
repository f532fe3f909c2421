import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import SmartCard
import Testing

/// An online load through the HTTP API, with a software card personalised with the issuer keys.
@Suite("E-purse loads over HTTP")
struct PurseAPITests {
    @Test("approve (idempotent), credit the card with MAC2, complete with the TAC; an interrupted load is listed")
    func loadOverHTTP() async throws {
        let harness = try await Harness()
        let (_, card) = try await harness.fixtures.activeCard()
        let holder = CardHolder(
            name: "持卡人", socialSecurityNumber: "330902199001010012", cardSerialNumber: card.number,
            bankCardNumber: "", issueDate: "20261129", expiryDate: "20361129", photoReference: "")
        let chip = try SoftwareCard.personalise(
            asn: try Hex.decode(card.asn), holder: holder, keyring: harness.world.env.issuerKeys)
        try await harness.run { client in
            var chip = chip
            let token = try await client.login("clerk")
            _ = chip.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
            let initialize = chip.process(
                [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01, 0, 0, 0x13, 0x88, 0x33, 0x09, 0, 0, 0, 0x01, 0x10])
            let body = """
                {"amountFen":5000,"funding":"cash","terminalId":"330900000001","transactionTime":"20261129120000",\
                "initializeResponse":"\(Hex.encode(initialize.dropLast(2)))"}
                """
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "load-1"]
            let path = "/api/v1/cards/\(card.id)/loads"
            let approved = try await client.send(.post, path, token: token, json: body, headers: key)
            #expect(approved.status == 201, "\(approved.text)")
            let replay = try await client.send(.post, path, token: token, json: body, headers: key)
            #expect(replay.status == 201 && replay.body == approved.body)
            #expect(replay.headers[HTTPField.Name("Idempotency-Replayed")!] == "true")
            let load = try #require(approved.json["load"] as? [String: Any])
            let loadID = try #require(load["id"] as? String)
            #expect(load["status"] as? String == "approved" && load["cardId"] as? String == card.id.rawValue)
            let listed = try await client.send(.get, "/api/v1/loads?status=approved", token: token)
            #expect((listed.json["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [loadID])
            let mac2 = try #require(approved.json["mac2"] as? String)
            let credit = chip.process(
                [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode("20261129120000")) + (try Hex.decode(mac2)) + [0x04])
            #expect(credit.suffix(2) == [0x90, 0x00] && chip.balance() == 5000)
            let bad = try await client.send(
                .post, "/api/v1/loads/\(loadID)/completion", token: token, json: #"{"tac":"00000000"}"#)
            #expect(bad.status == 422 && bad.code == "invalid_field")
            let done = try await client.send(
                .post, "/api/v1/loads/\(loadID)/completion", token: token,
                json: #"{"tac":"\#(Hex.encode(credit.prefix(4)))"}"#)
            #expect(done.status == 200 && done.json["status"] as? String == "completed")
            let history = try await client.send(.get, path, token: token)
            #expect((history.json["items"] as? [[String: Any]])?.count == 1)
            let none = try await client.send(.get, "/api/v1/loads?status=approved", token: token)
            #expect((none.json["items"] as? [Any])?.isEmpty == true)
            let refused = try await client.send(.get, "/api/v1/loads?status=completed", token: token)
            #expect(refused.status == 422)
        }
    }
}

import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Hummingbird
import HTTPTypes
import Storage
import Testing

/// Bad input gets a clear 4xx problem and leaves nothing written.
@Suite("Bad input")
struct InputTests {
    @Test("malformed, mistyped, unknown, oversized and mislabelled bodies")
    func badBodies() async throws {
        let harness = try await Harness()
        let store = harness.world.store
        try await harness.run { client in
            let token = try await client.login("clerk")
            let auditBefore = try await store.auditEntries(AuditFilter(), limit: 1000).count
            let valid =
                #"{"idNumber":"360426199101010071","name":"王小明","household":"local","socialInsurance":true,"ruralMedical":false}"#
            let cases: [(String, String?, HTTPFields, Int, String)] = [
                ("not JSON", #"{"idNumber": "#, [:], 400, "malformed_request"),
                ("array", "[1,2]", [:], 422, "invalid_field"),
                (
                    "wrong type",
                    #"{"idNumber":"360426199101010071","name":"王小明","household":"local","socialInsurance":"yes","ruralMedical":false}"#,
                    [:], 422, "invalid_field"
                ),
                (
                    "missing field",
                    #"{"idNumber":"360426199101010071","household":"local","socialInsurance":true,"ruralMedical":false}"#,
                    [:], 422, "invalid_field"
                ),
                (
                    "bad enum",
                    #"{"idNumber":"360426199101010071","name":"x","household":"mars","socialInsurance":true,"ruralMedical":false}"#,
                    [:], 422, "invalid_field"
                ),
                ("unknown field", String(valid.dropLast()) + #","isVIP":true}"#, [:], 400, "unknown_field"),
                ("invalid ID", valid.replacingOccurrences(of: "0071", with: "0072"), [:], 422, "invalid_resident_id"),
                ("wrong content type", valid, [.contentType: "text/plain"], 415, "unsupported_media_type"),
                (
                    "too large", #"{"name":""# + String(repeating: "a", count: 1_100_000) + #""}"#, [:], 413,
                    "body_too_large"
                ),
            ]
            for (label, body, headers, status, code) in cases {
                let reply = try await client.send(.post, "/api/v1/persons", token: token, json: body, headers: headers)
                #expect(
                    reply.status == status && reply.code == code, "\(label): \(reply.status) \(reply.text.prefix(300))")
                #expect(reply.headers[.contentType]?.hasPrefix("application/problem+json") == true, "\(label)")
                #expect(
                    !reply.text.contains("mars") && !reply.text.contains("0072"), "\(label): the problem echoes a value"
                )
            }
            let unknown = try await client.send(
                .post, "/api/v1/persons", token: token, json: String(valid.dropLast()) + #","isVIP":true}"#)
            #expect(unknown.json["field"] as? String == "isVIP")
            let invalid = try await client.send(
                .post, "/api/v1/persons", token: token, json: valid.replacingOccurrences(of: "0071", with: "0072"))
            #expect(
                (invalid.json["en"] as? [String: Any])?["detail"] as? String
                    == "check character does not match (expected 1)")
            #expect((invalid.json["zh-Hans"] as? [String: Any])?["detail"] as? String == "校验码不符（应为1）")
            #expect(try await store.personCount() == 0)
            #expect(try await store.auditEntries(AuditFilter(), limit: 1000).count == auditBefore, "nothing written")
            #expect(try await client.send(.post, "/api/v1/persons", token: token, json: valid).status == 201)
            let again = try await client.send(.post, "/api/v1/persons", token: token, json: valid)
            #expect(again.status == 409 && again.code == "person_exists")
        }
    }

    @Test("photos: JPEG or PNG by magic bytes, at most 2 MiB")
    func photos() async throws {
        let harness = try await Harness()
        let resident = try await harness.fixtures.resident(photo: false)
        try await harness.run { client in
            let token = try await client.login("clerk")
            let uri = "/api/v1/persons/\(resident.person.id)/photo"
            let gif = try await client.send(
                .put, uri, token: token, bytes: Data("GIF89a......".utf8), headers: [.contentType: "image/png"])
            #expect(gif.status == 422 && gif.code == "invalid_photo")
            let text = try await client.send(
                .put, uri, token: token, bytes: Fixtures.png, headers: [.contentType: "text/plain"])
            #expect(text.status == 415)
            var big = Data([0xFF, 0xD8, 0xFF, 0xE0])
            big.append(Data(count: 2 * 1024 * 1024))
            let large = try await client.send(
                .put, uri, token: token, bytes: big, headers: [.contentType: "image/jpeg"])
            #expect(large.status == 413 && large.code == "body_too_large")
            #expect(try await harness.world.store.person(id: resident.person.id)?.version == 1)
            let good = try await client.send(
                .put, uri, token: token, bytes: Fixtures.png, headers: [.contentType: "image/png"])
            #expect(good.status == 200 && good.json["hasPhoto"] as? Bool == true)
            let back = try await client.send(.get, uri + "?purpose=check", token: token)
            #expect(back.status == 200 && back.body == Fixtures.png && back.headers[.contentType] == "image/png")
        }
    }

    @Test("illegal transitions and duplicate applications are 409 with nothing written")
    func businessConflicts() async throws {
        let harness = try await Harness()
        let (resident, card) = try await harness.fixtures.card(in: .lost)
        try await harness.run { client in
            let token = try await client.login("clerk")
            let identity = #"{"identity":{"idNumber":"\#(resident.idNumber)","documentChecked":true}}"#
            let eventsBefore = try await harness.world.store.cardEvents(cardID: card.id).count
            let again = try await client.send(
                .post, "/api/v1/cards/\(card.id)/loss", token: token, json: identity,
                headers: [.acceptLanguage: "en-GB,en;q=0.8"])
            #expect(again.status == 409 && again.code == "transition_not_allowed")
            #expect(again.json["title"] as? String == "This action is not allowed in the card's current state")
            let chinese = try await client.send(.post, "/api/v1/cards/\(card.id)/loss", token: token, json: identity)
            #expect(chinese.json["title"] as? String == "卡片当前状态不允许此操作")
            #expect(try await harness.world.store.cardEvents(cardID: card.id).count == eventsBefore)
            let application = try await client.send(
                .post, "/api/v1/applications", token: token, json: #"{"personId":"\#(resident.person.id)"}"#)
            #expect(application.status == 409 && application.code == "live_card_exists")
            let missing = try await client.send(.get, "/api/v1/cards/not-a-uuid", token: token)
            #expect(missing.status == 404 && missing.code == "not_found")
            let noRoute = try await client.send(.get, "/api/v1/nothing-here", token: token)
            #expect(
                noRoute.status == 404 && noRoute.headers[.contentType]?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test("an Idempotency-Key replays the first answer; the key with another request is refused")
    func idempotency() async throws {
        let harness = try await Harness()
        let (resident, card) = try await harness.fixtures.activeCard()
        try await harness.run { client in
            let token = try await client.login("clerk")
            let body = #"{"identity":{"idNumber":"\#(resident.idNumber)","documentChecked":true}}"#
            let first = try await client.send(
                .post, "/api/v1/cards/\(card.id)/loss", token: token, json: body,
                headers: [HTTPField.Name("Idempotency-Key")!: "loss-1"])
            #expect(first.status == 200)
            let second = try await client.send(
                .post, "/api/v1/cards/\(card.id)/loss", token: token, json: body,
                headers: [HTTPField.Name("Idempotency-Key")!: "loss-1"])
            #expect(second.status == 200 && second.body == first.body)
            #expect(second.headers[HTTPField.Name("Idempotency-Replayed")!] == "true")
            let other = try await client.send(
                .post, "/api/v1/cards/\(card.id)/loss-withdrawal", token: token, json: body,
                headers: [HTTPField.Name("Idempotency-Key")!: "loss-1"])
            #expect(other.status == 422 && other.code == "idempotency_key_reused")
            #expect(
                try await harness.world.store.cardEvents(cardID: card.id).filter { $0.action == .reportWrittenLoss }
                    .count == 1)
            let plain = try await client.send(.post, "/api/v1/cards/\(card.id)/loss", token: token, json: body)
            #expect(plain.status == 409, "without a key a repeat is a new request")
            let reissue =
                #"{"identity":{"idNumber":"\#(resident.idNumber)","documentChecked":true},"expectedFeeFen":2000}"#
            let created = try await client.send(
                .post, "/api/v1/cards/\(card.id)/reissue", token: token, json: reissue,
                headers: [HTTPField.Name("Idempotency-Key")!: "reissue-1"])
            #expect(created.status == 201)
            let replayed = try await client.send(
                .post, "/api/v1/cards/\(card.id)/reissue", token: token, json: reissue,
                headers: [HTTPField.Name("Idempotency-Key")!: "reissue-1"])
            #expect(replayed.status == 201 && replayed.body == created.body, "a replay keeps the first status")
            #expect(
                try await harness.world.store.cards(personID: resident.person.id).count == 2, "one new card, not two")
            let supervisor = try await client.login("supervisor")
            let (_, applied) = try await harness.fixtures.application()
            let same = try await client.send(
                .post, "/api/v1/cards/\(applied.id)/verification", token: supervisor, json: #"{"decision":"approve"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "loss-1"])
            #expect(same.status == 200, "keys are per user: another user's 'loss-1' is a different key")
        }
    }

    @Test("health and the OpenAPI document need no login")
    func publicRoutes() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let health = try await client.send(.get, "/health")
            #expect(
                health.status == 200 && health.json["status"] as? String == "ok"
                    && health.json["database"] as? String == "ok")
            let document = try await client.send(.get, "/openapi.yaml")
            #expect(document.status == 200 && document.text.hasPrefix("openapi: 3.1"))
        }
    }
}

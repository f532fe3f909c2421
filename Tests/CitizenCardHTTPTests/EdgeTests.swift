import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PropertyBased
import Storage
import Testing

@testable import CitizenCardHTTP

/// The HTTP edge (issue 16): strict JSON, query strings read as forms write them, 405 with
/// `Allow`, the headers every answer carries, `Retry-After`.
@Suite("HTTP edge")
struct EdgeTests {
    // MARK: Strict JSON

    static func refusal(_ text: String) -> CitizenCardError? {
        refusal(Array(text.utf8))
    }

    static func refusal(_ bytes: [UInt8]) -> CitizenCardError? {
        do throws(CitizenCardError) {
            try StrictJSON.check(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("RFC 8259 in UTF-8: accepted as Foundation reads it")
    func accepts() {
        for text in [
            #"{}"#, #"[]"#, #"{"a":[1,-2.5e3,true,false,null,"x\n\u00e9\ud83d\ude00"]}"#, #" {"a" : {"b":{}} } "#,
            #""text""#, "0", #"{"name":"王小明","note":"第一行\r\n第二行"}"#,
        ] {
            #expect(Self.refusal(text) == nil, "\(text)")
        }
    }

    @Test("duplicate keys, a BOM, UTF-16, invalid UTF-8, lone surrogates, deep nesting, raw controls, trailing bytes")
    func refuses() {
        let cases: [(String, [UInt8], CitizenCardError.Code, String?)] = [
            ("duplicate key", Array(#"{"a":1,"b":{"c":1,"c":2}}"#.utf8), .malformedRequest, "b.c"),
            ("BOM", [0xEF, 0xBB, 0xBF] + Array("{}".utf8), .malformedRequest, nil),
            (
                "UTF-16", Array(#"{"a":1}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, .malformedRequest,
                nil
            ),
            ("overlong", Array(#"{"a":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), .malformedRequest, nil),
            (
                "encoded surrogate", Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),
                .malformedRequest, nil
            ),
            ("lone surrogate", Array(#"{"name":"\ud800x"}"#.utf8), .invalidField, "name"),
            ("low surrogate first", Array(#"{"x":["\udc00"]}"#.utf8), .invalidField, "x[0]"),
            ("escaped NUL", Array(#"{"a":{"purpose":"x\u0000y"}}"#.utf8), .invalidField, "a.purpose"),
            ("escaped bidi", Array(#"{"names":["ok","\u202e"]}"#.utf8), .invalidField, "names[1]"),
            ("raw control", Array("{\"a\":\"x\u{1}\"}".utf8), .malformedRequest, nil),
            (
                "deep", Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8),
                .malformedRequest, nil
            ),
            ("trailing", Array(#"{} {}"#.utf8), .malformedRequest, nil),
            ("bad number", Array(#"{"a":01}"#.utf8), .malformedRequest, nil),
            ("bad literal", Array(#"{"a":tru}"#.utf8), .malformedRequest, nil),
        ]
        for (label, bytes, code, field) in cases {
            let error = Self.refusal(bytes)
            #expect(error?.code == code, "\(label): \(String(describing: error))")
            if let field { #expect(error?.field == field, "\(label)") }
        }
    }

    @Test("property: what the strict reader accepts Foundation accepts; no input crashes it")
    func property() async {
        let byte = Gen<UInt8>.oneOf(
            Gen<UInt8?>.element(of: Array(#"{}[],:"\ntrufalsenul0123456789.-+eE \u"#.utf8)).map { $0! },
            Gen<UInt8>.value(in: 0...255).withoutShrink())
        await propertyCheck(count: 3000, input: byte.array(of: 0...40)) { bytes in
            if Self.refusal(bytes) == nil {
                #expect(
                    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil,
                    "\(bytes)")
            }
        }
    }

    // MARK: Through the router

    @Test("the API refuses lax JSON: duplicates, UTF-16, another charset, a NUL in a nested field")
    func laxBodies() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let duplicate = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"username":"clerk","username":"admin","password":"x"}"#)
            #expect(
                duplicate.status == 400 && duplicate.code == "malformed_request"
                    && duplicate.json["field"] as? String == "username")
            let utf16 = Data(
                #"{"username":"clerk","password":"x"}"#.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
            let wide = try await client.send(
                .post, "/api/v1/auth/login", bytes: utf16, headers: [.contentType: "application/json"])
            #expect(wide.status == 400 && wide.code == "malformed_request")
            let charset = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"x"}"#,
                headers: [.contentType: "application/json; charset=utf-16"])
            #expect(charset.status == 415)
            let token = try await client.login("clerk")
            let nested = try await client.send(
                .post, "/api/v1/cards/00000000-0000-7000-8000-00000000dead/issue", token: token,
                json: #"{"identity":{"idNumber":"x\u0000y"}}"#)
            #expect(nested.status == 422 && nested.json["field"] as? String == "identity.idNumber")
        }
    }

    @Test("a wrong method on an existing path is 405 with Allow, on the API and the pages; an unknown path 404")
    func methodNotAllowed() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let lookup = try await client.send(.get, "/api/v1/persons/lookup")
            #expect(lookup.status == 405 && lookup.code == "method_not_allowed")
            #expect(lookup.headers[.allow] == "POST")
            let person = try await client.send(.delete, "/api/v1/persons/00000000-0000-7000-8000-00000000dead")
            #expect(person.status == 405 && person.headers[.allow] == "GET, PATCH, HEAD")
            let page = try await client.send(.put, "/console/login")
            #expect(page.status == 405 && page.headers[.allow]?.contains("POST") == true)
            #expect(try await client.send(.get, "/api/v1/nothing-here").status == 404)
            #expect(try await client.send(.get, "/static/nothing.css").status == 404, "a route's own 404 stays 404")
        }
    }

    @Test("every API answer, error or not, says no-store and nosniff")
    func headers() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let token = try await client.login("clerk")
            for reply in [
                try await client.send(.get, "/api/v1/auth/me", token: token),
                try await client.send(.get, "/api/v1/auth/me"),
                try await client.send(.get, "/api/v1/nothing-here"),
                try await client.send(.post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"x"}"#),
                try await client.send(.get, "/health"),
            ] {
                #expect(reply.headers[.cacheControl] == "no-store", "\(reply.status)")
                #expect(reply.headers[.xContentTypeOptions] == "nosniff", "\(reply.status)")
                #expect(reply.headers[.strictTransportSecurity] == nil, "no HSTS over plain HTTP")
            }
            let css = try await client.send(.get, "/static/site.css")
            #expect(css.headers[.cacheControl] == "public, max-age=3600")
        }
    }

    @Test("behind TLS (--secure-cookies) every answer carries HSTS")
    func hsts() async throws {
        let world = try await TestWorld()
        _ = try await world.seedReferenceData()
        let (router, _) = CitizenCardApp.router(env: world.env, secureCookies: true)
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.headers[.strictTransportSecurity] == SecurityHeadersMiddleware.hstsValue)
            }
            try await client.execute(uri: "/console/login", method: .get) { response in
                #expect(response.headers[.strictTransportSecurity] == SecurityHeadersMiddleware.hstsValue)
            }
        }
    }

    @Test("a locked log-in answers 429 with Retry-After")
    func retryAfter() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            var last: Harness.Reply?
            for _ in 0..<6 {
                last = try await client.send(
                    .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"wrong one"}"#)
            }
            #expect(last?.status == 429 && last?.code == "too_many_attempts")
            #expect(Int(last?.headers[.retryAfter] ?? "") ?? 0 > 0)
        }
    }

    @Test("a query string reads + as a space and refuses a NUL or a broken escape")
    func queryStrings() async throws {
        let harness = try await Harness()
        let resident = try await harness.fixtures.resident(photo: false)
        try await harness.run { client in
            let token = try await client.login("clerk")
            let read = try await client.send(
                .get, "/api/v1/persons/\(resident.person.id)?purpose=counter+check%21", token: token)
            #expect(read.status == 200)
            let entry = try await harness.world.store.auditEntries(AuditFilter(action: "person.read"), limit: 1).first
            #expect(entry?.draft.purpose == "counter check!")
            let nul = try await client.send(.get, "/api/v1/persons/\(resident.person.id)?purpose=a%00b", token: token)
            #expect(nul.status == 422 && nul.json["field"] as? String == "purpose")
            let broken = try await client.send(.get, "/api/v1/persons/\(resident.person.id)?purpose=%FF", token: token)
            #expect(broken.status == 400 && broken.code == "malformed_request")
            let reveal = try await client.send(
                .get, "/api/v1/persons/\(resident.person.id)?reveal=true", token: token)
            #expect(reveal.status == 422 && reveal.json["field"] as? String == "purpose", "a reveal states its purpose")
        }
    }

    @Test("names refuse bidirectional overrides and zero-width characters")
    func names() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let token = try await client.login("clerk")
            let id = harness.fixtures.newIDNumber()
            for name in [#"王\u202e明"#, #"王\u200b明"#, #"王\u2066明"#] {
                let reply = try await client.send(
                    .post, "/api/v1/persons", token: token,
                    json:
                        #"{"idNumber":"\#(id)","name":"\#(name)","household":"local","socialInsurance":true,"ruralMedical":false}"#
                )
                #expect(reply.status == 422 && reply.json["field"] as? String == "name", "\(name): \(reply.text)")
            }
        }
    }

    @Test("loads and purchases of a card that does not exist are 404")
    func unknownCard() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let token = try await client.login("clerk")
            for path in ["loads", "purchases"] {
                let reply = try await client.send(
                    .get, "/api/v1/cards/00000000-0000-7000-8000-00000000dead/\(path)", token: token)
                #expect(reply.status == 404 && reply.code == "not_found", "\(path)")
            }
        }
    }

    @Test("a merchant code may not start with '-' (a formula in a spreadsheet)")
    func merchantCode() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let token = try await client.login("admin")
            let reply = try await client.send(
                .post, "/api/v1/merchants", token: token,
                json: #"{"code":"-BUS1","name":"Bus","commissionBasisPoints":60}"#)
            #expect(reply.status == 422 && reply.json["field"] as? String == "code")
        }
    }

    @Test("a problem names the field the request sent (a fee's amountFen, not the domain's amount)")
    func feeField() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let token = try await client.login("admin")
            let reply = try await client.send(
                .post, "/api/v1/fee-schedule", token: token,
                json: #"{"item":"first_card","amountFen":5,"effectiveFrom":"2030-01-01T00:00:00Z","authority":"x"}"#)
            #expect(reply.status == 422 && reply.json["field"] as? String == "amountFen", "\(reply.text)")
        }
    }
}

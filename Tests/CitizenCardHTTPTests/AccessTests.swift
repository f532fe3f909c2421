import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Hummingbird
import Testing

/// Every route against every role: a role the route does not admit gets 401 (not logged in) or
/// 403 `forbidden` before anything else happens; an admitted role never does.
@Suite("Access control")
struct AccessTests {
    @Test("every route, every role")
    func everyRouteEveryRole() async throws {
        let harness = try await Harness()
        let endpoints = harness.endpoints
        #expect(endpoints.count >= 40)
        let roles: [(String?, Role?)] = [
            (nil, nil), ("clerk", .outletOperator), ("supervisor", .supervisor), ("admin", .administrator),
            ("terminal", .terminal), ("commissioner", .commissioner), ("auditor", .auditor),
            ("department", .department),
        ]
        #expect(Set(roles.compactMap(\.1)) == Set(Role.allCases))
        let terminalKey = try await harness.fixtures.acquirer().key
        let departmentKey = try await harness.fixtures.department().key
        let problems = try await harness.run { client in
            var tokens: [String: String] = ["terminal": terminalKey, "department": departmentKey]
            for case (let name?, let role) in roles where role != .terminal && role != .department {
                tokens[name] = try await client.login(name)
            }
            var problems: [String] = []
            for endpoint in endpoints
            where endpoint.path != "/api/v1/auth/logout" && endpoint.path != Self.bankSignedRoute {
                let uri =
                    endpoint.path.replacingOccurrences(of: "{cardNumber}", with: "3309000000010")
                    .replacing(#/\{[a-zA-Z]+\}/#, with: "00000000-0000-7000-8000-00000000dead")
                    + (endpoint.path == "/api/v1/cards" ? "?state=applied" : "")
                for (name, role) in roles {
                    let body: String? = [.post, .put, .patch].contains(endpoint.method) ? "{}" : nil
                    let reply = try await client.send(
                        endpoint.method, uri, token: name.flatMap { tokens[$0] }, json: body)
                    let admitted = endpoint.access.admits(role)
                    let label = "\(endpoint.method) \(endpoint.path) as \(name ?? "anonymous")"
                    if admitted {
                        if reply.status == 401 || (reply.status == 403 && reply.code == "forbidden") {
                            problems.append("\(label): refused with \(reply.status) although admitted")
                        }
                    } else if role == nil {
                        if reply.status != 401 || reply.code != "unauthenticated" {
                            problems.append("\(label): \(reply.status), expected 401")
                        }
                    } else if reply.status != 403 || reply.code != "forbidden" {
                        problems.append("\(label): \(reply.status) \(reply.code ?? ""), expected 403 forbidden")
                    }
                    if reply.status >= 500 { problems.append("\(label): server error \(reply.text)") }
                }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// Open to everyone at the door, then authenticated by the bank's signature (no bearer token):
    /// every role without the bank's secret gets 401 `bank_signature_invalid`.
    static let bankSignedRoute = "/api/v1/banks/{code}/notices"

    @Test("a bank's notice route answers every role without the bank's signature 401 bank_signature_invalid")
    func bankSignedRoute() async throws {
        let harness = try await Harness()
        let problems = try await harness.run { client in
            var problems: [String] = []
            for name in [nil, "clerk", "admin", "auditor"] as [String?] {
                let token = try await name.asyncMap { try await client.login($0) }
                for code in ["ICBC", "00000000-0000-7000-8000-00000000dead"] {
                    let reply = try await client.send(
                        .post, "/api/v1/banks/\(code)/notices", token: token,
                        json: #"{"noticeId":"n","kind":"loss","cardNumber":"1","accountNumber":"1","occurredAt":0}"#)
                    if reply.status != 401 || reply.code != "bank_signature_invalid" {
                        problems.append("\(name ?? "anonymous") \(code): \(reply.status) \(reply.code ?? "")")
                    }
                }
            }
            return problems
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test("an operator cannot act for another outlet")
    func otherOutlet() async throws {
        let harness = try await Harness()
        let resident = try await harness.fixtures.resident()
        let other = harness.staff.otherOutlet.id
        try await harness.run { client in
            let token = try await client.login("clerk")
            let reply = try await client.send(
                .post, "/api/v1/applications", token: token,
                json: #"{"personId":"\#(resident.person.id)","outletId":"\#(other)"}"#)
            #expect(reply.status == 403 && reply.code == "wrong_outlet")
            let own = try await client.send(
                .post, "/api/v1/applications", token: token, json: #"{"personId":"\#(resident.person.id)"}"#)
            #expect(own.status == 201)
        }
    }

    @Test("log-in, bad passwords, expired and ended sessions")
    func sessions() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let wrong = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"nope"}"#)
            #expect(wrong.status == 401 && wrong.code == "invalid_credentials")
            let unknown = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"username":"nobody","password":"nope"}"#)
            #expect(unknown.status == 401 && unknown.code == "invalid_credentials")
            let token = try await client.login("clerk")
            let me = try await client.send(.get, "/api/v1/auth/me", token: token)
            #expect(me.status == 200 && me.json["username"] as? String == "clerk" && me.json["passwordHash"] == nil)
            let bogus = try await client.send(.get, "/api/v1/auth/me", token: "not-a-token")
            #expect(bogus.status == 401 && bogus.headers[.wwwAuthenticate] == "Bearer")
            #expect(try await client.send(.post, "/api/v1/auth/logout", token: token).status == 204)
            #expect(try await client.send(.get, "/api/v1/auth/me", token: token).status == 401)
            let second = try await client.login("clerk")
            harness.world.clock.advance(seconds: AuthService.sessionSeconds)
            #expect(try await client.send(.get, "/api/v1/auth/me", token: second).status == 401)
        }
    }

    @Test("staff change their password; an administrator resets or deactivates an account at once")
    func accounts() async throws {
        let harness = try await Harness()
        let clerkID = try #require(harness.staff.clerk.operatorID)
        try await harness.run { client in
            let clerk = try await client.login("clerk")
            let wrong = try await client.send(
                .post, "/api/v1/auth/password", token: clerk,
                json: #"{"currentPassword":"nope","newPassword":"a much better one"}"#)
            #expect(wrong.status == 401 && wrong.code == "invalid_credentials")
            let short = try await client.send(
                .post, "/api/v1/auth/password", token: clerk,
                json: #"{"currentPassword":"\#(TestWorld.password)","newPassword":"short"}"#)
            #expect(short.status == 422 && short.code == "invalid_field")
            let elsewhere = try await client.login("clerk")
            let changed = try await client.send(
                .post, "/api/v1/auth/password", token: clerk,
                json: #"{"currentPassword":"\#(TestWorld.password)","newPassword":"a much better one"}"#)
            #expect(changed.status == 204)
            #expect(
                try await client.send(.get, "/api/v1/auth/me", token: clerk).status == 200,
                "the session that changed it stays")
            #expect(
                try await client.send(.get, "/api/v1/auth/me", token: elsewhere).status == 401, "other sessions end")
            #expect(
                try await client.send(
                    .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"\#(TestWorld.password)"}"#
                ).status == 401)
            _ = try await client.login("clerk", password: "a much better one")
            let admin = try await client.login("admin")
            let off = try await client.send(
                .patch, "/api/v1/operators/\(clerkID)", token: admin, json: #"{"active":false}"#)
            #expect(off.status == 200 && off.json["active"] as? Bool == false)
            #expect(
                try await client.send(.get, "/api/v1/auth/me", token: clerk).status == 401,
                "deactivation ends sessions at once")
            #expect(
                try await client.send(
                    .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"a much better one"}"#
                ).status == 401)
            let reset = try await client.send(
                .patch, "/api/v1/operators/\(clerkID)", token: admin,
                json: #"{"active":true,"password":"reset by the center"}"#)
            #expect(reset.status == 200)
            let fresh = try await client.login("clerk", password: "reset by the center")
            _ = try await client.send(
                .patch, "/api/v1/operators/\(clerkID)", token: admin, json: #"{"password":"reset once more!"}"#)
            #expect(
                try await client.send(.get, "/api/v1/auth/me", token: fresh).status == 401,
                "a reset ends the account's sessions")
            let adminID = try #require(harness.staff.admin.operatorID)
            let selfOff = try await client.send(
                .patch, "/api/v1/operators/\(adminID)", token: admin, json: #"{"active":false}"#)
            #expect(selfOff.status == 422)
        }
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Testing

/// A seeded world and its router, with a helper to send JSON as a given role.
struct Harness: @unchecked Sendable {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    let router: Router<AppContext>
    let endpoints: [Endpoint]

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
        (router, endpoints) = CitizenCardApp.router(env: world.env)
    }

    struct Reply: Sendable {
        var status: Int
        var headers: HTTPFields
        var body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var code: String? { json["code"] as? String }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Runs `body` with a client of the app.
    func run<T: Sendable>(_ body: @Sendable (Client) async throws -> T) async throws -> T {
        let app = Application(router: router)
        return try await app.test(.router) { client in try await body(Client(client: client)) }
    }

    struct Client: @unchecked Sendable {
        let client: any TestClientProtocol

        func send(
            _ method: HTTPRequest.Method, _ uri: String, token: String? = nil, json: String? = nil,
            bytes: Data? = nil, headers extra: HTTPFields = [:]
        ) async throws -> Reply {
            var headers = extra
            if let token { headers[.authorization] = "Bearer \(token)" }
            var body: ByteBuffer? = nil
            if let json {
                if headers[.contentType] == nil { headers[.contentType] = "application/json" }
                body = ByteBuffer(string: json)
            } else if let bytes {
                body = ByteBuffer(bytes: bytes)
            }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: response.body))
            }
        }

        func login(_ username: String, password: String = TestWorld.password) async throws -> String {
            let reply = try await send(
                .post, "/api/v1/auth/login", json: #"{"username":"\#(username)","password":"\#(password)"}"#)
            #expect(reply.status == 200, "\(reply.text)")
            return reply.json["token"] as? String ?? ""
        }
    }
}

extension Data {
    init(buffer: ByteBuffer) { self = Data(buffer.readableBytesView) }
}

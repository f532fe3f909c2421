import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import Yams

/// The OpenAPI document and the router must agree: the same routes, the same access rules, and the
/// file at the repository root is the one the server bundles and serves.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    /// One operation: an HTTP method and a path template as Hummingbird describes it
    /// (`/api/v1/cards/{cardId}`).
    struct Operation: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String

        var description: String { "\(method) \(path)" }

        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The package root, from this file's place in `Tests/CitizenCardHTTPTests/`.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static var documentURL: URL { packageRoot.appendingPathComponent("openapi.yaml") }

    /// The repo-root openapi.yaml, parsed.
    static func document() throws -> [String: Any] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        let root = try #require(try Yams.load(yaml: text) as? [String: Any], "openapi.yaml is not a YAML mapping")
        return root
    }

    /// Every operation of the document with its operation object.
    static func documentedOperations(_ document: [String: Any]) throws -> [Operation: [String: Any]] {
        let paths = try #require(document["paths"] as? [String: Any], "openapi.yaml has no paths")
        var operations: [Operation: [String: Any]] = [:]
        for (path, item) in paths {
            let item = try #require(item as? [String: Any], "path \(path) is not a mapping")
            for method in methods {
                guard let operation = item[method] else { continue }
                operations[Operation(method: method.uppercased(), path: path)] =
                    try #require(operation as? [String: Any], "\(method.uppercased()) \(path) is not a mapping")
            }
        }
        return operations
    }

    static func accessName(_ access: Access) -> String {
        switch access {
        case .everyone: "everyone"
        case .authenticated: "authenticated"
        case .permission(let permission): permission.rawValue
        }
    }

    static func differences(_ label: String, _ missing: Set<Operation>) -> String {
        missing.isEmpty ? "" : "\(label):\n" + missing.sorted().map { "  \($0)" }.joined(separator: "\n") + "\n"
    }

    @Test("the document is OpenAPI 3.1")
    func version() throws {
        let document = try Self.document()
        let version = try #require(document["openapi"] as? String, "no openapi version")
        #expect(version.hasPrefix("3.1."), "openapi: \(version)")
        #expect(document["info"] is [String: Any])
    }

    @Test("every registered route is documented and every documented route is registered")
    func sameRoutes() async throws {
        let world = try await TestWorld()
        let (router, endpoints) = CitizenCardApp.router(env: world.env)
        let routed = Set(
            router.routes.filter { !CitizenCardApp.isPage($0.path.description) }
                .map { Operation(method: $0.method.rawValue, path: $0.path.description) })
        let registered = Set(
            endpoints.map { Operation(method: $0.method.rawValue, path: RouterPath($0.path).description) })
        let documented = Set(try Self.documentedOperations(try Self.document()).keys)

        #expect(!routed.isEmpty)
        let undocumented = routed.subtracting(documented), unrouted = documented.subtracting(routed)
        #expect(
            undocumented.isEmpty && unrouted.isEmpty,
            """
            openapi.yaml and the router disagree.
            \(Self.differences("routed but not in openapi.yaml", undocumented))\
            \(Self.differences("in openapi.yaml but not routed", unrouted))
            """)
        let unregistered = routed.subtracting(registered), unrouteable = registered.subtracting(routed)
        #expect(
            unregistered.isEmpty && unrouteable.isEmpty,
            """
            the endpoint registry and the router disagree.
            \(Self.differences("routed but not registered", unregistered))\
            \(Self.differences("registered but not routed", unrouteable))
            """)
        #expect(endpoints.count == registered.count, "an endpoint is registered twice")
    }

    @Test("every operation's x-access is the access it is registered with")
    func sameAccess() async throws {
        let world = try await TestWorld()
        let (_, endpoints) = CitizenCardApp.router(env: world.env)
        let operations = try Self.documentedOperations(try Self.document())
        var problems: [String] = []
        for endpoint in endpoints {
            let key = Operation(method: endpoint.method.rawValue, path: RouterPath(endpoint.path).description)
            guard let operation = operations[key] else { continue }  // reported by sameRoutes
            let expected = Self.accessName(endpoint.access)
            let documented = operation["x-access"] as? String
            if documented != expected {
                problems.append("\(key): x-access is \(documented ?? "missing"), registered as \(expected)")
            }
            // Public operations say so; the others keep the global bearerAuth requirement.
            let security = operation["security"] as? [Any]
            if endpoint.access == .everyone && security?.isEmpty != true {
                problems.append("\(key): public, but does not declare `security: []`")
            }
            if endpoint.access != .everyone && security?.isEmpty == true {
                problems.append("\(key): needs a login, but declares `security: []`")
            }
        }
        let known = Set(["everyone", "authenticated"] + Permission.allCases.map(\.rawValue))
        for (key, operation) in operations {
            let value = operation["x-access"] as? String
            if value.map(known.contains) != true {
                problems.append("\(key): x-access \(value ?? "missing") is not everyone, authenticated or a permission")
            }
        }
        #expect(problems.isEmpty, "\(problems.sorted().joined(separator: "\n"))")
    }

    @Test("the repository-root openapi.yaml is exactly what GET /openapi.yaml serves")
    func servedDocument() async throws {
        let expected = try Data(contentsOf: Self.documentURL)
        #expect(expected.count > 1000, "openapi.yaml at the repository root looks empty")
        let world = try await TestWorld()
        let (router, _) = CitizenCardApp.router(env: world.env)
        let app = Application(router: router)
        let (status, contentType, served) = try await app.test(.router) { client in
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                (response.status.code, response.headers[.contentType], Data(response.body.readableBytesView))
            }
        }
        #expect(status == 200)
        #expect(contentType?.hasPrefix("application/yaml") == true, "Content-Type: \(contentType ?? "none")")
        let identical = served == expected
        #expect(
            identical,
            """
            GET /openapi.yaml serves \(served.count) bytes that differ from the \(expected.count) bytes of \
            \(Self.documentURL.path); the repo-root file must be a link to \
            Sources/CitizenCardHTTP/Resources/openapi.yaml (rebuild after editing it)
            """)
    }
}

import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Hummingbird
import Storage
import Testing

/// The text rule at the edge, as a property over every route that takes text (issue 16): for
/// every string field of every JSON request body and every string query parameter that
/// openapi.yaml documents, a value holding a NUL, another control character or a bidirectional
/// formatting character is answered 422 `invalid_field` naming that field, by a caller the route
/// admits, and nothing is written: not an audit entry, not a throttle's count.
@Suite("Text rule on every route")
struct TextRuleRouteTests {
    /// Scalars no stored text may hold (line breaks are allowed in some fields, so they are not here).
    static let forbidden: [Unicode.Scalar] =
        (Array(0x00...0x09) + [0x0B, 0x0C] + Array(0x0E...0x1F) + Array(0x7F...0x9F)).map {
            Unicode.Scalar(UInt32($0))!
        }
        + ["\u{202E}", "\u{2066}", "\u{200F}", Unicode.Scalar(0xFFFF)!]

    /// A field of a request body: its path as the problem names it, and whether it is a string.
    struct Field: Hashable {
        var path: String
        var jsonPath: [String]
    }

    /// One request to make: a route, and the body or the query that holds the bad text.
    struct Probe: Sendable {
        var label: String
        var method: HTTPRequest.Method
        var uri: String
        var access: Access
        var body: String?
        var field: String
    }

    /// The probes for every documented route: one per string field of the body, one per string
    /// query parameter, each with a forbidden scalar picked at random.
    static func probes(_ endpoints: [Endpoint]) throws -> [Probe] {
        let document = try OpenAPIDocumentTests.document()
        let operations = try OpenAPIDocumentTests.documentedOperations(document)
        var random = SystemRandomNumberGenerator()
        var probes: [Probe] = []
        // A bank's own notice is authenticated by the bank's signature over the body before any
        // field is read (401 first); its fields are checked in BankServiceTests.
        for endpoint in endpoints where endpoint.path != AccessTests.bankSignedRoute {
            guard let operation = operations[.init(method: endpoint.method.rawValue, path: endpoint.path)] else {
                continue
            }
            let uri = Self.uri(endpoint.path)
            if let schema = Self.jsonSchema(operation, document) {
                let skeleton = Self.skeleton(schema, document, depth: 0)
                for field in Self.stringFields(schema, document, path: [], depth: 0) {
                    let scalar = Self.forbidden.randomElement(using: &random)!
                    let body = Self.setting(skeleton, field.jsonPath, to: "ok\(scalar)text")
                    let data = try JSONSerialization.data(withJSONObject: body)
                    probes.append(
                        Probe(
                            label: "\(endpoint.method) \(endpoint.path) U+\(String(scalar.value, radix: 16))",
                            method: endpoint.method, uri: uri, access: endpoint.access,
                            body: String(decoding: data, as: UTF8.self), field: field.path))
                }
            }
            for name in Self.stringQueryParameters(operation, document) {
                let scalar = Self.forbidden.randomElement(using: &random)!
                let encoded = "ok\(scalar)text".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                probes.append(
                    Probe(
                        label: "\(endpoint.method) \(endpoint.path)?\(name) U+\(String(scalar.value, radix: 16))",
                        method: endpoint.method, uri: "\(uri)?\(name)=\(encoded)", access: endpoint.access, body: nil,
                        field: name))
            }
        }
        return probes
    }

    @Test("every text field of every route refuses forbidden characters before anything is stored")
    func everyRoute() async throws {
        let harness = try await Harness()
        let probes = try Self.probes(harness.endpoints)
        let terminalKey = try await harness.fixtures.acquirer().key
        let departmentKey = try await harness.fixtures.department().key
        let store = harness.world.store
        let problems = try await harness.run { client in
            var tokens: [Role: String] = [.terminal: terminalKey, .department: departmentKey]
            for (name, role) in [
                ("clerk", Role.outletOperator), ("supervisor", .supervisor), ("admin", .administrator),
                ("commissioner", .commissioner),
            ] {
                tokens[role] = try await client.login(name)
            }
            let auditBefore = try await store.auditEntries(AuditFilter(), limit: 1000).count
            var problems: [String] = []
            for probe in probes {
                let reply = try await client.send(
                    probe.method, probe.uri, token: Self.token(for: probe.access, tokens), json: probe.body)
                if reply.status != 422 || reply.code != "invalid_field" || reply.json["field"] as? String != probe.field
                {
                    problems.append("\(probe.label) field \(probe.field): \(reply.status) \(reply.text.prefix(200))")
                }
            }
            let auditAfter = try await store.auditEntries(AuditFilter(), limit: 1000).count
            if auditAfter != auditBefore {
                problems.append("the refused requests wrote \(auditAfter - auditBefore) audit entries")
            }
            // The throttles counted nothing: the clerk logs in at once.
            _ = try await client.login("clerk")
            return problems
        }
        #expect(probes.count >= 80, "only \(probes.count) fields and parameters were found in openapi.yaml")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let verification = try await store.verifyAuditChain()
        #expect(verification.firstBad == nil)
    }

    @Test("every form of the pages refuses a field with forbidden characters before its handler runs")
    func everyPage() async throws {
        let harness = try await Harness()
        let card = try await PortalPageTests.portalCard(harness)
        let posts = harness.router.routes
            .filter { $0.method == .post && CitizenCardApp.isPage($0.path.description) }
            .map { String(describing: $0.path) }
        let store = harness.world.store
        let problems = try await harness.run { client in
            let staff = WebSession(client)
            _ = try await staff.login("admin")
            let holder = WebSession(client)
            try await holder.get("/portal/login")
            _ = try await holder.follow(
                try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "246813")]))
            try await holder.get("/portal")
            let holderToken = holder.csrf
            try await staff.get("/console")
            let staffToken = staff.csrf
            let auditBefore = try await store.auditEntries(AuditFilter(), limit: 1000).count
            var problems: [String] = []
            for pattern in posts where !pattern.hasSuffix("/logout") {
                let path = Self.uri(pattern)
                let isHolder = path.hasPrefix("/portal") && path != "/portal/login"
                for scalar: Unicode.Scalar in ["\u{0}", "\u{1B}", "\u{85}", "\u{202E}"] {
                    let reply = try await (isHolder ? holder : staff).post(
                        path, [("reason", "a\(scalar)b"), ("name", "ok")], csrf: isHolder ? holderToken : staffToken)
                    if reply.status != 422 || !reply.text.contains(CitizenCardError.Code.invalidField.titleZh) {
                        problems.append("POST \(pattern) U+\(String(scalar.value, radix: 16)): \(reply.status)")
                    }
                }
            }
            let auditAfter = try await store.auditEntries(AuditFilter(), limit: 1000).count
            if auditAfter != auditBefore { problems.append("\(auditAfter - auditBefore) audit entries written") }
            return problems
        }
        #expect(posts.count >= 20, "\(posts)")
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    static func token(for access: Access, _ tokens: [Role: String]) -> String? {
        switch access {
        case .everyone: return nil
        case .authenticated: return tokens[.outletOperator]
        case .permission(let permission):
            let role = [Role.outletOperator, .supervisor, .administrator, .terminal, .department, .commissioner].first {
                permission.roles.contains($0)
            }
            return role.flatMap { tokens[$0] }
        }
    }

    static func uri(_ path: String) -> String {
        path.replacingOccurrences(of: "{cardNumber}", with: "3309000000010")
            .replacingOccurrences(of: "{date}", with: "2026-01-05")
            .replacingOccurrences(of: "{merchantCode}", with: "BUS01")
            .replacingOccurrences(of: "{code}", with: "LIBRARY")
            .replacing(#/\{[a-zA-Z]+\}/#, with: "00000000-0000-7000-8000-00000000dead")
    }

    static func resolve(_ schema: Any?, _ document: [String: Any]) -> [String: Any]? {
        guard var schema = schema as? [String: Any] else { return nil }
        while let reference = schema["$ref"] as? String {
            var node: Any? = document
            for part in reference.dropFirst(2).split(separator: "/") {
                node = (node as? [String: Any])?[String(part)]
            }
            guard let resolved = node as? [String: Any] else { return nil }
            schema = resolved
        }
        if let parts = schema["allOf"] as? [Any] {
            var merged: [String: Any] = ["type": "object"]
            var properties: [String: Any] = [:]
            for part in parts {
                guard let part = resolve(part, document) else { continue }
                for (key, value) in part["properties"] as? [String: Any] ?? [:] { properties[key] = value }
            }
            merged["properties"] = properties
            return merged
        }
        if let first = (schema["oneOf"] as? [Any])?.first ?? (schema["anyOf"] as? [Any])?.first {
            return resolve(first, document)
        }
        return schema
    }

    static func jsonSchema(_ operation: [String: Any], _ document: [String: Any]) -> [String: Any]? {
        let body = resolve(operation["requestBody"], document)
        let content = body?["content"] as? [String: Any]
        return resolve((content?["application/json"] as? [String: Any])?["schema"], document)
    }

    static func types(_ schema: [String: Any]) -> [String] {
        if let type = schema["type"] as? String { return [type] }
        return schema["type"] as? [String] ?? []
    }

    /// A body with every property present: a string where text goes, something of the right type
    /// elsewhere (the edge refuses the text before the rest is looked at).
    static func skeleton(_ schema: [String: Any], _ document: [String: Any], depth: Int) -> Any {
        let kinds = types(schema)
        if kinds.contains("object") || schema["properties"] != nil {
            var object: [String: Any] = [:]
            guard depth < 6 else { return object }
            for (key, value) in schema["properties"] as? [String: Any] ?? [:] {
                if let property = resolve(value, document) {
                    object[key] = skeleton(property, document, depth: depth + 1)
                }
            }
            return object
        }
        if kinds.contains("array") {
            guard depth < 6, let items = resolve(schema["items"], document) else { return [Any]() }
            return [skeleton(items, document, depth: depth + 1)]
        }
        if kinds.contains("string") { return (schema["enum"] as? [Any])?.first ?? "x" }
        if kinds.contains("integer") || kinds.contains("number") { return 1 }
        if kinds.contains("boolean") { return true }
        return NSNull()
    }

    static func stringFields(_ schema: [String: Any], _ document: [String: Any], path: [String], depth: Int) -> [Field]
    {
        guard depth < 6 else { return [] }
        let kinds = types(schema)
        if kinds.contains("object") || schema["properties"] != nil {
            return (schema["properties"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.flatMap { key, value in
                resolve(value, document).map { stringFields($0, document, path: path + [key], depth: depth + 1) } ?? []
            }
        }
        if kinds.contains("array"), let items = resolve(schema["items"], document) {
            return stringFields(items, document, path: path + ["[0]"], depth: depth + 1)
        }
        guard kinds.contains("string"), !path.isEmpty else { return [] }
        var name = ""
        for part in path { name += part.hasPrefix("[") ? part : (name.isEmpty ? part : ".\(part)") }
        return [Field(path: name, jsonPath: path)]
    }

    static func setting(_ value: Any, _ path: [String], to text: String) -> Any {
        guard let first = path.first else { return text }
        let rest = Array(path.dropFirst())
        if first == "[0]", var array = value as? [Any], !array.isEmpty {
            array[0] = setting(array[0], rest, to: text)
            return array
        }
        var object = value as? [String: Any] ?? [:]
        object[first] = setting(object[first] ?? [:], rest, to: text)
        return object
    }

    static func stringQueryParameters(_ operation: [String: Any], _ document: [String: Any]) -> [String] {
        (operation["parameters"] as? [Any] ?? []).compactMap { item in
            guard let parameter = resolve(item, document), parameter["in"] as? String == "query",
                let name = parameter["name"] as? String,
                let schema = resolve(parameter["schema"], document), types(schema).contains("string")
            else { return nil }
            return name
        }
    }
}

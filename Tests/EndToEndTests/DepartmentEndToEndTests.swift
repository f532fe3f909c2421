import Foundation
import Testing

/// Departments through the real binary (issue 18): a department client over mutual TLS with a
/// certificate from a CA the test makes, checked with curl; a feed file through
/// `citizencard feed apply`, run twice.
@Suite("Departments through the binary")
struct DepartmentEndToEndTests {
    /// Runs a program to completion and answers its standard output.
    static func tool(_ path: String, _ arguments: [String], in directory: URL) throws -> Binary.Result {
        try Binary.run(arguments, in: directory, executable: URL(fileURLWithPath: path))
    }

    struct Certificates {
        var ca: String
        var serverCertificate: String
        var serverKey: String
        var clientCertificate: String
        var clientKey: String
        var strangerCertificate: String
        var strangerKey: String
    }

    /// A CA, a server certificate for 127.0.0.1, a client certificate it signs, and a client
    /// certificate of another CA.
    static func makeCertificates(in directory: URL) throws -> Certificates {
        let dir = directory.path
        func openssl(_ arguments: [String]) throws {
            let result = try tool("/usr/bin/env", ["openssl"] + arguments, in: directory)
            guard result.status == 0 else { throw Server.ServerFailure(description: "openssl: \(result.errors)") }
        }
        for name in ["ca", "other-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/O=Test/CN=\(name)", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem",
            ])
        }
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        func issue(_ name: String, subject: String, ca: String, extensions: Bool) throws {
            try openssl([
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject, "-keyout",
                "\(dir)/\(name).key", "-out", "\(dir)/\(name).csr",
            ])
            try openssl(
                [
                    "x509", "-req", "-in", "\(dir)/\(name).csr", "-CA", "\(dir)/\(ca).pem", "-CAkey",
                    "\(dir)/\(ca).key",
                    "-CAcreateserial", "-days", "2", "-out", "\(dir)/\(name).pem",
                ] + (extensions ? ["-extfile", "\(dir)/san.ext"] : []))
        }
        try issue("server", subject: "/CN=127.0.0.1", ca: "ca", extensions: true)
        try issue("client", subject: "/O=Zhoushan PSB/CN=psb-gateway", ca: "ca", extensions: false)
        try issue("stranger", subject: "/O=Zhoushan PSB/CN=psb-gateway", ca: "other-ca", extensions: false)
        return Certificates(
            ca: "\(dir)/ca.pem", serverCertificate: "\(dir)/server.pem", serverKey: "\(dir)/server.key",
            clientCertificate: "\(dir)/client.pem", clientKey: "\(dir)/client.key",
            strangerCertificate: "\(dir)/stranger.pem", strangerKey: "\(dir)/stranger.key")
    }

    struct Answer {
        var status: Int
        var body: [String: Any]
    }

    /// One request with curl: `certificate` presents a client certificate.
    static func curl(
        _ method: String, _ url: String, ca: String, certificate: (String, String)? = nil, token: String? = nil,
        json: String? = nil, headers: [String] = [], in directory: URL
    ) throws -> Answer {
        var arguments = ["-sS", "-X", method, "--cacert", ca, "-o", "-", "-w", "\n%{http_code}", url]
        if let certificate { arguments += ["--cert", certificate.0, "--key", certificate.1] }
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let json { arguments += ["-H", "Content-Type: application/json", "--data-binary", json] }
        for header in headers { arguments += ["-H", header] }
        let result = try tool("/usr/bin/env", ["curl"] + arguments, in: directory)
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "") ?? 0
        let body = lines.dropLast().joined(separator: "\n")
        return Answer(
            status: status,
            body: (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:])
    }

    @Test(
        "a department client logs in by its certificate over mutual TLS, reaches its routes only, and is revoked at once"
    )
    func mutualTLS() async throws {
        let scratch = try Scratch()
        let certificates = try Self.makeCertificates(in: scratch.url)
        let server = try Server(
            scratch: scratch,
            arguments: [
                "--demo-persons", "12", "--tls-certificate", certificates.serverCertificate, "--tls-key",
                certificates.serverKey, "--tls-client-ca", certificates.ca,
            ])
        #expect(server.baseURL.hasPrefix("https://"))
        let base = server.baseURL
        let dir = scratch.url
        let ca = certificates.ca
        let login = try Self.curl(
            "POST", "\(base)/api/v1/auth/login", ca: ca, json: #"{"username":"admin","password":"citizencard"}"#,
            in: dir)
        let admin = try #require(login.body["token"] as? String)
        let departments = try Self.curl("GET", "\(base)/api/v1/departments", ca: ca, token: admin, in: dir)
        let items = try #require(departments.body["items"] as? [[String: Any]])
        let psb = try #require(items.first { $0["code"] as? String == "PSB" }?["id"] as? String)
        let created = try Self.curl(
            "POST", "\(base)/api/v1/departments/\(psb)/clients", ca: ca, token: admin,
            json: #"{"name":"PSB gateway","certificateSubject":"CN=psb-gateway, O=Zhoushan PSB","issueKey":false}"#,
            in: dir)
        #expect(created.status == 201, "\(created.body)")
        let clientID = try #require(created.body["id"] as? String)

        let check = #"{"cards":[{"cardNumber":"3309999999990","idNumber":"\#(Self.idNumber(sequence: 7))"}]}"#
        let purpose = ["X-Purpose: identity check", "X-Case-Number: PSB-7", "X-End-User: officer 12"]
        let client = (certificates.clientCertificate, certificates.clientKey)
        let checked = try Self.curl(
            "POST", "\(base)/api/v1/card-checks", ca: ca, certificate: client, json: check, headers: purpose, in: dir)
        #expect(checked.status == 200, "\(checked.body)")
        let results = try #require(checked.body["results"] as? [[String: Any]])
        #expect(results.first?["reason"] as? String == "unknown" && results.first?["valid"] as? Bool == false)
        // Without the purpose headers: 400; without a certificate: 401; staff routes: 403.
        let noPurpose = try Self.curl(
            "POST", "\(base)/api/v1/card-checks", ca: ca, certificate: client, json: check, in: dir)
        #expect(noPurpose.status == 400 && noPurpose.body["code"] as? String == "purpose_required")
        let anonymous = try Self.curl("POST", "\(base)/api/v1/card-checks", ca: ca, json: check, in: dir)
        #expect(anonymous.status == 401)
        let staffRoute = try Self.curl("GET", "\(base)/api/v1/outlets", ca: ca, certificate: client, in: dir)
        #expect(staffRoute.status == 403)
        let staffOnDepartment = try Self.curl(
            "GET", "\(base)/api/v1/department/grants", ca: ca, token: admin, in: dir)
        #expect(staffOnDepartment.status == 403)
        // The same subject from another CA does not get through the handshake.
        let stranger = try? Self.curl(
            "POST", "\(base)/api/v1/card-checks", ca: ca,
            certificate: (certificates.strangerCertificate, certificates.strangerKey), json: check, headers: purpose,
            in: dir)
        #expect(stranger == nil || stranger?.status != 200)
        // Its own access log shows the check; revoked, the certificate gets nothing.
        let log = try Self.curl("GET", "\(base)/api/v1/department/access-log", ca: ca, certificate: client, in: dir)
        #expect((log.body["items"] as? [[String: Any]])?.first?["caseNumber"] as? String == "PSB-7")
        let revoked = try Self.curl(
            "POST", "\(base)/api/v1/department-clients/\(clientID)/revocation", ca: ca, token: admin,
            json: #"{"reason":"certificate compromised"}"#, in: dir)
        #expect(revoked.status == 200)
        let after = try Self.curl(
            "POST", "\(base)/api/v1/card-checks", ca: ca, certificate: client, json: check, headers: purpose, in: dir)
        #expect(after.status == 401)
        server.stop()
    }

    @Test("feed apply: per-row results, a second run answers repeats, bad rows exit 2 and store nothing")
    func feedFile() async throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12"])
        server.stop()
        let births = (1...3).map { n in
            #"{"messageId":"HB-\#(n)","kind":"birth","idNumber":"\#(Self.idNumber(sequence: 100 + 2 * n))","name":"新生儿\#(n)"}"#
        }
        let lines =
            births + [
                #"{"messageId":"HB-9","kind":"birth","idNumber":"123","name":"x"}"#, "not json",
                #"{"messageId":"HB-10","kind":"death","idNumber":"\#(Self.idNumber(sequence: 111))"}"#,
            ]
        let file = scratch.file("health.jsonl")
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let first = try scratch.run([
            "feed", "apply", "--department", "HEALTH", "--data", scratch.file("data").path, file.path,
        ])
        #expect(first.status == 2, "\(first.output)\(first.errors)")
        #expect(
            first.output.contains("applied:        3") && first.output.contains("invalid:        3"), "\(first.output)")
        let results = try String(contentsOf: scratch.file("health.jsonl.results.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(results.count == 6)
        #expect(results[0].contains(#""line":1"#) && results[0].contains(#""outcome":"applied""#))
        #expect(results[4].contains(#""line":5"#) && results[4].contains("malformed_request"))
        #expect(results[5].contains(#""code":"forbidden""#))
        let second = try scratch.run([
            "feed", "apply", "--department", "HEALTH", "--data", scratch.file("data").path, file.path,
        ])
        #expect(second.output.contains("repeats:        3"), "\(second.output)")
        #expect(try scratch.query("SELECT count(*) FROM feed_messages") == "3")
        let unknown = try scratch.run([
            "feed", "apply", "--department", "NOPE", "--data", scratch.file("data").path, file.path,
        ])
        #expect(unknown.status != 0 && unknown.errors.contains("department"))
    }

    /// A valid ID number of someone born in Dinghai on 2026-12-01.
    static func idNumber(sequence: Int) -> String {
        let body = "33090220261201" + String(format: "%03d", sequence)
        let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        let total = zip(body, weights).reduce(0) { $0 + Int(String($1.0))! * $1.1 }
        return body + String(Array("10X98765432")[total % 11])
    }
}

import CitizenCardTesting
import Foundation
import Testing

/// The electronic card through the real binary (issue 19, docs/electronic-card.md): a holder's
/// code from the portal, the files an offline verifier needs written by `credential export`, and
/// `credential verify` giving the verdict and the exit status; after `credential rotate` an older
/// code still verifies with the new key list.
@Suite("Electronic card through the binary")
struct CredentialEndToEndTests {
    /// curl with a cookie jar in `directory`.
    static func curl(_ arguments: [String], in directory: URL) throws -> String {
        let result = try Binary.run(
            ["curl", "-sS", "-c", "jar", "-b", "jar"] + arguments, in: directory,
            executable: URL(fileURLWithPath: "/usr/bin/env"))
        guard result.status == 0 else { throw Server.ServerFailure(description: "curl: \(result.errors)") }
        return result.output
    }

    /// A fresh code of the demo holder, through the portal's log-in.
    static func code(_ base: String, card: String, in directory: URL) throws -> String {
        let page = try curl(["\(base)/portal/login"], in: directory)
        let csrf = try #require(
            page.range(of: #"name="_csrf" value="([^"]+)""#, options: .regularExpression).map {
                String(page[$0].dropFirst(#"name="_csrf" value=""#.count).dropLast())
            })
        _ = try curl(
            [
                "-o", "/dev/null", "--data-urlencode", "_csrf=\(csrf)", "--data-urlencode", "cardNumber=\(card)",
                "--data-urlencode", "password=135790", "\(base)/portal/login",
            ], in: directory)
        let json = try curl(["\(base)/portal/card-code/current"], in: directory)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
        return try #require(object["text"] as? String)
    }

    @Test("a portal code verifies offline with the exported files; tampering, a wrong anchor and rotation")
    func offline() throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12"])
        defer { server.stop() }
        let card = try #require(
            server.outputText.range(of: #"Portal demo: card [0-9]+"#, options: .regularExpression).map {
                String(server.outputText[$0].split(separator: " ").last!)
            }, "\(server.outputText)")
        let code = try Self.code(server.baseURL, card: card, in: scratch.url)
        #expect(code.hasPrefix("CC1:"))
        let data = scratch.file("data").path

        let export = try scratch.run(["credential", "export", "--data", data])
        #expect(export.status == 0, "\(export.errors)")
        let files = ["--keys", "keys.cose", "--anchor", "anchor.pem", "--status", "status-list.cwt"]
        let valid = try scratch.run(["credential", "verify", code] + files)
        #expect(valid.status == 0, "\(valid.output)\(valid.errors)")
        #expect(valid.output.hasPrefix("valid"))
        #expect(valid.output.contains(card))

        var characters = Array(code)
        characters[characters.count / 2] = characters[characters.count / 2] == "A" ? "B" : "A"
        let tampered = try scratch.run(["credential", "verify", String(characters)] + files)
        #expect(tampered.status == 3)
        #expect(tampered.output.hasPrefix("bad_signature") || tampered.output.hasPrefix("malformed"))
        let garbage = try scratch.run(["credential", "verify", "hello"] + files)
        #expect(garbage.status == 3 && garbage.output.hasPrefix("malformed"))
        let later = try scratch.run(
            ["credential", "verify", code, "--at", "\(Int(Date().timeIntervalSince1970) + 3_600)"] + files)
        #expect(later.status != 0)

        // The key list file given as the anchor: refused as a file, not as a verdict.
        let wrongAnchor = try scratch.run(
            ["credential", "verify", code, "--keys", "keys.cose", "--anchor", "keys.cose"])
        #expect(wrongAnchor.status == 1 && wrongAnchor.errors.contains("keys.cose"), "\(wrongAnchor.errors)")

        // A new signing key: the old code still verifies with the key list exported after it.
        let rotated = try scratch.run(["credential", "rotate", "--data", data])
        #expect(rotated.status == 0, "\(rotated.errors)")
        let again = try scratch.run(["credential", "export", "--data", data])
        #expect(again.status == 0, "\(again.errors)")
        let still = try scratch.run(["credential", "verify", code] + files)
        #expect(still.status == 0, "\(still.output)\(still.errors)")
    }
}

import ArgumentParser
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Credentials
import Foundation

/// `citizencard credential …`: the electronic card's keys and lists, and the offline verifier
/// (docs/electronic-card.md).
struct CredentialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credential",
        abstract: "The electronic card: verify a code offline, export what verifiers need, rotate the signing key.",
        subcommands: [CredentialVerify.self, CredentialExport.self, CredentialRotate.self])
}

/// Checks a card code with the published files alone: no server, no database.
struct CredentialVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a card code offline with the key list (and the status list); exit 0 only if it is valid.",
        discussion: """
            Prints the verdict (valid, expired, bad_signature, unknown_key, revoked, malformed) and what \
            the code says. Exit status: 0 valid, 3 any other verdict, 1 when the files cannot be used.
            """)

    @Argument(help: "The code as scanned (CC1:…), or - to read it from standard input.")
    var code: String

    @Option(help: "The signed key list (GET /api/v1/credentials/keys, or `credential export`).")
    var keys: String

    @Option(help: "The city's anchor public key in PEM (`credential export`), which signs the key list.")
    var anchor: String

    @Option(help: "The status list token (GET /api/v1/credentials/status-list); without it revocation is not checked.")
    var status: String?

    @Option(help: "The time to check at, seconds since 1970 (default: now).")
    var at: Int64?

    @Option(help: "Clock difference tolerated, seconds.")
    var leeway: Int64 = 30

    func run() throws {
        let now = at ?? Int64(Date().timeIntervalSince1970)
        guard now >= 0, (0...300).contains(leeway) else {
            throw ValidationError("--at must be positive, --leeway 0-300")
        }
        let text: String
        if code == "-" {
            text = String(decoding: FileHandle.standardInput.readData(ofLength: 16_384), as: UTF8.self)
        } else {
            text = code
        }
        let list = try Self.keyList(keys, anchor: anchor, now: now)
        let statusList = try status.map { try Self.statusList($0, list: list, now: now, leeway: leeway) }
        let verifier = CodeVerifier(
            keys: { algorithm, keyID in list.checker(algorithm, keyID, nowSeconds: now) }, statusList: statusList,
            nowSeconds: now, leewaySeconds: leeway, lifetimeMaxSeconds: 86_400)
        let result = verifier.verify(text)
        say(result.verdict.rawValue)
        if let claims = result.claims {
            say("  issuer       \(claims.issuer)")
            say("  card         \(claims.cardNumber) (ASN \(claims.asn))")
            say("  name         \(claims.maskedName)")
            say("  issued at    \(claims.issuedAt)")
            say("  expires at   \(claims.expiresAt)")
            say("  status list  \(claims.status.uri) #\(claims.status.index)")
            say("  portrait     \(claims.portraitHash.map { Data($0).base64EncodedString() } ?? "none")")
        }
        if statusList == nil { say("  (revocation not checked: no --status)") }
        if result.verdict != .valid { throw ExitCode(3) }
    }

    static func keyList(_ path: String, anchor: String, now: Int64) throws -> KeyList {
        let pem = try read(anchor, what: "anchor")
        let anchorKey: CredentialPublicKey
        switch Result(catching: { () throws(CredentialKeyError) in try CredentialPublicKey(pem: pem) }) {
        case .success(let key): anchorKey = key
        case .failure(let error): throw CommandFailure(description: "\(anchor): \(error)")
        }
        let bytes = Array(try readData(path, what: "key list"))
        switch Result(catching: { () throws(KeyList.VerificationError) in
            try KeyList.verify(bytes, anchor: anchorKey, nowSeconds: now)
        }) {
        case .success(let list): return list
        case .failure(let error): throw CommandFailure(description: "\(path): \(error)")
        }
    }

    static func statusList(_ path: String, list: KeyList, now: Int64, leeway: Int64) throws -> StatusListToken {
        let bytes = Array(try readData(path, what: "status list"))
        // The list's own subject is taken as expected here; the verifier then requires the code's
        // status URI to be that subject.
        guard let envelope = try? COSESign1.decode(bytes),
            let unverified = try? StatusListToken(payload: envelope.payload)
        else { throw CommandFailure(description: "\(path): not a status list token") }
        switch Result(catching: { () throws(StatusListToken.VerificationError) in
            try StatusListToken.verify(
                bytes, expectedURI: unverified.uri, keys: { list.checker($0, $1, nowSeconds: now) }, nowSeconds: now,
                leewaySeconds: leeway)
        }) {
        case .success(let token): return token
        case .failure(let error): throw CommandFailure(description: "\(path): \(error)")
        }
    }

    static func read(_ path: String, what: String) throws -> String {
        String(decoding: try readData(path, what: what), as: UTF8.self)
    }

    static func readData(_ path: String, what: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(description: "cannot read the \(what) \(path)")
        }
        guard data.count <= 4 << 20 else { throw CommandFailure(description: "the \(what) \(path) is too large") }
        return data
    }
}

/// Writes the files an offline verifier needs: the anchor, the signed key list and the newest
/// status list (published first if it is stale).
struct CredentialExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the anchor, the signed key list and the status list for offline verifiers.")

    @OptionGroup var options: StoreOptions

    @Option(help: "Where to write the anchor public key (PEM).")
    var anchor: String = "anchor.pem"
    @Option(help: "Where to write the signed key list.")
    var keys: String = "keys.cose"
    @Option(help: "Where to write the status list token.")
    var status: String = "status-list.cwt"

    func run() async throws {
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "credential", level: .warning))
        defer { Task { try? await runtime.store.close() } }
        let service = CredentialService(runtime.env)
        let list = try await service.currentStatusList()
        try Data(try service.anchor().pem().utf8).write(to: URL(fileURLWithPath: anchor))
        try Data(try service.keyList()).write(to: URL(fileURLWithPath: keys))
        try list.token.write(to: URL(fileURLWithPath: status))
        try await runtime.store.close()
        say(
            "anchor \(anchor), key list \(keys), status list \(status) (version \(list.version), \(list.count) entries)"
        )
    }
}

/// A new card-code key for the configured algorithm; the old one verifies until its codes expire.
struct CredentialRotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Make a new card-code signing key; the old one keeps verifying until its codes have expired.")

    @OptionGroup var options: StoreOptions

    @Option(help: "SM2-SM3 or ES256 (default: the configured algorithm).")
    var algorithm: String?

    func run() async throws {
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "credential", level: .warning))
        let name = algorithm ?? runtime.env.credentialPolicy.algorithm
        guard let chosen = CredentialAlgorithm(name: name) else {
            try await runtime.store.close()
            throw ValidationError("--algorithm must be SM2-SM3 or ES256")
        }
        let file = CredentialKeyFile.file(in: runtime.dataDirectory)
        let now = runtime.env.clock.now().secondsSinceEpoch
        let rotated = try runtime.env.credentialKeys.rotating(.cardCode, chosen, now: now)
        try rotated.write(to: file)
        let key = try rotated.signingKey(.cardCode, chosen)
        try await runtime.store.close()
        say(
            "new \(chosen.name) card-code key \(key.keyID.map { String(format: "%02x", $0) }.joined()) in \(file.path); restart the server to sign with it"
        )
    }
}

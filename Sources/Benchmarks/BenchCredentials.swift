package import ArgumentParser
import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Credentials
package import Foundation
import Logging
import Storage

/// The electronic card's figures (issue 19, docs/performance.md), each next to its baseline in
/// the same run: card codes signed per second against SM2 signatures of the same bytes alone;
/// offline verifications against SM2 verifications alone; online verification over HTTP against
/// the same server's `/health`; a status list of N cards, its size and build time.
package struct BenchCredentials: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(commandName: "credentials")

    @Option(help: "Codes signed and verified in each in-process measurement.")
    package var codes = 2_000

    @Option(help: "Concurrent keep-alive connections for the HTTP measurement.")
    package var connections = 16

    @Option(help: "Seconds each HTTP measurement runs (0: skip them).")
    package var seconds = 10

    @Option(help: "Cards in the status list measurement.")
    package var cards = 1_000_000

    @Option(help: "SM2-SM3 or ES256.")
    package var algorithm = "SM2-SM3"

    package func run() async throws {
        guard (10...1_000_000).contains(codes), (1...256).contains(connections), (0...600).contains(seconds),
            (8...16_777_216).contains(cards), let chosen = CredentialAlgorithm(name: algorithm)
        else {
            throw ValidationError(
                "--codes 10-1000000, --connections 1-256, --seconds 0-600, --cards 8-16777216, --algorithm SM2-SM3|ES256"
            )
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory() + "citizencard-bench-credentials-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = try BenchData.storeOptions(data: directory)
        let runtime = try await Runtime.open(options, logger: makeLogger(label: "bench", level: .warning))
        var setup = runtime.env
        setup.passwordCost = 4
        setup.credentialPolicy.algorithm = chosen.name
        // The benchmark measures the normal path: the scraping detector would stop it on purpose.
        setup.grantMonitor = GrantMonitor(window: 600, signalPersons: 10_000_000, suspendPersons: 10_000_000)
        let env = setup
        _ = try await DemoCity(env).create(personCount: 200)
        let targets = try await BenchLifecycle().workingSet(env)
        var cardsInUse: [Card] = []
        for target in targets {
            if let card = try await env.store.card(id: target.card) { cardsInUse.append(card) }
        }
        guard !cardsInUse.isEmpty else { throw CommandFailure(description: "the demo city has no active cards") }
        let service = CredentialService(env)
        say("electronic card codes, \(chosen.name), \(codes) codes, in process")

        // Signing: whole codes (claims, COSE, SM2, zlib, Base45) against the signature alone.
        let key = try env.credentialKeys.signingKey(.cardCode, chosen)
        let sample = try service.sign(card: cardsInUse[0], name: "张三丰", portraitHash: nil, index: 0)
        let message = try CardCodeText.decode(sample.text).toBeSigned()
        let rawSign = try Self.time(codes) { _ in _ = try key.key.sign(message) }
        var texts: [String] = []
        texts.reserveCapacity(codes)
        let signing = try Self.time(codes) { i in
            let card = cardsInUse[i % cardsInUse.count]
            texts.append(try service.sign(card: card, name: "张三丰", portraitHash: nil, index: Int64(i)).text)
        }
        say("  raw \(chosen.name) sign:        \(Self.rate(rawSign, codes)) signatures/s")
        say("  card codes signed:          \(Self.rate(signing, codes)) codes/s, \(texts[0].count) characters each")
        say("    ratio codes / raw sign:     \(String(format: "%.2f", rawSign / signing))  (goal >= 0.5)")

        // Offline verification: the verifier (Base45, inflate, COSE, claims, times) against the
        // signature check alone.
        let signature = try key.key.sign(message)
        let publicKey = key.key.publicKey
        let rawVerify = try Self.time(codes) { _ in
            guard publicKey.isValid(signature: signature, for: message) else {
                throw CommandFailure(description: "a signature did not verify")
            }
        }
        let now = env.clock.now().secondsSinceEpoch
        let verifier = CodeVerifier(
            keys: { algorithm, keyID in algorithm == publicKey.algorithm && keyID == publicKey.keyID ? publicKey : nil
            },
            nowSeconds: now, leewaySeconds: 30, lifetimeMaxSeconds: 86_400)
        let verifying = try Self.time(codes) { i in
            guard verifier.verify(texts[i]).verdict == .valid else {
                throw CommandFailure(description: "a code did not verify")
            }
        }
        say("  raw \(chosen.name) verify:      \(Self.rate(rawVerify, codes)) verifications/s")
        say("  codes verified offline:     \(Self.rate(verifying, codes)) codes/s")
        say("    ratio offline / raw verify: \(String(format: "%.2f", rawVerify / verifying))  (goal >= 0.5)")

        // The status list of `cards` cards, 1 % of them revoked, 0.2 % suspended.
        var generator = SystemRandomNumberGenerator()
        let started = ContinuousClock.now
        var list = StatusList(bits: 2, count: cards)
        for _ in 0..<(cards / 100) { list.set(Int.random(in: 0..<cards, using: &generator), to: 1) }
        for _ in 0..<(cards / 500) { list.set(Int.random(in: 0..<cards, using: &generator), to: 2) }
        let token = try StatusListToken(
            uri: env.credentialPolicy.statusListURI, issuedAt: now, expiresAt: now + 86_400, timeToLiveSeconds: 3_600,
            list: list)
        let signed = try token.sign(algorithm: chosen, keyID: key.keyID) {
            (bytes: [UInt8]) throws(CredentialKeyError) -> [UInt8] in try key.key.sign(bytes)
        }
        let bytes = signed.encoded()
        let built = ContinuousClock.now - started
        say(
            "  status list, \(cards) cards (1 % revoked, 0.2 % suspended), 2 bits each: \(bytes.count) bytes signed (\(cards / 4) raw), built in \(Self.milliseconds(built)) ms"
        )

        if seconds > 0 {
            try await http(env: env, runtime: runtime, texts: texts)
        }
        try await runtime.store.close()
    }

    func http(env: ServiceEnvironment, runtime: Runtime, texts: [String]) async throws {
        let (key, _) = try await BenchDepartments.departmentWithGrant(env)
        var logger = Logger(label: "bench.http")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try CitizenCardApp.application(env: env, host: "127.0.0.1", port: 0, logger: logger) { port in
            continuation.yield(port)
        }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CommandFailure(description: "the server did not start") }
        let health = [LoadRequest(method: "GET", path: "/health", headers: [], body: nil)]
        let verifications = texts.prefix(500).map { text in
            LoadRequest(
                method: "POST", path: "/api/v1/credentials/verification", headers: ["Authorization: Bearer \(key)"],
                body: #"{"code":"\#(text)"}"#)
        }
        say("online verification over HTTP, \(connections) keep-alive connections, \(seconds) s each, SQLite")
        let baseline = try LoadGenerator(port: port, connections: connections, seconds: seconds).run(health)
        say("  /health:                      \(baseline.line)")
        let verified = try LoadGenerator(port: port, connections: connections, seconds: seconds).run(verifications)
        say("  verification (audited):       \(verified.line)")
        say("    ratio verification / health: \(String(format: "%.2f", verified.rate / baseline.rate))  (goal >= 0.4)")
        server.cancel()
        _ = try? await server.value
    }

    /// Seconds for `count` calls of `body`.
    static func time(_ count: Int, _ body: (Int) throws -> Void) throws -> Double {
        let started = ContinuousClock.now
        for i in 0..<count { try body(i) }
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func rate(_ seconds: Double, _ count: Int) -> String { String(format: "%8.0f", Double(count) / seconds) }

    static func milliseconds(_ duration: Duration) -> String {
        String(
            format: "%.0f", Double(duration.components.seconds) * 1_000 + Double(duration.components.attoseconds) / 1e15
        )
    }
}

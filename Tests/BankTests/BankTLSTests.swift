import BankProtocol
import BankSimulator
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// The banks' endpoints are HTTPS in a real city: the center trusts the CAs of `banks.trustRoots`
/// and nothing else (docs/banks.md "Signatures").
@Suite("Partner banks over HTTPS", .serialized)
struct BankTLSTests {
    /// A CA with a server certificate for 127.0.0.1, and another CA.
    static func certificates(
        in directory: TemporaryDirectory
    ) throws -> (ca: String, other: String, cert: String, key: String) {
        let dir = directory.url.path
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        }
        for name in ["ca", "other-ca"] {
            try openssl([
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/O=Test/CN=\(name)", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem",
            ])
        }
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: "\(dir)/san.ext", atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "\(dir)/bank.key", "-out", "\(dir)/bank.csr",
        ])
        try openssl([
            "x509", "-req", "-in", "\(dir)/bank.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key",
            "-CAcreateserial", "-days", "2", "-out", "\(dir)/bank.pem", "-extfile", "\(dir)/san.ext",
        ])
        return ("\(dir)/ca.pem", "\(dir)/other-ca.pem", "\(dir)/bank.pem", "\(dir)/bank.key")
    }

    @Test("accounts and notices over HTTPS with the bank's CA trusted; a bank whose CA is not trusted gets nothing")
    func https() async throws {
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        world.clock.set(Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970)))
        let directory = TemporaryDirectory()
        let files = try Self.certificates(in: directory)
        let secret = BankSignature.newSecret()
        let bank = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(
                bankCode: "ICBC", bin: "622202", secret: secret, statePath: directory.file("bank.jsonl").path,
                tlsCertificatePath: files.cert, tlsKeyPath: files.key))
        defer { Task { await bank.stop() } }
        #expect(bank.baseURL.hasPrefix("https://"))
        _ = try await BankService(world.env).register(
            .init(
                code: "ICBC", name: "ICBC", bins: ["622202"], endpoint: bank.baseURL, isDefault: true,
                secret: secret.map { String(format: "%02x", $0) }.joined()),
            actor: staff.admin)

        // A CA the bank's certificate does not chain to: nothing is sent, the card is held.
        var stranger = world.env
        stranger.bankPolicy = BankPolicy(timeoutSeconds: 3, trustRoots: [files.other])
        let strangerFixtures = Fixtures(world: world, staff: staff)
        let (_, held) = try await strangerFixtures.application()
        _ = try await CardService(world.env).verify(held.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let refused = await failure { () async throws(CitizenCardError) in
            _ = try await ProductionService(stranger).createBatch(.init(cardIds: [held.id]), actor: staff.admin)
        }
        #expect(refused?.code == .batchNotOpen)
        #expect(bank.snapshot().accounts.isEmpty)

        // The bank's CA trusted: the account is opened and a loss reaches the bank.
        var trusted = world.env
        trusted.bankPolicy = BankPolicy(timeoutSeconds: 5, trustRoots: [files.ca])
        let resident = try await strangerFixtures.resident()
        let cards = CardService(trusted)
        let production = ProductionService(trusted)
        let applied = try await cards.apply(.init(personId: resident.person.id), actor: staff.clerk).card
        _ = try await cards.verify(applied.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let batch = try await production.createBatch(.init(cardIds: [applied.id]), actor: staff.admin)
        #expect(batch.heldByBank == nil)
        _ = try await production.recordResults(
            batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }),
            actor: staff.admin)
        _ = try await production.deliver(batch.batch.id, actor: staff.admin)
        let card = try await cards.issue(applied.id, identity: strangerFixtures.identity(resident), actor: staff.clerk)
            .card
        #expect(bank.snapshot().accounts.map(\.cardNumber) == [card.number])
        _ = try await cards.reportWrittenLoss(
            card.id, identity: strangerFixtures.identity(resident), actor: staff.clerk)
        #expect(try await BankService(trusted).sendDue(breaker: BankBreaker()).delivered == 1)
        #expect(bank.snapshot().notices.map(\.kind) == ["loss_written"])
    }
}

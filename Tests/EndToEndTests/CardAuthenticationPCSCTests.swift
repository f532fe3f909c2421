import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import SmartCard
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 19, parts 5 and 6, through the real binary and a real PC/SC stack (pcscd + vsmartcard's
/// vpcd + `citizencard card emulate`): `citizencard card authenticate` against genuine, foreign and
/// old cards, and the holder data of a card made through the production flow read back with
/// opensc-tool.
@Suite("PC/SC: card authenticate; the chip's holder data", .serialized)
struct CardAuthenticationPCSCTests {
    static let asn = "00003100000000000009"

    /// `card new` for `asn` with the keys `keys` names (`--test-keys` or `--keyring FILE`).
    static func makeCard(_ name: String, keys: [String], in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent(name)
        let result = try Binary.run(["card", "new", "--asn", asn, "--out", url.path] + keys, in: directory)
        try #require(result.status == 0, "card new: \(result.output)\(result.errors)")
        return url
    }

    /// A data directory whose keyring was written before the internal-authentication key existed:
    /// `keys init`, then the `internalAuthentication` entries taken out of the file.
    static func oldDataDirectory(_ directory: URL) throws -> URL {
        let made = try Binary.run(
            ["keys", "init", "--data", directory.path], in: directory.deletingLastPathComponent())
        try #require(made.status == 0, "keys init: \(made.output)\(made.errors)")
        let file = directory.appendingPathComponent("keys/issuer-keys.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let keys = try #require(json["keys"] as? [[String: Any]])
        json["keys"] = keys.filter { ($0["type"] as? String) != "internalAuthentication" }
        try JSONSerialization.data(withJSONObject: json).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return file
    }

    /// Inserts `card` into the stack's reader, runs `body`, then removes it (SIGTERM, status 0).
    static func withCard<T>(
        _ card: URL, in stack: PCSC.Stack, directory: URL, _ body: () throws -> T
    ) throws -> T {
        let emulator = try Background(
            Binary.url, ["card", "emulate", "--card", card.path, "--vpcd", "127.0.0.1:\(stack.port)"], in: directory,
            name: "emulate-\(card.lastPathComponent)")
        defer { emulator.terminate() }
        _ = try stack.waitForCard(inReaderNamed: stack.readerName, emulator: emulator)
        let result = try body()
        #expect(emulator.terminate() == 0, "\(emulator.outputText)\(emulator.errorText)")
        // Until pcscd has seen the card leave, the next card would look like this one to a client.
        let deadline = Date().addingTimeInterval(30)
        while try PCSC.readers().contains(where: { $0.name == stack.readerName && $0.card }), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
        }
        return result
    }

    @Test(
        "card authenticate: a genuine card passes (exit 0); another keyring's card and a card without the key fail (exit 1); no card, no pcscd (exit 2)",
        .enabled(
            if: PCSC.available,
            "needs opensc-tool, pcscd and vsmartcard's vpcd driver, and a running pcscd or the right to start one (Debian: apt-get install pcscd vsmartcard-vpcd opensc)"
        ),
        .timeLimit(.minutes(10)))
    func authenticate() throws {
        let lock = try PCSC.Lock.acquire(timeout: 480)
        defer { lock.release() }
        let scratch = TemporaryDirectory("citizencard-pcsc-auth")
        defer { withExtendedLifetime(scratch) {} }
        let directory = scratch.url

        // An existing data directory from before issue 19: `keys show` names the missing key,
        // `card new` adds it (and says so), and the card it makes holds it.
        let dataA = directory.appendingPathComponent("data-a")
        let keyringA = try Self.oldDataDirectory(dataA)
        let show = try Binary.run(["keys", "show", "--data", dataA.path], in: directory)
        #expect(show.status == 0 && show.output.contains("missing: internalAuthentication v01"), "\(show.output)")
        let genuine = try Self.makeCard("genuine.json", keys: ["--keyring", keyringA.path], in: directory)
        let made = try SoftwareCard.load(from: genuine)
        let balanceBefore = made.purses
        let showAgain = try Binary.run(["keys", "show", "--data", dataA.path], in: directory)
        #expect(showAgain.output.contains("internalAuthentication") && !showAgain.output.contains("missing"))

        let dataB = directory.appendingPathComponent("data-b")
        let keyringB = try Self.oldDataDirectory(dataB)
        let foreign = try Self.makeCard("foreign.json", keys: ["--keyring", keyringB.path], in: directory)
        let testCard = try Self.makeCard("old.json", keys: ["--test-keys"], in: directory)
        let old = try Self.withoutInternalAuthenticationKey(testCard)

        let stack = try PCSC.Stack.start(in: directory)
        defer { stack.stop() }
        let reader = ["--reader", stack.readerName]

        try Self.withCard(genuine, in: stack, directory: directory) {
            let passed = try Binary.run(["card", "authenticate", "--data", dataA.path] + reader, in: directory)
            #expect(passed.status == 0, "\(passed.output)\(passed.errors)")
            #expect(passed.output.contains("authentic: card \(Self.asn)"), "\(passed.output)")
            let fromEnvironment = try Binary.run(
                ["card", "authenticate"] + reader, in: directory, environment: ["CITIZENCARD_DATA": dataA.path])
            #expect(fromEnvironment.status == 0, "CITIZENCARD_DATA: \(fromEnvironment.errors)")
            let withFile = try Binary.run(["card", "authenticate", "--keyring", keyringA.path] + reader, in: directory)
            #expect(withFile.status == 0, "--keyring: \(withFile.errors)")
            // The same card against other master keys: not authentic.
            for keys in [["--data", dataB.path], ["--test-keys"]] {
                let refused = try Binary.run(["card", "authenticate"] + keys + reader, in: directory)
                #expect(refused.status == 1, "\(keys): \(refused.output)\(refused.errors)")
                #expect(refused.errors.contains("NOT authentic") && refused.errors.contains("does not match"))
                #expect(!refused.output.contains("authentic:"))
            }
            let noVersion = try Binary.run(
                ["card", "authenticate", "--data", dataA.path, "--key-version", "2"] + reader, in: directory)
            #expect(noVersion.status == 2 && noVersion.errors.contains("no internalAuthentication key version 02"))
        }
        #expect(try SoftwareCard.load(from: genuine).purses == balanceBefore, "authentication moves no money")

        try Self.withCard(foreign, in: stack, directory: directory) {
            let refused = try Binary.run(["card", "authenticate", "--data", dataA.path] + reader, in: directory)
            #expect(refused.status == 1, "a card of another keyring: \(refused.output)\(refused.errors)")
            #expect(refused.errors.contains("NOT authentic: card \(Self.asn)"), "\(refused.errors)")
            let own = try Binary.run(["card", "authenticate", "--data", dataB.path] + reader, in: directory)
            #expect(own.status == 0, "with its own keyring: \(own.errors)")
        }

        try Self.withCard(old, in: stack, directory: directory) {
            let refused = try Binary.run(["card", "authenticate", "--test-keys"] + reader, in: directory)
            #expect(refused.status == 1, "\(refused.output)\(refused.errors)")
            #expect(refused.errors.contains("6A88"), "a card without the key: \(refused.errors)")
        }

        let empty = try Binary.run(["card", "authenticate", "--test-keys"] + reader, in: directory)
        #expect(empty.status == 2 && empty.errors.contains("no card"), "\(empty.output)\(empty.errors)")
        let noReader = try Binary.run(
            ["card", "authenticate", "--test-keys", "--reader", "No Such Reader"], in: directory)
        #expect(noReader.status == 2 && noReader.errors.contains("no single reader matches"), "\(noReader.errors)")
        let noKeyring = try Binary.run(
            ["card", "authenticate", "--data", directory.appendingPathComponent("none").path] + reader, in: directory)
        #expect(noKeyring.status == 2 && noKeyring.errors.contains("no issuer keyring"), "\(noKeyring.errors)")

        // Without pcscd (only when this test started the daemon: a system one may come back by
        // socket activation).
        if stack.daemon != nil {
            stack.stop()
            if !PCSC.daemonRunning {
                let noService = try Binary.run(["card", "authenticate", "--test-keys"], in: directory)
                #expect(noService.status == 2 && noService.errors.contains("pcscd"), "\(noService.errors)")
            }
        }
    }

    @Test(
        "a card made through the production flow: opensc-tool reads every holder field back, and the card authenticates",
        .enabled(
            if: PCSC.available,
            "needs opensc-tool, pcscd and vsmartcard's vpcd driver, and a running pcscd or the right to start one (Debian: apt-get install pcscd vsmartcard-vpcd opensc)"
        ),
        .timeLimit(.minutes(10)))
    func productionCardData() async throws {
        // The center: a resident, an approved application, a production batch, its personalisation file.
        let world = try await TestWorld()
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        let (resident, applied) = try await fixtures.application()
        _ = try await fixtures.cards.verify(applied.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let batch = try await fixtures.production.createBatch(.init(), actor: staff.admin)
        let file = try await fixtures.production.personalisationFile(batch.batch.id, actor: staff.admin)
        let record = try #require(file.records.first { $0.cardNumber == applied.number })
        // The factory: the chip from the record and the transport key.
        let transport = try world.env.issuerKeys.masterKey(.transport, version: 1)
        let chipCard = try SoftwareCard(personalisation: record.chip, transportKey: transport)

        let lock = try PCSC.Lock.acquire(timeout: 480)
        defer { lock.release() }
        let scratch = TemporaryDirectory("citizencard-pcsc-holder")
        defer { withExtendedLifetime(scratch) {} }
        let cardURL = scratch.url.appendingPathComponent("produced.json")
        try chipCard.save(to: cardURL)
        let stack = try PCSC.Stack.start(in: scratch.url)
        defer { stack.stop() }

        let (ef05, ef06) = try Self.withCard(cardURL, in: stack, directory: scratch.url) {
            let readers = try PCSC.readers()
            let number = try #require(readers.first { $0.name == stack.readerName && $0.card }?.number)
            let run = try PCSC.tool([
                "--reader", "\(number)", "--card-driver", "default", "--send-apdu",
                "00A404000F" + Hex.encode(SoftwareCard.socialSecurityName), "--send-apdu", "00B0850000",
                "--send-apdu", "0020000003123456", "--send-apdu", "00B0860000",
            ])
            let answers = PCSC.responses(run.output)
            try #require(answers.count == 4, "four answers expected:\n\(run.output)\(run.errors)")
            #expect(answers.allSatisfy { $0.sw == "9000" }, "\(answers)")
            // The card authenticates against the center's keyring (the test keys of TestWorld).
            let authenticated = try Binary.run(
                ["card", "authenticate", "--test-keys", "--reader", stack.readerName], in: scratch.url)
            #expect(authenticated.status == 0, "\(authenticated.output)\(authenticated.errors)")
            return (Self.fields(answers[1].data), Self.fields(answers[3].data))
        }

        // Printed on the card (the record) and on the chip (EF 05, EF 06), side by side.
        let id = try ResidentID.parse(resident.idNumber, regions: nil).get()
        let holder = record.chip.holder
        #expect(ef05[0x01] == Array(record.cardNumber.utf8), "card serial number = the printed card number")
        #expect(ef05[0x02] == Self.bcd(holder.issueDate) && ef05[0x03] == Self.bcd(holder.expiryDate))
        #expect(Int(holder.expiryDate.prefix(4)) == Int(holder.issueDate.prefix(4)).map { $0 + 10 })
        #expect(ef05[0x04] == [], "no bank card number until a partner bank issues one")
        #expect(ef06[0x08] == Array(record.socialSecurityNumber.utf8))
        #expect(ef06[0x09] == Array(record.name.utf8) && record.name == resident.name)
        #expect(ef06[0x0A] == Array(holder.photoReference.utf8) && !holder.photoReference.isEmpty)
        #expect(ef06[0x0B] == Array((record.sex == .male ? "1" : "2").utf8) && record.sex == id.sex)
        #expect(ef06[0x0C] == Self.bcd(id.birthDate.iso8601.replacingOccurrences(of: "-", with: "")))
        #expect(ef06[0x0D] == Array(id.regionCode.utf8))
    }

    /// The TLVs of a holder file: tag → value (1-byte tags, short lengths).
    static func fields(_ bytes: [UInt8]) -> [UInt8: [UInt8]] {
        var out: [UInt8: [UInt8]] = [:]
        var index = 0
        while index + 2 <= bytes.count, index + 2 + Int(bytes[index + 1]) <= bytes.count {
            out[bytes[index]] = Array(bytes[(index + 2)..<(index + 2 + Int(bytes[index + 1]))])
            index += 2 + Int(bytes[index + 1])
        }
        return out
    }

    /// `YYYYMMDD` → 4 BCD bytes.
    static func bcd(_ digits: String) -> [UInt8] { (try? Hex.decode(digits)) ?? [] }

    /// A copy of `card` as a card file of before issue 19: no `internalAuthentication` key.
    static func withoutInternalAuthenticationKey(_ card: URL) throws -> URL {
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: card)) as? [String: Any])
        var body = try #require(json["card"] as? [String: Any])
        var keys = try #require(body["keys"] as? [String: Any])
        keys["internalAuthentication"] = nil
        body["keys"] = keys
        json["card"] = body
        let url = card.deletingLastPathComponent().appendingPathComponent("old-" + card.lastPathComponent)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        try #require(try SoftwareCard.load(from: url).asn == SoftwareCard.load(from: card).asn)
        return url
    }
}

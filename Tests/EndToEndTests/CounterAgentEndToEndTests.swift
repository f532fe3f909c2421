import CardCrypto
import CitizenCardTesting
import Foundation
import SmartCard
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The counter agent through the real binaries (issue 21, part 5): `citizencard serve`, a software
/// card inserted into pcscd through vpcd (`citizencard card emulate`), and `citizencard
/// counter-agent` beside it, connected to the server over a WebSocket as the clerk. The clerk's
/// console pages load the card, read it, and settle loads whose card was pulled out in the middle.
@Suite("Counter agent through the binary", .serialized)
struct CounterAgentEndToEndTests {
    static let clerk = "dh01.operator"
    static let terminal = "330900000077"

    /// A console session of `clerk` (curl with a cookie jar).
    struct Console {
        let base: String
        let directory: URL

        func curl(_ arguments: [String]) throws -> String {
            let result = try Binary.run(
                ["curl", "-sS", "-c", "jar", "-b", "jar"] + arguments, in: directory,
                executable: URL(fileURLWithPath: "/usr/bin/env"))
            guard result.status == 0 else { throw Server.ServerFailure(description: "curl: \(result.errors)") }
            return result.output
        }

        func csrf(_ page: String) throws -> String {
            try #require(
                page.range(of: #"name="_csrf" value="([^"]+)""#, options: .regularExpression).map {
                    String(page[$0].dropFirst(#"name="_csrf" value=""#.count).dropLast())
                }, "no form on the page")
        }

        static func login(_ base: String, in directory: URL) throws -> Console {
            let console = Console(base: base, directory: directory)
            let page = try console.curl(["\(base)/console/login"])
            _ = try console.curl([
                "-o", "/dev/null", "--data-urlencode", "_csrf=\(try console.csrf(page))", "--data-urlencode",
                "username=\(CounterAgentEndToEndTests.clerk)", "--data-urlencode", "password=citizencard",
                "-H", "Accept-Language: en", "\(base)/console/login",
            ])
            return console
        }

        func page(_ path: String) throws -> String { try curl(["-H", "Accept-Language: en", base + path]) }

        /// POSTs a form from the page at `from` and follows the redirect: the page that comes back.
        func post(_ path: String, from: String, _ fields: [String: String]) throws -> String {
            let token = try csrf(try page(from))
            var arguments = ["-L", "-H", "Accept-Language: en", "--data-urlencode", "_csrf=\(token)"]
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                arguments += ["--data-urlencode", "\(name)=\(value)"]
            }
            return try curl(arguments + [base + path])
        }
    }

    /// The problem line of a page, if any.
    static func problem(_ page: String) -> String {
        page.range(of: #"role="alert">[^<]*"#, options: .regularExpression).map { String(page[$0]) } ?? "(none)"
    }

    @Test(
        "loads at the counter through the agent; a card pulled before or after CREDIT is settled from the card",
        .enabled(
            if: PCSC.available,
            "needs opensc-tool, pcscd and vsmartcard's vpcd driver, and a running pcscd or the right to start one (Debian: apt-get install pcscd vsmartcard-vpcd opensc)"
        ),
        .timeLimit(.minutes(10)))
    func counterLoads() async throws {
        let lock = try PCSC.Lock.acquire(timeout: 480)
        defer { lock.release() }
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "12", "--no-demo-bank"])
        defer { server.stop() }
        let token = try await server.login(Self.clerk)

        // An active card of the demo city, and its chip made from the center's keyring.
        let active = try await server.send("GET", "/api/v1/cards?state=active&limit=5", token: token)
        let card = try #require((active.json["items"] as? [[String: Any]])?.first, "\(active.json)")
        let cardID = try #require(card["id"] as? String)
        let asn = try #require(card["asn"] as? String)
        let cardFile = scratch.file("chip.json")
        let made = try scratch.run([
            "card", "new", "--asn", asn, "--keyring", scratch.file("data/keys/issuer-keys.json").path, "--out",
            cardFile.path,
        ])
        try #require(made.status == 0, "\(made.output)\(made.errors)")
        try Data("citizencard\n".utf8).write(to: scratch.file("password"))

        let stack = try PCSC.Stack.start(in: scratch.url)
        defer { stack.stop() }
        func insert(_ extra: [String] = [], name: String) throws -> Background {
            let emulator = try Background(
                Binary.url, ["card", "emulate", "--card", cardFile.path, "--vpcd", "127.0.0.1:\(stack.port)"] + extra,
                in: scratch.url, name: name)
            _ = try stack.waitForCard(inReaderNamed: stack.readerName, emulator: emulator)
            return emulator
        }
        /// Waits until the emulator left (by itself when a removal was asked for, else SIGTERM) and
        /// pcscd saw the card go: until then the next card would look like this one to a client,
        /// and its first command would go to the old card's closed connection.
        func pull(_ emulator: Background, waitingForRemoval: Bool = false) throws {
            let deadline = Date().addingTimeInterval(30)
            while waitingForRemoval, emulator.isRunning, Date() < deadline { usleep(50_000) }
            #expect(emulator.terminate() == 0, "\(emulator.outputText)\(emulator.errorText)")
            while try PCSC.readers().contains(where: { $0.name == stack.readerName && $0.card }), Date() < deadline {
                usleep(200_000)
            }
        }

        let console = try Console.login(server.baseURL, in: scratch.url)
        let cardPage = "/console/cards/\(cardID)"
        // No agent yet: the page says so, and a load is refused with nothing written.
        #expect(try console.page(cardPage).contains("No counter agent is connected"))
        let refused = try console.post("\(cardPage)/purse/load", from: cardPage, ["amount": "5", "funding": "cash"])
        #expect(refused.contains("citizencard counter-agent"), "\(refused)")

        let agent = try Background(
            Binary.url,
            [
                "counter-agent", "--server", server.baseURL, "--user", Self.clerk, "--password-file",
                scratch.file("password").path, "--reader", stack.readerName, "--terminal-id", Self.terminal,
                "--retry-interval", "0.5",
            ], in: scratch.url, name: "agent")
        defer { agent.terminate() }
        var connected = false
        for _ in 0..<120 where !connected {
            connected = try console.page(cardPage).contains(Self.terminal)
            if !connected { usleep(250_000) }
        }
        try #require(connected, "the agent did not connect: \(agent.outputText)\(agent.errorText)")

        // No card in the reader: refused, nothing written.
        let empty = try console.post("\(cardPage)/purse/load", from: cardPage, ["amount": "5", "funding": "cash"])
        #expect(empty.contains("no card in the reader"), "\(empty)")

        // A load with the card in the reader.
        var emulator = try insert(name: "emulate-1")
        let loaded = try console.post("\(cardPage)/purse/load", from: cardPage, ["amount": "88.00", "funding": "cash"])
        #expect(loaded.contains("Loaded"), "\(loaded)")
        let read = try console.post("\(cardPage)/purse/read", from: cardPage, [:])
        #expect(read.contains("¥88.00"), "the chip's balance on the page: \(read)")
        try pull(emulator)
        #expect(try SoftwareCard.load(from: cardFile).balance() == 8_800)

        // Pulled out before CREDIT FOR LOAD reaches the card: the card page says so; put back,
        // the load is settled from the card: reversed.
        for (option, amount, settled, balance) in [
            ("--remove-before", "10.00", "reversed", 8_800), ("--remove-after", "5.00", "settled", 9_300),
        ] {
            emulator = try insert([option, "52"], name: "emulate\(option)")
            let interrupted = try console.post(
                "\(cardPage)/purse/load", from: cardPage, ["amount": amount, "funding": "cash"])
            #expect(
                interrupted.contains("put the card back"),
                "\(option): \(Self.problem(interrupted))\nemulator: \(emulator.outputText)\(emulator.errorText)\nagent: \(agent.outputText)\(agent.errorText)"
            )
            try pull(emulator, waitingForRemoval: true)
            let loads = try await server.send("GET", "/api/v1/cards/\(cardID)/loads", token: token)
            let open = try #require(
                (loads.json["items"] as? [[String: Any]])?.first { $0["status"] as? String == "approved" },
                "\(option): \(loads.json)")
            let loadID = try #require(open["id"] as? String)
            // Another load waits for this one.
            emulator = try insert(name: "emulate-back\(option)")
            let blocked = try console.page(cardPage)
            #expect(!blocked.contains("id=\"purse-load\""), "no load form while a load is open")
            let page = try console.post(
                "/console/loads/\(loadID)/resolution", from: cardPage, ["cardId": cardID])
            #expect(page.contains("The load is \(settled)"), "\(option): \(page)")
            try pull(emulator)
            #expect(try SoftwareCard.load(from: cardFile).balance() == balance, "\(option)")
        }
        let loads = try await server.send("GET", "/api/v1/cards/\(cardID)/loads", token: token)
        let statuses = (loads.json["items"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
        #expect(statuses.sorted() == ["completed", "completed", "reversed"], "\(statuses)")

        // The WebSocket address refuses what is not an agent of a counter clerk.
        let plain = try await server.send("GET", "/api/v1/counter-agent", token: token)
        #expect(plain.status == 400, "\(plain.status)")
        #expect(try await server.send("GET", "/api/v1/counter-agent").status == 401)
        let auditor = try await server.login("auditor")
        #expect(try await server.send("GET", "/api/v1/counter-agent", token: auditor).status == 403)

        // The agent stops: the page says so again.
        #expect(agent.terminate() == 0, "\(agent.outputText)\(agent.errorText)")
        var gone = false
        for _ in 0..<40 where !gone {
            gone = try console.page(cardPage).contains("No counter agent is connected")
            if !gone { usleep(250_000) }
        }
        #expect(gone)
        // Nothing of a card number, name or ID number in the agent's output.
        #expect(!agent.outputText.contains(asn) && !agent.errorText.contains(asn))
    }
}

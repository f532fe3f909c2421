import CitizenCardTesting
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `citizencard bank simulate` running in the background: a real bank on a loopback port.
final class BankPeer: @unchecked Sendable {
    let process = Process()
    let output: URL
    private(set) var port = 0

    init(scratch: Scratch, port: Int = 0) throws {
        output = scratch.file("bank-\(UUID().uuidString.prefix(8)).out")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = Binary.url
        process.arguments = [
            "bank", "simulate", "--code", "ICBC", "--bin", "622202", "--secret-file", scratch.file("icbc.secret").path,
            "--state", scratch.file("bank.jsonl").path, "--port", "\(port)",
        ]
        process.currentDirectoryURL = scratch.url
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
                let port = line.split(separator: ":").last.flatMap({ Int($0) })
            {
                self.port = port
                return
            }
            guard process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill()
        throw Server.ServerFailure(description: "the bank did not start")
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// SIGKILL: the bank is down at once.
    func kill() {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { kill() }

    func control(_ method: String, _ path: String, json: String? = nil) async throws -> Server.Reply {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        request.timeoutInterval = 30
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Server.Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }

    struct Received {
        var noticeId: String
        var kind: String
        var cardNumber: String
        var sequence: Int
        var received: Int
    }

    /// The notices the bank acted on, in arrival order, and its counters.
    func state() async throws -> (notices: [Received], outOfOrder: Int, rejected: Int, accounts: Int) {
        let json = try await control("GET", "/control/state").json
        let notices = (json["notices"] as? [[String: Any]] ?? []).map {
            Received(
                noticeId: $0["noticeId"] as? String ?? "", kind: $0["kind"] as? String ?? "",
                cardNumber: $0["cardNumber"] as? String ?? "", sequence: $0["sequence"] as? Int ?? 0,
                received: $0["received"] as? Int ?? 0)
        }
        return (
            notices, json["outOfOrder"] as? Int ?? -1, json["rejected"] as? Int ?? -1,
            (json["accounts"] as? [Any])?.count ?? 0
        )
    }
}

/// Partner banks through the real binary (issue 20): the server and a bank simulator, each its
/// own process on loopback. A bank down for a while and back; the server killed with SIGKILL in a
/// burst of losses; forged, stale and replayed notices from a false bank.
@Suite("Partner banks through the binary", .serialized)
struct BankEndToEndTests {
    /// A data directory with ICBC as the default bank at a running simulator, and a demo city
    /// whose cards got their accounts at production.
    static func city(_ scratch: Scratch, persons: Int = 60) throws -> (BankPeer, Server) {
        let secret = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        try Data(secret.utf8).write(to: scratch.file("icbc.secret"))
        chmod(scratch.file("icbc.secret").path, 0o600)
        let bank = try BankPeer(scratch: scratch)
        let data = scratch.file("data").path
        let migrate = try scratch.run(["migrate", "--data", data])
        #expect(migrate.status == 0, "\(migrate.errors)")
        // Short waits while the bank is down, so that the test sees it come back soon.
        let configuration = scratch.file("data/citizencard.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: configuration)) as? [String: Any] ?? [:]
        json["banks"] = ["maxBackoffSeconds": 1, "timeoutSeconds": 3]
        try JSONSerialization.data(withJSONObject: json).write(to: configuration)
        let add = try scratch.run([
            "bank", "add", "--data", data, "--code", "ICBC", "--name", "ICBC Zhoushan", "--bin", "622202",
            "--endpoint", bank.baseURL, "--is-default", "--secret-file", scratch.file("icbc.secret").path,
        ])
        #expect(add.status == 0, "\(add.output)\(add.errors)")
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "\(persons)", "--no-demo-bank"])
        return (bank, server)
    }

    /// Active cards with an open account, and their holders' ID numbers.
    static func holders(
        _ server: Server, token: String
    ) async throws -> [(card: String, number: String, idNumber: String)] {
        let active = try await server.send("GET", "/api/v1/cards?state=active&limit=50", token: token)
        var holders: [(String, String, String)] = []
        for card in active.json["items"] as? [[String: Any]] ?? [] {
            guard let id = card["id"] as? String, let person = card["personId"] as? String,
                let number = card["number"] as? String
            else { continue }
            let account = try await server.send("GET", "/api/v1/cards/\(id)/bank-account", token: token)
            guard account.json["state"] as? String == "open" else { continue }
            let reply = try await server.send(
                "GET", "/api/v1/persons/\(person)?reveal=true&purpose=bank%20test", token: token)
            if let idNumber = reply.json["idNumber"] as? String { holders.append((id, number, idNumber)) }
        }
        return holders
    }

    static func lossOrWithdrawal(
        _ server: Server, token: String, card: String, idNumber: String, step: Int, timeout: TimeInterval = 30
    ) async throws -> Int {
        let action = step % 2 == 0 ? "loss" : "loss-withdrawal"
        return try await server.send(
            "POST", "/api/v1/cards/\(card)/\(action)", token: token,
            json: #"{"identity":{"idNumber":"\#(idNumber)","documentChecked":true}}"#, timeout: timeout
        ).status
    }

    /// Waits until the server's outbox has nothing pending.
    static func drained(_ scratch: Scratch, seconds: Double = 90) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try scratch.query("SELECT count(*) FROM bank_notices WHERE state <> 'delivered'") == "0" { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// What the bank acted on is exactly what the center delivered: each notice once, each
    /// card's notices 1, 2, 3 … in order.
    static func checkDelivery(_ scratch: Scratch, _ bank: BankPeer) async throws {
        let state = try await bank.state()
        let centerCount = Int(try scratch.query("SELECT count(*) FROM bank_notices")) ?? -1
        #expect(state.notices.count == centerCount, "the bank acted on \(state.notices.count) of \(centerCount)")
        #expect(Set(state.notices.map(\.noticeId)).count == state.notices.count, "a notice acted on twice")
        #expect(state.outOfOrder == 0)
        #expect(state.rejected == 0)
        var byCard: [String: [Int]] = [:]
        for notice in state.notices { byCard[notice.cardNumber, default: []].append(notice.sequence) }
        for (card, sequences) in byCard {
            #expect(sequences == Array(1...sequences.count), "card \(card) arrived as \(sequences)")
        }
        // Nothing lost: every loss and withdrawal of a card with an account made its notice.
        let events = try scratch.query(
            """
            SELECT count(*) FROM card_events e JOIN bank_accounts a ON a.card_id = e.card_id AND a.state = 'open'
            WHERE e.action IN ('report_written_loss', 'withdraw_loss')
            """)
        let notices = try scratch.query(
            "SELECT count(*) FROM bank_notices WHERE kind IN ('loss_written', 'loss_withdrawn')")
        #expect(events == notices, "\(events) events, \(notices) notices")
    }

    @Test("a bank down for a while, then back: every notice arrives once, in order per card; reconcile ties out")
    func bankDownThenBack() async throws {
        let scratch = try Scratch()
        var (bank, server) = try Self.city(scratch)
        defer { server.stop() }
        let token = try await server.login("dh01.operator")
        let holders = try await Self.holders(server, token: token)
        #expect(holders.count >= 3, "demo cards with bank accounts")
        #expect(try await bank.state().accounts >= holders.count)
        let port = bank.port
        bank.kill()
        for step in 0..<4 {
            for holder in holders.prefix(6) {
                let status = try await Self.lossOrWithdrawal(
                    server, token: token, card: holder.card, idNumber: holder.idNumber, step: step)
                #expect(status == 200, "the counter works while the bank is down")
            }
        }
        try await Task.sleep(for: .seconds(2))
        let pending = Int(try scratch.query("SELECT count(*) FROM bank_notices WHERE state = 'pending'")) ?? 0
        #expect(pending == holders.prefix(6).count * 4)
        bank = try BankPeer(scratch: scratch, port: port)
        #expect(try await Self.drained(scratch), "the backlog drained after the bank came back")
        try await Self.checkDelivery(scratch, bank)

        let today = try scratch.query("SELECT MAX(business_date) FROM bank_notices")
        let reconcile = try scratch.run([
            "bank", "reconcile", "--data", scratch.file("data").path, "--bank", "ICBC", "--date", today,
        ])
        #expect(reconcile.status == 0, "\(reconcile.output)\(reconcile.errors)")
        #expect(reconcile.output.contains("differences 0"))
    }

    @Test("the server killed with SIGKILL in a burst of losses: nothing lost, nothing doubled at the bank")
    func serverKilledInABurst() async throws {
        let scratch = try Scratch()
        let (bank, first) = try Self.city(scratch)
        let token = try await first.login("dh01.operator")
        let holders = try await Self.holders(first, token: token)
        first.stop()
        #expect(holders.count >= 3)
        for point in 0..<3 {
            let server = try Server(scratch: scratch, arguments: ["--no-demo"])
            let clerk = try await server.login("dh01.operator")
            let running = Flag()
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for client in 0..<8 {
                        group.addTask {
                            var step = client
                            while running.isSet {
                                let holder = holders[step % holders.count]
                                _ = try? await Self.lossOrWithdrawal(
                                    server, token: clerk, card: holder.card, idNumber: holder.idNumber,
                                    step: step / holders.count,
                                    timeout: 5)
                                step += 1
                            }
                        }
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 400...1500)))
            server.kill()
            running.clear()
            _ = await load.value
            _ = point
        }
        // Back up: the outbox drains what the killed servers left.
        let last = try Server(scratch: scratch, arguments: ["--no-demo"])
        defer { last.stop() }
        #expect(try await Self.drained(scratch), "the outbox drained after the restarts")
        try await Self.checkDelivery(scratch, bank)
        #expect(Int(try scratch.query("SELECT count(*) FROM bank_notices")) ?? 0 > 0, "the burst made notices")
    }

    @Test("notices from the bank: a loss applied once; forged, stale, replayed and false-bank notices refused")
    func noticesFromTheBank() async throws {
        let scratch = try Scratch()
        let (bank, server) = try Self.city(scratch, persons: 12)
        defer { server.stop() }
        let token = try await server.login("dh01.operator")
        let holder = try #require(try await Self.holders(server, token: token).first)
        func report(_ signing: String, noticeId: String, card: String? = nil) async throws -> Int {
            let reply = try await bank.control(
                "POST", "/control/report",
                json:
                    #"{"kind":"loss","cardNumber":"\#(card ?? holder.number)","noticeId":"\#(noticeId)","signing":"\#(signing)","center":"\#(server.baseURL)"}"#
            )
            return reply.json["status"] as? Int ?? -1
        }
        #expect(try await report("wrong-key", noticeId: "n-1") == 401)
        #expect(try await report("stale", noticeId: "n-1") == 401)
        let card = try await server.send("GET", "/api/v1/cards/\(holder.card)", token: token)
        #expect(card.json["state"] as? String == "active", "nothing refused changed the card")
        #expect(try await report("valid", noticeId: "n-1") == 200)
        let lost = try await server.send("GET", "/api/v1/cards/\(holder.card)", token: token)
        #expect(lost.json["state"] as? String == "pre_lost")
        #expect((lost.json["loss"] as? [String: Any])?["channel"] as? String == "bank")
        // The same notice again (signed anew, as a replay within the window would be): once.
        let replay = try await bank.control(
            "POST", "/control/report",
            json: #"{"kind":"loss","cardNumber":"\#(holder.number)","noticeId":"n-1","center":"\#(server.baseURL)"}"#)
        #expect(replay.json["status"] as? Int == 200)
        #expect((replay.json["body"] as? String)?.contains("duplicate") == true)
        #expect(
            try scratch.query(
                "SELECT count(*) FROM card_events WHERE card_id = '\(holder.card)' AND action = 'report_pre_loss'")
                == "1")
        // A false bank: another code on the path, whatever it signs.
        let forged = try await server.send(
            "POST", "/api/v1/banks/FAKE/notices",
            json:
                #"{"noticeId":"x","kind":"loss","cardNumber":"\#(holder.number)","accountNumber":"6222020000000000011","occurredAt":0}"#
        )
        #expect(forged.status == 401)
        #expect(forged.json["code"] as? String == "bank_signature_invalid")
        #expect(
            try scratch.query("SELECT count(*) FROM bank_notices WHERE card_id = '\(holder.card)'") == "0", "not echoed"
        )
    }
}

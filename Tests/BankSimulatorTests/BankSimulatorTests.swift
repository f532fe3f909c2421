import ArgumentParser
import AsyncHTTPClient
import BankLink
import BankProtocol
import BankSimulator
import Foundation
import NIOCore
import Synchronization
import Testing

/// A simulated bank on a loopback port with a journal in a temporary directory, and a link that
/// signs as the center.
final class Bank: Sendable {
    static let code = "ICBC"
    static let bin = "622202"

    let directory: URL
    let secret: Data
    let server: BankSimulatorServer
    let link: BankLink

    var statePath: String { directory.appendingPathComponent("bank.jsonl").path }

    init(directory: URL? = nil, secret: Data? = nil, centerURL: String? = nil) async throws {
        let directory =
            directory
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("banksim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.secret = secret ?? BankSignature.newSecret()
        server = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(
                bankCode: Self.code, bin: Self.bin, secret: self.secret, centerURL: centerURL,
                statePath: directory.appendingPathComponent("bank.jsonl").path))
        link = try BankLink(trustRoots: [], maxConnectionsPerHost: 64)
    }

    /// The same bank again, on the same journal (a new port).
    func restarted() async throws -> Bank {
        await server.stop()
        await link.shutdown()
        return try await Bank(directory: directory, secret: secret)
    }

    func close() async {
        await server.stop()
        await link.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    var now: Int64 { Int64(Date().timeIntervalSince1970) }

    func send(
        _ path: String, method: String = "POST", body: Data = Data(), secret: Data? = nil,
        direction: BankSignature.Direction = .toBank, timestamp: Int64? = nil, timeoutSeconds: Int64 = 180
    ) async -> BankLink.Outcome {
        await link.send(
            .init(
                baseURL: server.baseURL, path: path, method: method, body: body, direction: direction,
                bankCode: Self.code, timeoutSeconds: timeoutSeconds),
            signature: BankSignature(secret: secret ?? self.secret), timestamp: timestamp ?? now)
    }

    func send(_ path: String, json: some Encodable) async throws -> BankLink.Outcome {
        await send(path, body: try JSONEncoder().encode(json))
    }

    /// `/control/…` (unsigned: the link's headers are ignored).
    func control(_ path: String, _ json: String) async throws {
        let outcome = await send("/control/" + path, body: Data(json.utf8))
        guard case .answered(200, _) = outcome else {
            Issue.record("control \(path): \(outcome)")
            return
        }
    }

    func state() async throws -> BankSimulatorSnapshot {
        let outcome = await send("/control/state", method: "GET")
        guard case .answered(200, let body) = outcome else { throw Unexpected(outcome: outcome) }
        return try JSONDecoder().decode(BankSimulatorSnapshot.self, from: body)
    }

    func openAccount(
        requestId: String, card: String, idNumber: String = "110105194912310021", date: String
    )
        async throws -> (status: Int, answer: BankMessages.AccountAnswer)
    {
        let request = BankMessages.AccountRequest(
            requestId: requestId, cardNumber: card, name: "张三", idNumber: idNumber, previousCardNumber: nil,
            businessDate: date)
        let outcome = try await send("/accounts", json: request)
        guard case .answered(let status, let body) = outcome else { throw Unexpected(outcome: outcome) }
        return (status, try JSONDecoder().decode(BankMessages.AccountAnswer.self, from: body))
    }

    static func notice(
        _ id: String, card: String = "6217000000000000001", sequence: Int64 = 1, date: String
    )
        -> BankMessages.Notice
    {
        .init(
            noticeId: id, kind: .lossPre, cardNumber: card, accountNumber: "6222020000000000011", effectiveAt: 1,
            createdAt: 1, businessDate: date, sequence: sequence)
    }

    func deliver(_ notice: BankMessages.Notice) async throws -> (status: Int, answer: BankMessages.NoticeAnswer?) {
        let outcome = try await send("/notices", json: notice)
        guard case .answered(let status, let body) = outcome else { throw Unexpected(outcome: outcome) }
        return (status, try? JSONDecoder().decode(BankMessages.NoticeAnswer.self, from: body))
    }

    /// A request with the signature headers given as they are, and a body of one's choice.
    func raw(_ path: String, body: Data, headers: [(name: String, value: String)]) async throws -> Int {
        var request = HTTPClientRequest(url: server.baseURL + path)
        request.method = .POST
        for header in headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(180))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }
}

struct Unexpected: Error {
    var outcome: BankLink.Outcome
}

/// Runs `body` with a new bank, then stops it and removes its journal.
func withBank<T>(centerURL: String? = nil, _ body: (Bank) async throws -> T) async throws -> T {
    let bank = try await Bank(centerURL: centerURL)
    do {
        let result = try await body(bank)
        await bank.close()
        return result
    } catch {
        await bank.close()
        throw error
    }
}

@Suite("bank simulator: a partner bank on a loopback port")
struct BankSimulatorTests {
    static let day = "2025-03-14"

    @Test("opens an account once per request id: BIN, 19 digits, Luhn")
    func accounts() async throws {
        try await withBank { bank in
            let first = try await bank.openAccount(requestId: "card-1", card: "6217000000000000001", date: Self.day)
            #expect(first.status == 200)
            let number = try #require(first.answer.accountNumber)
            #expect(number.count == 19)
            #expect(number.hasPrefix(Bank.bin))
            #expect(BankCardNumber.isWellFormed(number))
            #expect(first.answer.requestId == "card-1")

            let again = try await bank.openAccount(requestId: "card-1", card: "6217000000000000001", date: Self.day)
            #expect(again.status == 200)
            #expect(again.answer.accountNumber == number)

            let other = try await bank.openAccount(requestId: "card-2", card: "6217000000000000002", date: Self.day)
            #expect(other.answer.accountNumber != number)
            #expect(other.answer.accountNumber.map(BankCardNumber.isWellFormed) == true)

            let state = try await bank.state()
            #expect(state.accounts.map(\.requestId) == ["card-1", "card-2"])
            #expect(state.accounts.first?.businessDate == Self.day)
        }
    }

    @Test("refuses the applicants it is told to, with 422")
    func refusal() async throws {
        try await withBank { bank in
            try await bank.control("refuse", #"{"idNumbers": ["11010519491231002X"]}"#)
            let refused = try await bank.openAccount(
                requestId: "card-1", card: "6217000000000000001", idNumber: "11010519491231002X", date: Self.day)
            #expect(refused.status == 422)
            #expect(refused.answer.refused == "applicant refused by the bank")
            #expect(refused.answer.accountNumber == nil)
            let accepted = try await bank.openAccount(requestId: "card-2", card: "6217000000000000002", date: Self.day)
            #expect(accepted.status == 200)
            #expect(try await bank.state().accounts.count == 1)
        }
    }

    @Test("acts on a notice once: accepted, then duplicate")
    func noticeOnce() async throws {
        try await withBank { bank in
            let notice = Bank.notice("n-1", date: Self.day)
            let first = try await bank.deliver(notice)
            #expect(first.status == 200)
            #expect(first.answer == .init(noticeId: "n-1", status: "accepted"))
            let second = try await bank.deliver(notice)
            #expect(second.status == 200)
            #expect(second.answer == .init(noticeId: "n-1", status: "duplicate"))

            let state = try await bank.state()
            #expect(state.notices.count == 1)
            #expect(state.notices.first?.received == 2)
            #expect(state.notices.first?.kind == "loss_pre")
            #expect(state.duplicates == 1)
            #expect(state.outOfOrder == 0)
        }
    }

    @Test("401 for a wrong secret, a stale timestamp, a tampered body, the wrong direction or bank code")
    func signatures() async throws {
        try await withBank { bank in
            let body = try JSONEncoder().encode(Bank.notice("n-1", date: Self.day))
            let wrongKey = await bank.send("/notices", body: body, secret: BankSignature.newSecret())
            #expect(Self.status(wrongKey) == 401, "\(wrongKey)")
            let stale = await bank.send("/notices", body: body, timestamp: bank.now - 3600)
            #expect(Self.status(stale) == 401, "\(stale)")
            if case .answered(_, let answer) = stale {
                #expect(String(decoding: answer, as: UTF8.self).contains("window"))
            }
            let reflected = await bank.send("/notices", body: body, direction: .toCenter)
            #expect(Self.status(reflected) == 401, "\(reflected)")

            let signer = BankSignature(secret: bank.secret)
            let signed = signer.headers(
                direction: .toBank, bankCode: Bank.code, timestamp: bank.now, method: "POST", path: "/notices",
                body: body)
            let tampered = try JSONEncoder().encode(Bank.notice("n-2", date: Self.day))
            #expect(try await bank.raw("/notices", body: tampered, headers: signed) == 401)
            let otherBank = signer.headers(
                direction: .toBank, bankCode: "ABC", timestamp: bank.now, method: "POST", path: "/notices",
                body: body)
            #expect(try await bank.raw("/notices", body: body, headers: otherBank) == 401)
            #expect(try await bank.raw("/notices", body: body, headers: []) == 401)
            // The same headers with the signed body are accepted.
            #expect(try await bank.raw("/notices", body: body, headers: signed) == 200)

            let state = try await bank.state()
            #expect(state.rejected == 6)
            #expect(state.notices.map(\.noticeId) == ["n-1"])
        }
    }

    @Test("mode error: 500 and nothing recorded")
    func errorMode() async throws {
        try await withBank { bank in
            try await bank.control("mode", #"{"mode": "error"}"#)
            #expect(try await bank.deliver(Bank.notice("n-1", date: Self.day)).status == 500)
            let account = try await bank.send(
                "/accounts",
                json: BankMessages.AccountRequest(
                    requestId: "card-1", cardNumber: "6217000000000000001", name: "张三", idNumber: "1",
                    previousCardNumber: nil, businessDate: Self.day))
            #expect(Self.status(account) == 500, "\(account)")
            let state = try await bank.state()
            #expect(state.mode == .error)
            #expect(state.notices.isEmpty)
            #expect(state.accounts.isEmpty)

            try await bank.control("mode", #"{"mode": "normal"}"#)
            #expect(try await bank.deliver(Bank.notice("n-1", date: Self.day)).answer?.status == "accepted")
        }
    }

    /// The bug this catches: the bank served its connections on Swift's cooperative threads, so
    /// a test process whose threads were all held by synchronous work left it silent for a minute.
    @Test("answers while every cooperative thread of the process is blocked")
    func answersWhileThePoolIsBlocked() async throws {
        try await withBank { bank in
            let url = bank.server.baseURL + "/control/state"
            let threads = ProcessInfo.processInfo.activeProcessorCount
            let release = DispatchSemaphore(value: 0)
            let status = Mutex<UInt?>(nil)
            // The request runs on a Dispatch thread and releases the blocked threads when answered
            // (or after 20 s).
            DispatchQueue.global().async {
                let answer = try? HTTPClient.shared.get(url: url, deadline: .now() + .seconds(20)).wait()
                status.withLock { $0 = answer.map { $0.status.code } }
                for _ in 0..<threads { release.signal() }
            }
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<threads { group.addTask { Self.block(release) } }
            }
            #expect(status.withLock { $0 } == 200)
        }
    }

    /// Holds the calling thread until `semaphore` is signalled.
    static func block(_ semaphore: DispatchSemaphore) { semaphore.wait() }

    @Test("mode drop: the connection closes without an answer, nothing recorded")
    func dropMode() async throws {
        try await withBank { bank in
            try await bank.control("mode", #"{"mode": "drop"}"#)
            let outcome = try await bank.send("/notices", json: Bank.notice("n-1", date: Self.day))
            guard case .noAnswer = outcome else {
                Issue.record("expected no answer, got \(outcome)")
                return
            }
            #expect(try await bank.state().notices.isEmpty)
        }
    }

    @Test("mode slow: a client with a shorter timeout gets no answer (the bank has acted)")
    func slowMode() async throws {
        try await withBank { bank in
            try await bank.control("mode", #"{"mode": "slow", "delayMs": 3000}"#)
            let body = try JSONEncoder().encode(Bank.notice("n-1", date: Self.day))
            let headers = BankSignature(secret: bank.secret).headers(
                direction: .toBank, bankCode: Bank.code, timestamp: bank.now, method: "POST", path: "/notices",
                body: body)
            // The impatient client's deadline runs on its event loop only (AsyncHTTPClient's async
            // API cancels through an actor, which a busy test process may run too late), from a
            // thread of its own.
            let outcome = await Self.postWithDeadline(
                bank.server.baseURL + "/notices", body: body, headers: headers, seconds: 1)
            #expect(outcome == "deadline", "\(outcome)")
            try await Task.sleep(for: .seconds(3))  // the slow answer has been written (to nobody)
            #expect(try await bank.state().notices.map(\.noticeId) == ["n-1"])
            try await bank.control("mode", #"{"mode": "normal"}"#)
            #expect(try await bank.deliver(Bank.notice("n-1", date: Self.day)).answer?.status == "duplicate")
        }
    }

    /// A POST with a deadline kept by the event loop, on a Dispatch thread: the status, or what
    /// went wrong (`deadline` when it passed first).
    static func postWithDeadline(
        _ url: String, body: Data, headers: [(name: String, value: String)], seconds: Int64
    ) async -> String {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    var request = try HTTPClient.Request(url: url, method: .POST)
                    for header in headers { request.headers.add(name: header.name, value: header.value) }
                    request.body = .bytes(body)
                    let client = HTTPClient(eventLoopGroupProvider: .singleton)
                    defer { try? client.syncShutdown() }
                    let response = try client.execute(request: request, deadline: .now() + .seconds(seconds)).wait()
                    continuation.resume(returning: "\(response.status.code)")
                } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                    continuation.resume(returning: "deadline")
                } catch {
                    continuation.resume(returning: "\(error)")
                }
            }
        }
    }

    @Test("reconciliation lists the notices and accounts of one business date")
    func reconciliation() async throws {
        try await withBank { bank in
            let a = try await bank.openAccount(requestId: "card-1", card: "6217000000000000001", date: Self.day)
            _ = try await bank.openAccount(requestId: "card-2", card: "6217000000000000002", date: "2025-03-15")
            _ = try await bank.deliver(Bank.notice("n-1", card: "6217000000000000001", date: Self.day))
            _ = try await bank.deliver(Bank.notice("n-2", card: "6217000000000000002", date: "2025-03-15"))
            _ = try await bank.deliver(Bank.notice("n-3", card: "6217000000000000003", date: Self.day))

            let outcome = await bank.send("/reconciliation?date=\(Self.day)", method: "GET")
            guard case .answered(200, let body) = outcome else {
                Issue.record("reconciliation: \(outcome)")
                return
            }
            let statement = try JSONDecoder().decode(BankMessages.ReconciliationStatement.self, from: body)
            #expect(statement.date == Self.day)
            #expect(statement.notices == ["n-1", "n-3"])
            #expect(
                statement.accounts == [
                    .init(cardNumber: "6217000000000000001", accountNumber: try #require(a.answer.accountNumber))
                ])

            #expect(Self.status(await bank.send("/reconciliation?date=yesterday", method: "GET")) == 400)
            #expect(Self.status(await bank.send("/reconciliation", method: "POST")) == 405)
        }
    }

    @Test("a restart on the same journal keeps accounts, notices and sequences")
    func restart() async throws {
        let bank = try await Bank()
        let first = try await bank.openAccount(requestId: "card-1", card: "6217000000000000001", date: Self.day)
        _ = try await bank.deliver(Bank.notice("n-1", sequence: 1, date: Self.day))
        let again = try await bank.restarted()
        let second = try await again.openAccount(requestId: "card-1", card: "6217000000000000001", date: Self.day)
        #expect(second.answer.accountNumber == first.answer.accountNumber)
        let other = try await again.openAccount(requestId: "card-2", card: "6217000000000000002", date: Self.day)
        #expect(other.answer.accountNumber != first.answer.accountNumber)
        #expect(try await again.deliver(Bank.notice("n-1", sequence: 1, date: Self.day)).answer?.status == "duplicate")
        #expect(try await again.deliver(Bank.notice("n-2", sequence: 2, date: Self.day)).answer?.status == "accepted")
        let state = try await again.state()
        #expect(state.accounts.count == 2)
        #expect(state.notices.map(\.noticeId) == ["n-1", "n-2"])
        #expect(state.outOfOrder == 0)
        await again.close()
    }

    @Test("a line cut short by a crash is dropped on start")
    func tornJournal() async throws {
        let bank = try await Bank()
        _ = try await bank.deliver(Bank.notice("n-1", date: Self.day))
        await bank.server.stop()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: bank.statePath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"type":"notice","noticeId":"n-"#.utf8))
        try handle.close()
        let again = try await bank.restarted()
        #expect(try await again.deliver(Bank.notice("n-2", sequence: 2, date: Self.day)).answer?.status == "accepted")
        let state = try await again.state()
        #expect(state.notices.map(\.noticeId) == ["n-1", "n-2"])
        await again.close()
    }

    @Test("a notice out of sequence is accepted and counted")
    func outOfOrder() async throws {
        try await withBank { bank in
            _ = try await bank.deliver(Bank.notice("a-1", card: "6217000000000000001", sequence: 1, date: Self.day))
            _ = try await bank.deliver(Bank.notice("a-2", card: "6217000000000000001", sequence: 2, date: Self.day))
            _ = try await bank.deliver(Bank.notice("b-1", card: "6217000000000000002", sequence: 1, date: Self.day))
            #expect(try await bank.state().outOfOrder == 0)
            let skipped = try await bank.deliver(
                Bank.notice("a-4", card: "6217000000000000001", sequence: 4, date: Self.day))
            #expect(skipped.answer?.status == "accepted")
            #expect(try await bank.state().outOfOrder == 1)
        }
    }

    @Test("many notices at once: each acted on once")
    func concurrent() async throws {
        try await withBank { bank in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        _ = try await bank.deliver(
                            Bank.notice("n-\(index % 20)", card: "62170000000000\(index % 20)", date: Self.day))
                    }
                }
                try await group.waitForAll()
            }
            let state = try await bank.state()
            #expect(state.notices.count == 20)
            #expect(state.duplicates == 20)
            #expect(state.notices.allSatisfy { $0.received == 2 })
        }
    }

    @Test("control/report signs a bank notice and posts it to the center")
    func report() async throws {
        // The "center" is a second simulator: it has no /api/v1/banks/… endpoint, so it answers 404,
        // which shows that the notice reached it and that its answer comes back.
        try await withBank { center in
            try await withBank(centerURL: center.server.baseURL) { bank in
                let account = try await bank.openAccount(
                    requestId: "card-1", card: "6217000000000000001", date: Self.day)
                #expect(account.status == 200)
                let outcome = await bank.send(
                    "/control/report",
                    body: Data(#"{"kind": "loss", "cardNumber": "6217000000000000001", "noticeId": "b-1"}"#.utf8))
                guard case .answered(200, let body) = outcome else {
                    Issue.record("report: \(outcome)")
                    return
                }
                let answer = try JSONSerialization.jsonObject(with: body) as? [String: Any]
                #expect(answer?["status"] as? Int == 404)
                #expect((answer?["body"] as? String)?.contains("no such endpoint") == true)

                let unknown = await bank.send(
                    "/control/report", body: Data(#"{"kind": "loss", "cardNumber": "6217000000000000009"}"#.utf8))
                #expect(Self.status(unknown) == 404, "\(unknown)")
            }
        }
    }

    @Test("bad options: a clear error, no server")
    func badConfiguration() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("banksim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let short = directory.appendingPathComponent("short.hex")
        try Data("abcd".utf8).write(to: short)
        #expect(throws: BankSimulatorError.self) { try BankSimulatorConfiguration.readSecret(file: short.path) }
        #expect(throws: BankSimulatorError.self) {
            try BankSimulatorConfiguration.readSecret(file: directory.appendingPathComponent("absent").path)
        }
        let good = directory.appendingPathComponent("good.hex")
        try Data((String(repeating: "0123456789ABCDEF", count: 4) + "\n").utf8).write(to: good)
        #expect(try BankSimulatorConfiguration.readSecret(file: good.path).count == 32)

        let state = directory.appendingPathComponent("bank.jsonl").path
        let secret = BankSignature.newSecret()
        for configuration in [
            BankSimulatorConfiguration(bankCode: "ICBC", bin: "62A202", secret: secret, statePath: state),
            BankSimulatorConfiguration(bankCode: "ICBC", bin: "62220", secret: secret, statePath: state),
            BankSimulatorConfiguration(bankCode: "", bin: "622202", secret: secret, statePath: state),
            BankSimulatorConfiguration(bankCode: "ICBC", bin: "622202", secret: Data([1, 2]), statePath: state),
            BankSimulatorConfiguration(
                bankCode: "ICBC", bin: "622202", accountNumberLength: 12, secret: secret, statePath: state),
            BankSimulatorConfiguration(
                bankCode: "ICBC", bin: "622202", secret: secret, centerURL: "ftp://x", statePath: state),
            BankSimulatorConfiguration(
                bankCode: "ICBC", bin: "622202", secret: secret, statePath: state, tlsCertificatePath: "/x.pem"),
        ] {
            await #expect(throws: BankSimulatorError.self) { _ = try await BankSimulatorServer.start(configuration) }
        }
    }

    @Test("bank simulate: bad options end with a message, not a crash")
    func commandFailures() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("banksim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let secret = directory.appendingPathComponent("secret.hex")
        try Data(String(repeating: "ab", count: 32).utf8).write(to: secret)
        let state = directory.appendingPathComponent("bank.jsonl").path
        let cases: [(arguments: [String], message: String)] = [
            (["--bin", "62A202", "--secret-file", secret.path], "BIN"),
            (["--bin", "622202", "--secret-file", directory.appendingPathComponent("absent").path], "secret file"),
            (["--bin", "622202", "--secret-file", secret.path, "--length", "30"], "length"),
            (["--bin", "622202", "--secret-file", secret.path, "--tls-certificate", "/absent.pem"], "TLS"),
        ]
        for (arguments, message) in cases {
            let command = try BankSimulateCommand.parse(["--code", "ICBC", "--state", state] + arguments)
            do {
                try await command.run()
                Issue.record("\(arguments) ran")
            } catch {
                #expect(String(describing: error).contains(message), "\(arguments): \(error)")
            }
        }
    }

    static func status(_ outcome: BankLink.Outcome) -> Int? {
        if case .answered(let status, _) = outcome { status } else { nil }
    }
}

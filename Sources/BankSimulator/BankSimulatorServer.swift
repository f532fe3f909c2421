import BankLink
import BankProtocol
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A partner bank on a loopback port, for tests and demos (issue 20): it opens accounts, takes the
/// center's notices once each, answers reconciliation, and sends its own notices to the center; a
/// control API (`/control/…`, unsigned) switches it to slow, failing or silent answers and shows
/// what it holds. Plain SwiftNIO, so that it can close a connection without answering.
public final class BankSimulatorServer: Sendable {
    public let configuration: BankSimulatorConfiguration
    /// The port it listens on (the one the system picked when the configuration says 0).
    public let port: Int
    let handler: RequestHandler
    let serverChannel: any Channel
    let connections: ConnectionSet
    let accepting: Task<Void, Never>
    let stopped = Mutex(false)

    init(
        configuration: BankSimulatorConfiguration, port: Int, handler: RequestHandler, serverChannel: any Channel,
        connections: ConnectionSet, accepting: Task<Void, Never>
    ) {
        self.configuration = configuration
        self.port = port
        self.handler = handler
        self.serverChannel = serverChannel
        self.connections = connections
        self.accepting = accepting
    }

    /// `http://HOST:PORT` or `https://HOST:PORT`: the base URL the center sends its requests to.
    public var baseURL: String {
        let scheme = configuration.tlsCertificatePath == nil ? "http" : "https"
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "\(scheme)://\(host):\(port)"
    }

    /// Replays the journal, then listens. Throws a `BankSimulatorError` for a bad configuration, an
    /// unreadable journal or TLS files, or an address it cannot bind.
    public static func start(_ configuration: BankSimulatorConfiguration) async throws -> BankSimulatorServer {
        try configuration.validate()
        let tls = try tlsContext(configuration)
        let ledger = try SimulatorLedger(configuration: configuration)
        let link: BankLink
        do {
            link = try BankLink(trustRoots: configuration.centerTrustRoots)
        } catch {
            ledger.close()
            throw BankSimulatorError("cannot read the center's trust roots: \(error)")
        }
        let handler = RequestHandler(configuration: configuration, ledger: ledger, link: link)
        let connections = ConnectionSet()
        let serverChannel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            serverChannel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .bind(host: configuration.host, port: configuration.port) { channel in
                    connections.insert(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
                        }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            await link.shutdown()
            try? await handler.journalThreads.shutdownGracefully()
            ledger.close()
            throw BankSimulatorError(
                "cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        let port = serverChannel.channel.localAddress?.port ?? configuration.port
        // Every connection's task runs on threads of the bank's own (the child tasks inherit the
        // preference): a process whose cooperative threads are all busy, or blocked in a
        // synchronous call (a test run is such a process), still gets its answers from the bank.
        let accepting = Task(executorPreference: BankThreads.shared) {
            await withDiscardingTaskGroup { group in
                do {
                    try await serverChannel.executeThenClose { inbound in
                        for try await connection in inbound {
                            group.addTask { await handler.serve(connection) }
                        }
                    }
                } catch {
                    // The listening socket closed: stopping.
                }
            }
        }
        return BankSimulatorServer(
            configuration: configuration, port: port, handler: handler, serverChannel: serverChannel.channel,
            connections: connections, accepting: accepting)
    }

    static func tlsContext(_ configuration: BankSimulatorConfiguration) throws(BankSimulatorError) -> NIOSSLContext? {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else {
            return nil
        }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            guard !chain.isEmpty else { throw BankSimulatorError("no certificate in \(certificatePath)") }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            let tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: tls)
        } catch let error as BankSimulatorError {
            throw error
        } catch {
            throw BankSimulatorError("cannot use the TLS certificate \(certificatePath) and key \(keyPath): \(error)")
        }
    }

    /// Stops listening, closes every connection, waits for the requests in progress, closes the
    /// journal. Idempotent.
    public func stop() async {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        try? await serverChannel.close()
        connections.closeAll()
        accepting.cancel()
        await accepting.value
        await handler.link.shutdown()
        try? await handler.journalThreads.shutdownGracefully()
        handler.ledger.close()
    }

    // MARK: In-process control (the same as `/control/…`)

    /// What the bank holds now (`GET /control/state`).
    public func snapshot() -> BankSimulatorSnapshot { handler.ledger.snapshot() }

    /// `POST /control/mode`; `delayMs` nil keeps the delay.
    public func setMode(_ mode: BankSimulatorMode, delayMs: Int? = nil) {
        handler.ledger.setMode(mode, delayMs: delayMs)
    }

    /// `POST /control/refuse`: the id numbers whose account requests the bank refuses (422).
    public func setRefused(_ idNumbers: Set<String>) { handler.ledger.setRefused(idNumbers) }
}

/// The open connections, closed on stop (keep-alive connections would otherwise stay open).
final class ConnectionSet: Sendable {
    let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: id) }
        }
    }

    func closeAll() {
        let open = channels.withLock { Array($0.values) }
        for channel in open { channel.close(promise: nil) }
    }
}

/// Runs the bank's tasks on Dispatch threads instead of Swift's cooperative pool, whose few
/// threads (one per core) a busy process can hold for seconds at a time.
final class BankThreads: TaskExecutor {
    static let shared = BankThreads()

    let queue = DispatchQueue(label: "bank-simulator", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

// MARK: - Requests

/// One request, body read in full.
struct IncomingRequest: Sendable {
    var method: String
    var uri: String
    var headers: HTTPHeaders
    var body: Data

    var path: Substring { uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }

    func queryItem(_ name: String) -> String? {
        URLComponents(string: uri)?.queryItems?.first { $0.name == name }?.value
    }
}

enum Reply: Sendable {
    /// Close the connection without answering.
    case drop
    case answer(status: Int, body: Data, delay: Duration? = nil)
}

final class RequestHandler: Sendable {
    static let maxBodyBytes = 1 << 20

    let configuration: BankSimulatorConfiguration
    let ledger: SimulatorLedger
    let link: BankLink
    let signature: BankSignature
    /// The journal's writes (an fsync each) run on a thread of the bank's own: on the process's
    /// shared pool they could wait behind other work of a busy process (a test run's password
    /// hashing), and a client would see a loopback bank hang.
    let journalThreads: NIOThreadPool

    init(configuration: BankSimulatorConfiguration, ledger: SimulatorLedger, link: BankLink) {
        self.configuration = configuration
        self.ledger = ledger
        self.link = link
        self.signature = BankSignature(secret: configuration.secret)
        self.journalThreads = NIOThreadPool(numberOfThreads: 1)
        journalThreads.start()
    }

    /// Reads requests from one connection and answers them in order until it closes.
    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead? = nil
                var body = ByteBuffer()
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let received):
                        head = received
                        body.clear()
                        tooLarge = false
                    case .body(var chunk):
                        if body.readableBytes + chunk.readableBytes > Self.maxBodyBytes {
                            tooLarge = true
                        } else if !tooLarge {
                            body.writeBuffer(&chunk)
                        }
                    case .end:
                        guard let request = head else { return }
                        head = nil
                        let reply: Reply
                        if tooLarge {
                            reply = .answer(status: 413, body: Self.error("the body is larger than 1 MiB"))
                        } else {
                            reply = await handle(
                                IncomingRequest(
                                    method: request.method.rawValue, uri: request.uri, headers: request.headers,
                                    body: Data(body.readableBytesView)))
                        }
                        guard case .answer(let status, let json, let delay) = reply else { return }
                        if let delay { try await Task.sleep(for: delay) }
                        let keepAlive = request.isKeepAlive && !tooLarge
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: "application/json")
                        headers.add(name: "Content-Length", value: String(json.count))
                        if !keepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(
                            contentsOf: [
                                .head(
                                    HTTPResponseHead(
                                        version: request.version, status: HTTPResponseStatus(statusCode: status),
                                        headers: headers)),
                                .body(.byteBuffer(ByteBuffer(bytes: json))),
                                .end(nil),
                            ])
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            // The client went away, or the server is stopping.
        }
    }

    func handle(_ request: IncomingRequest) async -> Reply {
        let path = request.path
        if path.hasPrefix("/control/") { return await control(request, path: path) }
        let allowed: String
        switch path {
        case "/accounts", "/notices": allowed = "POST"
        case "/reconciliation": allowed = "GET"
        default: return .answer(status: 404, body: Self.error("no such endpoint"))
        }
        guard request.method == allowed else {
            return .answer(status: 405, body: Self.error("\(path) takes \(allowed)"))
        }
        let (mode, delayMs) = ledger.mode
        if mode == .drop { return .drop }
        let delay: Duration? = mode == .slow ? .milliseconds(delayMs) : nil
        if let failure = verify(request) {
            ledger.countRejected()
            return .answer(status: 401, body: Self.error(failure), delay: delay)
        }
        if mode == .error && path != "/reconciliation" {
            return .answer(status: 500, body: Self.error("the bank is failing (simulated)"), delay: delay)
        }
        let result: (status: Int, body: Data)
        switch path {
        case "/accounts":
            guard let account = try? JSONDecoder().decode(BankMessages.AccountRequest.self, from: request.body) else {
                return .answer(status: 400, body: Self.error("the body is not an account request"), delay: delay)
            }
            let ledger = self.ledger
            guard let answer = try? await journalThreads.runIfActive({ ledger.openAccount(account) }) else {
                return .answer(status: 503, body: Self.error("the bank is stopping"), delay: delay)
            }
            result = (answer.status, Self.json(answer.answer))
        case "/notices":
            guard let notice = try? JSONDecoder().decode(BankMessages.Notice.self, from: request.body) else {
                return .answer(status: 400, body: Self.error("the body is not a notice"), delay: delay)
            }
            let ledger = self.ledger
            guard let answer = try? await journalThreads.runIfActive({ ledger.receive(notice) }) else {
                return .answer(status: 503, body: Self.error("the bank is stopping"), delay: delay)
            }
            result = (answer.status, Self.json(answer.answer))
        default:
            guard let date = request.queryItem("date"), Self.isDate(date) else {
                return .answer(status: 400, body: Self.error("date=YYYY-MM-DD is required"), delay: delay)
            }
            result = (200, Self.json(ledger.statement(date: date)))
        }
        return .answer(status: result.status, body: result.body, delay: delay)
    }

    /// Nil when the request is signed by the center for this bank; else why not.
    func verify(_ request: IncomingRequest) -> String? {
        guard let code = request.headers.first(name: BankSignature.codeHeader) else {
            return BankSignature.Failure.missingHeaders.description
        }
        guard code == configuration.bankCode else { return "the \(BankSignature.codeHeader) is not this bank's code" }
        do {
            try signature.verify(
                direction: .toBank, bankCode: configuration.bankCode,
                timestamp: request.headers.first(name: BankSignature.timestampHeader),
                signature: request.headers.first(name: BankSignature.signatureHeader), method: request.method,
                path: request.uri, body: request.body, now: Int64(Date().timeIntervalSince1970))
            return nil
        } catch {
            return error.description
        }
    }

    static func isDate(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 10 else { return false }
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 7 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (0x30...0x39).contains(byte) else { return false }
            }
        }
        return true
    }

    // MARK: Control

    struct ModeRequest: Codable {
        var mode: BankSimulatorMode
        var delayMs: Int?
    }

    struct RefuseRequest: Codable {
        var idNumbers: [String]
    }

    struct ReportRequest: Codable {
        var kind: BankMessages.BankNoticeKind
        var cardNumber: String
        var noticeId: String?
        /// `valid` (the default), `wrong-key` or `stale`.
        var signing: String?
        /// The account to name when the bank opened none for the card.
        var accountNumber: String?
        /// The center's base URL, when it was not known at start (`--center`): a center started
        /// after the bank on a port of its own.
        var center: String?
    }

    struct ReportAnswer: Codable {
        var noticeId: String
        var status: Int
        var body: String
    }

    func control(_ request: IncomingRequest, path: Substring) async -> Reply {
        switch (request.method, path) {
        case ("GET", "/control/state"):
            return .answer(status: 200, body: Self.json(ledger.snapshot()))
        case ("POST", "/control/mode"):
            guard let change = try? JSONDecoder().decode(ModeRequest.self, from: request.body) else {
                return .answer(
                    status: 400,
                    body: Self.error("expected {\"mode\": \"normal\"|\"slow\"|\"error\"|\"drop\", \"delayMs\": n}"))
            }
            ledger.setMode(change.mode, delayMs: change.delayMs)
            let (mode, delayMs) = ledger.mode
            return .answer(status: 200, body: Self.json(ModeRequest(mode: mode, delayMs: delayMs)))
        case ("POST", "/control/refuse"):
            guard let change = try? JSONDecoder().decode(RefuseRequest.self, from: request.body) else {
                return .answer(status: 400, body: Self.error("expected {\"idNumbers\": [\"…\"]}"))
            }
            ledger.setRefused(Set(change.idNumbers))
            return .answer(status: 200, body: Self.json(change))
        case ("POST", "/control/report"):
            guard let report = try? JSONDecoder().decode(ReportRequest.self, from: request.body) else {
                return .answer(
                    status: 400,
                    body: Self.error(
                        "expected {\"kind\": \"loss\"|\"account_closed\", \"cardNumber\": \"…\", \"noticeId\": \"…\", "
                            + "\"signing\": \"valid\"|\"wrong-key\"|\"stale\"}"))
            }
            return await send(report)
        case (_, "/control/state"), (_, "/control/mode"), (_, "/control/refuse"), (_, "/control/report"):
            return .answer(status: 405, body: Self.error("wrong method for \(path)"))
        default:
            return .answer(status: 404, body: Self.error("no such endpoint"))
        }
    }

    /// Signs a notice of the bank's own and posts it to the center.
    func send(_ report: ReportRequest) async -> Reply {
        guard let centerURL = report.center ?? configuration.centerURL else {
            return .answer(status: 409, body: Self.error("no center URL is configured (--center)"))
        }
        guard BankLink.target(baseURL: centerURL, path: "/") != nil else {
            return .answer(status: 400, body: Self.error("center is not an http(s) URL"))
        }
        let signing = report.signing ?? "valid"
        guard ["valid", "wrong-key", "stale"].contains(signing) else {
            return .answer(status: 400, body: Self.error("signing is valid, wrong-key or stale"))
        }
        guard let accountNumber = report.accountNumber ?? ledger.accountNumber(forCard: report.cardNumber) else {
            return .answer(status: 404, body: Self.error("the bank opened no account for that card number"))
        }
        let now = Int64(Date().timeIntervalSince1970)
        let notice = BankMessages.BankNotice(
            noticeId: report.noticeId ?? UUID().uuidString.lowercased(), kind: report.kind,
            cardNumber: report.cardNumber, accountNumber: accountNumber, occurredAt: now)
        let request = BankLink.Request(
            baseURL: centerURL, path: "/api/v1/banks/\(configuration.bankCode)/notices", method: "POST",
            body: Self.json(notice), direction: .toCenter, bankCode: configuration.bankCode)
        let signature = signing == "wrong-key" ? BankSignature(secret: BankSignature.newSecret()) : self.signature
        let outcome = await link.send(request, signature: signature, timestamp: signing == "stale" ? now - 3600 : now)
        let answer: ReportAnswer
        switch outcome {
        case .answered(let status, let body):
            answer = ReportAnswer(
                noticeId: notice.noticeId, status: status, body: String(decoding: body, as: UTF8.self))
        case .noAnswer(let reason):
            answer = ReportAnswer(noticeId: notice.noticeId, status: 0, body: reason)
        }
        return .answer(status: 200, body: Self.json(answer))
    }

    // MARK: JSON

    static func json(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func error(_ reason: String) -> Data {
        json(["error": reason])
    }
}

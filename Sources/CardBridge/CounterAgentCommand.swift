package import ArgumentParser
import AsyncHTTPClient
import CommandSupport
import CounterAgentProtocol
import Dispatch
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOSSL
import SmartCard

#if canImport(Glibc)
    import Glibc
#endif

/// `citizencard counter-agent` (issue 21, part 5): runs on the counter's PC beside its card
/// reader, logs in as the operator, connects out to the server over a WebSocket and carries the
/// server's commands to the card in the reader and the card's answers back. It composes no command
/// and holds no key: a load's MAC2 comes from the server and goes to the card, the TAC goes back.
package struct CounterAgentCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "counter-agent",
        abstract: "Connect this counter's card reader to the server, for the operator's pages.",
        discussion: """
            Logs in as --user (the password from --password-file, or CITIZENCARD_PASSWORD), opens a \
            WebSocket to SERVER/api/v1/counter-agent and serves the card in the PC/SC reader to that \
            operator's console pages until stopped (SIGTERM or Ctrl-C). A lost connection is opened \
            again every --retry-interval seconds; an ended session logs in again. See \
            docs/counter-agent.md.
            """)

    @Option(help: "The server's address: http://HOST:PORT or https://HOST:PORT.")
    package var server: String

    @Option(help: "The operator's user name (counter staff of an outlet).")
    package var user: String

    @Option(help: "A file holding the operator's password (first line). Default: CITIZENCARD_PASSWORD.")
    package var passwordFile: String?

    @Option(help: "The PC/SC reader: its name, or a part of it that names one reader. Default: the first with a card.")
    package var reader: String?

    @Option(help: "The counter's terminal number, 12 hexadecimal digits (sent to the card in each load).")
    package var terminalId: String

    @Option(help: "PEM file of the certificate authorities to trust for an https server (default: the system's).")
    package var caFile: String?

    @Option(help: "Seconds between attempts to reach the server.")
    package var retryInterval: Double = 2

    package func validate() throws {
        guard let url = URL(string: server), let scheme = url.scheme, ["http", "https"].contains(scheme),
            url.host != nil, url.query == nil
        else {
            throw ValidationError("--server must be http://HOST:PORT or https://HOST:PORT; got \"\(server)\"")
        }
        guard terminalId.utf8.count == 12, CounterAgentMessage.isHex(terminalId, maxBytes: 6) else {
            throw ValidationError("--terminal-id must be 12 hexadecimal digits; got \"\(terminalId)\"")
        }
        guard retryInterval > 0, retryInterval <= 600 else {
            throw ValidationError("--retry-interval must be more than 0 and at most 600 seconds")
        }
        if caFile != nil && !server.hasPrefix("https:") { throw ValidationError("--ca-file is for an https server") }
    }

    package func run() async throws {
        let password = try readPassword()
        let base = server.hasSuffix("/") ? String(server.dropLast()) : server
        var tls: TLSConfiguration? = nil
        if base.hasPrefix("https:") {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile {
                do {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
                } catch {
                    throw CommandFailure(description: "cannot read the certificate authorities in \(caFile): \(error)")
                }
            }
            tls = configuration
        }
        let signals = Self.installStopHandlers()
        defer { withExtendedLifetime(signals) {} }
        let card = ReaderBridge(readerName: reader)
        var httpConfiguration = HTTPClient.Configuration()
        if let tls { httpConfiguration.tlsConfiguration = tls }
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        var logger = Logger(label: "counter-agent")
        logger.logLevel = .warning
        var token: String? = nil
        while true {
            do {
                if token == nil {
                    token = try await login(http, base: base, password: password)
                    say("logged in to \(base) as \(user)")
                }
                let outcome = try await connect(base: base, token: token!, tls: tls, card: card, logger: logger)
                say("the server closed the connection\(outcome.map { ": \($0)" } ?? "")")
            } catch let failure as CommandFailure {
                try? await http.shutdown()
                throw failure
            } catch AgentError.refused {
                // The session ended (expired, logged out, password changed): log in again.
                say("the server refused the session; logging in again")
                token = nil
            } catch {
                say("cannot reach \(base): \(error); trying again in \(retryInterval) s")
            }
            await card.end()
            try? await Task.sleep(for: .milliseconds(Int(retryInterval * 1000)))
        }
    }

    enum AgentError: Error { case refused }

    struct ServerAnswer: Error, CustomStringConvertible {
        var status: UInt
        var description: String { "the log-in answered HTTP \(status)" }
    }

    func readPassword() throws -> String {
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw CommandFailure(description: "cannot read the password file \(passwordFile)")
            }
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
        }
        if let password = ProcessInfo.processInfo.environment["CITIZENCARD_PASSWORD"], !password.isEmpty {
            return password
        }
        throw CommandFailure(description: "give the password with --password-file FILE or CITIZENCARD_PASSWORD")
    }

    /// `POST /api/v1/auth/login`: the session token. Wrong credentials end the agent (exit 1).
    func login(_ http: HTTPClient, base: String, password: String) async throws -> String {
        struct Login: Encodable { var username: String; var password: String }
        struct Answer: Decodable { var token: String }
        var request = HTTPClientRequest(url: base + "/api/v1/auth/login")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(Login(username: user, password: password))))
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        switch response.status.code {
        case 200:
            guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)) else {
                throw CommandFailure(description: "the server's answer to the log-in is not a session")
            }
            return answer.token
        case 401, 403, 422:
            throw CommandFailure(description: "the server refused the log-in of \(user) (HTTP \(response.status.code))")
        default:
            throw ServerAnswer(status: response.status.code)
        }
    }

    /// One WebSocket session: `hello`, then each request of the server answered in turn.
    func connect(
        base: String, token: String, tls: TLSConfiguration?, card: ReaderBridge, logger: Logger
    ) async throws -> String? {
        let url =
            (base.hasPrefix("https:") ? "wss:" : "ws:") + base.drop { $0 != ":" }.dropFirst()
            + CounterAgentMessage.path
        var configuration = WebSocketClientConfiguration(maxFrameSize: 2 * CounterAgentMessage.maxBytes)
        configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        let terminal = terminalId.uppercased()
        let readerName = reader ?? "(the first reader with a card)"
        do {
            let close = try await WebSocketClient.connect(
                url: url, configuration: configuration, tlsConfiguration: tls, logger: logger
            ) { inbound, outbound, _ in
                let hello = CounterAgentMessage.Hello(reader: readerName, terminalId: terminal)
                try await outbound.write(.text(String(decoding: try JSONEncoder().encode(hello), as: UTF8.self)))
                for try await message in inbound.messages(maxSize: CounterAgentMessage.maxBytes) {
                    guard case .text(let text) = message else { continue }
                    let data = Data(text.utf8)
                    if let welcome = try? JSONDecoder().decode(CounterAgentMessage.Welcome.self, from: data),
                        welcome.type == "welcome"
                    {
                        say("serving the reader for \(welcome.operator) (terminal \(terminal))")
                        continue
                    }
                    guard let request = try? JSONDecoder().decode(CounterAgentMessage.Request.self, from: data) else {
                        continue
                    }
                    let result = await card.handle(request)
                    try await outbound.write(.text(String(decoding: try JSONEncoder().encode(result), as: UTF8.self)))
                }
            }
            return close?.reason
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            throw AgentError.refused
        }
    }

    /// SIGTERM and SIGINT end the agent at once with status 0 (the server sees the connection
    /// close; a load in progress is settled from the card later).
    static func installStopHandlers() -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                say("stopping (\(number == SIGTERM ? "SIGTERM" : "SIGINT"))")
                Glibc.exit(0)
            }
            source.resume()
            return source
        }
    }
}

/// The PC/SC side of the agent: every call runs on one thread of its own (PC/SC calls block),
/// one card connection at a time.
actor ReaderBridge {
    let readerName: String?
    let queue = DispatchQueue(label: "counter-agent.pcsc")
    /// Touched on `queue` only.
    nonisolated(unsafe) var context: PCSCContext?
    nonisolated(unsafe) var card: PCSCCard?

    init(readerName: String?) { self.readerName = readerName }

    func handle(_ request: CounterAgentMessage.Request) async -> CounterAgentMessage.Result {
        switch request.type {
        case .begin:
            return await onQueue { bridge in bridge.begin(id: request.id) }
        case .transmit:
            guard let command = request.command, CounterAgentMessage.isHex(command, maxBytes: 261),
                command.utf8.count >= 8
            else { return .init(id: request.id, error: .reader, message: "the command is not an APDU") }
            let bytes = CounterAgentMessage.bytes(command)
            return await onQueue { bridge in bridge.transmit(bytes, id: request.id) }
        case .end:
            await end()
            return .init(id: request.id)
        }
    }

    func end() async {
        await onQueue { bridge in
            bridge.card?.disconnect()
            bridge.card = nil
            bridge.context?.release()
            bridge.context = nil
        }
    }

    private func onQueue<T: Sendable>(_ work: @escaping @Sendable (ReaderBridge) -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work(self)) }
        }
    }

    nonisolated func begin(id: Int64) -> CounterAgentMessage.Result {
        card?.disconnect()
        card = nil
        context?.release()
        context = nil
        do throws(PCSCError) {
            let established = try PCSCContext.establish()
            context = established
            let readers = try established.candidateReaders(named: readerName)
            card = try established.connectFirstCard(in: readers)
            return .init(id: id)
        } catch .noCard {
            return .init(id: id, error: .noCard, message: "there is no card in the reader")
        } catch {
            return .init(id: id, error: .reader, message: error.description)
        }
    }

    nonisolated func transmit(_ command: [UInt8], id: Int64) -> CounterAgentMessage.Result {
        guard var connected = card else {
            return .init(id: id, error: .reader, message: "no card session: begin first")
        }
        do {
            let response = try connected.transmit(command)
            card = connected
            return .init(id: id, response: CounterAgentMessage.hex(response))
        } catch {
            card = connected
            let reason = connected.lastFailure?.description ?? "the card did not answer"
            return .init(
                id: id, error: .noAnswer,
                message: "command \(CounterAgentMessage.hex(Array(command.prefix(2)))): \(reason)")
        }
    }
}

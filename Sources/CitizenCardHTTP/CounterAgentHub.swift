import CitizenCardDomain
import CitizenCardServices
import CounterAgentProtocol
import Foundation
import HummingbirdWebSocket
public import Logging
import NIOCore

/// The counter agents connected to this server, one per operator (issue 21, part 5): an agent
/// logs in as the operator at the counter and connects over a WebSocket; the operator's pages then
/// drive the card in that counter's reader through it. A second agent of the same operator
/// replaces the first.
public actor CounterAgentHub {
    var agents: [Operator.ID: AgentConnection] = [:]
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// What a page shows about the operator's agent.
    struct Status: Sendable, Equatable {
        var reader: String
        var terminalID: String
        var connectedAt: Date
    }

    /// The reader of `actor`'s agent, if one is connected.
    func reader(for actor: Actor) -> AgentConnection? {
        actor.operatorID.flatMap { agents[$0] }
    }

    func status(for actor: Actor) -> Status? {
        reader(for: actor).map { Status(reader: $0.readerName, terminalID: $0.terminalID, connectedAt: $0.connectedAt) }
    }

    func register(_ connection: AgentConnection, for operatorID: Operator.ID) async {
        let previous = agents.updateValue(connection, forKey: operatorID)
        if let previous { await previous.close(reason: "another counter agent of the operator connected") }
    }

    func unregister(_ connection: AgentConnection, for operatorID: Operator.ID) {
        if agents[operatorID] === connection { agents[operatorID] = nil }
    }

    /// Seconds an agent has to say `hello`, and to answer each request.
    static let helloSeconds: Int64 = 10
    static let answerSeconds: Int64 = 20

    /// Serves one agent's WebSocket until it closes: its `hello`, then its answers.
    func serve(
        actor: Actor, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async {
        guard let operatorID = actor.operatorID else { return }
        var messages = inbound.messages(maxSize: CounterAgentMessage.maxBytes).makeAsyncIterator()
        let hello: CounterAgentMessage.Hello
        // An agent that says nothing is closed: its connection holds nothing for long.
        let helloTimer = Task {
            try await Task.sleep(for: .seconds(Self.helloSeconds))
            try? await outbound.close(.policyViolation, reason: "no hello")
        }
        do {
            let first = try await messages.next()
            helloTimer.cancel()
            guard case .text(let text)? = first,
                let decoded = try? JSONDecoder().decode(CounterAgentMessage.Hello.self, from: Data(text.utf8)),
                decoded.type == "hello", decoded.version == CounterAgentMessage.version,
                decoded.terminalId.utf8.count == 12, CounterAgentMessage.isHex(decoded.terminalId, maxBytes: 6),
                (1...200).contains(decoded.reader.count),
                // The reader's name reaches pages and the log: one line of plain text.
                (try? TextRule.check(decoded.reader, field: "reader", kind: .line)) != nil
            else {
                try? await outbound.close(.protocolError, reason: "the first message must be a valid hello")
                return
            }
            hello = decoded
        } catch {
            helloTimer.cancel()
            try? await outbound.close(.protocolError, reason: "no hello")
            return
        }
        let connection = AgentConnection(
            outbound: outbound, readerName: hello.reader, terminalID: hello.terminalId.uppercased())
        await register(connection, for: operatorID)
        logger.info(
            "counter agent connected",
            metadata: ["actor": "\(actor.name)", "reader": "\(hello.reader)", "terminal": "\(connection.terminalID)"])
        let welcome = (try? JSONEncoder().encode(CounterAgentMessage.Welcome(operator: actor.name))) ?? Data()
        try? await outbound.write(.text(String(decoding: welcome, as: UTF8.self)))
        do {
            while let message = try await messages.next() {
                guard case .text(let text) = message,
                    let result = try? JSONDecoder().decode(CounterAgentMessage.Result.self, from: Data(text.utf8)),
                    result.type == "result"
                else {
                    try? await outbound.close(.protocolError, reason: "expected a result")
                    break
                }
                await connection.deliver(result)
            }
        } catch {
            // The connection broke.
        }
        unregister(connection, for: operatorID)
        await connection.fail(reason: "the counter agent disconnected")
        logger.info("counter agent disconnected", metadata: ["actor": "\(actor.name)"])
    }
}

/// One connected agent: the reader of its counter, as a `CounterReader`. One operation at a time
/// (`begin` to `end`); each request waits for its answer at most `CounterAgentHub.answerSeconds`.
actor AgentConnection: CounterReader {
    let outbound: WebSocketOutboundWriter
    nonisolated let readerName: String
    nonisolated let terminalID: String
    nonisolated let connectedAt = Date()
    var nextID: Int64 = 1
    var waiting: [Int64: CheckedContinuation<CounterAgentMessage.Result, Never>] = [:]
    var busy = false
    var closed: String?

    init(outbound: WebSocketOutboundWriter, readerName: String, terminalID: String) {
        self.outbound = outbound
        self.readerName = readerName
        self.terminalID = terminalID
    }

    func begin() async throws(CounterReaderError) {
        guard closed == nil else { throw .noAgent }
        guard !busy else { throw .busy }
        busy = true
        let result = await request(.begin)
        if let error = result.error {
            busy = false
            throw error == .noCard ? .noCard : .noAnswer(result.message ?? error.rawValue)
        }
    }

    func transmit(_ command: [UInt8]) async throws(CounterReaderError) -> [UInt8] {
        let result = await request(.transmit, command: CounterAgentMessage.hex(command))
        if let error = result.error { throw .noAnswer(result.message ?? error.rawValue) }
        guard let response = result.response, CounterAgentMessage.isHex(response, maxBytes: 258), response.count >= 4
        else { throw .noAnswer("the agent's answer is not an APDU response") }
        return CounterAgentMessage.bytes(response)
    }

    func end() async {
        _ = await request(.end)
        busy = false
    }

    /// Sends a request and waits for its result (or a failure after the deadline or a close).
    func request(_ kind: CounterAgentMessage.Request.Kind, command: String? = nil) async -> CounterAgentMessage.Result {
        let id = nextID
        nextID += 1
        if let closed { return .init(id: id, error: .noAnswer, message: closed) }
        let message = CounterAgentMessage.Request(type: kind, id: id, command: command)
        guard let json = try? JSONEncoder().encode(message) else {
            return .init(id: id, error: .reader, message: "cannot encode the request")
        }
        let outbound = self.outbound
        let deadline = Task {
            try await Task.sleep(for: .seconds(CounterAgentHub.answerSeconds))
            self.deliver(.init(id: id, error: .noAnswer, message: "the counter agent did not answer in time"))
        }
        defer { deadline.cancel() }
        return await withCheckedContinuation { continuation in
            waiting[id] = continuation
            Task {
                do {
                    try await outbound.write(.text(String(decoding: json, as: UTF8.self)))
                } catch {
                    self.deliver(.init(id: id, error: .noAnswer, message: "the counter agent went away"))
                }
            }
        }
    }

    /// An answer from the agent (or a failure on its behalf); unknown or repeated ids are ignored.
    func deliver(_ result: CounterAgentMessage.Result) {
        waiting.removeValue(forKey: result.id)?.resume(returning: result)
    }

    /// The connection is gone: every waiting request fails.
    func fail(reason: String) {
        closed = closed ?? reason
        for (id, continuation) in waiting {
            continuation.resume(returning: .init(id: id, error: .noAnswer, message: reason))
        }
        waiting.removeAll()
    }

    func close(reason: String) async {
        fail(reason: reason)
        try? await outbound.close(.normalClosure, reason: reason)
    }
}

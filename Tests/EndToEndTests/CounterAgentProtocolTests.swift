import CounterAgentProtocol
import Foundation
import HummingbirdWSClient
import Logging
import Synchronization
import Testing

/// The server's side of the counter agent's WebSocket against a hostile agent (issue 21): a
/// first message that is not a valid `hello` (not JSON, a wrong version, a reader name with a
/// control character), a frame above the size limit, and answers nobody asked for. Each bad
/// message closes the connection with a protocol error; an unasked result is ignored; the server
/// goes on serving.
@Suite("Counter agent: hostile messages", .serialized)
struct CounterAgentProtocolTests {
    /// What one session saw: the messages the server sent, and the close frame it ended with.
    struct Session {
        var received: [String] = []
        /// The close frame's code, as text (`protocolError` …); nil: no close frame.
        var closeCode: String?
    }

    static func session(
        _ server: Server, token: String, send: [String]
    ) async throws -> Session {
        let url = "ws:" + server.baseURL.drop { $0 != ":" }.dropFirst() + CounterAgentMessage.path
        var configuration = WebSocketClientConfiguration(maxFrameSize: 4 * CounterAgentMessage.maxBytes)
        configuration.additionalHeaders[.authorization] = "Bearer \(token)"
        let received = Mutex<[String]>([])
        let close = try await WebSocketClient.connect(
            url: url, configuration: configuration, logger: Logger(label: "hostile-agent")
        ) { inbound, outbound, _ in
            for text in send { try await outbound.write(.text(text)) }
            for try await message in inbound.messages(maxSize: 1 << 16) {
                if case .text(let text) = message { received.withLock { $0.append(text) } }
            }
        }
        return Session(received: received.withLock { $0 }, closeCode: close.map { "\($0.closeCode)" })
    }

    static func hello(version: Int = CounterAgentMessage.version, reader: String = "ACS ACR39U 00 00") -> String {
        let hello = CounterAgentMessage.Hello(version: version, reader: reader, terminalId: "330900000001")
        return String(decoding: (try? JSONEncoder().encode(hello)) ?? Data(), as: UTF8.self)
    }

    @Test(
        "counter-agent refuses bad options with a message naming the option, before it connects",
        arguments: [
            (["--server", "ftp://x", "--terminal-id", "330900000001"], "--server"),
            (["--server", "http://127.0.0.1:1/?a=b", "--terminal-id", "330900000001"], "--server"),
            (["--server", "http://127.0.0.1:1", "--terminal-id", "33090000000"], "--terminal-id"),
            (["--server", "http://127.0.0.1:1", "--terminal-id", "33090000000G"], "--terminal-id"),
            (
                ["--server", "http://127.0.0.1:1", "--terminal-id", "330900000001", "--retry-interval", "0"],
                "--retry-interval"
            ),
            (
                ["--server", "http://127.0.0.1:1", "--terminal-id", "330900000001", "--retry-interval", "601"],
                "--retry-interval"
            ),
            (["--server", "http://127.0.0.1:1", "--terminal-id", "330900000001", "--ca-file", "ca.pem"], "--ca-file"),
            (["--terminal-id", "330900000001"], "--server"),
        ])
    func refusedOptions(arguments: [String], option: String) throws {
        let scratch = try Scratch()
        let run = try scratch.run(["counter-agent", "--user", "dh01.operator"] + arguments)
        #expect(run.status != 0 && run.errors.contains(option), "\(run.status) \(run.errors)")
    }

    @Test("APDU hex: bytes round-trip through the messages' hex, either case; isHex refuses odd, foreign or long text")
    func hexRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 5, 258] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = CounterAgentMessage.hex(bytes)
            #expect(CounterAgentMessage.isHex(text, maxBytes: 258))
            #expect(CounterAgentMessage.bytes(text) == bytes && CounterAgentMessage.bytes(text.lowercased()) == bytes)
        }
        for bad in ["9", "900", "90 0", "9G00", "９０", "90\u{0}0"] {
            #expect(!CounterAgentMessage.isHex(bad, maxBytes: 258), "\(bad)")
        }
        #expect(!CounterAgentMessage.isHex(String(repeating: "00", count: 259), maxBytes: 258))
    }

    @Test(
        "a bad hello, an oversized frame or a message that is not a result closes the agent; an unasked result is ignored"
    )
    func hostile() async throws {
        let scratch = try Scratch()
        let server = try Server(scratch: scratch, arguments: ["--demo-persons", "2", "--no-demo-bank"])
        defer { server.stop() }
        let token = try await server.login(CounterAgentEndToEndTests.clerk)

        // Refused before the agent is registered: no welcome, a protocol error.
        let badFirst = [
            "not json", #"{"type":"result","id":1}"#, Self.hello(version: 99), Self.hello(reader: ""),
            Self.hello(reader: "Reader\u{1B}[31m red"), Self.hello(reader: "Reader\u{0}"),
            Self.hello(reader: "Reader\u{202E}evil"), Self.hello(reader: String(repeating: "R", count: 201)),
            #"{"type":"hello","version":1,"reader":"R","terminalId":"33090000000G"}"#,
        ]
        for message in badFirst {
            let session = try await Self.session(server, token: token, send: [message])
            #expect(session.received.isEmpty, "\(message): \(session.received)")
            #expect(session.closeCode == "protocolError", "\(message): \(session.closeCode ?? "no close frame")")
        }

        // A valid hello is welcomed; a result nobody asked for (or asked for already) is ignored,
        // and the next message that is not a result closes the connection.
        let unasked = #"{"type":"result","id":987654321,"response":"9000"}"#
        let ignored = try await Self.session(server, token: token, send: [Self.hello(), unasked, unasked, "[]"])
        #expect(ignored.received.count == 1 && ignored.received[0].contains("\"welcome\""), "\(ignored.received)")
        #expect(ignored.closeCode == "protocolError")
        let oddHex = #"{"type":"result","id":1,"response":"900"}"#
        let odd = try await Self.session(server, token: token, send: [Self.hello(), oddHex, "{}"])
        #expect(odd.received.count == 1 && odd.closeCode == "protocolError", "\(odd.received)")

        // A frame above the limit.
        let huge = String(repeating: "A", count: CounterAgentMessage.maxBytes + 1)
        let oversized = try await Self.session(server, token: token, send: [Self.hello(), huge])
        #expect(oversized.received.count == 1, "\(oversized.received)")
        #expect(
            oversized.closeCode != nil && oversized.closeCode != "normalClosure",
            "\(String(describing: oversized.closeCode))")

        // The server goes on: a valid agent is still welcomed.
        let after = try await Self.session(server, token: token, send: [Self.hello(), "bye"])
        #expect(after.received.first?.contains("\"welcome\"") == true)
        #expect(try await server.send("GET", "/health").status == 200)
    }
}

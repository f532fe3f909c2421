/// The messages between the server and a counter agent (`citizencard counter-agent`), as JSON in
/// WebSocket text frames (docs/counter-agent.md). The server asks, the agent answers each request
/// by its id; the agent never composes a command of its own.
public enum CounterAgentMessage {
    /// The protocol's version, in `hello`.
    public static let version = 1
    /// The WebSocket path on the server.
    public static let path = "/api/v1/counter-agent"
    /// The largest message either side sends (a command or an answer is at most 261 bytes).
    public static let maxBytes = 4096

    /// The agent's first message.
    public struct Hello: Codable, Sendable, Equatable {
        public var type = "hello"
        public var version: Int
        /// The PC/SC reader the agent uses.
        public var reader: String
        /// The counter's terminal number (12 hex digits), sent to the card in INITIALIZE FOR LOAD.
        public var terminalId: String

        public init(version: Int = CounterAgentMessage.version, reader: String, terminalId: String) {
            self.version = version
            self.reader = reader
            self.terminalId = terminalId
        }
    }

    /// The server's answer to `hello`: whose counter this agent now serves.
    public struct Welcome: Codable, Sendable, Equatable {
        public var type = "welcome"
        public var `operator`: String

        public init(operator: String) { self.operator = `operator` }
    }

    /// A request from the server.
    public struct Request: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable {
            /// Connect to the card in the reader and begin a PC/SC transaction.
            case begin
            /// Send `command` (hex) to the card.
            case transmit
            /// End the transaction and leave the card.
            case end
        }

        public var type: Kind
        public var id: Int64
        public var command: String?

        public init(type: Kind, id: Int64, command: String? = nil) {
            self.type = type
            self.id = id
            self.command = command
        }
    }

    /// The agent's answer to one request: `response` (hex, with the status word) for `transmit`,
    /// or `error` with a message.
    public struct Result: Codable, Sendable, Equatable {
        public enum Failure: String, Codable, Sendable {
            /// No card in the reader (`begin`).
            case noCard = "no_card"
            /// The card left, or the reader failed, before the answer came.
            case noAnswer = "no_answer"
            /// No reader, no PC/SC service, or a request the agent cannot carry out.
            case reader
        }

        public var type = "result"
        public var id: Int64
        public var response: String?
        public var error: Failure?
        public var message: String?

        public init(id: Int64, response: String? = nil, error: Failure? = nil, message: String? = nil) {
            self.id = id
            self.response = response
            self.error = error
            self.message = message
        }
    }

    /// Bytes as upper-case hex, as the messages carry APDUs.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Hex already checked by `isHex` (either case) to bytes.
    public static func bytes(_ hex: String) -> [UInt8] {
        func value(_ c: UInt8) -> UInt8 {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            default: c - 87
            }
        }
        let utf8 = Array(hex.utf8)
        return stride(from: 0, to: utf8.count - 1, by: 2).map { value(utf8[$0]) << 4 | value(utf8[$0 + 1]) }
    }

    /// Whether `text` is an even number of hex digits, at most `maxBytes` bytes' worth.
    public static func isHex(_ text: String, maxBytes: Int) -> Bool {
        let utf8 = text.utf8
        return utf8.count % 2 == 0 && utf8.count <= 2 * maxBytes
            && utf8.allSatisfy { (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }
    }
}

public import Foundation
import Crypto

/// The signature on every message between the center and a bank (docs/banks.md "Signatures"):
/// HMAC-SHA256 under the secret the two share, over
///
///     "CCB1" LF direction LF bank-code LF timestamp LF METHOD LF path-and-query LF hex(SHA-256(body))
///
/// sent as `CC-Bank-Code`, `CC-Bank-Timestamp` (Unix seconds) and `CC-Bank-Signature` (`v1=` and
/// 64 hex digits). The direction (`to-bank` or `to-center`) is signed, so a message cannot be
/// reflected back to its sender; the timestamp is signed and must be within `window` of the
/// receiver's clock, so an old message cannot be replayed later; within the window, the
/// receiver's idempotency by notice id makes a replay change nothing.
public struct BankSignature: Sendable {
    public enum Direction: String, Sendable {
        case toBank = "to-bank"
        case toCenter = "to-center"
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case missingHeaders
        case malformed
        case stale
        case mismatch

        public var description: String {
            switch self {
            case .missingHeaders: "the CC-Bank-Code, CC-Bank-Timestamp and CC-Bank-Signature headers are required"
            case .malformed: "the signature headers are malformed"
            case .stale: "the timestamp is outside the allowed window"
            case .mismatch: "the signature does not match"
            }
        }
    }

    public static let codeHeader = "CC-Bank-Code"
    public static let timestampHeader = "CC-Bank-Timestamp"
    public static let signatureHeader = "CC-Bank-Signature"
    /// How far a timestamp may be from the receiver's clock.
    public static let defaultWindowSeconds: Int64 = 300
    /// Secrets are 32 to 128 bytes.
    public static let secretBytes = 32...128

    let key: SymmetricKey

    public init(secret: some DataProtocol) {
        self.key = SymmetricKey(data: Data(secret))
    }

    /// A new random secret of 32 bytes.
    public static func newSecret() -> Data {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
    }

    static func canonical(
        direction: Direction, bankCode: String, timestamp: Int64, method: String, path: String, body: some DataProtocol
    ) -> Data {
        let bodyHash = SHA256.hash(data: Data(body)).map { String(format: "%02x", $0) }.joined()
        return Data(
            "CCB1\n\(direction.rawValue)\n\(bankCode)\n\(timestamp)\n\(method.uppercased())\n\(path)\n\(bodyHash)".utf8)
    }

    /// The three headers for a message.
    public func headers(
        direction: Direction, bankCode: String, timestamp: Int64, method: String, path: String, body: some DataProtocol
    ) -> [(name: String, value: String)] {
        let mac = HMAC<SHA256>.authenticationCode(
            for: Self.canonical(
                direction: direction, bankCode: bankCode, timestamp: timestamp, method: method, path: path, body: body),
            using: key)
        return [
            (Self.codeHeader, bankCode), (Self.timestampHeader, String(timestamp)),
            (Self.signatureHeader, "v1=" + HexText.encode(Data(mac))),
        ]
    }

    /// Checks a received message's headers (`nil` where absent); the comparison is constant-time.
    public func verify(
        direction: Direction, bankCode: String, timestamp: String?, signature: String?, method: String, path: String,
        body: some DataProtocol, now: Int64, window: Int64 = defaultWindowSeconds
    ) throws(Failure) {
        guard let timestamp, let signature else { throw .missingHeaders }
        guard timestamp.utf8.count <= 12, let seconds = Int64(timestamp), signature.hasPrefix("v1="),
            let mac = HexText.decode(signature.dropFirst(3)), mac.count == 32
        else { throw .malformed }
        guard abs(now - seconds) <= window else { throw .stale }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            mac,
            authenticating: Self.canonical(
                direction: direction, bankCode: bankCode, timestamp: seconds, method: method, path: path, body: body),
            using: key)
        guard valid else { throw .mismatch }
    }
}

/// Bank card numbers: the bank's BIN, digits, a Luhn check digit (ISO/IEC 7812).
public enum BankCardNumber {
    public static let lengths = 16...19

    /// The Luhn check digit of `digits`.
    public static func luhnDigit(for digits: some StringProtocol) -> Int {
        var sum = 0
        for (offset, byte) in digits.utf8.reversed().enumerated() {
            var digit = Int(byte &- 0x30)
            if offset % 2 == 0 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return (10 - sum % 10) % 10
    }

    /// Digits only, 16-19 long, a valid Luhn digit.
    public static func isWellFormed(_ number: String) -> Bool {
        guard lengths.contains(number.utf8.count), number.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            return false
        }
        return luhnDigit(for: number.dropLast()) == Int(number.utf8.last! - 0x30)
    }

    /// The number made of `bin`, `sequence` zero-padded, and the check digit, `length` digits long
    /// (longer when the sequence does not fit: a bank that ran out of numbers).
    public static func make(bin: String, sequence: Int64, length: Int = 19) -> String {
        let bodyLength = length - 1 - bin.utf8.count
        let text = String(sequence)
        let body = bin + String(repeating: "0", count: max(0, bodyLength - text.count)) + text
        return body + String(luhnDigit(for: body))
    }

    /// `622202******1234`: the BIN and the last four, the rest masked.
    public static func masked(_ number: String) -> String {
        let digits = Array(number)
        guard digits.count > 10 else { return String(repeating: "*", count: digits.count) }
        return String(digits.prefix(6)) + String(repeating: "*", count: digits.count - 10) + String(digits.suffix(4))
    }
}

/// Bytes as lowercase hex, and hex (either case) as bytes: secrets in files and signatures.
public enum HexText {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// nil unless every character is a hex digit and there is an even number of them.
    public static func decode(_ text: some StringProtocol) -> Data? {
        var bytes = Data()
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8? = nil
        for c in text.utf8 {
            let value: UInt8
            switch c {
            case 0x30...0x39: value = c - 0x30
            case 0x61...0x66: value = c - 0x61 + 10
            case 0x41...0x46: value = c - 0x41 + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return high == nil ? bytes : nil
    }
}

/// A card's application serial number (ASN, 应用序列号): 10 bytes, written as 20 hex digits.
///
/// This system's own cards use decimal digits only (`CardNumbering.asn(prefix:sequence:)`: the
/// 4-digit city prefix, `0001`, a 12-digit sequence), so their bytes are BCD and the ASNs of one city
/// share their first bytes. The type accepts any 10 bytes (other issuers, other cities); the hotlist
/// format is just less compact for them.
///
/// Stored as two big-endian integers so that comparing them compares the bytes in order.
public struct CardASN: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 10
    /// The largest decimal value of a tail made of 16 BCD digits.
    static let decimalTailMax: UInt64 = 9_999_999_999_999_999

    /// Bytes 0–1, big-endian: the issuer's part, the hotlist format's group key.
    public let prefix: UInt16
    /// Bytes 2–9, big-endian.
    public let tail: UInt64

    public init(prefix: UInt16, tail: UInt64) {
        self.prefix = prefix
        self.tail = tail
    }

    /// Exactly 10 bytes, or nil.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var prefix: UInt16 = 0
        var tail: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 2 {
                prefix = prefix << 8 | UInt16(byte)
            } else {
                tail = tail << 8 | UInt64(byte)
            }
        }
        self.init(prefix: prefix, tail: tail)
    }

    /// Exactly 20 hex digits (either case), as in `Card.asn`; nil for anything else.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 2 * Self.byteCount else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = Self.nibble(digits[index]), let low = Self.nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        self.init(bytes: bytes)
    }

    /// The 10 bytes, most significant first.
    public var bytes: [UInt8] {
        (0..<2).map { UInt8(truncatingIfNeeded: prefix >> (8 * (1 - $0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: tail >> (8 * (7 - $0))) }
    }

    /// 20 uppercase hex digits.
    public var hex: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(2 * Self.byteCount)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }

    public static func < (lhs: CardASN, rhs: CardASN) -> Bool {
        (lhs.prefix, lhs.tail) < (rhs.prefix, rhs.tail)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

extension CardASN {
    /// The tail's 16 BCD digits read as a decimal number, or nil when a nibble is above 9.
    ///
    /// The mapping keeps the order, and decimal gaps are never larger than binary ones, which is why
    /// the format stores BCD tails this way.
    var decimalTail: UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 60, through: 0, by: -4) {
            let digit = (tail >> UInt64(shift)) & 0x0F
            guard digit <= 9 else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// The BCD tail whose decimal value is `value` (at most `decimalTailMax`).
    package static func bcdTail(decimal value: UInt64) -> UInt64 {
        precondition(value <= decimalTailMax, "at most 16 decimal digits")
        var rest = value
        var tail: UInt64 = 0
        for shift in stride(from: 0, through: 60, by: 4) {
            tail |= (rest % 10) << UInt64(shift)
            rest /= 10
        }
        return tail
    }
}

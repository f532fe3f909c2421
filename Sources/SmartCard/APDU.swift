/// A status word SW1 SW2 (CARDTECH.md §4). The card answers every command with one; the values
/// below are the only ones the software card uses.
public struct StatusWord: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// `9000` OK.
    public static let success = StatusWord(rawValue: 0x9000)
    /// `6700` wrong length (Lc, Le or the APDU itself).
    public static let wrongLength = StatusWord(rawValue: 0x6700)
    /// `6982` security status not satisfied (PIN not verified, MAC required).
    public static let securityStatusNotSatisfied = StatusWord(rawValue: 0x6982)
    /// `6983` PIN blocked (no tries left).
    public static let authenticationBlocked = StatusWord(rawValue: 0x6983)
    /// `6985` conditions of use not satisfied (wrong command sequence, no challenge).
    public static let conditionsNotSatisfied = StatusWord(rawValue: 0x6985)
    /// `6A81` function not supported (also: the application is temporarily blocked).
    public static let functionNotSupported = StatusWord(rawValue: 0x6A81)
    /// `6A82` file or application not found.
    public static let fileNotFound = StatusWord(rawValue: 0x6A82)
    /// `6A83` record not found.
    public static let recordNotFound = StatusWord(rawValue: 0x6A83)
    /// `6A86` incorrect P1 or P2 (including an offset beyond the end of a file).
    public static let incorrectP1P2 = StatusWord(rawValue: 0x6A86)
    /// `6A88` referenced key not found.
    public static let keyNotFound = StatusWord(rawValue: 0x6A88)
    /// `6D00` instruction not supported.
    public static let instructionNotSupported = StatusWord(rawValue: 0x6D00)
    /// `6E00` class not supported.
    public static let classNotSupported = StatusWord(rawValue: 0x6E00)
    /// `9302` MAC invalid.
    public static let macInvalid = StatusWord(rawValue: 0x9302)
    /// `9303` application permanently locked.
    public static let applicationPermanentlyLocked = StatusWord(rawValue: 0x9303)
    /// `9401` insufficient balance.
    public static let insufficientBalance = StatusWord(rawValue: 0x9401)
    /// `9402` transaction counter at its maximum.
    public static let counterAtMaximum = StatusWord(rawValue: 0x9402)
    /// `9403` key index not supported.
    public static let keyIndexNotSupported = StatusWord(rawValue: 0x9403)
    /// `9406` required MAC not available (no proof for the transaction asked for).
    public static let macNotAvailable = StatusWord(rawValue: 0x9406)

    /// `63Cx`: wrong PIN, `triesLeft` (0…15) tries left.
    public static func wrongPIN(triesLeft: Int) -> StatusWord {
        StatusWord(rawValue: 0x63C0 | UInt16(clamping: max(0, min(triesLeft, 15))))
    }

    public var sw1: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }
    public var sw2: UInt8 { UInt8(truncatingIfNeeded: rawValue) }

    /// `9000`, `6A82` …
    public var description: String { hex([sw1, sw2]) }
}

/// A command APDU in short form (ISO 7816-4 §5.1, CARDTECH.md §1): `CLA INS P1 P2 [Lc data] [Le]`.
///
/// | case | bytes | Lc | Le |
/// |---|---|---|---|
/// | 1 | 4 | — | — |
/// | 2 | 5 | — | byte 5 (`00` = 256) |
/// | 3 | 5 + Lc | byte 5 (1…255) | — |
/// | 4 | 6 + Lc | byte 5 (1…255) | last byte (`00` = 256) |
///
/// Extended lengths (a 5th byte `00` followed by more bytes) are not supported and are refused
/// as a wrong length, like any other byte count that fits no case.
public struct CommandAPDU: Sendable, Hashable {
    public let cla: UInt8
    public let ins: UInt8
    public let p1: UInt8
    public let p2: UInt8
    /// The command data (empty for cases 1 and 2).
    public let data: [UInt8]
    /// The expected response length, 1…256, or nil for cases 1 and 3.
    public let le: Int?

    /// The shortest APDU: the header alone.
    public static let headerByteCount = 4
    /// The longest short APDU: header, Lc, 255 data bytes, Le.
    public static let byteCountMax = 4 + 1 + 255 + 1

    /// Parses `bytes`; every byte count that fits none of the four cases throws `.wrongLength`.
    public init(bytes: [UInt8]) throws(CardStatusError) {
        guard bytes.count >= Self.headerByteCount, bytes.count <= Self.byteCountMax else {
            throw CardStatusError(.wrongLength)
        }
        cla = bytes[0]
        ins = bytes[1]
        p1 = bytes[2]
        p2 = bytes[3]
        if bytes.count == 4 {
            data = []
            le = nil
            return
        }
        let fifth = Int(bytes[4])
        if bytes.count == 5 {
            data = []
            le = fifth == 0 ? 256 : fifth
            return
        }
        // Lc = 00 with more bytes would be an extended length.
        guard fifth > 0 else { throw CardStatusError(.wrongLength) }
        switch bytes.count - 5 - fifth {
        case 0:
            data = Array(bytes[5...])
            le = nil
        case 1:
            data = Array(bytes[5..<(5 + fifth)])
            let last = Int(bytes[5 + fifth])
            le = last == 0 ? 256 : last
        default:
            throw CardStatusError(.wrongLength)
        }
    }

    /// A command from its fields; `data` of at most 255 bytes, `le` in 1…256 or nil.
    public init(cla: UInt8, ins: UInt8, p1: UInt8, p2: UInt8, data: [UInt8] = [], le: Int? = nil) {
        precondition(data.count <= 255, "short APDUs carry at most 255 data bytes")
        precondition(le.map { (1...256).contains($0) } ?? true, "Le must be 1…256")
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = data
        self.le = le
    }

    /// The encoded APDU, the inverse of `init(bytes:)`.
    public var bytes: [UInt8] {
        var out = [cla, ins, p1, p2]
        if !data.isEmpty { out += [UInt8(data.count)] + data }
        if let le { out.append(UInt8(truncatingIfNeeded: le)) }
        return out
    }
}

/// A response APDU: `[data] SW1 SW2`.
public struct ResponseAPDU: Sendable, Hashable, CustomStringConvertible {
    public let data: [UInt8]
    public let status: StatusWord

    public init(data: [UInt8] = [], status: StatusWord = .success) {
        self.data = data
        self.status = status
    }

    /// Parses card output; nil if it has fewer than the 2 status bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 2 else { return nil }
        data = Array(bytes.dropLast(2))
        status = StatusWord(rawValue: UInt16(bytes[bytes.count - 2]) << 8 | UInt16(bytes[bytes.count - 1]))
    }

    public var bytes: [UInt8] { data + [status.sw1, status.sw2] }

    /// `0000100000 9000`: the data in hex, a space, the status word. Purse answers hold no
    /// personal data; a response to READ BINARY of the holder file does, so do not log those.
    public var description: String { data.isEmpty ? status.description : "\(hex(data)) \(status)" }
}

/// A command refused with a status word other than `9000`. The card turns it into the response;
/// it never leaves `SoftwareCard.process`.
public struct CardStatusError: Error, Sendable, Equatable {
    public let status: StatusWord
    public init(_ status: StatusWord) { self.status = status }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Big-endian fields of the purse.
enum Bytes {
    static func be32(_ value: UInt32) -> [UInt8] {
        [
            UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
        ]
    }

    static func be24(_ value: UInt32) -> [UInt8] { Array(be32(value).suffix(3)) }

    static func be16(_ value: UInt16) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func uint32(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.reduce(0) { $0 << 8 | UInt32($1) } }
    static func uint16(_ bytes: ArraySlice<UInt8>) -> UInt16 { bytes.reduce(0) { $0 << 8 | UInt16($1) } }

    /// A BER-TLV with a one-byte or two-byte tag and a short or `81`/`82` length.
    static func tlv(_ tag: [UInt8], _ value: [UInt8]) -> [UInt8] {
        let length: [UInt8] =
            switch value.count {
            case ..<0x80: [UInt8(value.count)]
            case ..<0x100: [0x81, UInt8(value.count)]
            default: [0x82, UInt8(truncatingIfNeeded: value.count >> 8), UInt8(truncatingIfNeeded: value.count)]
            }
        return tag + length + value
    }
}

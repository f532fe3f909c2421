/// A 4-byte MAC or TAC as the purse commands carry it. Not secret: it travels in clear in APDUs
/// and transaction records, so its description shows the hex digits.
public struct MAC4: Sendable, Hashable, CustomStringConvertible {
    /// The 4 bytes read big-endian.
    let value: UInt32

    public init(bytes: some Sequence<UInt8>) throws(CardCryptoError) {
        let array = Array(bytes)
        guard array.count == 4 else { throw .invalidLength(field: "MAC", expected: 4, actual: array.count) }
        self.value = BigEndian.uint32(array[0..<4])
    }

    public init(hex: String) throws(CardCryptoError) { try self.init(bytes: Hex.decode(hex, field: "MAC")) }

    init(value: UInt32) { self.value = value }

    /// The 4 bytes, as they go into an APDU.
    public var bytes: [UInt8] { BigEndian.bytes(value) }

    /// Equality without a data-dependent branch, for checking a received MAC against a recomputed one.
    public func matches(_ other: MAC4) -> Bool { value ^ other.value == 0 }

    public var description: String { Hex.encode(bytes) }
}

/// The transaction type byte of the purse commands and the transaction log (CARDTECH.md §3).
public struct TransactionType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `01` e-deposit (ED) load.
    public static let depositLoad = TransactionType(rawValue: 0x01)
    /// `02` e-purse (EP) load.
    public static let purseLoad = TransactionType(rawValue: 0x02)
    /// `05` e-deposit purchase.
    public static let depositPurchase = TransactionType(rawValue: 0x05)
    /// `06` e-purse purchase.
    public static let pursePurchase = TransactionType(rawValue: 0x06)
    /// `09` composite purchase (transit, with UPDATE CAPP DATA CACHE).
    public static let compositePurchase = TransactionType(rawValue: 0x09)

    public var description: String { hexByte(rawValue) }
}

/// The 6-byte terminal id of a purse transaction.
public struct TerminalID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CardCryptoError) {
        let array = Array(bytes)
        guard array.count == 6 else { throw .invalidLength(field: "terminal id", expected: 6, actual: array.count) }
        self.bytes = array
    }

    public init(hex: String) throws(CardCryptoError) { try self.init(bytes: Hex.decode(hex, field: "terminal id")) }

    public var description: String { Hex.encode(bytes) }
}

/// The 10-byte application serial number (ASN) of a card's e-purse application. Its rightmost 8
/// bytes are the diversification data of the card's keys (CARDTECH.md §5.2).
public struct ApplicationSerialNumber: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: some Sequence<UInt8>) throws(CardCryptoError) {
        let array = Array(bytes)
        guard array.count == 10 else {
            throw .invalidLength(field: "application serial number", expected: 10, actual: array.count)
        }
        self.bytes = array
        self.diversificationFactor = Array(array[2..<10])
    }

    /// An ASN from 20 hex digits.
    public init(hex: String) throws(CardCryptoError) {
        try self.init(bytes: Hex.decode(hex, field: "application serial number"))
    }

    /// The rightmost 8 bytes: the factor D of the card-level diversification.
    public let diversificationFactor: [UInt8]

    public var description: String { Hex.encode(bytes) }
}

/// A transaction's local date and time as the purse carries it: 7 BCD bytes `YYYYMMDD hhmmss`
/// (date 4 bytes, time 3 bytes). Only real calendar dates are accepted.
public struct TransactionDateTime: Sendable, Hashable, CustomStringConvertible {
    /// The 7 BCD bytes.
    public let bcd: [UInt8]

    /// From the 7 BCD bytes of a command (date ‖ time).
    public init(bcd: some Sequence<UInt8>) throws(CardCryptoError) {
        let array = Array(bcd)
        guard array.count == 7 else { throw .invalidLength(field: "date and time", expected: 7, actual: array.count) }
        var numbers: [Int] = []
        for byte in array {
            guard byte >> 4 <= 9, byte & 0x0F <= 9 else {
                throw .invalidValue(field: "date and time", reason: "not BCD")
            }
            numbers.append(Int(byte >> 4) * 10 + Int(byte & 0x0F))
        }
        try Self.check(
            year: numbers[0] * 100 + numbers[1], month: numbers[2], day: numbers[3], hour: numbers[4],
            minute: numbers[5], second: numbers[6])
        self.bcd = array
    }

    /// From 14 digits `YYYYMMDDhhmmss`, e.g. `20120229135100`.
    public init(digits: String) throws(CardCryptoError) {
        guard digits.utf8.count == 14, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw .invalidValue(field: "date and time", reason: "must be 14 digits YYYYMMDDhhmmss")
        }
        try self.init(bcd: Hex.decode(digits, field: "date and time"))
    }

    /// From calendar fields.
    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) throws(CardCryptoError) {
        try Self.check(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        func bcd(_ value: Int) -> UInt8 { UInt8((value / 10) << 4 | value % 10) }
        self.bcd = [bcd(year / 100), bcd(year % 100), bcd(month), bcd(day), bcd(hour), bcd(minute), bcd(second)]
    }

    /// The 4 date bytes `YYYYMMDD`.
    public var date: [UInt8] { Array(bcd[0..<4]) }
    /// The 3 time bytes `hhmmss`.
    public var time: [UInt8] { Array(bcd[4..<7]) }

    /// `20120229135100`.
    public var description: String { Hex.encode(bcd) }

    private static func check(
        year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int
    ) throws(CardCryptoError) {
        guard (0...9999).contains(year), (1...12).contains(month) else {
            throw .invalidValue(field: "date and time", reason: "no such month")
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else { throw .invalidValue(field: "date and time", reason: "no such day") }
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else {
            throw .invalidValue(field: "date and time", reason: "no such time of day")
        }
    }
}

/// The exact byte strings that the purse MACs and TACs cover (CARDTECH.md §5.3 and §5.4). Public
/// so that tests, the software card and the PSAM emulator can show what was signed.
public enum PurseInput {
    /// Session-key input for a load, §5.3: random (4) ‖ online counter (2) ‖ `8000`.
    public static func loadSessionKey(random: UInt32, onlineCounter: UInt16) -> [UInt8] {
        var out = Builder(capacity: 8)
        out.append(random)
        out.append(onlineCounter)
        out.append(0x8000 as UInt16)
        return out.bytes
    }

    /// Session-key input for a purchase, §5.3: random (4) ‖ offline counter (2) ‖ the rightmost
    /// 2 bytes of the 4-byte terminal serial number (TSN).
    public static func purchaseSessionKey(random: UInt32, offlineCounter: UInt16, terminalSerial: UInt32) -> [UInt8] {
        var out = Builder(capacity: 8)
        out.append(random)
        out.append(offlineCounter)
        out.append(UInt16(truncatingIfNeeded: terminalSerial))
        return out.bytes
    }

    /// Load MAC1 (card makes, host checks): balance before (4) ‖ amount (4) ‖ type (1) ‖ terminal id (6).
    public static func loadMAC1(
        balanceBefore: UInt32, amount: UInt32, type: TransactionType, terminal: TerminalID
    ) -> [UInt8] {
        var out = Builder(capacity: 15)
        out.append(balanceBefore)
        out.append(amount)
        out.append(type.rawValue)
        out.append(terminal.bytes)
        return out.bytes
    }

    /// Load MAC2 (host makes, card checks): amount (4) ‖ type (1) ‖ terminal id (6) ‖ date (4) ‖ time (3).
    public static func loadMAC2(
        amount: UInt32, type: TransactionType, terminal: TerminalID, dateTime: TransactionDateTime
    ) -> [UInt8] {
        var out = Builder(capacity: 18)
        out.append(amount)
        out.append(type.rawValue)
        out.append(terminal.bytes)
        out.append(dateTime.bcd)
        return out.bytes
    }

    /// Load TAC (card makes): balance after (4) ‖ online counter before the increment (2) ‖
    /// amount (4) ‖ type (1) ‖ terminal id (6) ‖ date (4) ‖ time (3).
    public static func loadTAC(
        balanceAfter: UInt32, onlineCounter: UInt16, amount: UInt32, type: TransactionType, terminal: TerminalID,
        dateTime: TransactionDateTime
    ) -> [UInt8] {
        var out = Builder(capacity: 24)
        out.append(balanceAfter)
        out.append(onlineCounter)
        out.append(amount)
        out.append(type.rawValue)
        out.append(terminal.bytes)
        out.append(dateTime.bcd)
        return out.bytes
    }

    /// Purchase MAC1 (PSAM makes, card checks): amount (4) ‖ type (1) ‖ terminal id (6) ‖ date (4) ‖ time (3).
    public static func purchaseMAC1(
        amount: UInt32, type: TransactionType, terminal: TerminalID, dateTime: TransactionDateTime
    ) -> [UInt8] {
        loadMAC2(amount: amount, type: type, terminal: terminal, dateTime: dateTime)
    }

    /// Purchase MAC2 (card makes, PSAM checks): amount (4).
    public static func purchaseMAC2(amount: UInt32) -> [UInt8] { BigEndian.bytes(amount) }

    /// Purchase TAC (card makes, host checks at clearing): amount (4) ‖ type (1) ‖ terminal id (6) ‖
    /// TSN (4) ‖ date (4) ‖ time (3).
    public static func purchaseTAC(
        amount: UInt32, type: TransactionType, terminal: TerminalID, terminalSerial: UInt32,
        dateTime: TransactionDateTime
    ) -> [UInt8] {
        var out = Builder(capacity: 22)
        out.append(amount)
        out.append(type.rawValue)
        out.append(terminal.bytes)
        out.append(terminalSerial)
        out.append(dateTime.bcd)
        return out.bytes
    }

    /// Appends fixed-width big-endian fields to one array allocated once.
    struct Builder {
        var bytes: [UInt8]

        init(capacity: Int) {
            bytes = []
            bytes.reserveCapacity(capacity)
        }

        mutating func append(_ byte: UInt8) { bytes.append(byte) }
        mutating func append(_ more: [UInt8]) { bytes.append(contentsOf: more) }

        mutating func append(_ value: UInt16) {
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
            bytes.append(UInt8(truncatingIfNeeded: value))
        }

        mutating func append(_ value: UInt32) {
            bytes.append(UInt8(truncatingIfNeeded: value >> 24))
            bytes.append(UInt8(truncatingIfNeeded: value >> 16))
            bytes.append(UInt8(truncatingIfNeeded: value >> 8))
            bytes.append(UInt8(truncatingIfNeeded: value))
        }
    }
}

/// Card amounts are 4-byte unsigned fen; host amounts are Int64 fen.
public enum PurseAmount {
    /// `fen` as the card's 4-byte amount, or `invalidValue` if negative or above 4,294,967,295.
    public static func cardValue(_ fen: Int64, field: String = "amount") throws(CardCryptoError) -> UInt32 {
        guard let value = UInt32(exactly: fen) else {
            throw .invalidValue(field: field, reason: "must be 0…4294967295 fen")
        }
        return value
    }
}

public import CardCrypto

/// The operating errors of building, personalising, saving and loading a software card. APDU
/// processing never throws: it answers with a status word. Descriptions hold no key or personal data.
public enum SoftwareCardError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A personalisation value of the wrong length or form (`field` names it).
    case invalidValue(field: String, reason: String)
    /// CardCrypto refused a key derivation (unknown master key, unsupported algorithm …).
    case crypto(CardCryptoError)
    /// The card file cannot be read or written, is not a card file, or is readable by others.
    case file(String)

    public var description: String {
        switch self {
        case .invalidValue(let field, let reason): "\(field): \(reason)"
        case .crypto(let error): "card keys: \(error)"
        case .file(let detail): "card file: \(detail)"
        }
    }
}

/// The printed and machine-readable holder data of the social-security application.
/// Dates are `YYYYMMDD`; every text is stored UTF-8 with the length limits below.
public struct CardHolder: Sendable, Hashable, Codable {
    public var name: String
    /// The 18-character social-security number (the resident id number).
    public var socialSecurityNumber: String
    /// The card serial number printed on the card (card identifier), up to 20 ASCII characters.
    public var cardSerialNumber: String
    /// The bank card number linked to the card, up to 19 digits (may be empty).
    public var bankCardNumber: String
    public var issueDate: String
    public var expiryDate: String
    /// A reference to the holder's photo (an id in the photo store, never the image), up to 64 bytes.
    public var photoReference: String
    /// The sex code of GB/T 2261.1: `1` male, `2` female (`0` not known, `9` not stated). Nil on
    /// cards personalised before issue 19 (their files have no such field): the chip then has no
    /// tag `0B`.
    public var sexCode: String?
    /// `YYYYMMDD`, the birth date the ID number carries; nil as for `sexCode`.
    public var birthDate: String?
    /// The 6-digit administrative division code (GB/T 2260) that opens the ID number; nil as for
    /// `sexCode`.
    public var regionCode: String?

    public init(
        name: String, socialSecurityNumber: String, cardSerialNumber: String, bankCardNumber: String,
        issueDate: String, expiryDate: String, photoReference: String, sexCode: String? = nil,
        birthDate: String? = nil, regionCode: String? = nil
    ) {
        self.name = name
        self.socialSecurityNumber = socialSecurityNumber
        self.cardSerialNumber = cardSerialNumber
        self.bankCardNumber = bankCardNumber
        self.issueDate = issueDate
        self.expiryDate = expiryDate
        self.photoReference = photoReference
        self.sexCode = sexCode
        self.birthDate = birthDate
        self.regionCode = regionCode
    }

    /// The GB/T 2261.1 codes `sexCode` may hold.
    public static let sexCodes: Set<String> = ["0", "1", "2", "9"]

    /// Sex code, birth date and region code read from an 18-character GB 11643 resident ID number
    /// (region 6 ‖ birth date 8 ‖ sequence 3, odd for men ‖ check character), or nil when
    /// `number` does not have that form. The check character is not verified here: the register
    /// did that when it took the number.
    public static func residentIDFields(
        _ number: String
    ) -> (sexCode: String, birthDate: String, regionCode: String)? {
        let bytes = Array(number.utf8)
        guard bytes.count == 18, bytes.prefix(17).allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let birth = String(decoding: bytes[6..<14], as: UTF8.self)
        let month = Int(bytes[10] - 0x30) * 10 + Int(bytes[11] - 0x30)
        let day = Int(bytes[12] - 0x30) * 10 + Int(bytes[13] - 0x30)
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        return ((bytes[16] - 0x30) % 2 == 1 ? "1" : "2", birth, String(decoding: bytes[0..<6], as: UTF8.self))
    }

    /// The longest name, in UTF-8 bytes (15 CJK characters of 3 bytes or more Latin letters…
    /// 60 bytes holds 20 CJK characters).
    public static let nameByteCountMax = 60
    public static let photoReferenceByteCountMax = 64

    /// Checks every field; the first failing field is reported.
    public func validate() throws(SoftwareCardError) {
        try Self.require(name, field: "name", bytes: 1...Self.nameByteCountMax)
        try Self.require(socialSecurityNumber, field: "social-security number", bytes: 18...18, ascii: true)
        try Self.require(cardSerialNumber, field: "card serial number", bytes: 1...20, ascii: true)
        try Self.require(bankCardNumber, field: "bank card number", bytes: 0...19, digitsOnly: true)
        try Self.require(
            photoReference, field: "photo reference", bytes: 0...Self.photoReferenceByteCountMax, ascii: true)
        guard Self.dateBCD(issueDate) != nil else {
            throw .invalidValue(field: "issue date", reason: "must be 8 digits YYYYMMDD")
        }
        guard Self.dateBCD(expiryDate) != nil else {
            throw .invalidValue(field: "expiry date", reason: "must be 8 digits YYYYMMDD")
        }
        if let sexCode, !Self.sexCodes.contains(sexCode) {
            throw .invalidValue(field: "sex code", reason: "must be 0, 1, 2 or 9 (GB/T 2261.1)")
        }
        if let birthDate, Self.dateBCD(birthDate) == nil {
            throw .invalidValue(field: "birth date", reason: "must be 8 digits YYYYMMDD")
        }
        if let regionCode {
            try Self.require(regionCode, field: "region code", bytes: 6...6, digitsOnly: true)
        }
    }

    private static func require(
        _ text: String, field: String, bytes range: ClosedRange<Int>, ascii: Bool = false, digitsOnly: Bool = false
    ) throws(SoftwareCardError) {
        let utf8 = Array(text.utf8)
        guard range.contains(utf8.count) else {
            throw .invalidValue(field: field, reason: "must be \(range.lowerBound)…\(range.upperBound) bytes")
        }
        if ascii, !utf8.allSatisfy({ (0x20...0x7E).contains($0) }) {
            throw .invalidValue(field: field, reason: "must be printable ASCII")
        }
        if digitsOnly, !utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            throw .invalidValue(field: field, reason: "must be digits")
        }
    }

    /// `YYYYMMDD` as 4 BCD bytes, or nil.
    static func dateBCD(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count == 8, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return stride(from: 0, to: 8, by: 2).map { (digits[$0] - 0x30) << 4 | (digits[$0 + 1] - 0x30) }
    }
}

/// The card's diversified keys (CARDTECH.md §5.2, §5.6): 16 bytes each. Never printed: the
/// description and mirror show no key byte. Encoded as hex in the card file (mode 0600).
public struct CardKeys: Sendable, Equatable, Codable, CustomStringConvertible, CustomReflectable {
    /// DLK: load session keys (SESLK).
    public var load: SecretKey
    /// DPK: purchase session keys (SESPK).
    public var purchase: SecretKey
    /// DTK: the TAC key.
    public var tac: SecretKey
    /// DAMK: line protection of APPLICATION BLOCK.
    public var applicationMaintenance: SecretKey
    /// The PIN unblock/reload key (held, not used by any command yet).
    public var pin: SecretKey
    /// DIAK: INTERNAL AUTHENTICATE. Nil on cards personalised before the key existed (their card
    /// files have no `internalAuthentication`); such a card answers INTERNAL AUTHENTICATE `6A88`.
    public var internalAuthentication: SecretKey?

    public init(
        load: SecretKey, purchase: SecretKey, tac: SecretKey, applicationMaintenance: SecretKey, pin: SecretKey,
        internalAuthentication: SecretKey? = nil
    ) {
        self.load = load
        self.purchase = purchase
        self.tac = tac
        self.applicationMaintenance = applicationMaintenance
        self.pin = pin
        self.internalAuthentication = internalAuthentication
    }

    enum CodingKeys: String, CodingKey { case load, purchase, tac, applicationMaintenance, pin, internalAuthentication }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func key(_ name: CodingKeys) throws -> SecretKey {
            let text = try container.decode(String.self, forKey: name)
            do {
                let key = try SecretKey(hex: text)
                guard key.byteCount == 16 else { throw CardCryptoError.invalidKeyLength(algorithm: "", byteCount: 0) }
                return key
            } catch {
                throw DecodingError.dataCorruptedError(
                    forKey: name, in: container, debugDescription: "not a 16-byte key")
            }
        }
        load = try key(.load)
        purchase = try key(.purchase)
        tac = try key(.tac)
        applicationMaintenance = try key(.applicationMaintenance)
        pin = try key(.pin)
        internalAuthentication =
            container.contains(.internalAuthentication) ? try key(.internalAuthentication) : nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let keys: [(CodingKeys, SecretKey?)] = [
            (.load, load), (.purchase, purchase), (.tac, tac),
            (.applicationMaintenance, applicationMaintenance), (.pin, pin),
            (.internalAuthentication, internalAuthentication),
        ]
        for (name, key) in keys {
            // A card without DIAK keeps the file layout it had: no `internalAuthentication` entry.
            guard let key else { continue }
            try container.encode(key.withUnsafeKeyBytes { hex($0) }, forKey: name)
        }
    }

    public var description: String { "CardKeys(\(internalAuthentication == nil ? 5 : 6) keys, redacted)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Which of the two purses of the PBOC application a command addresses (P2 of the purse commands).
public enum PurseKind: UInt8, Sendable, Codable, CaseIterable {
    /// `01` electronic deposit (ED): needs a verified PIN.
    case deposit = 0x01
    /// `02` electronic purse (EP).
    case purse = 0x02

    var loadType: UInt8 { self == .deposit ? 0x01 : 0x02 }
    var purchaseType: UInt8 { self == .deposit ? 0x05 : 0x06 }
}

/// One purse's balance and counters.
public struct PurseBalance: Sendable, Equatable, Codable {
    /// Fen.
    public var balance: UInt32 = 0
    /// Incremented by every successful CREDIT FOR LOAD.
    public var onlineCounter: UInt16 = 0
    /// Incremented by every successful DEBIT FOR PURCHASE.
    public var offlineCounter: UInt16 = 0
}

/// One 23-byte record of the cyclic transaction log, SFI `18` (CARDTECH.md §3).
public struct TransactionLogRecord: Sendable, Equatable, Codable {
    /// The online (load) or offline (purchase) counter before the increment.
    public var counter: UInt16
    /// The overdraft limit (3 bytes; always 0 on this card).
    public var overdraftLimit: UInt32
    public var amount: UInt32
    public var type: UInt8
    public var terminalID: [UInt8]
    /// 4 BCD bytes `YYYYMMDD` then 3 BCD bytes `hhmmss`, as the terminal sent them.
    public var dateTime: [UInt8]

    /// counter (2) ‖ overdraft (3) ‖ amount (4) ‖ type (1) ‖ terminal id (6) ‖ date (4) ‖ time (3).
    public var bytes: [UInt8] {
        Bytes.be16(counter) + Bytes.be24(overdraftLimit) + Bytes.be32(amount) + [type] + terminalID + dateTime
    }

    public static let byteCount = 23
}

/// What GET TRANSACTION PROVE returns for the last completed transaction.
public struct TransactionProof: Sendable, Equatable, Codable {
    public var type: UInt8
    /// The counter the INITIALIZE command returned (before the increment).
    public var counter: UInt16
    /// Purchase: the card's MAC2. Load: the card's MAC1 (the card makes no MAC2 in a load) [U].
    public var mac: [UInt8]
    public var tac: [UInt8]
}

/// Whether APPLICATION BLOCK has locked the purse application.
public enum ApplicationLock: String, Sendable, Codable {
    case none
    /// `84 1E 00 00`: every purse command and SELECT answer `6A81`.
    case temporary
    /// `84 1E 00 01`: every purse command and SELECT answer `9303`.
    case permanent
}

/// The purse application's persistent state. CREDIT and DEBIT build a new value and replace the
/// old one in a single assignment: balance, counter, log and proof never disagree.
public struct PurseState: Sendable, Equatable, Codable {
    public var deposit = PurseBalance()
    public var purse = PurseBalance()
    /// Newest first, at most `logRecordCountMax` records.
    public var log: [TransactionLogRecord] = []
    /// The transit CAPP data cache (SFI `1A`), record number → data.
    public var cappRecords: [UInt8: [UInt8]] = [:]
    public var lastProof: TransactionProof?
    public var lock: ApplicationLock = .none

    public static let logRecordCountMax = 10

    public subscript(kind: PurseKind) -> PurseBalance {
        get { kind == .deposit ? deposit : purse }
        set {
            if kind == .deposit { deposit = newValue } else { purse = newValue }
        }
    }

    /// The log with `record` as its newest entry; the oldest falls off after 10.
    func logging(_ record: TransactionLogRecord) -> [TransactionLogRecord] {
        Array(([record] + log).prefix(Self.logRecordCountMax))
    }
}

/// PIN and retry counter.
struct PINState: Sendable, Equatable, Codable {
    var value: [UInt8]
    var triesMax: Int
    var triesLeft: Int
}

/// The applications a SELECT can make current.
public enum CardApplication: String, Sendable, Codable {
    case masterFile
    case paymentSystemEnvironment
    case socialSecurity
    case purse
}

/// The volatile state of a card session (cleared by `reset()`, i.e. a power cycle). It is saved
/// with the card so that an emulator saving after every APDU resumes where it was.
public struct CardSession: Sendable, Equatable, Codable {
    public var selected: CardApplication?
    public var pinVerified = false
    var challenge: [UInt8]?
    var pending: PendingTransaction?
}

/// An INITIALIZE that waits for its CREDIT or DEBIT.
struct PendingTransaction: Sendable, Equatable, Codable {
    enum Kind: String, Codable { case load, purchase }
    var kind: Kind
    var purse: PurseKind
    var type: UInt8
    var amount: UInt32
    var terminalID: [UInt8]
    var random: UInt32
    var counter: UInt16
    var balanceBefore: UInt32
    /// UPDATE CAPP DATA CACHE records staged by a composite purchase, committed with the DEBIT.
    var cappUpdates: [UInt8: [UInt8]] = [:]
}

/// Where the card's random numbers (INITIALIZE, GET CHALLENGE) come from.
public enum ChallengeSource: Sendable, Equatable, Codable {
    /// The system generator: what a real card does.
    case system
    /// Always the same value: reproduces the worked vectors of CARDTECH.md §6. Tests only.
    case fixed(UInt32)
    /// A SplitMix64 sequence from `state`: reproducible runs. Tests only.
    case seeded(state: UInt64)

    mutating func next() -> UInt32 {
        switch self {
        case .system:
            var generator = SystemRandomNumberGenerator()
            return generator.next()
        case .fixed(let value):
            return value
        case .seeded(let state):
            let advanced = state &+ 0x9E37_79B9_7F4A_7C15
            var mixed = advanced
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            mixed ^= mixed >> 31
            self = .seeded(state: advanced)
            return UInt32(truncatingIfNeeded: mixed >> 32)
        }
    }
}

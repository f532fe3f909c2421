public import CardCrypto

/// A software citizen card: an ISO 7816-4 card with the PSE, the social-security application and
/// the PBOC ED/EP purse (CARDTECH.md §1, §3, §4; the layout is in docs/software-card.md).
///
/// A value type and a pure state machine: `process(_:)` takes a command APDU and returns the
/// response APDU; it never throws and never traps, whatever the bytes. Each command runs on a copy
/// of the card that replaces the card in one assignment when the command succeeds, so a refused
/// command changes nothing but what it must (a PIN try, a dropped pending transaction).
///
/// Guarantees:
/// - The balance changes only in CREDIT FOR LOAD after a valid MAC2 and in DEBIT FOR PURCHASE after
///   a valid MAC1; the counter, the log record and the proof change in the same assignment.
/// - A card encoded and decoded again (`save(to:)`, `load(from:)`) is equal to the original.
public struct SoftwareCard: Sendable, Equatable, Codable {
    /// The 10-byte application serial number; its rightmost 8 bytes diversified the keys.
    public internal(set) var asn: [UInt8]
    public internal(set) var holder: CardHolder
    var keys: CardKeys
    /// The key version reported in INITIALIZE responses.
    public internal(set) var keyVersion: UInt8
    /// The purse algorithm id (`00` 3DES, `04` provisional SM4).
    public internal(set) var algorithmID: UInt8
    /// The 8-byte issuer id at the start of the purse's EF 15.
    public internal(set) var issuerID: [UInt8]
    /// The largest balance a load may reach, fen.
    public internal(set) var balanceMaxFen: UInt32
    var pin: PINState
    public internal(set) var purses: PurseState
    public internal(set) var session: CardSession
    var challengeSource: ChallengeSource

    /// The purse application id (MOHURD city card).
    public static let purseAID: [UInt8] = [0xA0, 0x00, 0x00, 0x00, 0x03, 0x86, 0x98, 0x07, 0x01]
    /// The purse ADF's file id.
    public static let purseFID: [UInt8] = [0x10, 0x01]
    /// `1PAY.SYS.DDF01`.
    public static let pseName: [UInt8] = Array("1PAY.SYS.DDF01".utf8)
    /// "sx1.sh.社会保障" in GBK.
    public static let socialSecurityName: [UInt8] = [
        0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
    ]
    /// The only purse key index the card holds.
    public static let purseKeyIndex: UInt8 = 0x01
    /// `3B 80 80 01 01`: T=1, no historical bytes (CARDTECH.md §2).
    public static let answerToReset: [UInt8] = [0x3B, 0x80, 0x80, 0x01, 0x01]

    /// A card from its keys and data. `personalise` derives the keys from an issuer keyring instead.
    ///
    /// - Parameters:
    ///   - pin: 2–6 bytes as VERIFY carries them (BCD, e.g. `12 34 56`).
    ///   - pinTriesMax: 1…15.
    /// - Throws: `invalidValue` for a field of the wrong length.
    public init(
        asn: [UInt8], holder: CardHolder, keys: CardKeys, keyVersion: UInt8 = 1, algorithmID: UInt8 = 0x00,
        pin: [UInt8], pinTriesMax: Int = 3, issuerID: [UInt8] = [UInt8](repeating: 0, count: 8),
        balanceMaxFen: UInt32 = 500_000, challengeSource: ChallengeSource = .system
    ) throws(SoftwareCardError) {
        guard asn.count == 10 else { throw .invalidValue(field: "ASN", reason: "must be 10 bytes") }
        guard (2...6).contains(pin.count) else { throw .invalidValue(field: "PIN", reason: "must be 2…6 bytes") }
        guard (1...15).contains(pinTriesMax) else { throw .invalidValue(field: "PIN tries", reason: "must be 1…15") }
        guard issuerID.count == 8 else { throw .invalidValue(field: "issuer id", reason: "must be 8 bytes") }
        try holder.validate()
        self.asn = asn
        self.holder = holder
        self.keys = keys
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.issuerID = issuerID
        self.balanceMaxFen = balanceMaxFen
        self.pin = PINState(value: pin, triesMax: pinTriesMax, triesLeft: pinTriesMax)
        self.purses = PurseState()
        self.session = CardSession()
        self.challengeSource = challengeSource
    }

    /// The balance of one purse, fen.
    public func balance(_ kind: PurseKind = .purse) -> UInt32 { purses[kind].balance }

    /// PIN tries left before VERIFY answers `6983`.
    public var pinTriesLeft: Int { pin.triesLeft }

    /// Power cycle: forgets the selection, the verified PIN, the challenge and a pending transaction.
    public mutating func reset() { session = CardSession() }

    /// Processes one command APDU and returns the response APDU bytes (data ‖ SW1 SW2).
    public mutating func process(_ apdu: [UInt8]) -> [UInt8] {
        processCommand(apdu).bytes
    }

    /// `process(_:)` with a parsed response.
    public mutating func processCommand(_ apdu: [UInt8]) -> ResponseAPDU {
        let command: CommandAPDU
        do {
            command = try CommandAPDU(bytes: apdu)
        } catch {
            session.pending = nil
            return ResponseAPDU(status: error.status)
        }
        var next = self
        do {
            let data = try next.dispatch(command)
            self = next
            return ResponseAPDU(data: data)
        } catch {
            // A refused command commits only what its handler chose to keep (see `Refusal`).
            if let kept = error.keptState { self = kept } else { session.pending = nil }
            return ResponseAPDU(status: error.status)
        }
    }

    /// Routes a command by CLA and INS (CARDTECH.md §3); a pending transaction survives only its
    /// own follow-up commands.
    private mutating func dispatch(_ command: CommandAPDU) throws(Refusal) -> [UInt8] {
        let followUps: Set<UInt8> = [0x52, 0x54, 0xDC]
        if !followUps.contains(command.ins) || command.cla != 0x80 { session.pending = nil }
        switch (command.cla, command.ins) {
        case (0x00, 0xA4): return try select(command)
        case (0x00, 0xB0): return try readBinary(command)
        case (0x00, 0xB2): return try readRecord(command)
        case (0x00, 0x20): return try verifyPIN(command)
        case (0x00, 0x84): return try getChallenge(command)
        case (0x00, 0x88): return try internalAuthenticate(command)
        case (0x80, 0x5C): return try getBalance(command)
        case (0x80, 0x50): return try initialize(command)
        case (0x80, 0x52): return try creditForLoad(command)
        case (0x80, 0x54): return try debitForPurchase(command)
        case (0x80, 0x5A): return try getTransactionProve(command)
        case (0x80, 0xDC): return try updateCAPPDataCache(command)
        case (0x84, 0x1E): return try applicationBlock(command)
        case (0x00, 0x1E), (0x80, 0x1E): throw Refusal(.securityStatusNotSatisfied)
        default: break
        }
        guard [0x00, 0x04, 0x80, 0x84].contains(command.cla) else { throw Refusal(.classNotSupported) }
        let known: Set<UInt8> = [0xA4, 0xB0, 0xB2, 0x20, 0x84, 0x88, 0x5C, 0x50, 0x52, 0x54, 0x5A, 0xDC, 0x1E]
        throw Refusal(known.contains(command.ins) ? .classNotSupported : .instructionNotSupported)
    }
}

/// A refused command: its status word and, for refusals that must still change the card (a wrong
/// PIN costs a try), the card to keep.
struct Refusal: Error {
    let status: StatusWord
    let keptState: SoftwareCard?

    init(_ status: StatusWord, keeping state: SoftwareCard? = nil) {
        self.status = status
        self.keptState = state
    }

    init(_ error: CardStatusError) { self.init(error.status) }
}

public import CardCrypto

/// Something that carries APDUs to a card and its answers back: the software card itself, a
/// PC/SC reader, or a test double that loses answers (a card pulled away mid-transaction).
public protocol CardChannel {
    /// Sends one command APDU and returns the response APDU (data ‖ SW1 SW2).
    /// - Throws: `CardChannelError.noResponse` when the answer never arrived; the card may or
    ///   may not have executed the command.
    mutating func transmit(_ command: [UInt8]) throws(CardChannelError) -> [UInt8]
}

public enum CardChannelError: Error, Equatable, Sendable {
    /// The card left the field or the link broke before the answer arrived.
    case noResponse
}

extension SoftwareCard: CardChannel {
    public mutating func transmit(_ command: [UInt8]) throws(CardChannelError) -> [UInt8] { process(command) }
}

/// A terminal's secure access module (PSAM, CARDTECH.md §5.5): holds the master purchase key,
/// derives each card's purchase key, makes MAC1, checks MAC2 and numbers every transaction with
/// its own terminal serial number (TSN), which it increments itself. With the master
/// internal-authentication key it also checks that a card is genuine (INTERNAL AUTHENTICATE).
public struct PSAM: Sendable {
    public let terminalID: TerminalID
    /// The PSAM's own serial number, reported with every record (dedup on PSAM and TSN).
    public let serialNumber: [UInt8]
    /// The TSN the next MAC1 uses.
    public private(set) var nextSerial: UInt32
    let masterPurchaseKey: SecretKey
    /// MIAK. Nil for a PSAM loaded without it: such a terminal does not check cards' authenticity
    /// (its purchases skip INTERNAL AUTHENTICATE, and `authenticate` is refused).
    let masterAuthenticationKey: SecretKey?
    let algorithms: PurseAlgorithmRegistry

    public init(
        terminalID: TerminalID, serialNumber: [UInt8], masterPurchaseKey: SecretKey,
        masterAuthenticationKey: SecretKey? = nil, nextSerial: UInt32 = 1,
        algorithms: PurseAlgorithmRegistry = .verified
    ) {
        self.terminalID = terminalID
        self.serialNumber = serialNumber
        self.masterPurchaseKey = masterPurchaseKey
        self.masterAuthenticationKey = masterAuthenticationKey
        self.nextSerial = nextSerial
        self.algorithms = algorithms
    }

    /// Whether the PSAM holds MIAK and so checks cards with INTERNAL AUTHENTICATE.
    public var checksCardAuthenticity: Bool { masterAuthenticationKey != nil }

    /// Checks a card's answer to `challenge`: DIAK from MIAK and the card's ASN factor, then the
    /// cryptogram under each algorithm the PSAM accepts. Returns the algorithm that matched.
    /// - Throws: `unknownKey` when the PSAM holds no MIAK; `invalidLength` for a malformed
    ///   answer; `macMismatch` when the card's answer does not match.
    public func verifyCardAuthentication(
        asn: ApplicationSerialNumber, challenge: [UInt8], response: [UInt8]
    ) throws(CardCryptoError) -> any PurseAlgorithm {
        guard let masterAuthenticationKey else { throw .unknownKey(type: .internalAuthentication, version: 0) }
        return try PSAMCrypto.verifyInternalAuthentication(
            masterAuthenticationKey: masterAuthenticationKey, factorsLowestFirst: [asn.diversificationFactor],
            challenge: challenge, response: response, algorithms: algorithms)
    }

    /// MAC1 INITIALIZE `80 70`: MAC1 and the TSN it was made with; the TSN moves on.
    public mutating func initializeMAC1(
        _ request: PSAMCrypto.PurchaseMAC1Request
    ) throws(CardCryptoError) -> (terminalSerial: UInt32, authorization: PSAMCrypto.PurchaseAuthorization) {
        let serial = nextSerial
        let authorization = try PSAMCrypto.purchaseMAC1(
            masterPurchaseKey: masterPurchaseKey, request: request, terminal: terminalID, terminalSerial: serial,
            algorithms: algorithms)
        nextSerial &+= 1
        return (serial, authorization)
    }

    /// VERIFY MAC2 `80 72`.
    public func verifyMAC2(
        _ mac2: MAC4, amount: UInt32, algorithmID: UInt8, authorization: PSAMCrypto.PurchaseAuthorization
    ) throws(CardCryptoError) {
        try PSAMCrypto.verifyPurchaseMAC2(
            mac2, amount: amount, authorization: authorization, algorithm: algorithms.algorithm(id: algorithmID))
    }
}

/// One offline purchase as a terminal uploads it (CARDTECH.md §10): the card's side, the
/// terminal's side and the card's proof (TAC), which the host recomputes from the ASN.
public struct PurchaseRecord: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        /// DEBIT answered, MAC2 checked by the PSAM.
        case complete
        /// Completed after a tear: the card's answer was recovered with GET TRANSACTION PROVE.
        case recovered
    }

    public var asn: String
    public var balanceBeforeFen: Int64
    public var balanceAfterFen: Int64
    public var amountFen: Int64
    /// `06` purse purchase, `09` composite (transit).
    public var transactionType: UInt8
    /// The card's offline counter before this purchase (as INITIALIZE returned it).
    public var cardCounter: UInt16
    public var terminalID: String
    public var terminalSerial: UInt32
    public var psamSerialNumber: String
    /// `YYYYMMDDhhmmss`, terminal local time.
    public var dateTime: String
    public var keyVersion: UInt8
    public var algorithmID: UInt8
    public var tac: String
    public var mac2: String
    public var status: Status
}

/// A purchase terminal with its PSAM: runs the PBOC purchase on a card through any channel, and
/// recovers from a tear (the DEBIT's answer lost) on the next tap of the same card.
public struct PurchaseTerminal: Sendable {
    public enum Failure: Error, Equatable, Sendable {
        /// The card answered a status word other than 9000 (e.g. `9401` insufficient balance).
        case refused(command: String, statusWord: UInt16)
        /// The card left before DEBIT answered: the purchase may have happened. Present the same
        /// card again and call `recover`.
        case torn(PendingPurchase)
        /// The card's MAC2 did not check: the card is not genuine or the link altered it.
        case badMAC2
        /// The card left before the purchase reached DEBIT: nothing happened, try again.
        case interrupted
        /// The card's answer did not have the expected layout.
        case malformedResponse(command: String)
        /// A different card was presented for a recovery.
        case differentCard
        /// INTERNAL AUTHENTICATE did not prove the card genuine, so nothing was debited: the
        /// card's cryptogram did not match (`statusWord` nil: a card without the issuer's key, a
        /// clone), or the card refused the command (`6A88`: a card personalised before it held an
        /// internal-authentication key; another word: a card that does not know the command).
        case notAuthentic(statusWord: UInt16?)
        /// `authenticate` on a terminal whose PSAM holds no master internal-authentication key.
        case authenticationUnavailable
    }

    /// A card that INTERNAL AUTHENTICATE proved genuine.
    public struct AuthenticatedCard: Sendable, Equatable {
        /// The ASN the card's EF 15 holds, which diversified the key that answered.
        public var asn: [UInt8]
        /// The algorithm id of the strategy that reproduced the card's answer.
        public var algorithmID: UInt8
    }

    /// What a terminal keeps about a purchase whose DEBIT was sent but not answered.
    public struct PendingPurchase: Sendable, Equatable {
        public var asn: [UInt8]
        public var balanceBeforeFen: UInt32
        public var amountFen: UInt32
        public var type: TransactionType
        public var cardCounter: UInt16
        public var terminalSerial: UInt32
        public var dateTime: TransactionDateTime
        public var keyVersion: UInt8
        public var algorithmID: UInt8
        /// The PSAM's session for this purchase, to check the card's MAC2.
        public var authorization: PSAMCrypto.PurchaseAuthorization

        public static func == (a: Self, b: Self) -> Bool {
            a.asn == b.asn && a.cardCounter == b.cardCounter && a.terminalSerial == b.terminalSerial
                && a.amountFen == b.amountFen
        }
    }

    public private(set) var psam: PSAM

    public init(psam: PSAM) { self.psam = psam }

    static let selectPurse: [UInt8] = [0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00]
    static let readIssuerFile: [UInt8] = [0x00, 0xB0, 0x95, 0x00, 0x1E]
    static let getBalance: [UInt8] = [0x80, 0x5C, 0x00, 0x02, 0x04]

    /// A purse purchase of `amountFen` (type 06, or 09 for transit with `cappRecord` written to
    /// the card's CAPP cache in the same commit). When the PSAM holds MIAK, the card must first
    /// pass INTERNAL AUTHENTICATE: a card that fails is refused with `notAuthentic` before
    /// INITIALIZE, so nothing is debited.
    public mutating func purchase(
        amountFen: UInt32, dateTime: TransactionDateTime, composite cappRecord: [UInt8]? = nil,
        on channel: inout some CardChannel
    ) throws(Failure) -> PurchaseRecord {
        let type: TransactionType = cappRecord == nil ? .pursePurchase : .compositePurchase
        let asn = try selectAndReadASN(&channel)
        if psam.checksCardAuthenticity { _ = try authenticate(asn: asn, challenge: nil, on: &channel) }
        let p1: UInt8 = cappRecord == nil ? 0x01 : 0x03
        let initialize = try exchange(
            [0x80, 0x50, p1, 0x02, 0x0B, 0x01] + BigEndian.bytes(amountFen) + psam.terminalID.bytes + [0x0F],
            "INITIALIZE FOR PURCHASE", &channel)
        guard initialize.count == 15 else { throw .malformedResponse(command: "INITIALIZE FOR PURCHASE") }
        let balance = UInt32(bigEndian: initialize[0..<4])
        let counter = UInt16(initialize[4]) << 8 | UInt16(initialize[5])
        let keyVersion = initialize[9], algorithmID = initialize[10]
        let random = UInt32(bigEndian: initialize[11..<15])
        let mac1: (terminalSerial: UInt32, authorization: PSAMCrypto.PurchaseAuthorization)
        do {
            mac1 = try psam.initializeMAC1(
                PSAMCrypto.PurchaseMAC1Request(
                    random: random, offlineCounter: counter, amount: amountFen, type: type, dateTime: dateTime,
                    keyVersion: keyVersion, algorithmID: algorithmID,
                    factorsLowestFirst: [Array(asn[2..<10])]))
        } catch {
            throw .refused(command: "MAC1 INITIALIZE", statusWord: 0x6988)
        }
        if let cappRecord {
            _ = try exchange(
                [0x80, 0xDC, 0x01, 0xD4, UInt8(cappRecord.count)] + cappRecord, "UPDATE CAPP DATA CACHE", &channel)
        }
        let pending = PendingPurchase(
            asn: asn, balanceBeforeFen: balance, amountFen: amountFen, type: type, cardCounter: counter,
            terminalSerial: mac1.terminalSerial, dateTime: dateTime, keyVersion: keyVersion, algorithmID: algorithmID,
            authorization: mac1.authorization)
        let debitCommand =
            [0x80, 0x54, 0x01, 0x00, 0x0F] + BigEndian.bytes(mac1.terminalSerial) + dateTime.bcd
            + mac1.authorization.mac1.bytes + [0x08]
        let debit: [UInt8]
        do {
            debit = try exchange(debitCommand, "DEBIT FOR PURCHASE", &channel)
        } catch .interrupted {
            throw .torn(pending)
        }
        guard debit.count == 8 else { throw .malformedResponse(command: "DEBIT FOR PURCHASE") }
        return try finish(pending, tac: Array(debit[0..<4]), mac2: Array(debit[4..<8]), status: .complete)
    }

    /// Offline card authentication on its own: SELECT the purse, READ BINARY of EF 15 for the
    /// ASN, INTERNAL AUTHENTICATE `00 88 00 00 08 challenge 08` with a fresh random challenge
    /// (or `challenge`, for tests), and the PSAM's check.
    /// - Throws: `authenticationUnavailable` when the PSAM holds no MIAK; `notAuthentic` when the
    ///   card fails; the channel's failures (`interrupted`, `refused`, `malformedResponse`).
    public mutating func authenticate(
        challenge: [UInt8]? = nil, on channel: inout some CardChannel
    ) throws(Failure) -> AuthenticatedCard {
        guard psam.checksCardAuthenticity else { throw .authenticationUnavailable }
        let asn = try selectAndReadASN(&channel)
        return try authenticate(asn: asn, challenge: challenge, on: &channel)
    }

    func authenticate(
        asn: [UInt8], challenge given: [UInt8]?, on channel: inout some CardChannel
    ) throws(Failure) -> AuthenticatedCard {
        let challenge: [UInt8]
        do {
            challenge = try given ?? CardAuthentication.randomChallenge()
        } catch {
            throw .authenticationUnavailable
        }
        guard challenge.count == CardAuthentication.challengeByteCount else {
            throw .malformedResponse(command: "INTERNAL AUTHENTICATE challenge")
        }
        let response: [UInt8]
        do {
            response = try exchange(
                [0x00, 0x88, 0x00, 0x00, UInt8(challenge.count)] + challenge + [0x08], "INTERNAL AUTHENTICATE",
                &channel)
        } catch .refused(_, let statusWord) {
            throw .notAuthentic(statusWord: statusWord)
        }
        do {
            let serial = try ApplicationSerialNumber(bytes: asn)
            let algorithm = try psam.verifyCardAuthentication(asn: serial, challenge: challenge, response: response)
            return AuthenticatedCard(asn: asn, algorithmID: algorithm.algorithmID)
        } catch {
            throw .notAuthentic(statusWord: nil)
        }
    }

    /// The next tap after a tear: if the card's balance dropped by the amount, the purchase
    /// happened and GET TRANSACTION PROVE gives its MAC2 and TAC; if not, it did not happen and
    /// `nil` says to start the purchase again.
    public mutating func recover(
        _ pending: PendingPurchase, on channel: inout some CardChannel
    ) throws(Failure) -> PurchaseRecord? {
        let asn = try selectAndReadASN(&channel)
        guard asn == pending.asn else { throw .differentCard }
        let answer = try exchange(Self.getBalance, "GET BALANCE", &channel)
        guard answer.count == 4 else { throw .malformedResponse(command: "GET BALANCE") }
        let balance = UInt32(bigEndian: answer[0..<4])
        guard balance == pending.balanceBeforeFen &- pending.amountFen else { return nil }
        let prove = try exchange(
            [
                0x80, 0x5A, 0x00, pending.type.rawValue, 0x02, UInt8(pending.cardCounter >> 8),
                UInt8(pending.cardCounter & 0xFF), 0x08,
            ],
            "GET TRANSACTION PROVE", &channel)
        guard prove.count == 8 else { throw .malformedResponse(command: "GET TRANSACTION PROVE") }
        return try finish(pending, tac: Array(prove[4..<8]), mac2: Array(prove[0..<4]), status: .recovered)
    }

    func finish(
        _ pending: PendingPurchase, tac: [UInt8], mac2: [UInt8], status: PurchaseRecord.Status
    ) throws(Failure) -> PurchaseRecord {
        do {
            try psam.verifyMAC2(
                MAC4(bytes: mac2), amount: pending.amountFen, algorithmID: pending.algorithmID,
                authorization: pending.authorization)
        } catch {
            throw .badMAC2
        }
        return PurchaseRecord(
            asn: Hex.encode(pending.asn), balanceBeforeFen: Int64(pending.balanceBeforeFen),
            balanceAfterFen: Int64(pending.balanceBeforeFen) - Int64(pending.amountFen),
            amountFen: Int64(pending.amountFen), transactionType: pending.type.rawValue,
            cardCounter: pending.cardCounter, terminalID: psam.terminalID.description,
            terminalSerial: pending.terminalSerial, psamSerialNumber: Hex.encode(psam.serialNumber),
            dateTime: pending.dateTime.description, keyVersion: pending.keyVersion,
            algorithmID: pending.algorithmID, tac: Hex.encode(tac), mac2: Hex.encode(mac2), status: status)
    }

    func selectAndReadASN(_ channel: inout some CardChannel) throws(Failure) -> [UInt8] {
        _ = try exchange(Self.selectPurse, "SELECT", &channel)
        let file = try exchange(Self.readIssuerFile, "READ BINARY", &channel)
        guard file.count >= 20 else { throw .malformedResponse(command: "READ BINARY") }
        return Array(file[10..<20])
    }

    /// One command; the data of a `9000` answer, else the failure.
    func exchange(_ command: [UInt8], _ name: String, _ channel: inout some CardChannel) throws(Failure) -> [UInt8] {
        let answer: [UInt8]
        do {
            answer = try channel.transmit(command)
        } catch {
            throw .interrupted
        }
        guard answer.count >= 2 else { throw .malformedResponse(command: name) }
        let status = UInt16(answer[answer.count - 2]) << 8 | UInt16(answer[answer.count - 1])
        guard status == 0x9000 else { throw .refused(command: name, statusWord: status) }
        return Array(answer.dropLast(2))
    }
}

extension UInt32 {
    init(bigEndian bytes: ArraySlice<UInt8>) {
        self = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}

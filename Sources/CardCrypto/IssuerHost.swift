/// What the host receives to authorise a load: the card's INITIALIZE FOR LOAD response (balance,
/// online counter, key version, algorithm id, random, MAC1), the terminal's request (amount, type,
/// terminal id) and the date and time the terminal will send in CREDIT FOR LOAD.
public struct LoadAuthorizationRequest: Sendable, Hashable {
    public var asn: ApplicationSerialNumber
    public var keyVersion: UInt8
    public var algorithmID: UInt8
    public var random: UInt32
    /// The online counter as INITIALIZE FOR LOAD returned it (before the card increments it).
    public var onlineCounter: UInt16
    public var balanceBeforeFen: Int64
    public var amountFen: Int64
    public var type: TransactionType
    public var terminal: TerminalID
    public var dateTime: TransactionDateTime
    public var mac1: MAC4

    public init(
        asn: ApplicationSerialNumber, keyVersion: UInt8, algorithmID: UInt8, random: UInt32, onlineCounter: UInt16,
        balanceBeforeFen: Int64, amountFen: Int64, type: TransactionType, terminal: TerminalID,
        dateTime: TransactionDateTime, mac1: MAC4
    ) {
        self.asn = asn
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.random = random
        self.onlineCounter = onlineCounter
        self.balanceBeforeFen = balanceBeforeFen
        self.amountFen = amountFen
        self.type = type
        self.terminal = terminal
        self.dateTime = dateTime
        self.mac1 = mac1
    }
}

/// The fields of a purchase record that its TAC covers, plus the key version and algorithm id the
/// terminal uploaded with it (CARDTECH.md §5.4, §10).
public struct PurchaseTACRecord: Sendable, Hashable {
    public var amountFen: Int64
    public var type: TransactionType
    public var terminal: TerminalID
    /// The PSAM's terminal serial number (TSN) of the transaction.
    public var terminalSerial: UInt32
    public var dateTime: TransactionDateTime
    public var keyVersion: UInt8
    public var algorithmID: UInt8
    public var tac: MAC4

    public init(
        amountFen: Int64, type: TransactionType, terminal: TerminalID, terminalSerial: UInt32,
        dateTime: TransactionDateTime, keyVersion: UInt8, algorithmID: UInt8, tac: MAC4
    ) {
        self.amountFen = amountFen
        self.type = type
        self.terminal = terminal
        self.terminalSerial = terminalSerial
        self.dateTime = dateTime
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.tac = tac
    }
}

/// The issuer host's checks (CARDTECH.md §5.6: the host holds MLK and MTK).
///
/// Errors in precedence order: `invalidValue` (an amount or balance outside 4 bytes),
/// `unsupportedAlgorithm`, `unknownKey`, then `macMismatch`. The TAC key is taken at the same key
/// version as the load or purchase key the card reported: a card reports only one key version.
extension IssuerKeyring {
    /// Checks the card's load MAC1 (SESLK over balance before, amount, type, terminal id) and, if
    /// it matches, returns MAC2 for CREDIT FOR LOAD.
    public func authorizeLoad(
        _ request: LoadAuthorizationRequest, algorithms: PurseAlgorithmRegistry = .verified,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let balance = try PurseAmount.cardValue(request.balanceBeforeFen, field: "balance before")
        let amount = try PurseAmount.cardValue(request.amountFen)
        let algorithm = try algorithms.algorithm(id: request.algorithmID)
        let loadKey = try cardKey(
            .load, version: request.keyVersion, asn: request.asn, algorithm: algorithm, using: engine)
        let session = try algorithm.loadSessionKey(
            loadKey, random: request.random, onlineCounter: request.onlineCounter, using: engine)
        let expected = try algorithm.loadMAC1(
            sessionKey: session, balanceBefore: balance, amount: amount, type: request.type,
            terminal: request.terminal, using: engine)
        guard expected.matches(request.mac1) else { throw .macMismatch(what: "load MAC1") }
        return try algorithm.loadMAC2(
            sessionKey: session, amount: amount, type: request.type, terminal: request.terminal,
            dateTime: request.dateTime, using: engine)
    }

    /// Checks the TAC that CREDIT FOR LOAD returned for an authorised load: balance after
    /// (before + amount), the online counter before the increment, amount, type, terminal id,
    /// date and time, under the card's TAC key.
    public func verifyLoadTAC(
        _ tac: MAC4, for request: LoadAuthorizationRequest, algorithms: PurseAlgorithmRegistry = .verified,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) {
        _ = try PurseAmount.cardValue(request.balanceBeforeFen, field: "balance before")
        let amount = try PurseAmount.cardValue(request.amountFen)
        let (sum, overflow) = request.balanceBeforeFen.addingReportingOverflow(request.amountFen)
        guard !overflow else { throw .invalidValue(field: "balance after", reason: "must be 0…4294967295 fen") }
        let after = try PurseAmount.cardValue(sum, field: "balance after")
        let algorithm = try algorithms.algorithm(id: request.algorithmID)
        let tacKey = try algorithm.tacKey(
            cardKey(.tac, version: request.keyVersion, asn: request.asn, algorithm: algorithm, using: engine),
            using: engine)
        let expected = try algorithm.loadTAC(
            tacKey: tacKey, balanceAfter: after, onlineCounter: request.onlineCounter, amount: amount,
            type: request.type, terminal: request.terminal, dateTime: request.dateTime, using: engine)
        guard expected.matches(tac) else { throw .macMismatch(what: "load TAC") }
    }

    /// Checks a purchase record's TAC at clearing (§10 step 1): the card's DTK from the ASN, its
    /// TAC key, and the MAC over amount, type, terminal id, TSN, date and time.
    public func verifyPurchaseTAC(
        _ record: PurchaseTACRecord, asn: ApplicationSerialNumber, algorithms: PurseAlgorithmRegistry = .verified,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) {
        let amount = try PurseAmount.cardValue(record.amountFen)
        let algorithm = try algorithms.algorithm(id: record.algorithmID)
        let tacKey = try algorithm.tacKey(
            cardKey(.tac, version: record.keyVersion, asn: asn, algorithm: algorithm, using: engine), using: engine)
        let expected = try algorithm.purchaseTAC(
            tacKey: tacKey, amount: amount, type: record.type, terminal: record.terminal,
            terminalSerial: record.terminalSerial, dateTime: record.dateTime, using: engine)
        guard expected.matches(record.tac) else { throw .macMismatch(what: "purchase TAC") }
    }
}

/// The pure cryptography of a PSAM (CARDTECH.md §5.5). The PSAM holds the master purchase key and
/// derives each card's DPK itself; its state (the terminal serial number it increments, the
/// session of the current transaction) belongs to the PSAM emulator, not here.
public enum PSAMCrypto {
    /// The data field of MAC1 INITIALIZE `80 70 00 00 Lc`: card random (4), card offline counter (2),
    /// amount (4), type (1), date and time (7), key version (1), algorithm id (1), then the
    /// diversification factors, 8 bytes each, **lowest level first**: the card's ASN factor, then
    /// the city F2, then the province F1. Lc is `1C` for one level, `24` for two.
    /// The factor order is [U] (§5.2): inferred from terminal code that could not be checked.
    public struct PurchaseMAC1Request: Sendable, Hashable {
        public var random: UInt32
        public var offlineCounter: UInt16
        public var amount: UInt32
        public var type: TransactionType
        public var dateTime: TransactionDateTime
        public var keyVersion: UInt8
        public var algorithmID: UInt8
        /// 8 bytes each, the card's factor first.
        public var factorsLowestFirst: [[UInt8]]

        public init(
            random: UInt32, offlineCounter: UInt16, amount: UInt32, type: TransactionType,
            dateTime: TransactionDateTime, keyVersion: UInt8, algorithmID: UInt8, factorsLowestFirst: [[UInt8]]
        ) {
            self.random = random
            self.offlineCounter = offlineCounter
            self.amount = amount
            self.type = type
            self.dateTime = dateTime
            self.keyVersion = keyVersion
            self.algorithmID = algorithmID
            self.factorsLowestFirst = factorsLowestFirst
        }

        /// The maximum number of factors accepted (card, city, province, and one more level).
        public static let factorCountMax = 4
        static let fixedByteCount = 20

        /// Parses the command data; refuses a length that is not 20 + 8·n for n in 1…`factorCountMax`,
        /// and a date that is not a real BCD date.
        public init(commandData data: [UInt8]) throws(CardCryptoError) {
            let factorBytes = data.count - Self.fixedByteCount
            guard factorBytes >= 8, factorBytes % 8 == 0, factorBytes / 8 <= Self.factorCountMax else {
                throw .invalidValue(
                    field: "MAC1 initialisation data",
                    reason: "\(data.count) bytes, not 20 + 8 per factor (1…4 factors)")
            }
            self.random = BigEndian.uint32(data[0..<4])
            self.offlineCounter = BigEndian.uint16(data[4..<6])
            self.amount = BigEndian.uint32(data[6..<10])
            self.type = TransactionType(rawValue: data[10])
            self.dateTime = try TransactionDateTime(bcd: data[11..<18])
            self.keyVersion = data[18]
            self.algorithmID = data[19]
            self.factorsLowestFirst = stride(from: 20, to: data.count, by: 8).map { Array(data[$0..<($0 + 8)]) }
        }

        /// The command data, the inverse of `init(commandData:)`.
        public var commandData: [UInt8] {
            BigEndian.bytes(random) + BigEndian.bytes(offlineCounter) + BigEndian.bytes(amount) + [type.rawValue]
                + dateTime.bcd + [keyVersion, algorithmID] + factorsLowestFirst.flatMap { $0 }
        }
    }

    /// The result of MAC1 INITIALIZE: the session key the PSAM keeps to check MAC2, and MAC1.
    public struct PurchaseAuthorization: Sendable {
        public let sessionKey: SecretKey
        public let mac1: MAC4
    }

    /// MAC1 for DEBIT FOR PURCHASE: DPK from the master purchase key and the request's factors,
    /// SESPK with the PSAM's terminal serial, then MAC1 over amount, type, terminal id, date, time.
    public static func purchaseMAC1(
        masterPurchaseKey: SecretKey, request: PurchaseMAC1Request, terminal: TerminalID, terminalSerial: UInt32,
        algorithms: PurseAlgorithmRegistry = .verified, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> PurchaseAuthorization {
        let algorithm = try algorithms.algorithm(id: request.algorithmID)
        let cardKey = try algorithm.diversify(
            masterPurchaseKey, factorsHighestFirst: request.factorsLowestFirst.reversed(), using: engine)
        let session = try algorithm.purchaseSessionKey(
            cardKey, random: request.random, offlineCounter: request.offlineCounter, terminalSerial: terminalSerial,
            using: engine)
        let mac1 = try algorithm.purchaseMAC1(
            sessionKey: session, amount: request.amount, type: request.type, terminal: terminal,
            dateTime: request.dateTime, using: engine)
        return PurchaseAuthorization(sessionKey: session, mac1: mac1)
    }

    /// VERIFY MAC2 `80 72`: the card's MAC2 over the amount under the session key of MAC1.
    /// - Throws: `macMismatch` if it does not match.
    public static func verifyPurchaseMAC2(
        _ mac2: MAC4, amount: UInt32, authorization: PurchaseAuthorization, algorithm: any PurseAlgorithm,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) {
        let expected = try algorithm.purchaseMAC2(sessionKey: authorization.sessionKey, amount: amount, using: engine)
        guard expected.matches(mac2) else { throw .macMismatch(what: "purchase MAC2") }
    }

    /// Checks a card's INTERNAL AUTHENTICATE answer to `challenge` (issue 19, part 5): DIAK from
    /// the master internal-authentication key and the factors (lowest level first, the card's ASN
    /// factor first, as `80 1A` sends them), then `CardAuthentication.verify` under each algorithm
    /// the PSAM accepts. Returns the algorithm that matched.
    /// - Throws: `invalidLength` for a challenge, an answer or a factor of the wrong length;
    ///   `macMismatch` ("internal authentication") when the card's answer does not match.
    public static func verifyInternalAuthentication(
        masterAuthenticationKey: SecretKey, factorsLowestFirst: [[UInt8]], challenge: [UInt8], response: [UInt8],
        algorithms: PurseAlgorithmRegistry = .verified, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> any PurseAlgorithm {
        try CardAuthentication.verify(
            response: response, challenge: challenge, algorithms: algorithms,
            cardKey: { (algorithm) throws(CardCryptoError) in
                try algorithm.diversify(
                    masterAuthenticationKey, factorsHighestFirst: factorsLowestFirst.reversed(), using: engine)
            }, using: engine)
    }

    /// The diversify-then-compute pair `80 1A` + `80 FA` used to recompute a TAC after a tear: the
    /// card's DTK from the master TAC key and the factors (lowest level first, as `80 1A` sends
    /// them), its TAC key, then the MAC over `input` (e.g. `PurseInput.purchaseTAC(…)`).
    public static func transactionTAC(
        masterTACKey: SecretKey, factorsLowestFirst: [[UInt8]], input: [UInt8], algorithm: any PurseAlgorithm,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let cardKey = try algorithm.diversify(
            masterTACKey, factorsHighestFirst: factorsLowestFirst.reversed(), using: engine)
        return try algorithm.mac(key: algorithm.tacKey(cardKey, using: engine), data: input, using: engine)
    }
}

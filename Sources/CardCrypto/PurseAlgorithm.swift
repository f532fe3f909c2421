/// The cryptographic steps of a PBOC purse for one algorithm id: how card keys are diversified,
/// how session keys and the TAC key are derived, and how a 4-byte MAC is computed. Everything
/// else (which fields a MAC covers, in which order) is common to all algorithms and lives in the
/// extension below (CARDTECH.md §5.4).
///
/// The 3DES purse (`TripleDESPurse`) is reproduced from public vectors. The SM4 purse has three
/// steps that no public text confirms (CARDTECH.md §7); `SM4Purse` names each choice, and a
/// vendor's different behaviour is a new conforming type registered for its algorithm id.
public protocol PurseAlgorithm: Sendable {
    /// The algorithm id the card reports in INITIALIZE responses.
    var algorithmID: UInt8 { get }
    /// A short name for reports (`3DES`, `SM4`).
    var name: String { get }
    /// The block cipher under every step.
    var cipher: BlockAlgorithm { get }

    /// One level of diversification (§5.2): the 16-byte key of the level below `key` for the
    /// 8-byte `factor`.
    func diversify(_ key: SecretKey, factor: [UInt8], using engine: CipherEngine) throws(CardCryptoError) -> SecretKey

    /// A session (process) key from a card key and the 8-byte input of §5.3.
    func sessionKey(
        _ cardKey: SecretKey, input: [UInt8], using engine: CipherEngine
    ) throws(CardCryptoError)
        -> SecretKey

    /// The key of the TAC MAC from the card's diversified TAC key DTK.
    func tacKey(_ cardTACKey: SecretKey, using engine: CipherEngine) throws(CardCryptoError) -> SecretKey

    /// The 4-byte MAC over `data` with a session key or the TAC key.
    func mac(key: SecretKey, data: [UInt8], using engine: CipherEngine) throws(CardCryptoError) -> MAC4
}

/// The PBOC 2.0 3DES purse, every step verified against public vectors (CARDTECH.md §5, §6).
public struct TripleDESPurse: PurseAlgorithm {
    public let algorithmID: UInt8
    public var name: String { "3DES" }
    public var cipher: BlockAlgorithm { .tripleDES }

    /// Algorithm id `00`: the third byte of 3DES key headers in public personalisation code [C];
    /// whether INITIALIZE responses use the same coding is [U] (§7), hence the parameter.
    public init(algorithmID: UInt8 = 0x00) { self.algorithmID = algorithmID }

    /// `3DES(K, D) ‖ 3DES(K, ~D)`, §5.2.
    public func diversify(
        _ key: SecretKey, factor: [UInt8], using engine: CipherEngine
    ) throws(CardCryptoError) -> SecretKey {
        guard factor.count == 8 else {
            throw .invalidLength(field: "diversification factor", expected: 8, actual: factor.count)
        }
        guard key.byteCount == 16 else {
            throw .invalidKeyLength(algorithm: "3DES diversification", byteCount: key.byteCount)
        }
        // The two blocks D and ~D are independent: one two-block ECB call encrypts both.
        return try engine.diversify(factor, variant: .tripleDES2, key: key)
    }

    /// One 3DES block over the 8-byte input: an 8-byte single-DES key, §5.3.
    public func sessionKey(
        _ cardKey: SecretKey, input: [UInt8], using engine: CipherEngine
    ) throws(CardCryptoError) -> SecretKey {
        guard input.count == 8 else {
            throw .invalidLength(field: "session key input", expected: 8, actual: input.count)
        }
        guard cardKey.byteCount == 16 else {
            throw .invalidKeyLength(algorithm: "3DES session key", byteCount: cardKey.byteCount)
        }
        return try engine.encryptToKey(input, variant: .tripleDES2, key: cardKey)
    }

    /// `DTK[0..7] XOR DTK[8..15]`, §5.3.
    public func tacKey(_ cardTACKey: SecretKey, using engine: CipherEngine) throws(CardCryptoError) -> SecretKey {
        guard cardTACKey.byteCount == 16 else {
            throw .invalidKeyLength(algorithm: "3DES TAC key", byteCount: cardTACKey.byteCount)
        }
        return cardTACKey.folded
    }

    /// The 8-byte-key PBOC MAC, §5.1.
    public func mac(key: SecretKey, data: [UInt8], using engine: CipherEngine) throws(CardCryptoError) -> MAC4 {
        try CardMAC.pboc(key: key, data: data, using: engine)
    }

    /// Blocks per call, for the benchmark: 3DES blocks per level, DES blocks per MAC.
    package var tripleDESBlocksPerDiversification: Int { 2 }
    package func desBlocksPerMAC(byteCount: Int) -> Int { byteCount / 8 + 1 }
}

/// The SM4 purse. Diversification is `SM4(K, D ‖ ~D)` [C, §7]; the other three steps are **[U]**
/// and must be chosen explicitly, then pinned with vendor PSAM or card vectors.
public struct SM4Purse: PurseAlgorithm {
    /// [U] §7 item 1: how the 8-byte session-key input becomes one 16-byte SM4 block.
    public enum SessionKeyInput: String, Sendable, CaseIterable, Codable {
        /// input ‖ `80 00 00 00 00 00 00 00` (ISO padding method 2, as the MACs pad).
        case padded80
        /// input ‖ eight `00` bytes.
        case zeroPadded
    }

    /// [U] §7 item 3: the SM4 TAC key, since L XOR R of a 16-byte DTK is only 8 bytes.
    public enum TACKeyDerivation: String, Sendable, CaseIterable, Codable {
        /// The card's diversified TAC key DTK itself.
        case cardKey
        /// (DTK[0..7] XOR DTK[8..15]) twice, keeping the 3DES fold and widening it to 16 bytes.
        case foldedTwice
    }

    public let algorithmID: UInt8
    /// [U] §7 item 1.
    public let sessionKeyInput: SessionKeyInput
    /// [U] §7 item 2.
    public let macOutput: SM4MACOutput
    /// [U] §7 item 3.
    public let tacKeyDerivation: TACKeyDerivation

    public var name: String { "SM4" }
    public var cipher: BlockAlgorithm { .sm4 }

    /// Every [U] choice is a required argument: nothing about the SM4 purse is assumed silently.
    /// `algorithmID` `04` follows the SM4 key header of public personalisation code [C]; its use
    /// in INITIALIZE responses is [U].
    public init(
        algorithmID: UInt8 = 0x04, sessionKeyInput: SessionKeyInput, macOutput: SM4MACOutput,
        tacKeyDerivation: TACKeyDerivation
    ) {
        self.algorithmID = algorithmID
        self.sessionKeyInput = sessionKeyInput
        self.macOutput = macOutput
        self.tacKeyDerivation = tacKeyDerivation
    }

    /// The working assumption until vendor vectors exist, chosen to mirror the 3DES purse as closely
    /// as SM4 allows: `80`-padded session input, leftmost 4 bytes of the CBC-MAC, DTK as the TAC
    /// key. **Unverified**: the name says so wherever it is used.
    public static let provisional = SM4Purse(
        sessionKeyInput: .padded80, macOutput: .leftmost4, tacKeyDerivation: .cardKey)

    /// `SM4(K, D ‖ ~D)`, one block, §7 [C].
    public func diversify(
        _ key: SecretKey, factor: [UInt8], using engine: CipherEngine
    ) throws(CardCryptoError) -> SecretKey {
        guard factor.count == 8 else {
            throw .invalidLength(field: "diversification factor", expected: 8, actual: factor.count)
        }
        guard key.byteCount == 16 else { throw .invalidKeyLength(algorithm: "SM4", byteCount: key.byteCount) }
        return try engine.diversify(factor, variant: .sm4, key: key)
    }

    /// `SM4(K, input ‖ extension)` per `sessionKeyInput` [U].
    public func sessionKey(
        _ cardKey: SecretKey, input: [UInt8], using engine: CipherEngine
    ) throws(CardCryptoError) -> SecretKey {
        guard input.count == 8 else {
            throw .invalidLength(field: "session key input", expected: 8, actual: input.count)
        }
        let block =
            switch sessionKeyInput {
            case .padded80: input + [0x80, 0, 0, 0, 0, 0, 0, 0]
            case .zeroPadded: input + [UInt8](repeating: 0, count: 8)
            }
        guard cardKey.byteCount == 16 else { throw .invalidKeyLength(algorithm: "SM4", byteCount: cardKey.byteCount) }
        return try engine.encryptToKey(block, variant: .sm4, key: cardKey)
    }

    /// Per `tacKeyDerivation` [U].
    public func tacKey(_ cardTACKey: SecretKey, using engine: CipherEngine) throws(CardCryptoError) -> SecretKey {
        guard cardTACKey.byteCount == 16 else {
            throw .invalidKeyLength(algorithm: "SM4 TAC key", byteCount: cardTACKey.byteCount)
        }
        switch tacKeyDerivation {
        case .cardKey: return cardTACKey
        case .foldedTwice: return cardTACKey.foldedTwice
        }
    }

    /// `CardMAC.sm4` with `macOutput` [U].
    public func mac(key: SecretKey, data: [UInt8], using engine: CipherEngine) throws(CardCryptoError) -> MAC4 {
        try CardMAC.sm4(key: key, data: data, output: macOutput, using: engine)
    }

    /// SM4 blocks per call, for the benchmark.
    package var blocksPerDiversification: Int { 1 }
    package var blocksPerTACKey: Int { 0 }
    package func blocksPerMAC(byteCount: Int) -> Int { byteCount / 16 + 1 }
}

/// The purse strategies a host, PSAM or card accepts, by algorithm id.
public struct PurseAlgorithmRegistry: Sendable {
    /// A handful of entries at most: a linear scan beats hashing.
    private let entries: [any PurseAlgorithm]

    /// Later entries replace earlier ones with the same algorithm id.
    public init(_ algorithms: [any PurseAlgorithm]) {
        var entries: [any PurseAlgorithm] = []
        for algorithm in algorithms {
            entries.removeAll { $0.algorithmID == algorithm.algorithmID }
            entries.append(algorithm)
        }
        self.entries = entries
    }

    /// The strategy for `id`, or `unsupportedAlgorithm`.
    public func algorithm(id: UInt8) throws(CardCryptoError) -> any PurseAlgorithm {
        for algorithm in entries where algorithm.algorithmID == id { return algorithm }
        throw .unsupportedAlgorithm(id: id)
    }

    /// The registered ids, ascending.
    public var algorithmIDs: [UInt8] { entries.map(\.algorithmID).sorted() }

    /// Only what is verified: the 3DES purse at id `00`. A card reporting any other id is refused.
    public static let verified = PurseAlgorithmRegistry([TripleDESPurse()])

    /// The 3DES purse at `00` and `SM4Purse.provisional` at `04`. Use it where SM4 cards must work
    /// before vendor vectors exist, knowing that the SM4 results are unverified.
    public static let withProvisionalSM4 = PurseAlgorithmRegistry([TripleDESPurse(), SM4Purse.provisional])
}

/// D ‖ ~D for an 8-byte factor D, on the stack.
func factorAndComplement(_ factor: [UInt8]) -> (UInt64, UInt64) {
    var block: (UInt64, UInt64) = (0, 0)
    withUnsafeMutableBytes(of: &block) { raw in
        for index in 0..<8 {
            raw[index] = factor[index]
            raw[index + 8] = ~factor[index]
        }
    }
    return block
}

extension CipherEngine {
    /// The diversified key `E(key, D ‖ ~D)`: one ECB call over two 8-byte blocks (3DES) or one
    /// 16-byte block (SM4).
    func diversify(_ factor: [UInt8], variant: CipherVariant, key: SecretKey) throws(CardCryptoError) -> SecretKey {
        var block = factorAndComplement(factor)
        let result = withUnsafeBytes(of: &block) { raw in
            Result { () throws(CardCryptoError) in try encryptToKey(raw, variant: variant, key: key) }
        }
        return try result.get()
    }
}

// MARK: The purse computations common to every algorithm (CARDTECH.md §5.2–§5.4)

extension PurseAlgorithm {
    /// Several levels of diversification, §5.2: `factors` from the highest level down (province
    /// F1, city F2, …, the card's ASN factor last). An empty list returns `masterKey`.
    public func diversify(
        _ masterKey: SecretKey, factorsHighestFirst factors: [[UInt8]], using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        var key = masterKey
        for factor in factors { key = try diversify(key, factor: factor, using: engine) }
        return key
    }

    /// A card's key from a master key: the issuer levels (highest first), then the ASN's factor.
    public func cardKey(
        masterKey: SecretKey, asn: ApplicationSerialNumber, issuerFactors: [[UInt8]] = [],
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        let issuerKey = try diversify(masterKey, factorsHighestFirst: issuerFactors, using: engine)
        return try diversify(issuerKey, factor: asn.diversificationFactor, using: engine)
    }

    /// SESLK from the card's load key DLK, §5.3.
    public func loadSessionKey(
        _ cardLoadKey: SecretKey, random: UInt32, onlineCounter: UInt16, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        try sessionKey(
            cardLoadKey, input: PurseInput.loadSessionKey(random: random, onlineCounter: onlineCounter), using: engine)
    }

    /// SESPK from the card's purchase key DPK, §5.3.
    public func purchaseSessionKey(
        _ cardPurchaseKey: SecretKey, random: UInt32, offlineCounter: UInt16, terminalSerial: UInt32,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> SecretKey {
        let input = PurseInput.purchaseSessionKey(
            random: random, offlineCounter: offlineCounter, terminalSerial: terminalSerial)
        return try sessionKey(cardPurchaseKey, input: input, using: engine)
    }

    /// Load MAC1 with SESLK (card makes, host checks).
    public func loadMAC1(
        sessionKey: SecretKey, balanceBefore: UInt32, amount: UInt32, type: TransactionType, terminal: TerminalID,
        using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let input = PurseInput.loadMAC1(balanceBefore: balanceBefore, amount: amount, type: type, terminal: terminal)
        return try mac(key: sessionKey, data: input, using: engine)
    }

    /// Load MAC2 with SESLK (host makes, card checks).
    public func loadMAC2(
        sessionKey: SecretKey, amount: UInt32, type: TransactionType, terminal: TerminalID,
        dateTime: TransactionDateTime, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let input = PurseInput.loadMAC2(amount: amount, type: type, terminal: terminal, dateTime: dateTime)
        return try mac(key: sessionKey, data: input, using: engine)
    }

    /// Load TAC with the TAC key (card makes); `onlineCounter` is the value before the increment.
    public func loadTAC(
        tacKey: SecretKey, balanceAfter: UInt32, onlineCounter: UInt16, amount: UInt32, type: TransactionType,
        terminal: TerminalID, dateTime: TransactionDateTime, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let input = PurseInput.loadTAC(
            balanceAfter: balanceAfter, onlineCounter: onlineCounter, amount: amount, type: type, terminal: terminal,
            dateTime: dateTime)
        return try mac(key: tacKey, data: input, using: engine)
    }

    /// Purchase MAC1 with SESPK (PSAM makes, card checks).
    public func purchaseMAC1(
        sessionKey: SecretKey, amount: UInt32, type: TransactionType, terminal: TerminalID,
        dateTime: TransactionDateTime, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let input = PurseInput.purchaseMAC1(amount: amount, type: type, terminal: terminal, dateTime: dateTime)
        return try mac(key: sessionKey, data: input, using: engine)
    }

    /// Purchase MAC2 with SESPK (card makes, PSAM checks).
    public func purchaseMAC2(
        sessionKey: SecretKey, amount: UInt32, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        try mac(key: sessionKey, data: PurseInput.purchaseMAC2(amount: amount), using: engine)
    }

    /// Purchase TAC with the TAC key (card makes, host checks at clearing).
    public func purchaseTAC(
        tacKey: SecretKey, amount: UInt32, type: TransactionType, terminal: TerminalID, terminalSerial: UInt32,
        dateTime: TransactionDateTime, using engine: CipherEngine = .current
    ) throws(CardCryptoError) -> MAC4 {
        let input = PurseInput.purchaseTAC(
            amount: amount, type: type, terminal: terminal, terminalSerial: terminalSerial, dateTime: dateTime)
        return try mac(key: tacKey, data: input, using: engine)
    }
}

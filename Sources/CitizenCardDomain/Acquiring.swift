/// A merchant that accepts the e-purse (a bus company, a water utility, a shop): it is paid what
/// its terminals took, less its commission (issue 5, part 3).
public struct Merchant: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Merchant>

    public var id: ID
    /// The center's short code for the merchant: 2-20 of `A-Z 0-9 -`, unique; names settlement files.
    public var code: String
    public var name: String
    /// Commission withheld from the day's gross, in basis points (60 = 0.60 %), 0…10000.
    public var commissionBasisPoints: Int64
    public var active: Bool
    public var createdAt: Timestamp
    public var version: Int64

    public init(
        id: ID, code: String, name: String, commissionBasisPoints: Int64, createdAt: Timestamp, active: Bool = true,
        version: Int64 = 1
    ) {
        self.id = id
        self.code = code
        self.name = name
        self.commissionBasisPoints = commissionBasisPoints
        self.active = active
        self.createdAt = createdAt
        self.version = version
    }

    /// The commission on a gross amount, rounded half up to the fen.
    public func commission(onGrossFen gross: Int64) -> Int64 {
        (gross * commissionBasisPoints + 5_000) / 10_000
    }

    /// 2-20 of `A-Z 0-9 -`, starting with a letter or a digit: the code names settlement files
    /// and is a cell of them, where a leading `-` reads as a formula in a spreadsheet.
    public static func isValidCode(_ code: String) -> Bool {
        (2...20).contains(code.utf8.count) && code.utf8.first != 0x2D
            && code.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || $0 == 0x2D }
    }
}

/// A purchase terminal of a merchant (a bus validator, a POS) with its PSAM. It authenticates to
/// the host with a terminal key issued when it is registered, signs in with the hotlist version it
/// holds, and uploads its offline purchase records in batches.
public struct Terminal: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Terminal>

    public var id: ID
    /// The terminal id its PSAM puts into every MAC (6 bytes, 12 hex digits, upper case), unique.
    public var number: String
    public var merchantID: Merchant.ID
    /// The PSAM's serial number (hex, upper case), unique: records are deduplicated on it and the TSN.
    public var psamSerial: String
    /// Where it stands (a bus line, a shop); coordinates in millionths of a degree, for the
    /// fraud signal of one card in two places too far apart.
    public var location: String
    public var latitudeE6: Int64?
    public var longitudeE6: Int64?
    /// SHA-256 of the terminal key; the key itself is shown once, at registration.
    public var keyHash: [UInt8]
    /// The hotlist version the terminal reported at its last sign-in.
    public var hotlistVersion: Int64?
    public var lastSignInAt: Timestamp?
    public var active: Bool
    public var createdAt: Timestamp
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, number, psamSerial, location, latitudeE6, longitudeE6, hotlistVersion, lastSignInAt, active
        case createdAt, version
        case merchantID = "merchantId"
    }

    public init(
        id: ID, number: String, merchantID: Merchant.ID, psamSerial: String, location: String, latitudeE6: Int64?,
        longitudeE6: Int64?, keyHash: [UInt8], createdAt: Timestamp
    ) {
        self.id = id
        self.number = number
        self.merchantID = merchantID
        self.psamSerial = psamSerial
        self.location = location
        self.latitudeE6 = latitudeE6
        self.longitudeE6 = longitudeE6
        self.keyHash = keyHash
        self.hotlistVersion = nil
        self.lastSignInAt = nil
        self.active = true
        self.createdAt = createdAt
        self.version = 1
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(ID.self, forKey: .id), number: try container.decode(String.self, forKey: .number),
            merchantID: try container.decode(Merchant.ID.self, forKey: .merchantID),
            psamSerial: try container.decode(String.self, forKey: .psamSerial),
            location: try container.decode(String.self, forKey: .location),
            latitudeE6: try container.decodeIfPresent(Int64.self, forKey: .latitudeE6),
            longitudeE6: try container.decodeIfPresent(Int64.self, forKey: .longitudeE6), keyHash: [],
            createdAt: try container.decode(Timestamp.self, forKey: .createdAt))
        hotlistVersion = try container.decodeIfPresent(Int64.self, forKey: .hotlistVersion)
        lastSignInAt = try container.decodeIfPresent(Timestamp.self, forKey: .lastSignInAt)
        active = try container.decode(Bool.self, forKey: .active)
        version = try container.decode(Int64.self, forKey: .version)
    }
}

/// One offline purchase as the host keeps it: the terminal's record (CARDTECH.md §10) and what the
/// host made of it.
public struct OfflinePurchase: Hashable, Codable, Sendable {
    public typealias ID = Identifier<OfflinePurchase>

    public enum Outcome: String, Hashable, Codable, Sendable, CaseIterable {
        /// Posted to the holder's purse: the merchant is owed it.
        case posted
        /// Made after the card's loss took effect (Art 17): charged to the operator's risk account,
        /// the merchant is still owed it, the holder's purse is not touched.
        case risk
        /// In the exceptions queue with a reason; not settled.
        case parked
    }

    /// Why a record is parked.
    public enum ParkReason: String, Hashable, Codable, Sendable, CaseIterable {
        /// The TAC does not verify with the card's key: forged or corrupted.
        case badTAC = "bad_tac"
        /// Another record already holds this card and counter, or this PSAM and TSN.
        case replay
        /// The card's counter is ahead of the next expected one: a record is missing or late.
        /// Released by itself when the missing records arrive.
        case gap
        /// The balance before does not follow from the previous record and the loads.
        case balanceMismatch = "balance_mismatch"
        /// The ASN is not a card of ours.
        case unknownCard = "unknown_card"

        /// Whether an operator may close any record parked for this reason (`ExceptionClosure`):
        /// no later record can release it. A `gap` or `balance_mismatch` record waits for its
        /// card's chain instead, and closing it would hold back every later record of the card;
        /// it may be closed only once the chain has passed its counter (missing records written
        /// off).
        public var isClosable: Bool {
            switch self {
            case .badTAC, .replay, .unknownCard: true
            case .gap, .balanceMismatch: false
            }
        }
    }

    public var id: ID
    public var batchID: Identifier<PurchaseBatch>
    public var terminalID: Terminal.ID
    public var merchantID: Merchant.ID
    public var cardID: Card.ID?
    /// 20 hex digits.
    public var asn: String
    public var cardCounter: Int64
    public var psamSerial: String
    public var terminalSerial: Int64
    public var amountFen: Int64
    public var balanceBeforeFen: Int64
    public var balanceAfterFen: Int64
    /// `6` purse purchase, `9` composite (transit).
    public var transactionType: Int64
    /// When the card was tapped, from the terminal's clock (Asia/Shanghai).
    public var tappedAt: Timestamp
    public var keyVersion: Int64
    public var algorithmID: Int64
    public var tac: String
    public var mac2: String
    /// `complete`, or `recovered` after a tear.
    public var recordStatus: String
    public var outcome: Outcome
    public var reason: ParkReason?
    /// When it was posted (or charged to risk); its clearing day is this day in Asia/Shanghai.
    public var postedAt: Timestamp?
    public var receivedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, asn, cardCounter, psamSerial, terminalSerial, amountFen, balanceBeforeFen, balanceAfterFen
        case transactionType, tappedAt, keyVersion, tac, mac2, recordStatus, outcome, reason, postedAt, receivedAt
        case batchID = "batchId", terminalID = "terminalId", merchantID = "merchantId", cardID = "cardId"
        case algorithmID = "algorithmId"
    }

    public init(
        id: ID, batchID: Identifier<PurchaseBatch>, terminalID: Terminal.ID, merchantID: Merchant.ID, cardID: Card.ID?,
        asn: String, cardCounter: Int64, psamSerial: String, terminalSerial: Int64, amountFen: Int64,
        balanceBeforeFen: Int64, balanceAfterFen: Int64, transactionType: Int64, tappedAt: Timestamp,
        keyVersion: Int64, algorithmID: Int64, tac: String, mac2: String, recordStatus: String, outcome: Outcome,
        reason: ParkReason?, postedAt: Timestamp?, receivedAt: Timestamp
    ) {
        self.id = id
        self.batchID = batchID
        self.terminalID = terminalID
        self.merchantID = merchantID
        self.cardID = cardID
        self.asn = asn
        self.cardCounter = cardCounter
        self.psamSerial = psamSerial
        self.terminalSerial = terminalSerial
        self.amountFen = amountFen
        self.balanceBeforeFen = balanceBeforeFen
        self.balanceAfterFen = balanceAfterFen
        self.transactionType = transactionType
        self.tappedAt = tappedAt
        self.keyVersion = keyVersion
        self.algorithmID = algorithmID
        self.tac = tac
        self.mac2 = mac2
        self.recordStatus = recordStatus
        self.outcome = outcome
        self.reason = reason
        self.postedAt = postedAt
        self.receivedAt = receivedAt
    }

    /// The fields a terminal sent, compared when the same record arrives twice: an identical one is
    /// a harmless retransmission, a different one under the same keys is a replay.
    public var fingerprint: String {
        [
            asn, "\(cardCounter)", psamSerial, "\(terminalSerial)", "\(amountFen)", "\(balanceBeforeFen)",
            "\(balanceAfterFen)", "\(transactionType)", "\(tappedAt.secondsSinceEpoch)", "\(keyVersion)",
            "\(algorithmID)", tac, mac2,
        ].joined(separator: "|")
    }
}

/// One upload of a terminal, numbered by the terminal; the same number uploaded again answers the
/// stored result.
public struct PurchaseBatch: Hashable, Codable, Sendable {
    public typealias ID = Identifier<PurchaseBatch>

    public var id: ID
    public var terminalID: Terminal.ID
    public var merchantID: Merchant.ID
    /// The terminal's own batch number.
    public var number: Int64
    /// SHA-256 of the uploaded records, hex: the same number with other records is refused.
    public var contentHash: String
    public var recordCount: Int64
    public var postedCount: Int64
    public var riskCount: Int64
    public var parkedCount: Int64
    public var duplicateCount: Int64
    /// Sum of the posted and risk records.
    public var acceptedFen: Int64
    public var receivedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, number, contentHash, recordCount, postedCount, riskCount, parkedCount, duplicateCount, acceptedFen
        case receivedAt
        case terminalID = "terminalId", merchantID = "merchantId"
    }

    public init(
        id: ID, terminalID: Terminal.ID, merchantID: Merchant.ID, number: Int64, contentHash: String,
        recordCount: Int64, postedCount: Int64, riskCount: Int64, parkedCount: Int64, duplicateCount: Int64,
        acceptedFen: Int64, receivedAt: Timestamp
    ) {
        self.id = id
        self.terminalID = terminalID
        self.merchantID = merchantID
        self.number = number
        self.contentHash = contentHash
        self.recordCount = recordCount
        self.postedCount = postedCount
        self.riskCount = riskCount
        self.parkedCount = parkedCount
        self.duplicateCount = duplicateCount
        self.acceptedFen = acceptedFen
        self.receivedAt = receivedAt
    }
}

/// Where the host's view of one card's offline purchases stands: the next counter it expects, the
/// card's balance after the last record in the chain, and the online counter up to which loads
/// are accounted into that balance.
public struct PurseChain: Hashable, Codable, Sendable {
    public var cardID: Card.ID
    public var nextCounter: Int64
    public var balanceFen: Int64
    /// Loads with an online counter below this one are in `balanceFen`.
    public var nextOnlineCounter: Int64
    /// The last chained tap and where its terminal stands, for the travel-speed check.
    public var lastTappedAt: Timestamp?
    public var lastTerminalID: Terminal.ID?
    public var lastLatitudeE6: Int64?
    public var lastLongitudeE6: Int64?
    /// 0 for a chain that is not stored yet.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case nextCounter, balanceFen, nextOnlineCounter, lastTappedAt, lastLatitudeE6, lastLongitudeE6, version
        case cardID = "cardId", lastTerminalID = "lastTerminalId"
    }

    public init(
        cardID: Card.ID, nextCounter: Int64 = 0, balanceFen: Int64 = 0, nextOnlineCounter: Int64 = 0,
        lastTappedAt: Timestamp? = nil, lastTerminalID: Terminal.ID? = nil, lastLatitudeE6: Int64? = nil,
        lastLongitudeE6: Int64? = nil, version: Int64 = 0
    ) {
        self.lastLatitudeE6 = lastLatitudeE6
        self.lastLongitudeE6 = lastLongitudeE6
        self.cardID = cardID
        self.nextCounter = nextCounter
        self.balanceFen = balanceFen
        self.nextOnlineCounter = nextOnlineCounter
        self.lastTappedAt = lastTappedAt
        self.lastTerminalID = lastTerminalID
        self.version = version
    }
}

/// Something that looks like fraud or a fault, with the evidence.
/// An operator's decision on a parked record that nothing will release (a forged TAC, a replay, a
/// card not ours): it is not paid, and it leaves the open exceptions queue for the closed list. The
/// record itself stays as stored, `parked` with its reason; the closure is final.
public struct ExceptionClosure: Hashable, Codable, Sendable {
    public var purchaseID: OfflinePurchase.ID
    /// Why it was closed, for the next reader: 1 to 500 characters.
    public var note: String
    /// The operator's name.
    public var closedBy: String
    public var closedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case note, closedBy, closedAt
        case purchaseID = "purchaseId"
    }

    public init(purchaseID: OfflinePurchase.ID, note: String, closedBy: String, closedAt: Timestamp) {
        self.purchaseID = purchaseID
        self.note = note
        self.closedBy = closedBy
        self.closedAt = closedAt
    }
}

/// A closed exception: the parked record and its closure.
public struct ClosedException: Hashable, Codable, Sendable {
    public var purchase: OfflinePurchase
    public var closure: ExceptionClosure

    public init(purchase: OfflinePurchase, closure: ExceptionClosure) {
        self.purchase = purchase
        self.closure = closure
    }
}

public struct FraudSignal: Hashable, Codable, Sendable {
    public typealias ID = Identifier<FraudSignal>

    public enum Kind: String, Hashable, Codable, Sendable, CaseIterable {
        /// Two taps of one card too far apart for the time between them.
        case impossibleTravel = "impossible_travel"
        /// A tap after the card's loss took effect.
        case useAfterLoss = "use_after_loss"
        /// A counter skipped: a record is missing (or withheld).
        case counterGap = "counter_gap"
        /// A TAC that does not verify.
        case forgedTAC = "forged_tac"
        /// The same card counter or PSAM serial with different content.
        case replay
    }

    public var id: ID
    public var kind: Kind
    public var cardID: Card.ID?
    public var asn: String
    public var purchaseID: OfflinePurchase.ID?
    /// Human-readable facts: terminals, times, distances, counters (no personal data).
    public var evidence: String
    public var detectedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case id, kind, asn, evidence, detectedAt
        case cardID = "cardId", purchaseID = "purchaseId"
    }

    public init(
        id: ID, kind: Kind, cardID: Card.ID?, asn: String, purchaseID: OfflinePurchase.ID?, evidence: String,
        detectedAt: Timestamp
    ) {
        self.id = id
        self.kind = kind
        self.cardID = cardID
        self.asn = asn
        self.purchaseID = purchaseID
        self.evidence = evidence
        self.detectedAt = detectedAt
    }
}

/// One merchant's clearing for one business day (issue 5, part 6): what its terminals took, the
/// commission withheld and the net paid out. Written once by the day's clearing run.
public struct ClearingResult: Hashable, Codable, Sendable {
    public var businessDate: CalendarDate
    public var merchantID: Merchant.ID
    public var recordCount: Int64
    /// Posted and risk records.
    public var grossFen: Int64
    /// Of the gross, what the operator's risk account bore (loss rule).
    public var riskFen: Int64
    public var commissionBasisPoints: Int64
    public var commissionFen: Int64
    public var netFen: Int64
    public var clearedAt: Timestamp

    enum CodingKeys: String, CodingKey {
        case businessDate, recordCount, grossFen, riskFen, commissionBasisPoints, commissionFen, netFen, clearedAt
        case merchantID = "merchantId"
    }

    public init(
        businessDate: CalendarDate, merchantID: Merchant.ID, recordCount: Int64, grossFen: Int64, riskFen: Int64,
        commissionBasisPoints: Int64, commissionFen: Int64, netFen: Int64, clearedAt: Timestamp
    ) {
        self.businessDate = businessDate
        self.merchantID = merchantID
        self.recordCount = recordCount
        self.grossFen = grossFen
        self.riskFen = riskFen
        self.commissionBasisPoints = commissionBasisPoints
        self.commissionFen = commissionFen
        self.netFen = netFen
        self.clearedAt = clearedAt
    }
}

/// What became of the e-purse of a card that left service (Art 19, 20): after the waiting period
/// (default 7 days, for late terminal uploads) its shadow balance is moved to refunds payable, to be
/// loaded onto the successor card (a reissue: `migration`) or paid out to the holder
/// (a cancellation: `refund`).
public struct PurseClosure: Hashable, Codable, Sendable {
    public enum Kind: String, Hashable, Codable, Sendable {
        /// Reissue or replacement: loaded onto the successor card with `old_card_refund` funding.
        case migration
        /// Cancellation: paid out in cash or by bank.
        case refund
    }

    public enum Status: String, Hashable, Codable, Sendable {
        /// Owed: waiting for the successor's load or the payout.
        case due
        /// Loaded or paid out (a zero balance is settled at once).
        case settled
    }

    public var cardID: Card.ID
    public var successorID: Card.ID?
    public var kind: Kind
    public var amountFen: Int64
    public var status: Status
    public var closedAt: Timestamp
    public var settledAt: Timestamp?
    /// The load that put the money on the successor, or `cash:<outlet>` / `bank_transfer`.
    public var settlement: String?
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case kind, amountFen, status, closedAt, settledAt, settlement, version
        case cardID = "cardId", successorID = "successorId"
    }

    public init(
        cardID: Card.ID, successorID: Card.ID?, kind: Kind, amountFen: Int64, closedAt: Timestamp
    ) {
        self.cardID = cardID
        self.successorID = successorID
        self.kind = kind
        self.amountFen = amountFen
        self.status = amountFen == 0 ? .settled : .due
        self.closedAt = closedAt
        self.settledAt = amountFen == 0 ? closedAt : nil
        self.settlement = nil
        self.version = 1
    }
}

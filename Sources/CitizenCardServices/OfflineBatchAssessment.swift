import CardCrypto
public import CitizenCardDomain
import Foundation
public import Ledger
public import SmartCard
public import Storage

/// The host's decision on one uploaded batch of offline purchases (CARDTECH.md §10), made from
/// what the store holds about the cards in it: a pure function, so that every rule is tested
/// without a database and the store only applies the outcome.
///
/// Per record, in this order:
/// 1. the same (ASN, counter) or (PSAM, TSN) already stored: identical → `duplicate` (nothing
///    written), different → parked `replay`;
/// 2. the TAC recomputed with the card's DTK must match → else parked `bad_tac`;
/// 3. the ASN must be one of our cards → else parked `unknown_card`;
/// 4. the card's counter must be the next one of its chain → ahead: parked `gap` (released when
///    the missing records arrive), and the balance before must follow from the chain's balance
///    and the card's completed loads → else parked `balance_mismatch`;
/// 5. a chained record made at or after the card's loss took effect (Art 17) is charged to the
///    operator's risk account (`risk`, flagged `use_after_loss`), and so is one the purse's shadow
///    balance no longer covers (its balance was already moved to a new card or refunded);
///    otherwise it is posted to the holder's purse (`posted`).
///
/// Parked `gap` and `balance_mismatch` records of the batch's cards are tried again after the
/// batch's own records, so a late record releases those behind it.
public struct OfflineBatchAssessment: Sendable {
    /// What the store knows about one card of the batch.
    public struct CardFacts: Sendable {
        public var card: PurseCard
        public var chain: PurseChain
        /// Completed loads at or after `chain.nextOnlineCounter`, by online counter.
        public var loads: [LoadStep]
        /// The purse's shadow balance in the ledger (normal side, fen).
        public var purseBalanceFen: Int64

        public init(card: PurseCard, chain: PurseChain, loads: [LoadStep], purseBalanceFen: Int64) {
            self.card = card
            self.chain = chain
            self.loads = loads
            self.purseBalanceFen = purseBalanceFen
        }
    }

    /// A stored record under one of the dedup keys.
    public struct StoredKey: Sendable, Hashable {
        public var id: OfflinePurchase.ID
        public var fingerprint: String

        public init(id: OfflinePurchase.ID, fingerprint: String) {
            self.id = id
            self.fingerprint = fingerprint
        }
    }

    /// What became of one uploaded record, in upload order (the answer to the terminal).
    public struct RecordResult: Sendable, Hashable, Codable {
        public enum Outcome: String, Sendable, Hashable, Codable {
            case posted, risk, parked
            /// Already received in an earlier batch, identical: nothing changed.
            case duplicate
        }

        public var index: Int
        public var outcome: Outcome
        public var reason: OfflinePurchase.ParkReason?
        public var purchaseId: String
    }

    public struct Input: Sendable {
        public var batchID: PurchaseBatch.ID
        public var terminal: Terminal
        public var merchant: Merchant
        public var records: [PurchaseRecord]
        /// Cards of the batch by ASN (upper-case hex); an ASN missing here is not ours.
        public var cards: [String: CardFacts]
        /// Stored records by `asn|counter` and by `psam|tsn`.
        public var byCardCounter: [String: StoredKey]
        public var byPSAMSerial: [String: StoredKey]
        /// Parked `gap` and `balance_mismatch` records of the batch's cards.
        public var parked: [OfflinePurchase]
        public var now: Timestamp
        public var maxSpeedKmh: Double

        public init(
            batchID: PurchaseBatch.ID, terminal: Terminal, merchant: Merchant, records: [PurchaseRecord],
            cards: [String: CardFacts], byCardCounter: [String: StoredKey], byPSAMSerial: [String: StoredKey],
            parked: [OfflinePurchase], now: Timestamp, maxSpeedKmh: Double = 120
        ) {
            self.batchID = batchID
            self.terminal = terminal
            self.merchant = merchant
            self.records = records
            self.cards = cards
            self.byCardCounter = byCardCounter
            self.byPSAMSerial = byPSAMSerial
            self.parked = parked
            self.now = now
            self.maxSpeedKmh = maxSpeedKmh
        }
    }

    public var batch: PurchaseBatch
    public var results: [RecordResult]
    /// New rows (any outcome) and parked rows of earlier batches that are now posted or risk.
    public var inserted: [OfflinePurchase]
    public var released: [OfflinePurchase]
    /// Chains that moved, each at its next version (one past the version read; 1 for a new chain).
    public var chains: [PurseChain]
    /// The purses debited, the risk account charged and the merchants credited; nil if nothing posted.
    public var transfer: Transfer?
    public var signals: [FraudSignal]
    /// Cards with a record at the chain's next counter whose balance the given loads did not
    /// bridge: deciding again with more of the card's loads may chain it.
    public var unbridgedASNs: Set<String>

    /// Great-circle distance in km between two (latitude, longitude) points in degrees (haversine,
    /// mean Earth radius): the travel-speed check, and the simulator's choice of terminals.
    public static func distanceKm(_ a: (Double, Double), _ b: (Double, Double)) -> Double {
        let radians = Double.pi / 180
        let dLat = (b.0 - a.0) * radians, dLon = (b.1 - a.1) * radians
        let h = sin(dLat / 2) * sin(dLat / 2) + cos(a.0 * radians) * cos(b.0 * radians) * sin(dLon / 2) * sin(dLon / 2)
        return 2 * 6371.0 * asin(min(1, sqrt(h)))
    }

    static func key(asn: String, counter: Int64) -> String { "\(asn)|\(counter)" }
    static func key(psam: String, serial: Int64) -> String { "\(psam)|\(serial)" }

    /// Checks the batch's shape: every record must be well formed and come from this terminal and
    /// its PSAM, and no two may share a key. Returns the problems, each naming its record.
    public static func problems(in records: [PurchaseRecord], terminal: Terminal) -> [String] {
        var problems: [String] = []
        var cardKeys = Set<String>(), serialKeys = Set<UInt32>()
        for (index, record) in records.enumerated() {
            let problem: String? =
                if !isHex(record.asn, digits: 20) {
                    "asn must be 20 hex digits"
                } else if upperCased(record.terminalID) != terminal.number {
                    "terminalID is not this terminal's"
                } else if upperCased(record.psamSerialNumber) != terminal.psamSerial {
                    "psamSerialNumber is not this terminal's PSAM"
                } else if !(1...Int64(UInt32.max)).contains(record.amountFen) {
                    "amountFen must be 1…4294967295"
                } else if record.balanceBeforeFen < record.amountFen
                    || record.balanceAfterFen != record.balanceBeforeFen - record.amountFen
                {
                    "balanceAfterFen must be balanceBeforeFen - amountFen"
                } else if record.balanceBeforeFen > Int64(UInt32.max) {
                    "balanceBeforeFen must be at most 4294967295"
                } else if record.transactionType != 0x06 && record.transactionType != 0x09 {
                    "transactionType must be 6 (purchase) or 9 (composite)"
                } else if (try? TransactionDateTime(digits: record.dateTime)) == nil {
                    "dateTime must be a real YYYYMMDDhhmmss"
                } else if !isHex(record.tac, digits: 8) || !isHex(record.mac2, digits: 8) {
                    "tac and mac2 must be 8 hex digits"
                } else if !cardKeys.insert(key(asn: upperCased(record.asn), counter: Int64(record.cardCounter)))
                    .inserted
                {
                    "another record of the batch has the same card and counter"
                } else if !serialKeys.insert(record.terminalSerial).inserted {
                    "another record of the batch has the same terminal serial number"
                } else {
                    nil
                }
            if let problem { problems.append("record \(index): \(problem)") }
        }
        return problems
    }

    /// `text` in upper case: the same string, not a copy, when it has no lower-case letter (as
    /// terminals send their hex).
    static func upperCased(_ text: String) -> String {
        text.utf8.contains { (0x61...0x7A).contains($0) } ? text.uppercased() : text
    }

    /// Exactly `digits` hex digits, nothing else (no spaces or separators).
    static func isHex(_ text: String, digits: Int) -> Bool {
        text.utf8.count == digits
            && text.utf8.allSatisfy {
                (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0)
            }
    }

    /// `YYYYMMDDhhmmss` in Asia/Shanghai as a time; the text must have passed `problems(in:)`.
    public static func tapTime(_ digits: String) -> Timestamp {
        let bytes = Array(digits.utf8)
        func number(_ range: Range<Int>) -> Int64 { range.reduce(0) { $0 * 10 + Int64(bytes[$1] - 0x30) } }
        let date = CalendarDate(year: Int(number(0..<4)), month: Int(number(4..<6)), day: Int(number(6..<8)))!
        return Timestamp(
            secondsSinceEpoch: date.startTimestamp().secondsSinceEpoch + number(8..<10) * 3600 + number(10..<12) * 60
                + number(12..<14))
    }

    /// Decides the batch. `verifyTAC` recomputes one record's TAC (the keyring's `verifyPurchaseTAC`).
    public init(
        _ input: Input, newID: () -> String, verifyTAC: (PurchaseRecord) -> Bool
    ) throws(LedgerError) {
        var state = Working(input: input)
        // 1-3: each uploaded record on its own; candidates for the chains are kept per card.
        var candidates: [String: [Candidate]] = [:]
        var results: [RecordResult?] = Array(repeating: nil, count: input.records.count)
        for (index, record) in input.records.enumerated() {
            let asn = Self.upperCased(record.asn)
            let stored = OfflinePurchase(
                id: OfflinePurchase.ID(rawValue: newID()), batchID: input.batchID, terminalID: input.terminal.id,
                merchantID: input.merchant.id, cardID: input.cards[asn]?.card.id, asn: asn,
                cardCounter: Int64(record.cardCounter), psamSerial: input.terminal.psamSerial,
                terminalSerial: Int64(record.terminalSerial), amountFen: record.amountFen,
                balanceBeforeFen: record.balanceBeforeFen, balanceAfterFen: record.balanceAfterFen,
                transactionType: Int64(record.transactionType), tappedAt: Self.tapTime(record.dateTime),
                keyVersion: Int64(record.keyVersion), algorithmID: Int64(record.algorithmID),
                tac: Self.upperCased(record.tac), mac2: Self.upperCased(record.mac2),
                recordStatus: record.status.rawValue,
                outcome: .parked, reason: nil, postedAt: nil, receivedAt: input.now)
            // Most batches meet no stored record: no keys to build then.
            let existing =
                input.byCardCounter.isEmpty && input.byPSAMSerial.isEmpty
                ? []
                : [
                    input.byCardCounter[Self.key(asn: asn, counter: stored.cardCounter)],
                    input.byPSAMSerial[Self.key(psam: stored.psamSerial, serial: stored.terminalSerial)],
                ].compactMap { $0 }
            if let first = existing.first {
                if existing.allSatisfy({ $0.fingerprint == stored.fingerprint && $0.id == first.id }) {
                    results[index] = RecordResult(
                        index: index, outcome: .duplicate, reason: nil, purchaseId: first.id.rawValue)
                    continue
                }
                state.park(stored, .replay, index: index, into: &results)
                state.signal(
                    .replay, stored,
                    "card counter \(stored.cardCounter) or PSAM \(stored.psamSerial) serial \(stored.terminalSerial) already holds record \(first.id) with other content"
                )
                continue
            }
            guard verifyTAC(record) else {
                state.park(stored, .badTAC, index: index, into: &results)
                state.signal(
                    .forgedTAC, stored,
                    "TAC \(stored.tac) does not verify (terminal \(input.terminal.number), serial \(stored.terminalSerial), amount \(stored.amountFen) fen)"
                )
                continue
            }
            guard input.cards[asn] != nil else {
                state.park(stored, .unknownCard, index: index, into: &results)
                continue
            }
            candidates[asn, default: []].append(Candidate(record: stored, index: index))
        }
        for parked in input.parked where input.cards[parked.asn] != nil {
            candidates[parked.asn, default: []].append(Candidate(record: parked, index: nil))
        }
        // 4-5: each card's chain, in counter order.
        for asn in candidates.keys.sorted() {
            state.chain(asn, candidates[asn]!.sorted { $0.record.cardCounter < $1.record.cardCounter }, &results)
        }
        let outcomes = results.map { $0! }
        var postings: [Posting] = []
        let payable = AccountID.merchantPayable(input.merchant.id)
        for record in state.inserted + state.released where record.outcome != .parked {
            let payer: AccountID = record.outcome == .posted ? .purse(record.cardID!) : .operatorRisk
            postings.append(.debit(payer, fen: record.amountFen))
            postings.append(
                .credit(
                    record.merchantID == input.merchant.id ? payable : .merchantPayable(record.merchantID),
                    fen: record.amountFen))
        }
        transfer =
            postings.isEmpty
            ? nil
            : try Transfer.merging(
                id: TransferID("purchases:\(input.batchID)"), kind: .purchase, at: input.now,
                memo: "terminal \(input.terminal.number) batch", postings: postings)
        self.results = outcomes
        inserted = state.inserted
        released = state.released
        chains = state.movedChains.map { asn in
            var chain = state.chains[asn]!
            chain.version = input.cards[asn]!.chain.version + 1
            return chain
        }
        signals = state.signals
        unbridgedASNs = state.unbridged
        let accepted = outcomes.filter { $0.outcome == .posted || $0.outcome == .risk }
        batch = PurchaseBatch(
            id: input.batchID, terminalID: input.terminal.id, merchantID: input.merchant.id, number: 0,
            contentHash: "", recordCount: Int64(outcomes.count),
            postedCount: Int64(outcomes.count { $0.outcome == .posted }),
            riskCount: Int64(outcomes.count { $0.outcome == .risk }),
            parkedCount: Int64(outcomes.count { $0.outcome == .parked }),
            duplicateCount: Int64(outcomes.count { $0.outcome == .duplicate }),
            acceptedFen: accepted.reduce(0) { $0 + input.records[$1.index].amountFen }, receivedAt: input.now)
    }

    struct Candidate {
        var record: OfflinePurchase
        /// Its place in the upload; nil for a record parked by an earlier batch.
        var index: Int?
    }

    /// The running state of one assessment.
    struct Working {
        let input: Input
        var chains: [String: PurseChain] = [:]
        var movedChains: [String] = []
        var purseBalances: [String: Int64] = [:]
        var inserted: [OfflinePurchase] = []
        var released: [OfflinePurchase] = []
        var signals: [FraudSignal] = []
        var signalCount = 0
        var unbridged = Set<String>()

        init(input: Input) {
            self.input = input
            for (asn, facts) in input.cards {
                chains[asn] = facts.chain
                purseBalances[asn] = facts.purseBalanceFen
            }
        }

        mutating func park(
            _ record: OfflinePurchase, _ reason: OfflinePurchase.ParkReason, index: Int?,
            into results: inout [RecordResult?]
        ) {
            var record = record
            record.outcome = .parked
            record.reason = reason
            if let index {
                inserted.append(record)
                results[index] = RecordResult(
                    index: index, outcome: .parked, reason: reason, purchaseId: record.id.rawValue)
            }
        }

        mutating func signal(_ kind: FraudSignal.Kind, _ record: OfflinePurchase, _ evidence: String) {
            signalCount += 1
            signals.append(
                FraudSignal(
                    id: FraudSignal.ID(rawValue: "\(input.batchID).\(String(format: "%05d", signalCount))"), kind: kind,
                    cardID: record.cardID,
                    asn: record.asn, purchaseID: record.id, evidence: evidence, detectedAt: input.now))
        }

        mutating func chain(_ asn: String, _ candidates: [Candidate], _ results: inout [RecordResult?]) {
            let facts = input.cards[asn]!
            var chain = chains[asn]!
            var moved = false
            // A card already waiting for a missing record was flagged when its gap opened.
            var gapSignalled = input.parked.contains { $0.asn == asn && $0.reason == .gap }
            for candidate in candidates {
                var record = candidate.record
                if record.cardCounter > chain.nextCounter {
                    if candidate.index != nil {
                        park(record, .gap, index: candidate.index, into: &results)
                        if !gapSignalled {
                            gapSignalled = true
                            signal(
                                .counterGap, record,
                                "expected counter \(chain.nextCounter), got \(record.cardCounter): \(record.cardCounter - chain.nextCounter) record(s) missing"
                            )
                        }
                    }
                    continue
                }
                guard record.cardCounter == chain.nextCounter,
                    let onlineCounter = Self.loadsBridging(
                        from: chain, to: record.balanceBeforeFen, loads: facts.loads)
                else {
                    if record.cardCounter == chain.nextCounter { unbridged.insert(asn) }
                    if candidate.index != nil {
                        park(record, .balanceMismatch, index: candidate.index, into: &results)
                    }
                    continue
                }
                let purse = purseBalances[asn]!
                let afterLoss = facts.card.lossEffectiveAt.map { record.tappedAt >= $0 } ?? false
                record.outcome = afterLoss || purse < record.amountFen ? .risk : .posted
                record.reason = nil
                record.postedAt = input.now
                if afterLoss, let lossAt = facts.card.lossEffectiveAt {
                    signal(
                        .useAfterLoss, record,
                        "tapped \(record.tappedAt.iso8601) at terminal \(input.terminal.number); loss effective \(lossAt.iso8601); charged to the operator's risk account"
                    )
                }
                if record.outcome == .posted { purseBalances[asn] = purse - record.amountFen }
                checkTravel(from: chain, to: record)
                chain.nextCounter += 1
                chain.balanceFen = record.balanceAfterFen
                chain.nextOnlineCounter = onlineCounter
                chain.lastTappedAt = record.tappedAt
                chain.lastTerminalID = record.terminalID
                if record.terminalID == input.terminal.id {
                    chain.lastLatitudeE6 = input.terminal.latitudeE6
                    chain.lastLongitudeE6 = input.terminal.longitudeE6
                } else {
                    // Released from an earlier batch of another terminal: its place is not at hand.
                    chain.lastLatitudeE6 = nil
                    chain.lastLongitudeE6 = nil
                }
                moved = true
                if let index = candidate.index {
                    inserted.append(record)
                    results[index] = RecordResult(
                        index: index, outcome: record.outcome == .posted ? .posted : .risk, reason: nil,
                        purchaseId: record.id.rawValue)
                } else {
                    released.append(record)
                }
            }
            chains[asn] = chain
            if moved { movedChains.append(asn) }
        }

        /// The online counter after the loads that take the chain's balance to `balance`
        /// (`chain.nextOnlineCounter` itself when no load is needed), or nil when no run of the
        /// card's loads does.
        static func loadsBridging(from chain: PurseChain, to balance: Int64, loads: [LoadStep]) -> Int64? {
            var running = chain.balanceFen
            var next = chain.nextOnlineCounter
            if running == balance { return next }
            for load in loads where load.onlineCounter >= next {
                guard load.balanceBeforeFen == running else { return nil }
                running += load.amountFen
                next = load.onlineCounter + 1
                if running == balance { return next }
            }
            return nil
        }

        mutating func checkTravel(from chain: PurseChain, to record: OfflinePurchase) {
            guard let lastAt = chain.lastTappedAt, let lastTerminal = chain.lastTerminalID,
                lastTerminal != record.terminalID, record.terminalID == input.terminal.id,
                let fromLatitude = chain.lastLatitudeE6, let fromLongitude = chain.lastLongitudeE6,
                let toLatitude = input.terminal.latitudeE6, let toLongitude = input.terminal.longitudeE6
            else { return }
            func degrees(_ e6: Int64) -> Double { Double(e6) / 1e6 }
            let kilometres = OfflineBatchAssessment.distanceKm(
                (degrees(fromLatitude), degrees(fromLongitude)), (degrees(toLatitude), degrees(toLongitude)))
            guard kilometres > 1 else { return }
            let seconds = record.tappedAt.secondsSinceEpoch - lastAt.secondsSinceEpoch
            let speed = seconds > 0 ? kilometres / (Double(seconds) / 3600) : .infinity
            guard speed > input.maxSpeedKmh else { return }
            let shown = speed.isFinite ? "\(Int(speed.rounded())) km/h" : "no time between the taps"
            signal(
                .impossibleTravel, record,
                "terminal \(lastTerminal) at \(lastAt.iso8601), then terminal \(input.terminal.number) (\(input.terminal.location)) at \(record.tappedAt.iso8601): \(Int(kilometres.rounded())) km in \(seconds) s, \(shown) (limit \(Int(input.maxSpeedKmh)) km/h)"
            )
        }

        /// Great-circle distance (haversine, mean Earth radius).
    }
}

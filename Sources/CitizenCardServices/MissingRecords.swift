public import CitizenCardDomain
import Storage

/// The arithmetic of writing off a card's missing offline records (docs/terminal-protocol.md,
/// *Writing off missing records*): a pure function of the card's chain, its completed loads not yet
/// taken into the chain, and the first record parked behind the gap.
///
/// The chip's balance is known at three kinds of points: after the chain's last record (the
/// chain's balance), before and after each online load (the card told the host at the load), and
/// before the first record behind the gap. Between two points only purchases happen, so the
/// balance can only fall there, and what it falls by is what the missing records spent. Loads made
/// before that first record — by the chip's own date and time of each, the same clock kind as a
/// tap's — lie inside the gap; the others come after it, and a later record's balance takes them.
public enum MissingRecords {
    /// A completed load of the card, as the write-off needs it.
    public struct Load: Sendable, Hashable {
        public var onlineCounter: Int64
        public var balanceBeforeFen: Int64
        public var amountFen: Int64
        /// The date and time the load gave the card (`PurseLoad.transactionTime`), as a time.
        public var at: Timestamp

        public init(onlineCounter: Int64, balanceBeforeFen: Int64, amountFen: Int64, at: Timestamp) {
            self.onlineCounter = onlineCounter
            self.balanceBeforeFen = balanceBeforeFen
            self.amountFen = amountFen
            self.at = at
        }
    }

    public struct Decision: Sendable, Hashable {
        /// The chain moved past the missing records, at the first record behind them (its version
        /// unchanged: the commit that moves it sets the next one).
        public var chain: PurseChain
        /// The missing counters, first and last.
        public var firstCounter: Int64
        public var lastCounter: Int64
        /// What the missing records spent, together.
        public var amountFen: Int64
        /// Loads that lie inside the gap.
        public var loadsInGap: Int
    }

    public enum Refusal: Error, Sendable, Hashable {
        /// The record is not ahead of the chain: there is nothing missing before it.
        case noGap
        /// The loads' times are not in their online counters' order around the record.
        case loadsOutOfOrder
        /// Between two known balances the chip's balance would have risen without a load.
        case balanceRises
        /// The missing records would have spent less than a fen each.
        case tooLittle
    }

    /// Writes off the records between `chain` and `first`, the lowest-counter record parked behind
    /// the gap. `loads` are the card's completed loads at or after the chain's online counter, in
    /// online-counter order.
    public static func decide(
        chain: PurseChain, loads: [Load], first: OfflinePurchase
    ) -> Result<Decision, Refusal> {
        guard first.cardCounter > chain.nextCounter else { return .failure(.noGap) }
        let inGap = loads.prefix { $0.at <= first.tappedAt }
        guard loads.dropFirst(inGap.count).allSatisfy({ $0.at > first.tappedAt }) else {
            return .failure(.loadsOutOfOrder)
        }
        var running = chain.balanceFen
        var spent: Int64 = 0
        for load in inGap {
            guard load.balanceBeforeFen <= running else { return .failure(.balanceRises) }
            spent += running - load.balanceBeforeFen
            running = load.balanceBeforeFen + load.amountFen
        }
        guard first.balanceBeforeFen <= running else { return .failure(.balanceRises) }
        spent += running - first.balanceBeforeFen
        let missing = first.cardCounter - chain.nextCounter
        guard spent >= missing else { return .failure(.tooLittle) }
        var moved = chain
        moved.nextCounter = first.cardCounter
        moved.balanceFen = first.balanceBeforeFen
        if let last = inGap.last { moved.nextOnlineCounter = last.onlineCounter + 1 }
        return .success(
            Decision(
                chain: moved, firstCounter: chain.nextCounter, lastCounter: first.cardCounter - 1, amountFen: spent,
                loadsInGap: inGap.count))
    }
}

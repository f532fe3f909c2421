import CitizenCardDomain
@testable import CitizenCardServices
import Storage
import Testing

/// The arithmetic of a write-off of missing records (`MissingRecords.decide`): examples, and a
/// property test against chip histories whose missing records are known.
@Suite("Missing records: the arithmetic")
struct MissingRecordsTests {
    static let card = Card.ID(rawValue: "00000000-0000-7000-8000-0000000000aa")

    static func record(counter: Int64, before: Int64, amount: Int64, at seconds: Int64) -> OfflinePurchase {
        OfflinePurchase(
            id: .init(rawValue: "p\(counter)"), batchID: .init(rawValue: "b"), terminalID: .init(rawValue: "t"),
            merchantID: .init(rawValue: "m"), cardID: card, asn: "0000000000000000000A", cardCounter: counter,
            psamSerial: "0000000000000001", terminalSerial: counter, amountFen: amount, balanceBeforeFen: before,
            balanceAfterFen: before - amount, transactionType: 6, tappedAt: Timestamp(secondsSinceEpoch: seconds),
            keyVersion: 1, algorithmID: 0, tac: "00000000", mac2: "00000000", recordStatus: "complete",
            outcome: .parked, reason: .gap, postedAt: nil, receivedAt: Timestamp(secondsSinceEpoch: seconds))
    }

    static func chain(next: Int64, balance: Int64, online: Int64) -> PurseChain {
        var chain = PurseChain(cardID: card)
        chain.nextCounter = next
        chain.balanceFen = balance
        chain.nextOnlineCounter = online
        chain.version = 3
        return chain
    }

    @Test("two records missing, no load: they spent the chain's balance less the next record's balance before")
    func plain() throws {
        let decision = try MissingRecords.decide(
            chain: Self.chain(next: 5, balance: 1_000, online: 2), loads: [],
            first: Self.record(counter: 7, before: 700, amount: 50, at: 100)
        ).get()
        #expect(decision.firstCounter == 5 && decision.lastCounter == 6 && decision.amountFen == 300)
        #expect(decision.chain.nextCounter == 7 && decision.chain.balanceFen == 700)
        #expect(decision.chain.nextOnlineCounter == 2 && decision.chain.version == 3 && decision.loadsInGap == 0)
    }

    @Test("a load among the missing records is taken into the chain; one after the record is left for later")
    func loads() throws {
        let loads = [
            MissingRecords.Load(
                onlineCounter: 2, balanceBeforeFen: 900, amountFen: 500, at: .init(secondsSinceEpoch: 50)),
            MissingRecords.Load(
                onlineCounter: 3, balanceBeforeFen: 1_000, amountFen: 100, at: .init(secondsSinceEpoch: 150)),
        ]
        let decision = try MissingRecords.decide(
            chain: Self.chain(next: 5, balance: 1_000, online: 2), loads: loads,
            first: Self.record(counter: 7, before: 1_200, amount: 50, at: 100)
        ).get()
        // 1,000 → (−100) 900 → load +500 → 1,400 → (−200) 1,200.
        #expect(decision.amountFen == 300 && decision.loadsInGap == 1)
        #expect(decision.chain.nextOnlineCounter == 3 && decision.chain.balanceFen == 1_200)
    }

    @Test("refusals: no gap, loads out of time order, a balance that rises without a load, too little spent")
    func refusals() {
        let chain = Self.chain(next: 5, balance: 1_000, online: 0)
        func decide(_ loads: [MissingRecords.Load], _ first: OfflinePurchase) -> MissingRecords.Refusal? {
            if case .failure(let refusal) = MissingRecords.decide(chain: chain, loads: loads, first: first) {
                return refusal
            }
            return nil
        }
        #expect(decide([], Self.record(counter: 5, before: 1_000, amount: 1, at: 1)) == .noGap)
        let late = MissingRecords.Load(
            onlineCounter: 0, balanceBeforeFen: 900, amountFen: 10, at: .init(secondsSinceEpoch: 200))
        let early = MissingRecords.Load(
            onlineCounter: 1, balanceBeforeFen: 900, amountFen: 10, at: .init(secondsSinceEpoch: 50))
        #expect(decide([late, early], Self.record(counter: 6, before: 800, amount: 1, at: 100)) == .loadsOutOfOrder)
        #expect(decide([], Self.record(counter: 6, before: 1_001, amount: 1, at: 100)) == .balanceRises)
        let rises = MissingRecords.Load(
            onlineCounter: 0, balanceBeforeFen: 1_100, amountFen: 10, at: .init(secondsSinceEpoch: 50))
        #expect(decide([rises], Self.record(counter: 6, before: 500, amount: 1, at: 100)) == .balanceRises)
        #expect(decide([], Self.record(counter: 8, before: 998, amount: 1, at: 100)) == .tooLittle)
    }

    @Test("on random chip histories the write-off finds exactly what the missing records spent", arguments: 0..<400)
    func histories(seed: Int) throws {
        var random = SplitMix(seed: UInt64(seed))
        // A chip's history of purchases and loads, with increasing times.
        enum Event { case purchase(counter: Int64, before: Int64, amount: Int64, at: Int64), load(MissingRecords.Load) }
        var events: [Event] = []
        var balance = Int64(random.next() % 5_000), counter: Int64 = 0, online: Int64 = 0, time: Int64 = 0
        for _ in 0..<Int(3 + random.next() % 20) {
            time += Int64(1 + random.next() % 600)
            if balance > 0, random.next() % 3 != 0 {
                let amount = Int64(1 + random.next() % UInt64(min(balance, 800)))
                events.append(.purchase(counter: counter, before: balance, amount: amount, at: time))
                counter += 1
                balance -= amount
            } else {
                let amount = Int64(1 + random.next() % 3_000)
                events.append(
                    .load(
                        .init(
                            onlineCounter: online, balanceBeforeFen: balance, amountFen: amount,
                            at: .init(secondsSinceEpoch: time))))
                online += 1
                balance += amount
            }
        }
        let purchases = events.enumerated().compactMap { index, event -> (Int, Int64, Int64, Int64, Int64)? in
            if case .purchase(let c, let before, let amount, let at) = event { return (index, c, before, amount, at) }
            return nil
        }
        guard purchases.count >= 3 else { return }
        // The chain stands after purchase `k - 1`; purchases k..<m never arrive; m is parked.
        let k = Int(random.next() % UInt64(purchases.count - 2)) + 1
        let m = k + 1 + Int(random.next() % UInt64(purchases.count - k - 1))
        let chained = purchases[k - 1], first = purchases[m]
        let loadsAfterChain = events[(chained.0 + 1)...].compactMap { event -> MissingRecords.Load? in
            if case .load(let load) = event { return load }
            return nil
        }
        let chain = Self.chain(
            next: chained.1 + 1, balance: chained.2 - chained.3, online: loadsAfterChain.first?.onlineCounter ?? online)
        let decision = try MissingRecords.decide(
            chain: chain, loads: loadsAfterChain,
            first: Self.record(counter: first.1, before: first.2, amount: first.3, at: first.4)
        ).get()
        #expect(decision.amountFen == purchases[k..<m].reduce(0) { $0 + $1.3 })
        #expect(decision.firstCounter == purchases[k].1 && decision.lastCounter == purchases[m - 1].1)
        let loadsInGap = events[(chained.0 + 1)..<first.0].count { if case .load = $0 { true } else { false } }
        #expect(decision.loadsInGap == loadsInGap)
        #expect(decision.chain.nextCounter == first.1 && decision.chain.balanceFen == first.2)
        #expect(
            decision.chain.nextOnlineCounter
                == (loadsInGap == 0 ? chain.nextOnlineCounter : loadsAfterChain[loadsInGap - 1].onlineCounter + 1))
    }
}

import CitizenCardDomain
import PropertyBased
import Testing

@Suite("Fee schedule (Art 21, 22, R-19)")
struct FeeScheduleTests {
    static let t1 = Timestamp.at("2012-06-01T00:00:00+08:00")
    static let t2 = Timestamp.at("2020-01-01T00:00:00+08:00")
    static let t3 = Timestamp.at("2026-07-01T00:00:00+08:00")

    static let entries = [
        FeeEntry(item: .reissue, amount: Money(yuan: 20), effectiveFrom: t1, authority: "浙价费〔2011〕1号"),
        FeeEntry(item: .reissue, amount: Money(yuan: 25), effectiveFrom: t2, authority: "浙价费〔2019〕2号"),
        FeeEntry(item: .reissue, amount: Money(yuan: 15), effectiveFrom: t3, authority: "浙价费〔2026〕3号"),
        FeeEntry(item: .replacementDamaged, amount: Money(yuan: 20), effectiveFrom: t1, authority: "浙价费〔2011〕1号"),
        FeeEntry(item: .replacementDataChanged, amount: .zero, effectiveFrom: t1, authority: "浙价费〔2011〕1号"),
    ]

    static func fee(
        _ item: FeeItem, at time: Timestamp, entries: [FeeEntry] = entries
    ) -> Result<
        Money, CitizenCardError
    > {
        let schedule = FeeSchedule(entries: entries)
        return Result { () throws(CitizenCardError) in try schedule.fee(for: item, at: time) }
    }

    @Test(
        arguments: [
            (t1.adding(seconds: -1), nil), (t1, 2000), (t2.adding(seconds: -1), 2000), (t2, 2500),
            (t3.adding(seconds: -1), 2500), (t3, 1500), (t3.adding(days: 3650), 1500),
        ] as [(Timestamp, Int64?)])
    func theLatestEntryNotAfterTheTimeWins(time: Timestamp, fen: Int64?) {
        let result = Self.fee(.reissue, at: time)
        if let fen {
            #expect(result.success == Money(fen: fen))
        } else {
            #expect(result.failure?.code == .feeNotScheduled)
            #expect(result.failure?.field == "item")
        }
    }

    @Test func theOrderOfEntriesDoesNotMatter() async {
        await propertyCheck(
            count: 200, input: Gen.shuffled(Self.entries),
            Gen.int64(in: Self.t1.secondsSinceEpoch...Self.t3.secondsSinceEpoch + 86_400)
        ) {
            shuffled, seconds in
            let time = Timestamp(secondsSinceEpoch: seconds)
            #expect(Self.fee(.reissue, at: time, entries: shuffled).success == Self.fee(.reissue, at: time).success)
        }
    }

    @Test func aFreeItemIsScheduledAtZero() {
        #expect(Self.fee(.replacementDataChanged, at: Self.t3).success == .zero)
    }

    @Test(arguments: [FeeItem.repeatApplication, .renewal])
    func anItemWithoutEntriesIsNotScheduled(item: FeeItem) {
        let error = Self.fee(item, at: Self.t3).failure
        #expect(error?.code == .feeNotScheduled)
        #expect(error?.detail?.contains(item.rawValue) == true)
    }

    // MARK: The first card is free

    @Test func firstCardIsAlwaysFreeEvenWithAnEmptySchedule() {
        #expect(Self.fee(.firstCard, at: Self.t1, entries: []).success == .zero)
        #expect(Self.fee(.firstCard, at: Timestamp(secondsSinceEpoch: 0), entries: []).success == .zero)
    }

    @Test func firstCardCannotBeScheduledNonZero() {
        let entry = FeeEntry(item: .firstCard, amount: Money(fen: 1), effectiveFrom: Self.t1, authority: "x")
        let error = caughtError { () throws(CitizenCardError) in try entry.validate() }
        #expect(error?.code == .invalidField)
        #expect(error?.field == "amount")
        #expect(error?.detailZh == "首次申领免收工本费")
        // Even an entry that skipped validation does not make the first card cost anything.
        #expect(Self.fee(.firstCard, at: Self.t2, entries: [entry]).success == .zero)
        let free = FeeEntry(item: .firstCard, amount: .zero, effectiveFrom: Self.t1, authority: "x")
        #expect(caughtError { () throws(CitizenCardError) in try free.validate() } == nil)
    }

    @Test func firstCardChargesNothingAndAcceptsOnlyZero() {
        let schedule = FeeSchedule(entries: [])
        #expect(
            Result { () throws(CitizenCardError) in try schedule.charge(for: .firstCard, at: Self.t1, expected: .zero) }
                .success == .zero)
        let error = caughtError { () throws(CitizenCardError) in
            try schedule.charge(for: .firstCard, at: Self.t1, expected: Money(yuan: 20))
        }
        #expect(error?.code == .feeMismatch)
    }

    // MARK: Charging

    @Test func chargeTakesTheScheduledAmount() {
        let schedule = FeeSchedule(entries: Self.entries)
        #expect(
            Result { () throws(CitizenCardError) in try schedule.charge(for: .reissue, at: Self.t2, expected: nil) }
                .success == Money(yuan: 25))
        #expect(
            Result { () throws(CitizenCardError) in
                try schedule.charge(for: .reissue, at: Self.t2, expected: Money(fen: 2500))
            }.success == Money(yuan: 25))
    }

    @Test(arguments: [Int64(2000), 0, 2499, 2501, -2500])
    func aFeeTheScheduleDoesNotAllowCannotBeCharged(expected: Int64) {
        let schedule = FeeSchedule(entries: Self.entries)
        let error = caughtError { () throws(CitizenCardError) in
            try schedule.charge(for: .reissue, at: Self.t2, expected: Money(fen: expected))
        }
        #expect(error?.code == .feeMismatch)
        #expect(error?.field == "expectedFeeFen")
        #expect(error?.detail == "the schedule's fee is 2500 fen")
    }

    @Test func chargingAnUnscheduledItemIsNotScheduledEvenWithAnExpectation() {
        let schedule = FeeSchedule(entries: Self.entries)
        let error = caughtError { () throws(CitizenCardError) in
            try schedule.charge(for: .renewal, at: Self.t2, expected: .zero)
        }
        #expect(error?.code == .feeNotScheduled)
    }

    // MARK: Entry validation

    static let invalidEntries: [(FeeEntry, String)] = [
        (FeeEntry(item: .reissue, amount: Money(fen: -1), effectiveFrom: t1, authority: "x"), "amount"),
        (FeeEntry(item: .reissue, amount: Money(fen: 100_001), effectiveFrom: t1, authority: "x"), "amount"),
        (FeeEntry(item: .reissue, amount: Money(yuan: 20), effectiveFrom: t1, authority: ""), "authority"),
        (FeeEntry(item: .reissue, amount: Money(yuan: 20), effectiveFrom: t1, authority: " \u{3000}\t"), "authority"),
        (
            FeeEntry(
                item: .reissue, amount: Money(yuan: 20), effectiveFrom: t1,
                authority: String(repeating: "文", count: 201)), "authority"
        ),
    ]

    @Test(arguments: invalidEntries)
    func invalidEntriesAreRefused(entry: FeeEntry, field: String) {
        let error = caughtError { () throws(CitizenCardError) in try entry.validate() }
        #expect(error?.code == .invalidField)
        #expect(error?.field == field)
    }

    @Test func entriesAtTheLimitsAreValid() {
        for entry in [
            FeeEntry(item: .reissue, amount: .zero, effectiveFrom: Self.t1, authority: "x"),
            FeeEntry(
                item: .reissue, amount: Money(fen: 100_000), effectiveFrom: Self.t1,
                authority: String(repeating: "文", count: 200)),
        ] {
            #expect(caughtError { () throws(CitizenCardError) in try entry.validate() } == nil)
        }
    }

    @Test func demoScheduleIsValidAndChargesTwentyYuanForReissueAndDamage() throws {
        let entries = FeeSchedule.demo(from: Self.t1)
        for entry in entries { try entry.validate() }
        let schedule = FeeSchedule(entries: entries)
        #expect(try schedule.fee(for: .reissue, at: Self.t1) == Money(yuan: 20))
        #expect(try schedule.fee(for: .replacementDamaged, at: Self.t1) == Money(yuan: 20))
        #expect(try schedule.fee(for: .repeatApplication, at: Self.t1) == Money(yuan: 20))
        #expect(try schedule.fee(for: .replacementDataChanged, at: Self.t1) == .zero)
        #expect(try schedule.fee(for: .renewal, at: Self.t1) == .zero)
        #expect(try schedule.fee(for: .firstCard, at: Self.t1) == .zero)
        #expect(!entries.contains { $0.item == .firstCard })
    }

    @Test func receiptsOfFreeItemsArePaidFree() {
        func receipt(_ amount: Money) -> Receipt {
            Receipt(
                id: fixedID(1), number: "RDH010001", at: Self.t1, outletID: fixedID(2), operatorID: fixedID(3),
                personID: fixedID(4), cardID: fixedID(5), item: .reissue, amount: amount)
        }
        #expect(receipt(.zero).paymentMethod == .free)
        #expect(receipt(Money(yuan: 20)).paymentMethod == .cash)
    }
}

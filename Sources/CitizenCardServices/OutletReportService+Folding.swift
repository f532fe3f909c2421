import CitizenCardDomain
import Storage

/// Pure functions from the store's sums (`OutletActivity`) to the reports' shapes.
extension OutletReportService {
    /// What one bucket (an hour of a day, a day of a range) holds.
    struct Bucket {
        var business = BusinessCounts()
        var loads: Int64 = 0
        var payouts: Int64 = 0
        var feesCashFen: Int64 = 0
        var cashInFen: Int64 = 0
        var cashOutFen: Int64 = 0

        var transactions: Int64 { business.total + loads + payouts }

        func summary(date: CalendarDate) -> OutletDaySummary {
            OutletDaySummary(
                date: date, business: business, loads: loads, payouts: payouts, transactions: transactions,
                feesCashFen: feesCashFen, cashInFen: cashInFen, cashOutFen: cashOutFen,
                cashBalanceFen: cashInFen - cashOutFen)
        }
    }

    /// The activity by bucket, `count` of them.
    static func buckets(_ activity: OutletActivity, count: Int) -> [Bucket] {
        var buckets = [Bucket](repeating: Bucket(), count: count)
        func index(_ bucket: Int64) -> Int {
            precondition((0..<Int64(count)).contains(bucket), "the store keeps to the window")
            return Int(bucket)
        }
        for event in activity.events {
            guard let action = CounterAction(event) else { continue }
            buckets[index(event.bucket)].business.add(action, event.count)
        }
        for fee in activity.fees where fee.paymentMethod == .cash {
            buckets[index(fee.bucket)].feesCashFen += fee.amountFen
            buckets[index(fee.bucket)].cashInFen += fee.amountFen
        }
        for load in activity.loadsApproved {
            buckets[index(load.bucket)].loads += load.count
            if load.funding == .cash { buckets[index(load.bucket)].cashInFen += load.amountFen }
        }
        for load in activity.loadsReversed where load.funding == .cash {
            buckets[index(load.bucket)].cashOutFen += load.amountFen
        }
        for payout in activity.payouts {
            buckets[index(payout.bucket)].payouts += payout.count
            buckets[index(payout.bucket)].cashOutFen += payout.amountFen
        }
        return buckets
    }

    static func dailyReport(
        _ activity: OutletActivity, outlet: Outlet, date: CalendarDate, from: Timestamp, until: Timestamp,
        now: Timestamp, displayNames: [String: String]
    ) -> OutletDailyReport {
        var business = BusinessCounts()
        for event in activity.events {
            if let action = CounterAction(event) { business.add(action, event.count) }
        }
        let hours = buckets(activity, count: 24).enumerated().map { hour, bucket in
            HourBucket(
                hour: hour, business: bucket.business, loads: bucket.loads, payouts: bucket.payouts,
                transactions: bucket.transactions, cashInFen: bucket.cashInFen, cashOutFen: bucket.cashOutFen)
        }
        let loads = loadLines(activity)
        let cash = cashSummary(activity)
        let report = OutletDailyReport(
            outlet: outlet, date: date, from: from, until: until, generatedAt: now, complete: until <= now,
            business: business, operators: operators(activity, displayNames: displayNames),
            fees: feeLines(activity), loads: loads, cash: cash, ledger: tieOut(activity, cash: cash), hours: hours,
            transactions: business.total + loads.reduce(0) { $0 + $1.approved.count } + cash.payouts.count)
        // Both ends of the data path: the hours add up to the day.
        assert(hours.reduce(0) { $0 + $1.transactions } == report.transactions)
        assert(hours.reduce(0) { $0 + $1.cashInFen - $1.cashOutFen } == cash.balanceFen)
        return report
    }

    static func tieOut(_ activity: OutletActivity, cash: CashSummary) -> CashLedgerTieOut {
        let lines = activity.cashLedger.sorted { $0.kind.rawValue < $1.kind.rawValue }.map {
            CashLedgerTieOut.Line(kind: $0.kind.rawValue, count: $0.count, netFen: $0.netFen)
        }
        let deposited = activity.cashLedger.filter { $0.kind == .cashDeposit }.reduce(0) { $0 - $1.netFen }
        let counter = activity.cashLedger.filter { $0.kind != .cashDeposit }.reduce(0) { $0 + $1.netFen }
        return CashLedgerTieOut(
            lines: lines, counterFen: counter, depositedFen: deposited, differenceFen: counter - cash.balanceFen,
            tiesOut: counter == cash.balanceFen)
    }

    static func feeLines(_ activity: OutletActivity) -> [FeeLine] {
        var lines: [FeeItem: FeeLine] = [:]
        for fee in activity.fees {
            var line =
                lines[fee.item] ?? FeeLine(item: fee.item, receipts: 0, cash: Tally(), freeReceipts: 0)
            line.receipts += fee.count
            switch fee.paymentMethod {
            case .cash: line.cash.add(count: fee.count, amountFen: fee.amountFen)
            case .free: line.freeReceipts += fee.count
            }
            lines[fee.item] = line
        }
        return FeeItem.allCases.compactMap { lines[$0] }
    }

    static func loadLines(_ activity: OutletActivity) -> [LoadLine] {
        PurseLoad.Funding.allCases.map { funding in
            var line = LoadLine(
                funding: funding, approved: Tally(), completed: Tally(), pending: Tally(), reversed: Tally())
            for load in activity.loadsApproved where load.funding == funding {
                line.approved.add(count: load.count, amountFen: load.amountFen)
                switch load.status {
                case .completed: line.completed.add(count: load.count, amountFen: load.amountFen)
                case .approved: line.pending.add(count: load.count, amountFen: load.amountFen)
                case .reversed: line.reversed.add(count: load.count, amountFen: load.amountFen)
                }
            }
            return line
        }
    }

    static func cashSummary(_ activity: OutletActivity) -> CashSummary {
        var fees = Tally(), loads = Tally(), reversals = Tally(), payouts = Tally()
        for fee in activity.fees where fee.paymentMethod == .cash {
            fees.add(count: fee.count, amountFen: fee.amountFen)
        }
        for load in activity.loadsApproved where load.funding == .cash {
            loads.add(count: load.count, amountFen: load.amountFen)
        }
        for load in activity.loadsReversed where load.funding == .cash {
            reversals.add(count: load.count, amountFen: load.amountFen)
        }
        for payout in activity.payouts { payouts.add(count: payout.count, amountFen: payout.amountFen) }
        let inFen = fees.amountFen + loads.amountFen, outFen = reversals.amountFen + payouts.amountFen
        return CashSummary(
            fees: fees, loads: loads, loadReversals: reversals, payouts: payouts, inFen: inFen, outFen: outFen,
            balanceFen: inFen - outFen)
    }

    /// Per username: card events by actor, receipts by the operator who made them, loads by actor.
    static func operators(_ activity: OutletActivity, displayNames: [String: String]) -> [OperatorActivity] {
        var people: [String: OperatorActivity] = [:]
        func update(_ username: String, _ change: (inout OperatorActivity) -> Void) {
            var person =
                people[username]
                ?? OperatorActivity(
                    username: username, displayName: displayNames[username], business: BusinessCounts(), loads: 0,
                    receipts: 0, cashInFen: 0, transactions: 0)
            change(&person)
            person.transactions = person.business.total + person.loads
            people[username] = person
        }
        for event in activity.events {
            guard let action = CounterAction(event) else { continue }
            update(event.actor) { $0.business.add(action, event.count) }
        }
        for fee in activity.fees {
            update(fee.operatorName) {
                $0.receipts += fee.count
                if fee.paymentMethod == .cash { $0.cashInFen += fee.amountFen }
            }
        }
        for load in activity.loadsApproved {
            update(load.actor) {
                $0.loads += load.count
                if load.funding == .cash { $0.cashInFen += load.amountFen }
            }
        }
        return people.values.sorted { $0.username < $1.username }
    }
}

public import CitizenCardDomain

// The values of the outlet reports (R-44, docs/reports.md). Money is Int64 fen throughout; times
// are UTC `Timestamp`s, hours and dates are in the city's time zone.

/// A piece of counter work, as the outlet report counts it: one per use case done at the
/// counter, whatever number of card events it records.
public enum CounterAction: String, Codable, Hashable, Sendable, CaseIterable {
    /// A new card applied for (a first or a repeat application; employers' bulk rows included).
    case application
    /// 校核: an application approved or rejected by the outlet's supervisor.
    case approval
    case rejection
    /// A card handed to its holder.
    case issue
    case writtenLoss = "written_loss"
    /// A temporary loss report taken by the counter (by phone); self-service ones have no outlet.
    case preLoss = "pre_loss"
    case lossWithdrawal = "loss_withdrawal"
    case reissue
    case replacement
    case renewal
    case cancellation
}

/// Counter work by kind, and the total.
public struct BusinessCounts: Codable, Hashable, Sendable {
    public internal(set) var applications: Int64 = 0
    public internal(set) var approvals: Int64 = 0
    public internal(set) var rejections: Int64 = 0
    public internal(set) var issues: Int64 = 0
    public internal(set) var writtenLosses: Int64 = 0
    public internal(set) var preLosses: Int64 = 0
    public internal(set) var lossWithdrawals: Int64 = 0
    public internal(set) var reissues: Int64 = 0
    public internal(set) var replacements: Int64 = 0
    public internal(set) var renewals: Int64 = 0
    public internal(set) var cancellations: Int64 = 0
    /// The sum of all of the above.
    public internal(set) var total: Int64 = 0

    public init() {}

    public subscript(action: CounterAction) -> Int64 {
        switch action {
        case .application: applications
        case .approval: approvals
        case .rejection: rejections
        case .issue: issues
        case .writtenLoss: writtenLosses
        case .preLoss: preLosses
        case .lossWithdrawal: lossWithdrawals
        case .reissue: reissues
        case .replacement: replacements
        case .renewal: renewals
        case .cancellation: cancellations
        }
    }

    mutating func add(_ action: CounterAction, _ count: Int64) {
        switch action {
        case .application: applications += count
        case .approval: approvals += count
        case .rejection: rejections += count
        case .issue: issues += count
        case .writtenLoss: writtenLosses += count
        case .preLoss: preLosses += count
        case .lossWithdrawal: lossWithdrawals += count
        case .reissue: reissues += count
        case .replacement: replacements += count
        case .renewal: renewals += count
        case .cancellation: cancellations += count
        }
        total += count
    }

    mutating func add(_ other: BusinessCounts) {
        for action in CounterAction.allCases { add(action, other[action]) }
    }
}

/// A number of things and their amount.
public struct Tally: Codable, Hashable, Sendable {
    public var count: Int64
    public var amountFen: Int64

    public init(count: Int64 = 0, amountFen: Int64 = 0) {
        self.count = count
        self.amountFen = amountFen
    }

    mutating func add(count: Int64, amountFen: Int64) {
        self.count += count
        self.amountFen += amountFen
    }
}

/// The receipts of one fee item.
public struct FeeLine: Codable, Hashable, Sendable {
    public var item: FeeItem
    /// Every receipt of the item, free ones included.
    public var receipts: Int64
    /// Receipts paid in cash and their sum.
    public var cash: Tally
    /// Receipts with nothing to pay (the first card, a free item).
    public var freeReceipts: Int64
}

/// The loads of one funding approved at the outlet on the day, by what became of them so far.
public struct LoadLine: Codable, Hashable, Sendable {
    public var funding: PurseLoad.Funding
    /// All of them: the money changed hands at approval.
    public var approved: Tally
    /// The card was credited.
    public var completed: Tally
    /// The card's answer has not come back yet (`PurseService.resolveLoad` settles it).
    public var pending: Tally
    /// The card was never credited and the money was given back (on this day or later).
    public var reversed: Tally
}

/// The cash that crossed the outlet's counter on the day (docs/reports.md, "Cash").
///
/// `balanceFen = inFen - outFen`, `inFen = fees + loads`, `outFen = loadReversals + payouts`.
public struct CashSummary: Codable, Hashable, Sendable {
    /// Fees paid in cash.
    public var fees: Tally
    /// Cash taken for loads approved on the day (funding `cash`), whatever became of them.
    public var loads: Tally
    /// Cash given back on the day for cash loads of this outlet that were never credited,
    /// whenever they were approved.
    public var loadReversals: Tally
    /// Refunds of cancelled cards paid out in cash at this outlet.
    public var payouts: Tally
    public var inFen: Int64
    public var outFen: Int64
    /// What the day added to the drawer: `inFen - outFen` (negative when more was paid out).
    public var balanceFen: Int64
}

/// The work done by one member of staff at the outlet on the day.
public struct OperatorActivity: Codable, Hashable, Sendable {
    /// The staff account's username, as events and loads record it.
    public var username: String
    /// The account's display name; nil if no staff account has this username.
    public var displayName: String?
    public var business: BusinessCounts
    /// Loads approved, any funding.
    public var loads: Int64
    /// Receipts made, free ones included.
    public var receipts: Int64
    /// Cash this account took: fees in cash and cash loads.
    public var cashInFen: Int64
    /// `business.total + loads`.
    public var transactions: Int64
}

/// One hour of the day (local time): counter transactions and cash, for a chart.
public struct HourBucket: Codable, Hashable, Sendable {
    /// 0 … 23, local time: 9 is 09:00:00 to 09:59:59.
    public var hour: Int
    public var business: BusinessCounts
    /// Loads approved, any funding.
    public var loads: Int64
    /// Cash refund payouts.
    public var payouts: Int64
    /// `business.total + loads + payouts`.
    public var transactions: Int64
    public var cashInFen: Int64
    public var cashOutFen: Int64
}

/// One day of an outlet in a line: a row of the trend (`OutletReportService.range`) and the
/// totals of a daily report (`OutletDailyReport.summary`), computed the same way.
public struct OutletDaySummary: Codable, Hashable, Sendable {
    public var date: CalendarDate
    public var business: BusinessCounts
    /// Loads approved, any funding.
    public var loads: Int64
    /// Cash refund payouts.
    public var payouts: Int64
    /// `business.total + loads + payouts`.
    public var transactions: Int64
    /// Fees paid in cash.
    public var feesCashFen: Int64
    public var cashInFen: Int64
    public var cashOutFen: Int64
    /// `cashInFen - cashOutFen`.
    public var cashBalanceFen: Int64
}

/// One outlet's business and cash on one business day.
public struct OutletDailyReport: Codable, Hashable, Sendable {
    public var outlet: Outlet
    /// The business day, in the city's time zone.
    public var date: CalendarDate
    /// The day as UTC times: [from, until).
    public var from: Timestamp
    public var until: Timestamp
    /// When the report was read; a day not yet over (`complete == false`) shows what was done up
    /// to then.
    public var generatedAt: Timestamp
    public var complete: Bool
    /// Counter work by kind.
    public var business: BusinessCounts
    /// Per member of staff, by username.
    public var operators: [OperatorActivity]
    /// Per fee item with at least one receipt, in `FeeItem.allCases` order.
    public var fees: [FeeLine]
    /// Per funding (`cash`, `bank_transfer`, `old_card_refund`), always all three.
    public var loads: [LoadLine]
    public var cash: CashSummary
    /// The outlet's cash account in the ledger on the day, tied out to `cash`.
    public var ledger: CashLedgerTieOut
    /// 24 buckets, hour 0 to 23.
    public var hours: [HourBucket]
    /// `business.total` + loads approved + cash payouts.
    public var transactions: Int64

    /// The day in one line, equal to the line of this day in `OutletReportService.range`.
    public var summary: OutletDaySummary {
        OutletDaySummary(
            date: date, business: business, loads: loads.reduce(0) { $0 + $1.approved.count },
            payouts: cash.payouts.count, transactions: transactions, feesCashFen: cash.fees.amountFen,
            cashInFen: cash.inFen, cashOutFen: cash.outFen, cashBalanceFen: cash.balanceFen)
    }
}

/// The outlet's cash as the ledger has it for one day (`outlet:<id>:cash`), against the counter's
/// own sums: every fee, cash load, reversal and cash payout of the counter is a ledger
/// transfer on that account, so the two agree unless something moved money outside the counter's
/// use cases.
public struct CashLedgerTieOut: Codable, Hashable, Sendable {
    public struct Line: Codable, Hashable, Sendable {
        /// The kind of transfer (`fee`, `load`, `correction`, `refund_payout`, `cash_deposit` …).
        public var kind: String
        public var count: Int64
        /// What the drawer gained by these transfers (negative: paid out).
        public var netFen: Int64
    }

    /// Net postings on the outlet's cash account by kind of transfer, cash deposits included.
    public var lines: [Line]
    /// The counter's part: every kind but `cash_deposit`. Equal to `cash.balanceFen` when the
    /// day ties out.
    public var counterFen: Int64
    /// Cash taken from the drawer to the bank on the day (positive).
    public var depositedFen: Int64
    /// `counterFen - cash.balanceFen`: 0 when the day ties out.
    public var differenceFen: Int64
    public var tiesOut: Bool
}

/// One outlet's days in a row, for a trend chart.
public struct OutletRangeReport: Codable, Hashable, Sendable {
    public var outlet: Outlet
    /// The first day.
    public var from: CalendarDate
    /// The day after the last one (the range is [from, until)).
    public var until: CalendarDate
    public var generatedAt: Timestamp
    /// One line per day, days without business included, oldest first.
    public var days: [OutletDaySummary]
}

/// Bounds on an account's **normal** balance (see ``AccountID/normalBalance(signed:)``): a purse
/// holding ¥50 has normal balance 5000 whatever the sign convention of storage.
public struct BalanceLimits: Hashable, Sendable {
    public var minimumFen: Int64?
    public var maximumFen: Int64?

    public init(minimumFen: Int64? = nil, maximumFen: Int64? = nil) {
        if let minimumFen, let maximumFen { precondition(minimumFen <= maximumFen, "limits out of order") }
        self.minimumFen = minimumFen
        self.maximumFen = maximumFen
    }

    public static let unlimited = BalanceLimits()
    public static let nonNegative = BalanceLimits(minimumFen: 0)

    /// Whether a move from `before` to `after` (normal balances) breaks these limits.
    ///
    /// A move breaks a limit when it ends beyond it **and** goes further in that direction. So a
    /// balance already outside its limits (the cap was lowered, a limit was added) may move back
    /// toward them, but never away; with balances inside the limits this is simply "after is inside".
    func violation(before: Int64, after: Int64) -> Violation? {
        if let minimumFen, after < minimumFen, after < before { return .belowMinimum }
        if let maximumFen, after > maximumFen, after > before { return .aboveMaximum }
        return nil
    }

    enum Violation { case belowMinimum, aboveMaximum }
}

/// The ledger's configurable rules: balance limits per account category or account, and the size
/// limit of a transfer. A value, passed to every check, so that limits live in one place.
public struct LedgerPolicy: Hashable, Sendable {
    /// 1,000.00 yuan (R-14 and the card's own purse limit).
    public static let defaultPurseCapFen: Int64 = 100_000
    /// Enough for one terminal batch posted as one transfer (one posting per card plus the
    /// merchant's total); larger batches are split by the caller.
    public static let defaultPostingsPerTransferMax = 10_000

    /// The most a purse may hold. A purse never holds less than zero.
    public var purseCapFen: Int64
    /// Limits by category for all other categories; a category absent here is unlimited.
    public var limitsByCategory: [AccountCategory: BalanceLimits]
    /// Limits for single accounts; they replace the category's limits (and a purse's [0, cap]).
    public var limitsByAccount: [AccountID: BalanceLimits]
    public var postingsPerTransferMax: Int

    /// By default: purses in [0, cap]; merchant payables and refunds payable never negative (the
    /// operator never pays out more than it owes); everything else unlimited.
    public init(
        purseCapFen: Int64 = LedgerPolicy.defaultPurseCapFen,
        limitsByCategory: [AccountCategory: BalanceLimits] = [
            .merchantPayable: .nonNegative, .refundsPayable: .nonNegative, .missingRecords: .nonNegative,
            .legacyBalances: .nonNegative,
        ],
        limitsByAccount: [AccountID: BalanceLimits] = [:],
        postingsPerTransferMax: Int = LedgerPolicy.defaultPostingsPerTransferMax
    ) {
        precondition(purseCapFen >= 0, "a purse cap is not negative")
        precondition(postingsPerTransferMax >= 2, "a transfer has at least two postings")
        self.purseCapFen = purseCapFen
        self.limitsByCategory = limitsByCategory
        self.limitsByAccount = limitsByAccount
        self.postingsPerTransferMax = postingsPerTransferMax
    }

    public static let standard = LedgerPolicy()

    /// The limits that apply to `account`'s normal balance.
    public func limits(for account: AccountID) -> BalanceLimits {
        if let specific = limitsByAccount[account] { return specific }
        if account.category == .purse { return BalanceLimits(minimumFen: 0, maximumFen: purseCapFen) }
        return limitsByCategory[account.category] ?? .unlimited
    }

    /// The limits of `account` on its **signed** balance (debit positive, as stored), for a store
    /// that adds the postings to the balances where they are stored and checks them there: a
    /// posting of `amountFen` that leaves the signed balance at `after` breaks the policy exactly
    /// when `amountFen < 0 && after < lower` or `amountFen > 0 && after > upper` — the rule of
    /// ``BalanceLimits`` (beyond a limit and further from it) seen from the stored sign. `lower` is
    /// at least `Int64.min + 1`, so that a balance the ledger forbids (see
    /// ``LedgerError/Code/overflow``) counts as beyond it.
    public func signedLimits(for account: AccountID) -> (lower: Int64, upper: Int64) {
        let limits = limits(for: account)
        let lower: Int64, upper: Int64
        switch account.normalSide {
        case .debit:
            lower = limits.minimumFen ?? .min
            upper = limits.maximumFen ?? .max
        case .credit:
            // normal = −signed: below the minimum is above −minimum, and the other way round.
            lower = limits.maximumFen.map { 0 &- Swift.max($0, .min + 1) } ?? .min
            upper = limits.minimumFen.map { 0 &- Swift.max($0, .min + 1) } ?? .max
        }
        return (Swift.max(lower, .min + 1), upper)
    }
}

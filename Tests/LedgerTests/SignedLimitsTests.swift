import CitizenCardDomain
import Ledger
import PropertyBased
import Testing

/// `LedgerPolicy.signedLimits(for:)` is what a store checks where the balances are stored (the
/// PostgreSQL upload commit); it must refuse exactly the postings `Transfer.check` refuses.
@Suite("LedgerPolicy: limits on the signed balance")
struct SignedLimitsTests {
    static let accounts: [AccountID] = [
        .purse(Fixture.card), .merchantPayable(Fixture.merchant), .outletCash(Fixture.outlet), .operatorRisk,
        .feeIncome, .refundsPayable,
    ]
    static let limitCodes: Set<LedgerError.Code> = [
        .purseBelowZero, .purseAboveCap, .balanceBelowMinimum, .balanceAboveMaximum,
    ]

    @Test("a posting breaks the signed limits exactly when Transfer.check refuses it for a limit")
    func agreesWithCheck() async {
        let input = zip(
            Gen.int(in: 0...(Self.accounts.count - 1)),
            Gen.int(in: 0...3),
            Gen.int64(in: -5_000...5_000),
            Gen.int64(in: 0...5_000),
            Gen.int64(in: -10_000...10_000),
            Gen.int64(in: -10_000...10_000)
        )
        await propertyCheck(count: 3_000, input: input) { index, shape, low, width, before, amount in
            guard amount != 0 else { return }
            let account = Self.accounts[index]
            var policy = LedgerPolicy(purseCapFen: 2_000)
            // Shape 0: the account's defaults; 1–3: a minimum, a maximum, or both of its own.
            switch shape {
            case 1: policy.limitsByAccount[account] = BalanceLimits(minimumFen: low)
            case 2: policy.limitsByAccount[account] = BalanceLimits(maximumFen: low + width)
            case 3: policy.limitsByAccount[account] = BalanceLimits(minimumFen: low, maximumFen: low + width)
            default: break
            }
            let transfer = Transfer(
                id: TransferID("limits"), kind: .purchase, at: Fixture.now,
                postings: [
                    Posting(account: account, amountFen: amount), Posting(account: .bankSettlement, amountFen: -amount),
                ])
            let refused = caughtError { () throws(LedgerError) in
                try transfer.check(balancesBefore: [account: before], policy: policy)
            }
            let (lower, upper) = policy.signedLimits(for: account)
            let after = before + amount
            let broken = (amount < 0 && after < lower) || (amount > 0 && after > upper)
            #expect(broken == (refused.map { Self.limitCodes.contains($0.code) } ?? false))
            #expect(refused == nil || Self.limitCodes.contains(refused!.code))
        }
    }

    @Test("without limits nothing but Int64.min is beyond them")
    func unlimited() {
        let (lower, upper) = LedgerPolicy.standard.signedLimits(for: .bankSettlement)
        #expect(lower == .min + 1)
        #expect(upper == .max)
        // A purse (a liability, stored negative): at most the cap owed, never a claim on the holder.
        let purse = LedgerPolicy(purseCapFen: 100_000).signedLimits(for: .purse(Fixture.card))
        #expect(purse == (lower: -100_000, upper: 0))
    }
}

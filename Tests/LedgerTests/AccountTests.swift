import CitizenCardDomain
import Foundation
import Ledger
import Testing

@Suite("Accounts: keys, kinds and signs")
struct AccountTests {
    @Test("every account the e-purse needs has its key, category, kind and normal side")
    func constructors() {
        let cases: [(AccountID, String, AccountCategory, AccountKind, Side)] = [
            (.purse(Fixture.card), "purse:\(Fixture.card)", .purse, .liability, .credit),
            (
                .merchantPayable(Fixture.merchant), "merchant:\(Fixture.merchant):payable", .merchantPayable,
                .liability, .credit
            ),
            (.outletCash(Fixture.outlet), "outlet:\(Fixture.outlet):cash", .outletCash, .asset, .debit),
            (.bankSettlement, "bank:settlement", .bankSettlement, .asset, .debit),
            (.feeIncome, "income:fees", .feeIncome, .income, .credit),
            (.commissionIncome, "income:commission", .commissionIncome, .income, .credit),
            (.operatorRisk, "risk:operator", .operatorRisk, .expense, .debit),
            (.refundsPayable, "refunds:payable", .refundsPayable, .liability, .credit),
            (.missingRecords, "suspense:missing-records", .missingRecords, .liability, .credit),
            (.unclaimedIncome, "income:unclaimed", .unclaimedIncome, .income, .credit),
            (.legacyBalances(.transit), "legacy:transit", .legacyBalances, .liability, .credit),
            (.legacyBalances(.socialSecurity), "legacy:social-security", .legacyBalances, .liability, .credit),
            (.legacyFunds(.transit), "legacy-funds:transit", .legacyFunds, .asset, .debit),
            (.legacyFunds(.socialSecurity), "legacy-funds:social-security", .legacyFunds, .asset, .debit),
        ]
        #expect(Set(cases.map(\.2)) == Set(AccountCategory.allCases))
        for (account, key, category, kind, side) in cases {
            #expect(account.rawValue == key)
            #expect(account.category == category && account.kind == kind && account.normalSide == side)
            #expect(AccountID(parsing: key) == account, "\(key) parses back")
        }
    }

    @Test(
        "keys that are not accounts are refused when read back",
        arguments: [
            "", "purse:", "purse:a:b", "purse:with space", "merchant:x", "merchant::payable", "outlet:x:till",
            "bank:other", "income:", "Purse:x", "purse:" + String(repeating: "a", count: 65),
        ])
    func parsingRefuses(text: String) {
        #expect(AccountID(parsing: text) == nil)
    }

    @Test("sign convention: debit positive; normal balance positive on the account's normal side")
    func normalBalance() {
        #expect(Posting.debit(.bankSettlement, fen: 5).amountFen == 5)
        #expect(Posting.credit(.bankSettlement, fen: 5).amountFen == -5)
        #expect(Posting.credit(.bankSettlement, fen: 5).side == .credit)
        #expect(AccountID.purse(Fixture.card).normalBalance(signed: -5_000) == 5_000)
        #expect(AccountID.bankSettlement.normalBalance(signed: 5_000) == 5_000)
        #expect(AccountID.operatorRisk.normalBalance(signed: 7) == 7)
        #expect(AccountID.feeIncome.normalBalance(signed: -7) == 7)
    }

    @Test("an account key is encoded as its text and decoded only if valid")
    func codable() throws {
        let data = try JSONEncoder().encode([AccountID.purse(Fixture.card)])
        #expect(String(decoding: data, as: UTF8.self) == "[\"purse:\(Fixture.card)\"]")
        #expect(try JSONDecoder().decode([AccountID].self, from: data) == [.purse(Fixture.card)])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([AccountID].self, from: Data("[\"x:y\"]".utf8)) }
    }

    @Test("policy: purse [0, cap] with a 1,000.00 yuan default; payables never negative; overrides win")
    func policyLimits() {
        let policy = LedgerPolicy.standard
        #expect(policy.purseCapFen == 100_000)
        #expect(policy.limits(for: .purse(Fixture.card)) == BalanceLimits(minimumFen: 0, maximumFen: 100_000))
        #expect(policy.limits(for: .merchantPayable(Fixture.merchant)) == .nonNegative)
        #expect(policy.limits(for: .refundsPayable) == .nonNegative)
        for account in [AccountID.bankSettlement, .outletCash(Fixture.outlet), .feeIncome, .operatorRisk] {
            #expect(policy.limits(for: account) == .unlimited)
        }
        let custom = LedgerPolicy(
            purseCapFen: 50_000, limitsByAccount: [.outletCash(Fixture.outlet): .nonNegative])
        #expect(custom.limits(for: .purse(Fixture.card)).maximumFen == 50_000)
        #expect(custom.limits(for: .outletCash(Fixture.outlet)) == .nonNegative)
        #expect(custom.limits(for: .outletCash(Fixture.outlets[1])) == .unlimited)
    }
}

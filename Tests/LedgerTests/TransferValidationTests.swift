import CitizenCardDomain
import Ledger
import Testing

@Suite("Transfers: validation (codes in precedence order)")
struct TransferValidationTests {
    static let a = AccountID.bankSettlement
    static let b = AccountID.feeIncome
    static let c = AccountID.operatorRisk

    static func transfer(_ postings: [Posting], id: String = "t:1", memo: String = "") -> Transfer {
        Transfer(id: TransferID(id), kind: .correction, at: Fixture.now, memo: memo, postings: postings)
    }

    static func code(_ transfer: Transfer, policy: LedgerPolicy = .standard) -> LedgerError.Code? {
        caughtError { () throws(LedgerError) in try transfer.validate(policy: policy) }?.code
    }

    @Test("a balanced transfer of two or more postings to distinct accounts is valid")
    func valid() {
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 10), .credit(Self.b, fen: 10)])) == nil)
        let three = Self.transfer([.debit(Self.a, fen: 10), .credit(Self.b, fen: 4), .credit(Self.c, fen: 6)])
        #expect(Self.code(three) == nil)
        #expect(three.amountFen == 10)
    }

    @Test(
        "the id is 1-128 bytes of printable ASCII",
        arguments: ["", " ", "load: 1", "load:\u{7}", "lóad:1", String(repeating: "x", count: 129)])
    func invalidID(id: String) {
        #expect(
            Self.code(Self.transfer([.debit(Self.a, fen: 1), .credit(Self.b, fen: 1)], id: id)) == .invalidTransferID)
    }

    @Test("the memo is at most 200 bytes without control characters")
    func invalidMemo() {
        let ok = [Posting.debit(Self.a, fen: 1), .credit(Self.b, fen: 1)]
        #expect(Self.code(Self.transfer(ok, memo: String(repeating: "m", count: 200))) == nil)
        #expect(Self.code(Self.transfer(ok, memo: String(repeating: "m", count: 201))) == .invalidMemo)
        #expect(Self.code(Self.transfer(ok, memo: "line\nbreak")) == .invalidMemo)
    }

    @Test("fewer than two postings is refused")
    func tooFew() {
        #expect(Self.code(Self.transfer([])) == .tooFewPostings)
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 0)])) == .tooFewPostings)
    }

    @Test("more postings than the policy allows is refused")
    func tooMany() {
        let policy = LedgerPolicy(postingsPerTransferMax: 2)
        let three = Self.transfer([.debit(Self.a, fen: 2), .credit(Self.b, fen: 1), .credit(Self.c, fen: 1)])
        #expect(Self.code(three, policy: policy) == .tooManyPostings)
    }

    @Test("zero and Int64.min amounts are refused; ±Int64.max are allowed")
    func amounts() {
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 0), .credit(Self.b, fen: 0)])) == .invalidAmount)
        #expect(
            Self.code(Self.transfer([.debit(Self.a, fen: 5), .credit(Self.b, fen: 5), .debit(Self.c, fen: 0)]))
                == .invalidAmount)
        #expect(Self.code(Self.transfer([.credit(Self.a, fen: .min), .debit(Self.b, fen: .min)])) == .invalidAmount)
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: .max), .credit(Self.b, fen: .max)])) == nil)
    }

    @Test("two postings to one account are refused; merging adds them up and drops what cancels")
    func duplicates() throws {
        let postings: [Posting] = [.debit(Self.a, fen: 3), .debit(Self.a, fen: 2), .credit(Self.b, fen: 5)]
        #expect(Self.code(Self.transfer(postings)) == .duplicateAccount)
        let merged = try Transfer.merging(id: TransferID("t:m"), kind: .correction, at: Fixture.now, postings: postings)
        #expect(merged.postings == [.debit(Self.a, fen: 5), .credit(Self.b, fen: 5)])
        let cancelling = try Transfer.merging(
            id: TransferID("t:c"), kind: .correction, at: Fixture.now,
            postings: [
                .debit(Self.a, fen: 3), .credit(Self.a, fen: 3), .debit(Self.b, fen: 1), .credit(Self.c, fen: 1),
            ])
        #expect(cancelling.accounts == [Self.b, Self.c])
        let overflowing = caughtError { () throws(LedgerError) in
            try Transfer.merging(
                id: TransferID("t:o"), kind: .correction, at: Fixture.now,
                postings: [.debit(Self.a, fen: .max), .debit(Self.a, fen: 1), .credit(Self.b, fen: 1)])
        }
        #expect(overflowing?.code == .overflow)
    }

    @Test("debits or credits that do not fit in Int64 are an overflow, never a trap")
    func overflow() {
        let debits = Self.transfer([.debit(Self.a, fen: .max), .debit(Self.b, fen: 1), .credit(Self.c, fen: .max)])
        #expect(Self.code(debits) == .overflow)
        let credits = Self.transfer([.credit(Self.a, fen: .max), .credit(Self.b, fen: 1), .debit(Self.c, fen: .max)])
        #expect(Self.code(credits) == .overflow)
    }

    @Test("debits must equal credits")
    func unbalanced() {
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 10), .credit(Self.b, fen: 9)])) == .unbalanced)
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 10), .debit(Self.b, fen: 10)])) == .unbalanced)
    }

    @Test("the first fault in precedence order is the one reported")
    func precedence() {
        let everythingWrong = Self.transfer([.debit(Self.a, fen: 0)], id: "", memo: "\n")
        #expect(Self.code(everythingWrong) == .invalidTransferID)
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 0)], memo: "\n")) == .invalidMemo)
        #expect(Self.code(Self.transfer([.debit(Self.a, fen: 0), .debit(Self.a, fen: 1)])) == .invalidAmount)
    }

    @Test("postings are kept in account order, so content equality ignores the caller's order")
    func canonicalOrder() {
        let one = Self.transfer([.debit(Self.c, fen: 1), .credit(Self.a, fen: 1)])
        let other = Self.transfer([.credit(Self.a, fen: 1), .debit(Self.c, fen: 1)])
        #expect(one == other)
        #expect(one.accounts == [Self.a, Self.c])
    }

    @Test("error descriptions carry the code and never more than account keys and amounts")
    func errorText() {
        let error = LedgerError(.purseBelowZero, account: .purse(Fixture.card), "balance would be -1 fen")
        #expect(error.description == "purse_below_zero (purse:\(Fixture.card)): balance would be -1 fen")
        for code in LedgerError.Code.allCases {
            #expect(!code.title.isEmpty && !code.titleZh.isEmpty)
        }
        #expect(Set(LedgerError.Code.allCases.map(\.rawValue)).count == LedgerError.Code.allCases.count)
    }
}

@Suite("Transfers: the pure check for storage backends")
struct TransferCheckTests {
    @Test("check returns the balances after for exactly the touched accounts; absent accounts count as 0")
    func balancesAfter() throws {
        let purchase = Transfer.purchase(
            id: TransferID("purchase:1"), card: Fixture.card, merchant: Fixture.merchant, amountFen: 250,
            at: Fixture.now)
        let after = try purchase.check(balancesBefore: [.purse(Fixture.card): -1_000])
        #expect(after == [.purse(Fixture.card): -750, .merchantPayable(Fixture.merchant): -250])
    }

    @Test("a purse may not go below zero")
    func purseBelowZero() {
        let purchase = Transfer.purchase(
            id: TransferID("purchase:1"), card: Fixture.card, merchant: Fixture.merchant, amountFen: 1_001,
            at: Fixture.now)
        let error = caughtError { () throws(LedgerError) in
            try purchase.check(balancesBefore: [.purse(Fixture.card): -1_000])
        }
        #expect(error?.code == .purseBelowZero)
        #expect(error?.account == .purse(Fixture.card))
        #expect(
            caughtError { () throws(LedgerError) in try purchase.check(balancesBefore: [:]) }?.code == .purseBelowZero)
    }

    @Test("a purse may reach its cap exactly and not one fen more; the cap is configurable")
    func purseCap() {
        func load(_ fen: Int64) -> Transfer {
            .load(id: TransferID("load:1"), card: Fixture.card, funding: .bankTransfer, amountFen: fen, at: Fixture.now)
        }
        #expect(caughtError { () throws(LedgerError) in try load(100_000).check(balancesBefore: [:]) } == nil)
        #expect(
            caughtError { () throws(LedgerError) in try load(100_001).check(balancesBefore: [:]) }?.code
                == .purseAboveCap)
        let small = LedgerPolicy(purseCapFen: 500)
        #expect(
            caughtError { () throws(LedgerError) in try load(501).check(balancesBefore: [:], policy: small) }?.code
                == .purseAboveCap)
    }

    @Test("a purse above a lowered cap may be spent down but not loaded further")
    func loweredCap() {
        let policy = LedgerPolicy(purseCapFen: 500)
        let over: [AccountID: Int64] = [.purse(Fixture.card): -800]
        let spend = Transfer.purchase(
            id: TransferID("p"), card: Fixture.card, merchant: Fixture.merchant, amountFen: 100, at: Fixture.now)
        #expect(caughtError { () throws(LedgerError) in try spend.check(balancesBefore: over, policy: policy) } == nil)
        let load = Transfer.load(
            id: TransferID("l"), card: Fixture.card, funding: .bankTransfer, amountFen: 1, at: Fixture.now)
        #expect(
            caughtError { () throws(LedgerError) in try load.check(balancesBefore: over, policy: policy) }?.code
                == .purseAboveCap)
    }

    @Test("other accounts follow the policy: a merchant is never paid more than it is owed")
    func otherLimits() {
        let settle = Transfer.settlement(
            id: TransferID("s"), merchant: Fixture.merchant, amountFen: 101, at: Fixture.now)
        let owed: [AccountID: Int64] = [.merchantPayable(Fixture.merchant): -100]
        #expect(
            caughtError { () throws(LedgerError) in try settle.check(balancesBefore: owed) }?.code
                == .balanceBelowMinimum)
        let capped = LedgerPolicy(limitsByAccount: [.feeIncome: BalanceLimits(maximumFen: 10)])
        let fee = Transfer.fee(id: TransferID("f"), paidBy: .bankTransfer, amountFen: 11, at: Fixture.now)
        #expect(
            caughtError { () throws(LedgerError) in try fee.check(balancesBefore: [:], policy: capped) }?.code
                == .balanceAboveMaximum)
    }

    @Test("a balance that would leave Int64 (or reach Int64.min) is an overflow")
    func balanceOverflow() {
        let transfer = Transfer(
            id: TransferID("x"), kind: .correction, at: Fixture.now,
            postings: [.debit(.bankSettlement, fen: 10), .credit(.operatorRisk, fen: 10)])
        let nearMax: [AccountID: Int64] = [.bankSettlement: .max - 5]
        #expect(
            caughtError { () throws(LedgerError) in try transfer.check(balancesBefore: nearMax) }?.code == .overflow)
        let nearMin: [AccountID: Int64] = [.operatorRisk: .min + 10]
        #expect(
            caughtError { () throws(LedgerError) in try transfer.check(balancesBefore: nearMin) }?.code == .overflow)
    }
}

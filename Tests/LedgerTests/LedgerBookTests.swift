import CitizenCardDomain
import Ledger
import Testing

@Suite("LedgerBook: the guarantees L1-L5 by example")
struct LedgerBookTests {
    static func purchase(_ id: String, fen: Int64, card: Card.ID = Fixture.card) -> Transfer {
        .purchase(id: TransferID(id), card: card, merchant: Fixture.merchant, amountFen: fen, at: Fixture.now)
    }

    @Test("L1: after every apply the sum over all accounts is zero")
    func sumIsZero() throws {
        var book = LedgerBook.loaded(fen: 10_000)
        #expect(book.sumOfAllBalances == 0)
        try book.apply(Self.purchase("purchase:1", fen: 300))
        try book.apply(
            .commission(id: TransferID("commission:1"), merchant: Fixture.merchant, amountFen: 3, at: Fixture.now))
        try book.apply(
            .settlement(id: TransferID("settlement:1"), merchant: Fixture.merchant, amountFen: 297, at: Fixture.now))
        #expect(book.sumOfAllBalances == 0)
        #expect(book.normalBalance(of: .purse(Fixture.card)) == 9_700)
        #expect(book.normalBalance(of: .merchantPayable(Fixture.merchant)) == 0)
        #expect(book.normalBalance(of: .commissionIncome) == 3)
        #expect(book.normalBalance(of: .outletCash(Fixture.outlet)) == 10_000)
        #expect(book.normalBalance(of: .bankSettlement) == -297)
    }

    @Test("L1: the sum is computed without overflow even for balances near Int64.max")
    func hugeBalances() throws {
        var book = LedgerBook()
        // Two balances of +Int64.max: adding them first in Int64 would trap.
        try book.apply(
            Transfer(
                id: TransferID("big:1"), kind: .correction, at: Fixture.now,
                postings: [.debit(.bankSettlement, fen: .max), .credit(.feeIncome, fen: .max)]))
        try book.apply(
            Transfer(
                id: TransferID("big:2"), kind: .correction, at: Fixture.now,
                postings: [.debit(.outletCash(Fixture.outlet), fen: .max), .credit(.commissionIncome, fen: .max)]))
        #expect(book.sumOfAllBalances == 0)
    }

    @Test("L2: the same transfer applied twice has the effect of once and returns the first outcome")
    func idempotent() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        let first = try book.apply(Self.purchase("purchase:asn1:7", fen: 400))
        let balances = book.balances
        let journal = book.journal
        // The same content with the postings listed in another order is the same transfer.
        let again = try book.apply(Self.purchase("purchase:asn1:7", fen: 400))
        #expect(first.disposition == .applied)
        #expect(again.disposition == .alreadyApplied)
        #expect(again.entry == first.entry)
        #expect(book.balances == balances && book.journal == journal)
        #expect(book.entry(for: TransferID("purchase:asn1:7")) == first.entry)
    }

    @Test("L2: a repeat is recognised before the limits, so it answers the same even when they moved")
    func repeatAfterLimitsMoved() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        let first = try book.apply(Self.purchase("purchase:1", fen: 1_000))
        // The purse is now empty: a new purchase would fail, the repeat still answers.
        #expect(try book.apply(Self.purchase("purchase:1", fen: 1_000)).entry == first.entry)
    }

    @Test("L2: the same id with different content is refused with id_conflict and changes nothing")
    func idConflict() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        try book.apply(Self.purchase("purchase:1", fen: 400))
        let before = (book.balances, book.journal)
        let variants: [Transfer] = [
            Self.purchase("purchase:1", fen: 401),
            Self.purchase("purchase:1", fen: 400, card: Fixture.otherCard),
            Transfer(
                id: TransferID("purchase:1"), kind: .purchase, at: Fixture.now.adding(seconds: 1),
                postings: Self.purchase("x", fen: 400).postings),
            Transfer(
                id: TransferID("purchase:1"), kind: .purchase, at: Fixture.now, memo: "other",
                postings: Self.purchase("x", fen: 400).postings),
            Transfer(
                id: TransferID("purchase:1"), kind: .correction, at: Fixture.now,
                postings: Self.purchase("x", fen: 400).postings),
            // Even an invalid one: the id decides first.
            Transfer(id: TransferID("purchase:1"), kind: .purchase, at: Fixture.now, postings: []),
        ]
        for variant in variants {
            let error = caughtError { () throws(LedgerError) in try book.apply(variant) }
            #expect(error?.code == .idConflict)
            #expect(book.balances == before.0 && book.journal == before.1)
        }
    }

    @Test("L3: a refused transfer changes nothing, and its id stays free")
    func refusedChangesNothing() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        let before = (book.balances, book.journal)
        let error = caughtError { () throws(LedgerError) in try book.apply(Self.purchase("purchase:1", fen: 1_001)) }
        #expect(error?.code == .purseBelowZero)
        #expect(book.balances == before.0 && book.journal == before.1)
        #expect(book.entry(for: TransferID("purchase:1")) == nil)
        // A purchase touching two purses where only the second fails leaves the first untouched too.
        let twoCards = try Transfer.purchaseBatch(
            id: TransferID("purchases:b1"), merchant: Fixture.merchant,
            amountsFen: [(Fixture.card, 10), (Fixture.otherCard, 10)], at: Fixture.now)
        #expect(caughtError { () throws(LedgerError) in try book.apply(twoCards) }?.code == .purseBelowZero)
        #expect(book.balances == before.0 && book.journal == before.1)
        // After a load the same id goes through.
        try book.apply(
            .load(id: TransferID("load:2"), card: Fixture.card, funding: .bankTransfer, amountFen: 1, at: Fixture.now))
        #expect(try book.apply(Self.purchase("purchase:1", fen: 1_001)).disposition == .applied)
    }

    @Test("L4: a purse stays within [0, cap]: loads up to the cap, purchases down to zero")
    func purseBounds() throws {
        var book = LedgerBook(policy: LedgerPolicy(purseCapFen: 2_000))
        let load = { (id: String, fen: Int64) in
            Transfer.load(
                id: TransferID(id), card: Fixture.card, funding: .bankTransfer, amountFen: fen, at: Fixture.now)
        }
        try book.apply(load("load:1", 2_000))
        #expect(caughtError { () throws(LedgerError) in try book.apply(load("load:2", 1)) }?.code == .purseAboveCap)
        try book.apply(Self.purchase("purchase:1", fen: 2_000))
        #expect(book.normalBalance(of: .purse(Fixture.card)) == 0)
        #expect(
            caughtError { () throws(LedgerError) in try book.apply(Self.purchase("purchase:2", fen: 1)) }?.code
                == .purseBelowZero)
    }

    @Test("the journal numbers entries 1, 2, 3 … and records the balances after each")
    func journal() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        try book.apply(Self.purchase("purchase:1", fen: 100))
        try book.apply(Self.purchase("purchase:2", fen: 200))
        #expect(book.journal.map(\.sequence) == [1, 2, 3])
        #expect(book.journal.map(\.transfer.id.rawValue) == ["load:setup:\(Fixture.card)", "purchase:1", "purchase:2"])
        #expect(
            book.journal[2].balancesAfter == [.purse(Fixture.card): -700, .merchantPayable(Fixture.merchant): -300])
    }

    @Test("L5: replaying the journal from nothing gives the same balances")
    func replay() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        try book.apply(Self.purchase("purchase:1", fen: 100))
        try book.apply(
            .cancellationRefund(id: TransferID("refund:1"), card: Fixture.card, amountFen: 900, at: Fixture.now))
        let rebuilt = try LedgerBook.rebuilt(from: book.journal)
        #expect(rebuilt.balances == book.balances)
        #expect(rebuilt.journal == book.journal)
        // A database's sequence may have gaps; the next entry follows the last one.
        let gapped = book.journal.map {
            JournalEntry(sequence: $0.sequence * 10, transfer: $0.transfer, balancesAfter: $0.balancesAfter)
        }
        var continued = try LedgerBook.rebuilt(from: gapped)
        #expect(continued.balances == book.balances)
        let next = try continued.apply(
            .cashDeposit(id: TransferID("deposit:1"), outlet: Fixture.outlet, amountFen: 1, at: Fixture.now))
        #expect(next.entry.sequence == 31)
    }

    @Test("L5: a journal out of order, with a repeated id or with wrong recorded balances is corrupt")
    func corruptJournal() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        try book.apply(Self.purchase("purchase:1", fen: 100))
        let journal = book.journal
        let outOfOrder = [journal[1], journal[0]]
        let repeated = [
            journal[0],
            JournalEntry(sequence: 2, transfer: journal[0].transfer, balancesAfter: journal[0].balancesAfter),
        ]
        var wrongAfter = journal[1].balancesAfter
        wrongAfter[.purse(Fixture.card)] = -901
        let edited = [journal[0], JournalEntry(sequence: 2, transfer: journal[1].transfer, balancesAfter: wrongAfter)]
        for bad in [outOfOrder, repeated, edited] {
            #expect(
                caughtError { () throws(LedgerError) in try LedgerBook.rebuilt(from: bad) }?.code == .journalCorrupt)
        }
    }

    @Test("the book and the pure check agree: storage can mirror apply with check and replay")
    func mirrorsCheck() throws {
        var book = LedgerBook.loaded(fen: 1_000)
        let purchase = Self.purchase("purchase:1", fen: 100)
        var before: [AccountID: Int64] = [:]
        for account in purchase.accounts { before[account] = book.balances[account] }
        let after = try purchase.check(balancesBefore: before)
        let outcome = try book.apply(purchase)
        #expect(outcome.entry.balancesAfter == after)
        #expect(
            try outcome.entry.replay(purchase) == TransferOutcome(entry: outcome.entry, disposition: .alreadyApplied))
    }
}

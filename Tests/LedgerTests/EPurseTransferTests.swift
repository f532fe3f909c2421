import CitizenCardDomain
import Ledger
import Testing

/// The shapes of docs/ledger.md, row by row: which account is debited, which credited.
@Suite("E-purse transfers: the documented postings")
struct EPurseTransferTests {
    static let at = Fixture.now
    static let card = Fixture.card
    static let newCard = Fixture.otherCard
    static let merchant = Fixture.merchant
    static let outlet = Fixture.outlet

    static func shape(_ transfer: Transfer) -> [String: Int64] {
        Dictionary(uniqueKeysWithValues: transfer.postings.map { ($0.account.rawValue, $0.amountFen) })
    }

    @Test("each standard transfer has the kind and postings the documentation lists")
    func shapes() throws {
        let id = TransferID("t")
        let purse = "purse:\(Self.card)"
        let payable = "merchant:\(Self.merchant):payable"
        let cash = "outlet:\(Self.outlet):cash"
        let cases: [(Transfer, TransferKind, [String: Int64])] = [
            (
                .load(id: id, card: Self.card, funding: .cash(outlet: Self.outlet), amountFen: 500, at: Self.at), .load,
                [cash: 500, purse: -500]
            ),
            (
                .load(id: id, card: Self.card, funding: .bankTransfer, amountFen: 500, at: Self.at), .load,
                ["bank:settlement": 500, purse: -500]
            ),
            (
                .load(id: id, card: Self.card, funding: .oldCardRefund, amountFen: 500, at: Self.at), .load,
                ["refunds:payable": 500, purse: -500]
            ),
            (
                .purchase(id: id, card: Self.card, merchant: Self.merchant, amountFen: 200, at: Self.at), .purchase,
                [purse: 200, payable: -200]
            ),
            (
                .commission(id: id, merchant: Self.merchant, amountFen: 2, at: Self.at), .commission,
                [payable: 2, "income:commission": -2]
            ),
            (
                .settlement(id: id, merchant: Self.merchant, amountFen: 198, at: Self.at), .settlement,
                [payable: 198, "bank:settlement": -198]
            ),
            (
                .fee(id: id, paidBy: .cash(outlet: Self.outlet), amountFen: 2_000, at: Self.at), .fee,
                [cash: 2_000, "income:fees": -2_000]
            ),
            (
                .fee(id: id, paidBy: .purse(Self.card), amountFen: 2_000, at: Self.at), .fee,
                [purse: 2_000, "income:fees": -2_000]
            ),
            (
                .balanceMigration(id: id, from: Self.card, to: Self.newCard, amountFen: 300, at: Self.at),
                .balanceMigration, [purse: 300, "purse:\(Self.newCard)": -300]
            ),
            (
                .cancellationRefund(id: id, card: Self.card, amountFen: 300, at: Self.at), .refund,
                [purse: 300, "refunds:payable": -300]
            ),
            (
                .refundPayout(id: id, paidBy: .cash(outlet: Self.outlet), amountFen: 300, at: Self.at), .refundPayout,
                ["refunds:payable": 300, cash: -300]
            ),
            (
                .riskWriteOff(id: id, merchant: Self.merchant, amountFen: 150, at: Self.at), .riskWriteOff,
                ["risk:operator": 150, payable: -150]
            ),
            (
                .cashDeposit(id: id, outlet: Self.outlet, amountFen: 1_000, at: Self.at), .cashDeposit,
                ["bank:settlement": 1_000, cash: -1_000]
            ),
            (
                .missingRecordsWriteOff(id: id, card: Self.card, amountFen: 250, at: Self.at), .missingRecordsWriteOff,
                [purse: 250, "suspense:missing-records": -250]
            ),
            (
                .suspenseRelease(
                    id: id, from: .missingRecords, to: .merchantPayable(Self.merchant), amountFen: 250, at: Self.at),
                .suspenseRelease, ["suspense:missing-records": 250, payable: -250]
            ),
            (
                .legacyOpening(id: id, kind: .transit, amountFen: 5_000, at: Self.at), .legacyOpening,
                ["legacy-funds:transit": 5_000, "legacy:transit": -5_000]
            ),
            (
                .load(id: id, card: Self.card, funding: .legacy(.transit), amountFen: 700, at: Self.at), .load,
                ["legacy:transit": 700, purse: -700]
            ),
        ]
        for (transfer, kind, postings) in cases {
            #expect(transfer.kind == kind)
            #expect(Self.shape(transfer) == postings, "\(kind)")
            #expect(caughtError { () throws(LedgerError) in try transfer.validate() } == nil, "\(kind)")
        }
        let kindsShown = Set(cases.map(\.1))
        #expect(kindsShown == Set(TransferKind.allCases).subtracting([.correction]))
    }

    @Test("a terminal batch debits each card once with its total and credits the merchant once")
    func batch() throws {
        let batch = try Transfer.purchaseBatch(
            id: TransferID("purchases:psam1:42"), merchant: Self.merchant,
            amountsFen: [(Self.card, 200), (Self.newCard, 300), (Self.card, 150)], at: Self.at)
        #expect(
            Self.shape(batch) == [
                "purse:\(Self.card)": 350, "purse:\(Self.newCard)": 300, "merchant:\(Self.merchant):payable": -650,
            ])
        #expect(batch.amountFen == 650)
        let overflow = caughtError { () throws(LedgerError) in
            try Transfer.purchaseBatch(
                id: TransferID("b"), merchant: Self.merchant, amountsFen: [(Self.card, .max), (Self.newCard, 1)],
                at: Self.at)
        }
        #expect(overflow?.code == .overflow)
    }

    @Test("a card's life in money: load, buy, commission, settle, reissue, migrate, cancel, refund")
    func cardLife() throws {
        var book = LedgerBook()
        func apply(_ transfer: Transfer) throws { try book.apply(transfer) }
        try apply(
            .load(
                id: TransferID("load:1"), card: Self.card, funding: .cash(outlet: Self.outlet), amountFen: 10_000,
                at: Self.at))
        try apply(
            .purchase(
                id: TransferID("purchase:a:1"), card: Self.card, merchant: Self.merchant, amountFen: 200, at: Self.at))
        // After the loss's effective time: the operator pays, the holder keeps the money.
        try apply(.riskWriteOff(id: TransferID("writeoff:a:2"), merchant: Self.merchant, amountFen: 100, at: Self.at))
        try apply(.commission(id: TransferID("commission:m:d"), merchant: Self.merchant, amountFen: 3, at: Self.at))
        try apply(.settlement(id: TransferID("settlement:m:d"), merchant: Self.merchant, amountFen: 297, at: Self.at))
        try apply(
            .fee(id: TransferID("fee:reissue"), paidBy: .cash(outlet: Self.outlet), amountFen: 2_000, at: Self.at))
        try apply(
            .balanceMigration(
                id: TransferID("migration:a"), from: Self.card, to: Self.newCard, amountFen: 9_800, at: Self.at))
        try apply(.cancellationRefund(id: TransferID("refund:b"), card: Self.newCard, amountFen: 9_800, at: Self.at))
        try apply(.refundPayout(id: TransferID("payout:b"), paidBy: .bankTransfer, amountFen: 9_800, at: Self.at))
        try apply(.cashDeposit(id: TransferID("deposit:o:d"), outlet: Self.outlet, amountFen: 12_000, at: Self.at))
        #expect(book.sumOfAllBalances == 0)
        #expect(book.normalBalance(of: .purse(Self.card)) == 0)
        #expect(book.normalBalance(of: .purse(Self.newCard)) == 0)
        #expect(book.normalBalance(of: .merchantPayable(Self.merchant)) == 0)
        #expect(book.normalBalance(of: .operatorRisk) == 100)
        #expect(book.normalBalance(of: .commissionIncome) == 3)
        #expect(book.normalBalance(of: .feeIncome) == 2_000)
        #expect(book.normalBalance(of: .refundsPayable) == 0)
        #expect(book.normalBalance(of: .outletCash(Self.outlet)) == 0)
        // The bank got 12,000 in cash and paid out 297 + 9,800: the operator's money is its income
        // less its losses.
        #expect(book.normalBalance(of: .bankSettlement) == 12_000 - 297 - 9_800)
        #expect(book.normalBalance(of: .bankSettlement) == 3 + 2_000 - 100)
    }
}

public import CitizenCardDomain

/// Where the money for a load comes from (issue 5, part 2).
public enum LoadFunding: Hashable, Sendable {
    /// Cash paid at an outlet's counter.
    case cash(outlet: Outlet.ID)
    /// A bank transfer received on the settlement account.
    case bankTransfer
    /// The refund owed for a cancelled old card (``TransferKind/refund`` moved it to refunds payable).
    case oldCardRefund
    /// The imported balance of one of the holder's old cards of a department.
    case legacy(LegacyCardKind)

    /// The account the money comes from.
    public var account: AccountID {
        switch self {
        case .cash(let outlet): .outletCash(outlet)
        case .bankTransfer: .bankSettlement
        case .oldCardRefund: .refundsPayable
        case .legacy(let kind): .legacyBalances(kind)
        }
    }
}

/// How a fee or a refund payout moves money: through an outlet's cash, the bank or a purse.
public enum PaymentChannel: Hashable, Sendable {
    case cash(outlet: Outlet.ID)
    case bankTransfer
    /// Paid from (fees only) the purse of a card.
    case purse(Card.ID)

    var account: AccountID {
        switch self {
        case .cash(let outlet): .outletCash(outlet)
        case .bankTransfer: .bankSettlement
        case .purse(let card): .purse(card)
        }
    }
}

/// The standard shapes of the e-purse's transfers, one per row of docs/ledger.md. They only build
/// values: amounts are checked when the transfer is applied. Amounts are positive fen.
extension Transfer {
    /// Load: debit the funding account, credit the card's purse.
    public static func load(
        id: TransferID, card: Card.ID, funding: LoadFunding, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .load, at: at, memo: memo,
            postings: [.debit(funding.account, fen: amountFen), .credit(.purse(card), fen: amountFen)])
    }

    /// One purchase: debit the purse, credit the merchant's payable.
    public static func purchase<Merchant>(
        id: TransferID, card: Card.ID, merchant: Identifier<Merchant>, amountFen: Int64, at: Timestamp,
        memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .purchase, at: at, memo: memo,
            postings: [.debit(.purse(card), fen: amountFen), .credit(.merchantPayable(merchant), fen: amountFen)])
    }

    /// A terminal batch of purchases at one merchant: each card's purse debited by its total in the
    /// batch, the merchant's payable credited once with the batch total (the hot account is touched
    /// once per batch; the per-record detail stays in the record table).
    public static func purchaseBatch<Merchant>(
        id: TransferID, merchant: Identifier<Merchant>, amountsFen: [(card: Card.ID, amountFen: Int64)],
        at: Timestamp, memo: String = ""
    ) throws(LedgerError) -> Transfer {
        var totalFen: Int64 = 0
        for record in amountsFen {
            let (sum, overflow) = totalFen.addingReportingOverflow(record.amountFen)
            if overflow { throw LedgerError(.overflow, "the batch total exceeds Int64") }
            totalFen = sum
        }
        let postings = amountsFen.map { Posting.debit(.purse($0.card), fen: $0.amountFen) }
        return try merging(
            id: id, kind: .purchase, at: at, memo: memo,
            postings: postings + [.credit(.merchantPayable(merchant), fen: totalFen)])
    }

    /// Commission: debit the merchant's payable, credit commission income.
    public static func commission<Merchant>(
        id: TransferID, merchant: Identifier<Merchant>, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .commission, at: at, memo: memo,
            postings: [.debit(.merchantPayable(merchant), fen: amountFen), .credit(.commissionIncome, fen: amountFen)])
    }

    /// Settlement: debit the merchant's payable, credit the settlement bank (money paid out).
    public static func settlement<Merchant>(
        id: TransferID, merchant: Identifier<Merchant>, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .settlement, at: at, memo: memo,
            postings: [.debit(.merchantPayable(merchant), fen: amountFen), .credit(.bankSettlement, fen: amountFen)])
    }

    /// Fee: debit what paid it (outlet cash, bank, or a purse), credit fee income.
    public static func fee(
        id: TransferID, paidBy channel: PaymentChannel, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .fee, at: at, memo: memo,
            postings: [.debit(channel.account, fen: amountFen), .credit(.feeIncome, fen: amountFen)])
    }

    /// Balance migration after reissue (Art 19): debit the old card's purse, credit the new one's.
    public static func balanceMigration(
        id: TransferID, from oldCard: Card.ID, to newCard: Card.ID, amountFen: Int64, at: Timestamp,
        memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .balanceMigration, at: at, memo: memo,
            postings: [.debit(.purse(oldCard), fen: amountFen), .credit(.purse(newCard), fen: amountFen)])
    }

    /// Missing offline records written off: what the card spent in them leaves its purse for
    /// `suspense:missing-records`, owed to merchants not known yet.
    public static func missingRecordsWriteOff(
        id: TransferID, card: Card.ID, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .missingRecordsWriteOff, at: at, memo: memo,
            postings: [.debit(.purse(card), fen: amountFen), .credit(.missingRecords, fen: amountFen)])
    }

    /// Refund on cancellation (Art 20): debit the card's purse, credit refunds payable.
    public static func cancellationRefund(
        id: TransferID, card: Card.ID, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .refund, at: at, memo: memo,
            postings: [.debit(.purse(card), fen: amountFen), .credit(.refundsPayable, fen: amountFen)])
    }

    /// Refund payout: debit refunds payable, credit outlet cash or the bank (`.purse` is not a payout
    /// channel: load the new card with ``LoadFunding/oldCardRefund`` instead).
    public static func refundPayout(
        id: TransferID, paidBy channel: PaymentChannel, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        precondition(!channel.isPurse, "a refund is loaded onto a card with load(funding: .oldCardRefund)")
        return Transfer(
            id: id, kind: .refundPayout, at: at, memo: memo,
            postings: [.debit(.refundsPayable, fen: amountFen), .credit(channel.account, fen: amountFen)])
    }

    /// Loss-rule write-off (Art 17): a purchase after the loss's effective time is charged to the
    /// operator's risk account; the merchant is still paid and the holder's purse is not touched.
    public static func riskWriteOff<Merchant>(
        id: TransferID, merchant: Identifier<Merchant>, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .riskWriteOff, at: at, memo: memo,
            postings: [.debit(.operatorRisk, fen: amountFen), .credit(.merchantPayable(merchant), fen: amountFen)])
    }

    /// A suspense account's money released by a decision of the center: debit the suspense
    /// account (`suspense:missing-records` or `refunds:payable`), credit the merchant's payable or
    /// `income:unclaimed`.
    public static func suspenseRelease(
        id: TransferID, from suspense: AccountID, to target: AccountID, amountFen: Int64, at: Timestamp,
        memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .suspenseRelease, at: at, memo: memo,
            postings: [.debit(suspense, fen: amountFen), .credit(target, fen: amountFen)])
    }

    /// Opening entry of imported old cards' balances: debit the float of that kind, credit the
    /// legacy liability of that kind.
    public static func legacyOpening(
        id: TransferID, kind: LegacyCardKind, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .legacyOpening, at: at, memo: memo,
            postings: [.debit(.legacyFunds(kind), fen: amountFen), .credit(.legacyBalances(kind), fen: amountFen)])
    }

    /// Cash deposit: an outlet's cash taken to the bank. Debit the bank, credit the outlet's cash.
    public static func cashDeposit(
        id: TransferID, outlet: Outlet.ID, amountFen: Int64, at: Timestamp, memo: String = ""
    ) -> Transfer {
        Transfer(
            id: id, kind: .cashDeposit, at: at, memo: memo,
            postings: [.debit(.bankSettlement, fen: amountFen), .credit(.outletCash(outlet), fen: amountFen)])
    }
}

extension PaymentChannel {
    fileprivate var isPurse: Bool {
        if case .purse = self { return true }
        return false
    }
}

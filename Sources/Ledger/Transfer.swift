public import CitizenCardDomain

/// The idempotency key of a transfer, chosen by the caller from the business event it records:
/// `load:<loadID>`, `purchase:<asn>:<counter>`, `purchases:<batchID>`, `migration:<oldCardID>` …
///
/// Applying a transfer whose id was applied before never applies it again (see ``LedgerBook``).
public struct TransferID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// 1 to ``Transfer/idLengthMax`` bytes of printable ASCII without spaces.
    public var isWellFormed: Bool {
        let bytes = rawValue.utf8
        return !bytes.isEmpty && bytes.count <= Transfer.idLengthMax && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    public var description: String { rawValue }

    public static func < (lhs: TransferID, rhs: TransferID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// What business event a transfer records. The ledger checks the same invariants for every kind;
/// the kind says which postings to expect (docs/ledger.md has a table per kind) and lets reports
/// group transfers.
public enum TransferKind: String, Codable, Sendable, CaseIterable {
    /// Money onto a purse (online top-up): cash, bank transfer or an old card's refund.
    case load
    /// Offline purchases: purses to a merchant's payable (one record, or a terminal batch).
    case purchase
    /// A cancelled card's balance moved from its purse to refunds payable.
    case refund
    /// A refund paid out to the holder in cash or by bank transfer.
    case refundPayout = "refund_payout"
    /// A card fee charged (reissue, replacement …).
    case fee
    /// Commission withheld from a merchant's payable.
    case commission
    /// A merchant's net paid out through the settlement bank.
    case settlement
    /// An old card's balance moved to its successor after reissue (Art 19).
    case balanceMigration = "balance_migration"
    /// A purchase after a loss's effective time charged to the operator, not the holder (Art 17).
    case riskWriteOff = "risk_write_off"
    /// An outlet's cash taken to the settlement bank.
    case cashDeposit = "cash_deposit"
    /// A correction entered by an administrator (it reverses or completes an earlier transfer).
    case correction
    /// Offline records that never reached the host written off: what the card spent in them,
    /// from its purse to `suspense:missing-records`.
    case missingRecordsWriteOff = "missing_records_write_off"
    /// Money out of a suspense account by a decision of the center (`SuspenseDecision`): to the
    /// merchant now known, or to unclaimed income.
    case suspenseRelease = "suspense_release"
    /// Old cards' balances opened in the ledger at their import: the float handed over to
    /// the legacy liability of that kind.
    case legacyOpening = "legacy_opening"
}

/// One line of a transfer: an account and a signed amount in fen, **debit positive, credit negative**.
public struct Posting: Hashable, Sendable, Codable {
    public var account: AccountID
    public var amountFen: Int64

    public init(account: AccountID, amountFen: Int64) {
        self.account = account
        self.amountFen = amountFen
    }

    /// A debit of `fen` (> 0).
    public static func debit(_ account: AccountID, fen: Int64) -> Posting {
        Posting(account: account, amountFen: fen)
    }

    /// A credit of `fen` (> 0), stored as `-fen`. `Int64.min` stays `Int64.min` and is refused by
    /// validation as ``LedgerError/Code/invalidAmount``; it never traps.
    public static func credit(_ account: AccountID, fen: Int64) -> Posting {
        Posting(account: account, amountFen: 0 &- fen)
    }

    public var side: Side { amountFen > 0 ? .debit : .credit }
}

/// A set of postings that records one business event, applied all together or not at all.
///
/// The postings are kept sorted by account (then amount) so that two transfers with the same
/// content are equal whatever order the caller listed them in, and storage can write and read them
/// in one order. A `Transfer` value may be invalid; ``validate(policy:)`` and
/// ``check(balancesBefore:policy:)`` say why.
public struct Transfer: Hashable, Sendable, Codable {
    public static let idLengthMax = 128
    public static let memoLengthMax = 200

    public let id: TransferID
    public let kind: TransferKind
    /// When the business event happened (the purchase time of an offline record, not its upload).
    public let at: Timestamp
    /// A reference for people and reports (record ids, batch ids). Never personal data: no names,
    /// no ID numbers, no phone numbers. At most ``memoLengthMax`` bytes, no control characters.
    public let memo: String
    public let postings: [Posting]

    public init(id: TransferID, kind: TransferKind, at: Timestamp, memo: String = "", postings: [Posting]) {
        self.id = id
        self.kind = kind
        self.at = at
        self.memo = memo
        self.postings = postings.sorted { ($0.account, $0.amountFen) < ($1.account, $1.amountFen) }
    }

    /// A transfer whose postings to the same account are added together first (overflow-checked);
    /// accounts whose postings cancel out are left out. Use it to build a terminal batch.
    public static func merging(
        id: TransferID, kind: TransferKind, at: Timestamp, memo: String = "", postings: [Posting]
    ) throws(LedgerError) -> Transfer {
        // Sorted by account, so that an account's postings are next to each other; the transfer's
        // own order (by account, then amount) is then already met.
        let sorted = postings.sorted { $0.account < $1.account }
        var merged: [Posting] = []
        merged.reserveCapacity(sorted.count)
        var index = sorted.startIndex
        while index < sorted.endIndex {
            let account = sorted[index].account
            var sum = sorted[index].amountFen
            index += 1
            while index < sorted.endIndex, sorted[index].account == account {
                let overflow: Bool
                (sum, overflow) = sum.addingReportingOverflow(sorted[index].amountFen)
                if overflow { throw LedgerError(.overflow, account: account, "postings to one account overflow") }
                index += 1
            }
            if sum != 0 { merged.append(Posting(account: account, amountFen: sum)) }
        }
        return Transfer(id: id, kind: kind, at: at, memo: memo, postings: merged)
    }

    public var accounts: [AccountID] { postings.map(\.account) }

    /// The sum of the debits (= the sum of the credits), for a transfer that passed validation.
    public var amountFen: Int64 {
        postings.reduce(0) { $1.amountFen > 0 ? $0 &+ $1.amountFen : $0 }
    }

    /// Checks everything that does not depend on balances, in the order of ``LedgerError/Code``:
    /// id, memo, number of postings, amounts, one posting per account, overflow, balance.
    public func validate(policy: LedgerPolicy = .standard) throws(LedgerError) {
        guard id.isWellFormed else {
            throw LedgerError(.invalidTransferID, "1-\(Transfer.idLengthMax) printable ASCII bytes")
        }
        guard memo.utf8.count <= Transfer.memoLengthMax, !memo.unicodeScalars.contains(where: \.isControl) else {
            throw LedgerError(.invalidMemo, "at most \(Transfer.memoLengthMax) bytes, no control characters")
        }
        guard postings.count >= 2 else { throw LedgerError(.tooFewPostings, "\(postings.count) postings") }
        guard postings.count <= policy.postingsPerTransferMax else {
            throw LedgerError(.tooManyPostings, "\(postings.count) > \(policy.postingsPerTransferMax) postings")
        }
        if let bad = postings.first(where: { $0.amountFen == 0 || $0.amountFen == .min }) {
            throw LedgerError(.invalidAmount, account: bad.account, "amount \(bad.amountFen)")
        }
        // Sorted by account, so a repeated account is next to itself.
        for (earlier, later) in zip(postings, postings.dropFirst()) where earlier.account == later.account {
            throw LedgerError(.duplicateAccount, account: later.account, "merge postings to one account")
        }
        var debitsFen: Int64 = 0
        var creditsFen: Int64 = 0  // as a positive number
        for posting in postings {
            let overflow: Bool
            if posting.amountFen > 0 {
                (debitsFen, overflow) = debitsFen.addingReportingOverflow(posting.amountFen)
            } else {
                (creditsFen, overflow) = creditsFen.addingReportingOverflow(-posting.amountFen)
            }
            if overflow { throw LedgerError(.overflow, "the debits or the credits exceed Int64") }
        }
        guard debitsFen == creditsFen else {
            throw LedgerError(.unbalanced, "debits \(debitsFen) fen, credits \(creditsFen) fen")
        }
    }

    /// The pure heart of the ledger, for storage backends: given the balances of the touched
    /// accounts before (signed, debit positive; an account absent from the dictionary has never
    /// been posted to and counts as 0), validates the transfer, applies it, checks the policy's
    /// limits and returns the balances after, for exactly the accounts in ``accounts``.
    ///
    /// It does not know about idempotency: call it only when no transfer with this id was applied
    /// (``JournalEntry/replay(_:)`` handles the other case).
    public func check(
        balancesBefore: [AccountID: Int64], policy: LedgerPolicy = .standard
    ) throws(LedgerError)
        -> [AccountID: Int64]
    {
        try validate(policy: policy)
        return try posted(onto: balancesBefore, limitsBy: policy)
    }

    /// Adds the postings to the balances; checks the limits of `policy` unless it is nil.
    func posted(
        onto balancesBefore: [AccountID: Int64], limitsBy policy: LedgerPolicy?
    ) throws(LedgerError)
        -> [AccountID: Int64]
    {
        var after: [AccountID: Int64] = [:]
        for posting in postings {
            let beforeFen = balancesBefore[posting.account] ?? 0
            let (afterFen, overflow) = beforeFen.addingReportingOverflow(posting.amountFen)
            // Int64.min is excluded so that every balance can be negated (normal balances).
            guard !overflow, afterFen != .min else {
                throw LedgerError(.overflow, account: posting.account, "the balance would exceed Int64")
            }
            if let policy {
                try Transfer.checkLimits(posting.account, beforeFen: beforeFen, afterFen: afterFen, policy: policy)
            }
            after[posting.account] = afterFen
        }
        return after
    }

    static func checkLimits(
        _ account: AccountID, beforeFen: Int64, afterFen: Int64, policy: LedgerPolicy
    )
        throws(LedgerError)
    {
        let normalBefore = account.normalBalance(signed: beforeFen)
        let normalAfter = account.normalBalance(signed: afterFen)
        switch policy.limits(for: account).violation(before: normalBefore, after: normalAfter) {
        case nil:
            return
        case .belowMinimum:
            let code: LedgerError.Code = account.category == .purse ? .purseBelowZero : .balanceBelowMinimum
            throw LedgerError(code, account: account, "balance would be \(normalAfter) fen")
        case .aboveMaximum:
            let code: LedgerError.Code = account.category == .purse ? .purseAboveCap : .balanceAboveMaximum
            throw LedgerError(code, account: account, "balance would be \(normalAfter) fen")
        }
    }
}

extension Unicode.Scalar {
    fileprivate var isControl: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}

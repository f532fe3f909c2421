/// A transfer as recorded: its place in the journal and the balances it left on its accounts.
///
/// Storage keeps one row per entry (id, sequence, kind, time, memo) and one row per posting
/// (account, amount, balance after).
public struct JournalEntry: Hashable, Sendable, Codable {
    /// Increasing in the order of application: 1, 2, 3, … in a `LedgerBook`; a database may leave
    /// gaps (an identity column skips the numbers of rolled-back transactions).
    public let sequence: Int64
    public let transfer: Transfer
    /// Signed balances (debit positive) of the transfer's accounts right after it.
    public let balancesAfter: [AccountID: Int64]

    public init(sequence: Int64, transfer: Transfer, balancesAfter: [AccountID: Int64]) {
        self.sequence = sequence
        self.transfer = transfer
        self.balancesAfter = balancesAfter
    }

    /// What to answer when `transfer` arrives with this entry's id: the first outcome if it has the
    /// same content, ``LedgerError/Code/idConflict`` if not. Storage calls it after finding the id.
    public func replay(_ transfer: Transfer) throws(LedgerError) -> TransferOutcome {
        precondition(transfer.id == self.transfer.id, "replay is for the same transfer id")
        guard transfer == self.transfer else {
            throw LedgerError(.idConflict, "transfer \(transfer.id) was applied with different content")
        }
        return TransferOutcome(entry: self, disposition: .alreadyApplied)
    }
}

/// The answer to ``LedgerBook/apply(_:)``: the journal entry of the transfer, and whether this call
/// applied it or found it applied before. A repeat returns the very entry of the first application.
public struct TransferOutcome: Hashable, Sendable {
    public enum Disposition: String, Hashable, Sendable, Codable {
        case applied
        case alreadyApplied = "already_applied"
    }

    public let entry: JournalEntry
    public let disposition: Disposition

    public init(entry: JournalEntry, disposition: Disposition) {
        self.entry = entry
        self.disposition = disposition
    }
}

/// The in-memory reference ledger: balances by account and the journal. The storage backends
/// mirror `apply` step by step inside their transaction; the tests use this type as the oracle.
///
/// Guarantees (docs/ledger.md, each checked by the tests):
/// - L1 every applied transfer balances, so ``sumOfAllBalances`` is 0 after every apply;
/// - L2 a transfer id applied twice has the effect of once and returns the first outcome; the same
///   id with different content is refused with ``LedgerError/Code/idConflict``;
/// - L3 a refused transfer changes nothing (balances, journal);
/// - L4 no purse goes below 0 or above the policy's cap, no account beyond its policy limits;
/// - L5 replaying the journal from nothing gives the same balances.
public struct LedgerBook: Sendable {
    public let policy: LedgerPolicy
    /// Signed balances, debit positive. Accounts never posted to are absent (balance 0).
    public private(set) var balances: [AccountID: Int64] = [:]
    public private(set) var journal: [JournalEntry] = []
    private var journalIndexByID: [TransferID: Int] = [:]

    public init(policy: LedgerPolicy = .standard) {
        self.policy = policy
    }

    /// Applies `transfer` or refuses it; see the guarantees above. The order of checks: the id's
    /// form, then idempotency (a known id never reaches the other checks), then
    /// ``Transfer/check(balancesBefore:policy:)``. A refused transfer is not remembered: its id
    /// may be used again, since storage rolls the whole transaction back.
    @discardableResult
    public mutating func apply(_ transfer: Transfer) throws(LedgerError) -> TransferOutcome {
        guard transfer.id.isWellFormed else {
            throw LedgerError(.invalidTransferID, "1-\(Transfer.idLengthMax) printable ASCII bytes")
        }
        if let index = journalIndexByID[transfer.id] {
            return try journal[index].replay(transfer)
        }
        var before: [AccountID: Int64] = [:]
        for account in transfer.accounts { before[account] = balances[account] }
        let after = try transfer.check(balancesBefore: before, policy: policy)
        let entry = JournalEntry(sequence: (journal.last?.sequence ?? 0) + 1, transfer: transfer, balancesAfter: after)
        balances.merge(after) { _, new in new }
        journalIndexByID[transfer.id] = journal.count
        journal.append(entry)
        return TransferOutcome(entry: entry, disposition: .applied)
    }

    /// The signed balance (debit positive); 0 for an account never posted to.
    public func balance(of account: AccountID) -> Int64 { balances[account] ?? 0 }

    /// The balance as people read it, e.g. the money on a purse (see ``AccountID/normalBalance(signed:)``).
    public func normalBalance(of account: AccountID) -> Int64 {
        account.normalBalance(signed: balance(of: account))
    }

    /// The entry of an applied transfer, if any.
    public func entry(for id: TransferID) -> JournalEntry? {
        journalIndexByID[id].map { journal[$0] }
    }

    /// The sum over all accounts; always 0 (L1). In Int128 because a partial sum of Int64 balances
    /// may leave Int64 even when the total is 0.
    public var sumOfAllBalances: Int128 {
        balances.values.reduce(Int128(0)) { $0 + Int128($1) }
    }

    /// Rebuilds a book from a journal (L5), e.g. to audit a database: each entry must have the next
    /// a sequence number above the one before, a unique id, valid content and exactly the balances after it that follow
    /// from the entries before it. Limits are not checked again, since the policy may have changed
    /// since an entry was written.
    public static func rebuilt(
        from journal: [JournalEntry], policy: LedgerPolicy = .standard
    ) throws(LedgerError)
        -> LedgerBook
    {
        var book = LedgerBook(policy: policy)
        let anySize = LedgerPolicy(postingsPerTransferMax: Int.max)
        for entry in journal {
            guard entry.sequence > (book.journal.last?.sequence ?? 0), book.journalIndexByID[entry.transfer.id] == nil
            else { throw LedgerError(.journalCorrupt, "entry \(entry.sequence) is out of order or repeats an id") }
            var before: [AccountID: Int64] = [:]
            for account in entry.transfer.accounts { before[account] = book.balances[account] }
            try entry.transfer.validate(policy: anySize)
            let after = try entry.transfer.posted(onto: before, limitsBy: nil)
            guard after == entry.balancesAfter else {
                throw LedgerError(.journalCorrupt, "entry \(entry.sequence) records other balances than it produces")
            }
            book.balances.merge(after) { _, new in new }
            book.journalIndexByID[entry.transfer.id] = book.journal.count
            book.journal.append(entry)
        }
        return book
    }
}

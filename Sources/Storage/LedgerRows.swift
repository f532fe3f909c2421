public import CitizenCardDomain
public import Ledger

/// What both backends share about ledger rows: the tables (docs/ledger.md, "Storage"), the
/// journal entry rebuilt from a transfer row and its postings, and the decision a commit takes.
enum LedgerRows {
    /// A stored posting: the account, the amount and the account's balance right after.
    struct StoredPosting {
        var account: String
        var amountFen: Int64
        var balanceAfterFen: Int64
    }

    static func entry(
        id: String, sequence: Int64, kind: String, at: Int64, memo: String, postings: [StoredPosting]
    ) throws(StorageError) -> JournalEntry {
        guard let kind = TransferKind(rawValue: kind) else { throw .corrupt(reason: "ledger transfer kind") }
        var mapped: [Posting] = []
        var after: [AccountID: Int64] = [:]
        for posting in postings {
            guard let account = AccountID(parsing: posting.account) else {
                throw .corrupt(reason: "ledger account key")
            }
            mapped.append(Posting(account: account, amountFen: posting.amountFen))
            after[account] = posting.balanceAfterFen
        }
        return JournalEntry(
            sequence: sequence,
            transfer: Transfer(
                id: TransferID(id), kind: kind, at: Timestamp(secondsSinceEpoch: at), memo: memo, postings: mapped),
            balancesAfter: after)
    }

    /// nil when `existing` already holds this very transfer (nothing to write); the balances to
    /// write otherwise. Throws `ledger(id_conflict)` for a known id with other content and
    /// `ledger(…)` for a transfer that breaks a rule.
    static func decide(
        _ transfer: Transfer, policy: LedgerPolicy, existing: JournalEntry?, balances: [AccountID: Int64]
    ) throws(StorageError) -> [AccountID: Int64]? {
        do {
            if let existing {
                _ = try existing.replay(transfer)
                return nil
            }
            return try transfer.check(balancesBefore: balances, policy: policy)
        } catch {
            throw .ledger(error)
        }
    }
}

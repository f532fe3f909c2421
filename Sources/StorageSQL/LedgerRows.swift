package import Storage
import CitizenCardDomain
package import Ledger

/// What both backends share about ledger rows: the tables (docs/ledger.md, "Storage"), the
/// journal entry rebuilt from a transfer row and its postings, and the decision a commit takes.
package enum LedgerRows {
    /// A stored posting: the account, the amount and the account's balance right after.
    package struct StoredPosting: Sendable {
        var account: String
        var amountFen: Int64
        var balanceAfterFen: Int64
    }

    /// The transfer row of `id`: its sequence, kind, time and memo.
    package static func transferQuery(_ id: String) -> SQL {
        "SELECT sequence, kind, at, memo FROM ledger_transfers WHERE id = \(id)"
    }

    /// The postings of transfer `id`.
    package static func postingsQuery(_ id: String) -> SQL {
        "SELECT account_id, amount_fen, balance_after_fen FROM ledger_postings WHERE transfer_id = \(id)"
    }

    package static func posting(_ row: any RowReader) throws -> StoredPosting {
        StoredPosting(
            account: try row.string("account_id"), amountFen: try row.int("amount_fen"),
            balanceAfterFen: try row.int("balance_after_fen"))
    }

    /// A transfer row as `transferQuery` reads it.
    package struct StoredTransfer: Sendable {
        var sequence: Int64
        var kind: String
        var at: Int64
        var memo: String

        package init(_ row: any RowReader) throws {
            sequence = try row.int("sequence")
            kind = try row.string("kind")
            at = try row.int("at")
            memo = try row.string("memo")
        }
    }

    package static func entry(
        id: String, transfer: StoredTransfer, postings: [StoredPosting]
    ) throws(StorageError) -> JournalEntry {
        try entry(
            id: id, sequence: transfer.sequence, kind: transfer.kind, at: transfer.at, memo: transfer.memo,
            postings: postings)
    }

    /// An account and its balance, from `id` and `balance_fen`.
    package static func balance(_ row: any RowReader) throws -> (AccountID, Int64) {
        guard let account = AccountID(parsing: try row.string("id")) else {
            throw StorageError.corrupt(reason: "ledger account key")
        }
        return (account, try row.int("balance_fen"))
    }

    package static func entry(
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
    package static func decide(
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

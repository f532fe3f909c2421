import Storage
import StorageSQL
import Ledger
import GRDB

extension SQLiteStore {
    /// Applies a transfer inside a commit's write transaction (one writer: no locks needed).
    static func post(_ transfer: Transfer, policy: LedgerPolicy, _ db: Database) throws {
        // The stored balances, in one statement; an account not stored yet has none (0 to the check).
        var byKey: [String: AccountID] = [:]
        for account in transfer.accounts { byKey[account.rawValue] = account }
        var balances: [AccountID: Int64] = [:]
        let stored = try db.cachedStatement(
            sql: "SELECT id, balance_fen FROM ledger_accounts WHERE id IN (SELECT value FROM json_each(?))")
        let rows = try Row.fetchCursor(stored, arguments: [jsonArray(Array(byKey.keys), quoted: true)])
        while let row = try rows.next() {
            guard let account = byKey[row[0]] else { throw StorageError.corrupt(reason: "ledger account key") }
            balances[account] = row[1]
        }
        guard
            let after = try LedgerRows.decide(
                transfer, policy: policy, existing: try entry(transfer.id.rawValue, db), balances: balances)
        else { return }
        let sequence =
            try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT coalesce(max(sequence), 0) + 1 FROM ledger_transfers")) ?? 1
        try db.cachedStatement(
            sql: "INSERT INTO ledger_transfers (id, sequence, kind, at, memo) VALUES (?, ?, ?, ?, ?)"
        )
        .execute(arguments: [
            transfer.id.rawValue, sequence, transfer.kind.rawValue, transfer.at.secondsSinceEpoch, transfer.memo,
        ])
        let posting = try db.cachedStatement(
            sql: """
                INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
                VALUES (?, ?, ?, ?, ?)
                """)
        let update = try db.cachedStatement(sql: "UPDATE ledger_accounts SET balance_fen = ? WHERE id = ?")
        let insert = try db.cachedStatement(
            sql: "INSERT INTO ledger_accounts (id, category, balance_fen) VALUES (?, ?, ?)")
        for item in transfer.postings {
            let balance = after[item.account] ?? 0
            try posting.execute(
                arguments: [transfer.id.rawValue, item.account.rawValue, sequence, item.amountFen, balance])
            if balances[item.account] != nil {
                try update.execute(arguments: [balance, item.account.rawValue])
            } else {
                try insert.execute(arguments: [item.account.rawValue, item.account.category.rawValue, balance])
            }
        }
    }

    /// The stored entry of `id`, read with the shared queries inside the commit's transaction.
    static func entry(_ id: String, _ db: Database) throws -> JournalEntry? {
        guard let transfer = try fetch(LedgerRows.transferQuery(id), db, LedgerRows.StoredTransfer.init).first
        else { return nil }
        return try LedgerRows.entry(
            id: id, transfer: transfer, postings: try fetch(LedgerRows.postingsQuery(id), db, LedgerRows.posting))
    }
}

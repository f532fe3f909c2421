import Storage
import StorageSQL
import Ledger
import NIOCore
import PostgresNIO

extension PostgresStore {
    /// Applies a transfer inside a commit's transaction. The touched accounts are created if
    /// missing and locked in key order first, so that concurrent transfers on one purse queue up
    /// and each sees the balance the previous one left; then an id applied meanwhile by a
    /// concurrent commit is found and replayed instead of applied twice.
    static func post(
        _ transfer: Transfer, policy: LedgerPolicy, _ connection: PostgresConnection, _ logger: Logger
    ) async throws {
        let accounts = transfer.accounts.sorted()
        try await connection.query(
            """
            INSERT INTO ledger_accounts (id, category, balance_fen)
            SELECT id, category, 0 FROM unnest(\(accounts.map(\.rawValue)), \(accounts.map(\.category.rawValue)))
                AS a (id, category)
            ORDER BY id
            ON CONFLICT (id) DO NOTHING
            """, logger: logger)
        var balances: [AccountID: Int64] = [:]
        let locked = try await connection.query(
            """
            SELECT id, balance_fen FROM ledger_accounts WHERE id = ANY(\(accounts.map(\.rawValue)))
            ORDER BY id FOR UPDATE
            """, logger: logger)
        for try await (id, balance) in locked.decode((String, Int64).self) {
            guard let account = AccountID(parsing: id) else { throw StorageError.corrupt(reason: "ledger account key") }
            balances[account] = balance
        }
        let existing = try await entry(transfer.id.rawValue, connection, logger)
        guard let after = try LedgerRows.decide(transfer, policy: policy, existing: existing, balances: balances)
        else { return }
        let ids = transfer.postings.map(\.account.rawValue)
        let amounts = transfer.postings.map(\.amountFen)
        let balancesAfter = transfer.postings.map { after[$0.account] ?? 0 }
        try await connection.query(
            """
            WITH transfer AS (
                INSERT INTO ledger_transfers (id, sequence, kind, at, memo)
                VALUES (\(transfer.id.rawValue), nextval('ledger_sequence'), \(transfer.kind.rawValue),
                    \(transfer.at.secondsSinceEpoch), \(transfer.memo))
                RETURNING id, sequence
            ), postings AS (
                INSERT INTO ledger_postings (transfer_id, account_id, sequence, amount_fen, balance_after_fen)
                SELECT transfer.id, p.account, transfer.sequence, p.amount, p.after
                FROM transfer, unnest(\(ids), \(amounts), \(balancesAfter)) AS p (account, amount, after)
            )
            UPDATE ledger_accounts SET balance_fen = n.after
            FROM unnest(\(ids), \(balancesAfter)) AS n (account, after)
            WHERE ledger_accounts.id = n.account
            """, logger: logger)
    }

    /// The stored entry of `id`, read with the shared queries inside the commit's transaction.
    static func entry(_ id: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> JournalEntry? {
        guard
            let transfer = try await fetch(
                LedgerRows.transferQuery(id), connection, logger, LedgerRows.StoredTransfer.init
            ).first
        else { return nil }
        return try LedgerRows.entry(
            id: id, transfer: transfer,
            postings: try await fetch(LedgerRows.postingsQuery(id), connection, logger, LedgerRows.posting))
    }
}

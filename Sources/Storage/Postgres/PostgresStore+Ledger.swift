public import Ledger
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

    static func entry(_ id: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> JournalEntry? {
        var header: (Int64, String, Int64, String)?
        let rows = try await connection.query(
            "SELECT sequence, kind, at, memo FROM ledger_transfers WHERE id = \(id)", logger: logger)
        for try await row in rows.decode((Int64, String, Int64, String).self) { header = row }
        guard let header else { return nil }
        var postings: [LedgerRows.StoredPosting] = []
        let stored = try await connection.query(
            "SELECT account_id, amount_fen, balance_after_fen FROM ledger_postings WHERE transfer_id = \(id)",
            logger: logger)
        for try await (account, amount, after) in stored.decode((String, Int64, Int64).self) {
            postings.append(LedgerRows.StoredPosting(account: account, amountFen: amount, balanceAfterFen: after))
        }
        return try LedgerRows.entry(
            id: id, sequence: header.0, kind: header.1, at: header.2, memo: header.3, postings: postings)
    }

    public func ledgerEntry(id: TransferID) async throws(StorageError) -> JournalEntry? {
        let logger = self.logger
        do {
            return try await client.withConnection { connection in
                try await Self.entry(id.rawValue, connection, logger)
            }
        } catch {
            throw Self.mapped(error)
        }
    }

    public func ledgerBalances(_ accounts: [AccountID]) async throws(StorageError) -> [AccountID: Int64] {
        var result = Dictionary(uniqueKeysWithValues: accounts.map { ($0, Int64(0)) })
        for (account, balance) in try await balances(
            "SELECT id, balance_fen FROM ledger_accounts WHERE id = ANY(\(accounts.map(\.rawValue)))")
        {
            result[account] = balance
        }
        return result
    }

    public func ledgerAllBalances() async throws(StorageError) -> [AccountID: Int64] {
        Dictionary(uniqueKeysWithValues: try await balances("SELECT id, balance_fen FROM ledger_accounts"))
    }

    func balances(_ query: PostgresQuery) async throws(StorageError) -> [(AccountID, Int64)] {
        try await reading(query) { columns in
            guard let account = AccountID(parsing: try columns.string("id")) else {
                throw StorageError.corrupt(reason: "ledger account key")
            }
            return (account, try columns.int("balance_fen"))
        }
    }
}

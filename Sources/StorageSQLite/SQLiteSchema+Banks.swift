extension SQLiteSchema {
    /// Partner banks (issue 20, docs/banks.md): the banks, each card's account (the number sealed,
    /// a blind index for uniqueness), the outbox of notices, the notices banks sent, and the daily
    /// reconciliations.
    static let banks: [String] = [
        """
        CREATE TABLE banks (
            code TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            bins TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            secret BLOB NOT NULL,
            active_from INTEGER NOT NULL,
            active_until INTEGER,
            is_default INTEGER NOT NULL CHECK (is_default IN (0, 1)),
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE bank_accounts (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
            bank_code TEXT NOT NULL REFERENCES banks(code),
            state TEXT NOT NULL CHECK (state IN ('wanted', 'open', 'held', 'closed')),
            number BLOB,
            number_masked TEXT,
            number_index BLOB UNIQUE,
            reason TEXT,
            previous_card_id TEXT,
            requested_at INTEGER NOT NULL,
            opened_at INTEGER,
            opened_on TEXT,
            closed_at INTEGER,
            attempts INTEGER NOT NULL,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX bank_accounts_opened ON bank_accounts (bank_code, opened_on)",
        """
        CREATE TABLE bank_notices (
            id INTEGER PRIMARY KEY NOT NULL,
            notice_id TEXT NOT NULL UNIQUE,
            bank_code TEXT NOT NULL REFERENCES banks(code),
            card_id TEXT NOT NULL REFERENCES cards(id),
            kind TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            payload BLOB NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'parked')),
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            last_error TEXT,
            created_at INTEGER NOT NULL,
            business_date TEXT NOT NULL,
            delivered_at INTEGER,
            parked_at INTEGER,
            UNIQUE (card_id, sequence)
        )
        """,
        "CREATE INDEX bank_notices_pending ON bank_notices (next_attempt_at) WHERE state = 'pending'",
        "CREATE INDEX bank_notices_by_bank ON bank_notices (bank_code, business_date)",
        """
        CREATE TABLE bank_inbound_notices (
            bank_code TEXT NOT NULL REFERENCES banks(code),
            notice_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            card_id TEXT,
            received_at INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            PRIMARY KEY (bank_code, notice_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE bank_reconciliations (
            bank_code TEXT NOT NULL REFERENCES banks(code),
            business_date TEXT NOT NULL,
            run_at INTEGER NOT NULL,
            run_by TEXT NOT NULL,
            notices_sent INTEGER NOT NULL,
            notices_confirmed INTEGER NOT NULL,
            accounts_opened INTEGER NOT NULL,
            accounts_confirmed INTEGER NOT NULL,
            differences BLOB NOT NULL,
            difference_count INTEGER NOT NULL,
            PRIMARY KEY (bank_code, business_date)
        ) WITHOUT ROWID
        """,
    ]
}

import Storage
import StorageSQL
extension SQLiteSchema {
    /// Merchants, terminals, uploaded batches, offline purchase records, the per-card chains of
    /// those records, fraud signals and the versioned hotlist (docs/terminal-protocol.md).
    ///
    /// A record's dedup keys are unique among the records that count (posted, risk); parked ones
    /// (replays among them) have their own small indexes, so the hot insert of a good record
    /// touches only the two unique indexes and the clearing index.
    static let acquiring: [String] = [
        """
        CREATE TABLE merchants (
            id TEXT PRIMARY KEY NOT NULL,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            commission_bp INTEGER NOT NULL CHECK (commission_bp BETWEEN 0 AND 10000),
            active INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE terminals (
            id TEXT PRIMARY KEY NOT NULL,
            number TEXT NOT NULL UNIQUE,
            merchant_id TEXT NOT NULL REFERENCES merchants(id),
            psam_serial TEXT NOT NULL UNIQUE,
            location TEXT NOT NULL,
            latitude_e6 INTEGER,
            longitude_e6 INTEGER,
            key_hash BLOB NOT NULL UNIQUE,
            hotlist_version INTEGER,
            last_sign_in_at INTEGER,
            active INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX terminals_merchant ON terminals(merchant_id, number)",
        """
        CREATE TABLE purchase_batches (
            id TEXT PRIMARY KEY NOT NULL,
            terminal_id TEXT NOT NULL REFERENCES terminals(id),
            merchant_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            content_hash TEXT NOT NULL,
            record_count INTEGER NOT NULL,
            posted_count INTEGER NOT NULL,
            risk_count INTEGER NOT NULL,
            parked_count INTEGER NOT NULL,
            duplicate_count INTEGER NOT NULL,
            accepted_fen INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            response BLOB NOT NULL,
            UNIQUE (terminal_id, number)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX purchase_batches_received ON purchase_batches(received_at)",
        """
        CREATE TABLE clearing_results (
            business_date TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            record_count INTEGER NOT NULL,
            gross_fen INTEGER NOT NULL,
            risk_fen INTEGER NOT NULL,
            commission_basis_points INTEGER NOT NULL,
            commission_fen INTEGER NOT NULL,
            net_fen INTEGER NOT NULL,
            cleared_at INTEGER NOT NULL,
            PRIMARY KEY (business_date, merchant_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE offline_purchases (
            id TEXT PRIMARY KEY NOT NULL,
            batch_id TEXT NOT NULL,
            terminal_id TEXT NOT NULL,
            merchant_id TEXT NOT NULL,
            card_id TEXT,
            asn TEXT NOT NULL,
            card_counter INTEGER NOT NULL,
            psam_serial TEXT NOT NULL,
            terminal_serial INTEGER NOT NULL,
            amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
            balance_before_fen INTEGER NOT NULL,
            balance_after_fen INTEGER NOT NULL,
            transaction_type INTEGER NOT NULL,
            tapped_at INTEGER NOT NULL,
            key_version INTEGER NOT NULL,
            algorithm_id INTEGER NOT NULL,
            tac TEXT NOT NULL,
            mac2 TEXT NOT NULL,
            record_status TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('posted', 'risk', 'parked')),
            reason TEXT,
            posted_at INTEGER,
            posted_on TEXT,
            received_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE UNIQUE INDEX offline_purchases_card_counter ON offline_purchases(asn, card_counter)
        WHERE outcome <> 'parked'
        """,
        """
        CREATE UNIQUE INDEX offline_purchases_psam_serial ON offline_purchases(psam_serial, terminal_serial)
        WHERE outcome <> 'parked'
        """,
        """
        CREATE INDEX offline_purchases_clearing
        ON offline_purchases(posted_on, merchant_id, terminal_id, outcome, amount_fen, received_at, posted_at)
        WHERE outcome <> 'parked'
        """,
        // Clearing reads a day's purchase transfers from the ledger.
        "CREATE INDEX ledger_transfers_time ON ledger_transfers(kind, at)",
        "CREATE INDEX offline_purchases_parked_card ON offline_purchases(asn, card_counter) WHERE outcome = 'parked'",
        """
        CREATE INDEX offline_purchases_parked_serial ON offline_purchases(psam_serial, terminal_serial)
        WHERE outcome = 'parked'
        """,
        "CREATE INDEX offline_purchases_parked_by_card ON offline_purchases(card_id) WHERE outcome = 'parked'",
        "CREATE INDEX offline_purchases_parked ON offline_purchases(id) WHERE outcome = 'parked'",
        "CREATE INDEX offline_purchases_card ON offline_purchases(card_id, tapped_at)",
        """
        CREATE TABLE purse_closures (
            card_id TEXT PRIMARY KEY NOT NULL,
            successor_id TEXT,
            kind TEXT NOT NULL,
            amount_fen INTEGER NOT NULL,
            status TEXT NOT NULL,
            closed_at INTEGER NOT NULL,
            settled_at INTEGER,
            settlement TEXT,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX purse_closures_successor ON purse_closures(successor_id)",
        """
        CREATE TABLE purse_chains (
            card_id TEXT PRIMARY KEY NOT NULL,
            next_counter INTEGER NOT NULL,
            balance_fen INTEGER NOT NULL,
            next_online_counter INTEGER NOT NULL,
            last_tapped_at INTEGER,
            last_terminal_id TEXT,
            last_latitude_e6 INTEGER,
            last_longitude_e6 INTEGER,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE fraud_signals (
            id TEXT PRIMARY KEY NOT NULL,
            kind TEXT NOT NULL,
            card_id TEXT,
            asn TEXT NOT NULL,
            purchase_id TEXT,
            evidence TEXT NOT NULL,
            detected_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX fraud_signals_card ON fraud_signals(card_id)",
        """
        CREATE TABLE hotlist_versions (
            version INTEGER PRIMARY KEY NOT NULL,
            published_at INTEGER NOT NULL,
            added_count INTEGER NOT NULL,
            removed_count INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE hotlist_entries (
            asn TEXT NOT NULL,
            added_version INTEGER NOT NULL,
            reason INTEGER NOT NULL,
            removed_version INTEGER,
            PRIMARY KEY (asn, added_version)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX hotlist_entries_current ON hotlist_entries(removed_version, asn)",
        "CREATE INDEX hotlist_entries_added ON hotlist_entries(added_version)",
    ]
}

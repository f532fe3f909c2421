import Storage
import StorageSQL
extension PostgresSchema {
    /// As `SQLiteSchema.acquiring`.
    static let acquiring: [String] = [
        """
        CREATE TABLE merchants (
            id text PRIMARY KEY,
            code text NOT NULL UNIQUE,
            name text NOT NULL,
            commission_bp bigint NOT NULL CHECK (commission_bp BETWEEN 0 AND 10000),
            active boolean NOT NULL,
            created_at bigint NOT NULL,
            version bigint NOT NULL
        )
        """,
        """
        CREATE TABLE terminals (
            id text PRIMARY KEY,
            number text NOT NULL UNIQUE,
            merchant_id text NOT NULL REFERENCES merchants (id),
            psam_serial text NOT NULL UNIQUE,
            location text NOT NULL,
            latitude_e6 bigint,
            longitude_e6 bigint,
            key_hash bytea NOT NULL UNIQUE,
            hotlist_version bigint,
            last_sign_in_at bigint,
            active boolean NOT NULL,
            created_at bigint NOT NULL,
            version bigint NOT NULL
        )
        """,
        "CREATE INDEX terminals_merchant ON terminals (merchant_id, number)",
        """
        CREATE TABLE purchase_batches (
            id text PRIMARY KEY,
            terminal_id text NOT NULL REFERENCES terminals (id),
            merchant_id text NOT NULL,
            number bigint NOT NULL,
            content_hash text NOT NULL,
            record_count bigint NOT NULL,
            posted_count bigint NOT NULL,
            risk_count bigint NOT NULL,
            parked_count bigint NOT NULL,
            duplicate_count bigint NOT NULL,
            accepted_fen bigint NOT NULL,
            received_at bigint NOT NULL,
            response bytea NOT NULL,
            UNIQUE (terminal_id, number)
        )
        """,
        "CREATE INDEX purchase_batches_received ON purchase_batches (received_at)",
        """
        CREATE TABLE clearing_results (
            business_date text NOT NULL,
            merchant_id text NOT NULL,
            record_count bigint NOT NULL,
            gross_fen bigint NOT NULL,
            risk_fen bigint NOT NULL,
            commission_basis_points bigint NOT NULL,
            commission_fen bigint NOT NULL,
            net_fen bigint NOT NULL,
            cleared_at bigint NOT NULL,
            PRIMARY KEY (business_date, merchant_id)
        )
        """,
        """
        CREATE TABLE offline_purchases (
            id text PRIMARY KEY,
            batch_id text NOT NULL,
            terminal_id text NOT NULL,
            merchant_id text NOT NULL,
            card_id text,
            asn text NOT NULL,
            card_counter bigint NOT NULL,
            psam_serial text NOT NULL,
            terminal_serial bigint NOT NULL,
            amount_fen bigint NOT NULL CHECK (amount_fen > 0),
            balance_before_fen bigint NOT NULL,
            balance_after_fen bigint NOT NULL,
            transaction_type bigint NOT NULL,
            tapped_at bigint NOT NULL,
            key_version bigint NOT NULL,
            algorithm_id bigint NOT NULL,
            tac text NOT NULL,
            mac2 text NOT NULL,
            record_status text NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('posted', 'risk', 'parked')),
            reason text,
            posted_at bigint,
            posted_on text,
            received_at bigint NOT NULL
        )
        """,
        """
        CREATE UNIQUE INDEX offline_purchases_card_counter ON offline_purchases (asn, card_counter)
        WHERE outcome <> 'parked'
        """,
        """
        CREATE UNIQUE INDEX offline_purchases_psam_serial ON offline_purchases (psam_serial, terminal_serial)
        WHERE outcome <> 'parked'
        """,
        """
        CREATE INDEX offline_purchases_clearing
        ON offline_purchases (posted_on, merchant_id, terminal_id, outcome, amount_fen, received_at, posted_at)
        WHERE outcome <> 'parked'
        """,
        // Clearing reads a day's purchase transfers from the ledger.
        "CREATE INDEX ledger_transfers_time ON ledger_transfers (kind, at)",
        "CREATE INDEX offline_purchases_parked_card ON offline_purchases (asn, card_counter) WHERE outcome = 'parked'",
        """
        CREATE INDEX offline_purchases_parked_serial ON offline_purchases (psam_serial, terminal_serial)
        WHERE outcome = 'parked'
        """,
        "CREATE INDEX offline_purchases_parked_by_card ON offline_purchases (card_id) WHERE outcome = 'parked'",
        "CREATE INDEX offline_purchases_parked ON offline_purchases (id) WHERE outcome = 'parked'",
        "CREATE INDEX offline_purchases_card ON offline_purchases (card_id, tapped_at)",
        """
        CREATE TABLE purse_closures (
            card_id text PRIMARY KEY,
            successor_id text,
            kind text NOT NULL,
            amount_fen bigint NOT NULL,
            status text NOT NULL,
            closed_at bigint NOT NULL,
            settled_at bigint,
            settlement text,
            version bigint NOT NULL
        )
        """,
        "CREATE INDEX purse_closures_successor ON purse_closures (successor_id)",
        """
        CREATE TABLE purse_chains (
            card_id text PRIMARY KEY,
            next_counter bigint NOT NULL,
            balance_fen bigint NOT NULL,
            next_online_counter bigint NOT NULL,
            last_tapped_at bigint,
            last_terminal_id text,
            last_latitude_e6 bigint,
            last_longitude_e6 bigint,
            version bigint NOT NULL
        )
        """,
        """
        CREATE TABLE fraud_signals (
            id text PRIMARY KEY,
            kind text NOT NULL,
            card_id text,
            asn text NOT NULL,
            purchase_id text,
            evidence text NOT NULL,
            detected_at bigint NOT NULL
        )
        """,
        "CREATE INDEX fraud_signals_card ON fraud_signals (card_id)",
        """
        CREATE TABLE hotlist_versions (
            version bigint PRIMARY KEY,
            published_at bigint NOT NULL,
            added_count bigint NOT NULL,
            removed_count bigint NOT NULL
        )
        """,
        """
        CREATE TABLE hotlist_entries (
            asn text NOT NULL,
            added_version bigint NOT NULL,
            reason bigint NOT NULL,
            removed_version bigint,
            PRIMARY KEY (asn, added_version)
        )
        """,
        "CREATE INDEX hotlist_entries_current ON hotlist_entries (removed_version, asn)",
        "CREATE INDEX hotlist_entries_added ON hotlist_entries (added_version)",
    ]
}

extension PostgresSchema {
    /// Partner banks (as `SQLiteSchema.banks`).
    static let banks: [String] = [
        """
        CREATE TABLE banks (
            code text PRIMARY KEY,
            name text NOT NULL,
            bins text NOT NULL,
            endpoint text NOT NULL,
            secret bytea NOT NULL,
            active_from bigint NOT NULL,
            active_until bigint,
            is_default boolean NOT NULL,
            created_at bigint NOT NULL,
            created_by text NOT NULL,
            version bigint NOT NULL
        )
        """,
        """
        CREATE TABLE bank_accounts (
            card_id text PRIMARY KEY REFERENCES cards (id),
            bank_code text NOT NULL REFERENCES banks (code),
            state text NOT NULL CHECK (state IN ('wanted', 'open', 'held', 'closed')),
            number bytea,
            number_masked text,
            number_index bytea UNIQUE,
            reason text,
            previous_card_id text,
            requested_at bigint NOT NULL,
            opened_at bigint,
            opened_on text,
            closed_at bigint,
            attempts bigint NOT NULL,
            version bigint NOT NULL
        )
        """,
        "CREATE INDEX bank_accounts_opened ON bank_accounts (bank_code, opened_on)",
        """
        CREATE TABLE bank_notices (
            id bigserial PRIMARY KEY,
            notice_id text NOT NULL UNIQUE,
            bank_code text NOT NULL REFERENCES banks (code),
            card_id text NOT NULL REFERENCES cards (id),
            kind text NOT NULL,
            sequence bigint NOT NULL,
            payload bytea NOT NULL,
            state text NOT NULL CHECK (state IN ('pending', 'delivered', 'parked')),
            attempts bigint NOT NULL,
            next_attempt_at bigint NOT NULL,
            last_error text,
            created_at bigint NOT NULL,
            business_date text NOT NULL,
            delivered_at bigint,
            parked_at bigint,
            UNIQUE (card_id, sequence)
        )
        """,
        "CREATE INDEX bank_notices_pending ON bank_notices (next_attempt_at) WHERE state = 'pending'",
        "CREATE INDEX bank_notices_by_bank ON bank_notices (bank_code, business_date)",
        """
        CREATE TABLE bank_inbound_notices (
            bank_code text NOT NULL REFERENCES banks (code),
            notice_id text NOT NULL,
            kind text NOT NULL,
            card_id text,
            received_at bigint NOT NULL,
            outcome text NOT NULL,
            PRIMARY KEY (bank_code, notice_id)
        )
        """,
        """
        CREATE TABLE bank_reconciliations (
            bank_code text NOT NULL REFERENCES banks (code),
            business_date text NOT NULL,
            run_at bigint NOT NULL,
            run_by text NOT NULL,
            notices_sent bigint NOT NULL,
            notices_confirmed bigint NOT NULL,
            accounts_opened bigint NOT NULL,
            accounts_confirmed bigint NOT NULL,
            differences bytea NOT NULL,
            difference_count bigint NOT NULL,
            PRIMARY KEY (bank_code, business_date)
        )
        """,
    ]
}

import Storage
import StorageSQL

extension PostgresSchema {
    /// As `SQLiteSchema.departments`; PostgreSQL changes the role checks of `operators` in place.
    static let departments: [String] = [
        "ALTER TABLE operators DROP CONSTRAINT operators_role_check",
        "ALTER TABLE operators DROP CONSTRAINT operators_check",
        """
        ALTER TABLE operators ADD CONSTRAINT operators_role_check
            CHECK (role IN ('operator', 'supervisor', 'admin', 'commissioner', 'auditor'))
        """,
        """
        ALTER TABLE operators ADD CONSTRAINT operators_outlet_check
            CHECK ((role IN ('operator', 'supervisor')) = (outlet_id IS NOT NULL))
        """,
        """
        CREATE TABLE departments (
            id text PRIMARY KEY,
            code text NOT NULL UNIQUE,
            name text NOT NULL,
            name_zh text NOT NULL,
            kind text NOT NULL,
            feed_kinds text NOT NULL,
            active boolean NOT NULL,
            created_at bigint NOT NULL,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        """
        CREATE TABLE department_clients (
            id text PRIMARY KEY,
            department_id text NOT NULL REFERENCES departments (id),
            name text NOT NULL,
            certificate_subject text UNIQUE,
            created_at bigint NOT NULL,
            created_by text NOT NULL,
            revoked_at bigint,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX department_clients_department ON department_clients (department_id)",
        """
        CREATE TABLE department_keys (
            id text PRIMARY KEY,
            client_id text NOT NULL REFERENCES department_clients (id),
            key_hash bytea NOT NULL UNIQUE,
            hint text NOT NULL,
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            revoked_at bigint,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX department_keys_client ON department_keys (client_id)",
        """
        CREATE TABLE feed_messages (
            department_id text NOT NULL REFERENCES departments (id),
            message_id text NOT NULL,
            kind text NOT NULL,
            digest bytea NOT NULL,
            received_at bigint NOT NULL,
            client_id text,
            outcome text NOT NULL,
            person_id text,
            result text NOT NULL,
            PRIMARY KEY (department_id, message_id)
        )
        """,
        "CREATE INDEX feed_messages_time ON feed_messages (received_at)",
        """
        CREATE TABLE review_items (
            id text PRIMARY KEY,
            kind text NOT NULL,
            department_id text REFERENCES departments (id),
            message_id text,
            person_id text REFERENCES persons (id),
            grant_id text,
            detail text NOT NULL,
            created_at bigint NOT NULL,
            closed_at bigint,
            closed_by text,
            closing_note text,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX review_items_open ON review_items (closed_at, created_at)",
        """
        CREATE TABLE card_cases (
            id text PRIMARY KEY,
            card_id text NOT NULL REFERENCES cards (id),
            person_id text NOT NULL REFERENCES persons (id),
            kind text NOT NULL CHECK (kind IN ('cancel_after_death', 'replace_data_changed', 'eligibility_review')),
            outlet_id text NOT NULL REFERENCES outlets (id),
            department_id text REFERENCES departments (id),
            message_id text,
            created_at bigint NOT NULL,
            closed_at bigint,
            closed_by text,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE UNIQUE INDEX card_cases_open ON card_cases (card_id, kind) WHERE closed_at IS NULL",
        "CREATE INDEX card_cases_outlet ON card_cases (outlet_id, closed_at, created_at)",
        """
        CREATE TABLE card_holds (
            card_id text PRIMARY KEY REFERENCES cards (id),
            reason text NOT NULL,
            department_id text REFERENCES departments (id),
            message_id text,
            at bigint NOT NULL,
            purse_balance_fen bigint NOT NULL
        )
        """,
        """
        CREATE TABLE grants (
            id text PRIMARY KEY,
            department_id text NOT NULL REFERENCES departments (id),
            fields text NOT NULL,
            purpose text NOT NULL,
            legal_basis text NOT NULL,
            valid_from text NOT NULL,
            valid_until text NOT NULL,
            daily_volume bigint NOT NULL CHECK (daily_volume >= 1),
            rate_per_minute bigint NOT NULL CHECK (rate_per_minute >= 1),
            state text NOT NULL
                CHECK (state IN ('requested', 'approved', 'refused', 'active', 'suspended', 'revoked')),
            requested_by text NOT NULL,
            requested_at bigint NOT NULL,
            decided_by text,
            decided_at bigint,
            decision_note text,
            agreement_reference text,
            agreement_signatory text,
            agreement_signed_on text,
            agreement_recorded_by text,
            agreement_recorded_at bigint,
            state_reason text,
            version bigint NOT NULL CHECK (version >= 1),
            CHECK (state NOT IN ('active', 'suspended') OR agreement_reference IS NOT NULL)
        )
        """,
        "CREATE INDEX grants_department ON grants (department_id)",
        """
        CREATE TABLE disclosures (
            id text PRIMARY KEY,
            at bigint NOT NULL,
            kind text NOT NULL CHECK (kind IN ('query', 'card_check')),
            department_id text REFERENCES departments (id),
            client_id text,
            grant_id text REFERENCES grants (id),
            person_id text REFERENCES persons (id),
            purpose text NOT NULL,
            case_number text NOT NULL,
            end_user text NOT NULL,
            fields text NOT NULL,
            found boolean NOT NULL
        )
        """,
        "CREATE INDEX disclosures_person ON disclosures (person_id, at)",
        "CREATE INDEX disclosures_department ON disclosures (department_id, at)",
        "CREATE INDEX disclosures_time ON disclosures (at)",
    ]
}

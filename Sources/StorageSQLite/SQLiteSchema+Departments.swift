import Storage
import StorageSQL

extension SQLiteSchema {
    /// Departments (issue 18, docs/departments.md): the registry, their API clients and keys
    /// (only the SHA-256 of a key), feed messages by the department's own message id with the
    /// stored answer, the review queue, the outlets' card cases (one open per card and kind), the
    /// cards blocked after a death, grants, and every disclosure. The staff roles gain
    /// `commissioner` and `auditor`: SQLite cannot change a CHECK, so `operators` is rebuilt (the
    /// migrator defers foreign-key checks to the end of the migration).
    static let departments: [String] = [
        """
        CREATE TABLE operators_new (
            id TEXT PRIMARY KEY NOT NULL,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin', 'commissioner', 'auditor')),
            outlet_id TEXT REFERENCES outlets(id),
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            CHECK ((role IN ('operator', 'supervisor')) = (outlet_id IS NOT NULL))
        )
        """,
        "INSERT INTO operators_new SELECT id, username, display_name, role, outlet_id, password_hash, active FROM operators",
        "DROP TABLE operators",
        "ALTER TABLE operators_new RENAME TO operators",
        """
        CREATE TABLE departments (
            id TEXT PRIMARY KEY NOT NULL,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            name_zh TEXT NOT NULL,
            kind TEXT NOT NULL,
            feed_kinds TEXT NOT NULL,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            created_at INTEGER NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1)
        )
        """,
        """
        CREATE TABLE department_clients (
            id TEXT PRIMARY KEY NOT NULL,
            department_id TEXT NOT NULL REFERENCES departments(id),
            name TEXT NOT NULL,
            certificate_subject TEXT UNIQUE,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            revoked_at INTEGER,
            version INTEGER NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX department_clients_department ON department_clients(department_id)",
        """
        CREATE TABLE department_keys (
            id TEXT PRIMARY KEY NOT NULL,
            client_id TEXT NOT NULL REFERENCES department_clients(id),
            key_hash BLOB NOT NULL UNIQUE,
            hint TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER,
            version INTEGER NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX department_keys_client ON department_keys(client_id)",
        """
        CREATE TABLE feed_messages (
            department_id TEXT NOT NULL REFERENCES departments(id),
            message_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            digest BLOB NOT NULL,
            received_at INTEGER NOT NULL,
            client_id TEXT,
            outcome TEXT NOT NULL,
            person_id TEXT,
            result TEXT NOT NULL,
            PRIMARY KEY (department_id, message_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX feed_messages_time ON feed_messages(received_at)",
        """
        CREATE TABLE review_items (
            id TEXT PRIMARY KEY NOT NULL,
            kind TEXT NOT NULL,
            department_id TEXT REFERENCES departments(id),
            message_id TEXT,
            person_id TEXT REFERENCES persons(id),
            grant_id TEXT,
            detail TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            closed_at INTEGER,
            closed_by TEXT,
            closing_note TEXT,
            version INTEGER NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE INDEX review_items_open ON review_items(closed_at, created_at)",
        """
        CREATE TABLE card_cases (
            id TEXT PRIMARY KEY NOT NULL,
            card_id TEXT NOT NULL REFERENCES cards(id),
            person_id TEXT NOT NULL REFERENCES persons(id),
            kind TEXT NOT NULL CHECK (kind IN ('cancel_after_death', 'replace_data_changed', 'eligibility_review')),
            outlet_id TEXT NOT NULL REFERENCES outlets(id),
            department_id TEXT REFERENCES departments(id),
            message_id TEXT,
            created_at INTEGER NOT NULL,
            closed_at INTEGER,
            closed_by TEXT,
            version INTEGER NOT NULL CHECK (version >= 1)
        )
        """,
        "CREATE UNIQUE INDEX card_cases_open ON card_cases(card_id, kind) WHERE closed_at IS NULL",
        "CREATE INDEX card_cases_outlet ON card_cases(outlet_id, closed_at, created_at)",
        """
        CREATE TABLE card_holds (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
            reason TEXT NOT NULL,
            department_id TEXT REFERENCES departments(id),
            message_id TEXT,
            at INTEGER NOT NULL,
            purse_balance_fen INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE grants (
            id TEXT PRIMARY KEY NOT NULL,
            department_id TEXT NOT NULL REFERENCES departments(id),
            fields TEXT NOT NULL,
            purpose TEXT NOT NULL,
            legal_basis TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_until TEXT NOT NULL,
            daily_volume INTEGER NOT NULL CHECK (daily_volume >= 1),
            rate_per_minute INTEGER NOT NULL CHECK (rate_per_minute >= 1),
            state TEXT NOT NULL
                CHECK (state IN ('requested', 'approved', 'refused', 'active', 'suspended', 'revoked')),
            requested_by TEXT NOT NULL,
            requested_at INTEGER NOT NULL,
            decided_by TEXT,
            decided_at INTEGER,
            decision_note TEXT,
            agreement_reference TEXT,
            agreement_signatory TEXT,
            agreement_signed_on TEXT,
            agreement_recorded_by TEXT,
            agreement_recorded_at INTEGER,
            state_reason TEXT,
            version INTEGER NOT NULL CHECK (version >= 1),
            CHECK (state NOT IN ('active', 'suspended') OR agreement_reference IS NOT NULL)
        )
        """,
        "CREATE INDEX grants_department ON grants(department_id)",
        """
        CREATE TABLE disclosures (
            id TEXT PRIMARY KEY NOT NULL,
            at INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('query', 'card_check')),
            department_id TEXT REFERENCES departments(id),
            client_id TEXT,
            grant_id TEXT REFERENCES grants(id),
            person_id TEXT REFERENCES persons(id),
            purpose TEXT NOT NULL,
            case_number TEXT NOT NULL,
            end_user TEXT NOT NULL,
            fields TEXT NOT NULL,
            found INTEGER NOT NULL CHECK (found IN (0, 1))
        )
        """,
        "CREATE INDEX disclosures_person ON disclosures(person_id, at)",
        "CREATE INDEX disclosures_department ON disclosures(department_id, at)",
        "CREATE INDEX disclosures_time ON disclosures(at)",
    ]
}

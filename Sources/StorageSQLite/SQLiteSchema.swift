import Storage
import StorageSQL
import GRDB

/// Versioned migrations of the SQLite schema. A migration, once released, is never edited: a
/// change is a new migration appended to the list.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001-core") { db in
            for statement in core { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0002-audit-lanes") { db in
            for statement in auditLanes { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0003-ledger") { db in
            for statement in ledger { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0004-purse-loads") { db in
            for statement in purseLoads { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0005-acquiring") { db in
            for statement in acquiring { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0006-citizen-portal") { db in
            for statement in portal { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0007-outlet-reports") { db in
            for statement in outletReports { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0008-journal-checks") { db in
            for statement in journalChecks { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0009-exception-closures") { db in
            for statement in exceptionClosures { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0010-cancellation-documents") { db in
            for statement in cancellationDocuments { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0011-departments") { db in
            for statement in departments { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0012-credentials") { db in
            for statement in credentials { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0013-banks") { db in
            for statement in banks { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0014-end-of-life") { db in
            for statement in endOfLife { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0015-legacy-cards") { db in
            for statement in legacyCards { try db.execute(sql: statement) }
        }
        migrator.registerMigration("0016-cards-left-service") { db in
            for statement in cardsLeftService { try db.execute(sql: statement) }
        }
        return migrator
    }

    /// The double-entry ledger (docs/ledger.md): balances per account (signed fen, debit positive),
    /// transfers by id (their idempotency key) in journal order, postings with the balance after.
    static let ledger: [String] = [
        """
        CREATE TABLE ledger_accounts (
            id TEXT PRIMARY KEY NOT NULL,
            category TEXT NOT NULL,
            balance_fen INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE ledger_transfers (
            id TEXT PRIMARY KEY NOT NULL,
            sequence INTEGER NOT NULL,
            kind TEXT NOT NULL,
            at INTEGER NOT NULL,
            memo TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX ledger_transfers_sequence ON ledger_transfers(sequence)",
        """
        CREATE TABLE ledger_postings (
            transfer_id TEXT NOT NULL REFERENCES ledger_transfers(id),
            account_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            amount_fen INTEGER NOT NULL,
            balance_after_fen INTEGER NOT NULL,
            PRIMARY KEY (transfer_id, account_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX ledger_postings_account ON ledger_postings(account_id, sequence)",
    ]

    /// The journal is append-only: updating or deleting a transfer or a posting is refused (as
    /// `PostgresSchema.journalChecks`). The postings' foreign key stays: SQLite checks it in the
    /// posting's own index probe.
    static let journalChecks: [String] = ["ledger_transfers", "ledger_postings"].flatMap { table in
        ["UPDATE", "DELETE"].map { event in
            """
            CREATE TRIGGER \(table)_append_only_\(event.lowercased()) BEFORE \(event) ON \(table)
            BEGIN SELECT RAISE(ABORT, 'the ledger journal is append-only: \(table)'); END
            """
        }
    }

    /// Closed exceptions (`ExceptionClosure`), as `PostgresSchema.exceptionClosures`: one per
    /// record, and final — updating or deleting one is refused.
    /// The document reference of a cancellation, sealed like other personal data (issue 16);
    /// `cards.cancel_document` keeps it masked.
    static let cancellationDocuments: [String] = [
        """
        CREATE TABLE cancellation_documents (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
            sealed BLOB NOT NULL
        ) WITHOUT ROWID
        """
    ]

    static let exceptionClosures: [String] =
        [
            """
            CREATE TABLE purchase_exception_closures (
                purchase_id TEXT PRIMARY KEY NOT NULL REFERENCES offline_purchases(id),
                note TEXT NOT NULL,
                closed_by TEXT NOT NULL,
                closed_at INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX purchase_exception_closures_time ON purchase_exception_closures(closed_at)",
        ]
        + ["UPDATE", "DELETE"].map { event in
            """
            CREATE TRIGGER purchase_exception_closures_final_\(event.lowercased())
            BEFORE \(event) ON purchase_exception_closures
            BEGIN SELECT RAISE(ABORT, 'an exception closure is final'); END
            """
        }

    /// Online loads; one unreversed load per card and online counter, so that a load can
    /// never be approved twice for the same card transaction.
    static let purseLoads: [String] = [
        """
        CREATE TABLE purse_loads (
            id TEXT PRIMARY KEY NOT NULL,
            card_id TEXT NOT NULL REFERENCES cards(id),
            outlet_id TEXT NOT NULL REFERENCES outlets(id),
            actor TEXT NOT NULL,
            amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
            funding TEXT NOT NULL,
            online_counter INTEGER NOT NULL,
            balance_before_fen INTEGER NOT NULL,
            key_version INTEGER NOT NULL,
            algorithm_id INTEGER NOT NULL,
            terminal_id TEXT NOT NULL,
            transaction_time TEXT NOT NULL,
            mac2 TEXT NOT NULL,
            tac TEXT,
            status TEXT NOT NULL CHECK (status IN ('approved', 'completed', 'reversed')),
            approved_at INTEGER NOT NULL,
            resolved_at INTEGER,
            resolution TEXT,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX purse_loads_counter ON purse_loads(card_id, online_counter) WHERE status <> 'reversed'",
        "CREATE INDEX purse_loads_card ON purse_loads(card_id, approved_at)",
        "CREATE INDEX purse_loads_status ON purse_loads(status, approved_at)",
    ]

    static let core: [String] = [
        """
        CREATE TABLE persons (
            id TEXT PRIMARY KEY NOT NULL,
            id_index BLOB NOT NULL,
            fingerprint BLOB NOT NULL,
            details BLOB NOT NULL,
            household TEXT NOT NULL CHECK (household IN ('local', 'nonlocal')),
            social_insurance INTEGER NOT NULL CHECK (social_insurance IN (0, 1)),
            rural_medical INTEGER NOT NULL CHECK (rural_medical IN (0, 1)),
            life_status TEXT NOT NULL CHECK (life_status IN ('alive', 'deceased')),
            version INTEGER NOT NULL CHECK (version >= 1),
            changed_at INTEGER NOT NULL,
            changed_by TEXT NOT NULL,
            change_reason TEXT NOT NULL,
            change_source TEXT NOT NULL,
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX persons_id_index ON persons(id_index)",
        """
        CREATE TABLE person_versions (
            person_id TEXT NOT NULL REFERENCES persons(id),
            version INTEGER NOT NULL,
            id_index BLOB NOT NULL,
            fingerprint BLOB NOT NULL,
            details BLOB NOT NULL,
            household TEXT NOT NULL,
            social_insurance INTEGER NOT NULL,
            rural_medical INTEGER NOT NULL,
            life_status TEXT NOT NULL,
            changed_at INTEGER NOT NULL,
            changed_by TEXT NOT NULL,
            change_reason TEXT NOT NULL,
            change_source TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (person_id, version)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE photos (
            id TEXT PRIMARY KEY NOT NULL,
            person_id TEXT NOT NULL REFERENCES persons(id),
            media_type TEXT NOT NULL,
            content BLOB NOT NULL,
            created_at INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE outlets (
            id TEXT PRIMARY KEY NOT NULL,
            code TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            name_zh TEXT NOT NULL,
            region_code TEXT NOT NULL,
            address TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE operators (
            id TEXT PRIMARY KEY NOT NULL,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin')),
            outlet_id TEXT REFERENCES outlets(id),
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            CHECK ((role = 'admin') = (outlet_id IS NULL))
        )
        """,
        """
        CREATE TABLE sessions (
            token_hash BLOB PRIMARY KEY NOT NULL,
            operator_id TEXT NOT NULL REFERENCES operators(id),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE production_batches (
            id TEXT PRIMARY KEY NOT NULL,
            number TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('exported', 'produced', 'delivered')),
            card_count INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            created_by TEXT NOT NULL,
            produced_at INTEGER,
            delivered_at INTEGER,
            version INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE cards (
            id TEXT PRIMARY KEY NOT NULL,
            person_id TEXT NOT NULL REFERENCES persons(id),
            kind TEXT NOT NULL,
            state TEXT NOT NULL,
            slot TEXT CHECK (slot IN ('pipeline', 'held')),
            number TEXT NOT NULL,
            asn TEXT NOT NULL,
            channel_kind TEXT NOT NULL,
            employer_code TEXT,
            employer_name TEXT,
            outlet_id TEXT NOT NULL REFERENCES outlets(id),
            predecessor_id TEXT REFERENCES cards(id),
            successor_id TEXT,
            batch_id TEXT REFERENCES production_batches(id),
            applied_at INTEGER NOT NULL,
            approved_at INTEGER,
            issued_at INTEGER,
            expires_at INTEGER,
            loss_kind TEXT,
            loss_channel TEXT,
            loss_effective_at INTEGER,
            pre_loss_expires_at INTEGER,
            loss_written_at INTEGER,
            note TEXT,
            replacement_reason TEXT,
            cancel_reason TEXT,
            cancel_applicant TEXT,
            cancel_relationship TEXT,
            cancel_document TEXT,
            cancelled_at INTEGER,
            closed_at INTEGER,
            version INTEGER NOT NULL CHECK (version >= 1),
            updated_at INTEGER NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX cards_number ON cards(number)",
        "CREATE UNIQUE INDEX cards_asn ON cards(asn)",
        // The one-card rule: at most one card per person in each of the pipeline and held slots.
        "CREATE UNIQUE INDEX cards_one_per_slot ON cards(person_id, slot) WHERE slot IS NOT NULL",
        "CREATE INDEX cards_person ON cards(person_id, applied_at)",
        "CREATE INDEX cards_state ON cards(state, outlet_id, applied_at)",
        "CREATE INDEX cards_batch ON cards(batch_id) WHERE batch_id IS NOT NULL",
        "CREATE INDEX cards_pre_loss_due ON cards(pre_loss_expires_at) WHERE state = 'pre_lost'",
        "CREATE INDEX cards_expiry_due ON cards(expires_at) WHERE slot = 'held'",
        """
        CREATE TABLE card_events (
            card_id TEXT NOT NULL REFERENCES cards(id),
            sequence INTEGER NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            outlet_id TEXT,
            reason TEXT,
            receipt_id TEXT,
            PRIMARY KEY (card_id, sequence)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE receipts (
            id TEXT PRIMARY KEY NOT NULL,
            number TEXT NOT NULL UNIQUE,
            at INTEGER NOT NULL,
            outlet_id TEXT NOT NULL REFERENCES outlets(id),
            operator_id TEXT NOT NULL REFERENCES operators(id),
            person_id TEXT NOT NULL REFERENCES persons(id),
            card_id TEXT NOT NULL REFERENCES cards(id),
            item TEXT NOT NULL,
            amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
            payment_method TEXT NOT NULL
        )
        """,
        "CREATE INDEX receipts_outlet_time ON receipts(outlet_id, at)",
        """
        CREATE TABLE fee_entries (
            item TEXT NOT NULL,
            effective_from INTEGER NOT NULL,
            amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
            authority TEXT NOT NULL,
            PRIMARY KEY (item, effective_from)
        )
        """,
        """
        CREATE TABLE eligibility_rules (
            id TEXT PRIMARY KEY NOT NULL,
            code TEXT NOT NULL,
            title TEXT NOT NULL,
            title_zh TEXT NOT NULL,
            criteria TEXT NOT NULL,
            effective_from TEXT NOT NULL,
            effective_until TEXT
        )
        """,
        "CREATE UNIQUE INDEX eligibility_rules_code_from ON eligibility_rules(code, effective_from)",
        """
        CREATE TABLE audit_log (
            sequence INTEGER PRIMARY KEY NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            person_id TEXT,
            purpose TEXT NOT NULL,
            detail TEXT NOT NULL,
            previous_hash BLOB NOT NULL,
            hash BLOB NOT NULL
        )
        """,
        "CREATE INDEX audit_log_person ON audit_log(person_id, sequence) WHERE person_id IS NOT NULL",
        "CREATE INDEX audit_log_subject ON audit_log(subject, sequence)",
        "CREATE INDEX audit_log_actor ON audit_log(actor, sequence)",
        """
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sequence INTEGER NOT NULL,
            hash BLOB NOT NULL
        )
        """,
        "INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, zeroblob(32))",
        "CREATE TABLE sequences (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
        "INSERT INTO sequences (name, value) VALUES ('card', 0), ('receipt', 0), ('batch', 0)",
        """
        CREATE TABLE idempotency_records (
            key TEXT PRIMARY KEY NOT NULL,
            request_hash BLOB NOT NULL,
            status INTEGER NOT NULL,
            response BLOB NOT NULL,
            created_at INTEGER NOT NULL
        )
        """,
        "CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    ]

    /// The embedded backend keeps one lane (its writes are serial anyway).
    static let auditLaneCount = 1

    /// The audit log becomes lanes of chains (see `AuditEntry`); existing entries are lane 0, their
    /// hashes unchanged (the lane is not part of the hashed content).
    static let auditLanes: [String] = [
        """
        CREATE TABLE audit_log_lanes (
            lane INTEGER NOT NULL DEFAULT 0,
            sequence INTEGER NOT NULL,
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            person_id TEXT,
            purpose TEXT NOT NULL,
            detail TEXT NOT NULL,
            previous_hash BLOB NOT NULL,
            hash BLOB NOT NULL,
            PRIMARY KEY (lane, sequence)
        ) WITHOUT ROWID
        """,
        """
        INSERT INTO audit_log_lanes (lane, sequence, at, actor, action, subject, person_id, purpose, detail,
            previous_hash, hash)
        SELECT 0, sequence, at, actor, action, subject, person_id, purpose, detail, previous_hash, hash FROM audit_log
        """,
        "DROP TABLE audit_log",
        "ALTER TABLE audit_log_lanes RENAME TO audit_log",
        "CREATE INDEX audit_log_person ON audit_log(person_id, at) WHERE person_id IS NOT NULL",
        "CREATE INDEX audit_log_subject ON audit_log(subject, at)",
        "CREATE INDEX audit_log_actor ON audit_log(actor, at)",
        "CREATE INDEX audit_log_time ON audit_log(at, lane, sequence)",
        """
        CREATE TABLE audit_heads (
            lane INTEGER PRIMARY KEY NOT NULL,
            sequence INTEGER NOT NULL,
            hash BLOB NOT NULL
        )
        """,
        "INSERT INTO audit_heads (lane, sequence, hash) SELECT 0, sequence, hash FROM audit_head",
        "DROP TABLE audit_head",
    ]
}

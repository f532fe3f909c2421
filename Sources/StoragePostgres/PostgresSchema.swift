import Storage
import StorageSQL
/// Versioned migrations of the PostgreSQL schema, kept in step with `SQLiteSchema` by
/// `SchemaParityTests` (same tables, columns, nullability and unique rules). A migration, once
/// released, is never edited.
///
/// Differences by design: booleans are `boolean`, blobs `bytea`, integers `bigint`; the audit log
/// is partitioned by month on its time (scale-out, docs/scaling.md), so its primary key includes
/// `at`; sequences are rows of `sequences` as in SQLite (values must be consecutive per call).
enum PostgresSchema {
    struct Migration {
        var name: String
        var statements: [String]
    }

    static let migrations: [Migration] = [
        Migration(name: "0001-core", statements: core),
        Migration(name: "0002-audit-lanes", statements: auditLanes),
        Migration(name: "0003-audit-append", statements: auditAppend),
        Migration(name: "0004-person-id-claims", statements: personIDClaims),
        Migration(name: "0005-ledger", statements: ledger),
        Migration(name: "0006-purse-loads", statements: purseLoads),
        Migration(name: "0007-acquiring", statements: acquiring),
        Migration(name: "0008-citizen-portal", statements: portal),
        Migration(name: "0009-outlet-reports", statements: outletReports),
        Migration(name: "0010-statement-refusals", statements: statementRefusals),
        Migration(name: "0011-journal-checks", statements: journalChecks),
        Migration(name: "0012-exception-closures", statements: exceptionClosures),
        Migration(name: "0013-cancellation-documents", statements: cancellationDocuments),
        Migration(name: "0014-departments", statements: departments),
        Migration(name: "0015-credentials", statements: credentials),
        Migration(name: "0016-banks", statements: banks),
        Migration(name: "0017-end-of-life", statements: endOfLife),
        Migration(name: "0018-legacy-cards", statements: legacyCards),
        Migration(name: "0019-cards-left-service", statements: cardsLeftService),
    ]

    /// The sealed document reference of a cancellation (as `SQLiteSchema.cancellationDocuments`).
    static let cancellationDocuments: [String] = [
        """
        CREATE TABLE cancellation_documents (
            card_id text PRIMARY KEY REFERENCES cards (id),
            sealed bytea NOT NULL
        )
        """
    ]

    /// Closed exceptions (`ExceptionClosure`): one per record, and final — updating, deleting or
    /// truncating them raises `CC423` (as `SQLiteSchema.exceptionClosures`).
    static let exceptionClosures: [String] = [
        """
        CREATE TABLE purchase_exception_closures (
            purchase_id text PRIMARY KEY REFERENCES offline_purchases (id),
            note text NOT NULL,
            closed_by text NOT NULL,
            closed_at bigint NOT NULL
        )
        """,
        "CREATE INDEX purchase_exception_closures_time ON purchase_exception_closures (closed_at)",
        """
        CREATE FUNCTION purchase_exception_closures_final() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'CC423', MESSAGE = 'an exception closure is final';
        END
        $$
        """,
        """
        CREATE TRIGGER purchase_exception_closures_final
        BEFORE UPDATE OR DELETE OR TRUNCATE ON purchase_exception_closures
        FOR EACH STATEMENT EXECUTE FUNCTION purchase_exception_closures_final()
        """,
    ]

    /// The journal is append-only, and a posting's transfer is checked once per statement.
    ///
    /// The foreign key from `ledger_postings` to `ledger_transfers` checked each posting with a
    /// query of its own: an upload's transfer has a posting per card, and those checks took about
    /// a tenth of the upload statement's time. In its place a statement-level trigger looks up the
    /// postings a statement inserted in one query, and raises `23503` (a foreign key violation) for
    /// a posting whose transfer is not there. The other half of a foreign key — a transfer cannot
    /// go while postings name it — follows from the journal being append-only: updating, deleting
    /// or truncating transfers or postings raises `CC423` (as `SQLiteSchema.journalChecks`).
    ///
    /// Ledger balances and purse chains are updated in place with every batch: pages left a fifth
    /// free keep most of those updates on their page, with no new index entry (HOT updates).
    static let journalChecks: [String] = [
        "ALTER TABLE ledger_postings DROP CONSTRAINT ledger_postings_transfer_id_fkey",
        """
        CREATE FUNCTION ledger_postings_check_transfers() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM inserted_postings p
                WHERE NOT EXISTS (SELECT 1 FROM ledger_transfers t WHERE t.id = p.transfer_id)
            ) THEN
                RAISE EXCEPTION USING ERRCODE = '23503', MESSAGE = 'a ledger posting names a transfer that is not there';
            END IF;
            RETURN NULL;
        END
        $$
        """,
        """
        CREATE TRIGGER ledger_postings_transfers AFTER INSERT ON ledger_postings
        REFERENCING NEW TABLE AS inserted_postings FOR EACH STATEMENT
        EXECUTE FUNCTION ledger_postings_check_transfers()
        """,
        """
        CREATE FUNCTION ledger_journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'CC423', MESSAGE = 'the ledger journal is append-only: ' || TG_TABLE_NAME;
        END
        $$
        """,
        """
        CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_transfers
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_append_only()
        """,
        """
        CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON ledger_postings
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_journal_append_only()
        """,
        "ALTER TABLE ledger_accounts SET (fillfactor = 80)",
        "ALTER TABLE purse_chains SET (fillfactor = 80)",
    ]

    /// `citizencard_refuse(code, message)` raises an error with that SQLSTATE and message, so that
    /// a single statement can refuse itself — and so keep nothing — when a condition it checks at
    /// its end fails (the upload commit: `CC409` a concurrent change, `CC422` a ledger limit).
    static let statementRefusals: [String] = [
        """
        CREATE FUNCTION citizencard_refuse(p_code text, p_message text) RETURNS bigint LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message;
        END
        $$
        """
    ]

    /// As `SQLiteSchema.purseLoads`.
    static let purseLoads: [String] = [
        """
        CREATE TABLE purse_loads (
            id text PRIMARY KEY,
            card_id text NOT NULL REFERENCES cards (id),
            outlet_id text NOT NULL REFERENCES outlets (id),
            actor text NOT NULL,
            amount_fen bigint NOT NULL CHECK (amount_fen > 0),
            funding text NOT NULL,
            online_counter bigint NOT NULL,
            balance_before_fen bigint NOT NULL,
            key_version bigint NOT NULL,
            algorithm_id bigint NOT NULL,
            terminal_id text NOT NULL,
            transaction_time text NOT NULL,
            mac2 text NOT NULL,
            tac text,
            status text NOT NULL CHECK (status IN ('approved', 'completed', 'reversed')),
            approved_at bigint NOT NULL,
            resolved_at bigint,
            resolution text,
            version bigint NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX purse_loads_counter ON purse_loads (card_id, online_counter) WHERE status <> 'reversed'",
        "CREATE INDEX purse_loads_card ON purse_loads (card_id, approved_at)",
        "CREATE INDEX purse_loads_status ON purse_loads (status, approved_at)",
    ]

    /// The double-entry ledger (docs/ledger.md), as `SQLiteSchema.ledger`; the journal order comes
    /// from a sequence taken after the accounts are locked.
    static let ledger: [String] = [
        """
        CREATE TABLE ledger_accounts (
            id text PRIMARY KEY,
            category text NOT NULL,
            balance_fen bigint NOT NULL
        )
        """,
        "CREATE SEQUENCE ledger_sequence",
        """
        CREATE TABLE ledger_transfers (
            id text PRIMARY KEY,
            sequence bigint NOT NULL,
            kind text NOT NULL,
            at bigint NOT NULL,
            memo text NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX ledger_transfers_sequence ON ledger_transfers (sequence)",
        """
        CREATE TABLE ledger_postings (
            transfer_id text NOT NULL REFERENCES ledger_transfers (id),
            account_id text NOT NULL,
            sequence bigint NOT NULL,
            amount_fen bigint NOT NULL,
            balance_after_fen bigint NOT NULL,
            PRIMARY KEY (transfer_id, account_id)
        )
        """,
        "CREATE INDEX ledger_postings_account ON ledger_postings (account_id, sequence)",
    ]

    /// One row per registered ID number (its blind index), written in the same transaction as the
    /// person. On one server `persons_id_index` already keeps an ID number to one person; this
    /// table keeps that rule when `persons` is distributed by `id` (docs/scaling.md), where a
    /// unique index on `id_index` cannot exist. No foreign key: the two are distributed apart.
    static let personIDClaims: [String] = [
        """
        CREATE TABLE person_id_claims (
            id_index bytea PRIMARY KEY,
            person_id text NOT NULL
        )
        """,
        "CREATE INDEX person_id_claims_person ON person_id_claims (person_id)",
        "INSERT INTO person_id_claims (id_index, person_id) SELECT id_index, id FROM persons",
    ]

    /// Appends a commit's audit entries to a lane in one round trip: locks the lane's head,
    /// chains each entry exactly as `AuditChain.hash` does (SHA-256 over the previous hash and the
    /// length-prefixed fields, integers as 8 big-endian bytes), and moves the head. The verifier in
    /// Swift checks every entry written here, so the two definitions cannot drift unnoticed.
    static let auditAppend: [String] = [
        """
        CREATE FUNCTION audit_field(value text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
            SELECT int8send(octet_length(convert_to(value, 'UTF8'))::bigint) || convert_to(value, 'UTF8')
        $$
        """,
        """
        CREATE FUNCTION audit_append(
            p_lane bigint, p_at bigint[], p_actor text[], p_action text[], p_subject text[], p_person text[],
            p_purpose text[], p_detail text[]
        ) RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE
            v_sequence bigint;
            v_previous bytea;
            v_hash bytea;
        BEGIN
            SELECT sequence, hash INTO v_sequence, v_previous FROM audit_heads WHERE lane = p_lane FOR UPDATE;
            FOR i IN 1 .. coalesce(array_length(p_at, 1), 0) LOOP
                v_sequence := v_sequence + 1;
                v_hash := sha256(
                    v_previous || int8send(v_sequence) || int8send(p_at[i]) || audit_field(p_actor[i])
                    || audit_field(p_action[i]) || audit_field(p_subject[i]) || audit_field(p_person[i])
                    || audit_field(p_purpose[i]) || audit_field(p_detail[i]));
                INSERT INTO audit_log (lane, sequence, at, actor, action, subject, person_id, purpose, detail,
                    previous_hash, hash)
                VALUES (p_lane, v_sequence, p_at[i], p_actor[i], p_action[i], p_subject[i], NULLIF(p_person[i], ''),
                    p_purpose[i], p_detail[i], v_previous, v_hash);
                v_previous := v_hash;
            END LOOP;
            UPDATE audit_heads SET sequence = v_sequence, hash = v_previous WHERE lane = p_lane;
            RETURN v_sequence;
        END
        $$
        """,
    ]

    /// Independent audit chains: commits about different people lock different heads.
    static let auditLaneCount = 16

    /// The audit log becomes lanes of chains (see `AuditEntry`); existing entries are lane 0, their
    /// hashes unchanged (the lane is not part of the hashed content).
    static let auditLanes: [String] = [
        "ALTER TABLE audit_log ADD COLUMN lane bigint NOT NULL DEFAULT 0",
        "ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey",
        "ALTER TABLE audit_log ADD PRIMARY KEY (lane, sequence, at)",
        "DROP INDEX audit_log_person",
        "DROP INDEX audit_log_subject",
        "DROP INDEX audit_log_actor",
        "CREATE INDEX audit_log_person ON audit_log (person_id, at) WHERE person_id IS NOT NULL",
        "CREATE INDEX audit_log_subject ON audit_log (subject, at)",
        "CREATE INDEX audit_log_actor ON audit_log (actor, at)",
        "CREATE INDEX audit_log_time ON audit_log (at, lane, sequence)",
        """
        CREATE TABLE audit_heads (
            lane bigint PRIMARY KEY,
            sequence bigint NOT NULL,
            hash bytea NOT NULL
        )
        """,
        "INSERT INTO audit_heads (lane, sequence, hash) SELECT 0, sequence, hash FROM audit_head",
        """
        INSERT INTO audit_heads (lane, sequence, hash)
        SELECT lane, 0, decode(repeat('00', 32), 'hex') FROM generate_series(1, \(auditLaneCount - 1)) AS lane
        """,
        "DROP TABLE audit_head",
    ]

    static let core: [String] = [
        """
        CREATE TABLE persons (
            id text PRIMARY KEY,
            id_index bytea NOT NULL,
            fingerprint bytea NOT NULL,
            details bytea NOT NULL,
            household text NOT NULL CHECK (household IN ('local', 'nonlocal')),
            social_insurance boolean NOT NULL,
            rural_medical boolean NOT NULL,
            life_status text NOT NULL CHECK (life_status IN ('alive', 'deceased')),
            version bigint NOT NULL CHECK (version >= 1),
            changed_at bigint NOT NULL,
            changed_by text NOT NULL,
            change_reason text NOT NULL,
            change_source text NOT NULL,
            created_at bigint NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX persons_id_index ON persons (id_index)",
        """
        CREATE TABLE person_versions (
            person_id text NOT NULL REFERENCES persons (id),
            version bigint NOT NULL,
            id_index bytea NOT NULL,
            fingerprint bytea NOT NULL,
            details bytea NOT NULL,
            household text NOT NULL,
            social_insurance boolean NOT NULL,
            rural_medical boolean NOT NULL,
            life_status text NOT NULL,
            changed_at bigint NOT NULL,
            changed_by text NOT NULL,
            change_reason text NOT NULL,
            change_source text NOT NULL,
            created_at bigint NOT NULL,
            PRIMARY KEY (person_id, version)
        )
        """,
        """
        CREATE TABLE photos (
            id text PRIMARY KEY,
            person_id text NOT NULL REFERENCES persons (id),
            media_type text NOT NULL,
            content bytea NOT NULL,
            created_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE outlets (
            id text PRIMARY KEY,
            code text NOT NULL UNIQUE,
            name text NOT NULL,
            name_zh text NOT NULL,
            region_code text NOT NULL,
            address text NOT NULL
        )
        """,
        """
        CREATE TABLE operators (
            id text PRIMARY KEY,
            username text NOT NULL UNIQUE,
            display_name text NOT NULL,
            role text NOT NULL CHECK (role IN ('operator', 'supervisor', 'admin')),
            outlet_id text REFERENCES outlets (id),
            password_hash text NOT NULL,
            active boolean NOT NULL,
            CHECK ((role = 'admin') = (outlet_id IS NULL))
        )
        """,
        """
        CREATE TABLE sessions (
            token_hash bytea PRIMARY KEY,
            operator_id text NOT NULL REFERENCES operators (id),
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL
        )
        """,
        """
        CREATE TABLE production_batches (
            id text PRIMARY KEY,
            number text NOT NULL UNIQUE,
            state text NOT NULL CHECK (state IN ('exported', 'produced', 'delivered')),
            card_count bigint NOT NULL,
            created_at bigint NOT NULL,
            created_by text NOT NULL,
            produced_at bigint,
            delivered_at bigint,
            version bigint NOT NULL
        )
        """,
        """
        CREATE TABLE cards (
            id text PRIMARY KEY,
            person_id text NOT NULL REFERENCES persons (id),
            kind text NOT NULL,
            state text NOT NULL,
            slot text CHECK (slot IN ('pipeline', 'held')),
            number text NOT NULL,
            asn text NOT NULL,
            channel_kind text NOT NULL,
            employer_code text,
            employer_name text,
            outlet_id text NOT NULL REFERENCES outlets (id),
            predecessor_id text REFERENCES cards (id),
            successor_id text,
            batch_id text REFERENCES production_batches (id),
            applied_at bigint NOT NULL,
            approved_at bigint,
            issued_at bigint,
            expires_at bigint,
            loss_kind text,
            loss_channel text,
            loss_effective_at bigint,
            pre_loss_expires_at bigint,
            loss_written_at bigint,
            note text,
            replacement_reason text,
            cancel_reason text,
            cancel_applicant text,
            cancel_relationship text,
            cancel_document text,
            cancelled_at bigint,
            closed_at bigint,
            version bigint NOT NULL CHECK (version >= 1),
            updated_at bigint NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX cards_number ON cards (number)",
        "CREATE UNIQUE INDEX cards_asn ON cards (asn)",
        "CREATE UNIQUE INDEX cards_one_per_slot ON cards (person_id, slot) WHERE slot IS NOT NULL",
        "CREATE INDEX cards_person ON cards (person_id, applied_at)",
        "CREATE INDEX cards_state ON cards (state, outlet_id, id)",
        "CREATE INDEX cards_batch ON cards (batch_id) WHERE batch_id IS NOT NULL",
        "CREATE INDEX cards_pre_loss_due ON cards (pre_loss_expires_at) WHERE state = 'pre_lost'",
        "CREATE INDEX cards_expiry_due ON cards (expires_at) WHERE slot = 'held'",
        """
        CREATE TABLE card_events (
            card_id text NOT NULL REFERENCES cards (id),
            sequence bigint NOT NULL,
            action text NOT NULL,
            from_state text NOT NULL,
            to_state text NOT NULL,
            at bigint NOT NULL,
            actor text NOT NULL,
            outlet_id text,
            reason text,
            receipt_id text,
            PRIMARY KEY (card_id, sequence)
        )
        """,
        """
        CREATE TABLE receipts (
            id text PRIMARY KEY,
            number text NOT NULL UNIQUE,
            at bigint NOT NULL,
            outlet_id text NOT NULL REFERENCES outlets (id),
            operator_id text NOT NULL REFERENCES operators (id),
            person_id text NOT NULL REFERENCES persons (id),
            card_id text NOT NULL REFERENCES cards (id),
            item text NOT NULL,
            amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
            payment_method text NOT NULL
        )
        """,
        "CREATE INDEX receipts_outlet_time ON receipts (outlet_id, at)",
        """
        CREATE TABLE fee_entries (
            item text NOT NULL,
            effective_from bigint NOT NULL,
            amount_fen bigint NOT NULL CHECK (amount_fen >= 0),
            authority text NOT NULL,
            PRIMARY KEY (item, effective_from)
        )
        """,
        """
        CREATE TABLE eligibility_rules (
            id text PRIMARY KEY,
            code text NOT NULL,
            title text NOT NULL,
            title_zh text NOT NULL,
            criteria text NOT NULL,
            effective_from text NOT NULL,
            effective_until text
        )
        """,
        "CREATE UNIQUE INDEX eligibility_rules_code_from ON eligibility_rules (code, effective_from)",
        // High volume, append-only: partitioned by month of `at` (seconds since 1970, UTC).
        """
        CREATE TABLE audit_log (
            sequence bigint NOT NULL,
            at bigint NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            subject text NOT NULL,
            person_id text,
            purpose text NOT NULL,
            detail text NOT NULL,
            previous_hash bytea NOT NULL,
            hash bytea NOT NULL,
            PRIMARY KEY (sequence, at)
        ) PARTITION BY RANGE (at)
        """,
        "CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT",
        "CREATE INDEX audit_log_person ON audit_log (person_id, sequence) WHERE person_id IS NOT NULL",
        "CREATE INDEX audit_log_subject ON audit_log (subject, sequence)",
        "CREATE INDEX audit_log_actor ON audit_log (actor, sequence)",
        """
        CREATE TABLE audit_head (
            id integer PRIMARY KEY CHECK (id = 1),
            sequence bigint NOT NULL,
            hash bytea NOT NULL
        )
        """,
        "INSERT INTO audit_head (id, sequence, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'))",
        "CREATE TABLE sequences (name text PRIMARY KEY, value bigint NOT NULL)",
        "INSERT INTO sequences (name, value) VALUES ('card', 0), ('receipt', 0), ('batch', 0)",
        """
        CREATE TABLE idempotency_records (
            key text PRIMARY KEY,
            request_hash bytea NOT NULL,
            status bigint NOT NULL,
            response bytea NOT NULL,
            created_at bigint NOT NULL
        )
        """,
        "CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL)",
    ]

    /// Monthly partitions of the audit log from `month` on, `count` of them, named `audit_log_YYYYMM`.
    /// Existing ones are left alone; a month whose rows already sit in the default partition is
    /// skipped (those rows stay where they are, still found by every query).
    static func partitionStatements(
        from year: Int, month: Int, count: Int
    ) -> [(name: String, start: Int64, end: Int64)] {
        var result: [(String, Int64, Int64)] = []
        var y = year, m = month
        for _ in 0..<count {
            let (ny, nm) = m == 12 ? (y + 1, 1) : (y, m + 1)
            let start = daysSinceEpoch(year: y, month: m) * 86_400
            let end = daysSinceEpoch(year: ny, month: nm) * 86_400
            result.append(("audit_log_\(y)\(m < 10 ? "0" : "")\(m)", start, end))
            (y, m) = (ny, nm)
        }
        return result
    }

    static func daysSinceEpoch(year: Int, month: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mm = Int64(month)
        let doy = (153 * (mm > 2 ? mm - 3 : mm + 9) + 2) / 5
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

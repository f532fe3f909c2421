import Storage
import StorageSQL
extension PostgresSchema {
    /// As `SQLiteSchema.portal`.
    static let portal: [String] = [
        """
        CREATE TABLE query_credentials (
            card_id text PRIMARY KEY REFERENCES cards (id),
            password_hash text NOT NULL,
            failed_attempts bigint NOT NULL CHECK (failed_attempts >= 0),
            locked_until bigint,
            changed_at bigint NOT NULL,
            changed_by text NOT NULL,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        """
        CREATE TABLE portal_sessions (
            token_hash bytea PRIMARY KEY,
            card_id text NOT NULL REFERENCES cards (id),
            person_id text NOT NULL REFERENCES persons (id),
            created_at bigint NOT NULL,
            expires_at bigint NOT NULL
        )
        """,
        "CREATE INDEX portal_sessions_card ON portal_sessions (card_id, expires_at)",
        """
        CREATE TABLE catalogue_entries (
            code text PRIMARY KEY,
            name text NOT NULL,
            name_zh text NOT NULL,
            description text NOT NULL,
            description_zh text NOT NULL,
            effective_from text NOT NULL,
            published_at bigint NOT NULL,
            published_by text NOT NULL,
            withdrawn_at bigint,
            withdrawn_by text,
            version bigint NOT NULL CHECK (version >= 1)
        )
        """,
        """
        CREATE TABLE service_activations (
            id text PRIMARY KEY,
            card_id text NOT NULL REFERENCES cards (id),
            person_id text NOT NULL REFERENCES persons (id),
            service_code text NOT NULL REFERENCES catalogue_entries (code),
            activated_at bigint NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX service_activations_card_service ON service_activations (card_id, service_code)",
    ]
}

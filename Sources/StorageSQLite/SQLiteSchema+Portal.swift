import Storage
import StorageSQL
extension SQLiteSchema {
    /// The citizen portal (docs/portal.md): a card's query password (bcrypt hash and lockout
    /// state), holders' sessions (only the SHA-256 of the token), the service catalogue and the
    /// activations of its services (one per card and service).
    static let portal: [String] = [
        """
        CREATE TABLE query_credentials (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
            password_hash TEXT NOT NULL,
            failed_attempts INTEGER NOT NULL CHECK (failed_attempts >= 0),
            locked_until INTEGER,
            changed_at INTEGER NOT NULL,
            changed_by TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE portal_sessions (
            token_hash BLOB PRIMARY KEY NOT NULL,
            card_id TEXT NOT NULL REFERENCES cards(id),
            person_id TEXT NOT NULL REFERENCES persons(id),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX portal_sessions_card ON portal_sessions(card_id, expires_at)",
        """
        CREATE TABLE catalogue_entries (
            code TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            name_zh TEXT NOT NULL,
            description TEXT NOT NULL,
            description_zh TEXT NOT NULL,
            effective_from TEXT NOT NULL,
            published_at INTEGER NOT NULL,
            published_by TEXT NOT NULL,
            withdrawn_at INTEGER,
            withdrawn_by TEXT,
            version INTEGER NOT NULL CHECK (version >= 1)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE service_activations (
            id TEXT PRIMARY KEY NOT NULL,
            card_id TEXT NOT NULL REFERENCES cards(id),
            person_id TEXT NOT NULL REFERENCES persons(id),
            service_code TEXT NOT NULL REFERENCES catalogue_entries(code),
            activated_at INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX service_activations_card_service ON service_activations(card_id, service_code)",
    ]
}

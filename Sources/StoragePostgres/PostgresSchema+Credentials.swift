extension PostgresSchema {
    /// The electronic card (as `SQLiteSchema.credentials`).
    static let credentials: [String] = [
        """
        CREATE TABLE card_status_indexes (
            card_id text PRIMARY KEY REFERENCES cards (id),
            idx bigint NOT NULL UNIQUE CHECK (idx >= 0)
        )
        """,
        """
        CREATE TABLE status_list_publications (
            version bigint PRIMARY KEY CHECK (version > 0),
            published_at bigint NOT NULL,
            entries bigint NOT NULL CHECK (entries >= 0),
            token bytea NOT NULL
        )
        """,
        """
        CREATE TABLE credential_uses (
            code_id bytea PRIMARY KEY,
            card_id text NOT NULL REFERENCES cards (id),
            used_at bigint NOT NULL,
            expires_at bigint NOT NULL,
            verifier text NOT NULL
        )
        """,
        "CREATE INDEX credential_uses_expiry ON credential_uses (expires_at)",
    ]
}

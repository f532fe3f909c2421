extension SQLiteSchema {
    /// The electronic card (issue 19, docs/electronic-card.md): each issued card's place in the
    /// status list (given once, never reused), the published status lists with their signed
    /// tokens, and the codes verifiers marked used (kept until the code expires).
    static let credentials: [String] = [
        """
        CREATE TABLE card_status_indexes (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES cards(id),
            idx INTEGER NOT NULL UNIQUE CHECK (idx >= 0)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE status_list_publications (
            version INTEGER PRIMARY KEY NOT NULL CHECK (version > 0),
            published_at INTEGER NOT NULL,
            entries INTEGER NOT NULL CHECK (entries >= 0),
            token BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE credential_uses (
            code_id BLOB PRIMARY KEY NOT NULL,
            card_id TEXT NOT NULL REFERENCES cards(id),
            used_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            verifier TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX credential_uses_expiry ON credential_uses (expires_at)",
    ]
}

extension SQLiteSchema {
    /// The departments' old cards (R-20, issue 21; docs/legacy-cards.md): one row per old card,
    /// unique by kind and number, with the blind index of its holder's ID number and, once folded,
    /// the citizen card and the load that took its balance.
    static let legacyCards: [String] = [
        """
        CREATE TABLE legacy_cards (
            id TEXT PRIMARY KEY NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('transit', 'social_security')),
            number TEXT NOT NULL,
            holder_index BLOB,
            balance_fen INTEGER NOT NULL CHECK (balance_fen >= 0),
            status TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'lost')),
            imported_at INTEGER NOT NULL,
            source TEXT NOT NULL,
            folded_at INTEGER,
            folded_card_id TEXT,
            folded_load_id TEXT,
            version INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX legacy_cards_number ON legacy_cards (kind, number)",
        "CREATE INDEX legacy_cards_holder ON legacy_cards (holder_index) WHERE holder_index IS NOT NULL",
        "CREATE UNIQUE INDEX legacy_cards_load ON legacy_cards (folded_load_id) WHERE folded_load_id IS NOT NULL",
    ]
}

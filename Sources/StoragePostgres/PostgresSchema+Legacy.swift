extension PostgresSchema {
    /// The departments' old cards (as `SQLiteSchema.legacyCards`).
    static let legacyCards: [String] = [
        """
        CREATE TABLE legacy_cards (
            id text PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('transit', 'social_security')),
            number text NOT NULL,
            holder_index bytea,
            balance_fen bigint NOT NULL CHECK (balance_fen >= 0),
            status text NOT NULL CHECK (status IN ('active', 'blocked', 'lost')),
            imported_at bigint NOT NULL,
            source text NOT NULL,
            folded_at bigint,
            folded_card_id text,
            folded_load_id text,
            version bigint NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX legacy_cards_number ON legacy_cards (kind, number)",
        "CREATE INDEX legacy_cards_holder ON legacy_cards (holder_index) WHERE holder_index IS NOT NULL",
        "CREATE UNIQUE INDEX legacy_cards_load ON legacy_cards (folded_load_id) WHERE folded_load_id IS NOT NULL",
    ]
}

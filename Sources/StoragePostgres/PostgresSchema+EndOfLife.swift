extension PostgresSchema {
    /// Money at the end of a card's life (as `SQLiteSchema.endOfLife`).
    static let endOfLife: [String] = [
        """
        CREATE TABLE refund_payees (
            card_id text PRIMARY KEY REFERENCES purse_closures (card_id),
            kind text NOT NULL CHECK (kind IN ('holder', 'relative', 'heir')),
            relationship text,
            name_masked text NOT NULL,
            id_number_masked text NOT NULL,
            document_masked text,
            channel text NOT NULL CHECK (channel IN ('cash', 'bank_transfer')),
            bank_name text,
            account_masked text,
            paid_at bigint NOT NULL,
            outlet_id text NOT NULL,
            actor text NOT NULL,
            sealed bytea NOT NULL
        )
        """,
        """
        CREATE TABLE suspense_decisions (
            id text PRIMARY KEY,
            source text NOT NULL CHECK (source IN ('missing_records', 'unclaimed_refund')),
            outcome text NOT NULL CHECK (outcome IN ('merchant', 'unclaimed_income')),
            amount_fen bigint NOT NULL CHECK (amount_fen > 0),
            merchant_id text,
            card_id text,
            decision_reference text NOT NULL,
            reason text NOT NULL,
            decided_at bigint NOT NULL,
            actor text NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX suspense_decisions_card ON suspense_decisions (card_id) WHERE card_id IS NOT NULL",
        "CREATE INDEX suspense_decisions_time ON suspense_decisions (decided_at)",
        "CREATE INDEX purse_closures_due ON purse_closures (closed_at) WHERE kind = 'refund' AND status = 'due'",
    ]

    /// The purse-closure sweep's page index (as `SQLiteSchema.cardsLeftService`), in the byte order
    /// the page query sorts and compares by.
    static let cardsLeftService: [String] = [
        """
        CREATE INDEX cards_left_service ON cards (id COLLATE "C")
        WHERE state IN ('replaced', 'cancelled', 'expired')
        """
    ]
}

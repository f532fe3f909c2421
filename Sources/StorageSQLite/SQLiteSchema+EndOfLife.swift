extension SQLiteSchema {
    /// Money at the end of a card's life (issue 21, docs/e-purse.md): who was paid a closed
    /// purse's refund (masked columns for the views, the full details sealed), and the center's
    /// decisions about suspense money.
    static let endOfLife: [String] = [
        """
        CREATE TABLE refund_payees (
            card_id TEXT PRIMARY KEY NOT NULL REFERENCES purse_closures(card_id),
            kind TEXT NOT NULL CHECK (kind IN ('holder', 'relative', 'heir')),
            relationship TEXT,
            name_masked TEXT NOT NULL,
            id_number_masked TEXT NOT NULL,
            document_masked TEXT,
            channel TEXT NOT NULL CHECK (channel IN ('cash', 'bank_transfer')),
            bank_name TEXT,
            account_masked TEXT,
            paid_at INTEGER NOT NULL,
            outlet_id TEXT NOT NULL,
            actor TEXT NOT NULL,
            sealed BLOB NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE suspense_decisions (
            id TEXT PRIMARY KEY NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('missing_records', 'unclaimed_refund')),
            outcome TEXT NOT NULL CHECK (outcome IN ('merchant', 'unclaimed_income')),
            amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
            merchant_id TEXT,
            card_id TEXT,
            decision_reference TEXT NOT NULL,
            reason TEXT NOT NULL,
            decided_at INTEGER NOT NULL,
            actor TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE UNIQUE INDEX suspense_decisions_card ON suspense_decisions (card_id) WHERE card_id IS NOT NULL",
        "CREATE INDEX suspense_decisions_time ON suspense_decisions (decided_at)",
        "CREATE INDEX purse_closures_due ON purse_closures (closed_at) WHERE kind = 'refund' AND status = 'due'",
    ]

    /// The purse-closure sweep's page query (`cardsAwaitingPurseClosure`) walks the cards that
    /// left service in id order: without this index it read every card of those states and sorted
    /// them for each page. The WHERE is the query's, term for term (`Rows.closedPurseStates`).
    static let cardsLeftService: [String] = [
        "CREATE INDEX cards_left_service ON cards(id) WHERE state IN ('replaced', 'cancelled', 'expired')"
    ]
}

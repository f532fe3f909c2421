public import CitizenCardDomain
public import Foundation
public import Storage

// The departments' old cards (`LegacyStore`), written once for both backends.

extension Rows {
    package static let legacyCardColumns =
        "id, kind, number, holder_index, balance_fen, status, imported_at, source, folded_at, folded_card_id, folded_load_id, version"

    package static func legacyCard(_ row: some RowReader) throws -> LegacyCard {
        var card = LegacyCard(
            id: try row.id("id"), kind: try row.value("kind", table: "legacy_cards"), number: try row.string("number"),
            holderIndex: try row.optionalData("holder_index"), balanceFen: try row.int("balance_fen"),
            status: try row.value("status", table: "legacy_cards"), importedAt: try row.time("imported_at"),
            source: try row.string("source"))
        card.foldedAt = try row.optionalTime("folded_at")
        card.foldedCardID = try row.optionalID("folded_card_id")
        card.foldedLoadID = try row.optionalID("folded_load_id")
        card.version = try row.int("version")
        return card
    }
}

extension Writes {
    /// The departments' old cards.
    package static func legacy(_ change: ChangeSet.Change.Legacy, dialect: SQLDialect) throws(StorageError) -> WritePlan
    {
        switch change {
        case .insertLegacyCards(let cards): .bulk(.insertLegacyCards(cards))
        case .updateLegacyCard(let c, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE legacy_cards SET folded_at = \(c.foldedAt?.secondsSinceEpoch),
                        folded_card_id = \(c.foldedCardID?.rawValue), folded_load_id = \(c.foldedLoadID?.rawValue),
                        version = \(c.version)
                    WHERE id = \(c.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "legacy card"))
            ])
        }
    }
}

extension SQLStore {
    public func legacyCards(kind: LegacyCardKind, numbers: [String]) async throws(StorageError) -> [LegacyCard] {
        guard !numbers.isEmpty else { return [] }
        var found: [LegacyCard] = []
        // In slices, so that a statement's parameters stay within every backend's limit.
        for start in stride(from: 0, to: numbers.count, by: 500) {
            let list = SQL.list(numbers[start..<min(start + 500, numbers.count)].map { .text($0) })
            found += try await fetch(
                """
                SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards
                WHERE kind = \(kind.rawValue) AND number IN (\(list))
                """
            ) { try Rows.legacyCard($0) }
        }
        return found
    }

    public func legacyCards(holderIndex: Data) async throws(StorageError) -> [LegacyCard] {
        try await fetch(
            """
            SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards WHERE holder_index = \(holderIndex)
            ORDER BY kind, number
            """
        ) { try Rows.legacyCard($0) }
    }

    public func legacyCard(id: LegacyCard.ID) async throws(StorageError) -> LegacyCard? {
        try await fetch("SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards WHERE id = \(id.rawValue)") {
            try Rows.legacyCard($0)
        }.first
    }

    public func legacyCard(foldedLoadID: PurseLoad.ID) async throws(StorageError) -> LegacyCard? {
        try await fetch(
            "SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards WHERE folded_load_id = \(foldedLoadID.rawValue)"
        ) { try Rows.legacyCard($0) }.first
    }

    public func legacySummary() async throws(StorageError) -> [LegacySummaryLine] {
        try await fetch(
            """
            SELECT kind, (CASE WHEN folded_load_id IS NULL THEN 0 ELSE 1 END)\(SQL.int64) AS folded,
                (CASE WHEN holder_index IS NULL THEN 0 ELSE 1 END)\(SQL.int64) AS known,
                count(*) AS n, sum(balance_fen)\(SQL.int64) AS fen
            FROM legacy_cards GROUP BY kind, folded, known ORDER BY kind, folded, known
            """
        ) { row in
            LegacySummaryLine(
                kind: try row.value("kind", table: "legacy_cards"), folded: try row.int("folded") != 0,
                holderKnown: try row.int("known") != 0, count: try row.int("n"), balanceFen: try row.int("fen"))
        }
    }

    public func legacyStopList(
        all: Bool, after: (LegacyCardKind, String)?, limit: Int
    ) async throws(StorageError) -> [LegacyCard] {
        let which: SQL = all ? "TRUE" : "folded_load_id IS NOT NULL"
        let key: SQL =
            after.map { "AND (kind > \($0.0.rawValue) OR (kind = \($0.0.rawValue) AND number > \($0.1)))" } ?? ""
        return try await fetch(
            """
            SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards WHERE \(which) \(key)
            ORDER BY kind\(SQL.byteOrder), number\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.legacyCard($0) }
    }

    public func unclaimedLegacyCards(
        kind: LegacyCardKind?, after: LegacyCard.ID?, limit: Int
    ) async throws(StorageError) -> [LegacyCard] {
        let kindClause: SQL = kind.map { "AND kind = \($0.rawValue)" } ?? ""
        return try await fetch(
            """
            SELECT \(raw: Rows.legacyCardColumns) FROM legacy_cards
            WHERE folded_load_id IS NULL AND balance_fen > 0 \(kindClause) AND id\(SQL.byteOrder) > \(after?.rawValue ?? "")
            ORDER BY id\(SQL.byteOrder) LIMIT \(capped(max(limit, 1)))
            """
        ) { try Rows.legacyCard($0) }
    }
}

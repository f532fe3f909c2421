import PostgresNIO

/// The two statements of nearly every lifecycle operation, prepared once per connection: the
/// server parses and plans them once instead of at every call (docs/performance.md).
enum PostgresPrepared {
    /// A card with the blind index of its holder's ID number, for the identity check.
    struct CardWithHolder: PostgresPreparedStatement {
        static let name = "citizencard_card_with_holder"
        static let sql = """
            SELECT \(Rows.cardColumns), (SELECT id_index FROM persons WHERE persons.id = cards.person_id) AS holder_index
            FROM cards WHERE id = $1
            """
        var id: String

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 1)
            binds.append(id)
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }

    /// `PostgresCardRow.update(_:expectedVersion:event:audit:)` with the audit: a whole transition
    /// in one statement.
    struct CardTransition: PostgresPreparedStatement {
        static let name = "citizencard_card_transition"
        static let sql = PostgresCardRow.transitionSQL(audit: true)
        var binds: PostgresBindings

        func makeBindings() throws -> PostgresBindings { binds }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }
}

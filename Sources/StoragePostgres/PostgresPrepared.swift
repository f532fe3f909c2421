import Storage
import StorageSQL
import CitizenCardDomain
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

    /// `purseStates(asns:)`: the cards with these ASNs, their chains and purse balances.
    struct PurseStates: PostgresPreparedStatement {
        static let name = "citizencard_purse_states"
        /// Driven by the ASNs (distinct), one index probe each: no de-duplicating step.
        static let sql = """
            SELECT \(Rows.purseStateColumns) FROM unnest($1::text[]) AS k (asn) JOIN cards c ON c.asn = k.asn
            \(Rows.purseStateJoins)
            """
        var asns: [String]

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 1)
            binds.appendColumn(asns)
            return binds
        }

        /// By position, in the order of `Rows.purseStateSelect` (a batch reads hundreds of rows).
        func decodeRow(_ row: PostgresRow) throws -> PurseState {
            var cells = RowCursor(row)
            let id = try cells.string(), asn = try cells.string(), lossAt = try cells.optionalInt()
            let chainCard = try cells.optionalString(), next = try cells.optionalInt()
            let balance = try cells.optionalInt(), nextOnline = try cells.optionalInt()
            let tappedAt = try cells.optionalInt(), terminal = try cells.optionalString()
            let latitude = try cells.optionalInt(), longitude = try cells.optionalInt()
            let version = try cells.optionalInt(), purse = try cells.int()
            var chain: PurseChain? = nil
            if let chainCard, let next, let balance, let nextOnline, let version {
                chain = PurseChain(
                    cardID: Card.ID(rawValue: chainCard), nextCounter: next, balanceFen: balance,
                    nextOnlineCounter: nextOnline, lastTappedAt: tappedAt.map(Timestamp.init(secondsSinceEpoch:)),
                    lastTerminalID: terminal.map(Terminal.ID.init(rawValue:)), lastLatitudeE6: latitude,
                    lastLongitudeE6: longitude, version: version)
            }
            return PurseState(
                card: PurseCard(
                    id: Card.ID(rawValue: id), asn: asn, lossEffectiveAt: lossAt.map(Timestamp.init(secondsSinceEpoch:))
                ),
                chain: chain, signedBalanceFen: purse)
        }
    }

    /// The ingest's read of stored records that does not depend on the cards' chains, by `part`:
    /// 0 the cards' releasable records (parked `gap`, `balance_mismatch`), 1 parked records under
    /// an (ASN, counter) key, 2 counted records in a run of one PSAM's serials (to be filtered to
    /// the keys), 3 parked records under a (PSAM, TSN) key. Each branch names its outcome so that
    /// the partial indexes serve it.
    struct Intake: PostgresPreparedStatement {
        static let name = "citizencard_purchase_intake"
        static let sql = """
            SELECT p.*, 0::bigint AS part FROM offline_purchases p
            WHERE p.outcome = 'parked' AND p.asn IN (SELECT unnest($1::text[])) AND p.card_id IS NOT NULL
                AND p.reason IN ('gap', 'balance_mismatch')
            UNION ALL
            SELECT p.*, 1 FROM offline_purchases p
            JOIN unnest($2::text[], $3::bigint[]) AS k (asn, card_counter)
                ON p.asn = k.asn AND p.card_counter = k.card_counter AND p.outcome = 'parked'
            UNION ALL
            SELECT p.*, 2 FROM offline_purchases p
            JOIN unnest($4::text[], $5::bigint[], $6::bigint[]) AS k (psam_serial, low, high)
                ON p.psam_serial = k.psam_serial AND p.terminal_serial BETWEEN k.low AND k.high
                AND p.outcome <> 'parked'
            UNION ALL
            SELECT p.*, 3 FROM offline_purchases p
            JOIN unnest($7::text[], $8::bigint[]) AS k (psam_serial, terminal_serial)
                ON p.psam_serial = k.psam_serial AND p.terminal_serial = k.terminal_serial AND p.outcome = 'parked'
            """
        var asns: [String]
        var keys: [PurchaseKey]

        func makeBindings() throws -> PostgresBindings {
            var binds = PostgresBindings(capacity: 8)
            let runs = PurchaseKey.serialRuns(keys)
            binds.appendColumn(asns)
            binds.appendColumn(keys.map(\.asn))
            binds.appendColumn(keys.map(\.cardCounter))
            binds.appendColumn(runs.map(\.psam))
            binds.appendColumn(runs.map(\.low))
            binds.appendColumn(runs.map(\.high))
            binds.appendColumn(keys.map(\.psamSerial))
            binds.appendColumn(keys.map(\.terminalSerial))
            return binds
        }

        func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
    }
}

import Storage
import StorageSQL
import CitizenCardDomain
import PostgresNIO

/// The `cards` statements for PostgreSQL, with numbered parameters.
enum PostgresCardRow {
    /// The values of the columns that change with a transition, in `updateColumns` order.
    static func appendMutable(_ card: Card, to binds: inout PostgresBindings) {
        binds.append(card.state.rawValue)
        binds.append(Rows.slot(card.state))
        binds.append(card.successorID?.rawValue)
        binds.append(card.batchID?.rawValue)
        binds.append(card.approvedAt?.secondsSinceEpoch)
        binds.append(card.issuedAt?.secondsSinceEpoch)
        binds.append(card.expiresAt?.secondsSinceEpoch)
        binds.append(card.loss?.kind.rawValue)
        binds.append(card.loss?.channel.rawValue)
        binds.append(card.loss?.effectiveAt.secondsSinceEpoch)
        binds.append(card.loss?.preLossExpiresAt?.secondsSinceEpoch)
        binds.append(card.loss?.writtenAt?.secondsSinceEpoch)
        binds.append(card.note)
        binds.append(card.replacementReason?.rawValue)
        binds.append(card.cancellation?.reason.rawValue)
        binds.append(card.cancellation?.applicant.rawValue)
        binds.append(card.cancellation?.relationship?.rawValue)
        binds.append(card.cancellation?.documentReference)
        binds.append(card.cancellation?.at.secondsSinceEpoch)
        binds.append(card.closedAt?.secondsSinceEpoch)
        binds.append(card.version)
        binds.append(card.updatedAt.secondsSinceEpoch)
    }

    static let updateColumns = [
        "state", "slot", "successor_id", "batch_id", "approved_at", "issued_at", "expires_at", "loss_kind",
        "loss_channel", "loss_effective_at", "pre_loss_expires_at", "loss_written_at", "note", "replacement_reason",
        "cancel_reason", "cancel_applicant", "cancel_relationship", "cancel_document", "cancelled_at", "closed_at",
        "version", "updated_at",
    ]

    static func insert(_ card: Card) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 33)
        binds.append(card.id.rawValue)
        binds.append(card.personID.rawValue)
        binds.append(card.kind.rawValue)
        binds.append(card.number)
        binds.append(card.asn)
        binds.append(card.channel.kind.rawValue)
        binds.append(card.channel.employerCode)
        binds.append(card.channel.employerName)
        binds.append(card.outletID.rawValue)
        binds.append(card.predecessorID?.rawValue)
        binds.append(card.appliedAt.secondsSinceEpoch)
        appendMutable(card, to: &binds)
        let columns =
            [
                "id", "person_id", "kind", "number", "asn", "channel_kind", "employer_code", "employer_name",
                "outlet_id",
                "predecessor_id", "applied_at",
            ] + updateColumns
        let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
        return PostgresQuery(
            unsafeSQL: "INSERT INTO cards (\(columns.joined(separator: ", "))) VALUES (\(placeholders))", binds: binds)
    }

    /// The guarded update and the card's event in one statement: the event is written only if
    /// the update found the expected version, and the statement returns one row exactly then.
    static func update(_ card: Card, expectedVersion: Int64, event: CardEvent) -> PostgresQuery {
        PostgresQuery(unsafeSQL: transitionSQL(audit: false), binds: transitionBinds(card, expectedVersion, event))
    }

    /// The same with the chained audit entries (`audit_append` on the lane), written only if the
    /// event was: a whole commit in one statement, atomic by itself.
    static func update(
        _ card: Card, expectedVersion: Int64, event: CardEvent, audit: [AuditDraft], lane: Int64
    ) -> PostgresPrepared.CardTransition {
        var binds = transitionBinds(card, expectedVersion, event)
        binds.append(lane)
        binds.append(audit.map(\.at.secondsSinceEpoch))
        binds.append(audit.map(\.actor))
        binds.append(audit.map(\.action))
        binds.append(audit.map(\.subject))
        binds.append(audit.map { $0.personID?.rawValue ?? "" })
        binds.append(audit.map(\.purpose))
        binds.append(audit.map(\.detail))
        return PostgresPrepared.CardTransition(binds: binds)
    }

    static func transitionBinds(_ card: Card, _ expectedVersion: Int64, _ event: CardEvent) -> PostgresBindings {
        var binds = PostgresBindings(capacity: 42)
        appendMutable(card, to: &binds)
        binds.append(card.id.rawValue)
        binds.append(expectedVersion)
        binds.append(event.sequence)
        binds.append(event.action.rawValue)
        binds.append(event.from.rawValue)
        binds.append(event.to.rawValue)
        binds.append(event.at.secondsSinceEpoch)
        binds.append(event.actor)
        binds.append(event.outletID?.rawValue)
        binds.append(event.reason)
        binds.append(event.receiptID?.rawValue)
        return binds
    }

    static func transitionSQL(audit: Bool) -> String {
        let assignments = updateColumns.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        let n = updateColumns.count
        let written = """
            WITH updated AS (
                UPDATE cards SET \(assignments) WHERE id = $\(n + 1) AND version = $\(n + 2) RETURNING id
            ), written AS (
                INSERT INTO card_events (card_id, sequence, action, from_state, to_state, at, actor, outlet_id,
                    reason, receipt_id)
                SELECT id, $\(n + 3), $\(n + 4), $\(n + 5), $\(n + 6), $\(n + 7), $\(n + 8), $\(n + 9), $\(n + 10),
                    $\(n + 11)
                FROM updated
                RETURNING 1 AS one
            )

            """
        guard audit else { return written + "SELECT one FROM written" }
        let a = n + 11
        return written + """
            SELECT audit_append($\(a + 1), $\(a + 2), $\(a + 3), $\(a + 4), $\(a + 5), $\(a + 6), $\(a + 7),
                $\(a + 8))
            FROM written
            """
    }

    static func update(_ card: Card, expectedVersion: Int64) -> PostgresQuery {
        var binds = PostgresBindings(capacity: 24)
        appendMutable(card, to: &binds)
        binds.append(card.id.rawValue)
        binds.append(expectedVersion)
        let assignments = updateColumns.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        let count = updateColumns.count
        return PostgresQuery(
            unsafeSQL:
                "UPDATE cards SET \(assignments) WHERE id = $\(count + 1) AND version = $\(count + 2) RETURNING 1",
            binds: binds)
    }
}

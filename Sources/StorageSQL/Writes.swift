public import Storage
public import CitizenCardDomain
package import Foundation
public import Ledger

/// How one change of a commit is written (issue 17): the statements both backends run as they
/// are, written once here; or one of the few writes whose best form differs by backend, named by
/// `WritePlan` and applied by each backend's exhaustive switch. `plan` switches over every change
/// without a `default:`, so a new case that is not written here does not compile.
public enum WritePlan: Sendable {
    case steps([WriteStep])
    /// A ledger transfer: read the accounts' balances, decide with `LedgerRows.decide`, write the
    /// journal. PostgreSQL creates and locks the accounts in key order (`FOR UPDATE`) so that
    /// concurrent transfers on one purse queue, and writes the journal in one statement over
    /// arrays with a sequence; SQLite has one writer and numbers the journal itself.
    case transfer(Transfer, LedgerPolicy)
    /// The rows of a terminal's upload: one cached statement a row on SQLite, one statement over
    /// column arrays (`unnest`) on PostgreSQL — a round trip a row would cost the ingest its rate.
    case bulk(BulkWrite)
}

/// The writes of an upload that each backend does its own way (`WritePlan.bulk`).
public enum BulkWrite: Sendable {
    case insertPurchases([OfflinePurchase])
    /// Each must still be parked, else `conflict`.
    case releasePurchases([OfflinePurchase])
    /// Each chain's version one past the stored one (1 for a new chain), else `conflict`.
    case putPurseChains([PurseChain])
    case insertFraudSignals([FraudSignal])
    /// The version must be one past the stored one, else `conflict`; PostgreSQL locks the table
    /// so that two publishers queue.
    case publishHotlist(HotlistPublication)
    /// A feed file's chunk: person versions and message claims, a prepared loop on SQLite, two
    /// statements over column arrays on PostgreSQL.
    case applyFeedChunk(FeedChunk)
    /// Imported old cards: a cached statement a row on SQLite, one statement over column arrays on
    /// PostgreSQL (a million-row file goes in in batches of thousands).
    case insertLegacyCards([LegacyCard])
}

/// The statements of every change, written once for both dialects.
public enum Writes {
    public static func plan(_ change: ChangeSet.Change, dialect: SQLDialect) throws(StorageError) -> WritePlan {
        switch change {
        case .registry(let change): try registry(change, dialect: dialect)
        case .card(let change): try card(change, dialect: dialect)
        case .production(let change): try production(change, dialect: dialect)
        case .fees(let change): try fees(change, dialect: dialect)
        case .staff(let change): try staff(change, dialect: dialect)
        case .rules(let change): try rules(change, dialect: dialect)
        case .system(let change): try system(change, dialect: dialect)
        case .ledger(let change): try ledger(change, dialect: dialect)
        case .purse(let change): try purse(change, dialect: dialect)
        case .acquiring(let change): try acquiring(change, dialect: dialect)
        case .hotlist(let change): try hotlist(change, dialect: dialect)
        case .portal(let change): try portal(change, dialect: dialect)
        case .department(let change): try department(change, dialect: dialect)
        case .credentials(let change): try credentials(change, dialect: dialect)
        case .banks(let change): try banks(change, dialect: dialect)
        case .legacy(let change): try legacy(change, dialect: dialect)
        }
    }

    /// `IS NOT` on SQLite, `IS DISTINCT FROM` on PostgreSQL: equal or both NULL is false.
    package static let isDistinctFrom: SQL = "\(sqlite: "IS NOT", postgres: "IS DISTINCT FROM")"

    package static func credentialUpdate(_ c: QueryCredential, _ expected: Int64) -> WriteStep {
        precondition(c.version > expected)
        return WriteStep(
            """
            UPDATE query_credentials SET password_hash = \(c.passwordHash),
                failed_attempts = \(c.failedAttempts), locked_until = \(c.lockedUntil?.secondsSinceEpoch),
                changed_at = \(c.changedAt.secondsSinceEpoch), changed_by = \(c.changedBy),
                version = \(c.version)
            WHERE card_id = \(c.cardID.rawValue) AND version = \(expected)
            """, rows: .one(conflict: "query password"))
    }

    package static func catalogueUpdate(_ e: CatalogueEntry, _ expected: Int64) -> WriteStep {
        precondition(e.version > expected)
        return WriteStep(
            """
            UPDATE catalogue_entries SET name = \(e.name), name_zh = \(e.nameZh),
                description = \(e.description), description_zh = \(e.descriptionZh),
                effective_from = \(e.effectiveFrom.iso8601), published_at = \(e.publishedAt.secondsSinceEpoch),
                published_by = \(e.publishedBy), withdrawn_at = \(e.withdrawnAt?.secondsSinceEpoch),
                withdrawn_by = \(e.withdrawnBy), version = \(e.version)
            WHERE code = \(e.code) AND version = \(expected)
            """, rows: .one(conflict: "catalogue entry"))
    }

    package static func criteria(_ rule: EligibilityRule) throws(StorageError) -> String {
        do {
            return String(decoding: try JSONEncoder.sorted.encode(rule.criteria), as: UTF8.self)
        } catch {
            throw .corrupt(reason: "eligibility criteria not encodable")
        }
    }

    // MARK: Persons

    package static let personColumns = """
        id, id_index, fingerprint, details, household, social_insurance, rural_medical, life_status, version,
        changed_at, changed_by, change_reason, change_source, created_at
        """

    /// On PostgreSQL the person's ID number is claimed first (`person_id_claims`): the unique
    /// rule that one person holds one ID number lives there, where a distributed database can
    /// keep it (docs/scaling.md); SQLite's unique index on `persons` is the rule itself.
    package static func personInsert(_ person: SealedPerson, dialect: SQLDialect) -> [WriteStep] {
        var steps: [WriteStep] = []
        if dialect == .postgres {
            steps.append(
                WriteStep(
                    """
                    INSERT INTO person_id_claims (id_index, person_id) VALUES (\(person.idIndex), \(person.id.rawValue))
                    """))
        }
        steps.append(
            WriteStep(
                """
                INSERT INTO persons (\(raw: personColumns))
                VALUES (\(person.id.rawValue), \(person.idIndex), \(person.fingerprint), \(person.details),
                    \(person.attributes.household.rawValue), \(person.attributes.socialInsurance),
                    \(person.attributes.ruralMedical), \(person.attributes.lifeStatus.rawValue), \(person.version),
                    \(person.provenance.at.secondsSinceEpoch), \(person.provenance.actor),
                    \(person.provenance.reason), \(person.provenance.source.rawValue),
                    \(person.createdAt.secondsSinceEpoch))
                """))
        return steps
    }

    /// The stored version goes into the history, then the row is replaced; on PostgreSQL the
    /// claim follows a changed ID number, and another person's claim refuses it.
    package static func personUpdate(_ person: SealedPerson, _ expected: Int64, dialect: SQLDialect) -> [WriteStep] {
        precondition(person.version > expected)
        var steps = [
            WriteStep(
                """
                INSERT INTO person_versions (person_id, version, id_index, fingerprint, details, household,
                    social_insurance, rural_medical, life_status, changed_at, changed_by, change_reason,
                    change_source, created_at)
                SELECT id, version, id_index, fingerprint, details, household, social_insurance, rural_medical,
                    life_status, changed_at, changed_by, change_reason, change_source, created_at
                FROM persons WHERE id = \(person.id.rawValue) AND version = \(expected)
                """, rows: .one(conflict: "person")),
            WriteStep(
                """
                UPDATE persons SET id_index = \(person.idIndex), fingerprint = \(person.fingerprint),
                    details = \(person.details), household = \(person.attributes.household.rawValue),
                    social_insurance = \(person.attributes.socialInsurance),
                    rural_medical = \(person.attributes.ruralMedical),
                    life_status = \(person.attributes.lifeStatus.rawValue), version = \(person.version),
                    changed_at = \(person.provenance.at.secondsSinceEpoch), changed_by = \(person.provenance.actor),
                    change_reason = \(person.provenance.reason), change_source = \(person.provenance.source.rawValue)
                WHERE id = \(person.id.rawValue) AND version = \(expected)
                """, rows: .one(conflict: "person")),
        ]
        if dialect == .postgres {
            steps += [
                WriteStep(
                    """
                    INSERT INTO person_id_claims (id_index, person_id) VALUES (\(person.idIndex), \(person.id.rawValue))
                    ON CONFLICT (id_index) DO UPDATE SET person_id = excluded.person_id
                        WHERE person_id_claims.person_id = excluded.person_id
                    """, rows: .oneOrDuplicate(.personIDNumber)),
                WriteStep(
                    """
                    DELETE FROM person_id_claims WHERE person_id = \(person.id.rawValue) AND id_index <> \(person.idIndex)
                    """),
            ]
        }
        return steps
    }

    // MARK: Cards

    /// The values of the columns a transition changes, in `Rows.cardUpdateColumns` order.
    public static func cardMutableValues(_ card: Card) -> [SQLValue] {
        let loss = card.loss, cancellation = card.cancellation
        return [
            card.state.rawValue.sqlValue, Rows.slot(card.state).sqlValue, (card.successorID?.rawValue).sqlValue,
            (card.batchID?.rawValue).sqlValue, (card.approvedAt?.secondsSinceEpoch).sqlValue,
            (card.issuedAt?.secondsSinceEpoch).sqlValue, (card.expiresAt?.secondsSinceEpoch).sqlValue,
            (loss?.kind.rawValue).sqlValue, (loss?.channel.rawValue).sqlValue,
            (loss?.effectiveAt.secondsSinceEpoch).sqlValue, (loss?.preLossExpiresAt?.secondsSinceEpoch).sqlValue,
            (loss?.writtenAt?.secondsSinceEpoch).sqlValue, card.note.sqlValue,
            (card.replacementReason?.rawValue).sqlValue, (cancellation?.reason.rawValue).sqlValue,
            (cancellation?.applicant.rawValue).sqlValue, (cancellation?.relationship?.rawValue).sqlValue,
            (cancellation?.documentReference).sqlValue, (cancellation?.at.secondsSinceEpoch).sqlValue,
            (card.closedAt?.secondsSinceEpoch).sqlValue, card.version.sqlValue,
            card.updatedAt.secondsSinceEpoch.sqlValue,
        ]
    }

    package static func cardInsert(_ card: Card) -> SQL {
        let fixed: [SQLValue] = [
            card.id.rawValue.sqlValue, card.personID.rawValue.sqlValue, card.kind.rawValue.sqlValue,
            card.number.sqlValue, card.asn.sqlValue, card.channel.kind.rawValue.sqlValue,
            card.channel.employerCode.sqlValue, card.channel.employerName.sqlValue, card.outletID.rawValue.sqlValue,
            card.predecessorID?.rawValue.sqlValue ?? .null(.text), card.appliedAt.secondsSinceEpoch.sqlValue,
        ]
        let columns = Rows.cardInsertColumns + Rows.cardUpdateColumns
        return """
            INSERT INTO cards (\(raw: columns.joined(separator: ", ")))
            VALUES (\(SQL.list(fixed + cardMutableValues(card))))
            """
    }

    package static func cardUpdate(_ card: Card, _ expected: Int64) -> SQL {
        precondition(card.version > expected)
        let assignments = zip(Rows.cardUpdateColumns, cardMutableValues(card)).map { column, value -> SQL in
            "\(raw: column) = \(value)"
        }
        return """
            UPDATE cards SET \(SQL.joined(assignments, separator: ", "))
            WHERE id = \(card.id.rawValue) AND version = \(expected)
            """
    }

    package static func cardEventInsert(_ event: CardEvent) -> SQL {
        """
        INSERT INTO card_events (card_id, sequence, action, from_state, to_state, at, actor, outlet_id, reason,
            receipt_id)
        VALUES (\(event.cardID.rawValue), \(event.sequence), \(event.action.rawValue), \(event.from.rawValue),
            \(event.to.rawValue), \(event.at.secondsSinceEpoch), \(event.actor), \(event.outletID?.rawValue),
            \(event.reason), \(event.receiptID?.rawValue))
        """
    }

    // MARK: Loads, clearing

    /// `Rows.purseLoadColumns` order.
    package static func purseLoadValues(_ load: PurseLoad) -> [SQLValue] {
        [
            load.id.rawValue.sqlValue, load.cardID.rawValue.sqlValue, load.outletID.rawValue.sqlValue,
            load.actor.sqlValue, load.amount.fen.sqlValue, load.funding.rawValue.sqlValue,
            load.onlineCounter.sqlValue, load.balanceBefore.fen.sqlValue, load.keyVersion.sqlValue,
            load.algorithmID.sqlValue, load.terminalID.sqlValue, load.transactionTime.sqlValue, load.mac2.sqlValue,
            load.tac.sqlValue, load.status.rawValue.sqlValue, load.approvedAt.secondsSinceEpoch.sqlValue,
            load.resolvedAt?.secondsSinceEpoch.sqlValue ?? .null(.integer), load.resolution.sqlValue,
            load.version.sqlValue,
        ]
    }

    /// A day's results in one statement: a row of values per merchant.
    package static func clearingResultsInsert(_ results: [ClearingResult]) -> WriteStep {
        let rows = results.map { r -> SQL in
            """
            (\(r.businessDate.iso8601), \(r.merchantID.rawValue), \(r.recordCount), \(r.grossFen), \(r.riskFen),
                \(r.commissionBasisPoints), \(r.commissionFen), \(r.netFen), \(r.clearedAt.secondsSinceEpoch))
            """
        }
        return WriteStep(
            """
            INSERT INTO clearing_results (business_date, merchant_id, record_count, gross_fen, risk_fen,
                commission_basis_points, commission_fen, net_fen, cleared_at)
            VALUES \(SQL.joined(rows, separator: ", "))
            """)
    }
}

extension SQL {
    /// `?, ?, ?` of the values, for a `VALUES (…)` list.
    package static func list(_ values: [SQLValue]) -> SQL {
        joined(values.map { "\($0)" }, separator: ", ")
    }
}

extension JSONEncoder {
    package static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

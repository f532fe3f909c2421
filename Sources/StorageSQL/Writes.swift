public import Storage
public import CitizenCardDomain
public import Foundation
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
}

/// The statements of every change, written once for both dialects.
public enum Writes {
    public static func plan(_ change: ChangeSet.Change, dialect: SQLDialect) throws(StorageError) -> WritePlan {
        switch change {
        case .insertPerson(let person): .steps(personInsert(person, dialect: dialect))
        case .updatePerson(let person, let expected): .steps(personUpdate(person, expected, dialect: dialect))
        case .insertPhoto(let photo):
            .steps([
                WriteStep(
                    """
                    INSERT INTO photos (id, person_id, media_type, content, created_at)
                    VALUES (\(photo.id.rawValue), \(photo.personID.rawValue), \(photo.mediaType), \(photo.content),
                        \(photo.createdAt.secondsSinceEpoch))
                    """)
            ])
        case .insertCard(let card): .steps([WriteStep(cardInsert(card))])
        case .updateCard(let card, let expected):
            .steps([WriteStep(cardUpdate(card, expected), rows: .one(conflict: "card"))])
        case .appendCardEvent(let event): .steps([WriteStep(cardEventInsert(event))])
        case .insertCancellationDocument(let cardID, let sealed):
            .steps([
                WriteStep(
                    "INSERT INTO cancellation_documents (card_id, sealed) VALUES (\(cardID.rawValue), \(sealed))")
            ])
        case .sealLegacyCancellationDocument(let cardID, let masked, let sealed):
            // The card is masked only while no sealed reference exists; then the reference is sealed.
            .steps([
                WriteStep(
                    """
                    UPDATE cards SET cancel_document = \(masked)
                    WHERE id = \(cardID.rawValue)
                        AND NOT EXISTS (SELECT 1 FROM cancellation_documents WHERE card_id = \(cardID.rawValue))
                    """),
                WriteStep(
                    """
                    INSERT INTO cancellation_documents (card_id, sealed) VALUES (\(cardID.rawValue), \(sealed))
                    ON CONFLICT DO NOTHING
                    """),
            ])
        case .insertBatch(let batch):
            .steps([
                WriteStep(
                    """
                    INSERT INTO production_batches (id, number, state, card_count, created_at, created_by, produced_at,
                        delivered_at, version)
                    VALUES (\(batch.id.rawValue), \(batch.number), \(batch.state.rawValue), \(batch.cardCount),
                        \(batch.createdAt.secondsSinceEpoch), \(batch.createdBy),
                        \(batch.producedAt?.secondsSinceEpoch), \(batch.deliveredAt?.secondsSinceEpoch),
                        \(batch.version))
                    """)
            ])
        case .updateBatch(let batch, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE production_batches SET state = \(batch.state.rawValue), card_count = \(batch.cardCount),
                        produced_at = \(batch.producedAt?.secondsSinceEpoch),
                        delivered_at = \(batch.deliveredAt?.secondsSinceEpoch), version = \(batch.version)
                    WHERE id = \(batch.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "production batch"))
            ])
        case .insertReceipt(let receipt):
            .steps([
                WriteStep(
                    """
                    INSERT INTO receipts (id, number, at, outlet_id, operator_id, person_id, card_id, item, amount_fen,
                        payment_method)
                    VALUES (\(receipt.id.rawValue), \(receipt.number), \(receipt.at.secondsSinceEpoch),
                        \(receipt.outletID.rawValue), \(receipt.operatorID.rawValue), \(receipt.personID.rawValue),
                        \(receipt.cardID.rawValue), \(receipt.item.rawValue), \(receipt.amount.fen),
                        \(receipt.paymentMethod.rawValue))
                    """)
            ])
        case .insertOutlet(let outlet):
            .steps([
                WriteStep(
                    """
                    INSERT INTO outlets (id, code, name, name_zh, region_code, address)
                    VALUES (\(outlet.id.rawValue), \(outlet.code), \(outlet.name), \(outlet.nameZh),
                        \(outlet.regionCode), \(outlet.address))
                    """)
            ])
        case .insertOperator(let staff):
            .steps([
                WriteStep(
                    """
                    INSERT INTO operators (id, username, display_name, role, outlet_id, password_hash, active)
                    VALUES (\(staff.id.rawValue), \(staff.username), \(staff.displayName), \(staff.role.rawValue),
                        \(staff.outletID?.rawValue), \(staff.passwordHash), \(staff.active))
                    """)
            ])
        case .updateOperator(let staff):
            .steps([
                WriteStep(
                    """
                    UPDATE operators SET display_name = \(staff.displayName), role = \(staff.role.rawValue),
                        outlet_id = \(staff.outletID?.rawValue), password_hash = \(staff.passwordHash),
                        active = \(staff.active)
                    WHERE id = \(staff.id.rawValue)
                    """, rows: .one(conflict: "operator"))
            ])
        case .insertSession(let session):
            .steps([
                WriteStep(
                    """
                    INSERT INTO sessions (token_hash, operator_id, created_at, expires_at)
                    VALUES (\(session.tokenHash), \(session.operatorID.rawValue),
                        \(session.createdAt.secondsSinceEpoch), \(session.expiresAt.secondsSinceEpoch))
                    """)
            ])
        case .deleteSession(let tokenHash):
            .steps([WriteStep("DELETE FROM sessions WHERE token_hash = \(tokenHash)")])
        case .deleteSessions(let operatorID, let keeping):
            .steps([
                WriteStep(
                    """
                    DELETE FROM sessions
                    WHERE operator_id = \(operatorID.rawValue) AND token_hash \(isDistinctFrom) \(keeping)
                    """)
            ])
        case .insertFeeEntry(let entry):
            .steps([
                WriteStep(
                    """
                    INSERT INTO fee_entries (item, effective_from, amount_fen, authority)
                    VALUES (\(entry.item.rawValue), \(entry.effectiveFrom.secondsSinceEpoch), \(entry.amount.fen),
                        \(entry.authority))
                    """)
            ])
        case .insertEligibilityRule(let rule):
            .steps([
                WriteStep(
                    """
                    INSERT INTO eligibility_rules (id, code, title, title_zh, criteria, effective_from, effective_until)
                    VALUES (\(rule.id.rawValue), \(rule.code), \(rule.title), \(rule.titleZh), \(try criteria(rule)),
                        \(rule.effectiveFrom.iso8601), \(rule.effectiveUntil?.iso8601))
                    """)
            ])
        case .updateEligibilityRule(let rule):
            .steps([
                WriteStep(
                    """
                    UPDATE eligibility_rules SET code = \(rule.code), title = \(rule.title), title_zh = \(rule.titleZh),
                        criteria = \(try criteria(rule)), effective_from = \(rule.effectiveFrom.iso8601),
                        effective_until = \(rule.effectiveUntil?.iso8601)
                    WHERE id = \(rule.id.rawValue)
                    """, rows: .one(conflict: "eligibility rule"))
            ])
        case .saveIdempotencyRecord(let record):
            .steps([
                WriteStep(
                    """
                    INSERT INTO idempotency_records (key, request_hash, status, response, created_at)
                    VALUES (\(record.key), \(record.requestHash), \(record.status), \(record.response),
                        \(record.createdAt.secondsSinceEpoch))
                    """)
            ])
        case .putSetting(let key, let value):
            .steps([
                WriteStep(
                    """
                    INSERT INTO settings (key, value) VALUES (\(key), \(value))
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            ])
        case .postTransfer(let transfer, let policy): .transfer(transfer, policy)
        case .insertPurseLoad(let load):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purse_loads (\(raw: Rows.purseLoadColumns.joined(separator: ", ")))
                    VALUES (\(SQL.list(purseLoadValues(load))))
                    """)
            ])
        case .updatePurseLoad(let load, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE purse_loads SET tac = \(load.tac), status = \(load.status.rawValue),
                        resolved_at = \(load.resolvedAt?.secondsSinceEpoch), resolution = \(load.resolution),
                        version = \(load.version)
                    WHERE id = \(load.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "load"))
            ])
        case .insertMerchant(let m):
            .steps([
                WriteStep(
                    """
                    INSERT INTO merchants (id, code, name, commission_bp, active, created_at, version)
                    VALUES (\(m.id.rawValue), \(m.code), \(m.name), \(m.commissionBasisPoints), \(m.active),
                        \(m.createdAt.secondsSinceEpoch), \(m.version))
                    """)
            ])
        case .updateMerchant(let m, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE merchants SET code = \(m.code), name = \(m.name), commission_bp = \(m.commissionBasisPoints),
                        active = \(m.active), version = \(m.version)
                    WHERE id = \(m.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "merchant"))
            ])
        case .insertTerminal(let t):
            .steps([
                WriteStep(
                    """
                    INSERT INTO terminals (id, number, merchant_id, psam_serial, location, latitude_e6, longitude_e6,
                        key_hash, hotlist_version, last_sign_in_at, active, created_at, version)
                    VALUES (\(t.id.rawValue), \(t.number), \(t.merchantID.rawValue), \(t.psamSerial), \(t.location),
                        \(t.latitudeE6), \(t.longitudeE6), \(Data(t.keyHash)), \(t.hotlistVersion),
                        \(t.lastSignInAt?.secondsSinceEpoch), \(t.active), \(t.createdAt.secondsSinceEpoch),
                        \(t.version))
                    """)
            ])
        case .updateTerminal(let t, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE terminals SET number = \(t.number), merchant_id = \(t.merchantID.rawValue),
                        psam_serial = \(t.psamSerial), location = \(t.location), latitude_e6 = \(t.latitudeE6),
                        longitude_e6 = \(t.longitudeE6), key_hash = \(Data(t.keyHash)),
                        hotlist_version = \(t.hotlistVersion), last_sign_in_at = \(t.lastSignInAt?.secondsSinceEpoch),
                        active = \(t.active), version = \(t.version)
                    WHERE id = \(t.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "terminal"))
            ])
        case .insertPurchaseBatch(let b, let response):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purchase_batches (id, terminal_id, merchant_id, number, content_hash, record_count,
                        posted_count, risk_count, parked_count, duplicate_count, accepted_fen, received_at, response)
                    VALUES (\(b.id.rawValue), \(b.terminalID.rawValue), \(b.merchantID.rawValue), \(b.number),
                        \(b.contentHash), \(b.recordCount), \(b.postedCount), \(b.riskCount), \(b.parkedCount),
                        \(b.duplicateCount), \(b.acceptedFen), \(b.receivedAt.secondsSinceEpoch), \(response))
                    """)
            ])
        case .insertPurchases(let purchases): .bulk(.insertPurchases(purchases))
        case .releasePurchases(let purchases): .bulk(.releasePurchases(purchases))
        case .putPurseChains(let chains): .bulk(.putPurseChains(chains))
        case .insertFraudSignals(let signals): .bulk(.insertFraudSignals(signals))
        case .closeException(let c):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purchase_exception_closures (purchase_id, note, closed_by, closed_at)
                    SELECT id, \(c.note), \(c.closedBy), \(c.closedAt.secondsSinceEpoch) FROM offline_purchases
                    WHERE id = \(c.purchaseID.rawValue) AND outcome = 'parked'
                        AND (reason IN (\(raw: Rows.closableReasonsSQL))
                            OR card_counter
                                < (SELECT next_counter FROM purse_chains WHERE card_id = offline_purchases.card_id))
                    ON CONFLICT (purchase_id) DO NOTHING
                    """, rows: .one(conflict: "exception"))
            ])
        case .publishHotlist(let publication): .bulk(.publishHotlist(publication))
        case .insertClearingResults(let results): .steps(results.isEmpty ? [] : [clearingResultsInsert(results)])
        case .insertPurseClosure(let c):
            .steps([
                WriteStep(
                    """
                    INSERT INTO purse_closures (card_id, successor_id, kind, amount_fen, status, closed_at, settled_at,
                        settlement, version)
                    VALUES (\(c.cardID.rawValue), \(c.successorID?.rawValue), \(c.kind.rawValue), \(c.amountFen),
                        \(c.status.rawValue), \(c.closedAt.secondsSinceEpoch), \(c.settledAt?.secondsSinceEpoch),
                        \(c.settlement), \(c.version))
                    """)
            ])
        case .updatePurseClosure(let c, let expected):
            .steps([
                WriteStep(
                    """
                    UPDATE purse_closures SET status = \(c.status.rawValue),
                        settled_at = \(c.settledAt?.secondsSinceEpoch), settlement = \(c.settlement),
                        version = \(c.version)
                    WHERE card_id = \(c.cardID.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "purse closure"))
            ])
        case .insertQueryCredential(let c):
            .steps([
                WriteStep(
                    """
                    INSERT INTO query_credentials (card_id, password_hash, failed_attempts, locked_until, changed_at,
                        changed_by, version)
                    VALUES (\(c.cardID.rawValue), \(c.passwordHash), \(c.failedAttempts),
                        \(c.lockedUntil?.secondsSinceEpoch), \(c.changedAt.secondsSinceEpoch), \(c.changedBy),
                        \(c.version))
                    """)
            ])
        case .updateQueryCredential(let c, let expected): .steps([credentialUpdate(c, expected)])
        case .insertPortalSession(let s):
            .steps([
                WriteStep(
                    """
                    INSERT INTO portal_sessions (token_hash, card_id, person_id, created_at, expires_at)
                    VALUES (\(Data(s.tokenHash)), \(s.cardID.rawValue), \(s.personID.rawValue),
                        \(s.createdAt.secondsSinceEpoch), \(s.expiresAt.secondsSinceEpoch))
                    """)
            ])
        case .deletePortalSession(let tokenHash):
            .steps([WriteStep("DELETE FROM portal_sessions WHERE token_hash = \(Data(tokenHash))")])
        case .deletePortalSessions(let cardID, let keeping):
            .steps([
                WriteStep(
                    """
                    DELETE FROM portal_sessions
                    WHERE card_id = \(cardID.rawValue) AND token_hash \(isDistinctFrom) \(keeping.map { Data($0) })
                    """)
            ])
        case .deleteExpiredPortalSessions(let cardID, let at):
            .steps([
                WriteStep(
                    """
                    DELETE FROM portal_sessions WHERE card_id = \(cardID.rawValue) AND expires_at <= \(at.secondsSinceEpoch)
                    """)
            ])
        case .insertCatalogueEntry(let e):
            .steps([
                WriteStep(
                    """
                    INSERT INTO catalogue_entries (code, name, name_zh, description, description_zh, effective_from,
                        published_at, published_by, withdrawn_at, withdrawn_by, version)
                    VALUES (\(e.code), \(e.name), \(e.nameZh), \(e.description), \(e.descriptionZh),
                        \(e.effectiveFrom.iso8601), \(e.publishedAt.secondsSinceEpoch), \(e.publishedBy),
                        \(e.withdrawnAt?.secondsSinceEpoch), \(e.withdrawnBy), \(e.version))
                    """)
            ])
        case .updateCatalogueEntry(let e, let expected): .steps([catalogueUpdate(e, expected)])
        case .insertServiceActivation(let a):
            .steps([
                WriteStep(
                    """
                    INSERT INTO service_activations (id, card_id, person_id, service_code, activated_at)
                    VALUES (\(a.id.rawValue), \(a.cardID.rawValue), \(a.personID.rawValue), \(a.serviceCode),
                        \(a.activatedAt.secondsSinceEpoch))
                    """)
            ])
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

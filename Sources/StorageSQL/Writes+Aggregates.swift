package import CitizenCardDomain
package import Foundation
package import Ledger
package import Storage

// One planner per aggregate of `ChangeSet.Change`, each an exhaustive switch without `default`:
// a write added to an aggregate does not compile until it is planned here.

extension Writes {
    // MARK: Registry

    /// Persons and their photos.
    package static func registry(
        _ change: ChangeSet.Change.Registry, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
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
        }
    }

    // MARK: Cards

    /// Cards, their events and sealed cancellation documents.
    package static func card(
        _ change: ChangeSet.Change.Cards, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        }
    }

    // MARK: Production

    /// Production batches.
    package static func production(
        _ change: ChangeSet.Change.Production, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        }
    }

    // MARK: Fees

    /// Receipts and the fee schedule.
    package static func fees(
        _ change: ChangeSet.Change.Fees, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        case .insertFeeEntry(let entry):
            .steps([
                WriteStep(
                    """
                    INSERT INTO fee_entries (item, effective_from, amount_fen, authority)
                    VALUES (\(entry.item.rawValue), \(entry.effectiveFrom.secondsSinceEpoch), \(entry.amount.fen),
                        \(entry.authority))
                    """)
            ])
        }
    }

    // MARK: Staff

    /// Outlets, staff accounts and their sessions.
    package static func staff(
        _ change: ChangeSet.Change.Staff, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        }
    }

    // MARK: Rules

    /// Eligibility rules.
    package static func rules(
        _ change: ChangeSet.Change.Rules, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        }
    }

    // MARK: System

    /// Idempotency records and settings.
    package static func system(
        _ change: ChangeSet.Change.System, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        }
    }

    // MARK: Ledger

    /// The ledger.
    package static func ledger(
        _ change: ChangeSet.Change.Ledger, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .postTransfer(let transfer, let policy): .transfer(transfer, policy)
        }
    }

    // MARK: Purse

    /// E-purse loads and closures.
    package static func purse(
        _ change: ChangeSet.Change.Purse, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        case .insertRefundPayee(let p, let sealed):
            .steps([
                WriteStep(
                    """
                    INSERT INTO refund_payees (card_id, kind, relationship, name_masked, id_number_masked,
                        document_masked, channel, bank_name, account_masked, paid_at, outlet_id, actor, sealed)
                    VALUES (\(p.cardID.rawValue), \(p.kind.rawValue), \(p.relationship?.rawValue), \(p.nameMasked),
                        \(p.idNumberMasked), \(p.documentReferenceMasked), \(p.channel), \(p.bankName),
                        \(p.accountMasked), \(p.paidAt.secondsSinceEpoch), \(p.outletID.rawValue), \(p.actor), \(sealed))
                    """)
            ])
        case .insertSuspenseDecision(let d):
            .steps([
                WriteStep(
                    """
                    INSERT INTO suspense_decisions (id, source, outcome, amount_fen, merchant_id, card_id,
                        decision_reference, reason, decided_at, actor)
                    VALUES (\(d.id.rawValue), \(d.source.rawValue), \(d.outcome.rawValue), \(d.amountFen),
                        \(d.merchantID?.rawValue), \(d.cardID?.rawValue), \(d.decisionReference), \(d.reason),
                        \(d.decidedAt.secondsSinceEpoch), \(d.actor))
                    """)
            ])
        }
    }

    // MARK: Acquiring

    /// Merchants, terminals, their uploads, records, chains, signals, exceptions and clearing.
    package static func acquiring(
        _ change: ChangeSet.Change.Acquiring, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
        case .insertClearingResults(let results): .steps(results.isEmpty ? [] : [clearingResultsInsert(results)])
        }
    }

    // MARK: Hotlist

    /// Hotlist versions.
    package static func hotlist(
        _ change: ChangeSet.Change.Hotlist, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .publishHotlist(let publication): .bulk(.publishHotlist(publication))
        }
    }

    // MARK: Portal

    /// The citizen portal: query passwords, sessions, the catalogue and activations.
    package static func portal(
        _ change: ChangeSet.Change.Portal, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
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
}

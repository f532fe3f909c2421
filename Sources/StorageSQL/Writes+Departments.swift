package import CitizenCardDomain
import Foundation
package import Storage

extension Writes {
    // MARK: Departments

    /// Departments, clients, keys, feeds, reviews, card cases and holds, grants, disclosures.
    package static func department(
        _ change: ChangeSet.Change.Departments, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .insertDepartment(let d):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO departments (id, code, name, name_zh, kind, feed_kinds, active, created_at, version)
                    VALUES (\(d.id.rawValue), \(d.code), \(d.name), \(d.nameZh), \(d.kind),
                        \(Rows.feedKindList(d.feedKinds)), \(d.active), \(d.createdAt.secondsSinceEpoch), \(d.version))
                    """)
            ])
        case .updateDepartment(let d, let expected):
            precondition(d.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE departments SET name = \(d.name), name_zh = \(d.nameZh), kind = \(d.kind),
                        feed_kinds = \(Rows.feedKindList(d.feedKinds)), active = \(d.active), version = \(d.version)
                    WHERE id = \(d.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "department"))
            ])
        case .insertDepartmentClient(let c):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO department_clients (id, department_id, name, certificate_subject, created_at,
                        created_by, revoked_at, version)
                    VALUES (\(c.id.rawValue), \(c.departmentID.rawValue), \(c.name), \(c.certificateSubject),
                        \(c.createdAt.secondsSinceEpoch), \(c.createdBy), \(c.revokedAt?.secondsSinceEpoch),
                        \(c.version))
                    """)
            ])
        case .updateDepartmentClient(let c, let expected):
            precondition(c.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE department_clients SET name = \(c.name), certificate_subject = \(c.certificateSubject),
                        revoked_at = \(c.revokedAt?.secondsSinceEpoch), version = \(c.version)
                    WHERE id = \(c.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "department client"))
            ])
        case .insertDepartmentKey(let k):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO department_keys (id, client_id, key_hash, hint, created_at, expires_at, revoked_at,
                        version)
                    VALUES (\(k.id.rawValue), \(k.clientID.rawValue), \(Data(k.keyHash)), \(k.hint),
                        \(k.createdAt.secondsSinceEpoch), \(k.expiresAt.secondsSinceEpoch),
                        \(k.revokedAt?.secondsSinceEpoch), \(k.version))
                    """)
            ])
        case .updateDepartmentKey(let k, let expected):
            precondition(k.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE department_keys SET expires_at = \(k.expiresAt.secondsSinceEpoch),
                        revoked_at = \(k.revokedAt?.secondsSinceEpoch), version = \(k.version)
                    WHERE id = \(k.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "department key"))
            ])
        case .insertFeedRecord(let f):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO feed_messages (department_id, message_id, kind, digest, received_at, client_id,
                        outcome, person_id, result)
                    VALUES (\(f.departmentID.rawValue), \(f.messageID), \(f.kind), \(Data(f.digest)),
                        \(f.receivedAt.secondsSinceEpoch), \(f.clientID?.rawValue), \(f.result.outcome.rawValue),
                        \(f.result.personId?.rawValue), \(f.result.json))
                    """)
            ])
        case .insertReviewItem(let r):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO review_items (id, kind, department_id, message_id, person_id, grant_id, detail,
                        created_at, closed_at, closed_by, closing_note, version)
                    VALUES (\(r.id.rawValue), \(r.kind), \(r.departmentID?.rawValue), \(r.messageID),
                        \(r.personID?.rawValue), \(r.grantID?.rawValue), \(r.detail), \(r.createdAt.secondsSinceEpoch),
                        \(r.closedAt?.secondsSinceEpoch), \(r.closedBy), \(r.closingNote), \(r.version))
                    """)
            ])
        case .updateReviewItem(let r, let expected):
            precondition(r.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE review_items SET closed_at = \(r.closedAt?.secondsSinceEpoch), closed_by = \(r.closedBy),
                        closing_note = \(r.closingNote), version = \(r.version)
                    WHERE id = \(r.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "review item"))
            ])
        case .insertCardCase(let c):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO card_cases (id, card_id, person_id, kind, outlet_id, department_id, message_id,
                        created_at, closed_at, closed_by, version)
                    VALUES (\(c.id.rawValue), \(c.cardID.rawValue), \(c.personID.rawValue), \(c.kind.rawValue),
                        \(c.outletID.rawValue), \(c.departmentID?.rawValue), \(c.messageID),
                        \(c.createdAt.secondsSinceEpoch), \(c.closedAt?.secondsSinceEpoch), \(c.closedBy), \(c.version))
                    """)
            ])
        case .closeCardCases(let cardID, let kinds, let at, let by):
            guard !kinds.isEmpty else { return .steps([]) }
            return .steps([
                WriteStep(
                    """
                    UPDATE card_cases SET closed_at = \(at.secondsSinceEpoch), closed_by = \(by), version = version + 1
                    WHERE card_id = \(cardID.rawValue) AND closed_at IS NULL
                        AND kind IN (\(raw: Rows.sqlList(kinds.map(\.rawValue))))
                    """)
            ])
        case .insertCardHold(let h):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO card_holds (card_id, reason, department_id, message_id, at, purse_balance_fen)
                    VALUES (\(h.cardID.rawValue), \(h.reason), \(h.departmentID?.rawValue), \(h.messageID),
                        \(h.at.secondsSinceEpoch), \(h.purseBalanceFen))
                    """)
            ])
        case .insertGrant(let g):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO grants (id, department_id, fields, purpose, legal_basis, valid_from, valid_until,
                        daily_volume, rate_per_minute, state, requested_by, requested_at, decided_by, decided_at,
                        decision_note, agreement_reference, agreement_signatory, agreement_signed_on,
                        agreement_recorded_by, agreement_recorded_at, state_reason, version)
                    VALUES (\(g.id.rawValue), \(g.departmentID.rawValue), \(try Rows.json(g.fields)), \(g.purpose),
                        \(g.legalBasis), \(g.validFrom.iso8601), \(g.validUntil.iso8601), \(g.dailyVolume),
                        \(g.ratePerMinute), \(g.state.rawValue), \(g.requestedBy), \(g.requestedAt.secondsSinceEpoch),
                        \(g.decidedBy), \(g.decidedAt?.secondsSinceEpoch), \(g.decisionNote),
                        \(g.agreement?.reference), \(g.agreement?.signatory), \(g.agreement?.signedOn.iso8601),
                        \(g.agreement?.recordedBy), \(g.agreement?.recordedAt.secondsSinceEpoch), \(g.stateReason),
                        \(g.version))
                    """)
            ])
        case .updateGrant(let g, let expected):
            precondition(g.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE grants SET state = \(g.state.rawValue), decided_by = \(g.decidedBy),
                        decided_at = \(g.decidedAt?.secondsSinceEpoch), decision_note = \(g.decisionNote),
                        agreement_reference = \(g.agreement?.reference),
                        agreement_signatory = \(g.agreement?.signatory),
                        agreement_signed_on = \(g.agreement?.signedOn.iso8601),
                        agreement_recorded_by = \(g.agreement?.recordedBy),
                        agreement_recorded_at = \(g.agreement?.recordedAt.secondsSinceEpoch),
                        state_reason = \(g.stateReason), version = \(g.version)
                    WHERE id = \(g.id.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "grant"))
            ])
        case .applyFeedChunk(let chunk):
            return .bulk(.applyFeedChunk(chunk))
        case .insertDisclosures(let disclosures):
            return .steps(
                disclosures.map { d in
                    WriteStep(
                        """
                        INSERT INTO disclosures (id, at, kind, department_id, client_id, grant_id, person_id, purpose,
                            case_number, end_user, fields, found)
                        VALUES (\(d.id.rawValue), \(d.at.secondsSinceEpoch), \(d.kind.rawValue),
                            \(d.departmentID?.rawValue), \(d.clientID?.rawValue), \(d.grantID?.rawValue),
                            \(d.personID?.rawValue), \(d.purpose), \(d.caseNumber), \(d.endUser),
                            \(d.fields.joined(separator: ",")), \(d.found))
                        """)
                })
        }
    }
}

extension Rows {
    /// The columns a feed chunk copies into `person_versions` and the shape of its rows.
    package static let feedPersonVersionCopy = """
        INSERT INTO person_versions (person_id, version, id_index, fingerprint, details, household,
            social_insurance, rural_medical, life_status, changed_at, changed_by, change_reason,
            change_source, created_at)
        """

    package static let feedRecordColumns =
        "department_id, message_id, kind, digest, received_at, client_id, outcome, person_id, result"
}

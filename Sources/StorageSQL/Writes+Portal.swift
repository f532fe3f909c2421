import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
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

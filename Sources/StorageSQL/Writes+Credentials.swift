import CitizenCardDomain
import Foundation
package import Storage

extension Writes {
    // MARK: Credentials

    /// The status list's indexes and publications, and codes marked used.
    package static func credentials(
        _ change: ChangeSet.Change.Credentials, dialect: SQLDialect
    ) throws(StorageError) -> WritePlan {
        switch change {
        case .indexCards(let only):
            // One statement for any number of cards: the next indexes after the highest given,
            // numbered in order of issue. Two writers that read the same highest index collide on
            // the UNIQUE index, and the second retries.
            let which: SQL =
                if let only { "id = \(only.rawValue)" } else { "issued_at IS NOT NULL" }
            return .steps([
                WriteStep(
                    """
                    INSERT INTO card_status_indexes (card_id, idx)
                    SELECT id, (SELECT COALESCE(MAX(idx), -1) FROM card_status_indexes)
                        + ROW_NUMBER() OVER (ORDER BY issued_at, id)
                    FROM cards
                    WHERE \(which) AND NOT EXISTS (SELECT 1 FROM card_status_indexes s WHERE s.card_id = cards.id)
                    """)
            ])
        case .publishStatusList(let p):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO status_list_publications (version, published_at, entries, token)
                    VALUES (\(p.version), \(p.publishedAt.secondsSinceEpoch), \(p.count), \(p.token))
                    """)
            ])
        case .markCredentialUsed(let u):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO credential_uses (code_id, card_id, used_at, expires_at, verifier)
                    VALUES (\(u.codeID), \(u.cardID.rawValue), \(u.usedAt.secondsSinceEpoch),
                        \(u.expiresAt.secondsSinceEpoch), \(u.verifier))
                    """)
            ])
        case .forgetCredentialUses(let before):
            return .steps([
                WriteStep("DELETE FROM credential_uses WHERE expires_at < \(before.secondsSinceEpoch)")
            ])
        }
    }
}

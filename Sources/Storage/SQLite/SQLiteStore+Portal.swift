public import CitizenCardDomain
import Foundation
import GRDB

extension SQLiteStore: PortalStore {
    /// The portal changes of a commit; false for any other change.
    static func applyPortal(_ change: ChangeSet.Change, _ db: Database) throws -> Bool {
        switch change {
        case .insertQueryCredential(let c):
            try db.execute(
                sql: """
                    INSERT INTO query_credentials (password_hash, failed_attempts, locked_until, changed_at,
                        changed_by, version, card_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, arguments: credentialArguments(c))
        case .updateQueryCredential(let c, let expected):
            precondition(c.version > expected)
            var arguments = credentialArguments(c)
            arguments += [expected]
            try db.execute(
                sql: """
                    UPDATE query_credentials SET password_hash = ?, failed_attempts = ?, locked_until = ?,
                        changed_at = ?, changed_by = ?, version = ?
                    WHERE card_id = ? AND version = ?
                    """, arguments: arguments)
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "query password") }
        case .insertPortalSession(let s):
            try db.execute(
                sql: """
                    INSERT INTO portal_sessions (token_hash, card_id, person_id, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(s.tokenHash), s.cardID.rawValue, s.personID.rawValue, s.createdAt.secondsSinceEpoch,
                    s.expiresAt.secondsSinceEpoch,
                ])
        case .deletePortalSession(let tokenHash):
            try db.execute(sql: "DELETE FROM portal_sessions WHERE token_hash = ?", arguments: [Data(tokenHash)])
        case .deletePortalSessions(let cardID, let keeping):
            try db.execute(
                sql: "DELETE FROM portal_sessions WHERE card_id = ? AND token_hash IS NOT ?",
                arguments: [cardID.rawValue, keeping.map { Data($0) }])
        case .deleteExpiredPortalSessions(let cardID, let at):
            try db.execute(
                sql: "DELETE FROM portal_sessions WHERE card_id = ? AND expires_at <= ?",
                arguments: [cardID.rawValue, at.secondsSinceEpoch])
        case .insertCatalogueEntry(let e):
            try db.execute(
                sql: """
                    INSERT INTO catalogue_entries (name, name_zh, description, description_zh, effective_from,
                        published_at, published_by, withdrawn_at, withdrawn_by, version, code)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: entryArguments(e))
        case .updateCatalogueEntry(let e, let expected):
            precondition(e.version > expected)
            var arguments = entryArguments(e)
            arguments += [expected]
            try db.execute(
                sql: """
                    UPDATE catalogue_entries SET name = ?, name_zh = ?, description = ?, description_zh = ?,
                        effective_from = ?, published_at = ?, published_by = ?, withdrawn_at = ?, withdrawn_by = ?,
                        version = ?
                    WHERE code = ? AND version = ?
                    """, arguments: arguments)
            guard db.changesCount == 1 else { throw StorageError.conflict(entity: "catalogue entry") }
        case .insertServiceActivation(let a):
            try db.execute(
                sql: """
                    INSERT INTO service_activations (id, card_id, person_id, service_code, activated_at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    a.id.rawValue, a.cardID.rawValue, a.personID.rawValue, a.serviceCode,
                    a.activatedAt.secondsSinceEpoch,
                ])
        default:
            return false
        }
        return true
    }

    static func credentialArguments(_ c: QueryCredential) -> StatementArguments {
        [
            c.passwordHash, c.failedAttempts, c.lockedUntil?.secondsSinceEpoch, c.changedAt.secondsSinceEpoch,
            c.changedBy, c.version, c.cardID.rawValue,
        ]
    }

    static func entryArguments(_ e: CatalogueEntry) -> StatementArguments {
        [
            e.name, e.nameZh, e.description, e.descriptionZh, e.effectiveFrom.iso8601, e.publishedAt.secondsSinceEpoch,
            e.publishedBy, e.withdrawnAt?.secondsSinceEpoch, e.withdrawnBy, e.version, e.code,
        ]
    }

    // MARK: Reads

    public func queryCredential(cardID: Card.ID) async throws(StorageError) -> QueryCredential? {
        try await rows("SELECT * FROM query_credentials WHERE card_id = ?", [cardID.rawValue]) {
            try Rows.queryCredential($0)
        }.first
    }

    public func portalSession(tokenHash: [UInt8]) async throws(StorageError) -> PortalSession? {
        try await rows("SELECT * FROM portal_sessions WHERE token_hash = ?", [Data(tokenHash)]) {
            try Rows.portalSession($0)
        }.first
    }

    public func catalogueEntries() async throws(StorageError) -> [CatalogueEntry] {
        try await rows("SELECT * FROM catalogue_entries ORDER BY code") { try Rows.catalogueEntry($0) }
    }

    public func catalogueEntry(code: String) async throws(StorageError) -> CatalogueEntry? {
        try await rows("SELECT * FROM catalogue_entries WHERE code = ?", [code]) { try Rows.catalogueEntry($0) }
            .first
    }

    public func serviceActivations(cardID: Card.ID) async throws(StorageError) -> [ServiceActivation] {
        try await rows(
            "SELECT * FROM service_activations WHERE card_id = ? ORDER BY activated_at, id", [cardID.rawValue]
        ) { try Rows.serviceActivation($0) }
    }
}

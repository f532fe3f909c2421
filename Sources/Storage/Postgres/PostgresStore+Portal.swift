public import CitizenCardDomain
import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore: PortalStore {
    /// The portal changes of a commit; false for any other change.
    static func applyPortal(
        _ change: ChangeSet.Change, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> Bool {
        switch change {
        case .insertQueryCredential(let c):
            try await connection.query(
                """
                INSERT INTO query_credentials (card_id, password_hash, failed_attempts, locked_until, changed_at,
                    changed_by, version)
                VALUES (\(c.cardID.rawValue), \(c.passwordHash), \(c.failedAttempts), \(c.lockedUntil?.secondsSinceEpoch),
                    \(c.changedAt.secondsSinceEpoch), \(c.changedBy), \(c.version))
                """, logger: logger)
        case .updateQueryCredential(let c, let expected):
            precondition(c.version > expected)
            try await expectOne(
                connection,
                """
                UPDATE query_credentials SET password_hash = \(c.passwordHash), failed_attempts = \(c.failedAttempts),
                    locked_until = \(c.lockedUntil?.secondsSinceEpoch), changed_at = \(c.changedAt.secondsSinceEpoch),
                    changed_by = \(c.changedBy), version = \(c.version)
                WHERE card_id = \(c.cardID.rawValue) AND version = \(expected)
                RETURNING 1
                """, entity: "query password", logger)
        case .insertPortalSession(let s):
            try await connection.query(
                """
                INSERT INTO portal_sessions (token_hash, card_id, person_id, created_at, expires_at)
                VALUES (\(ByteBuffer(bytes: s.tokenHash)), \(s.cardID.rawValue), \(s.personID.rawValue),
                    \(s.createdAt.secondsSinceEpoch), \(s.expiresAt.secondsSinceEpoch))
                """, logger: logger)
        case .deletePortalSession(let tokenHash):
            try await connection.query(
                "DELETE FROM portal_sessions WHERE token_hash = \(ByteBuffer(bytes: tokenHash))", logger: logger)
        case .deletePortalSessions(let cardID, let keeping):
            try await connection.query(
                """
                DELETE FROM portal_sessions
                WHERE card_id = \(cardID.rawValue) AND token_hash IS DISTINCT FROM \(keeping.map { ByteBuffer(bytes: $0) })
                """, logger: logger)
        case .deleteExpiredPortalSessions(let cardID, let at):
            try await connection.query(
                """
                DELETE FROM portal_sessions WHERE card_id = \(cardID.rawValue) AND expires_at <= \(at.secondsSinceEpoch)
                """, logger: logger)
        case .insertCatalogueEntry(let e):
            try await connection.query(
                """
                INSERT INTO catalogue_entries (code, name, name_zh, description, description_zh, effective_from,
                    published_at, published_by, withdrawn_at, withdrawn_by, version)
                VALUES (\(e.code), \(e.name), \(e.nameZh), \(e.description), \(e.descriptionZh),
                    \(e.effectiveFrom.iso8601), \(e.publishedAt.secondsSinceEpoch), \(e.publishedBy),
                    \(e.withdrawnAt?.secondsSinceEpoch), \(e.withdrawnBy), \(e.version))
                """, logger: logger)
        case .updateCatalogueEntry(let e, let expected):
            precondition(e.version > expected)
            try await expectOne(
                connection,
                """
                UPDATE catalogue_entries SET name = \(e.name), name_zh = \(e.nameZh), description = \(e.description),
                    description_zh = \(e.descriptionZh), effective_from = \(e.effectiveFrom.iso8601),
                    published_at = \(e.publishedAt.secondsSinceEpoch), published_by = \(e.publishedBy),
                    withdrawn_at = \(e.withdrawnAt?.secondsSinceEpoch), withdrawn_by = \(e.withdrawnBy),
                    version = \(e.version)
                WHERE code = \(e.code) AND version = \(expected)
                RETURNING 1
                """, entity: "catalogue entry", logger)
        case .insertServiceActivation(let a):
            try await connection.query(
                """
                INSERT INTO service_activations (id, card_id, person_id, service_code, activated_at)
                VALUES (\(a.id.rawValue), \(a.cardID.rawValue), \(a.personID.rawValue), \(a.serviceCode),
                    \(a.activatedAt.secondsSinceEpoch))
                """, logger: logger)
        default:
            return false
        }
        return true
    }

    // MARK: Reads

    public func queryCredential(cardID: Card.ID) async throws(StorageError) -> QueryCredential? {
        try await reading("SELECT * FROM query_credentials WHERE card_id = \(cardID.rawValue)") {
            try Rows.queryCredential($0)
        }.first
    }

    public func portalSession(tokenHash: [UInt8]) async throws(StorageError) -> PortalSession? {
        try await reading("SELECT * FROM portal_sessions WHERE token_hash = \(ByteBuffer(bytes: tokenHash))") {
            try Rows.portalSession($0)
        }.first
    }

    public func catalogueEntries() async throws(StorageError) -> [CatalogueEntry] {
        try await reading("SELECT * FROM catalogue_entries ORDER BY code COLLATE \"C\"") {
            try Rows.catalogueEntry($0)
        }
    }

    public func catalogueEntry(code: String) async throws(StorageError) -> CatalogueEntry? {
        try await reading("SELECT * FROM catalogue_entries WHERE code = \(code)") { try Rows.catalogueEntry($0) }
            .first
    }

    public func serviceActivations(cardID: Card.ID) async throws(StorageError) -> [ServiceActivation] {
        try await reading(
            """
            SELECT * FROM service_activations WHERE card_id = \(cardID.rawValue)
            ORDER BY activated_at, id COLLATE "C"
            """
        ) { try Rows.serviceActivation($0) }
    }
}

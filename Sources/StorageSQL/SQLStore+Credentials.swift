public import CitizenCardDomain
public import Foundation
public import Storage

/// The electronic card's reads, shared by both backends.
extension SQLStore {
    public func statusIndex(cardID: Card.ID) async throws(StorageError) -> Int64? {
        try await fetch("SELECT idx FROM card_status_indexes WHERE card_id = \(cardID.rawValue)") {
            try $0.int("idx")
        }.first
    }

    public func maxStatusIndex() async throws(StorageError) -> Int64? {
        try await fetch("SELECT MAX(idx) AS idx FROM card_status_indexes") { try $0.optionalInt("idx") }.first ?? nil
    }

    public func statusListCards() async throws(StorageError) -> [StatusListCard] {
        try await fetch(
            """
            SELECT s.idx, c.state, EXISTS (SELECT 1 FROM card_holds h WHERE h.card_id = c.id) AS blocked
            FROM card_status_indexes s JOIN cards c ON c.id = s.card_id
            """
        ) { row -> StatusListCard in
            StatusListCard(
                index: try row.int("idx"), state: try row.value("state", table: "cards"),
                blocked: try row.bool("blocked"))
        }
    }

    public func statusListPublication() async throws(StorageError) -> StatusListPublication? {
        try await fetch("SELECT * FROM status_list_publications ORDER BY version DESC LIMIT 1") { row in
            StatusListPublication(
                version: try row.int("version"), publishedAt: try row.time("published_at"),
                count: try row.int("entries"), token: try row.data("token"))
        }.first
    }

    public func credentialUse(codeID: Data) async throws(StorageError) -> CredentialUse? {
        try await fetch("SELECT * FROM credential_uses WHERE code_id = \(codeID)") { row in
            CredentialUse(
                codeID: try row.data("code_id"), cardID: try row.id("card_id"), usedAt: try row.time("used_at"),
                expiresAt: try row.time("expires_at"), verifier: try row.string("verifier"))
        }.first
    }
}

import Storage
package import CitizenCardDomain
import Foundation

/// Decoding of the portal tables, shared by both backends.
extension Rows {
    package static func queryCredential(_ row: some RowReader) throws -> QueryCredential {
        QueryCredential(
            cardID: try row.id("card_id"), passwordHash: try row.string("password_hash"),
            failedAttempts: try row.int("failed_attempts"), lockedUntil: try row.optionalTime("locked_until"),
            changedAt: try row.time("changed_at"), changedBy: try row.string("changed_by"),
            version: try row.int("version"))
    }

    package static func portalSession(_ row: some RowReader) throws -> PortalSession {
        PortalSession(
            tokenHash: Array(try row.data("token_hash")), cardID: try row.id("card_id"),
            personID: try row.id("person_id"), createdAt: try row.time("created_at"),
            expiresAt: try row.time("expires_at"))
    }

    package static func catalogueEntry(_ row: some RowReader) throws -> CatalogueEntry {
        guard let from = CalendarDate(iso8601: try row.string("effective_from")) else {
            throw StorageError.corrupt(reason: "catalogue_entries.effective_from")
        }
        return CatalogueEntry(
            code: try row.string("code"), name: try row.string("name"), nameZh: try row.string("name_zh"),
            description: try row.string("description"), descriptionZh: try row.string("description_zh"),
            effectiveFrom: from, publishedAt: try row.time("published_at"),
            publishedBy: try row.string("published_by"), withdrawnAt: try row.optionalTime("withdrawn_at"),
            withdrawnBy: try row.optionalString("withdrawn_by"), version: try row.int("version"))
    }

    package static func serviceActivation(_ row: some RowReader) throws -> ServiceActivation {
        ServiceActivation(
            id: try row.id("id"), cardID: try row.id("card_id"), personID: try row.id("person_id"),
            serviceCode: try row.string("service_code"), activatedAt: try row.time("activated_at"))
    }
}

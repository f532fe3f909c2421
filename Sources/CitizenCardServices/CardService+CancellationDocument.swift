public import CitizenCardDomain
import Foundation
import Storage

/// The document reference of a cancellation (R-17, R-41; issue 16): in practice the number of a
/// death certificate or an ID card, so it is personal data. It is sealed with the personal-data
/// key in `cancellation_documents`, bound to its card; the card keeps it masked
/// (`Masking.documentReference`), which is what every card view shows. The full reference is
/// read only by a role that may reveal personal data, for a stated purpose, audited before it is
/// returned.
extension CardService {
    /// The full reference of a cancelled card's document, and who may see it.
    public struct CancellationDocument: Codable, Hashable, Sendable {
        public var cardId: Card.ID
        public var documentReference: String
    }

    func sealDocument(_ reference: String, cardID: Card.ID) throws(CitizenCardError) -> Data {
        do {
            return try env.vault.sealCancellationDocument(reference, cardID: cardID.rawValue)
        } catch {
            throw CitizenCardError(.internal, "sealing failed")
        }
    }

    /// The unmasked document reference of a cancelled card: `reveal_personal_data`, a purpose
    /// (1-500 characters), an audit entry about the holder committed before it is returned.
    /// 404 when the card was never cancelled.
    public func cancellationDocument(
        _ cardID: Card.ID, purpose: String?, actor: Actor
    ) async throws(CitizenCardError) -> CancellationDocument {
        try actor.require(.revealPersonalData)
        let purpose = try RegistryService.reason(purpose, default: nil, field: "purpose")
        let card = try await load(cardID)
        guard let cancellation = card.cancellation else { throw CitizenCardError.notFound("cancellation") }
        let reference: String
        if let sealed = try await env.fetch(try await env.store.cancellationDocument(cardID: card.id)) {
            do {
                reference = try env.vault.openCancellationDocument(sealed, cardID: card.id.rawValue)
            } catch {
                throw CitizenCardError(.internal, "the document reference cannot be opened")
            }
        } else {
            // Cancelled before references were sealed, and not yet sealed by the start-up pass.
            reference = cancellation.documentReference
        }
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "card.cancellation_document.read",
                subject: "card:\(card.id)", personID: card.personID, purpose: purpose, detail: #"{"revealed":true}"#))
        try await env.commit(changes)
        return CancellationDocument(cardId: card.id, documentReference: reference)
    }

    /// Seals the clear document references of cards cancelled before references were sealed
    /// and masks them on the cards, in commits of `batchMax`; returns how many. Run once at every
    /// start of the server (nothing to do after the first).
    public func sealLegacyCancellationDocuments(batchMax: Int = 200) async throws(CitizenCardError) -> Int {
        var sealedCount = 0
        while true {
            let cards = try await env.fetch(try await env.store.cardsWithUnsealedCancellationDocument(limit: batchMax))
            guard !cards.isEmpty else { return sealedCount }
            var changes = ChangeSet()
            for card in cards {
                let clear = card.cancellation?.documentReference ?? ""
                changes.add(
                    .sealLegacyCancellationDocument(
                        cardID: card.id, masked: Masking.documentReference(clear),
                        sealed: try sealDocument(clear, cardID: card.id)))
            }
            changes.record(
                AuditDraft(
                    at: env.clock.now(), actor: "system", action: "card.cancellation_document.seal",
                    subject: "cards", purpose: "seal document references stored in clear",
                    detail: #"{"cards":\#(cards.count)}"#))
            try await env.commit(changes)
            sealedCount += cards.count
            if cards.count < batchMax { return sealedCount }
        }
    }
}

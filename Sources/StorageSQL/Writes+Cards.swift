import CitizenCardDomain
import Foundation
import Ledger
package import Storage

extension Writes {
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
}

import Storage
import StorageSQL
import Foundation
import CitizenCardDomain
import GRDB

/// Maps `Card` to and from a row of `cards`.
enum CardRow {
    static let columns = Rows.cardColumns

    static let insertSQL =
        "INSERT INTO cards (\(columns)) VALUES (\(Array(repeating: "?", count: 33).joined(separator: ", ")))"

    static let updateSQL = """
        UPDATE cards SET state = ?, slot = ?, successor_id = ?, batch_id = ?, approved_at = ?, issued_at = ?,
            expires_at = ?, loss_kind = ?, loss_channel = ?, loss_effective_at = ?, pre_loss_expires_at = ?,
            loss_written_at = ?, note = ?, replacement_reason = ?, cancel_reason = ?, cancel_applicant = ?,
            cancel_relationship = ?, cancel_document = ?, cancelled_at = ?, closed_at = ?, version = ?, updated_at = ?
        WHERE id = ? AND version = ?
        """

    static func slot(_ state: CardState) -> String? { Rows.slot(state) }

    static func mutableValues(_ card: Card) -> [(any DatabaseValueConvertible)?] {
        [
            card.state.rawValue, slot(card.state), card.successorID?.rawValue, card.batchID?.rawValue,
            card.approvedAt?.secondsSinceEpoch, card.issuedAt?.secondsSinceEpoch, card.expiresAt?.secondsSinceEpoch,
            card.loss?.kind.rawValue, card.loss?.channel.rawValue, card.loss?.effectiveAt.secondsSinceEpoch,
            card.loss?.preLossExpiresAt?.secondsSinceEpoch, card.loss?.writtenAt?.secondsSinceEpoch, card.note,
            card.replacementReason?.rawValue, card.cancellation?.reason.rawValue,
            card.cancellation?.applicant.rawValue, card.cancellation?.relationship?.rawValue,
            card.cancellation?.documentReference, card.cancellation?.at.secondsSinceEpoch,
            card.closedAt?.secondsSinceEpoch, card.version, card.updatedAt.secondsSinceEpoch,
        ]
    }

    static func arguments(_ card: Card) -> StatementArguments {
        let values: [(any DatabaseValueConvertible)?] = [
            card.id.rawValue, card.personID.rawValue, card.kind.rawValue, card.state.rawValue, slot(card.state),
            card.number, card.asn, card.channel.kind.rawValue, card.channel.employerCode, card.channel.employerName,
            card.outletID.rawValue, card.predecessorID?.rawValue, card.successorID?.rawValue, card.batchID?.rawValue,
            card.appliedAt.secondsSinceEpoch, card.approvedAt?.secondsSinceEpoch, card.issuedAt?.secondsSinceEpoch,
            card.expiresAt?.secondsSinceEpoch, card.loss?.kind.rawValue, card.loss?.channel.rawValue,
            card.loss?.effectiveAt.secondsSinceEpoch, card.loss?.preLossExpiresAt?.secondsSinceEpoch,
            card.loss?.writtenAt?.secondsSinceEpoch, card.note, card.replacementReason?.rawValue,
            card.cancellation?.reason.rawValue, card.cancellation?.applicant.rawValue,
            card.cancellation?.relationship?.rawValue, card.cancellation?.documentReference,
            card.cancellation?.at.secondsSinceEpoch, card.closedAt?.secondsSinceEpoch, card.version,
            card.updatedAt.secondsSinceEpoch,
        ]
        return StatementArguments(values)
    }

    static func updateArguments(_ card: Card, expectedVersion: Int64) -> StatementArguments {
        StatementArguments(mutableValues(card) + [card.id.rawValue, expectedVersion])
    }
}

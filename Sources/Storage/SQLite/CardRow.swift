import Foundation
import CitizenCardDomain
import GRDB

/// Maps `Card` to and from a row of `cards`.
enum CardRow {
    static let columns = """
        id, person_id, kind, state, slot, number, asn, channel_kind, employer_code, employer_name, outlet_id,
        predecessor_id, successor_id, batch_id, applied_at, approved_at, issued_at, expires_at, loss_kind,
        loss_channel, loss_effective_at, pre_loss_expires_at, loss_written_at, note, replacement_reason,
        cancel_reason, cancel_applicant, cancel_relationship, cancel_document, cancelled_at, closed_at, version,
        updated_at
        """

    static let insertSQL =
        "INSERT INTO cards (\(columns)) VALUES (\(Array(repeating: "?", count: 33).joined(separator: ", ")))"

    static let updateSQL = """
        UPDATE cards SET state = ?, slot = ?, successor_id = ?, batch_id = ?, approved_at = ?, issued_at = ?,
            expires_at = ?, loss_kind = ?, loss_channel = ?, loss_effective_at = ?, pre_loss_expires_at = ?,
            loss_written_at = ?, note = ?, replacement_reason = ?, cancel_reason = ?, cancel_applicant = ?,
            cancel_relationship = ?, cancel_document = ?, cancelled_at = ?, closed_at = ?, version = ?, updated_at = ?
        WHERE id = ? AND version = ?
        """

    static func slot(_ state: CardState) -> String? {
        switch state.slot {
        case .pipeline: "pipeline"
        case .held: "held"
        case .closed: nil
        }
    }

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

    static func decode(_ row: Row) throws -> Card {
        func time(_ column: String) -> Timestamp? {
            (row[column] as Int64?).map(Timestamp.init(secondsSinceEpoch:))
        }
        func value<T: RawRepresentable>(_ column: String, as: T.Type = T.self) throws -> T where T.RawValue == String {
            guard let raw: String = row[column], let value = T(rawValue: raw) else {
                throw StorageError.corrupt(reason: "cards.\(column)")
            }
            return value
        }
        func optional<T: RawRepresentable>(_ column: String, as: T.Type = T.self) throws -> T?
        where T.RawValue == String {
            guard let raw: String = row[column] else { return nil }
            guard let value = T(rawValue: raw) else { throw StorageError.corrupt(reason: "cards.\(column)") }
            return value
        }
        var loss: LossReport? = nil
        if let kind: LossReport.Kind = try optional("loss_kind") {
            loss = LossReport(
                kind: kind, channel: try value("loss_channel"), effectiveAt: time("loss_effective_at")!,
                preLossExpiresAt: time("pre_loss_expires_at"), writtenAt: time("loss_written_at"))
        }
        var cancellation: Cancellation? = nil
        if let reason: Cancellation.Reason = try optional("cancel_reason") {
            cancellation = Cancellation(
                reason: reason, applicant: try value("cancel_applicant"),
                relationship: try optional("cancel_relationship"),
                documentReference: row["cancel_document"] ?? "", at: time("cancelled_at")!)
        }
        let channelKind: ApplicationChannel.Kind = try value("channel_kind")
        return Card(
            stored: Card.ID(rawValue: row["id"]), personID: Person.ID(rawValue: row["person_id"]),
            kind: try value("kind"), state: try value("state"), number: row["number"], asn: row["asn"],
            channel: ApplicationChannel(
                kind: channelKind, employerCode: row["employer_code"], employerName: row["employer_name"]),
            outletID: Outlet.ID(rawValue: row["outlet_id"]),
            predecessorID: (row["predecessor_id"] as String?).map(Card.ID.init(rawValue:)),
            successorID: (row["successor_id"] as String?).map(Card.ID.init(rawValue:)),
            batchID: (row["batch_id"] as String?).map(ProductionBatch.ID.init(rawValue:)),
            appliedAt: time("applied_at")!, approvedAt: time("approved_at"), issuedAt: time("issued_at"),
            expiresAt: time("expires_at"), loss: loss, note: row["note"],
            replacementReason: try optional("replacement_reason"),
            cancellation: cancellation, closedAt: time("closed_at"), version: row["version"],
            updatedAt: time("updated_at")!)
    }
}

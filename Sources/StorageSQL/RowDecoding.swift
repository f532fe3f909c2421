package import Storage
public import Foundation
package import CitizenCardDomain

/// Typed access to the columns of one result row, whatever the backend. Both backends decode
/// their rows with the same functions below, so a record reads back the same from either.
public protocol RowReader {
    func string(_ name: String) throws -> String
    func optionalString(_ name: String) throws -> String?
    func int(_ name: String) throws -> Int64
    func optionalInt(_ name: String) throws -> Int64?
    func bool(_ name: String) throws -> Bool
    func data(_ name: String) throws -> Data
    func optionalData(_ name: String) throws -> Data?
}

extension RowReader {
    package func time(_ name: String) throws -> Timestamp { Timestamp(secondsSinceEpoch: try int(name)) }
    package func optionalTime(_ name: String) throws -> Timestamp? {
        try optionalInt(name).map(Timestamp.init(secondsSinceEpoch:))
    }

    package func value<T: RawRepresentable>(_ name: String, table: String, as: T.Type = T.self) throws -> T
    where T.RawValue == String {
        guard let value = T(rawValue: try string(name)) else { throw StorageError.corrupt(reason: "\(table).\(name)") }
        return value
    }

    package func optionalValue<T: RawRepresentable>(_ name: String, table: String, as: T.Type = T.self) throws -> T?
    where T.RawValue == String {
        guard let raw = try optionalString(name) else { return nil }
        guard let value = T(rawValue: raw) else { throw StorageError.corrupt(reason: "\(table).\(name)") }
        return value
    }

    package func id<Tag>(_ name: String, as: Tag.Type = Tag.self) throws -> Identifier<Tag> {
        Identifier(rawValue: try string(name))
    }
    package func optionalID<Tag>(_ name: String, as: Tag.Type = Tag.self) throws -> Identifier<Tag>? {
        try optionalString(name).map(Identifier.init(rawValue:))
    }
}

/// The column lists and row decoders shared by both backends.
package enum Rows {
    package static let cardColumns = """
        id, person_id, kind, state, slot, number, asn, channel_kind, employer_code, employer_name, outlet_id,
        predecessor_id, successor_id, batch_id, applied_at, approved_at, issued_at, expires_at, loss_kind,
        loss_channel, loss_effective_at, pre_loss_expires_at, loss_written_at, note, replacement_reason,
        cancel_reason, cancel_applicant, cancel_relationship, cancel_document, cancelled_at, closed_at, version,
        updated_at
        """

    /// The columns of `cards` set when a card is created and never changed after.
    package static let cardInsertColumns = [
        "id", "person_id", "kind", "number", "asn", "channel_kind", "employer_code", "employer_name", "outlet_id",
        "predecessor_id", "applied_at",
    ]

    /// The columns of `cards` a transition may change, in `Writes.cardMutableValues` order.
    public static let cardUpdateColumns = [
        "state", "slot", "successor_id", "batch_id", "approved_at", "issued_at", "expires_at", "loss_kind",
        "loss_channel", "loss_effective_at", "pre_loss_expires_at", "loss_written_at", "note", "replacement_reason",
        "cancel_reason", "cancel_applicant", "cancel_relationship", "cancel_document", "cancelled_at", "closed_at",
        "version", "updated_at",
    ]

    /// The value of `cards.slot` for a state: the one-card rule's unique index works on it.
    package static func slot(_ state: CardState) -> String? {
        switch state.slot {
        case .pipeline: "pipeline"
        case .held: "held"
        case .closed: nil
        }
    }

    package static func card(_ row: some RowReader) throws -> Card {
        var loss: LossReport? = nil
        if let kind: LossReport.Kind = try row.optionalValue("loss_kind", table: "cards") {
            guard let effective = try row.optionalTime("loss_effective_at") else {
                throw StorageError.corrupt(reason: "cards.loss")
            }
            loss = LossReport(
                kind: kind, channel: try row.value("loss_channel", table: "cards"), effectiveAt: effective,
                preLossExpiresAt: try row.optionalTime("pre_loss_expires_at"),
                writtenAt: try row.optionalTime("loss_written_at"))
        }
        var cancellation: Cancellation? = nil
        if let reason: Cancellation.Reason = try row.optionalValue("cancel_reason", table: "cards") {
            guard let at = try row.optionalTime("cancelled_at") else {
                throw StorageError.corrupt(reason: "cards.cancellation")
            }
            cancellation = Cancellation(
                reason: reason, applicant: try row.value("cancel_applicant", table: "cards"),
                relationship: try row.optionalValue("cancel_relationship", table: "cards"),
                documentReference: try row.optionalString("cancel_document") ?? "", at: at)
        }
        return Card(
            stored: try row.id("id"), personID: try row.id("person_id"), kind: try row.value("kind", table: "cards"),
            state: try row.value("state", table: "cards"), number: try row.string("number"), asn: try row.string("asn"),
            channel: ApplicationChannel(
                kind: try row.value("channel_kind", table: "cards"),
                employerCode: try row.optionalString("employer_code"),
                employerName: try row.optionalString("employer_name")),
            outletID: try row.id("outlet_id"), predecessorID: try row.optionalID("predecessor_id"),
            successorID: try row.optionalID("successor_id"), batchID: try row.optionalID("batch_id"),
            appliedAt: try row.time("applied_at"), approvedAt: try row.optionalTime("approved_at"),
            issuedAt: try row.optionalTime("issued_at"), expiresAt: try row.optionalTime("expires_at"), loss: loss,
            note: try row.optionalString("note"),
            replacementReason: try row.optionalValue("replacement_reason", table: "cards"),
            cancellation: cancellation, closedAt: try row.optionalTime("closed_at"), version: try row.int("version"),
            updatedAt: try row.time("updated_at"))
    }

    /// A row of `persons` or of `person_versions` (whose id column is `person_id`).
    package static func person(_ row: some RowReader, idColumn: String = "id") throws -> SealedPerson {
        SealedPerson(
            id: try row.id(idColumn), idIndex: try row.data("id_index"), fingerprint: try row.data("fingerprint"),
            details: try row.data("details"),
            attributes: PersonAttributes(
                household: try row.value("household", table: "persons"),
                socialInsurance: try row.bool("social_insurance"),
                ruralMedical: try row.bool("rural_medical"), lifeStatus: try row.value("life_status", table: "persons")),
            version: try row.int("version"),
            provenance: Provenance(
                actor: try row.string("changed_by"), at: try row.time("changed_at"),
                reason: try row.string("change_reason"),
                source: try row.value("change_source", table: "persons")),
            createdAt: try row.time("created_at"))
    }

    package static func photo(_ row: some RowReader) throws -> StoredPhoto {
        StoredPhoto(
            id: try row.id("id"), personID: try row.id("person_id"), mediaType: try row.string("media_type"),
            content: try row.data("content"), createdAt: try row.time("created_at"))
    }

    package static func cardEvent(_ row: some RowReader) throws -> CardEvent {
        CardEvent(
            cardID: try row.id("card_id"), sequence: try row.int("sequence"),
            action: try row.value("action", table: "card_events"),
            from: try row.value("from_state", table: "card_events"),
            to: try row.value("to_state", table: "card_events"),
            at: try row.time("at"), actor: try row.string("actor"), outletID: try row.optionalID("outlet_id"),
            reason: try row.optionalString("reason"), receiptID: try row.optionalID("receipt_id"))
    }

    package static func batch(_ row: some RowReader) throws -> ProductionBatch {
        var batch = ProductionBatch(
            id: try row.id("id"), number: try row.string("number"), cardCount: Int(try row.int("card_count")),
            createdAt: try row.time("created_at"), createdBy: try row.string("created_by"))
        batch.state = try row.value("state", table: "production_batches")
        batch.producedAt = try row.optionalTime("produced_at")
        batch.deliveredAt = try row.optionalTime("delivered_at")
        batch.version = try row.int("version")
        return batch
    }

    package static func feeEntry(_ row: some RowReader) throws -> FeeEntry {
        FeeEntry(
            item: try row.value("item", table: "fee_entries"), amount: Money(fen: try row.int("amount_fen")),
            effectiveFrom: try row.time("effective_from"), authority: try row.string("authority"))
    }

    package static func receipt(_ row: some RowReader) throws -> Receipt {
        Receipt(
            id: try row.id("id"), number: try row.string("number"), at: try row.time("at"),
            outletID: try row.id("outlet_id"),
            operatorID: try row.id("operator_id"), personID: try row.id("person_id"), cardID: try row.id("card_id"),
            item: try row.value("item", table: "receipts"), amount: Money(fen: try row.int("amount_fen")))
    }

    package static func purseLoad(_ row: some RowReader) throws -> PurseLoad {
        var load = PurseLoad(
            id: try row.id("id"), cardID: try row.id("card_id"), outletID: try row.id("outlet_id"),
            actor: try row.string("actor"), amount: Money(fen: try row.int("amount_fen")),
            funding: try row.value("funding", table: "purse_loads"), onlineCounter: try row.int("online_counter"),
            balanceBefore: Money(fen: try row.int("balance_before_fen")), keyVersion: try row.int("key_version"),
            algorithmID: try row.int("algorithm_id"), terminalID: try row.string("terminal_id"),
            transactionTime: try row.string("transaction_time"), mac2: try row.string("mac2"),
            approvedAt: try row.time("approved_at"))
        load.tac = try row.optionalString("tac")
        load.status = try row.value("status", table: "purse_loads")
        load.resolvedAt = try row.optionalTime("resolved_at")
        load.resolution = try row.optionalString("resolution")
        load.version = try row.int("version")
        return load
    }

    package static let purseLoadColumns = [
        "id", "card_id", "outlet_id", "actor", "amount_fen", "funding", "online_counter", "balance_before_fen",
        "key_version", "algorithm_id", "terminal_id", "transaction_time", "mac2", "tac", "status", "approved_at",
        "resolved_at", "resolution",
        "version",
    ]

    package static func rule(_ row: some RowReader) throws -> EligibilityRule {
        guard let criteria = try? JSONDecoder().decode([Criterion].self, from: Data(try row.string("criteria").utf8)),
            let from = CalendarDate(iso8601: try row.string("effective_from"))
        else { throw StorageError.corrupt(reason: "eligibility rule") }
        return EligibilityRule(
            id: try row.id("id"), code: try row.string("code"), title: try row.string("title"),
            titleZh: try row.string("title_zh"), criteria: criteria, effectiveFrom: from,
            effectiveUntil: try row.optionalString("effective_until").flatMap(CalendarDate.init(iso8601:)))
    }

    package static func outlet(_ row: some RowReader) throws -> Outlet {
        Outlet(
            id: try row.id("id"), code: try row.string("code"), name: try row.string("name"),
            nameZh: try row.string("name_zh"),
            regionCode: try row.string("region_code"), address: try row.string("address"))
    }

    package static func staff(_ row: some RowReader) throws -> Operator {
        let role: Role = try row.value("role", table: "operators")
        let outletID: Outlet.ID? = try row.optionalID("outlet_id")
        guard role.isOutletBound == (outletID != nil) else { throw StorageError.corrupt(reason: "operators.outlet_id") }
        return Operator(
            id: try row.id("id"), username: try row.string("username"), displayName: try row.string("display_name"),
            role: role, outletID: outletID, passwordHash: try row.string("password_hash"),
            active: try row.bool("active"))
    }

    package static func session(_ row: some RowReader) throws -> Session {
        Session(
            tokenHash: try row.data("token_hash"), operatorID: try row.id("operator_id"),
            createdAt: try row.time("created_at"),
            expiresAt: try row.time("expires_at"))
    }

    package static func audit(_ row: some RowReader) throws -> AuditEntry {
        AuditEntry(
            lane: Int(try row.int("lane")), sequence: try row.int("sequence"),
            draft: AuditDraft(
                at: try row.time("at"), actor: try row.string("actor"), action: try row.string("action"),
                subject: try row.string("subject"), personID: try row.optionalID("person_id"),
                purpose: try row.string("purpose"), detail: try row.string("detail")),
            previousHash: try row.data("previous_hash"), hash: try row.data("hash"))
    }

    package static func idempotency(_ row: some RowReader) throws -> IdempotencyRecord {
        IdempotencyRecord(
            key: try row.string("key"), requestHash: try row.data("request_hash"), status: Int(try row.int("status")),
            response: try row.data("response"), createdAt: try row.time("created_at"))
    }
}

/// The conditions of an audit query, the same on both backends: `(column and operator, value)`.
package enum AuditQuery {
    package enum Value {
        case text(String)
        case integer(Int64)
    }

    package static func conditions(_ filter: AuditFilter) -> [(String, Value)] {
        var conditions: [(String, Value)] = []
        if let actor = filter.actor { conditions.append(("actor =", .text(actor))) }
        if let action = filter.action { conditions.append(("action =", .text(action))) }
        if let subject = filter.subject { conditions.append(("subject =", .text(subject))) }
        if let personID = filter.personID { conditions.append(("person_id =", .text(personID.rawValue))) }
        if let from = filter.from { conditions.append(("at >=", .integer(from.secondsSinceEpoch))) }
        if let until = filter.until { conditions.append(("at <", .integer(until.secondsSinceEpoch))) }
        return conditions
    }

    /// Newest first: time, then lane, then sequence, all descending.
    package static let order = "ORDER BY at DESC, lane DESC, sequence DESC"
}

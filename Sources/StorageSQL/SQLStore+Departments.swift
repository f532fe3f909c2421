public import CitizenCardDomain
public import Foundation
public import Storage

/// Decoding of the department tables, shared by both backends.
extension Rows {
    package static func feedKindList(_ kinds: [FeedKind]) -> String {
        kinds.map(\.rawValue).joined(separator: ",")
    }

    package static func json(_ value: some Encodable) throws(StorageError) -> String {
        do {
            return String(decoding: try JSONEncoder.sorted.encode(value), as: UTF8.self)
        } catch {
            throw .corrupt(reason: "a value is not encodable as JSON")
        }
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw StorageError.corrupt(reason: column)
        }
    }

    static func date(_ row: some RowReader, _ name: String) throws -> CalendarDate {
        guard let date = CalendarDate(iso8601: try row.string(name)) else { throw StorageError.corrupt(reason: name) }
        return date
    }

    package static func department(_ row: some RowReader, prefix: String = "") throws -> Department {
        let kinds = try row.string(prefix + "feed_kinds").split(separator: ",").map { text -> FeedKind in
            guard let kind = FeedKind(rawValue: String(text)) else {
                throw StorageError.corrupt(reason: "departments.feed_kinds")
            }
            return kind
        }
        return Department(
            id: try row.id(prefix + "id"), code: try row.string(prefix + "code"), name: try row.string(prefix + "name"),
            nameZh: try row.string(prefix + "name_zh"), kind: try row.string(prefix + "kind"), feedKinds: kinds,
            active: try row.bool(prefix + "active"), createdAt: try row.time(prefix + "created_at"),
            version: try row.int(prefix + "version"))
    }

    package static func departmentClient(_ row: some RowReader, prefix: String = "") throws -> DepartmentClient {
        DepartmentClient(
            id: try row.id(prefix + "id"), departmentID: try row.id(prefix + "department_id"),
            name: try row.string(prefix + "name"),
            certificateSubject: try row.optionalString(prefix + "certificate_subject"),
            createdAt: try row.time(prefix + "created_at"), createdBy: try row.string(prefix + "created_by"),
            revokedAt: try row.optionalTime(prefix + "revoked_at"), version: try row.int(prefix + "version"))
    }

    package static func departmentKey(_ row: some RowReader) throws -> DepartmentKey {
        DepartmentKey(
            id: try row.id("id"), clientID: try row.id("client_id"), keyHash: Array(try row.data("key_hash")),
            hint: try row.string("hint"), createdAt: try row.time("created_at"),
            expiresAt: try row.time("expires_at"), revokedAt: try row.optionalTime("revoked_at"),
            version: try row.int("version"))
    }

    package static func feedRecord(_ row: some RowReader) throws -> FeedRecord {
        FeedRecord(
            departmentID: try row.id("department_id"), messageID: try row.string("message_id"),
            kind: try row.string("kind"), digest: Array(try row.data("digest")),
            receivedAt: try row.time("received_at"), clientID: try row.optionalID("client_id"),
            result: try decodeJSON(FeedResult.self, try row.string("result"), column: "feed_messages.result"))
    }

    package static func reviewItem(_ row: some RowReader) throws -> ReviewItem {
        ReviewItem(
            id: try row.id("id"), kind: try row.string("kind"), departmentID: try row.optionalID("department_id"),
            messageID: try row.optionalString("message_id"), personID: try row.optionalID("person_id"),
            grantID: try row.optionalID("grant_id"), detail: try row.string("detail"),
            createdAt: try row.time("created_at"), closedAt: try row.optionalTime("closed_at"),
            closedBy: try row.optionalString("closed_by"), closingNote: try row.optionalString("closing_note"),
            version: try row.int("version"))
    }

    package static func cardCase(_ row: some RowReader) throws -> CardCase {
        CardCase(
            id: try row.id("id"), cardID: try row.id("card_id"), personID: try row.id("person_id"),
            kind: try row.value("kind", table: "card_cases"), outletID: try row.id("outlet_id"),
            departmentID: try row.optionalID("department_id"), messageID: try row.optionalString("message_id"),
            createdAt: try row.time("created_at"), closedAt: try row.optionalTime("closed_at"),
            closedBy: try row.optionalString("closed_by"), version: try row.int("version"))
    }

    package static func cardHold(_ row: some RowReader) throws -> CardHold {
        CardHold(
            cardID: try row.id("card_id"), reason: try row.string("reason"),
            departmentID: try row.optionalID("department_id"), messageID: try row.optionalString("message_id"),
            at: try row.time("at"), purseBalanceFen: try row.int("purse_balance_fen"))
    }

    package static func grant(_ row: some RowReader) throws -> Grant {
        var agreement: Grant.Agreement? = nil
        if let reference = try row.optionalString("agreement_reference") {
            guard let signatory = try row.optionalString("agreement_signatory"),
                let signed = try row.optionalString("agreement_signed_on"),
                let signedOn = CalendarDate(iso8601: signed),
                let by = try row.optionalString("agreement_recorded_by"),
                let at = try row.optionalTime("agreement_recorded_at")
            else { throw StorageError.corrupt(reason: "grants.agreement") }
            agreement = Grant.Agreement(
                reference: reference, signatory: signatory, signedOn: signedOn, recordedBy: by, recordedAt: at)
        }
        return Grant(
            stored: try row.id("id"), departmentID: try row.id("department_id"),
            fields: try decodeJSON(
                [GrantField: DisclosureForm].self, try row.string("fields"), column: "grants.fields"),
            purpose: try row.string("purpose"), legalBasis: try row.string("legal_basis"),
            validFrom: try date(row, "valid_from"), validUntil: try date(row, "valid_until"),
            dailyVolume: try row.int("daily_volume"), ratePerMinute: try row.int("rate_per_minute"),
            state: try row.value("state", table: "grants"), requestedBy: try row.string("requested_by"),
            requestedAt: try row.time("requested_at"), decidedBy: try row.optionalString("decided_by"),
            decidedAt: try row.optionalTime("decided_at"), decisionNote: try row.optionalString("decision_note"),
            agreement: agreement, stateReason: try row.optionalString("state_reason"), version: try row.int("version"))
    }

    package static func disclosure(_ row: some RowReader) throws -> Disclosure {
        let fields = try row.string("fields")
        return Disclosure(
            id: try row.id("id"), at: try row.time("at"), kind: try row.value("kind", table: "disclosures"),
            departmentID: try row.optionalID("department_id"), clientID: try row.optionalID("client_id"),
            grantID: try row.optionalID("grant_id"), personID: try row.optionalID("person_id"),
            purpose: try row.string("purpose"), caseNumber: try row.string("case_number"),
            endUser: try row.string("end_user"),
            fields: fields.isEmpty ? [] : fields.split(separator: ",").map(String.init),
            found: try row.bool("found"))
    }
}

// MARK: Departments

extension SQLStore {
    public func departments() async throws(StorageError) -> [Department] {
        try await fetch("SELECT * FROM departments ORDER BY code\(SQL.byteOrder)") { try Rows.department($0) }
    }

    public func department(id: Department.ID) async throws(StorageError) -> Department? {
        try await fetch("SELECT * FROM departments WHERE id = \(id.rawValue)") { try Rows.department($0) }.first
    }

    public func department(code: String) async throws(StorageError) -> Department? {
        try await fetch("SELECT * FROM departments WHERE code = \(code)") { try Rows.department($0) }.first
    }

    public func departmentClients(departmentID: Department.ID) async throws(StorageError) -> [DepartmentClient] {
        try await fetch(
            "SELECT * FROM department_clients WHERE department_id = \(departmentID.rawValue) ORDER BY created_at, id"
        ) { try Rows.departmentClient($0) }
    }

    public func departmentClient(id: DepartmentClient.ID) async throws(StorageError) -> DepartmentClient? {
        try await fetch("SELECT * FROM department_clients WHERE id = \(id.rawValue)") {
            try Rows.departmentClient($0)
        }.first
    }

    public func departmentClient(certificateSubject: String) async throws(StorageError) -> DepartmentClient? {
        try await fetch("SELECT * FROM department_clients WHERE certificate_subject = \(certificateSubject)") {
            try Rows.departmentClient($0)
        }.first
    }

    public func departmentKeys(clientID: DepartmentClient.ID) async throws(StorageError) -> [DepartmentKey] {
        try await fetch(
            "SELECT * FROM department_keys WHERE client_id = \(clientID.rawValue) ORDER BY created_at, id"
        ) { try Rows.departmentKey($0) }
    }

    public func departmentCredential(keyHash: [UInt8]) async throws(StorageError) -> DepartmentCredential? {
        // One read: every request of a department client authenticates with it.
        try await fetch(
            """
            SELECT k.*, c.id AS c_id, c.department_id AS c_department_id, c.name AS c_name,
                c.certificate_subject AS c_certificate_subject, c.created_at AS c_created_at,
                c.created_by AS c_created_by, c.revoked_at AS c_revoked_at, c.version AS c_version,
                d.id AS d_id, d.code AS d_code, d.name AS d_name, d.name_zh AS d_name_zh, d.kind AS d_kind,
                d.feed_kinds AS d_feed_kinds, d.active AS d_active, d.created_at AS d_created_at,
                d.version AS d_version
            FROM department_keys k JOIN department_clients c ON c.id = k.client_id
                JOIN departments d ON d.id = c.department_id
            WHERE k.key_hash = \(Data(keyHash))
            """
        ) { row in
            DepartmentCredential(
                key: try Rows.departmentKey(row), client: try Rows.departmentClient(row, prefix: "c_"),
                department: try Rows.department(row, prefix: "d_"))
        }.first
    }

    public func cardForCheck(
        number: String
    ) async throws(StorageError) -> (
        card: Card, holderIndex: Data, blocked: Bool
    )? {
        try await fetch(
            """
            SELECT \(SQL.cardColumns), (SELECT id_index FROM persons WHERE persons.id = cards.person_id) AS holder_index,
                EXISTS (SELECT 1 FROM card_holds h WHERE h.card_id = cards.id) AS blocked
            FROM cards WHERE number = \(number)
            """
        ) { (try Rows.card($0), try $0.data("holder_index"), try $0.bool("blocked")) }.first
    }

    public func feedRecord(departmentID: Department.ID, messageID: String) async throws(StorageError) -> FeedRecord? {
        try await fetch(
            """
            SELECT * FROM feed_messages WHERE department_id = \(departmentID.rawValue) AND message_id = \(messageID)
            """
        ) { try Rows.feedRecord($0) }.first
    }

    public func feedRecords(
        departmentID: Department.ID, messageIDs: [String]
    ) async throws(StorageError)
        -> [FeedRecord]
    {
        guard !messageIDs.isEmpty else { return [] }
        let list = SQL.joined(messageIDs.map { "\($0)" }, separator: ", ")
        return try await fetch(
            "SELECT * FROM feed_messages WHERE department_id = \(departmentID.rawValue) AND message_id IN (\(list))"
        ) { try Rows.feedRecord($0) }
    }

    public func persons(idIndexes: [Data]) async throws(StorageError) -> [SealedPerson] {
        guard !idIndexes.isEmpty else { return [] }
        let list = SQL.joined(idIndexes.map { "\($0)" }, separator: ", ")
        return try await fetch("SELECT * FROM persons WHERE id_index IN (\(list))") { try Rows.person($0) }
    }

    public func feedRecords(
        departmentID: Department.ID?, outcome: FeedResult.Outcome?, limit: Int
    ) async throws(StorageError) -> [FeedRecord] {
        let byDepartment: SQL = departmentID.map { "AND department_id = \($0.rawValue)" } ?? ""
        let byOutcome: SQL = outcome.map { "AND outcome = \($0.rawValue)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM feed_messages WHERE 1 = 1 \(byDepartment) \(byOutcome)
            ORDER BY received_at DESC, message_id\(SQL.byteOrder) DESC LIMIT \(capped(limit))
            """
        ) { try Rows.feedRecord($0) }
    }

    public func reviewItems(open: Bool, limit: Int) async throws(StorageError) -> [ReviewItem] {
        try await fetch(
            """
            SELECT * FROM review_items WHERE \(raw: open ? "closed_at IS NULL" : "closed_at IS NOT NULL")
            ORDER BY created_at, id\(SQL.byteOrder) LIMIT \(capped(limit))
            """
        ) { try Rows.reviewItem($0) }
    }

    public func reviewItem(id: ReviewItem.ID) async throws(StorageError) -> ReviewItem? {
        try await fetch("SELECT * FROM review_items WHERE id = \(id.rawValue)") { try Rows.reviewItem($0) }.first
    }

    public func cardCases(open: Bool, outletID: Outlet.ID?, limit: Int) async throws(StorageError) -> [CardCase] {
        let byOutlet: SQL = outletID.map { "AND outlet_id = \($0.rawValue)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM card_cases WHERE \(raw: open ? "closed_at IS NULL" : "closed_at IS NOT NULL") \(byOutlet)
            ORDER BY created_at, id\(SQL.byteOrder) LIMIT \(capped(limit))
            """
        ) { try Rows.cardCase($0) }
    }

    public func cardCases(cardID: Card.ID) async throws(StorageError) -> [CardCase] {
        try await fetch("SELECT * FROM card_cases WHERE card_id = \(cardID.rawValue) ORDER BY created_at, id") {
            try Rows.cardCase($0)
        }
    }

    public func cardCase(id: CardCase.ID) async throws(StorageError) -> CardCase? {
        try await fetch("SELECT * FROM card_cases WHERE id = \(id.rawValue)") { try Rows.cardCase($0) }.first
    }

    public func cardHold(cardID: Card.ID) async throws(StorageError) -> CardHold? {
        try await fetch("SELECT * FROM card_holds WHERE card_id = \(cardID.rawValue)") { try Rows.cardHold($0) }.first
    }

    public func grants(departmentID: Department.ID?) async throws(StorageError) -> [Grant] {
        let byDepartment: SQL = departmentID.map { "WHERE department_id = \($0.rawValue)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM grants \(byDepartment)
            ORDER BY requested_at DESC, id\(SQL.byteOrder) DESC
            """
        ) { try Rows.grant($0) }
    }

    public func grant(id: Grant.ID) async throws(StorageError) -> Grant? {
        try await fetch("SELECT * FROM grants WHERE id = \(id.rawValue)") { try Rows.grant($0) }.first
    }

    public func disclosures(personID: Person.ID, limit: Int) async throws(StorageError) -> [Disclosure] {
        try await fetch(
            """
            SELECT * FROM disclosures WHERE person_id = \(personID.rawValue)
            ORDER BY at DESC, id\(SQL.byteOrder) DESC LIMIT \(capped(limit))
            """
        ) { try Rows.disclosure($0) }
    }

    public func disclosures(
        departmentID: Department.ID, before: (at: Timestamp, id: Disclosure.ID)?, limit: Int
    ) async throws(StorageError) -> [Disclosure] {
        let after: SQL =
            before.map {
                """
                AND (at < \($0.at.secondsSinceEpoch)
                    OR (at = \($0.at.secondsSinceEpoch) AND id\(SQL.byteOrder) < \($0.id.rawValue)))
                """
            } ?? ""
        return try await fetch(
            """
            SELECT * FROM disclosures WHERE department_id = \(departmentID.rawValue) \(after)
            ORDER BY at DESC, id\(SQL.byteOrder) DESC LIMIT \(capped(limit))
            """
        ) { try Rows.disclosure($0) }
    }

    public func disclosureCounts(from: Timestamp, until: Timestamp) async throws(StorageError) -> [DisclosureCount] {
        try await fetch(
            """
            SELECT department_id, grant_id, kind, found, count(*) AS n, count(DISTINCT person_id) AS persons
            FROM disclosures WHERE at >= \(from.secondsSinceEpoch) AND at < \(until.secondsSinceEpoch)
            GROUP BY department_id, grant_id, kind, found
            ORDER BY department_id, grant_id, kind, found
            """
        ) { row in
            DisclosureCount(
                departmentID: try row.optionalID("department_id"), grantID: try row.optionalID("grant_id"),
                kind: try row.value("kind", table: "disclosures"), found: try row.bool("found"),
                count: try row.int("n"), persons: try row.int("persons"))
        }
    }

    public func grantUsage(
        grantID: Grant.ID, since: Timestamp
    ) async throws(StorageError) -> (
        requests: Int64, persons: Int64
    ) {
        try await fetch(
            """
            SELECT count(*) AS n, count(DISTINCT person_id) AS persons FROM disclosures
            WHERE grant_id = \(grantID.rawValue) AND at >= \(since.secondsSinceEpoch)
            """
        ) { (try $0.int("n"), try $0.int("persons")) }.first ?? (0, 0)
    }
}

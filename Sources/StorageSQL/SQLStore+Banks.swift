public import CitizenCardDomain
public import Foundation
public import Storage

/// Partner banks' reads, shared by both backends.
extension SQLStore {
    public func banks() async throws(StorageError) -> [PartnerBank] {
        try await fetch("SELECT * FROM banks ORDER BY code") { try Rows.bank($0) }
    }

    public func bank(code: String) async throws(StorageError) -> PartnerBank? {
        try await fetch("SELECT * FROM banks WHERE code = \(code)") { try Rows.bank($0) }.first
    }

    public func bankAccount(cardID: Card.ID) async throws(StorageError) -> BankAccount? {
        try await fetch("SELECT * FROM bank_accounts WHERE card_id = \(cardID.rawValue)") { try Rows.bankAccount($0) }
            .first
    }

    public func bankAccounts(cardIDs: [Card.ID]) async throws(StorageError) -> [BankAccount] {
        var result: [BankAccount] = []
        for chunk in stride(from: 0, to: cardIDs.count, by: 500).map({
            Array(cardIDs[$0..<min($0 + 500, cardIDs.count)])
        }) {
            let list = SQL.list(chunk.map { .text($0.rawValue) })
            result += try await fetch("SELECT * FROM bank_accounts WHERE card_id IN (\(list))") {
                try Rows.bankAccount($0)
            }
        }
        return result
    }

    public func bankAccount(index: Data) async throws(StorageError) -> BankAccount? {
        try await fetch("SELECT * FROM bank_accounts WHERE number_index = \(index)") { try Rows.bankAccount($0) }.first
    }

    public func bankAccounts(bankCode: String, openedOn: String) async throws(StorageError) -> [BankAccount] {
        try await fetch(
            "SELECT * FROM bank_accounts WHERE bank_code = \(bankCode) AND opened_on = \(openedOn) ORDER BY card_id"
        ) { try Rows.bankAccount($0) }
    }

    public func dueBankNotices(now: Timestamp, limit: Int) async throws(StorageError) -> [BankNotice] {
        try await fetch(
            """
            SELECT * FROM bank_notices n
            WHERE n.state = 'pending' AND n.next_attempt_at <= \(now.secondsSinceEpoch)
                AND NOT EXISTS (SELECT 1 FROM bank_notices p
                    WHERE p.card_id = n.card_id AND p.sequence < n.sequence AND p.state <> 'delivered')
            ORDER BY n.next_attempt_at, n.id LIMIT \(Int64(limit))
            """
        ) { try Rows.bankNotice($0) }
    }

    public func nextBankNoticeDue() async throws(StorageError) -> Timestamp? {
        try await fetch("SELECT MIN(next_attempt_at) AS due FROM bank_notices WHERE state = 'pending'") {
            try $0.optionalTime("due")
        }.first ?? nil
    }

    public func bankNotice(id: Int64) async throws(StorageError) -> BankNotice? {
        try await fetch("SELECT * FROM bank_notices WHERE id = \(id)") { try Rows.bankNotice($0) }.first
    }

    public func bankNotices(
        bankCode: String?, state: BankNotice.State?, limit: Int
    ) async throws(StorageError)
        -> [BankNotice]
    {
        // Optional filters as clauses, not `$1 IS NULL`: PostgreSQL cannot type a parameter that
        // is only compared with NULL.
        let bank: SQL = bankCode.map { "AND bank_code = \($0)" } ?? ""
        let inState: SQL = state.map { "AND state = \($0.rawValue)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM bank_notices WHERE TRUE \(bank) \(inState)
            ORDER BY id DESC LIMIT \(Int64(limit))
            """
        ) { try Rows.bankNotice($0) }
    }

    public func bankNotices(cardID: Card.ID) async throws(StorageError) -> [BankNotice] {
        try await fetch("SELECT * FROM bank_notices WHERE card_id = \(cardID.rawValue) ORDER BY sequence") {
            try Rows.bankNotice($0)
        }
    }

    public func bankNotices(bankCode: String, businessDate: String) async throws(StorageError) -> [BankNotice] {
        try await fetch(
            "SELECT * FROM bank_notices WHERE bank_code = \(bankCode) AND business_date = \(businessDate) ORDER BY id"
        ) { try Rows.bankNotice($0) }
    }

    public func bankNoticeCounts() async throws(StorageError) -> [BankNoticeCount] {
        try await fetch(
            """
            SELECT bank_code,
                SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending,
                SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END) AS delivered,
                SUM(CASE WHEN state = 'parked' THEN 1 ELSE 0 END) AS parked,
                MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
            FROM bank_notices GROUP BY bank_code ORDER BY bank_code
            """
        ) { row in
            BankNoticeCount(
                bankCode: try row.string("bank_code"), pending: try row.int("pending"),
                delivered: try row.int("delivered"), parked: try row.int("parked"),
                oldestPending: try row.optionalTime("oldest"))
        }
    }

    public func bankInboundNotice(bankCode: String, noticeID: String) async throws(StorageError) -> BankInboundNotice? {
        try await fetch(
            "SELECT * FROM bank_inbound_notices WHERE bank_code = \(bankCode) AND notice_id = \(noticeID)"
        ) { row in
            BankInboundNotice(
                bankCode: try row.string("bank_code"), noticeID: try row.string("notice_id"),
                kind: try row.string("kind"), cardID: try row.optionalID("card_id"),
                receivedAt: try row.time("received_at"), outcome: try row.string("outcome"))
        }.first
    }

    public func bankReconciliation(
        bankCode: String, businessDate: String
    ) async throws(StorageError)
        -> BankReconciliation?
    {
        try await fetch(
            "SELECT * FROM bank_reconciliations WHERE bank_code = \(bankCode) AND business_date = \(businessDate)"
        ) { try Rows.bankReconciliation($0) }.first
    }

    public func bankReconciliations(bankCode: String?, limit: Int) async throws(StorageError) -> [BankReconciliation] {
        let bank: SQL = bankCode.map { "WHERE bank_code = \($0)" } ?? ""
        return try await fetch(
            """
            SELECT * FROM bank_reconciliations \(bank)
            ORDER BY business_date DESC, bank_code LIMIT \(Int64(limit))
            """
        ) { try Rows.bankReconciliation($0) }
    }
}

extension Rows {
    static func bank(_ row: some RowReader) throws -> PartnerBank {
        PartnerBank(
            code: try row.string("code"), name: try row.string("name"),
            bins: try row.string("bins").split(separator: ",").map(String.init), endpoint: try row.string("endpoint"),
            sealedSecret: try row.data("secret"), activeFrom: try row.time("active_from"),
            activeUntil: try row.optionalTime("active_until"), isDefault: try row.bool("is_default"),
            createdAt: try row.time("created_at"), createdBy: try row.string("created_by"),
            version: try row.int("version"))
    }

    static func bankAccount(_ row: some RowReader) throws -> BankAccount {
        BankAccount(
            cardID: try row.id("card_id"), bankCode: try row.string("bank_code"),
            state: try row.value("state", table: "bank_accounts"), sealedNumber: try row.optionalData("number"),
            maskedNumber: try row.optionalString("number_masked"), numberIndex: try row.optionalData("number_index"),
            reason: try row.optionalString("reason"), previousCardID: try row.optionalID("previous_card_id"),
            requestedAt: try row.time("requested_at"), openedAt: try row.optionalTime("opened_at"),
            openedOn: try row.optionalString("opened_on"), closedAt: try row.optionalTime("closed_at"),
            attempts: try row.int("attempts"), version: try row.int("version"))
    }

    static func bankNotice(_ row: some RowReader) throws -> BankNotice {
        BankNotice(
            id: try row.int("id"), noticeID: try row.string("notice_id"), bankCode: try row.string("bank_code"),
            cardID: try row.id("card_id"), kind: try row.string("kind"), sequence: try row.int("sequence"),
            payload: try row.data("payload"), state: try row.value("state", table: "bank_notices"),
            attempts: try row.int("attempts"), nextAttemptAt: try row.time("next_attempt_at"),
            lastError: try row.optionalString("last_error"), createdAt: try row.time("created_at"),
            businessDate: try row.string("business_date"), deliveredAt: try row.optionalTime("delivered_at"),
            parkedAt: try row.optionalTime("parked_at"))
    }

    static func bankReconciliation(_ row: some RowReader) throws -> BankReconciliation {
        BankReconciliation(
            bankCode: try row.string("bank_code"), businessDate: try row.string("business_date"),
            runAt: try row.time("run_at"), runBy: try row.string("run_by"), noticesSent: try row.int("notices_sent"),
            noticesConfirmed: try row.int("notices_confirmed"), accountsOpened: try row.int("accounts_opened"),
            accountsConfirmed: try row.int("accounts_confirmed"), differences: try row.data("differences"),
            differenceCount: try row.int("difference_count"))
    }
}

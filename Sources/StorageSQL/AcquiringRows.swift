package import Storage
package import CitizenCardDomain
package import Ledger
import Foundation

/// Decoding of the acquiring tables, shared by both backends.
extension Rows {
    /// The version of the last hotlist published, 0 before the first.
    package static let currentHotlistVersion: SQL = "SELECT coalesce(max(version), 0) AS version FROM hotlist_versions"

    package static func merchant(_ row: some RowReader) throws -> Merchant {
        Merchant(
            id: try row.id("id"), code: try row.string("code"), name: try row.string("name"),
            commissionBasisPoints: try row.int("commission_bp"), createdAt: try row.time("created_at"),
            active: try row.bool("active"), version: try row.int("version"))
    }

    package static func terminal(_ row: some RowReader) throws -> Terminal {
        var terminal = Terminal(
            id: try row.id("id"), number: try row.string("number"), merchantID: try row.id("merchant_id"),
            psamSerial: try row.string("psam_serial"), location: try row.string("location"),
            latitudeE6: try row.optionalInt("latitude_e6"), longitudeE6: try row.optionalInt("longitude_e6"),
            keyHash: Array(try row.data("key_hash")), createdAt: try row.time("created_at"))
        terminal.hotlistVersion = try row.optionalInt("hotlist_version")
        terminal.lastSignInAt = try row.optionalTime("last_sign_in_at")
        terminal.active = try row.bool("active")
        terminal.version = try row.int("version")
        return terminal
    }

    package static func purchaseBatch(_ row: some RowReader) throws -> PurchaseBatch {
        PurchaseBatch(
            id: try row.id("id"), terminalID: try row.id("terminal_id"), merchantID: try row.id("merchant_id"),
            number: try row.int("number"), contentHash: try row.string("content_hash"),
            recordCount: try row.int("record_count"), postedCount: try row.int("posted_count"),
            riskCount: try row.int("risk_count"), parkedCount: try row.int("parked_count"),
            duplicateCount: try row.int("duplicate_count"), acceptedFen: try row.int("accepted_fen"),
            receivedAt: try row.time("received_at"))
    }

    package static func purchase(_ row: some RowReader) throws -> OfflinePurchase {
        OfflinePurchase(
            id: try row.id("id"), batchID: try row.id("batch_id"), terminalID: try row.id("terminal_id"),
            merchantID: try row.id("merchant_id"), cardID: try row.optionalID("card_id"), asn: try row.string("asn"),
            cardCounter: try row.int("card_counter"), psamSerial: try row.string("psam_serial"),
            terminalSerial: try row.int("terminal_serial"), amountFen: try row.int("amount_fen"),
            balanceBeforeFen: try row.int("balance_before_fen"), balanceAfterFen: try row.int("balance_after_fen"),
            transactionType: try row.int("transaction_type"), tappedAt: try row.time("tapped_at"),
            keyVersion: try row.int("key_version"), algorithmID: try row.int("algorithm_id"),
            tac: try row.string("tac"), mac2: try row.string("mac2"), recordStatus: try row.string("record_status"),
            outcome: try row.value("outcome", table: "offline_purchases"),
            reason: try row.optionalValue("reason", table: "offline_purchases"),
            postedAt: try row.optionalTime("posted_at"), receivedAt: try row.time("received_at"))
    }

    /// A closure from `purchase_exception_closures`' columns, nil when `closed_at` is NULL (a record
    /// left-joined with no closure).
    package static func closure(_ row: some RowReader) throws -> ExceptionClosure? {
        guard let closedAt = try row.optionalTime("closed_at") else { return nil }
        return ExceptionClosure(
            purchaseID: try row.id("purchase_id"), note: try row.string("note"), closedBy: try row.string("closed_by"),
            closedAt: closedAt)
    }

    /// The columns and tables of a closed exception's read (`closedException`); add the order.
    package static let closedExceptionsSQL = """
        SELECT p.*, c.purchase_id, c.note, c.closed_by, c.closed_at
        FROM purchase_exception_closures c JOIN offline_purchases p ON p.id = c.purchase_id
        """

    package static func closedException(_ row: some RowReader) throws -> ClosedException {
        guard let closure = try closure(row) else { throw StorageError.corrupt(reason: "closed_at") }
        return ClosedException(purchase: try purchase(row), closure: closure)
    }

    /// A record and its closure, from `offline_purchases` left-joined with its closure.
    package static func purchaseWithClosure(_ row: some RowReader) throws -> (OfflinePurchase, ExceptionClosure?) {
        (try purchase(row), try closure(row))
    }

    package static func chain(_ row: some RowReader) throws -> PurseChain {
        PurseChain(
            cardID: try row.id("card_id"), nextCounter: try row.int("next_counter"),
            balanceFen: try row.int("balance_fen"), nextOnlineCounter: try row.int("next_online_counter"),
            lastTappedAt: try row.optionalTime("last_tapped_at"),
            lastTerminalID: try row.optionalID("last_terminal_id"),
            lastLatitudeE6: try row.optionalInt("last_latitude_e6"),
            lastLongitudeE6: try row.optionalInt("last_longitude_e6"),
            version: try row.int("version"))
    }

    package static func fraudSignal(_ row: some RowReader) throws -> FraudSignal {
        FraudSignal(
            id: try row.id("id"), kind: try row.value("kind", table: "fraud_signals"),
            cardID: try row.optionalID("card_id"), asn: try row.string("asn"),
            purchaseID: try row.optionalID("purchase_id"), evidence: try row.string("evidence"),
            detectedAt: try row.time("detected_at"))
    }

    /// The clearing day of a record posted at `time`: its date in Asia/Shanghai.
    package static func postedOn(_ time: Timestamp?) -> String? { time?.calendarDate().iso8601 }

    /// The park reasons an operator may close (`ParkReason.isClosable`), as an SQL list.
    package static let closableReasonsSQL = OfflinePurchase.ParkReason.allCases.filter(\.isClosable)
        .map { "'\($0.rawValue)'" }.joined(separator: ", ")

    /// Card states that put a card on the hotlist.
    package static let hotlistedStates: [CardState] = [.preLost, .lost, .replaced, .cancelled, .expired]
}

extension Rows {
    package static func clearingLine(_ row: some RowReader) throws -> ClearingLine {
        ClearingLine(
            merchantID: try row.id("merchant_id"), terminalID: try row.id("terminal_id"),
            outcome: try row.value("outcome", table: "offline_purchases"), count: try row.int("n"),
            amountFen: try row.int("fen"), releasedCount: try row.int("released_n"),
            releasedFen: try row.int("released_fen"))
    }

    package static func clearingResult(_ row: some RowReader) throws -> ClearingResult {
        guard let date = CalendarDate(iso8601: try row.string("business_date")) else {
            throw StorageError.corrupt(reason: "clearing_results.business_date")
        }
        return ClearingResult(
            businessDate: date, merchantID: try row.id("merchant_id"), recordCount: try row.int("record_count"),
            grossFen: try row.int("gross_fen"), riskFen: try row.int("risk_fen"),
            commissionBasisPoints: try row.int("commission_basis_points"), commissionFen: try row.int("commission_fen"),
            netFen: try row.int("net_fen"), clearedAt: try row.time("cleared_at"))
    }

    package static func batchTotal(_ row: some RowReader) throws -> BatchTotal {
        BatchTotal(
            terminalID: try row.id("terminal_id"), batches: try row.int("batches"), records: try row.int("records"),
            posted: try row.int("posted"), risk: try row.int("risk"), parked: try row.int("parked"),
            duplicates: try row.int("duplicates"), acceptedFen: try row.int("accepted_fen"))
    }

    package static func accountTotals(_ pairs: [(String, Int64)]) throws(StorageError) -> [AccountID: Int64] {
        var result: [AccountID: Int64] = [:]
        for (key, fen) in pairs {
            guard let account = AccountID(parsing: key) else {
                throw StorageError.corrupt(reason: "ledger account key")
            }
            result[account] = fen
        }
        return result
    }
}

extension Rows {
    package static func purseClosure(_ row: some RowReader) throws -> PurseClosure {
        var closure = PurseClosure(
            cardID: try row.id("card_id"), successorID: try row.optionalID("successor_id"),
            kind: try row.value("kind", table: "purse_closures"), amountFen: try row.int("amount_fen"),
            closedAt: try row.time("closed_at"))
        closure.status = try row.value("status", table: "purse_closures")
        closure.settledAt = try row.optionalTime("settled_at")
        closure.settlement = try row.optionalString("settlement")
        closure.version = try row.int("version")
        return closure
    }

    /// States whose card's purse is closed after the waiting period.
    package static let closedPurseStates: [CardState] = [.replaced, .cancelled, .expired]

    package static func refundPayee(_ row: some RowReader) throws -> RefundPayee {
        RefundPayee(
            cardID: try row.id("card_id"), kind: try row.value("kind", table: "refund_payees"),
            relationship: try row.optionalValue("relationship", table: "refund_payees"),
            nameMasked: try row.string("name_masked"), idNumberMasked: try row.string("id_number_masked"),
            documentReferenceMasked: try row.optionalString("document_masked"), channel: try row.string("channel"),
            bankName: try row.optionalString("bank_name"), accountMasked: try row.optionalString("account_masked"),
            paidAt: try row.time("paid_at"), outletID: try row.id("outlet_id"), actor: try row.string("actor"))
    }

    package static func suspenseDecision(_ row: some RowReader) throws -> SuspenseDecision {
        SuspenseDecision(
            id: try row.id("id"), source: try row.value("source", table: "suspense_decisions"),
            outcome: try row.value("outcome", table: "suspense_decisions"), amountFen: try row.int("amount_fen"),
            merchantID: try row.optionalID("merchant_id"), cardID: try row.optionalID("card_id"),
            decisionReference: try row.string("decision_reference"), reason: try row.string("reason"),
            decidedAt: try row.time("decided_at"), actor: try row.string("actor"))
    }
}

extension Rows {
    /// The columns of a purse state read: the card's, the chain's (NULL without a chain) and the balance.
    package static let purseStateSelect = "SELECT \(purseStateColumns) FROM cards c \(purseStateJoins)"
    package static let purseStateColumns = """
        c.id, c.asn, c.loss_effective_at, pc.card_id, pc.next_counter, pc.balance_fen,
            pc.next_online_counter, pc.last_tapped_at, pc.last_terminal_id, pc.last_latitude_e6, pc.last_longitude_e6,
            pc.version, coalesce(la.balance_fen, 0) AS purse_balance_fen
        """
    /// The chain and the purse's balance of the cards `c`.
    package static let purseStateJoins = """
        LEFT JOIN purse_chains pc ON pc.card_id = c.id
        LEFT JOIN ledger_accounts la ON la.id = 'purse:' || c.id
        """

    package static func purseState(_ row: some RowReader) throws -> PurseState {
        let card = PurseCard(
            id: try row.id("id"), asn: try row.string("asn"), lossEffectiveAt: try row.optionalTime("loss_effective_at")
        )
        let chain = try row.optionalString("card_id") == nil ? nil : try Rows.chain(row)
        return PurseState(card: card, chain: chain, signedBalanceFen: try row.int("purse_balance_fen"))
    }
}

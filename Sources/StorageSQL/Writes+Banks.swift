import CitizenCardDomain
import Foundation
package import Storage

extension Writes {
    // MARK: Banks

    static let bankColumns = """
        code, name, bins, endpoint, secret, active_from, active_until, is_default, created_at, created_by, version
        """

    static let accountColumns = """
        card_id, bank_code, state, number, number_masked, number_index, reason, previous_card_id, requested_at,
        opened_at, opened_on, closed_at, attempts, version
        """

    /// Partner banks, accounts, the notice outbox, notices received, reconciliations.
    package static func banks(_ change: ChangeSet.Change.Banks, dialect: SQLDialect) throws(StorageError) -> WritePlan {
        switch change {
        case .insertBank(let b):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO banks (\(raw: bankColumns))
                    VALUES (\(b.code), \(b.name), \(b.bins.joined(separator: ",")), \(b.endpoint), \(b.sealedSecret),
                        \(b.activeFrom.secondsSinceEpoch), \(b.activeUntil?.secondsSinceEpoch), \(b.isDefault),
                        \(b.createdAt.secondsSinceEpoch), \(b.createdBy), \(b.version))
                    """, rows: .oneOrDuplicate(.bankCode))
            ])
        case .updateBank(let b, let expected):
            precondition(b.version == expected + 1)
            return .steps([
                WriteStep(
                    """
                    UPDATE banks SET name = \(b.name), bins = \(b.bins.joined(separator: ",")),
                        endpoint = \(b.endpoint), secret = \(b.sealedSecret),
                        active_from = \(b.activeFrom.secondsSinceEpoch),
                        active_until = \(b.activeUntil?.secondsSinceEpoch), is_default = \(b.isDefault),
                        version = \(b.version)
                    WHERE code = \(b.code) AND version = \(expected)
                    """, rows: .one(conflict: "bank"))
            ])
        case .insertBankAccount(let a):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO bank_accounts (\(raw: accountColumns))
                    VALUES (\(a.cardID.rawValue), \(a.bankCode), \(a.state.rawValue), \(a.sealedNumber),
                        \(a.maskedNumber), \(a.numberIndex), \(a.reason), \(a.previousCardID?.rawValue),
                        \(a.requestedAt.secondsSinceEpoch), \(a.openedAt?.secondsSinceEpoch), \(a.openedOn),
                        \(a.closedAt?.secondsSinceEpoch), \(a.attempts), \(a.version))
                    """, rows: .oneOrDuplicate(.bankAccount))
            ])
        case .updateBankAccount(let a, let expected):
            precondition(a.version > expected)
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_accounts SET bank_code = \(a.bankCode), state = \(a.state.rawValue),
                        number = \(a.sealedNumber), number_masked = \(a.maskedNumber),
                        number_index = \(a.numberIndex), reason = \(a.reason),
                        opened_at = \(a.openedAt?.secondsSinceEpoch), opened_on = \(a.openedOn),
                        closed_at = \(a.closedAt?.secondsSinceEpoch), attempts = \(a.attempts), version = \(a.version)
                    WHERE card_id = \(a.cardID.rawValue) AND version = \(expected)
                    """, rows: .one(conflict: "bank account"))
            ])
        case .enqueueNotice(let n):
            // Written only for a card with an open account, to its bank, as the card's next
            // notice. Two commits for one card are ordered by the card's own version guard (the
            // change that causes a notice updates the card first); the UNIQUE (card_id, sequence)
            // refuses whatever slips past it.
            return .steps([
                WriteStep(
                    """
                    INSERT INTO bank_notices (notice_id, bank_code, card_id, kind, sequence, payload, state, attempts,
                        next_attempt_at, created_at, business_date)
                    SELECT \(n.noticeID), a.bank_code, a.card_id, \(n.kind),
                        (SELECT COALESCE(MAX(p.sequence), 0) + 1 FROM bank_notices p WHERE p.card_id = a.card_id),
                        \(n.payload), 'pending', 0, \(n.createdAt.secondsSinceEpoch), \(n.createdAt.secondsSinceEpoch),
                        \(n.businessDate)
                    FROM bank_accounts a WHERE a.card_id = \(n.cardID.rawValue) AND a.state = 'open'
                    """)
            ])
        case .noticeDelivered(let id, let at):
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_notices SET state = 'delivered', delivered_at = \(at.secondsSinceEpoch),
                        attempts = attempts + 1, last_error = NULL
                    WHERE id = \(id) AND state = 'pending'
                    """, rows: .one(conflict: "bank notice"))
            ])
        case .noticeFailed(let id, let error, let next, let parkedAt):
            let state = parkedAt == nil ? "pending" : "parked"
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_notices SET attempts = attempts + 1, last_error = \(String(error.prefix(200))),
                        next_attempt_at = \(next.secondsSinceEpoch), state = \(state),
                        parked_at = \(parkedAt?.secondsSinceEpoch)
                    WHERE id = \(id) AND state = 'pending'
                    """, rows: .one(conflict: "bank notice"))
            ])
        case .retryNotice(let id, let at):
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_notices SET state = 'pending', next_attempt_at = \(at.secondsSinceEpoch),
                        parked_at = NULL, attempts = 0
                    WHERE id = \(id) AND state = 'parked'
                    """, rows: .one(conflict: "bank notice"))
            ])
        case .wakeNotices(let bankCode, let at):
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_notices SET next_attempt_at = \(at.secondsSinceEpoch)
                    WHERE bank_code = \(bankCode) AND state = 'pending' AND next_attempt_at > \(at.secondsSinceEpoch)
                    """)
            ])
        case .deferNotices(let bankCode, let until):
            return .steps([
                WriteStep(
                    """
                    UPDATE bank_notices SET next_attempt_at = \(until.secondsSinceEpoch)
                    WHERE bank_code = \(bankCode) AND state = 'pending' AND next_attempt_at < \(until.secondsSinceEpoch)
                    """)
            ])
        case .insertInboundNotice(let n):
            return .steps([
                WriteStep(
                    """
                    INSERT INTO bank_inbound_notices (bank_code, notice_id, kind, card_id, received_at, outcome)
                    VALUES (\(n.bankCode), \(n.noticeID), \(n.kind), \(n.cardID?.rawValue),
                        \(n.receivedAt.secondsSinceEpoch), \(n.outcome))
                    """, rows: .oneOrDuplicate(.bankInboundNotice))
            ])
        case .putReconciliation(let r):
            return .steps([
                WriteStep(
                    "DELETE FROM bank_reconciliations WHERE bank_code = \(r.bankCode) AND business_date = \(r.businessDate)"
                ),
                WriteStep(
                    """
                    INSERT INTO bank_reconciliations (bank_code, business_date, run_at, run_by, notices_sent,
                        notices_confirmed, accounts_opened, accounts_confirmed, differences, difference_count)
                    VALUES (\(r.bankCode), \(r.businessDate), \(r.runAt.secondsSinceEpoch), \(r.runBy),
                        \(r.noticesSent), \(r.noticesConfirmed), \(r.accountsOpened), \(r.accountsConfirmed),
                        \(r.differences), \(r.differenceCount))
                    """),
            ])
        }
    }
}

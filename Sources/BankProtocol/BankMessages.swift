public import Foundation

/// The messages between the card center and a partner bank (issue 20, docs/banks.md "The wire
/// protocol"). JSON bodies over HTTP(S), each request signed (`BankSignature`). Times are Unix
/// seconds; a `businessDate` is the city's calendar day (`YYYY-MM-DD`) the message belongs to,
/// by which both sides reconcile.
public enum BankMessages {
    // MARK: Center → bank: account opening (`POST {endpoint}/accounts`)

    /// Asks the bank for the account behind a new card. `requestId` is the card's id: the bank
    /// answers the same account for the same id, however often it is asked.
    public struct AccountRequest: Codable, Sendable, Hashable {
        public var requestId: String
        public var cardNumber: String
        public var name: String
        public var idNumber: String
        /// The card this one succeeds (reissue, replacement, renewal): the bank moves its account.
        public var previousCardNumber: String?
        public var businessDate: String

        public init(
            requestId: String, cardNumber: String, name: String, idNumber: String, previousCardNumber: String?,
            businessDate: String
        ) {
            self.requestId = requestId
            self.cardNumber = cardNumber
            self.name = name
            self.idNumber = idNumber
            self.previousCardNumber = previousCardNumber
            self.businessDate = businessDate
        }
    }

    /// 200 with `accountNumber`, or 422 with `refused` (the bank's reason, shown to staff).
    public struct AccountAnswer: Codable, Sendable, Hashable {
        public var requestId: String
        public var accountNumber: String?
        public var refused: String?

        public init(requestId: String, accountNumber: String? = nil, refused: String? = nil) {
            self.requestId = requestId
            self.accountNumber = accountNumber
            self.refused = refused
        }
    }

    // MARK: Center → bank: notices (`POST {endpoint}/notices`)

    public enum NoticeKind: String, Codable, Sendable, CaseIterable {
        /// A written loss report (挂失): the card is lost from `effectiveAt`.
        case lossWritten = "loss_written"
        /// A temporary loss report (口头挂失) by phone, portal or the bank itself.
        case lossPre = "loss_pre"
        /// The loss was withdrawn (解挂): the card is usable again.
        case lossWithdrawn = "loss_withdrawn"
        /// A temporary loss lapsed without a written report: usable again.
        case lossLapsed = "loss_lapsed"
        /// The lost card is replaced by `successorCardNumber` (补领).
        case reissue
        /// The card will be replaced by `successorCardNumber` (换领); usable until it is issued.
        case replacement
        /// The card is renewed by `successorCardNumber` (到期换卡).
        case renewal
        /// The card is cancelled (注销).
        case cancellation
        /// The holder died (the civil-affairs feed); the card is blocked.
        case death
    }

    public struct Notice: Codable, Sendable, Hashable {
        /// The idempotency id: the bank acts on a notice id once and echoes it in its answer.
        public var noticeId: String
        public var kind: NoticeKind
        public var cardNumber: String
        public var accountNumber: String
        /// When the event took effect, to the second (for a loss: the moment from which
        /// transactions are not the holder's).
        public var effectiveAt: Int64
        public var createdAt: Int64
        public var businessDate: String
        /// Per card, 1, 2, 3 … in the order the center made them; the bank may check it.
        public var sequence: Int64
        public var successorCardNumber: String?

        public init(
            noticeId: String, kind: NoticeKind, cardNumber: String, accountNumber: String, effectiveAt: Int64,
            createdAt: Int64, businessDate: String, sequence: Int64, successorCardNumber: String? = nil
        ) {
            self.noticeId = noticeId
            self.kind = kind
            self.cardNumber = cardNumber
            self.accountNumber = accountNumber
            self.effectiveAt = effectiveAt
            self.createdAt = createdAt
            self.businessDate = businessDate
            self.sequence = sequence
            self.successorCardNumber = successorCardNumber
        }
    }

    /// 200: `accepted` the first time, `duplicate` for a notice id seen before (not acted on again).
    public struct NoticeAnswer: Codable, Sendable, Hashable {
        public var noticeId: String
        public var status: String

        public init(noticeId: String, status: String) {
            self.noticeId = noticeId
            self.status = status
        }
    }

    // MARK: Bank → center: notices (`POST /api/v1/banks/{code}/notices` at the center)

    public enum BankNoticeKind: String, Codable, Sendable, CaseIterable {
        /// Reported lost at the bank's counter or app: a temporary loss on the card.
        case loss
        /// The bank closed the account behind the card.
        case accountClosed = "account_closed"
    }

    public struct BankNotice: Codable, Sendable, Hashable {
        public var noticeId: String
        public var kind: BankNoticeKind
        public var cardNumber: String
        public var accountNumber: String
        public var occurredAt: Int64

        public init(
            noticeId: String, kind: BankNoticeKind, cardNumber: String, accountNumber: String, occurredAt: Int64
        ) {
            self.noticeId = noticeId
            self.kind = kind
            self.cardNumber = cardNumber
            self.accountNumber = accountNumber
            self.occurredAt = occurredAt
        }
    }

    /// The center's answer: `applied`, or `duplicate` (the same notice id again: the first answer
    /// stands, nothing is done twice).
    public struct BankNoticeAnswer: Codable, Sendable, Hashable {
        public var noticeId: String
        public var status: String

        public init(noticeId: String, status: String) {
            self.noticeId = noticeId
            self.status = status
        }
    }

    // MARK: Center → bank: reconciliation (`GET {endpoint}/reconciliation?date=YYYY-MM-DD`)

    /// What the bank holds for one business date: the notice ids it accepted whose
    /// `businessDate` is that day, and the accounts it opened for requests of that day.
    public struct ReconciliationStatement: Codable, Sendable, Hashable {
        public struct Account: Codable, Sendable, Hashable {
            public var cardNumber: String
            public var accountNumber: String

            public init(cardNumber: String, accountNumber: String) {
                self.cardNumber = cardNumber
                self.accountNumber = accountNumber
            }
        }

        public var date: String
        public var notices: [String]
        public var accounts: [Account]

        public init(date: String, notices: [String], accounts: [Account]) {
            self.date = date
            self.notices = notices
            self.accounts = accounts
        }
    }
}

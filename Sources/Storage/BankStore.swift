public import CitizenCardDomain
public import Foundation

/// Partner banks (issue 20, docs/banks.md): the banks, each card's bank account, the outbox of
/// notices to the banks, the notices received from them, and the daily reconciliations.
public protocol BankStore: Sendable {
    func banks() async throws(StorageError) -> [PartnerBank]
    func bank(code: String) async throws(StorageError) -> PartnerBank?
    func bankAccount(cardID: Card.ID) async throws(StorageError) -> BankAccount?
    /// The accounts of these cards, in no order.
    func bankAccounts(cardIDs: [Card.ID]) async throws(StorageError) -> [BankAccount]
    func bankAccount(index: Data) async throws(StorageError) -> BankAccount?
    /// Accounts of one bank opened on a business date.
    func bankAccounts(bankCode: String, openedOn: String) async throws(StorageError) -> [BankAccount]

    /// Notices due to be sent: pending, due at `now`, the first of their card not yet delivered
    /// (a card's notices go in order), oldest first.
    func dueBankNotices(now: Timestamp, limit: Int) async throws(StorageError) -> [BankNotice]
    /// When the next pending notice falls due, if any is pending.
    func nextBankNoticeDue() async throws(StorageError) -> Timestamp?
    func bankNotice(id: Int64) async throws(StorageError) -> BankNotice?
    /// Newest first; of one bank and state when given.
    func bankNotices(bankCode: String?, state: BankNotice.State?, limit: Int) async throws(StorageError) -> [BankNotice]
    func bankNotices(cardID: Card.ID) async throws(StorageError) -> [BankNotice]
    /// One bank's notices of a business date, in order.
    func bankNotices(bankCode: String, businessDate: String) async throws(StorageError) -> [BankNotice]
    /// Pending, delivered and parked notices per bank.
    func bankNoticeCounts() async throws(StorageError) -> [BankNoticeCount]

    func bankInboundNotice(bankCode: String, noticeID: String) async throws(StorageError) -> BankInboundNotice?
    func bankReconciliation(
        bankCode: String, businessDate: String
    ) async throws(StorageError)
        -> BankReconciliation?
    /// Newest business date first.
    func bankReconciliations(bankCode: String?, limit: Int) async throws(StorageError) -> [BankReconciliation]
}

/// A bank that issues the bank side of the citizen card.
public struct PartnerBank: Sendable, Hashable, Codable {
    /// 2-16 capital letters and digits (`ICBC`).
    public var code: String
    public var name: String
    /// The card-number prefixes (BIN, 6-8 digits) the bank issues the city's cards under.
    public var bins: [String]
    /// The bank's base URL: `POST {endpoint}/accounts`, `POST {endpoint}/notices`,
    /// `GET {endpoint}/reconciliation?date=`.
    public var endpoint: String
    /// The shared HMAC secret, sealed (never shown after it was given).
    public var sealedSecret: Data
    public var activeFrom: Timestamp
    public var activeUntil: Timestamp?
    /// The bank an application gets when it names none.
    public var isDefault: Bool
    public var createdAt: Timestamp
    public var createdBy: String
    public var version: Int64

    public init(
        code: String, name: String, bins: [String], endpoint: String, sealedSecret: Data, activeFrom: Timestamp,
        activeUntil: Timestamp?, isDefault: Bool, createdAt: Timestamp, createdBy: String, version: Int64 = 1
    ) {
        self.code = code
        self.name = name
        self.bins = bins
        self.endpoint = endpoint
        self.sealedSecret = sealedSecret
        self.activeFrom = activeFrom
        self.activeUntil = activeUntil
        self.isDefault = isDefault
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.version = version
    }

    public func isActive(at time: Timestamp) -> Bool {
        activeFrom <= time && (activeUntil.map { time < $0 } ?? true)
    }
}

/// The bank account behind one card: asked for at application, opened at production.
public struct BankAccount: Sendable, Hashable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Named at application; the bank is asked when the card goes into a batch.
        case wanted
        /// The bank opened it: the number is on the chip and printed on the card.
        case open
        /// The bank refused, or did not answer: the card waits out of production (`reason`).
        case held
        /// The bank closed the account (its notice).
        case closed
    }

    public var cardID: Card.ID
    public var bankCode: String
    public var state: State
    /// The card number, AES-GCM sealed; nil until opened.
    public var sealedNumber: Data?
    /// `622202*********1234`.
    public var maskedNumber: String?
    /// Blind index of the number: one account per card, one card per account.
    public var numberIndex: Data?
    /// Why the card is held out of production, or why the bank closed the account.
    public var reason: String?
    public var previousCardID: Card.ID?
    public var requestedAt: Timestamp
    public var openedAt: Timestamp?
    /// The business date of the opening (`YYYY-MM-DD`), for reconciliation.
    public var openedOn: String?
    public var closedAt: Timestamp?
    public var attempts: Int64
    public var version: Int64

    public init(
        cardID: Card.ID, bankCode: String, state: State, sealedNumber: Data? = nil, maskedNumber: String? = nil,
        numberIndex: Data? = nil, reason: String? = nil, previousCardID: Card.ID? = nil, requestedAt: Timestamp,
        openedAt: Timestamp? = nil, openedOn: String? = nil, closedAt: Timestamp? = nil, attempts: Int64 = 0,
        version: Int64 = 1
    ) {
        self.cardID = cardID
        self.bankCode = bankCode
        self.state = state
        self.sealedNumber = sealedNumber
        self.maskedNumber = maskedNumber
        self.numberIndex = numberIndex
        self.reason = reason
        self.previousCardID = previousCardID
        self.requestedAt = requestedAt
        self.openedAt = openedAt
        self.openedOn = openedOn
        self.closedAt = closedAt
        self.attempts = attempts
        self.version = version
    }
}

/// A notice to a bank in the outbox, written in the commit of the change that caused it.
public struct BankNotice: Sendable, Hashable {
    public enum State: String, Codable, Sendable, CaseIterable {
        case pending, delivered, parked
    }

    /// The outbox order (assigned by the database).
    public var id: Int64
    /// The idempotency id the bank echoes.
    public var noticeID: String
    public var bankCode: String
    public var cardID: Card.ID
    /// `BankMessages.NoticeKind` raw value.
    public var kind: String
    /// 1, 2, 3 … per card.
    public var sequence: Int64
    /// The notice's JSON without the account number (added, opened, when it is sent).
    public var payload: Data
    public var state: State
    public var attempts: Int64
    public var nextAttemptAt: Timestamp
    public var lastError: String?
    public var createdAt: Timestamp
    public var businessDate: String
    public var deliveredAt: Timestamp?
    public var parkedAt: Timestamp?

    public init(
        id: Int64, noticeID: String, bankCode: String, cardID: Card.ID, kind: String, sequence: Int64, payload: Data,
        state: State, attempts: Int64, nextAttemptAt: Timestamp, lastError: String?, createdAt: Timestamp,
        businessDate: String, deliveredAt: Timestamp?, parkedAt: Timestamp?
    ) {
        self.id = id
        self.noticeID = noticeID
        self.bankCode = bankCode
        self.cardID = cardID
        self.kind = kind
        self.sequence = sequence
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.businessDate = businessDate
        self.deliveredAt = deliveredAt
        self.parkedAt = parkedAt
    }
}

/// A notice to enqueue: written only if the card has an open account, to that account's bank.
public struct BankNoticeDraft: Sendable, Hashable {
    public var noticeID: String
    public var cardID: Card.ID
    public var kind: String
    public var payload: Data
    public var createdAt: Timestamp
    public var businessDate: String

    public init(
        noticeID: String, cardID: Card.ID, kind: String, payload: Data, createdAt: Timestamp, businessDate: String
    ) {
        self.noticeID = noticeID
        self.cardID = cardID
        self.kind = kind
        self.payload = payload
        self.createdAt = createdAt
        self.businessDate = businessDate
    }
}

public struct BankNoticeCount: Sendable, Hashable, Codable {
    public var bankCode: String
    public var pending: Int64
    public var delivered: Int64
    public var parked: Int64
    /// The oldest pending notice's creation time.
    public var oldestPending: Timestamp?

    public init(bankCode: String, pending: Int64, delivered: Int64, parked: Int64, oldestPending: Timestamp?) {
        self.bankCode = bankCode
        self.pending = pending
        self.delivered = delivered
        self.parked = parked
        self.oldestPending = oldestPending
    }
}

/// A notice a bank sent to the center, kept by its id so that it is applied once.
public struct BankInboundNotice: Sendable, Hashable {
    public var bankCode: String
    public var noticeID: String
    public var kind: String
    public var cardID: Card.ID?
    public var receivedAt: Timestamp
    /// What the center answered the first time (`applied`, or a refusal code).
    public var outcome: String

    public init(
        bankCode: String, noticeID: String, kind: String, cardID: Card.ID?, receivedAt: Timestamp, outcome: String
    ) {
        self.bankCode = bankCode
        self.noticeID = noticeID
        self.kind = kind
        self.cardID = cardID
        self.receivedAt = receivedAt
        self.outcome = outcome
    }
}

/// One bank's reconciliation of one business date; a new run replaces the last.
public struct BankReconciliation: Sendable, Hashable {
    public var bankCode: String
    public var businessDate: String
    public var runAt: Timestamp
    public var runBy: String
    public var noticesSent: Int64
    public var noticesConfirmed: Int64
    public var accountsOpened: Int64
    public var accountsConfirmed: Int64
    /// JSON: `[{"kind":…,"subject":…,"detail":…}]`.
    public var differences: Data
    public var differenceCount: Int64

    public init(
        bankCode: String, businessDate: String, runAt: Timestamp, runBy: String, noticesSent: Int64,
        noticesConfirmed: Int64, accountsOpened: Int64, accountsConfirmed: Int64, differences: Data,
        differenceCount: Int64
    ) {
        self.bankCode = bankCode
        self.businessDate = businessDate
        self.runAt = runAt
        self.runBy = runBy
        self.noticesSent = noticesSent
        self.noticesConfirmed = noticesConfirmed
        self.accountsOpened = accountsOpened
        self.accountsConfirmed = accountsConfirmed
        self.differences = differences
        self.differenceCount = differenceCount
    }
}

extension ChangeSet.Change {
    /// Partner banks.
    public enum Banks: Sendable {
        /// `duplicate(.bankCode)` if the code is taken.
        case insertBank(PartnerBank)
        /// `bank.version` must be `expectedVersion + 1`, else `conflict`.
        case updateBank(PartnerBank, expectedVersion: Int64)
        /// One account per card (`duplicate(.bankAccount)`).
        case insertBankAccount(BankAccount)
        /// `account.version` must be greater than `expectedVersion`, else `conflict`; a number
        /// another account holds is `duplicate(.bankAccountNumber)`.
        case updateBankAccount(BankAccount, expectedVersion: Int64)
        /// Enqueued only if the card has an open account (else nothing is written): to that
        /// account's bank, the card's next sequence number.
        case enqueueNotice(BankNoticeDraft)
        /// The notice must still be pending (else `conflict`: another sender got there first).
        case noticeDelivered(id: Int64, at: Timestamp)
        /// A failed attempt: the count goes up; `parkedAt` when the notice is parked.
        case noticeFailed(id: Int64, error: String, nextAttemptAt: Timestamp, parkedAt: Timestamp?)
        /// Staff put a parked notice back in the queue, due at `at`.
        case retryNotice(id: Int64, at: Timestamp)
        /// Every pending notice of the bank due at `at` (the bank answered again).
        case wakeNotices(bankCode: String, at: Timestamp)
        /// Every pending notice of the bank due no earlier than `until` (the bank does not answer).
        case deferNotices(bankCode: String, until: Timestamp)
        /// `duplicate(.bankInboundNotice)` if the bank sent this id before.
        case insertInboundNotice(BankInboundNotice)
        /// Replaces the bank's reconciliation of that date.
        case putReconciliation(BankReconciliation)
    }
}

/// Why the ledger refused a transfer. A refused transfer changes nothing.
///
/// Like `CitizenCardError`, the error has a stable machine `code` and a detail that never contains
/// personal data: it may name an account key (card, merchant and outlet ids are UUIDs, not personal
/// data) and amounts, never a name or an ID number. The services map these codes to their own errors.
public struct LedgerError: Error, Hashable, Sendable, CustomStringConvertible {
    public let code: Code
    /// The account the error is about, when there is one.
    public let account: AccountID?
    /// English detail for this occurrence.
    public let detail: String?

    public init(_ code: Code, account: AccountID? = nil, _ detail: String? = nil) {
        self.code = code
        self.account = account
        self.detail = detail
    }

    public var description: String {
        var text = code.rawValue
        if let account { text += " (\(account))" }
        if let detail { text += ": \(detail)" }
        return text
    }

    /// Stable codes, never reused with another meaning, listed in the order in which a transfer is
    /// checked: its id, idempotency, its shape, its amounts, then the balances it would leave.
    /// When a transfer has several faults, the first in this order is reported.
    public enum Code: String, Sendable, CaseIterable, Codable {
        /// The transfer id is empty, longer than ``Transfer/idLengthMax`` bytes, or not printable ASCII.
        case invalidTransferID = "invalid_transfer_id"
        /// A transfer with this id was applied before with different content (kind, time, memo or
        /// postings). Nothing is applied; the first transfer stands.
        case idConflict = "id_conflict"
        /// The memo is longer than ``Transfer/memoLengthMax`` bytes or has control characters.
        case invalidMemo = "invalid_memo"
        /// Fewer than two postings.
        case tooFewPostings = "too_few_postings"
        /// More postings than the policy's ``LedgerPolicy/postingsPerTransferMax``.
        case tooManyPostings = "too_many_postings"
        /// A posting of zero, or of `Int64.min` (whose negation does not exist).
        case invalidAmount = "invalid_amount"
        /// Two postings to the same account. Callers merge them first (``Transfer/merging(id:kind:at:memo:postings:)``).
        case duplicateAccount = "duplicate_account"
        /// The debits or the credits of the transfer, or a balance after it, do not fit in Int64.
        case overflow
        /// The debits do not equal the credits.
        case unbalanced
        /// A purse would go below zero.
        case purseBelowZero = "purse_below_zero"
        /// A purse would go above its cap.
        case purseAboveCap = "purse_above_cap"
        /// Another account would go below its policy minimum.
        case balanceBelowMinimum = "balance_below_minimum"
        /// Another account would go above its policy maximum.
        case balanceAboveMaximum = "balance_above_maximum"
        /// Replaying a journal found an entry that does not follow from the ones before it.
        case journalCorrupt = "journal_corrupt"

        public var title: String {
            switch self {
            case .invalidTransferID: "The transfer id is invalid"
            case .idConflict: "A different transfer with this id was already applied"
            case .invalidMemo: "The transfer memo is invalid"
            case .tooFewPostings: "A transfer needs at least two postings"
            case .tooManyPostings: "The transfer has too many postings"
            case .invalidAmount: "A posting amount is invalid"
            case .duplicateAccount: "The transfer posts to one account twice"
            case .overflow: "An amount or balance is out of range"
            case .unbalanced: "The debits do not equal the credits"
            case .purseBelowZero: "The purse balance would go below zero"
            case .purseAboveCap: "The purse balance would exceed its cap"
            case .balanceBelowMinimum: "The account balance would go below its minimum"
            case .balanceAboveMaximum: "The account balance would exceed its maximum"
            case .journalCorrupt: "The ledger journal is inconsistent"
            }
        }

        public var titleZh: String {
            switch self {
            case .invalidTransferID: "转账编号无效"
            case .idConflict: "该转账编号已用于另一笔不同的转账"
            case .invalidMemo: "转账备注无效"
            case .tooFewPostings: "一笔转账至少需要两条分录"
            case .tooManyPostings: "转账分录过多"
            case .invalidAmount: "分录金额无效"
            case .duplicateAccount: "同一账户在一笔转账中出现两次"
            case .overflow: "金额或余额超出范围"
            case .unbalanced: "借贷不平衡"
            case .purseBelowZero: "电子钱包余额不足"
            case .purseAboveCap: "电子钱包余额将超过上限"
            case .balanceBelowMinimum: "账户余额将低于下限"
            case .balanceAboveMaximum: "账户余额将超过上限"
            case .journalCorrupt: "账务流水不一致"
            }
        }
    }
}

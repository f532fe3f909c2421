public import CitizenCardDomain

/// The accounting class of an account. It fixes the account's normal side: the side on which its
/// balance grows in ordinary business.
public enum AccountKind: String, Codable, Sendable, CaseIterable {
    /// Something the operator holds: cash at an outlet, money at the settlement bank.
    case asset
    /// Something the operator owes: a card holder's purse, a merchant's payable, refunds due.
    case liability
    /// What the operator earned: fees, commission.
    case income
    /// What the operator bears: purchases charged to it under the loss rule.
    case expense

    /// Assets and expenses grow by debits; liabilities and income grow by credits.
    public var normalSide: Side {
        switch self {
        case .asset, .expense: .debit
        case .liability, .income: .credit
        }
    }
}

/// A side of a posting. In this ledger a debit is a positive amount and a credit a negative one.
public enum Side: String, Codable, Sendable, CaseIterable {
    case debit
    case credit
}

/// What an account is for. Every account the e-purse needs belongs to exactly one category, and
/// the category decides the account's kind and its default balance limits.
public enum AccountCategory: String, Codable, Sendable, CaseIterable {
    /// `purse:<cardID>`: the e-purse balance the operator owes the holder of one card.
    case purse
    /// `merchant:<merchantID>:payable`: what the operator owes a merchant for purchases.
    case merchantPayable = "merchant_payable"
    /// `outlet:<outletID>:cash`: the cash drawer of one service outlet.
    case outletCash = "outlet_cash"
    /// `bank:settlement`: the operator's account at the settlement bank.
    case bankSettlement = "bank_settlement"
    /// `income:fees`: card fees (reissue, replacement, …).
    case feeIncome = "fee_income"
    /// `income:commission`: commission withheld from merchants.
    case commissionIncome = "commission_income"
    /// `risk:operator`: purchases charged to the operator under the loss rule (Art 17, 19).
    case operatorRisk = "operator_risk"
    /// `refunds:payable`: balances of cancelled cards owed to their holders until paid out.
    case refundsPayable = "refunds_payable"
    /// `suspense:missing-records`: what cards spent in offline records that never reached the host
    /// and were written off; owed to merchants not known (docs/terminal-protocol.md).
    case missingRecords = "missing_records"
    /// `income:unclaimed`: suspense money the center decided no one will claim (issue 21).
    case unclaimedIncome = "unclaimed_income"
    /// `legacy:<kind>`: the balances of the departments' old cards of one kind, imported and not
    /// yet folded into a citizen card; the card-by-card detail is in `legacy_cards`.
    case legacyBalances = "legacy_balances"
    /// `legacy-funds:<kind>`: the old system's float for those balances, handed over to the
    /// center at migration (what the opening entries are funded by).
    case legacyFunds = "legacy_funds"

    public var kind: AccountKind {
        switch self {
        case .purse, .merchantPayable, .refundsPayable, .missingRecords, .legacyBalances: .liability
        case .outletCash, .bankSettlement, .legacyFunds: .asset
        case .feeIncome, .commissionIncome, .unclaimedIncome: .income
        case .operatorRisk: .expense
        }
    }
}

/// The stable key of an account, e.g. `purse:0198…`, `merchant:0198…:payable`, `bank:settlement`.
///
/// The text is what storage keeps (one row per account); the category and the kind follow from it.
/// Accounts are never created explicitly: an account that was never posted to has balance 0.
///
/// Owner segments (card, merchant, outlet ids) are 1-64 ASCII letters, digits, `-`, `_` or `.`;
/// ids made by the system are UUIDs and always qualify.
public struct AccountID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public let category: AccountCategory

    private init(validated rawValue: String, category: AccountCategory) {
        self.rawValue = rawValue
        self.category = category
    }

    /// The purse of one card.
    public static func purse(_ card: Card.ID) -> AccountID {
        owned(.purse, prefix: "purse:", owner: card.rawValue, suffix: "")
    }

    /// The payable of one merchant. Generic because the merchant registry lives elsewhere; pass
    /// the merchant's typed id.
    public static func merchantPayable<Tag>(_ merchant: Identifier<Tag>) -> AccountID {
        owned(.merchantPayable, prefix: "merchant:", owner: merchant.rawValue, suffix: ":payable")
    }

    /// The cash drawer of one outlet.
    public static func outletCash(_ outlet: Outlet.ID) -> AccountID {
        owned(.outletCash, prefix: "outlet:", owner: outlet.rawValue, suffix: ":cash")
    }

    public static let bankSettlement = AccountID(validated: "bank:settlement", category: .bankSettlement)
    public static let feeIncome = AccountID(validated: "income:fees", category: .feeIncome)
    public static let commissionIncome = AccountID(validated: "income:commission", category: .commissionIncome)
    public static let operatorRisk = AccountID(validated: "risk:operator", category: .operatorRisk)
    public static let refundsPayable = AccountID(validated: "refunds:payable", category: .refundsPayable)
    public static let missingRecords = AccountID(validated: "suspense:missing-records", category: .missingRecords)
    public static let unclaimedIncome = AccountID(validated: "income:unclaimed", category: .unclaimedIncome)

    /// The accounts whose key has no owner segment.
    static let fixedAccounts: [AccountID] =
        [
            AccountID.bankSettlement, .feeIncome, .commissionIncome, .operatorRisk, .refundsPayable, .missingRecords,
            .unclaimedIncome,
        ] + LegacyCardKind.allCases.flatMap { [AccountID.legacyBalances($0), .legacyFunds($0)] }

    /// The imported, unfolded balances of one kind of old card.
    public static func legacyBalances(_ kind: LegacyCardKind) -> AccountID {
        AccountID(validated: "legacy:\(kind.accountSegment)", category: .legacyBalances)
    }

    /// The float handed over for one kind of old card.
    public static func legacyFunds(_ kind: LegacyCardKind) -> AccountID {
        AccountID(validated: "legacy-funds:\(kind.accountSegment)", category: .legacyFunds)
    }

    /// Reads an account key back from storage or a request; nil if it is not one of the forms above.
    public init?(parsing text: String) {
        for fixed in Self.fixedAccounts where fixed.rawValue == text {
            self = fixed
            return
        }
        let owned: [(AccountCategory, String, String)] = [
            (.purse, "purse:", ""), (.merchantPayable, "merchant:", ":payable"), (.outletCash, "outlet:", ":cash"),
        ]
        for (category, prefix, suffix) in owned
        where text.hasPrefix(prefix) && text.hasSuffix(suffix)
            && text.utf8.count > prefix.utf8.count + suffix.utf8.count
        {
            let owner = text.utf8.dropFirst(prefix.utf8.count).dropLast(suffix.utf8.count)
            if AccountID.isValidOwner(owner) {
                self.init(validated: text, category: category)
                return
            }
        }
        return nil
    }

    public var kind: AccountKind { category.kind }

    public var normalSide: Side { kind.normalSide }

    /// The balance as people read it: positive on the account's normal side. A purse with ¥50 on
    /// it has the signed balance -5000 and the normal balance 5000.
    ///
    /// Balances in this ledger never equal `Int64.min` (see ``LedgerError/Code/overflow``), so the
    /// negation is safe.
    public func normalBalance(signed balanceFen: Int64) -> Int64 {
        normalSide == .debit ? balanceFen : 0 &- balanceFen
    }

    public var description: String { rawValue }

    /// Byte order: the keys are ASCII, where it is String's order, without its Unicode machinery
    /// (a batch's transfer sorts hundreds of postings).
    public static func < (lhs: AccountID, rhs: AccountID) -> Bool {
        var left = lhs.rawValue, right = rhs.rawValue
        return left.withUTF8 { a in
            right.withUTF8 { b in
                for index in 0..<min(a.count, b.count) where a[index] != b[index] { return a[index] < b[index] }
                return a.count < b.count
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let value = AccountID(parsing: try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a ledger account key")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The owner is a system-made id; one with a `:` or a space would make keys ambiguous, which
    /// is a programmer error, not bad input.
    private static func owned(_ category: AccountCategory, prefix: String, owner: String, suffix: String) -> AccountID {
        precondition(isValidOwner(owner.utf8), "an account owner id must be 1-64 of [A-Za-z0-9._-]")
        return AccountID(validated: prefix + owner + suffix, category: category)
    }

    static let ownerLengthMax = 64

    static func isValidOwner(_ bytes: some Collection<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.count <= ownerLengthMax else { return false }
        return bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }
}

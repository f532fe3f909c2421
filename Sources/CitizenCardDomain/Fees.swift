/// What a service can cost (Art 21, R-19): an effective-dated schedule, the first card free.
public enum FeeItem: String, Codable, Sendable, CaseIterable {
    /// The person's first card. Always free (Art 21 ¶2); the schedule cannot set it.
    case firstCard = "first_card"
    /// A new application by someone who has held a card before (e.g. after cancellation).
    case repeatApplication = "repeat_application"
    /// 补领 after loss.
    case reissue
    /// 换领 because the card is damaged or unreadable.
    case replacementDamaged = "replacement_damaged"
    /// 换领 because name, ID number or other basic data changed.
    case replacementDataChanged = "replacement_data_changed"
    /// A new card when the old one expires.
    case renewal
}

public struct FeeEntry: Hashable, Codable, Sendable {
    public var item: FeeItem
    public var amount: Money
    /// The entry applies from this time on, until an entry for the same item with a later start.
    public var effectiveFrom: Timestamp
    /// The approval this amount rests on (e.g. the provincial price bureau's document number).
    public var authority: String

    public init(item: FeeItem, amount: Money, effectiveFrom: Timestamp, authority: String) {
        self.item = item
        self.amount = amount
        self.effectiveFrom = effectiveFrom
        self.authority = authority
    }

    public func validate() throws(CitizenCardError) {
        if item == .firstCard && amount != .zero {
            throw CitizenCardError.invalid("amount", "the first card is free by law (Art 21)", zh: "首次申领免收工本费")
        }
        guard amount.fen >= 0, amount.fen <= 1_000_00 else {
            throw CitizenCardError.invalid("amount", "a fee is 0 to 100000 fen", zh: "收费金额须为0至1000元")
        }
        guard !authority.trimmingSpaces.isEmpty, authority.count <= 200 else {
            throw CitizenCardError.invalid(
                "authority", "name the approval the fee rests on (1-200 characters)", zh: "请填写批准文件（1至200个字符）")
        }
    }
}

/// The schedule: all entries ever made. The amount for an item at a time is the entry with the
/// latest `effectiveFrom` not after that time.
public struct FeeSchedule: Hashable, Sendable {
    public var entries: [FeeEntry]

    public init(entries: [FeeEntry]) { self.entries = entries }

    /// The fee for `item` at `time`, or `fee_not_scheduled` when the schedule has none.
    public func fee(for item: FeeItem, at time: Timestamp) throws(CitizenCardError) -> Money {
        if item == .firstCard { return .zero }
        let applicable = entries.filter { $0.item == item && $0.effectiveFrom <= time }
        guard let entry = applicable.max(by: { $0.effectiveFrom < $1.effectiveFrom }) else {
            throw CitizenCardError(.feeNotScheduled, field: "item", "no fee for \(item.rawValue) is in force")
        }
        return entry.amount
    }

    /// The amount to charge; if the client stated what it expects to charge, it must be the
    /// schedule's amount (a fee the schedule does not allow cannot be charged).
    public func charge(for item: FeeItem, at time: Timestamp, expected: Money?) throws(CitizenCardError) -> Money {
        let amount = try fee(for: item, at: time)
        if let expected, expected != amount {
            throw CitizenCardError(
                .feeMismatch, field: "expectedFeeFen", "the schedule's fee is \(amount.fen) fen",
                zh: "收费标准为\(amount.fen)分")
        }
        return amount
    }

    /// The demo city's schedule: 20 yuan for a reissue or a damaged card, nothing otherwise.
    public static func demo(from time: Timestamp) -> [FeeEntry] {
        let authority = "浙价费〔2011〕示例号 (demo)"
        return [
            FeeEntry(item: .repeatApplication, amount: Money(yuan: 20), effectiveFrom: time, authority: authority),
            FeeEntry(item: .reissue, amount: Money(yuan: 20), effectiveFrom: time, authority: authority),
            FeeEntry(item: .replacementDamaged, amount: Money(yuan: 20), effectiveFrom: time, authority: authority),
            FeeEntry(item: .replacementDataChanged, amount: .zero, effectiveFrom: time, authority: authority),
            FeeEntry(item: .renewal, amount: .zero, effectiveFrom: time, authority: authority),
        ]
    }
}

/// Proof of a fee taken at an outlet; one for every fee-bearing service, free ones included.
public struct Receipt: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Receipt>

    public var id: ID
    /// Human number printed on the receipt, unique: `R` + outlet code + sequence.
    public var number: String
    public var at: Timestamp
    public var outletID: Outlet.ID
    public var operatorID: Operator.ID
    public var personID: Person.ID
    public var cardID: Card.ID
    public var item: FeeItem
    public var amount: Money
    public var paymentMethod: PaymentMethod

    enum CodingKeys: String, CodingKey {
        case id, number, at, item, amount, paymentMethod
        case outletID = "outletId"
        case operatorID = "operatorId"
        case personID = "personId"
        case cardID = "cardId"
    }

    public enum PaymentMethod: String, Codable, Sendable {
        case cash
        /// Nothing to pay (first card, free item).
        case free
    }

    public init(
        id: ID, number: String, at: Timestamp, outletID: Outlet.ID, operatorID: Operator.ID, personID: Person.ID,
        cardID: Card.ID, item: FeeItem, amount: Money
    ) {
        self.id = id
        self.number = number
        self.at = at
        self.outletID = outletID
        self.operatorID = operatorID
        self.personID = personID
        self.cardID = cardID
        self.item = item
        self.amount = amount
        self.paymentMethod = amount == .zero ? .free : .cash
    }
}

import CitizenCardDomain
import Ledger

/// A fixed UUID for fixtures, `n` in the last group.
func fixedID<Tag>(_ n: Int, _: Tag.Type = Tag.self) -> Identifier<Tag> {
    let hex = String(n, radix: 16)
    return Identifier(rawValue: "00000000-0000-7000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex)
}

/// Stands in for the merchant registry's type (issue 5, part 3).
enum Merchant {}

enum Fixture {
    static let now = Timestamp(secondsSinceEpoch: 1_790_000_000)
    static let cards: [Card.ID] = (1...4).map { fixedID($0) }
    static let merchants: [Identifier<Merchant>] = (101...102).map { fixedID($0) }
    static let outlets: [Outlet.ID] = (201...202).map { fixedID($0) }
    static let card = cards[0]
    static let otherCard = cards[1]
    static let merchant = merchants[0]
    static let outlet = outlets[0]
}

/// Runs `body` and returns the `LedgerError` it threw, or nil if it did not throw.
func caughtError<T>(_ body: () throws(LedgerError) -> T) -> LedgerError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

extension LedgerBook {
    /// A book with `fen` loaded in cash onto `card`.
    static func loaded(_ card: Card.ID = Fixture.card, fen: Int64, policy: LedgerPolicy = .standard) -> LedgerBook {
        var book = LedgerBook(policy: policy)
        let load = Transfer.load(
            id: TransferID("load:setup:\(card)"), card: card, funding: .cash(outlet: Fixture.outlet), amountFen: fen,
            at: Fixture.now)
        do { try book.apply(load) } catch { preconditionFailure("setup load refused: \(error)") }
        return book
    }
}

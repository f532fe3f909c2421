public import CitizenCardDomain
import Ledger
public import Storage

/// The departments' old cards after their import (R-20, issue 21; docs/legacy-cards.md): which a
/// card's holder has, and what is still unclaimed. Folding a balance in is an online load with
/// `legacy_balance` funding (`PurseService.approveLoad`).
public struct LegacyService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// An old card as staff see it.
    public struct LegacyCardView: Codable, Hashable, Sendable {
        public var id: LegacyCard.ID
        public var kind: LegacyCardKind
        public var number: String
        public var balanceFen: Int64
        public var status: LegacyCardStatus
        public var importedAt: Timestamp
        public var folded: Bool
        public var foldedAt: Timestamp?
        public var foldedCardId: Card.ID?
        public var foldedLoadId: PurseLoad.ID?

        init(_ card: LegacyCard) {
            id = card.id
            kind = card.kind
            number = card.number
            balanceFen = card.balanceFen
            status = card.status
            importedAt = card.importedAt
            folded = card.isFolded
            foldedAt = card.foldedAt
            foldedCardId = card.foldedCardID
            foldedLoadId = card.foldedLoadID
        }
    }

    /// The old cards of a citizen card's holder (linked by the blind index of the ID number);
    /// the read is audited about the holder.
    public func cards(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [LegacyCardView] {
        try actor.require(.readCards)
        guard let (card, holderIndex) = try await env.fetch(try await env.store.cardWithHolderIndex(id: cardID)) else {
            throw CitizenCardError.notFound("card")
        }
        let found = try await env.fetch(try await env.store.legacyCards(holderIndex: holderIndex))
        try await env.auditCardRead(card, what: "legacy_cards", actor: actor)
        return found.map(LegacyCardView.init)
    }

    /// The old cards the old systems must refuse (Art 24): every card whose balance was folded
    /// into a citizen card — at once, or the money could be spent twice — and, after the
    /// coexistence period, every old card. A page in kind and number order.
    public struct StopList: Codable, Hashable, Sendable {
        public struct Entry: Codable, Hashable, Sendable {
            public var kind: LegacyCardKind
            public var number: String
            /// `folded` or `coexistence_over`.
            public var reason: String
        }

        public var coexistenceUntil: CalendarDate?
        public var coexistenceOver: Bool
        public var items: [Entry]
        /// Pass as `after` for the next page (`kind:number`).
        public var next: String?
    }

    public func stopList(after: String?, limit: Int, actor: Actor) async throws(CitizenCardError) -> StopList {
        try actor.require(.readLegacyStopList)
        var key: (LegacyCardKind, String)?
        if let after {
            let parts = after.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let kind = LegacyCardKind(rawValue: parts[0]), (1...20).contains(parts[1].count)
            else { throw CitizenCardError.invalid("after", "kind:number of the previous page") }
            key = (kind, parts[1])
        }
        let over = env.legacyPolicy.isOver(today: env.today)
        let cards = try await env.fetch(try await env.store.legacyStopList(all: over, after: key, limit: limit))
        return StopList(
            coexistenceUntil: env.legacyPolicy.coexistenceUntil, coexistenceOver: over,
            items: cards.map {
                StopList.Entry(kind: $0.kind, number: $0.number, reason: $0.isFolded ? "folded" : "coexistence_over")
            },
            next: cards.count == limit ? cards.last.map { "\($0.kind.rawValue):\($0.number)" } : nil)
    }

    public struct Summary: Codable, Hashable, Sendable {
        public struct Line: Codable, Hashable, Sendable {
            public var kind: LegacyCardKind
            public var importedCount: Int64
            public var importedFen: Int64
            public var foldedCount: Int64
            public var foldedFen: Int64
            /// Not folded yet, with a balance or none.
            public var unclaimedCount: Int64
            public var unclaimedFen: Int64
            /// Of those, the ones whose holder the file did not name: nobody can claim them at a
            /// counter by the ID number; the department must name the holder.
            public var unclaimedHolderUnknownCount: Int64
            public var unclaimedHolderUnknownFen: Int64
            /// `legacy:<kind>` in the ledger: equal to `unclaimedFen` when the books tie out.
            public var ledgerFen: Int64
            public var tiesOut: Bool
        }

        public var lines: [Line]
    }

    /// The unclaimed legacy balances report, tied out to the ledger.
    public func summary(actor: Actor) async throws(CitizenCardError) -> Summary {
        try actor.require(.readReports)
        let rows = try await env.fetch(try await env.store.legacySummary())
        let accounts = LegacyCardKind.allCases.map(AccountID.legacyBalances)
        let balances = try await env.fetch(try await env.store.ledgerBalances(accounts))
        return Summary(
            lines: LegacyCardKind.allCases.map { kind in
                let of = rows.filter { $0.kind == kind }
                let unclaimed = of.filter { !$0.folded }
                let unknown = unclaimed.filter { !$0.holderKnown }
                let account = AccountID.legacyBalances(kind)
                let ledger = account.normalBalance(signed: balances[account] ?? 0)
                let unclaimedFen = unclaimed.reduce(0) { $0 + $1.balanceFen }
                return Summary.Line(
                    kind: kind, importedCount: of.reduce(0) { $0 + $1.count },
                    importedFen: of.reduce(0) { $0 + $1.balanceFen },
                    foldedCount: of.filter(\.folded).reduce(0) { $0 + $1.count },
                    foldedFen: of.filter(\.folded).reduce(0) { $0 + $1.balanceFen },
                    unclaimedCount: unclaimed.reduce(0) { $0 + $1.count }, unclaimedFen: unclaimedFen,
                    unclaimedHolderUnknownCount: unknown.reduce(0) { $0 + $1.count },
                    unclaimedHolderUnknownFen: unknown.reduce(0) { $0 + $1.balanceFen }, ledgerFen: ledger,
                    tiesOut: ledger == unclaimedFen)
            })
    }
}

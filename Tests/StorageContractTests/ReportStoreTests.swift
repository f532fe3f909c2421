import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// `ReportStore.outletActivity` on every backend: the window is [from, until), buckets are
/// `(time - from) / bucketSeconds`, only the outlet's rows count (docs/reports.md).
@Suite("Report store contract")
struct ReportStoreTests {
    let ids = SequentialIDs()
    let from = Timestamp(iso8601: "2026-03-02T00:00:00+08:00")!
    var until: Timestamp { from.adding(days: 1) }

    struct Seed {
        var outlet: Outlet
        var other: Outlet
        var clerk: Operator
        var cards: [Card]
    }

    func seeded(_ store: any CitizenCardStore) async throws -> Seed {
        func person(_ index: UInt8) -> SealedPerson {
            SealedPerson(
                id: Person.ID(rawValue: ids.next()), idIndex: Data(repeating: index, count: 16),
                fingerprint: Data(repeating: 2, count: 16), details: Data([1, 2, 3]),
                attributes: PersonAttributes(household: .local, socialInsurance: true, ruralMedical: false),
                version: 1,
                provenance: Provenance(actor: "clerk", at: from, reason: "registration", source: .outlet),
                createdAt: from)
        }
        // Two persons: both cards sit in the pipeline slot.
        let (person, relative) = (person(1), person(2))
        func outlet(_ code: String) -> Outlet {
            Outlet(
                id: Outlet.ID(rawValue: ids.next()), code: code, name: code, nameZh: code, regionCode: "330902",
                address: "定海")
        }
        let (outlet, other) = (outlet("DH01"), outlet("PT01"))
        let clerk = Operator(
            id: Operator.ID(rawValue: ids.next()), username: "clerk", displayName: "Clerk", role: .outletOperator,
            outletID: outlet.id, passwordHash: "x")
        let first = Card(
            id: Card.ID(rawValue: ids.next()), personID: person.id, kind: .application,
            number: CardNumbering.cardNumber(prefix: "3309", sequence: 1),
            asn: CardNumbering.asn(prefix: "3309", sequence: 1), channel: .individual, outletID: outlet.id,
            predecessorID: nil, at: from)
        // Not a real lifecycle (the contract is about sums): a successor card in the pipeline.
        let successor = Card(
            id: Card.ID(rawValue: ids.next()), personID: relative.id, kind: .replacement,
            number: CardNumbering.cardNumber(prefix: "3309", sequence: 2),
            asn: CardNumbering.asn(prefix: "3309", sequence: 2), channel: .individual, outletID: outlet.id,
            predecessorID: first.id, at: from)
        var changes = ChangeSet()
        changes.add(.insertPerson(person))
        changes.add(.insertPerson(relative))
        changes.add(.insertOutlet(outlet))
        changes.add(.insertOutlet(other))
        changes.add(.insertOperator(clerk))
        changes.add(.insertCard(first))
        changes.add(.insertCard(successor))
        try await store.commit(changes)
        return Seed(outlet: outlet, other: other, clerk: clerk, cards: [first, successor])
    }

    func event(
        _ card: Card, _ sequence: Int64, _ action: CardAction.Kind, at offset: Int64, outlet: Outlet.ID?,
        reason: String? = nil
    ) -> ChangeSet.Change {
        .appendCardEvent(
            CardEvent(
                cardID: card.id, sequence: sequence, action: action, from: .active, to: .active,
                at: from.adding(seconds: offset), actor: "clerk", outletID: outlet, reason: reason))
    }

    @Test(
        "card events: only the outlet's, inside the window, by action, created kind, actor and bucket",
        arguments: Backend.allCases)
    func events(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let seed = try await seeded(store)
        let (card, successor) = (seed.cards[0], seed.cards[1])
        var changes = ChangeSet()
        changes.add(event(card, 1, .create, at: -1, outlet: seed.outlet.id, reason: "application"))
        changes.add(event(card, 2, .create, at: 0, outlet: seed.outlet.id, reason: "application"))
        changes.add(event(card, 3, .issue, at: 3599, outlet: seed.outlet.id))
        changes.add(event(card, 4, .issue, at: 3600, outlet: seed.outlet.id))
        changes.add(event(card, 5, .issue, at: 86_399, outlet: seed.outlet.id))
        changes.add(event(card, 6, .issue, at: 86_400, outlet: seed.outlet.id))
        changes.add(event(card, 7, .expire, at: 7200, outlet: nil))
        changes.add(event(card, 8, .issue, at: 7200, outlet: seed.other.id))
        changes.add(event(card, 9, .cancel, at: 7300, outlet: seed.outlet.id))
        changes.add(event(successor, 1, .create, at: 7000, outlet: seed.outlet.id, reason: "replacement"))
        changes.add(event(successor, 2, .cancel, at: 7300, outlet: seed.outlet.id))
        changes.add(event(successor, 3, .cancel, at: 7400, outlet: seed.outlet.id))
        try await store.commit(changes)
        let activity = try await store.outletActivity(
            outletID: seed.outlet.id, from: from, until: until, bucketSeconds: 3600)
        let found = Set(
            activity.events.map {
                "\($0.action.rawValue) \($0.createdKind?.rawValue ?? "-") \($0.withPredecessor) \($0.actor) \($0.bucket) \($0.count)"
            })
        #expect(
            found == [
                "create application false clerk 0 1", "issue - false clerk 0 1", "issue - false clerk 1 1",
                "issue - false clerk 23 1", "create replacement false clerk 1 1", "cancel - true clerk 2 1",
                "cancel - false clerk 2 2",
            ], "\(found.sorted())")
        #expect(activity.events.reduce(0) { $0 + $1.count } == 8)
        #expect(
            activity.events.filter(\.withPredecessor).map(\.count) == [1],
            "cancelled in the same second as its predecessor")
        let daily = try await store.outletActivity(
            outletID: seed.outlet.id, from: from.adding(days: -1), until: until.adding(days: 1), bucketSeconds: 86_400)
        #expect(Dictionary(daily.events.map { ($0.bucket, $0.count) }, uniquingKeysWith: +) == [0: 1, 1: 8, 2: 1])
        try await store.close()
    }

    @Test("receipts, loads approved and reversed, and cash payouts: summed by bucket", arguments: Backend.allCases)
    func money(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let seed = try await seeded(store)
        let card = seed.cards[0]
        func receipt(_ item: FeeItem, fen: Int64, at offset: Int64, outlet: Outlet.ID) -> ChangeSet.Change {
            .insertReceipt(
                Receipt(
                    id: Receipt.ID(rawValue: ids.next()), number: "R\(ids.next())", at: from.adding(seconds: offset),
                    outletID: outlet, operatorID: seed.clerk.id, personID: card.personID, cardID: card.id, item: item,
                    amount: Money(fen: fen)))
        }
        func load(
            _ counter: Int64, fen: Int64, _ funding: PurseLoad.Funding, at offset: Int64, reversedAt: Int64? = nil
        ) -> ChangeSet.Change {
            var load = PurseLoad(
                id: PurseLoad.ID(rawValue: ids.next()), cardID: card.id, outletID: seed.outlet.id, actor: "clerk",
                amount: Money(fen: fen), funding: funding, onlineCounter: counter, balanceBefore: .zero, keyVersion: 1,
                algorithmID: 0, terminalID: "330900000001", transactionTime: "20260302090000", mac2: "00000000",
                approvedAt: from.adding(seconds: offset))
            if let reversedAt {
                load.status = .reversed
                load.resolvedAt = from.adding(seconds: reversedAt)
            }
            return .insertPurseLoad(load)
        }
        var changes = ChangeSet()
        changes.add(receipt(.firstCard, fen: 0, at: 100, outlet: seed.outlet.id))
        changes.add(receipt(.reissue, fen: 2000, at: 200, outlet: seed.outlet.id))
        changes.add(receipt(.reissue, fen: 2000, at: 300, outlet: seed.outlet.id))
        changes.add(receipt(.reissue, fen: 2000, at: 400, outlet: seed.other.id))
        changes.add(receipt(.reissue, fen: 2000, at: -1, outlet: seed.outlet.id))
        changes.add(load(1, fen: 5000, .cash, at: 3600))
        changes.add(load(2, fen: 700, .bankTransfer, at: 3700))
        changes.add(load(3, fen: 3000, .cash, at: -600, reversedAt: 7200))
        changes.add(load(4, fen: 900, .cash, at: 7300, reversedAt: 90_000))
        let closure = PurseClosure(
            cardID: card.id, successorID: nil, kind: .refund, amountFen: 1200, closedAt: from.adding(seconds: -86_400))
        changes.add(.insertPurseClosure(closure))
        try await store.commit(changes)
        var paid = closure
        paid.status = .settled
        paid.settledAt = from.adding(seconds: 10_800)
        paid.settlement = OutletActivity.cashSettlement(seed.outlet.id)
        paid.version = 2
        var payout = ChangeSet()
        payout.add(.updatePurseClosure(paid, expectedVersion: 1))
        try await store.commit(payout)

        let activity = try await store.outletActivity(
            outletID: seed.outlet.id, from: from, until: until, bucketSeconds: 3600)
        #expect(
            Set(activity.fees) == [
                .init(item: .firstCard, paymentMethod: .free, operatorName: "clerk", bucket: 0, count: 1, amountFen: 0),
                .init(
                    item: .reissue, paymentMethod: .cash, operatorName: "clerk", bucket: 0, count: 2, amountFen: 4000),
            ])
        #expect(
            Set(activity.loadsApproved) == [
                .init(funding: .cash, status: .approved, actor: "clerk", bucket: 1, count: 1, amountFen: 5000),
                .init(funding: .bankTransfer, status: .approved, actor: "clerk", bucket: 1, count: 1, amountFen: 700),
                .init(funding: .cash, status: .reversed, actor: "clerk", bucket: 2, count: 1, amountFen: 900),
            ])
        #expect(
            activity.loadsReversed == [
                .init(funding: .cash, status: .reversed, actor: "clerk", bucket: 2, count: 1, amountFen: 3000)
            ])
        #expect(activity.payouts == [.init(bucket: 3, count: 1, amountFen: 1200)])
        let elsewhere = try await store.outletActivity(
            outletID: seed.other.id, from: from, until: until, bucketSeconds: 86_400)
        #expect(
            elsewhere.fees.map(\.amountFen) == [2000] && elsewhere.payouts.isEmpty && elsewhere.loadsApproved.isEmpty)
        try await store.close()
    }
}

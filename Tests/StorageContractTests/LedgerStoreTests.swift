import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Ledger
import Storage
import Testing

/// The ledger as both backends keep it (docs/ledger.md): the same answers as `LedgerBook`.
@Suite("Ledger store contract")
struct LedgerStoreTests {
    enum MerchantTag {}
    let t0 = Timestamp(secondsSinceEpoch: 1_790_000_000)
    let merchant = Identifier<MerchantTag>(rawValue: "m-0001")
    let outlet = Outlet.ID(rawValue: "o-0001")
    let policy = LedgerPolicy.standard

    func post(_ transfer: Transfer, _ store: any CitizenCardStore) async throws {
        var changes = ChangeSet()
        changes.add(.postTransfer(transfer, policy: policy))
        try await store.commit(changes)
    }

    func sum(_ store: any CitizenCardStore) async throws -> Int128 {
        try await store.ledgerAllBalances().values.reduce(Int128(0)) { $0 + Int128($1) }
    }

    @Test(
        "a load, purchases, a repeat and a conflicting reuse of an id; the sum stays zero", arguments: Backend.allCases)
    func transfers(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = Card.ID(rawValue: "c-0001")
        let load = Transfer.load(
            id: TransferID("load:1"), card: card, funding: .cash(outlet: outlet), amountFen: 5000, at: t0)
        try await post(load, store)
        #expect(try await store.ledgerBalances([.purse(card)]) == [.purse(card): -5000])
        let purchase = Transfer.purchase(
            id: TransferID("purchase:1"), card: card, merchant: merchant, amountFen: 1200, at: t0)
        try await post(purchase, store)
        try await post(purchase, store)  // the same transfer again: applied once
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -3800)
        let entry = try #require(try await store.ledgerEntry(id: TransferID("purchase:1")))
        #expect(entry.transfer == purchase && entry.balancesAfter[.merchantPayable(merchant)] == -1200)
        #expect(try await store.ledgerEntry(id: TransferID("none")) == nil)
        let reused = Transfer.purchase(
            id: TransferID("purchase:1"), card: card, merchant: merchant, amountFen: 1300, at: t0)
        do {
            try await post(reused, store)
            Issue.record("a reused transfer id with other content was accepted")
        } catch let StorageError.ledger(error) {
            #expect(error.code == .idConflict)
        }
        #expect(try await sum(store) == 0)
        #expect(try await store.ledgerAllBalances().count == 3)
    }

    @Test("a transfer that breaks a rule writes nothing of the whole commit", arguments: Backend.allCases)
    func refused(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = Card.ID(rawValue: "c-0002")
        try await post(
            .load(id: TransferID("load:2"), card: card, funding: .bankTransfer, amountFen: 1000, at: t0), store)
        var changes = ChangeSet()
        changes.add(.putSetting(key: "marker", value: "x"))
        changes.add(
            .postTransfer(
                .purchase(id: TransferID("p:too-much"), card: card, merchant: merchant, amountFen: 1001, at: t0),
                policy: policy))
        await #expect(throws: StorageError.self) { try await store.commit(changes) }
        #expect(try await store.setting("marker") == nil, "nothing of the commit")
        #expect(try await store.ledgerEntry(id: TransferID("p:too-much")) == nil)
        let tooMuch = Transfer.load(
            id: TransferID("load:cap"), card: card, funding: .bankTransfer, amountFen: 99_001, at: t0)
        do {
            try await post(tooMuch, store)
            Issue.record("a load above the cap was accepted")
        } catch let StorageError.ledger(error) {
            #expect(error.code == .purseAboveCap)
        }
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -1000)
        #expect(try await sum(store) == 0)
    }

    @Test("50 concurrent purchases on one purse of 10.00: exactly 10 of 1.00 succeed", arguments: Backend.allCases)
    func concurrentPurchases(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let card = Card.ID(rawValue: "c-0003")
        try await post(
            .load(id: TransferID("load:3"), card: card, funding: .bankTransfer, amountFen: 1000, at: t0), store)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<50 {
                group.addTask {
                    let purchase = Transfer.purchase(
                        id: TransferID("p:\(index)"), card: card, merchant: merchant, amountFen: 100, at: t0)
                    do {
                        try await post(purchase, store)
                        return true
                    } catch StorageError.ledger(let error) where error.code == .purseBelowZero {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 10)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == 0)
        #expect(try await sum(store) == 0)
    }
}

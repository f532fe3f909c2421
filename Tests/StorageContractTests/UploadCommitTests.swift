import CitizenCardDomain
import CitizenCardTesting
import Foundation
import Ledger
import Storage
import Testing

/// The commit of an uploaded batch (a batch first, then records, chains, the transfer), which
/// PostgreSQL writes as one statement that checks the ledger's limits where the balances are
/// stored: the same answers as a commit change by change, on both backends.
@Suite("Upload commit contract")
struct UploadCommitTests {
    let t0 = Timestamp(secondsSinceEpoch: 1_790_000_000)
    let merchant = Merchant.ID(rawValue: "m-upload")
    let terminal = Terminal.ID(rawValue: "t-upload")
    let card = Card.ID(rawValue: "c-upload")

    /// A store with a merchant, its terminal and a purse loaded with 10.00.
    func store(_ backend: Backend, _ directory: TemporaryDirectory) async throws -> any CitizenCardStore {
        let store = try await backend.makeStore(in: directory)
        var changes = ChangeSet()
        changes.add(
            .insertMerchant(Merchant(id: merchant, code: "UP", name: "Upload", commissionBasisPoints: 0, createdAt: t0))
        )
        changes.add(
            .insertTerminal(
                Terminal(
                    id: terminal, number: "0000UP000001", merchantID: merchant, psamSerial: "UP00000000000001",
                    location: "test", latitudeE6: nil, longitudeE6: nil, keyHash: Array(repeating: 7, count: 32),
                    createdAt: t0)))
        changes.add(
            .postTransfer(
                .load(id: TransferID("load:upload"), card: card, funding: .bankTransfer, amountFen: 1000, at: t0),
                policy: .standard))
        try await store.commit(changes)
        return store
    }

    /// An upload's changes: batch `number`, the transfer, optionally a chain, and the audit entry.
    func upload(_ number: Int64, _ transfer: Transfer, chain: PurseChain? = nil) -> ChangeSet {
        var changes = ChangeSet()
        let batch = PurchaseBatch(
            id: .init(rawValue: "b-\(number)"), terminalID: terminal, merchantID: merchant, number: number,
            contentHash: "h\(number)", recordCount: 1, postedCount: 1, riskCount: 0, parkedCount: 0, duplicateCount: 0,
            acceptedFen: transfer.amountFen, receivedAt: t0)
        changes.add(.insertPurchaseBatch(batch, response: Data("{}".utf8)))
        if let chain { changes.add(.putPurseChains([chain])) }
        changes.add(.postTransfer(transfer, policy: .standard))
        changes.record(
            AuditDraft(
                at: t0, actor: "terminal:0000UP000001", action: "purchase.batch", subject: "batch:b-\(number)",
                purpose: "clearing", detail: "{}"))
        return changes
    }

    /// The error `changes` are refused with, nil if they commit.
    func refusal(_ store: any CitizenCardStore, _ changes: ChangeSet) async -> StorageError? {
        do {
            try await store.commit(changes)
            return nil
        } catch {
            return error
        }
    }

    /// The ledger's error code in a refusal, nil for anything else.
    func ledgerCode(_ refusal: StorageError?) -> LedgerError.Code? {
        if case .ledger(let error)? = refusal { return error.code }
        return nil
    }

    func purchase(_ id: String, fen: Int64) -> Transfer {
        .purchase(id: TransferID(id), card: card, merchant: merchant, amountFen: fen, at: t0)
    }

    @Test(
        "a transfer beyond a purse's limit: the ledger's error, and nothing of the upload", arguments: Backend.allCases)
    func limit(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        let refused = await refusal(store, upload(1, purchase("p:too-much", fen: 1001)))
        #expect(ledgerCode(refused) == .purseBelowZero)
        if case .ledger(let error)? = refused { #expect(error.account == .purse(card)) }
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 1) == nil)
        #expect(try await store.ledgerEntry(id: TransferID("p:too-much")) == nil)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -1000)
        // Exactly the balance: accepted, the merchant's payable created with it.
        try await store.commit(upload(2, purchase("p:all", fen: 1000)))
        #expect(
            try await store.ledgerBalances([.purse(card), .merchantPayable(merchant)]) == [
                .purse(card): 0, .merchantPayable(merchant): -1000,
            ])
        let entry = try #require(try await store.ledgerEntry(id: TransferID("p:all")))
        #expect(entry.balancesAfter == [.purse(card): 0, .merchantPayable(merchant): -1000])
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 2)?.batch.number == 2)
        #expect(try await store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("50 concurrent uploads of 1.00 on a purse of 10.00: exactly 10 are posted", arguments: Backend.allCases)
    func concurrent(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 1...50 {
                group.addTask {
                    let refused = await refusal(store, upload(Int64(index), purchase("p:\(index)", fen: 100)))
                    guard let refused else { return true }
                    guard ledgerCode(refused) == .purseBelowZero else { throw refused }
                    return false
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 10)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == 0)
        #expect(try await store.ledgerBalances([.merchantPayable(merchant)])[.merchantPayable(merchant)] == -1000)
        #expect(try await store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("a chain moved since it was read: a conflict, and nothing of the upload", arguments: Backend.allCases)
    func chainConflict(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        try await store.commit(
            upload(1, purchase("p:1", fen: 100), chain: PurseChain(cardID: card, nextCounter: 1, version: 1)))
        // Decided on the chain before version 1 as well.
        let refused = await refusal(
            store, upload(2, purchase("p:2", fen: 100), chain: PurseChain(cardID: card, nextCounter: 1, version: 1)))
        guard case .conflict? = refused else {
            Issue.record("a stale chain: \(String(describing: refused))")
            return
        }
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 2) == nil)
        #expect(try await store.ledgerEntry(id: TransferID("p:2")) == nil)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -900)
        #expect(try await store.purseChains(cardIDs: [card]).first?.version == 1)
    }

    @Test("a transfer id taken before: applied once, or the ledger's id conflict", arguments: Backend.allCases)
    func takenID(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        try await store.commit(upload(1, purchase("p:same", fen: 100)))
        // The same transfer again under another batch: the batch and its chain are kept (change by
        // change on PostgreSQL), the money moves once.
        try await store.commit(
            upload(2, purchase("p:same", fen: 100), chain: PurseChain(cardID: card, nextCounter: 1, version: 1)))
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 2) != nil)
        #expect(try await store.purseChains(cardIDs: [card]).first?.nextCounter == 1)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -900)
        #expect(ledgerCode(await refusal(store, upload(3, purchase("p:same", fen: 200)))) == .idConflict)
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 3) == nil)
        #expect(try await store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("a chain moves only from the version it was read at", arguments: Backend.allCases)
    func chainVersions(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        func chain(next: Int64, version: Int64) -> PurseChain {
            PurseChain(cardID: card, nextCounter: next, balanceFen: 1000 - 100 * next, version: version)
        }
        try await store.commit(upload(1, purchase("p:1", fen: 100), chain: chain(next: 1, version: 1)))
        try await store.commit(upload(2, purchase("p:2", fen: 100), chain: chain(next: 2, version: 2)))
        // Decided on version 1 again: the chain is at 2 now.
        guard
            case .conflict? = await refusal(
                store, upload(3, purchase("p:3", fen: 100), chain: chain(next: 2, version: 2)))
        else {
            Issue.record("a chain written twice from one version")
            return
        }
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 3) == nil)
        #expect(try await store.ledgerEntry(id: TransferID("p:3")) == nil)
        try await store.commit(upload(4, purchase("p:4", fen: 100), chain: chain(next: 3, version: 3)))
        let stored = try #require(try await store.purseChains(cardIDs: [card]).first)
        #expect(stored.version == 3)
        #expect(stored.nextCounter == 3)
        #expect(stored.balanceFen == 700)
        #expect(try await store.ledgerBalances([.purse(card)])[.purse(card)] == -700)
    }

    @Test("records and signals come back exactly as the upload wrote them", arguments: Backend.allCases)
    func columnsRoundTrip(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await store(backend, directory)
        let batch = PurchaseBatch.ID(rawValue: "b-columns")
        func record(_ id: String, card: Card.ID?, counter: Int64, outcome: OfflinePurchase.Outcome) -> OfflinePurchase {
            OfflinePurchase(
                id: .init(rawValue: id), batchID: batch, terminalID: terminal, merchantID: merchant, cardID: card,
                asn: "0000000000000000000A", cardCounter: counter, psamSerial: "UP00000000000001",
                terminalSerial: Int64(UInt32.max), amountFen: 100, balanceBeforeFen: Int64.max,
                balanceAfterFen: Int64.min + 1, transactionType: 9, tappedAt: t0, keyVersion: 0, algorithmID: 255,
                tac: "0A0B0C0D", mac2: "", recordStatus: "", outcome: outcome,
                reason: outcome == .parked ? .unknownCard : nil, postedAt: outcome == .parked ? nil : t0,
                receivedAt: t0)
        }
        let posted = record("r-posted", card: card, counter: 0, outcome: .posted)
        let parked = record("r-parked", card: nil, counter: 1, outcome: .parked)
        let signal = FraudSignal(
            id: .init(rawValue: "s-columns"), kind: .impossibleTravel, cardID: nil, asn: "0000000000000000000A",
            purchaseID: nil, evidence: "乘车 2 km in 1 s — 7200 km/h ✓", detectedAt: t0)
        var changes = ChangeSet()
        changes.add(
            .insertPurchaseBatch(
                PurchaseBatch(
                    id: batch, terminalID: terminal, merchantID: merchant, number: 1, contentHash: "", recordCount: 2,
                    postedCount: 1, riskCount: 0, parkedCount: 1, duplicateCount: 0, acceptedFen: 100, receivedAt: t0),
                response: Data()))
        changes.add(.insertPurchases([posted, parked]))
        changes.add(.postTransfer(purchase("p:columns", fen: 100), policy: .standard))
        changes.add(.insertFraudSignals([signal]))
        changes.record(
            AuditDraft(
                at: t0, actor: "terminal:0000UP000001", action: "purchase.batch", subject: "batch:b-columns",
                purpose: "clearing", detail: "{}"))
        try await store.commit(changes)
        #expect(try await store.purchases(cardID: card, limit: 10) == [posted])
        #expect(try await store.parkedPurchases(after: nil, limit: 10) == [parked])
        #expect(try await store.fraudSignals(before: nil, limit: 10) == [signal])
        #expect(try await store.purchaseBatch(terminalID: terminal, number: 1)?.response == Data())
    }
}

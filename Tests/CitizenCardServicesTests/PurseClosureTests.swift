import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// The old card's balance after a reissue and the refund on cancellation (Art 19, 20), with a
/// moving clock, on both backends.
@Suite("E-purse closure: migration and refund")
struct PurseClosureTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var closures: PurseClosureService { PurseClosureService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func balance(_ account: AccountID) async throws -> Int64 {
        account.normalBalance(signed: try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    func code(_ body: () async throws -> some Any) async -> CitizenCardError.Code? {
        do {
            _ = try await body()
            return nil
        } catch let error as CitizenCardError {
            return error.code
        } catch {
            return .internal
        }
    }

    @Test("reissue: every record up to the waiting period counts, then the balance goes onto the new card once")
    func migration() async throws {
        // 2026-03-02 09:00 (+08).
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 5000)
        var bus = try await fixtures.acquirer()
        let beforeLoss = try bus.tap(&chip, fen: 200, at: "20260302093000")
        world.clock.advance(seconds: 3600)
        _ = try await fixtures.cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let afterLoss = try bus.tap(&chip, fen: 300, at: "20260302110000")
        let reissued = try await fixtures.cards.reissue(
            card.id, .init(identity: fixtures.identity(resident), expectedFeeFen: 2000), actor: staff.clerk)
        let newCard = try #require(reissued.newCard)

        // The bus uploads three days later: the ride before the loss is the holder's, the one after is not.
        world.clock.advance(days: 3)
        let answer = try await bus.upload([beforeLoss, afterLoss], env: world.env)
        #expect(answer.records.map(\.outcome) == [.posted, .risk])
        #expect(try await closures.closeDue() == 0)
        world.clock.advance(days: 4)
        world.clock.advance(seconds: -1)
        #expect(try await closures.closeDue() == 0, "a second short of 7 days from the reissue")
        world.clock.advance(seconds: 1)
        #expect(try await closures.closeDue() == 1)
        #expect(try await closures.closeDue() == 0)
        let closure = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(closure.kind == .migration && closure.amountFen == 4800 && closure.successorID == newCard.id)
        #expect(closure.status == .due)
        #expect(try await balance(.purse(card.id)) == 0)
        #expect(try await balance(.refundsPayable) == 4800)

        // The new card is issued and loaded with exactly the old balance, by a real online load.
        _ = try await fixtures.produceAndDeliver(newCard)
        _ = try await fixtures.cards.issue(newCard.id, identity: fixtures.identity(resident), actor: staff.clerk)
        var newChip = try fixtures.chip(for: newCard)
        let purse = PurseService(world.env)
        func initialize(_ fen: Int64) -> String {
            let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
            let answer = newChip.process(
                [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
            return Hex.encode(answer.dropLast(2))
        }
        func request(_ fen: Int64) -> PurseService.LoadRequest {
            .init(
                amountFen: fen, funding: .oldCardRefund, terminalId: "330900000001", transactionTime: "20260310120000",
                initializeResponse: initialize(fen))
        }
        #expect(
            await code { try await purse.approveLoad(newCard.id, request(5000), actor: staff.clerk) } == .invalidField)
        #expect(await code { try await purse.approveLoad(card.id, request(4800), actor: staff.clerk) } != nil)
        let approval = try await purse.approveLoad(newCard.id, request(4800), actor: staff.clerk)
        let credit = newChip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode("20260310120000")) + (try Hex.decode(approval.mac2))
                + [0x04])
        _ = try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: staff.clerk)
        #expect(newChip.balance() == 4800)
        #expect(try await balance(.purse(newCard.id)) == 4800)
        #expect(try await balance(.refundsPayable) == 0)
        let settled = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(settled.status == .settled && settled.settlement == "load:\(approval.load.id)")
        #expect(await code { try await purse.approveLoad(newCard.id, request(4800), actor: staff.clerk) } != nil)

        // A ride of the old card that surfaces after the closure finds its purse empty: the operator's.
        let straggler = try bus.tap(&chip, fen: 100, at: "20260302093500")
        #expect(try await bus.upload([straggler], env: world.env).records.map(\.outcome) == [.risk])
        #expect(try await balance(.purse(card.id)) == 0)
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("cards still waiting never hold back a card whose waiting period is over")
    func noStarvation() async throws {
        let (first, waiting) = try await fixtures.activeCard()
        let (second, due) = try await fixtures.activeCard()
        func cancel(_ card: CardView, _ resident: Fixtures.Resident) async throws {
            _ = try await fixtures.cards.cancel(
                card.id,
                .init(
                    reason: .holderRequest, applicant: .holder, documentReference: "ID card",
                    identity: fixtures.identity(resident)), actor: staff.clerk)
        }
        try await cancel(due, second)
        world.clock.advance(days: 7)
        try await cancel(waiting, first)
        // The waiting card sorts first; with room for one, the due one is still closed.
        #expect(waiting.id.rawValue < due.id.rawValue)
        #expect(try await closures.closeDue(limit: 1) == 1)
        #expect(try await closures.closure(of: due.id, actor: staff.clerk).kind == .refund)
        #expect(await code { try await closures.closure(of: waiting.id, actor: staff.clerk) } == .notFound)
    }

    @Test("one run closes every due purse, a page at a time, each once")
    func onePass() async throws {
        var cancelled: [CardView] = []
        for _ in 0..<5 {
            let (resident, card) = try await fixtures.activeCard()
            _ = try await fixtures.cards.cancel(
                card.id,
                .init(
                    reason: .holderRequest, applicant: .holder, documentReference: "ID card",
                    identity: fixtures.identity(resident)), actor: staff.clerk)
            cancelled.append(card)
        }
        world.clock.advance(days: 7)
        #expect(try await closures.closeDue(limit: 2) == 5, "three pages of at most two")
        #expect(try await closures.closeDue(limit: 2) == 0)
        for card in cancelled { #expect(try await closures.closure(of: card.id, actor: staff.clerk).kind == .refund) }
        #expect(try await closures.closeDue(limit: 2, maxCards: 3) == 0)
    }

    @Test("cancellation: after the waiting period the balance is refunded, paid out once at the counter")
    func refund() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 1000)
        _ = try await fixtures.cards.cancel(
            card.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: "ID card",
                identity: fixtures.identity(resident)), actor: staff.clerk)
        world.clock.advance(days: 7)
        #expect(try await closures.closeDue() == 1)
        let closure = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(closure.kind == .refund && closure.amountFen == 1000 && closure.status == .due)
        let cash = AccountID.outletCash(try #require(staff.clerk.outletID))
        let drawer = try await balance(cash)
        let paid = try await closures.payOut(card.id, fixtures.holderPayout(resident), actor: staff.clerk)
        #expect(paid.closure.status == .settled && paid.closure.settlement?.hasPrefix("cash:") == true)
        #expect(
            paid.payee?.kind == .holder
                && paid.payee?.idNumberMasked.hasSuffix(String(resident.idNumber.suffix(4))) == true)
        #expect(paid.payee?.idNumberMasked.contains(resident.idNumber) == false)
        #expect(try await balance(cash) == drawer - 1000)
        #expect(try await balance(.refundsPayable) == 0)
        #expect(
            await code { try await closures.payOut(card.id, fixtures.holderPayout(resident), actor: staff.clerk) }
                == .transitionNotAllowed)
        #expect(
            await code {
                try await closures.payOut(
                    card.id, fixtures.holderPayout(resident, channel: "cheque"), actor: staff.clerk)
            } != nil)
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
    }
}

import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// Online loads with a real software card personalised with the issuer keys of the test world.
@Suite("E-purse loads (R-33)")
struct PurseServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var purse: PurseService { PurseService(world.env) }
    let terminal = "330900000001"
    let time = "20261129120000"

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func activeCardWithChip() async throws -> (CardView, SoftwareCard) { try await fixtures.activeCardWithChip() }

    /// INITIALIZE FOR LOAD on the chip: the answer as the counter sends it to the host.
    func initialize(_ chip: inout SoftwareCard, fen: Int64) throws -> String {
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let answer = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + (try Hex.decode(terminal)) + [0x10])
        #expect(answer.suffix(2) == [0x90, 0x00])
        return Hex.encode(answer.dropLast(2))
    }

    func credit(_ chip: inout SoftwareCard, mac2: String) throws -> [UInt8] {
        chip.process([0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode(time)) + (try Hex.decode(mac2)) + [0x04])
    }

    func request(_ fen: Int64, _ answer: String, funding: PurseLoad.Funding = .cash) -> PurseService.LoadRequest {
        .init(amountFen: fen, funding: funding, terminalId: terminal, transactionTime: time, initializeResponse: answer)
    }

    /// A fresh INITIALIZE FOR LOAD answer (for 1 fen) as the resolution sends it.
    func state(_ answer: String) -> PurseService.CardState {
        .init(amountFen: 1, terminalId: terminal, transactionTime: time, initializeResponse: answer)
    }

    func purseBalance(_ card: CardView) async throws -> Int64 {
        -(try await world.store.ledgerBalances([.purse(card.id)])[.purse(card.id)] ?? 0)
    }

    @Test("a cash load: MAC1 checked, MAC2 credits the card, the TAC verifies, the ledger moves once")
    func cashLoad() async throws {
        var (card, chip) = try await activeCardWithChip()
        let approval = try await purse.approveLoad(
            card.id, request(5000, try initialize(&chip, fen: 5000)), actor: staff.clerk)
        #expect(approval.load.status == .approved && approval.load.onlineCounter == 0)
        let answer = try credit(&chip, mac2: approval.mac2)
        #expect(answer.suffix(2) == [0x90, 0x00])
        #expect(chip.balance() == 5000)
        let done = try await purse.completeLoad(approval.load.id, tac: Hex.encode(answer.prefix(4)), actor: staff.clerk)
        #expect(done.status == .completed && done.resolution == "tac")
        #expect(try await purseBalance(card) == 5000)
        let cash = AccountID.outletCash(try #require(staff.clerk.outletID))
        #expect(try await world.store.ledgerBalances([cash])[cash] == 5000)
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
        let audit = try await world.store.auditEntries(AuditFilter(action: "purse.load.approve"), limit: 5)
        #expect(audit.count == 1)
        await expectError(.conflict) {
            try await purse.completeLoad(approval.load.id, tac: Hex.encode(answer.prefix(4)), actor: staff.clerk)
        }
        // The purse's cap (1,000.00 yuan) holds on the host whatever the card would accept.
        await expectError(.balanceLimit) {
            try await purse.approveLoad(
                card.id, request(96_000, try initialize(&chip, fen: 96_000)), actor: staff.clerk)
        }
        #expect(try await world.store.purseLoads(cardID: card.id).count == 1, "nothing of the refused load")
    }

    @Test("a forged MAC1, a bad TAC, an inactive card, a second load before the first is resolved: refused")
    func refusals() async throws {
        var (card, chip) = try await activeCardWithChip()
        var answer = try initialize(&chip, fen: 1000)
        let forged = String(answer.dropLast(8)) + "00000000"
        await expectError(.invalidField) {
            try await purse.approveLoad(card.id, request(1000, forged), actor: staff.clerk)
        }
        await expectError(.invalidField) {
            try await purse.approveLoad(card.id, request(1000, "00"), actor: staff.clerk)
        }
        await expectError(.forbidden) {
            try await purse.approveLoad(card.id, request(1000, answer), actor: staff.admin)
        }
        await expectError(.invalidField) {
            try await purse.approveLoad(card.id, request(100_001, answer), actor: staff.clerk)
        }
        let approval = try await purse.approveLoad(card.id, request(1000, answer), actor: staff.clerk)
        answer = try initialize(&chip, fen: 1000)
        await expectError(.conflict) { try await purse.approveLoad(card.id, request(1000, answer), actor: staff.clerk) }
        await expectError(.invalidField) {
            try await purse.completeLoad(approval.load.id, tac: "12345678", actor: staff.clerk)
        }
        let (_, pending) = try await fixtures.card(in: .approved)
        await expectError(.transitionNotAllowed) {
            try await purse.approveLoad(pending.id, request(1000, answer), actor: staff.clerk)
        }
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("the card left before CREDIT: its unchanged counter reverses the load, the money goes back")
    func interruptedBeforeCredit() async throws {
        var (card, chip) = try await activeCardWithChip()
        let approval = try await purse.approveLoad(
            card.id, request(3000, try initialize(&chip, fen: 3000)), actor: staff.clerk)
        #expect(try await purseBalance(card) == 3000, "the shadow balance counts the approved load")
        // The card never got MAC2. A fresh INITIALIZE (its MAC1 authenticates counter 0, balance 0).
        let fresh = try initialize(&chip, fen: 1)
        await expectError(.invalidField) {
            try await purse.resolveLoad(
                approval.load.id, cardState: state(String(fresh.dropLast(8)) + "00000000"), actor: staff.clerk)
        }
        let resolved = try await purse.resolveLoad(approval.load.id, cardState: state(fresh), actor: staff.clerk)
        #expect(resolved.status == .reversed && resolved.resolution == "not_credited")
        #expect(try await purseBalance(card) == 0)
        let cash = AccountID.outletCash(try #require(staff.clerk.outletID))
        #expect(try await world.store.ledgerBalances([cash])[cash] == 0)
        // A new load at the same counter is allowed again, and goes through.
        let again = try await purse.approveLoad(
            card.id, request(3000, try initialize(&chip, fen: 3000)), actor: staff.clerk)
        let answer = try credit(&chip, mac2: again.mac2)
        _ = try await purse.completeLoad(again.load.id, tac: Hex.encode(answer.prefix(4)), actor: staff.clerk)
        #expect(chip.balance() == 3000)
        #expect(try await purseBalance(card) == 3000)
    }

    @Test("the card credited but its answer was lost: its advanced counter completes the load, not twice")
    func interruptedAfterCredit() async throws {
        var (card, chip) = try await activeCardWithChip()
        let approval = try await purse.approveLoad(
            card.id, request(2000, try initialize(&chip, fen: 2000)), actor: staff.clerk)
        _ = try credit(&chip, mac2: approval.mac2)  // the TAC never reached the host
        let answer = try initialize(&chip, fen: 1)
        let next = try Hex.decode(answer)
        let counter = Int64(next[4]) << 8 | Int64(next[5])
        let balance = next[0..<4].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        #expect(counter == 1 && balance == 2000)
        let resolved = try await purse.resolveLoad(approval.load.id, cardState: state(answer), actor: staff.clerk)
        #expect(resolved.status == .completed && resolved.resolution == "card_state")
        #expect(try await purseBalance(card) == 2000, "loaded once")
        await expectError(.conflict) {
            try await purse.resolveLoad(approval.load.id, cardState: state(answer), actor: staff.clerk)
        }
    }

}

import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Synchronization
import Testing

/// A counter's reader holding a software card, in this process: the card can be pulled out just
/// before the n-th command of a session reaches it, or just after it executed it (its answer lost).
final class ChipReader: CounterReader, Sendable {
    struct State {
        var chip: SoftwareCard
        var present = true
        var sent = 0
        /// Pull the card when the command with this index (from 0, per session) arrives…
        var pullBefore: Int?
        /// …or right after the card executed it.
        var pullAfter: Int?
    }

    let state: Mutex<State>
    let terminalID = "330900000009"

    init(_ chip: SoftwareCard) { state = Mutex(State(chip: chip)) }

    var chip: SoftwareCard { state.withLock { $0.chip } }

    /// Puts the card back (a power-up: nothing selected).
    func reinsert() {
        state.withLock {
            $0.present = true
            $0.chip.reset()
            $0.pullBefore = nil
            $0.pullAfter = nil
        }
    }

    func pull(before: Int? = nil, after: Int? = nil) {
        state.withLock {
            $0.pullBefore = before
            $0.pullAfter = after
        }
    }

    func begin() async throws(CounterReaderError) {
        try state.withLock { (state: inout State) throws(CounterReaderError) in
            guard state.present else { throw .noCard }
            state.sent = 0
        }
    }

    func transmit(_ command: [UInt8]) async throws(CounterReaderError) -> [UInt8] {
        try state.withLock { (state: inout State) throws(CounterReaderError) -> [UInt8] in
            guard state.present else { throw .noAnswer("the card left the reader") }
            let index = state.sent
            state.sent += 1
            if index == state.pullBefore {
                state.present = false
                throw .noAnswer("the card left the reader")
            }
            let answer = state.chip.process(command)
            if index == state.pullAfter {
                state.present = false
                throw .noAnswer("the card left the reader")
            }
            return answer
        }
    }

    func end() async {}
}

/// The e-purse at the counter with the card in the counter's reader (issue 21, part 5): the
/// server drives the whole load; a card pulled at any moment leaves a load that the card itself
/// settles, and the books always agree with the chip.
@Suite("Counter: loads with the card in the reader")
struct CounterCardTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var counter: CounterCardService { CounterCardService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func purseBalance(_ card: CardView) async throws -> Int64 {
        -(try await world.store.ledgerBalances([.purse(card.id)])[.purse(card.id)] ?? 0)
    }

    func ledgerSum() async throws -> Int64 {
        try await world.store.ledgerAllBalances().values.reduce(0, +)
    }

    @Test("a cash load: the chip is credited, the TAC checked, the books and the chip agree")
    func load() async throws {
        let (card, chip) = try await fixtures.activeCardWithChip()
        let reader = ChipReader(chip)
        let outcome = try await counter.load(
            card.id, amountFen: 12_345, funding: .cash, reader: reader, actor: staff.clerk)
        guard case .completed(let load) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        #expect(load.status == .completed && load.tac != nil && load.terminalID == reader.terminalID)
        #expect(reader.chip.balance() == 12_345)
        #expect(try await purseBalance(card) == 12_345)
        let read = try await counter.read(card.id, reader: reader, actor: staff.clerk)
        #expect(read.asn == card.asn && read.balanceFen == 12_345 && read.ledgerBalanceFen == 12_345)
        #expect(try await ledgerSum() == 0)
    }

    @Test(
        "refused before anything is written: another card, no card, no agent, an amount out of range, a clerk without a counter"
    )
    func refusals() async throws {
        let (card, _) = try await fixtures.activeCardWithChip()
        let (other, otherChip) = try await fixtures.activeCardWithChip()
        let reader = ChipReader(otherChip)
        await expectError(.cardMismatch) {
            try await counter.load(card.id, amountFen: 100, funding: .cash, reader: reader, actor: staff.clerk)
        }
        await expectError(.cardMismatch) { try await counter.read(card.id, reader: reader, actor: staff.clerk) }
        reader.pull(before: 0)
        await expectError(.readerUnavailable) {
            try await counter.load(other.id, amountFen: 100, funding: .cash, reader: reader, actor: staff.clerk)
        }
        await expectError(.readerUnavailable) {
            try await counter.load(other.id, amountFen: 100, funding: .cash, reader: reader, actor: staff.clerk)
        }
        reader.reinsert()
        for amount: Int64 in [0, -1, 100_001] {
            await expectError(.invalidField) {
                try await counter.load(other.id, amountFen: amount, funding: .cash, reader: reader, actor: staff.clerk)
            }
        }
        await expectError(.forbidden) {
            try await counter.load(other.id, amountFen: 100, funding: .cash, reader: reader, actor: staff.auditor)
        }
        #expect(try await PurseService(world.env).loads(of: card.id, actor: staff.clerk).isEmpty)
        #expect(try await PurseService(world.env).loads(of: other.id, actor: staff.clerk).isEmpty)
        #expect(reader.chip.balance() == 0)
    }

    /// Every moment the card can leave: before or after each command of the load. Whatever it is,
    /// the load is either not there, or settled by the card when it comes back, and the books then
    /// hold exactly what the chip holds.
    @Test("the card pulled before or after any command of a load: settled from the card, books equal chip")
    func pulledAtAnyMoment() async throws {
        // SELECT, READ BINARY, INITIALIZE FOR LOAD, CREDIT FOR LOAD.
        for index in 0..<4 {
            for after in [false, true] {
                let (card, chip) = try await fixtures.activeCardWithChip()
                let reader = ChipReader(chip)
                if after { reader.pull(after: index) } else { reader.pull(before: index) }
                let outcome: CounterCardService.LoadOutcome?
                do {
                    outcome = try await counter.load(
                        card.id, amountFen: 5_000, funding: .cash, reader: reader, actor: staff.clerk)
                } catch {
                    #expect(error.code == .readerUnavailable, "\(index) \(after): \(error)")
                    outcome = nil
                }
                reader.reinsert()
                if index < 3 {
                    // Before the host's approval: nothing was written.
                    #expect(outcome == nil, "\(index) \(after)")
                    #expect(try await PurseService(world.env).loads(of: card.id, actor: staff.clerk).isEmpty)
                } else {
                    guard case .interrupted(let load, _) = outcome else {
                        Issue.record("\(index) \(after): \(String(describing: outcome))")
                        continue
                    }
                    // A new load waits until this one is settled.
                    await expectError(.conflict) {
                        try await counter.load(
                            card.id, amountFen: 100, funding: .cash, reader: reader, actor: staff.clerk)
                    }
                    let settled = try await counter.resolve(load.id, reader: reader, actor: staff.clerk)
                    #expect(settled.status == (after ? .completed : .reversed), "\(index) \(after)")
                    await expectError(.conflict) {
                        try await counter.resolve(load.id, reader: reader, actor: staff.clerk)
                    }
                }
                #expect(try await purseBalance(card) == reader.chip.balance(), "\(index) \(after)")
                let again = try await counter.load(
                    card.id, amountFen: 700, funding: .cash, reader: reader, actor: staff.clerk)
                #expect(again.load.status == .completed)
                #expect(try await purseBalance(card) == reader.chip.balance(), "\(index) \(after)")
                #expect(try await ledgerSum() == 0)
            }
        }
    }

    @Test("a load settled from another card is refused; the load stays open")
    func resolveWithAnotherCard() async throws {
        let (card, chip) = try await fixtures.activeCardWithChip()
        let (_, otherChip) = try await fixtures.activeCardWithChip()
        let reader = ChipReader(chip)
        reader.pull(before: 3)
        let outcome = try await counter.load(
            card.id, amountFen: 900, funding: .cash, reader: reader, actor: staff.clerk)
        guard case .interrupted(let load, _) = outcome else {
            Issue.record("\(outcome)")
            return
        }
        let wrong = ChipReader(otherChip)
        await expectError(.cardMismatch) { try await counter.resolve(load.id, reader: wrong, actor: staff.clerk) }
        #expect(try await world.store.purseLoad(id: load.id)?.status == .approved)
        reader.reinsert()
        #expect(try await counter.resolve(load.id, reader: reader, actor: staff.clerk).status == .reversed)
        #expect(try await purseBalance(card) == 0)
    }

}

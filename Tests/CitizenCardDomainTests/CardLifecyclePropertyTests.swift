import CitizenCardDomain
import PropertyBased
import Synchronization
import Testing

/// Random lives of a card: long sequences of actions at advancing times, from a new application.
@Suite("Card lifecycle: random walks")
struct CardLifecyclePropertyTests {
    /// One step: which action, whether to pick it among those the table allows in the current state
    /// (most steps, so that walks get far), whether an ending action (`reject`, `cancel`) may be
    /// picked, how much time passes first, and whether to jump to shortly before the card's expiry.
    static let step = zip(
        Gen.int(in: 0...10_000),
        Gen.bool(0.85),
        Gen.bool(0.05),
        Gen.int64(in: 0...(40 * 86_400)),
        Gen.bool(0.1)
    )
    static let walks = zip(step.array(of: 1...80), Gen.bool(0.5))

    final class Visited: Sendable {
        let states = Mutex<Set<CardState>>([])
        let pairs = Mutex<Set<Pair>>([])
    }

    @Test("G1-G6, G10, G16: invariants hold along any sequence of actions")
    func randomWalks() async {
        let visited = Visited()
        await propertyCheck(count: 1000, input: Self.walks) { steps, disciplined in
            let (states, pairs) = Self.walk(steps, disciplined: disciplined)
            visited.states.withLock { $0.formUnion(states) }
            visited.pairs.withLock { $0.formUnion(pairs) }
        }
        // The walks are worth something only if they get everywhere. One rare pair may be missed in
        // a run: requiring every pair would fail now and then by chance.
        #expect(visited.states.withLock { $0 } == Set(CardState.allCases))
        let taken = visited.pairs.withLock { $0 }
        let missed = Set(transitionTable.keys).subtracting(taken)
        #expect(missed.count <= 1, "allowed pairs never taken: \(missed)")
    }

    /// Walks one card through `steps`; returns the states it was in and the transitions it took.
    static func walk(_ steps: [(Int, Bool, Bool, Int64, Bool)], disciplined: Bool) -> (Set<CardState>, Set<Pair>) {
        let start = Fixture.now
        var card = Card(
            id: Fixture.cardID, personID: Fixture.personID, kind: .application, number: "3309000000010",
            asn: "33090001000000000001", channel: .individual, outletID: Fixture.outlet, predecessorID: nil, at: start)
        var events: [CardEvent] = []
        var time = start
        var states: Set<CardState> = [card.state]
        var pairs: Set<Pair> = []
        for (index, (choice, preferAllowed, mayEnd, advance, jump)) in steps.enumerated() {
            // A jump lands in the last `advance` seconds before the card's expiry, where renewal,
            // expiry and a pre-loss outliving the card happen; other steps just let time pass.
            if jump, let expiry = card.expiresAt, expiry.adding(seconds: -advance) > time {
                time = expiry.adding(seconds: -advance)
            } else {
                time = time.adding(seconds: advance)
            }
            if disciplined || choice % 10 == 0 {
                // What a use case does first: record the time-based transitions that fell due.
                for (next, event) in card.dueTransitions(context: Fixture.context(at: time)) {
                    check(before: card, after: next, event: event)
                    pairs.insert(Pair(card.state, event.action))
                    card = next
                    states.insert(card.state)
                    events.append(event)
                }
            }
            let allowed = CardAction.transitionKinds.filter {
                transitionTable[Pair(card.state, $0)] != nil && (mayEnd || ($0 != .reject && $0 != .cancel))
            }
            let kind =
                preferAllowed && !allowed.isEmpty
                ? allowed[choice % allowed.count]
                : CardAction.transitionKinds[choice % CardAction.transitionKinds.count]
            let action = Fixture.action(kind, successor: fixedID(10_000 + index))
            let before = card
            do {
                let (next, event) = try card.applying(action, context: Fixture.context(at: time))
                check(before: before, after: next, event: event)
                pairs.insert(Pair(before.state, kind))
                card = next
                states.insert(card.state)
                events.append(event)
            } catch {
                if transitionTable[Pair(before.state, kind)] == nil {
                    #expect(error.code == .transitionNotAllowed, "\(Pair(before.state, kind))")
                } else {
                    // An allowed pair whose guard failed.
                    let guards: [CitizenCardError.Code] =
                        switch kind {
                        case .reissue, .requestReplacement: [.successorExists]
                        case .renew: [.successorExists, .notYetDue]
                        case .expire, .expirePreLoss: [.notYetDue]
                        case .supersede: [.transitionNotAllowed]
                        default: []
                        }
                    #expect(guards.contains(error.code), "\(Pair(before.state, kind)): \(error)")
                }
            }
        }
        // G2: the events number the versions 2, 3, … without gaps.
        #expect(events.map(\.sequence) == Array(2..<(2 + Int64(events.count))))
        #expect(card.version == 1 + Int64(events.count))
        // G16: with the due transitions recorded first, the history is in time order.
        if disciplined {
            for (earlier, later) in zip(events, events.dropFirst()) {
                #expect(
                    earlier.at <= later.at, "\(earlier.action) at \(earlier.at) before \(later.action) at \(later.at)")
            }
        }
        return (states, pairs)
    }

    static func check(before: Card, after: Card, event: CardEvent) {
        #expect(transitionTable[Pair(before.state, event.action)] == after.state, "\(Pair(before.state, event.action))")
        #expect(event.from == before.state && event.to == after.state)
        #expect(event.sequence == before.version + 1 && after.version == event.sequence)
        // G4, G6: closed is final and its time never changes.
        if before.state.slot == .closed {
            #expect(after.state == before.state)
            #expect(after.closedAt == before.closedAt)
        }
        #expect((after.closedAt != nil) == (after.state.slot == .closed))
        // G5: usable only when active; the pipeline is never re-entered from held.
        #expect(after.state.isUsable == (after.state == .active))
        if before.state.slot == .held { #expect(after.state.slot != .pipeline) }
        // G10: a recorded successor never changes.
        if let successor = before.successorID { #expect(after.successorID == successor) }
        // Identity never changes.
        #expect(after.id == before.id && after.personID == before.personID && after.number == before.number)
        #expect(after.asn == before.asn && after.appliedAt == before.appliedAt && after.kind == before.kind)
        // A held card has a validity; a lost or pre-lost one has a loss report of the right kind.
        if after.state.slot == .held { #expect(after.issuedAt != nil && after.expiresAt != nil) }
        switch after.state {
        case .preLost: #expect(after.loss?.kind == .pre && after.loss?.preLossExpiresAt != nil)
        case .lost: #expect(after.loss?.kind == .written && after.loss?.writtenAt != nil)
        case .active: #expect(after.loss == nil)
        default: break
        }
        if let loss = after.loss { #expect(loss.effectiveAt <= (loss.writtenAt ?? loss.effectiveAt)) }
    }
}

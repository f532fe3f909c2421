import CitizenCardDomain
import PropertyBased
import Testing

/// Random lives of a card: long sequences of actions at advancing times, from a new application.
@Suite("Card lifecycle: random walks")
struct CardLifecyclePropertyTests {
    /// One step: which action (biased to the ones the table allows), how much time passes first.
    static let step = zip(
        Gen.int(in: 0...10_000),
        Gen.bool(0.8),
        Gen.int64(in: 0...(40 * 86_400)),
        Gen.bool(0.08)
    )
    static let walks = zip(step.array(of: 1...80), Gen.bool(0.5))

    @Test("G1-G6, G10, G16: invariants hold along any sequence of actions")
    func randomWalks() async {
        await propertyCheck(count: 400, input: Self.walks) { steps, disciplined in
            Self.walk(steps, disciplined: disciplined)
        }
    }

    static func walk(_ steps: [(Int, Bool, Int64, Bool)], disciplined: Bool) {
        let start = Fixture.now
        var card = Card(
            id: Fixture.cardID, personID: Fixture.personID, kind: .application, number: "3309000000010",
            asn: "33090001000000000001", channel: .individual, outletID: Fixture.outlet, predecessorID: nil, at: start)
        var events: [CardEvent] = []
        var time = start
        for (index, (choice, preferAllowed, advance, jump)) in steps.enumerated() {
            time = time.adding(seconds: advance + (jump ? 3 * 365 * 86_400 : 0))
            if disciplined || choice % 10 == 0 {
                // What a use case does first: record the time-based transitions that fell due.
                for (next, event) in card.dueTransitions(context: Fixture.context(at: time)) {
                    check(before: card, after: next, event: event)
                    card = next
                    events.append(event)
                }
            }
            let allowed = CardAction.transitionKinds.filter { transitionTable[Pair(card.state, $0)] != nil }
            let kind =
                preferAllowed && !allowed.isEmpty
                ? allowed[choice % allowed.count] : CardAction.transitionKinds[choice % CardAction.transitionKinds.count]
            let action = Fixture.action(kind, successor: fixedID(10_000 + index))
            let before = card
            do {
                let (next, event) = try card.applying(action, context: Fixture.context(at: time))
                check(before: before, after: next, event: event)
                card = next
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
                #expect(earlier.at <= later.at, "\(earlier.action) at \(earlier.at) before \(later.action) at \(later.at)")
            }
        }
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

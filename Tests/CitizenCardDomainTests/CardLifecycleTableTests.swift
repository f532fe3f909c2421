import CitizenCardDomain
import Foundation
import Testing

/// A (state, action) pair: the key of the transition table.
struct Pair: Hashable, Sendable, CustomStringConvertible {
    let state: CardState
    let kind: CardAction.Kind

    init(_ state: CardState, _ kind: CardAction.Kind) {
        self.state = state
        self.kind = kind
    }

    var description: String { "\(state.rawValue) + \(kind.rawValue)" }
}

/// THE transition table, written once. Every pair listed is allowed and leads to the state given
/// (subject to the guards that `CardLifecycleGuardTests` checks); every pair not listed is refused
/// with `transition_not_allowed`. docs/card-lifecycle.md shows the same table, and
/// `documentedTableIsThisTable` checks that it does.
let transitionTable: [Pair: CardState] = [
    Pair(.applied, .approve): .approved,
    Pair(.applied, .reject): .rejected,
    Pair(.applied, .cancel): .cancelled,
    Pair(.approved, .addToBatch): .inProduction,
    Pair(.approved, .cancel): .cancelled,
    Pair(.inProduction, .productionSucceeded): .produced,
    Pair(.inProduction, .productionFailed): .approved,
    Pair(.inProduction, .cancel): .cancelled,
    Pair(.produced, .deliver): .delivered,
    Pair(.produced, .cancel): .cancelled,
    Pair(.delivered, .issue): .active,
    Pair(.delivered, .cancel): .cancelled,
    Pair(.active, .reportPreLoss): .preLost,
    Pair(.active, .reportWrittenLoss): .lost,
    Pair(.active, .requestReplacement): .active,
    Pair(.active, .renew): .active,
    Pair(.active, .supersede): .replaced,
    Pair(.active, .cancel): .cancelled,
    Pair(.active, .expire): .expired,
    Pair(.preLost, .reportWrittenLoss): .lost,
    Pair(.preLost, .withdrawLoss): .active,
    Pair(.preLost, .expirePreLoss): .active,
    Pair(.preLost, .supersede): .replaced,
    Pair(.preLost, .cancel): .cancelled,
    Pair(.preLost, .expire): .expired,
    Pair(.preLost, .renew): .preLost,
    Pair(.lost, .withdrawLoss): .active,
    Pair(.lost, .reissue): .replaced,
    Pair(.lost, .supersede): .replaced,
    Pair(.lost, .cancel): .cancelled,
    Pair(.lost, .expire): .expired,
    Pair(.lost, .renew): .lost,
    Pair(.expired, .renew): .expired,
]

@Suite("Card lifecycle: the transition table")
struct CardLifecycleTableTests {
    /// G1, G2, G3, G6, G7: walks every (state, action) pair.
    @Test(
        "G1-G3: every (state, action) pair does what the table says", arguments: CardState.allCases,
        CardAction.transitionKinds)
    func everyStateAndAction(state: CardState, kind: CardAction.Kind) {
        let card = Fixture.card(in: state, for: kind)
        let original = card
        let action = Fixture.action(kind)
        #expect(action.kind == kind)
        #expect(card.state == state)
        let target = transitionTable[Pair(state, kind)]
        do {
            let (next, event) = try card.applying(action, context: Fixture.context)
            guard let target else {
                Issue.record("\(Pair(state, kind)) must be refused, but it led to \(next.state.rawValue)")
                return
            }
            // The documented transition, and nothing else.
            #expect(next == Fixture.expected(after: action, on: card, to: target))
            #expect(next.state == target)
            #expect(next.version == card.version + 1)
            // The one event that records it.
            let at = Fixture.effectiveTime(of: kind, on: card)
            #expect(
                event
                    == CardEvent(
                        cardID: card.id, sequence: card.version + 1, action: kind, from: state, to: target, at: at,
                        actor: "op-dh01", outletID: Fixture.outlet, reason: Fixture.expectedReason(of: action)))
            #expect(event.sequence == next.version)
            if target.slot == .closed && state.slot != .closed {
                #expect(next.closedAt == event.at)
            } else {
                #expect(next.closedAt == card.closedAt)
            }
        } catch {
            #expect(target == nil, "\(Pair(state, kind)) must lead to \(target?.rawValue ?? "-"), but threw \(error)")
            #expect(error.code == .transitionNotAllowed)
            #expect(error.detail?.contains(kind.rawValue) == true)
            #expect(error.detail?.contains(state.rawValue) == true)
            #expect(card == original, "a refused action changes nothing")
        }
    }

    @Test("the table has 33 allowed pairs of the 204")
    func tableSize() {
        #expect(CardState.allCases.count * CardAction.transitionKinds.count == 204)
        #expect(transitionTable.count == 33)
    }

    @Test("G4: closed states are final; only renew is accepted on an expired card, and it stays expired")
    func closedStatesAreFinal() {
        for (pair, target) in transitionTable where pair.state.slot == .closed {
            #expect(pair == Pair(.expired, .renew))
            #expect(target == .expired)
        }
        for state in CardState.allCases where state.slot == .closed {
            #expect(!transitionTable.contains { $0.key.state == state && $0.value != state })
        }
    }

    @Test("G5: a card enters the held slot only by issue, and never goes back to the pipeline")
    func heldOnlyByIssue() {
        for (pair, target) in transitionTable {
            if target.slot == .held && pair.state.slot != .held {
                #expect(pair == Pair(.delivered, .issue))
            }
            if pair.state.slot == .held {
                #expect(target.slot != .pipeline, "\(pair)")
            }
            if pair.state.slot == .pipeline {
                #expect(target.slot != .closed || [.reject, .cancel].contains(pair.kind), "\(pair)")
            }
        }
    }

    @Test("G15: every card not yet closed can be cancelled")
    func everyOpenCardCanBeCancelled() {
        for state in CardState.allCases {
            #expect((transitionTable[Pair(state, .cancel)] == .cancelled) == (state.slot != .closed))
        }
    }

    @Test("slots: pipeline, held, closed; only active is usable")
    func slots() {
        let slots = Dictionary(uniqueKeysWithValues: CardState.allCases.map { ($0, $0.slot) })
        #expect(
            slots == [
                .applied: .pipeline, .approved: .pipeline, .inProduction: .pipeline, .produced: .pipeline,
                .delivered: .pipeline, .active: .held, .preLost: .held, .lost: .held, .rejected: .closed,
                .replaced: .closed, .cancelled: .closed, .expired: .closed,
            ])
        #expect(CardState.allCases.filter(\.isUsable) == [.active])
    }

    @Test("the stable names of states and actions")
    func stableNames() {
        #expect(
            CardState.allCases.map(\.rawValue) == [
                "applied", "rejected", "approved", "in_production", "produced", "delivered", "active", "pre_lost",
                "lost", "replaced", "cancelled", "expired",
            ])
        #expect(
            CardAction.transitionKinds.map(\.rawValue) == [
                "approve", "reject", "add_to_batch", "production_succeeded", "production_failed", "deliver", "issue",
                "report_pre_loss", "report_written_loss", "withdraw_loss", "expire_pre_loss", "reissue",
                "request_replacement", "renew", "supersede", "cancel", "expire",
            ])
        // `create` names the first event of a card, never an action on one.
        #expect(CardAction.Kind.allCases == CardAction.transitionKinds + [.create])
        #expect(!transitionTable.keys.contains { $0.kind == .create })
    }

    // MARK: The same table in docs/card-lifecycle.md

    static var documentURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/card-lifecycle.md")
    }

    /// The lines of the document between `<!-- name:begin -->` and `<!-- name:end -->` that are table rows.
    static func tableRows(named name: String) throws -> [[String]] {
        let text = try String(contentsOf: documentURL, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let begin = try #require(lines.firstIndex(of: "<!-- \(name):begin -->"), "no \(name):begin marker")
        let end = try #require(lines.firstIndex(of: "<!-- \(name):end -->"), "no \(name):end marker")
        return lines[(begin + 1)..<end]
            .filter { $0.hasPrefix("|") && !$0.hasPrefix("|---") && !$0.hasPrefix("| ---") }
            .map { line in
                line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                    .map { $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "") }
            }
    }

    @Test("docs/card-lifecycle.md shows this table as a matrix")
    func documentedMatrixIsThisTable() throws {
        let rows = try Self.tableRows(named: "transition-matrix")
        let header = try #require(rows.first)
        #expect(Array(header.dropFirst()) == CardState.allCases.map(\.rawValue), "columns are the states in order")
        var documented: [Pair: CardState] = [:]
        var actions: [String] = []
        for row in rows.dropFirst() {
            let kind = try #require(CardAction.Kind(rawValue: row[0]), "unknown action \(row[0])")
            actions.append(row[0])
            #expect(row.count == CardState.allCases.count + 1, "\(row[0]) has \(row.count - 1) cells")
            for (state, cell) in zip(CardState.allCases, row.dropFirst()) where cell != "·" {
                let target = CardState(rawValue: cell)
                #expect(target != nil, "unknown state \(cell)")
                documented[Pair(state, kind)] = target
            }
        }
        #expect(actions == CardAction.transitionKinds.map(\.rawValue), "rows are the actions in order")
        #expect(documented == transitionTable)
    }

    @Test("docs/card-lifecycle.md lists each allowed transition once, as the table says")
    func documentedTransitionListIsThisTable() throws {
        let rows = try Self.tableRows(named: "transition-list")
        var documented: [Pair: CardState] = [:]
        for row in rows.dropFirst() {
            let kind = try #require(CardAction.Kind(rawValue: row[1]), "unknown action \(row[1])")
            let from = try #require(CardState(rawValue: row[0]), "unknown state \(row[0])")
            let to = try #require(CardState(rawValue: row[2]), "unknown state \(row[2])")
            #expect(documented[Pair(from, kind)] == nil, "\(Pair(from, kind)) listed twice")
            documented[Pair(from, kind)] = to
        }
        #expect(documented == transitionTable)
    }

    @Test("docs/card-lifecycle.md names every guarantee that the tests check")
    func documentedGuarantees() throws {
        let text = try String(contentsOf: Self.documentURL, encoding: .utf8)
        for number in 1...16 {
            #expect(text.contains("**G\(number).**"), "G\(number) is missing")
        }
    }
}

import CitizenCardDomain
import PropertyBased
import Testing

/// The guards inside allowed pairs, the effective times, the successor mechanism and
/// `dueTransitions`. Numbers refer to the guarantees in docs/card-lifecycle.md.
@Suite("Card lifecycle: guards, times and successors")
struct CardLifecycleGuardTests {
    typealias F = Fixture

    static func apply(
        _ action: CardAction, to card: Card, at time: Timestamp = Fixture.now
    )
        -> Result<(Card, CardEvent), CitizenCardError>
    {
        Result { () throws(CitizenCardError) in try card.applying(action, context: F.context(at: time)) }
    }

    static func code(_ action: CardAction, on card: Card, at time: Timestamp = Fixture.now) -> CitizenCardError.Code? {
        apply(action, to: card, at: time).failure?.code
    }

    // MARK: New cards

    @Test func anApplicationStartsApplied() {
        let card = Card(
            id: F.cardID, personID: F.personID, kind: .application, number: "3309000000010",
            asn: "33090001000000000001",
            channel: .employer(code: "91330900MA2A000001", name: "舟山某公司"), outletID: F.outlet, predecessorID: nil,
            at: F.now)
        #expect(card.state == .applied)
        #expect(card.version == 1)
        #expect(card.appliedAt == F.now && card.updatedAt == F.now)
        #expect(card.approvedAt == nil && card.issuedAt == nil && card.expiresAt == nil && card.closedAt == nil)
        #expect(card.channel.kind == .employer && card.channel.employerCode == "91330900MA2A000001")
    }

    @Test(arguments: [Card.Kind.reissue, .replacement, .renewal])
    func aSuccessorStartsApproved(kind: Card.Kind) {
        let card = Card(
            id: F.successor, personID: F.personID, kind: kind, number: "3309000000028", asn: "33090001000000000002",
            channel: .individual, outletID: F.outlet, predecessorID: F.cardID, at: F.now)
        #expect(card.state == .approved)
        #expect(card.approvedAt == F.now)
        #expect(card.predecessorID == F.cardID)
        #expect(card.state.slot == .pipeline)
    }

    // MARK: G12 reasons

    @Test(
        "G12: reject and production failure need a reason",
        arguments: ["", "   ", "\u{3000}\t\n\r", String(repeating: "长", count: 501)])
    func reasonRequired(reason: String) {
        let applied = F.card(in: .applied)
        let inProduction = F.card(in: .inProduction)
        for (action, card) in [
            (CardAction.reject(reason: reason), applied), (.productionFailed(reason: reason), inProduction),
        ] {
            let error = Self.apply(action, to: card).failure
            #expect(error?.code == .invalidField)
            #expect(error?.field == "reason")
        }
    }

    @Test("G12: reasons are stored trimmed, up to 500 characters")
    func reasonTrimmed() throws {
        let long = String(repeating: "长", count: 500)
        let (rejected, event) = try Self.apply(.reject(reason: " \u{3000}" + long + "\n"), to: F.card(in: .applied))
            .get()
        #expect(rejected.note == long)
        #expect(event.reason == long)
        let (failed, failEvent) = try Self.apply(
            .productionFailed(reason: "  bad chip  "), to: F.card(in: .inProduction)
        ).get()
        #expect(failed.note == "bad chip")
        #expect(failEvent.reason == "bad chip")
        #expect(failed.batchID == nil)
        #expect(failed.state == .approved)
        // Back in the queue, it can join another batch.
        let (again, _) = try Self.apply(.addToBatch(fixedID(801)), to: failed).get()
        #expect(again.batchID == fixedID(801))
    }

    // MARK: G10 one successor

    @Test("G10: reissue, replacement and renewal refuse a second successor")
    func successorExists() {
        func withSuccessor(_ state: CardState, for kind: CardAction.Kind?) -> Card {
            var fields = CardFields(F.card(in: state, for: kind))
            fields.successorID = fixedID(950)
            return fields.card
        }
        #expect(
            Self.code(.reissue(successor: F.successor), on: withSuccessor(.lost, for: .reissue)) == .successorExists)
        #expect(
            Self.code(
                .requestReplacement(reason: .dataChanged, successor: F.successor),
                on: withSuccessor(.active, for: .requestReplacement))
                == .successorExists)
        #expect(Self.code(.renew(successor: F.successor), on: withSuccessor(.active, for: .renew)) == .successorExists)
        #expect(Self.code(.renew(successor: F.successor), on: withSuccessor(.expired, for: .renew)) == .successorExists)
        // Checked before the renewal window.
        #expect(Self.code(.renew(successor: F.successor), on: withSuccessor(.active, for: nil)) == .successorExists)
    }

    @Test("G10: supersede needs a recorded successor", arguments: [CardState.active, .preLost, .lost])
    func supersedeNeedsSuccessor(state: CardState) {
        let card = F.card(in: state)
        #expect(card.successorID == nil)
        let error = Self.apply(.supersede, to: card).failure
        #expect(error?.code == .transitionNotAllowed)
    }

    // MARK: G11 renewal window

    @Test("G11: renewal opens 90 days before expiry")
    func renewalWindow() throws {
        let card = F.card(in: .active)
        let expiry = try #require(card.expiresAt)
        let opens = expiry.adding(days: -90)
        let early = Self.apply(.renew(successor: F.successor), to: card, at: opens.adding(seconds: -1)).failure
        #expect(early?.code == .notYetDue)
        #expect(early?.detailZh == "有效期届满前90天内方可换发")
        let (renewed, event) = try Self.apply(.renew(successor: F.successor), to: card, at: opens).get()
        #expect(renewed.state == .active)
        #expect(renewed.state.isUsable)
        #expect(renewed.successorID == F.successor)
        #expect(event.from == .active && event.to == .active && event.at == opens)
        // After expiry (not yet recorded), renewal is still open.
        #expect(Self.apply(.renew(successor: F.successor), to: card, at: expiry.adding(days: 1)).success != nil)
    }

    @Test("G11: the window follows the policy")
    func renewalWindowFromPolicy() {
        let card = F.card(in: .active)
        let policy = LifecyclePolicy(preLossSeconds: 86_400, validityYears: 5, renewalWindowDays: 365)
        let context = LifecycleContext(now: F.now, policy: policy, actor: "op", outletID: nil)
        #expect((try? card.applying(.renew(successor: F.successor), context: context)) != nil)
    }

    // MARK: G7 time-based transitions

    @Test("G7: expiry takes effect when it fell due, not when noticed")
    func expiryTakesEffectWhenDue() throws {
        let card = F.card(in: .active, for: .expire)
        let due = try #require(card.expiresAt)
        let noticed = due.adding(days: 3)
        let (expired, event) = try Self.apply(.expire, to: card, at: noticed).get()
        #expect(expired.state == .expired)
        #expect(event.at == due)
        #expect(expired.closedAt == due)
        #expect(expired.updatedAt == noticed)
    }

    @Test("G7: expiry before it is due is refused", arguments: [CardState.active, .preLost, .lost])
    func expiryNotYetDue(state: CardState) throws {
        let card = F.card(in: state, for: .expire)
        let due = try #require(card.expiresAt)
        #expect(Self.code(.expire, on: card, at: due.adding(seconds: -1)) == .notYetDue)
        #expect(Self.apply(.expire, to: card, at: due).success?.1.at == due)
    }

    @Test("G7: a card without an expiry time cannot expire")
    func expiryWithoutTime() {
        var fields = CardFields(F.card(in: .active))
        fields.expiresAt = nil
        #expect(Self.code(.expire, on: fields.card) == .notYetDue)
    }

    @Test("G7: a pre-loss lapses when it is due, not when noticed")
    func preLossLapsesWhenDue() throws {
        let card = F.card(in: .preLost, for: .expirePreLoss)
        let due = try #require(card.loss?.preLossExpiresAt)
        #expect(Self.code(.expirePreLoss, on: card, at: due.adding(seconds: -1)) == .notYetDue)
        let (active, event) = try Self.apply(.expirePreLoss, to: card, at: due.adding(days: 2)).get()
        #expect(active.state == .active)
        #expect(active.loss == nil)
        #expect(event.at == due)
        #expect(active.updatedAt == due.adding(days: 2))
        #expect(Self.apply(.expirePreLoss, to: card, at: due).success?.1.at == due)
    }

    // MARK: G8 loss reports

    @Test("G8: a written loss report takes effect at once")
    func writtenLossAtOnce() throws {
        let (lost, event) = try Self.apply(.reportWrittenLoss, to: F.card(in: .active)).get()
        #expect(lost.state == .lost)
        #expect(!lost.state.isUsable)
        #expect(
            lost.loss
                == LossReport(
                    kind: .written, channel: .outlet, effectiveAt: F.now, preLossExpiresAt: nil, writtenAt: F.now))
        #expect(event.at == F.now)
    }

    @Test(
        "G8: a pre-loss takes effect at once and lapses after the configured period",
        arguments: LossReport.Channel.allCases)
    func preLoss(channel: LossReport.Channel) throws {
        let policy = LifecyclePolicy(preLossSeconds: 3 * 86_400)
        let context = LifecycleContext(now: F.now, policy: policy, actor: "self-service", outletID: nil)
        let (preLost, event) = try F.card(in: .active).applying(.reportPreLoss(channel: channel), context: context)
        #expect(preLost.state == .preLost)
        #expect(!preLost.state.isUsable)
        #expect(
            preLost.loss
                == LossReport(
                    kind: .pre, channel: channel, effectiveAt: F.now, preLossExpiresAt: F.now.adding(days: 3),
                    writtenAt: nil))
        #expect(event.at == F.now)
        #expect(event.actor == "self-service")
        #expect(event.outletID == nil)
    }

    @Test("G8: a pre-loss confirmed in writing keeps the pre-loss effective time")
    func preLossConfirmed() throws {
        let reported = F.now
        let (preLost, _) = try Self.apply(.reportPreLoss(channel: .phone), to: F.card(in: .active), at: reported).get()
        let written = reported.adding(days: 4).adding(seconds: 86_399)  // one second before it lapses
        let (lost, event) = try Self.apply(.reportWrittenLoss, to: preLost, at: written).get()
        #expect(lost.state == .lost)
        #expect(
            lost.loss
                == LossReport(
                    kind: .written, channel: .phone, effectiveAt: reported, preLossExpiresAt: nil, writtenAt: written))
        #expect(event.at == written, "the event is when the written report was made")
    }

    @Test("G8: a written report after the pre-loss lapsed takes effect at its own time")
    func writtenAfterLapse() throws {
        let reported = F.now
        let (preLost, _) = try Self.apply(.reportPreLoss(channel: .selfService), to: F.card(in: .active), at: reported)
            .get()
        for written in [reported.adding(days: 5), reported.adding(days: 9)] {
            let (lost, _) = try Self.apply(.reportWrittenLoss, to: preLost, at: written).get()
            #expect(
                lost.loss
                    == LossReport(
                        kind: .written, channel: .outlet, effectiveAt: written, preLossExpiresAt: nil,
                        writtenAt: written))
        }
    }

    // MARK: G9 withdrawal and reissue (Art 18, 19)

    @Test("G9: loss can be withdrawn until a reissue is applied for")
    func withdrawUntilReissue() throws {
        let (lost, _) = try Self.apply(.reportWrittenLoss, to: F.card(in: .active)).get()
        let (withdrawn, event) = try Self.apply(.withdrawLoss, to: lost, at: F.now.adding(seconds: 60)).get()
        #expect(withdrawn.state == .active && withdrawn.loss == nil)
        #expect(event.at == F.now.adding(seconds: 60))

        let (preLost, _) = try Self.apply(.reportPreLoss(channel: .phone), to: F.card(in: .active)).get()
        #expect(Self.apply(.withdrawLoss, to: preLost).success?.0.state == .active)
        // A pre-loss must be confirmed in writing before a reissue.
        #expect(Self.code(.reissue(successor: F.successor), on: preLost) == .transitionNotAllowed)

        let (replaced, reissueEvent) = try Self.apply(
            .reissue(successor: F.successor), to: lost, at: F.now.adding(seconds: 120)
        ).get()
        #expect(replaced.state == .replaced)
        #expect(replaced.closedAt == F.now.adding(seconds: 120))
        #expect(reissueEvent.to == .replaced)
        #expect(replaced.loss == lost.loss, "the loss record stays with the closed card")
        #expect(Self.code(.withdrawLoss, on: replaced) == .transitionNotAllowed)
        #expect(Self.code(.supersede, on: replaced) == .transitionNotAllowed)
    }

    // MARK: The successor mechanism

    @Test("G10: replacement keeps the old card usable until the successor is issued")
    func replacement() throws {
        let old = F.card(in: .active)
        let (pending, request) = try Self.apply(
            .requestReplacement(reason: .dataChanged, successor: F.successor), to: old
        ).get()
        #expect(pending.state == .active && pending.state.isUsable)
        #expect(pending.successorID == F.successor)
        #expect(pending.replacementReason == .dataChanged)
        #expect(request.reason == "data_changed")

        // The successor goes through production and is issued; the old card is then superseded.
        var new = Card(
            id: F.successor, personID: F.personID, kind: .replacement, number: "3309000000028",
            asn: "33090001000000000002",
            channel: .individual, outletID: F.outlet, predecessorID: old.id, at: F.now)
        var time = F.now
        for action in [CardAction.addToBatch(F.batch), .productionSucceeded, .deliver, .issue] {
            time = time.adding(days: 3)
            new = try Self.apply(action, to: new, at: time).get().0
        }
        #expect(new.state == .active)
        let (superseded, event) = try pending.applying(.supersede, context: F.context(at: time, actor: "system"))
        #expect(superseded.state == .replaced)
        #expect(superseded.closedAt == time)
        #expect(event.actor == "system")
        #expect(!superseded.state.isUsable)
    }

    @Test("G10: a card lost while its replacement is pending is superseded, not reissued")
    func lostWithPendingReplacement() throws {
        let (pending, _) = try Self.apply(
            .requestReplacement(reason: .damaged, successor: F.successor), to: F.card(in: .active)
        ).get()
        let (lost, _) = try Self.apply(.reportWrittenLoss, to: pending).get()
        #expect(Self.code(.reissue(successor: fixedID(951)), on: lost) == .successorExists)
        #expect(Self.apply(.supersede, to: lost).success?.0.state == .replaced)
        #expect(Self.apply(.withdrawLoss, to: lost).success?.0.successorID == F.successor)
    }

    @Test("G10: an expired card can be renewed; it stays expired")
    func renewExpired() throws {
        let card = F.card(in: .expired, for: .renew)
        let (renewed, event) = try Self.apply(.renew(successor: F.successor), to: card).get()
        #expect(renewed.state == .expired)
        #expect(renewed.successorID == F.successor)
        #expect(renewed.closedAt == card.closedAt, "closing time unchanged")
        #expect(event.from == .expired && event.to == .expired)
        #expect(Self.code(.supersede, on: renewed) == .transitionNotAllowed)
    }

    // MARK: G14 issue

    @Test("G14: issue starts a validity of ten years")
    func issueValidity() throws {
        let leapDay = Timestamp.at("2028-02-29T03:00:00Z")
        let (active, event) = try Self.apply(.issue, to: F.card(in: .delivered), at: leapDay).get()
        #expect(active.issuedAt == leapDay)
        #expect(active.expiresAt == .at("2038-02-28T03:00:00Z"))
        #expect(event.to == .active)
        let policy = LifecyclePolicy(validityYears: 6)
        let context = LifecycleContext(now: F.now, policy: policy, actor: "op", outletID: F.outlet)
        #expect(try F.card(in: .delivered).applying(.issue, context: context).0.expiresAt == F.now.adding(years: 6))
    }

    @Test("G15: cancellation records who, why and the document")
    func cancellation() throws {
        let (cancelled, event) = try Self.apply(.cancel(F.cancellation), to: F.card(in: .lost)).get()
        #expect(cancelled.cancellation == F.cancellation)
        #expect(cancelled.closedAt == F.now)
        #expect(event.reason == "death")
        #expect(Self.code(.cancel(F.cancellation), on: cancelled) == .transitionNotAllowed)
    }

    // MARK: G13 dueTransitions

    @Test("G13: a pre-loss lapses, then the card expires, in order")
    func dueTransitionsInOrder() throws {
        var fields = CardFields(F.card(in: .preLost))
        let lapse = F.now.adding(days: -20)
        let expiry = F.now.adding(days: -10)
        fields.loss = LossReport(
            kind: .pre, channel: .phone, effectiveAt: lapse.adding(days: -5), preLossExpiresAt: lapse, writtenAt: nil)
        fields.expiresAt = expiry
        let card = fields.card
        let steps = card.dueTransitions(context: F.context)
        try #require(steps.count == 2)
        let (lapsed, first) = steps[0]
        let (expired, second) = steps[1]
        #expect(
            first
                == CardEvent(
                    cardID: card.id, sequence: 8, action: .expirePreLoss, from: .preLost, to: .active, at: lapse,
                    actor: "system", outletID: nil, reason: nil))
        #expect(
            second
                == CardEvent(
                    cardID: card.id, sequence: 9, action: .expire, from: .active, to: .expired, at: expiry,
                    actor: "system", outletID: nil, reason: nil))
        #expect(lapsed.state == .active && lapsed.loss == nil && lapsed.version == 8)
        #expect(expired.state == .expired && expired.version == 9 && expired.closedAt == expiry)
        #expect(expired.updatedAt == F.now)
    }

    @Test("G13: a pre-loss that would lapse after expiry does not lapse; the card expires pre-lost")
    func preLossOutlivesTheCard() {
        var fields = CardFields(F.card(in: .preLost))
        let expiry = F.now.adding(days: -10)
        fields.loss = LossReport(
            kind: .pre, channel: .phone, effectiveAt: expiry.adding(days: -1), preLossExpiresAt: expiry.adding(days: 4),
            writtenAt: nil)
        fields.expiresAt = expiry
        let steps = fields.card.dueTransitions(context: F.context)
        #expect(steps.map(\.1.action) == [.expire])
        #expect(steps.first?.1.from == .preLost)
        #expect(steps.first?.1.at == expiry)
        #expect(steps.first?.0.loss == fields.loss)
    }

    @Test("G13: only what is due")
    func onlyWhatIsDue() throws {
        let lapsing = F.card(in: .preLost, for: .expirePreLoss)
        #expect(lapsing.dueTransitions(context: F.context).map(\.1.action) == [.expirePreLoss])
        #expect(F.card(in: .preLost).dueTransitions(context: F.context).isEmpty)
        #expect(F.card(in: .active).dueTransitions(context: F.context).isEmpty)
        for state in [CardState.active, .lost, .preLost] {
            let due = F.card(in: state, for: .expire)
            let steps = due.dueTransitions(context: F.context)
            #expect(steps.map(\.1.to) == [.expired], "\(state)")
            #expect(steps.first?.1.at == due.expiresAt)
        }
        // Nothing is due for cards outside the held slot, whatever their times say.
        for state in CardState.allCases where state.slot != .held {
            #expect(F.card(in: state, for: .expire).dueTransitions(context: F.context).isEmpty, "\(state)")
        }
        // Exactly at the due time it is due.
        let card = F.card(in: .active)
        let expiry = try #require(card.expiresAt)
        #expect(card.dueTransitions(context: F.context(at: expiry.adding(seconds: -1))).isEmpty)
        #expect(card.dueTransitions(context: F.context(at: expiry)).count == 1)
    }

    @Test("G13: applying the due transitions leaves nothing due")
    func dueTransitionsAreIdempotent() async {
        await propertyCheck(
            count: 300, input: Gen.int64(in: -400...400), Gen.int64(in: -400...400), Gen<CardState>.case
        ) { lapseDays, expiryDays, state in
            var fields = CardFields(F.card(in: state))
            fields.expiresAt = fields.expiresAt.map { _ in F.now.adding(days: Int(expiryDays)) }
            if state == .preLost {
                fields.loss?.preLossExpiresAt = F.now.adding(days: Int(lapseDays))
            }
            let card = fields.card
            let steps = card.dueTransitions(context: F.context)
            let last = steps.last?.0 ?? card
            #expect(last.dueTransitions(context: F.context).isEmpty)
            var previous = card
            for (next, event) in steps {
                #expect(event.sequence == previous.version + 1)
                #expect(transitionTable[Pair(previous.state, event.action)] == next.state)
                #expect(event.at <= F.now)
                #expect(event.actor == "system")
                previous = next
            }
            if let first = steps.first?.1, let second = steps.dropFirst().first?.1 {
                #expect(first.at < second.at, "in the order they fell due")
            }
        }
    }
}

import CardCrypto
package import CitizenCardDomain
package import CitizenCardServices
import CommandSupport
import Foundation
package import Ledger
package import SmartCard
import Storage

/// The end of a card's life within the run (issue 21): cards that expire (`--expiring`), holders
/// who renew before or after the expiry, and residents who die (`--deaths`). Every step is the
/// real use case at the real counter or department, on the simulation clock:
///
/// - an expiring card was issued `validityYears` before its expiry on a day of the run; the
///   holders, in turn: renew it in the window before the expiry, or after it, collect the new card
///   three days later, and take the old card's balance onto the new chip by an online load with
///   `old_card_refund` funding once the old purse is closed; or do not renew and come for the
///   refund in cash; or never come, so that the refund stays due;
/// - a resident dies on a day of the run and uses the card no more; the civil affairs bureau's
///   nightly feed reports the death (the card is held), a relative cancels the card at the outlet
///   with the death certificate 2-5 days later (waiting, as the counter says, while something is
///   pending), and an heir collects the refund in cash after the waiting period;
/// - the server's minute job runs hourly: due transitions (the expiries) and the purse-closure
///   sweep.
///
/// The summary explains every closed purse from the database: moved to the renewed card, paid
/// out (to whom), or still due; and `refunds:payable` equals the due closures.
extension TransitSimulation {
    package enum EndOfLifeStep: Hashable, Sendable {
        /// The holder applies for a renewal at the card's outlet.
        case renew
        /// The holder collects the renewed card, three days later.
        case collect(Card.ID)
        /// The holder dies; the card is not used again.
        case die
        /// The civil affairs bureau's nightly feed reports the death of that date.
        case deathFeed(CalendarDate)
        /// A relative cancels the card with the death certificate.
        case heirCancels
        /// After the waiting period: the old balance onto the renewed card, or the refund paid out
        /// to the holder or the heir.
        case settle
    }

    package struct ScheduledStep: Sendable {
        var day: Int
        var second: Int64
        var card: Int
        var step: EndOfLifeStep
    }

    /// What the simulator did at the end of cards' lives.
    package struct LifeActivity: Sendable {
        package var renewedBefore = 0
        package var renewedAfter = 0
        package var collected = 0
        package var deaths = 0
        package var feeds = 0
        package var cancelled = 0
        /// Cancellations refused because something was pending, retried the next day.
        package var cancelWaited = 0
        package var migrated = 0
        package var migratedFen: Int64 = 0
        package var paidHolder = 0
        package var paidHeir = 0
        package var paidFen: Int64 = 0
        /// Visits before the purse was closed, retried the next day.
        package var settleWaited = 0
        /// Transitions recorded and purses closed by the hourly jobs.
        package var transitions = 0
        package var closures = 0
        package var refusedExpired = 0
    }

    /// Whether the holder uses the card now: not replaced by a renewed card, not dead, not expired.
    package func inUse(_ index: Int) -> Bool {
        !cards[index].retired && (cards[index].expiresAt.map { clock.now() < $0 } ?? true)
    }

    /// The day of the run a time falls on (0: the day before the first).
    package func dayIndex(_ time: Timestamp) -> Int {
        Int(time.calendarDate(offsetSeconds: offset).daysSinceEpoch - firstDay.daysSinceEpoch) + 1
    }

    /// Days from a card leaving service until its purse is closed, rounded up.
    var waitingDays: Int { Int((env.policy.purseWaitingSeconds + 86_399) / 86_400) }

    /// A step on a later day of the run, at an office hour unless a second is given; nothing when
    /// the day is past the run.
    package mutating func schedule(_ step: EndOfLifeStep, card: Int, day: Int, second: Int64? = nil) {
        let second = second ?? Int64(random.int((9 * 3600)...(17 * 3600)))
        guard day <= dayCount else { return }
        lifeSteps.append(ScheduledStep(day: day, second: second, card: card, step: step))
    }

    package func endOfLifeEvents(day: Int) -> [(second: Int64, card: Int, step: EndOfLifeStep)] {
        lifeSteps.filter { $0.day == day }.map { ($0.second, $0.card, $0.step) }
    }

    /// The chip of a card just issued, personalised with the issuer keys.
    package func personalise(_ issued: CardView, idNumber: String) throws -> SoftwareCard {
        let issueDate = String(localDigits(clock.now(), offsetSeconds: offset).prefix(8))
        let expiry = String(Int(issueDate.prefix(4))! + env.policy.validityYears) + issueDate.dropFirst(4)
        let holder = CardHolder(
            name: "持卡人", socialSecurityNumber: idNumber, cardSerialNumber: issued.number, bankCardNumber: "",
            issueDate: issueDate, expiryDate: expiry, photoReference: "")
        return try SoftwareCard.personalise(asn: try Hex.decode(issued.asn), holder: holder, keyring: env.issuerKeys)
    }

    // MARK: Setup

    /// The `--expiring` cards: each issued `validityYears` before a moment of the run, so that it
    /// expires then; and what its holder will do.
    mutating func setUpExpiring() async throws {
        guard expiringCount > 0 else { return }
        let base = clock.now()
        let years = env.policy.validityYears
        for number in 0..<expiringCount {
            let expiryDay = random.int(1...dayCount)
            let second = Int64(random.int((8 * 3600)...(18 * 3600)))
            clock.set(at(day: expiryDay, second: second).adding(years: -years))
            try await makeCards(1)
            let index = cards.count - 1
            guard let expiresAt = cards[index].expiresAt else {
                throw CommandFailure(description: "an issued card has no expiry time")
            }
            let day = dayIndex(expiresAt)
            // The holders in turn: renew before the expiry, renew after it, come for the refund,
            // do not come.
            switch number % 4 {
            case 0 where day > 1:
                // In the renewal window, on a day before the expiry.
                schedule(.renew, card: index, day: random.int(max(1, day - 10)...(day - 1)))
            case 0, 1:
                schedule(.renew, card: index, day: day + random.int(1...7))
            case 2:
                schedule(.settle, card: index, day: day + waitingDays + random.int(1...4))
            default:
                break
            }
        }
        clock.set(base)
        say(
            "\(expiringCount) of the residents' cards were issued \(years) years before a day of the run and expire in it; the holders renew before or after the expiry, come for the refund, or do not come."
        )
    }

    /// The `--deaths`: residents with an ordinary card, each dying at a moment of the run.
    mutating func setUpDeaths() async throws {
        guard deathCount > 0 else { return }
        let civil: Department
        do {
            civil = try await FeedService(env).department(code: "CIVIL")
        } catch {
            throw CommandFailure(
                description:
                    "--deaths needs the civil affairs bureau (department CIVIL, as the demo city has it) to send the death feed"
            )
        }
        guard civil.active, civil.feedKinds.contains(.death) else {
            throw CommandFailure(description: "the department CIVIL is not active or may not send deaths")
        }
        department = Actor(
            operatorID: nil, name: "department:\(civil.code)", role: .department, outletID: nil,
            departmentID: civil.id)
        var candidates = Array(0..<(cardCount - expiringCount))
        candidates.shuffle(using: &random)
        for index in candidates.prefix(deathCount) {
            schedule(.die, card: index, day: random.int(1...dayCount), second: Int64(random.int(0...(22 * 3600))))
        }
        say(
            "\(deathCount) residents die on a day of the run; the civil affairs bureau's feed reports each death the next night."
        )
    }

    // MARK: The steps

    /// The server's minute job, run hourly: due transitions (expiries) and the purse-closure sweep.
    mutating func hourlyJobs() async throws {
        guard expiringCount > 0 || deathCount > 0 else { return }
        lifeActivity.transitions += try await CardService(env).recordDueTransitions()
        lifeActivity.closures += try await PurseClosureService(env).closeDue()
    }

    package mutating func perform(_ step: EndOfLifeStep, card index: Int) async throws {
        let clerk = counters[cards[index].counter].clerk
        let identity = CardService.IdentityCheck(idNumber: cards[index].idNumber, documentChecked: true)
        let service = CardService(env)
        switch step {
        case .renew:
            guard !cards[index].retired else { return }
            let result = try await service.renew(cards[index].id, .init(identity: identity), actor: clerk)
            guard let newCard = result.newCard else { throw CommandFailure(description: "a renewal made no card") }
            // The card factory makes and delivers it in a batch of its own.
            let production = ProductionService(env)
            let batch = try await production.createBatch(.init(cardIds: [newCard.id]), actor: admin)
            _ = try await production.recordResults(
                batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }),
                actor: admin)
            _ = try await production.deliver(batch.batch.id, actor: admin)
            if inUse(index) { lifeActivity.renewedBefore += 1 } else { lifeActivity.renewedAfter += 1 }
            schedule(.collect(newCard.id), card: index, day: day + 3)
        case .collect(let newID):
            guard !cards[index].retired else { return }
            let issued = try await service.issue(newID, identity: identity, actor: clerk).card
            let chip = try personalise(issued, idNumber: cards[index].idNumber)
            cards.append(
                SimCard(
                    id: issued.id, asn: issued.asn.uppercased(), idNumber: cards[index].idNumber,
                    counter: cards[index].counter, chip: chip, expiresAt: issued.expiresAt))
            cards[index].retired = true
            cards[index].successor = cards.count - 1
            lifeActivity.collected += 1
            // The old card left service now (superseded) or at its expiry; its purse closes after
            // the waiting period, and the holder takes the balance at a visit after that.
            let left = max(clock.now(), cards[index].expiresAt ?? clock.now())
            schedule(.settle, card: index, day: dayIndex(left) + waitingDays + random.int(1...3))
        case .die:
            guard !cards[index].retired else { return }
            cards[index].retired = true
            cards[index].deceased = true
            lifeActivity.deaths += 1
            schedule(
                .deathFeed(clock.now().calendarDate(offsetSeconds: offset)), card: index, day: day + 1,
                second: 2 * 3600)
        case .deathFeed(let date):
            guard let department else { throw CommandFailure(description: "no department sends the deaths") }
            let message = FeedService.Message(
                messageId: "SIM-DEATH-\(cards[index].id.rawValue)", kind: "death", idNumber: cards[index].idNumber,
                occurredOn: date.iso8601)
            let result = try await FeedService(env).apply(message, actor: department)
            guard result.outcome == .applied else {
                throw CommandFailure(
                    description: "the death feed was not applied: \(result.outcome.rawValue) \(result.code ?? "")")
            }
            lifeActivity.feeds += 1
            schedule(.heirCancels, card: index, day: day + random.int(2...5))
        case .heirCancels:
            let request = CardService.CancellationRequest(
                reason: .death, applicant: .relative, relationship: .child,
                documentReference: "死亡医学证明 ZS\(random.int(1_000_000...9_999_999))")
            var refusal: CitizenCardError?
            do {
                _ = try await service.cancel(cards[index].id, request, actor: clerk)
            } catch {
                refusal = error
            }
            if let refusal {
                guard refusal.code == .affairsPending else { throw refusal }
                // The counter says what is pending; the relative comes back the next day.
                lifeActivity.cancelWaited += 1
                schedule(.heirCancels, card: index, day: day + 1)
                return
            }
            lifeActivity.cancelled += 1
            schedule(.settle, card: index, day: day + waitingDays + random.int(1...3))
        case .settle:
            try await settle(index, clerk: clerk)
        }
    }

    /// The old balance onto the renewed card, or the refund paid out; the next day again when the
    /// purse is not closed yet.
    mutating func settle(_ index: Int, clerk: Actor) async throws {
        guard let closure = try await env.store.purseClosure(cardID: cards[index].id) else {
            // Not closed yet: the holder comes back the next day.
            lifeActivity.settleWaited += 1
            schedule(.settle, card: index, day: day + 1)
            return
        }
        guard closure.status == .due, closure.amountFen > 0 else { return }
        if let successor = cards[index].successor {
            // A renewed card that was lost meanwhile takes nothing: the balance stays due.
            guard inUse(successor), !cards[successor].lost,
                cards[successor].balanceFen + closure.amountFen <= LedgerPolicy.standard.purseCapFen
            else { return }
            try await load(successor, fen: closure.amountFen, funding: .oldCardRefund)
            lifeActivity.migrated += 1
            lifeActivity.migratedFen += closure.amountFen
            return
        }
        let payee: PurseClosureService.Payee
        let dead = cards[index].deceased
        if dead {
            let birth = CalendarDate(year: random.int(1960...1995), month: random.int(1...12), day: random.int(1...28))!
            payee = .init(
                kind: .heir, name: "继承人",
                idNumber: ResidentID.make(
                    region: Self.regions[random.int(0...3)], birth: birth, sequence: random.int(0...999)
                ).number, documentChecked: true,
                documentReference: "继承公证书 (2026) 舟证字第\(random.int(100...9999))号")
        } else {
            payee = .init(kind: .holder, idNumber: cards[index].idNumber, documentChecked: true)
        }
        _ = try await PurseClosureService(env).payOut(
            cards[index].id, .init(channel: "cash", payee: payee), actor: clerk)
        if dead { lifeActivity.paidHeir += 1 } else { lifeActivity.paidHolder += 1 }
        lifeActivity.paidFen += closure.amountFen
    }

    // MARK: Reporting

    /// The day's end-of-life figures for the day line; empty without `--expiring` or `--deaths`.
    package func endOfLifeDayLine(since before: LifeActivity) -> String {
        guard expiringCount > 0 || deathCount > 0 else { return "" }
        let now = lifeActivity
        return
            " renewals \(now.renewedBefore + now.renewedAfter - before.renewedBefore - before.renewedAfter), renewed cards issued \(now.collected - before.collected), deaths \(now.deaths - before.deaths), death feeds \(now.feeds - before.feeds), cancelled after a death \(now.cancelled - before.cancelled), purses closed \(now.closures - before.closures), balances onto renewed cards \(now.migrated - before.migrated), refunds paid \(now.paidHolder + now.paidHeir - before.paidHolder - before.paidHeir);"
    }

    /// The summary's lines about the end of the run's cards, from the database, and the closed
    /// purses' amounts (for the purse comparison); `ok` false when they do not tie out.
    package func summarizeEndOfLife(
        balances: [AccountID: Int64]
    ) async throws -> (lines: [String], closedFen: Int64, ok: Bool) {
        let store = env.store
        var closedFen: Int64 = 0
        var states: [CardState: Int] = [:]
        var migrated = (0, Int64(0))
        var paid = (0, Int64(0))
        var due = (0, Int64(0))
        var payees: [String: Int] = [:]
        var waiting = (0, Int64(0))
        for card in cards {
            guard let stored = try await store.card(id: card.id) else { continue }
            states[stored.state, default: 0] += 1
            guard let closure = try await store.purseClosure(cardID: card.id) else {
                if stored.state.slot == .closed {
                    waiting.0 += 1
                    waiting.1 += AccountID.purse(card.id).normalBalance(signed: balances[.purse(card.id)] ?? 0)
                }
                continue
            }
            closedFen += closure.amountFen
            if closure.status == .due {
                due.0 += 1
                due.1 += closure.amountFen
            } else if closure.settlement?.hasPrefix("load:") == true {
                migrated.0 += 1
                migrated.1 += closure.amountFen
            } else if closure.amountFen > 0 {
                paid.0 += 1
                paid.1 += closure.amountFen
                if let payee = try await store.refundPayee(cardID: card.id) {
                    payees[payee.payee.kind.rawValue, default: 0] += 1
                }
            }
        }
        guard expiringCount > 0 || deathCount > 0 || closedFen > 0 || waiting.0 > 0 else { return ([], 0, true) }
        let totals = try await store.purseClosureTotals()
        let dueAll = totals.filter { $0.status == .due }.reduce(Int64(0)) { $0 + $1.amountFen }
        let payable = AccountID.refundsPayable.normalBalance(signed: balances[.refundsPayable] ?? 0)
        let ties = payable == dueAll
        let activity = lifeActivity
        let agrees =
            migrated.0 >= activity.migrated && paid.0 >= activity.paidHolder + activity.paidHeir
            && payees["heir", default: 0] >= activity.paidHeir
        func mark(_ ok: Bool) -> String { ok ? "✓" : "✗" }
        let closedCount = migrated.0 + paid.0 + due.0
        return (
            [
                "  end of the run's cards: expired \(states[.expired, default: 0]), replaced by a renewed card \(states[.replaced, default: 0]), cancelled \(states[.cancelled, default: 0]) (the simulator: renewed \(activity.renewedBefore) before the expiry and \(activity.renewedAfter) after it, \(activity.collected) renewed cards issued; \(activity.deaths) deaths, \(activity.feeds) death feeds, \(activity.cancelled) cancelled by a relative, \(activity.cancelWaited) times told to come back)",
                "    purses closed \(closedCount) \(Money(fen: closedFen)) = onto the renewed card \(migrated.0) \(Money(fen: migrated.1)) + paid out \(paid.0) \(Money(fen: paid.1)) (to the holder \(payees["holder", default: 0]), to an heir \(payees["heir", default: 0])) + due \(due.0) \(Money(fen: due.1)) \(mark(agrees)); in the waiting period \(waiting.0) cards with \(Money(fen: waiting.1))",
                "    refunds payable in the ledger \(Money(fen: payable)) = purses closed and due (all runs) \(Money(fen: dueAll)) \(mark(ties))",
            ], closedFen, ties && agrees
        )
    }
}

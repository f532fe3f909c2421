import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// Outlet supervision: an outlet's business day and cash, through the real use cases, with
/// a moving clock, on the test backend (docs/reports.md).
@Suite("Outlet reports (R-44)")
struct OutletReportTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var reports: OutletReportService { OutletReportService(world.env) }
    var cards: CardService { fixtures.cards }

    static let day = CalendarDate(year: 2026, month: 3, day: 2)!

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    /// Moves the clock to a local (+08:00) time.
    func at(_ local: String) {
        world.clock.set(Timestamp(iso8601: local + "+08:00")!)
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

    /// The outlet's cash account in the ledger (normal balance: what is in the drawer from fees,
    /// loads and payouts).
    func drawer(_ outlet: Outlet) async throws -> Int64 {
        let account = AccountID.outletCash(outlet.id)
        return account.normalBalance(signed: try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    /// A day at DH01 with work just before and after it and at another outlet.
    func counterDay() async throws {
        at("2026-03-01T23:59:59")
        _ = try await fixtures.application()
        at("2026-03-02T00:00:00")
        _ = try await fixtures.application()
        at("2026-03-02T09:00:00")
        let (holder, card) = try await fixtures.activeCard()
        at("2026-03-02T09:30:00")
        let (_, rejected) = try await fixtures.application()
        at("2026-03-02T10:15:00")
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(holder), actor: staff.clerk)
        at("2026-03-02T10:20:00")
        _ = try await cards.reissue(
            card.id, .init(identity: fixtures.identity(holder), expectedFeeFen: 2000), actor: staff.clerk)
        at("2026-03-02T11:00:00")
        let (loaded, chipped) = try await fixtures.activeCardWithChip()
        var chip = chipped
        try await fixtures.load(&chip, card: loaded, fen: 5000)
        at("2026-03-02T11:30:00")
        _ = try await cards.verify(rejected.id, decision: .reject, reason: "photo unclear", actor: staff.supervisor)
        at("2026-03-02T12:00:00")
        let elsewhere = try await fixtures.resident()
        let other = try await cards.apply(.init(personId: elsewhere.person.id), actor: staff.otherClerk)
        _ = try await cards.verify(other.card.id, decision: .approve, reason: nil, actor: staff.otherSupervisor)
        at("2026-03-02T23:59:59")
        _ = try await fixtures.application()
        at("2026-03-03T00:00:00")
        _ = try await fixtures.application()
    }

    @Test("a day's counter work by kind, by member of staff and by hour; the days around it and other outlets excluded")
    func business() async throws {
        try await counterDay()
        let report = try await reports.daily(outletID: staff.outlet.id, date: Self.day, actor: staff.supervisor)
        #expect(report.outlet == staff.outlet && report.date == Self.day && report.complete)
        #expect(report.from == Timestamp(iso8601: "2026-03-02T00:00:00+08:00"))
        #expect(report.until == Timestamp(iso8601: "2026-03-03T00:00:00+08:00"))
        let business = report.business
        #expect(business.applications == 5, "00:00:00, 09:00, 09:30, 11:00, 23:59:59")
        #expect(business.approvals == 2 && business.rejections == 1 && business.issues == 2)
        #expect(business.writtenLosses == 1 && business.reissues == 1)
        #expect(business.preLosses == 0 && business.replacements == 0 && business.cancellations == 0)
        #expect(business.total == 12)
        #expect(report.transactions == 13, "12 card actions and one load")

        #expect(report.operators.map(\.username) == ["clerk", "supervisor"])
        let clerk = report.operators[0], supervisor = report.operators[1]
        #expect(clerk.displayName == "clerk")
        #expect(clerk.business.total == 9 && clerk.business.applications == 5 && clerk.business.issues == 2)
        #expect(clerk.loads == 1 && clerk.receipts == 6 && clerk.cashInFen == 7000 && clerk.transactions == 10)
        #expect(supervisor.business.approvals == 2 && supervisor.business.rejections == 1)
        #expect(supervisor.receipts == 0 && supervisor.cashInFen == 0)

        #expect(report.hours.count == 24 && report.hours.map(\.hour) == Array(0..<24))
        let busy = report.hours.filter { $0.transactions > 0 }.map { [$0.hour, Int($0.transactions)] }
        #expect(busy == [[0, 1], [9, 4], [10, 2], [11, 5], [23, 1]])
        #expect(report.hours[10].cashInFen == 2000 && report.hours[11].cashInFen == 5000)
        #expect(report.hours[11].loads == 1 && report.hours[11].business.rejections == 1)

        let before = try await reports.daily(
            outletID: staff.outlet.id, date: CalendarDate(year: 2026, month: 3, day: 1)!, actor: staff.clerk)
        #expect(before.business.total == 1 && before.hours[23].business.applications == 1)
        let putuo = try await reports.daily(outletID: nil, date: Self.day, actor: staff.otherClerk)
        #expect(putuo.outlet == staff.otherOutlet)
        #expect(putuo.business.applications == 1 && putuo.business.approvals == 1 && putuo.business.total == 2)
        #expect(putuo.hours[12].transactions == 2 && putuo.cash.balanceFen == 0)
    }

    @Test("fees by item, loads by funding, and the cash balance: fees in cash + cash loads - cash out")
    func cash() async throws {
        try await counterDay()
        let report = try await reports.daily(outletID: staff.outlet.id, date: Self.day, actor: staff.admin)
        #expect(report.fees.map(\.item) == [.firstCard, .reissue])
        #expect(report.fees[0].receipts == 5 && report.fees[0].freeReceipts == 5 && report.fees[0].cash == Tally())
        #expect(report.fees[1].receipts == 1 && report.fees[1].cash == Tally(count: 1, amountFen: 2000))
        #expect(report.loads.map(\.funding) == [.cash, .bankTransfer, .oldCardRefund, .legacyBalance])
        #expect(report.loads[0].approved == Tally(count: 1, amountFen: 5000))
        #expect(report.loads[0].completed == report.loads[0].approved)
        #expect(report.loads[0].pending == Tally() && report.loads[0].reversed == Tally())
        let cash = report.cash
        #expect(cash.fees == Tally(count: 1, amountFen: 2000) && cash.loads == Tally(count: 1, amountFen: 5000))
        #expect(cash.loadReversals == Tally() && cash.payouts == Tally())
        #expect(cash.inFen == 7000 && cash.outFen == 0 && cash.balanceFen == 7000)
        // Every fee is in the books: the ledger's drawer holds the day's cash, fees included,
        // fee income holds the fee, and the report ties out to the ledger.
        #expect(try await drawer(staff.outlet) == cash.balanceFen)
        let income = try await world.store.ledgerBalances([.feeIncome])[.feeIncome] ?? 0
        #expect(AccountID.feeIncome.normalBalance(signed: income) == 2000)
        #expect(report.ledger.tiesOut && report.ledger.counterFen == 7000 && report.ledger.differenceFen == 0)
        #expect(report.ledger.lines.map(\.kind) == ["fee", "load"])
        #expect(report.ledger.lines[0].count == 1 && report.ledger.lines[0].netFen == 2000)
    }

    @Test("cash out: a load never credited is given back on the day it is reversed, a refund on the day it is paid")
    func cashOut() async throws {
        let purse = PurseService(world.env)
        let closures = PurseClosureService(world.env)
        func initialize(_ chip: inout SoftwareCard, fen: Int64) throws -> PurseService.LoadRequest {
            let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
            let answer = chip.process(
                [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + (try Hex.decode("330900000001")) + [0x10])
            return .init(
                amountFen: fen, funding: .cash, terminalId: "330900000001", transactionTime: "20260302091000",
                initializeResponse: Hex.encode(answer.dropLast(2)))
        }
        func state(_ request: PurseService.LoadRequest) -> PurseService.CardState {
            .init(
                amountFen: request.amountFen, terminalId: request.terminalId, transactionTime: request.transactionTime,
                initializeResponse: request.initializeResponse)
        }
        at("2026-03-02T09:00:00")
        let (first, chips0) = try await fixtures.activeCardWithChip()
        let (second, chips1) = try await fixtures.activeCardWithChip()
        var (firstChip, secondChip) = (chips0, chips1)
        let (holder, third) = try await fixtures.activeCard()
        var thirdChip = try fixtures.chip(for: third)
        at("2026-03-02T09:10:00")
        let left = try await purse.approveLoad(first.id, try initialize(&firstChip, fen: 3000), actor: staff.clerk)
        at("2026-03-02T09:20:00")
        _ = try await purse.resolveLoad(
            left.load.id, cardState: state(try initialize(&firstChip, fen: 1)), actor: staff.clerk)
        at("2026-03-02T09:30:00")
        let pending = try await purse.approveLoad(second.id, try initialize(&secondChip, fen: 1500), actor: staff.clerk)
        at("2026-03-02T09:40:00")
        try await fixtures.load(&thirdChip, card: third, fen: 1000)
        at("2026-03-02T09:45:00")
        _ = try await cards.cancel(
            third.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: "申请书 2026-007",
                identity: fixtures.identity(holder)), actor: staff.clerk)
        at("2026-03-03T10:00:00")
        _ = try await purse.resolveLoad(
            pending.load.id, cardState: state(try initialize(&secondChip, fen: 1)), actor: staff.clerk)
        at("2026-03-09T10:00:00")
        #expect(try await closures.closeDue() == 1)
        _ = try await closures.payOut(third.id, fixtures.holderPayout(holder), actor: staff.clerk)

        let day = try await reports.daily(outletID: nil, date: Self.day, actor: staff.clerk)
        #expect(day.business.cancellations == 1)
        #expect(day.loads[0].approved == Tally(count: 3, amountFen: 5500), "the money changed hands at approval")
        #expect(day.loads[0].completed == Tally(count: 1, amountFen: 1000))
        #expect(day.loads[0].reversed == Tally(count: 2, amountFen: 4500), "what became of them, up to now")
        #expect(day.cash.loadReversals == Tally(count: 1, amountFen: 3000), "given back on this day")
        #expect(day.cash.balanceFen == 2500)
        #expect(day.hours[9].cashInFen == 5500 && day.hours[9].cashOutFen == 3000)
        let next = try await reports.daily(
            outletID: nil, date: CalendarDate(year: 2026, month: 3, day: 3)!, actor: staff.clerk)
        #expect(next.loads[0].approved == Tally() && next.transactions == 0)
        #expect(next.cash.loadReversals == Tally(count: 1, amountFen: 1500) && next.cash.balanceFen == -1500)
        let payday = try await reports.daily(
            outletID: nil, date: CalendarDate(year: 2026, month: 3, day: 9)!, actor: staff.clerk)
        #expect(payday.cash.payouts == Tally(count: 1, amountFen: 1000) && payday.cash.balanceFen == -1000)
        #expect(payday.transactions == 1 && payday.hours[10].payouts == 1 && payday.hours[10].cashOutFen == 1000)
        // Each day ties out to the ledger, and the days add up to the ledger's drawer: every
        // movement counted once, on its own day.
        #expect([day, next, payday].allSatisfy { $0.ledger.tiesOut })
        #expect(next.ledger.lines.map(\.kind) == ["correction"] && payday.ledger.lines.map(\.kind) == ["refund_payout"])
        let days = [day, next, payday].reduce(Int64(0)) { $0 + $1.cash.balanceFen }
        #expect(try await drawer(staff.outlet) == days)
        #expect(days == 0)
    }

    @Test("a replacement cancelled with its card is one cancellation; fees of other items are listed")
    func cancellationWithSuccessor() async throws {
        at("2026-03-02T09:00:00")
        let (holder, card) = try await fixtures.activeCard()
        at("2026-03-02T09:10:00")
        let replaced = try await cards.replace(
            card.id, .init(identity: fixtures.identity(holder), reason: .damaged, expectedFeeFen: 2000),
            actor: staff.clerk)
        at("2026-03-02T09:20:00")
        _ = try await cards.cancel(
            card.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: "申请书 2026-008",
                identity: fixtures.identity(holder)), actor: staff.clerk)
        let successor = try #require(replaced.newCard)
        #expect(try await cards.card(successor.id, actor: staff.clerk).state == .cancelled)
        let report = try await reports.daily(outletID: nil, date: Self.day, actor: staff.clerk)
        #expect(report.business.replacements == 1 && report.business.cancellations == 1)
        #expect(report.business.applications == 1, "the successor card is part of the replacement")
        #expect(report.business.total == 5)
        #expect(report.fees.map(\.item) == [.firstCard, .replacementDamaged])
        #expect(report.cash.fees == Tally(count: 1, amountFen: 2000) && report.cash.balanceFen == 2000)
    }

    @Test("a trend of days: one line per day, empty days included, each equal to the day's report")
    func range() async throws {
        try await counterDay()
        let from = CalendarDate(year: 2026, month: 2, day: 28)!, until = CalendarDate(year: 2026, month: 3, day: 5)!
        let trend = try await reports.range(outletID: staff.outlet.id, from: from, until: until, actor: staff.admin)
        #expect(trend.outlet == staff.outlet && trend.from == from && trend.until == until)
        #expect(
            trend.days.map(\.date.iso8601) == ["2026-02-28", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"])
        #expect(trend.days.map(\.transactions) == [0, 1, 13, 1, 0])
        #expect(trend.days.map(\.cashBalanceFen) == [0, 0, 7000, 0, 0])
        for line in trend.days {
            let daily = try await reports.daily(outletID: staff.outlet.id, date: line.date, actor: staff.admin)
            #expect(daily.summary == line)
        }
        let longest = CalendarDate(daysSinceEpoch: from.daysSinceEpoch + Int64(OutletReportService.rangeDaysMax))
        #expect(try await reports.range(outletID: nil, from: from, until: longest, actor: staff.clerk).days.count == 31)
        let tooLong = CalendarDate(daysSinceEpoch: longest.daysSinceEpoch + 1)
        #expect(
            await code { try await reports.range(outletID: nil, from: from, until: tooLong, actor: staff.clerk) }
                == .invalidField)
        #expect(
            await code { try await reports.range(outletID: nil, from: from, until: from, actor: staff.clerk) }
                == .invalidField)
        #expect(
            await code { try await reports.range(outletID: nil, from: until, until: from, actor: staff.clerk) }
                == .invalidField)
    }

    @Test("outlet staff see their own outlet only; administrators name one; every report read is audited")
    func access() async throws {
        try await counterDay()
        #expect(
            await code { try await reports.daily(outletID: staff.outlet.id, date: Self.day, actor: staff.otherClerk) }
                == .wrongOutlet)
        #expect(
            await code {
                try await reports.range(
                    outletID: staff.outlet.id, from: Self.day, until: CalendarDate(year: 2026, month: 3, day: 3)!,
                    actor: staff.otherSupervisor)
            } == .wrongOutlet)
        #expect(
            await code { try await reports.daily(outletID: nil, date: Self.day, actor: staff.admin) } == .invalidField)
        #expect(
            await code { try await reports.daily(outletID: staff.outlet.id, date: Self.day, actor: .system) }
                == .forbidden)
        let unknown = Outlet.ID(rawValue: "00000000-0000-7000-8000-0000000fffff")
        #expect(
            await code { try await reports.daily(outletID: unknown, date: Self.day, actor: staff.admin) } == .notFound)
        let own = try await reports.daily(outletID: staff.outlet.id, date: Self.day, actor: staff.clerk)
        #expect(own.business.total == 12)

        let entries = try await world.store.auditEntries(AuditFilter(action: "report.outlet.daily"), limit: 10)
        #expect(entries.count == 1, "refused reads leave nothing")
        let entry = try #require(entries.first)
        #expect(entry.draft.actor == "clerk" && entry.draft.subject == "outlet:\(staff.outlet.id)")
        #expect(entry.draft.personID == nil && entry.draft.detail.contains("2026-03-02"))
        #expect(try await world.store.verifyAuditChain().isIntact)
    }

    @Test("a day not over yet is reported up to now; a future day is empty")
    func partialDay() async throws {
        at("2026-03-02T09:00:00")
        _ = try await fixtures.application()
        at("2026-03-02T10:00:00")
        let today = try await reports.daily(outletID: nil, date: Self.day, actor: staff.clerk)
        #expect(!today.complete && today.generatedAt == Timestamp(iso8601: "2026-03-02T10:00:00+08:00"))
        #expect(today.business.applications == 1)
        let tomorrow = try await reports.daily(
            outletID: nil, date: CalendarDate(year: 2026, month: 3, day: 3)!, actor: staff.clerk)
        #expect(!tomorrow.complete && tomorrow.transactions == 0 && tomorrow.operators.isEmpty)
        #expect(tomorrow.fees.isEmpty && tomorrow.cash.balanceFen == 0)
    }
}

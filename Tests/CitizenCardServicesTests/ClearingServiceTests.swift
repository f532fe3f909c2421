import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// Daily clearing and settlement with a moving clock (issue 5 part 6), on both backends.
@Suite("Clearing and settlement")
struct ClearingServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var clearing: ClearingService { ClearingService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func balance(_ account: AccountID) async throws -> Int64 {
        account.normalBalance(signed: try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    @Test("a closed day: gross, commission and net per merchant, settlement files, no differences; idempotent")
    func clearDay() async throws {
        // 2026-03-02 09:00 (+08).
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 10_000)
        var bus = try await fixtures.acquirer(code: "BUS", commissionBasisPoints: 60)
        var shop = try await fixtures.acquirer(
            code: "SHOP", commissionBasisPoints: 250, number: "000000000202", psam: "A1B2C3D4E5F60002")
        let rides = [
            try bus.tap(&chip, fen: 200, at: "20260302093000"), try bus.tap(&chip, fen: 200, at: "20260302094000"),
        ]
        let goods = try shop.tap(&chip, fen: 1_999, at: "20260302100000")
        let late = try bus.tap(&chip, fen: 200, at: "20260302105000")
        _ = try await bus.upload(rides, env: world.env)
        _ = try await shop.upload([goods], env: world.env)
        await expectNotYetDue { try await clearing.run(CalendarDate(iso8601: "2026-03-02")!, actor: staff.admin) }

        // The next day: the bus's third ride arrives late and belongs to the 3rd.
        world.clock.advance(days: 1)
        _ = try await bus.upload([late], env: world.env)
        let day = CalendarDate(iso8601: "2026-03-02")!
        let report = try await clearing.run(day, actor: staff.admin)
        #expect(report.firstRun && report.differences.isEmpty, "\(report.differences)")
        #expect(report.merchants.map(\.code) == ["BUS", "SHOP"])
        let busLine = try #require(report.merchants.first)
        #expect(busLine.records == 2 && busLine.grossFen == 400 && busLine.commissionFen == 2 && busLine.netFen == 398)
        let shopLine = report.merchants[1]
        // 2.5 % of 19.99 is 49.975 fen: 50 after rounding half up.
        #expect(shopLine.grossFen == 1_999 && shopLine.commissionFen == 50 && shopLine.netFen == 1_949)
        #expect(report.grossFen == 2_399 && report.netFen == 2_347 && report.commissionFen == 52)
        #expect(try await balance(.commissionIncome) == 52)
        // Each merchant is paid the day's net; the late ride stays owed until its own day.
        #expect(try await balance(.merchantPayable(bus.merchant.id)) == 200)
        #expect(try await balance(.merchantPayable(shop.merchant.id)) == 0)
        #expect(
            ClearingService.settlementFile(busLine, date: day) == """
                business_date,merchant_code,terminal,records,gross_fen,risk_fen,commission_fen,net_fen
                2026-03-02,BUS,000000000101,2,400,0,,
                2026-03-02,BUS,TOTAL,2,400,0,2,398

                """)
        #expect(report.uploads.map(\.acceptedFen).sorted() == [400, 1_999])

        let again = try await clearing.run(day, actor: staff.admin)
        #expect(!again.firstRun && again.merchants == report.merchants && again.differences.isEmpty)
        #expect(try await balance(.commissionIncome) == 52)
        #expect(try await clearing.report(day, actor: staff.admin) == again)

        world.clock.advance(days: 1)
        let next = try await clearing.run(CalendarDate(iso8601: "2026-03-03")!, actor: staff.admin)
        #expect(next.merchants.map(\.grossFen) == [200] && next.differences.isEmpty)
        let empty = try await clearing.run(CalendarDate(iso8601: "2026-03-01")!, actor: staff.admin)
        #expect(empty.merchants.isEmpty && empty.differences.isEmpty)
        await #expect(throws: CitizenCardError.self) { try await clearing.run(day, actor: staff.clerk) }
    }

    func expectNotYetDue(_ body: () async throws -> some Any) async {
        do {
            _ = try await body()
            Issue.record("expected not_yet_due")
        } catch let error as CitizenCardError {
            #expect(error.code == .notYetDue)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

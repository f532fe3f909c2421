import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// The departments' old cards (R-20, issue 21): the import with its control total, re-runs, the
/// opening entries, and the fold-in by a real online load, on both backends.
@Suite("Legacy cards: import, opening entries, fold-in")
struct LegacyCardTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    let directory: URL

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("legacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func balance(_ account: AccountID) async throws -> Int64 {
        account.normalBalance(signed: try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    /// A file of `rows` (`card_number,kind,id_number,balance_fen,status`) with a control line of
    /// `control` (the true one by default).
    func file(_ rows: [String], control: (Int, Int64)? = nil, name: String = "cards.csv") throws -> String {
        let total = rows.reduce(Int64(0)) {
            $0 + (Int64($1.split(separator: ",", omittingEmptySubsequences: false)[3]) ?? 0)
        }
        let (count, fen) = control ?? (rows.count, total)
        let text =
            (["card_number,kind,id_number,balance_fen,status"] + rows + ["TOTAL,\(count),\(fen)"])
            .joined(separator: "\n") + "\n"
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func run(_ path: String) async throws -> (LegacyImporter.Report, String) {
        let results = URL(fileURLWithPath: path + ".results.csv")
        let report = try await LegacyImporter(world.env).run(
            path: path, results: results, actor: .commandLine("test"), batchSize: 2)
        return (report, try String(contentsOf: results, encoding: .utf8))
    }

    func stored() async throws -> [LegacyCard] {
        try await world.store.unclaimedLegacyCards(kind: nil, after: nil, limit: 1000)
    }

    @Test("a file imports with opening entries equal to its control total; a re-run changes nothing")
    func importAndRerun() async throws {
        let (holder, _) = try await fixtures.activeCard()
        let path = try file([
            "T0000000000000001,transit,\(holder.idNumber),1250,active",
            "t0000000000000002,transit,,300,blocked",
            "S000000000000003,social_security,\(holder.idNumber),0,active",
            "T0000000000000004,transit,\(fixtures.newIDNumber()),4000,lost",
        ])
        let (report, results) = try await run(path)
        #expect(report.complete && report.imported == 4 && report.importedFen == 5550, "\(results)")
        #expect(results.contains("imported") && !results.contains("invalid"))
        #expect(try await balance(.legacyBalances(.transit)) == 5550)
        #expect(try await balance(.legacyFunds(.transit)) == 5550)
        #expect(try await balance(.legacyBalances(.socialSecurity)) == 0)
        let cards = try await stored()
        #expect(Set(cards.map(\.number)) == ["T0000000000000001", "T0000000000000002", "T0000000000000004"])
        #expect(cards.first { $0.number == "T0000000000000002" }?.holderIndex == nil)
        let audit = try await world.store.auditEntries(AuditFilter(action: "legacy.import"), limit: 100)
        #expect(audit.count == 2, "two batches of two")

        let (again, _) = try await run(path)
        #expect(again.complete && again.imported == 0 && again.unchanged == 4)
        #expect(try await balance(.legacyBalances(.transit)) == 5550, "nothing twice")
        let summary = try await LegacyService(world.env).summary(actor: staff.admin)
        let transit = try #require(summary.lines.first { $0.kind == .transit })
        #expect(transit.importedCount == 3 && transit.unclaimedFen == 5550 && transit.tiesOut)
        #expect(transit.unclaimedHolderUnknownCount == 1 && transit.unclaimedHolderUnknownFen == 300)
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
    }

    @Test("a control total that does not add up, a bad row, a repeat or changed data: nothing is imported")
    func nothingUnlessEverythingAddsUp() async throws {
        let good = "T1000000000000001,transit,,100,active"
        let cases: [([String], (Int, Int64)?, String)] = [
            ([good, "T1000000000000002,transit,,200,active"], (2, 301), "control"),
            ([good, "T1000000000000002,transit,,200,active"], (3, 300), "control rows"),
            ([good, "T100,transit,,200,active"], nil, "card_number"),
            ([good, "T1000000000000003,bus,,200,active"], nil, "kind"),
            ([good, "T1000000000000004,transit,123,200,active"], nil, "id_number"),
            ([good, "T1000000000000005,transit,,-5,active"], nil, "balance_fen"),
            ([good, "T1000000000000006,transit,,99999999,active"], nil, "balance_fen"),
            ([good, "T1000000000000007,transit,,5,stolen"], nil, "status"),
            ([good, "t1000000000000001,transit,,100,active"], nil, "twice"),
            ([good, "T1000000000000008,transit,,5"], nil, "fields"),
            ([good, "T10000000\u{0}0000009,transit,,5,active"], nil, "NUL"),
            ([good, "T1000000000000010,transit,,5,active\u{7}"], nil, "control character"),
        ]
        for (index, (rows, control, why)) in cases.enumerated() {
            let path = try file(rows, control: control, name: "bad\(index).csv")
            let (report, results) = try await run(path)
            #expect(!report.complete && report.imported == 0, "\(why): \(results)")
            #expect(try await stored().isEmpty, "\(why)")
            #expect(try await balance(.legacyBalances(.transit)) == 0, "\(why)")
            if control == nil { #expect(results.contains("invalid"), "\(why): \(results)") }
        }
        // Imported once; the department's next file says another balance for the same card.
        #expect(try await run(try file([good], name: "first.csv")).0.complete)
        let (changed, results) = try await run(try file(["T1000000000000001,transit,,150,active"], name: "changed.csv"))
        #expect(!changed.complete && results.contains("differs"))
        #expect(try await balance(.legacyBalances(.transit)) == 100)
        // A file without a control line, or without the header, is refused.
        let bare = directory.appendingPathComponent("bare.csv")
        try "card_number,kind,id_number,balance_fen,status\n\(good)\n".write(
            to: bare, atomically: true, encoding: .utf8)
        #expect(try await !run(bare.path).0.complete)
        let headless = directory.appendingPathComponent("headless.csv")
        try "\(good)\nTOTAL,1,100\n".write(to: headless, atomically: true, encoding: .utf8)
        await #expect(throws: LegacyImporter.Failure.self) { _ = try await run(headless.path) }
    }

    @Test("the holder's old balance is folded in by an online load with MAC2 and TAC, once; a reversal gives it back")
    func foldIn() async throws {
        let (holder, card) = try await fixtures.activeCard()
        let (stranger, other) = try await fixtures.activeCard()
        _ = stranger
        #expect(
            try await run(
                try file([
                    "T2000000000000001,transit,\(holder.idNumber),1800,active",
                    "T2000000000000002,transit,\(holder.idNumber),700,active",
                ])
            ).0.complete)
        let legacy = try await LegacyService(world.env).cards(of: card.id, actor: staff.clerk)
        #expect(legacy.map(\.number) == ["T2000000000000001", "T2000000000000002"])
        #expect(try await LegacyService(world.env).cards(of: other.id, actor: staff.clerk).isEmpty)
        let first = legacy[0]
        var chip = try fixtures.chip(for: card)
        let purse = PurseService(world.env)
        func request(_ chip: inout SoftwareCard, fen: Int64, legacy: LegacyCard.ID?) -> PurseService.LoadRequest {
            let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
            let answer = chip.process(
                [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
            return .init(
                amountFen: fen, funding: .legacyBalance, terminalId: "330900000001",
                transactionTime: "20260302100000", initializeResponse: Hex.encode(answer.dropLast(2)),
                legacyCardId: legacy)
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
        var otherChip = try fixtures.chip(for: other)
        #expect(
            await code {
                try await purse.approveLoad(
                    other.id, request(&otherChip, fen: 1800, legacy: first.id), actor: staff.clerk)
            } == .identityMismatch, "another holder's old card")
        #expect(
            await code {
                try await purse.approveLoad(card.id, request(&chip, fen: 1000, legacy: first.id), actor: staff.clerk)
            }
                == .invalidField, "not its balance")
        #expect(
            await code {
                try await purse.approveLoad(card.id, request(&chip, fen: 1800, legacy: nil), actor: staff.clerk)
            }
                == .invalidField)
        let approval = try await purse.approveLoad(
            card.id, request(&chip, fen: 1800, legacy: first.id), actor: staff.clerk)
        let credit = chip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode("20260302100000")) + (try Hex.decode(approval.mac2))
                + [0x04])
        _ = try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: staff.clerk)
        #expect(chip.balance() == 1800)
        #expect(try await balance(.purse(card.id)) == 1800)
        #expect(try await balance(.legacyBalances(.transit)) == 700)
        #expect(
            await code {
                try await purse.approveLoad(card.id, request(&chip, fen: 1800, legacy: first.id), actor: staff.clerk)
            }
                == .transitionNotAllowed, "once")

        // The second one is approved, but the card is pulled before CREDIT: reversed, it stays unclaimed.
        let interrupted = try await purse.approveLoad(
            card.id, request(&chip, fen: 700, legacy: legacy[1].id), actor: staff.clerk)
        #expect(try await balance(.legacyBalances(.transit)) == 0)
        let state = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + [0, 0, 0, 1] + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
        let reversed = try await purse.resolveLoad(
            interrupted.load.id,
            cardState: .init(
                amountFen: 1, terminalId: "330900000001", transactionTime: "20260302100000",
                initializeResponse: Hex.encode(state.dropLast(2))), actor: staff.clerk)
        #expect(reversed.status == .reversed)
        #expect(try await balance(.legacyBalances(.transit)) == 700)
        #expect(try await world.store.legacyCard(id: legacy[1].id)?.isFolded == false)
        let summary = try #require(
            try await LegacyService(world.env).summary(actor: staff.admin).lines.first { $0.kind == .transit })
        #expect(summary.foldedCount == 1 && summary.foldedFen == 1800 && summary.unclaimedFen == 700 && summary.tiesOut)

        // The old system must refuse the folded card at once; the other one after the coexistence period.
        let legacyService = LegacyService(world.env)
        let during = try await legacyService.stopList(after: nil, limit: 10, actor: staff.admin)
        #expect(during.items.map(\.number) == ["T2000000000000001"] && during.items[0].reason == "folded")
        #expect(!during.coexistenceOver && during.next == nil)
        await #expect(throws: CitizenCardError.self) {
            try await legacyService.stopList(after: nil, limit: 10, actor: staff.clerk)
        }
        var env = world.env
        env.legacyPolicy = LegacyPolicy(
            coexistenceUntil: world.clock.now().adding(days: -1).calendarDate(offsetSeconds: 8 * 3600))
        let after = try await LegacyService(env).stopList(after: nil, limit: 1, actor: staff.admin)
        #expect(after.coexistenceOver && after.items.count == 1 && after.next == "transit:T2000000000000001")
        let rest = try await LegacyService(env).stopList(after: after.next, limit: 10, actor: staff.admin)
        #expect(rest.items.map(\.number) == ["T2000000000000002"] && rest.items[0].reason == "coexistence_over")
        #expect(try await world.store.ledgerAllBalances().values.reduce(0, +) == 0)
    }
}

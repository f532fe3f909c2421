import CitizenCardDomain
import CitizenCardServices
import CommandSupport
import Foundation
import Ledger
import Storage

/// Migration day (issue 21): the old transit company's cards are imported the day before the
/// first simulated day, from a file of its own format with its control total (the real
/// `LegacyImporter`, opening entries in the ledger); most of them belong to the run's residents,
/// who fold their old balance in at their outlet's counter on a day of the run (a real online load
/// with `legacy_balance` funding on the chip); the rest, and the holders who do not come, stay
/// unclaimed, and the summary explains every fen: imported = folded + unclaimed = `legacy:transit`.
extension TransitSimulation {
    /// One old transit card of the migration file.
    package struct LegacyPlan {
        var number: String
        var balanceFen: Int64
        /// The run's card whose holder the old card is; nil: someone outside the run.
        var card: Int?
        /// When the holder comes to the counter: the day of the run and the second of the day.
        var foldDay: Int?
        var foldSecond: Int64 = 0
        var folded = false
    }

    /// What the simulator did with the old cards.
    package struct LegacyActivity {
        var importedFen: Int64 = 0
        var ofResidents = 0
        var folded = 0
        var foldedFen: Int64 = 0
        /// Not folded when the holder came: the card was lost, or the balance would pass the cap.
        var postponed = 0
    }

    /// Writes the migration file and imports it. The share of old cards that are the run's
    /// residents' is 70 %; of those holders 80 % come within the run.
    mutating func setUpLegacy(in directory: URL) async throws {
        guard legacyCount > 0 else { return }
        let tag = String(random.int(10_000_000...99_999_999))
        var owners = Array(cards.indices)
        owners.shuffle(using: &random)
        var lines = [LegacyImporter.header.joined(separator: ",")]
        var total: Int64 = 0
        for index in 0..<legacyCount {
            let balance = Int64(random.int(1...30_000))
            var plan = LegacyPlan(number: "OT\(tag)\(String(format: "%08d", index))", balanceFen: balance)
            var idNumber = ""
            if random.chance(0.7), let owner = owners.popLast() {
                plan.card = owner
                idNumber = cards[owner].idNumber
                legacyActivity.ofResidents += 1
                if random.chance(0.8) {
                    plan.foldDay = random.int(1...dayCount)
                    plan.foldSecond = Int64(random.int((9 * 3600)...(17 * 3600)))
                }
            } else if random.chance(0.5) {
                // A holder the old system knew who has no citizen card yet.
                let birth = CalendarDate(
                    year: random.int(1950...2004), month: random.int(1...12), day: random.int(1...28))!
                idNumber =
                    ResidentID.make(
                        region: Self.regions[random.int(0...3)], birth: birth, sequence: random.int(0...999)
                    )
                    .number
            }
            lines.append("\(plan.number),transit,\(idNumber),\(balance),active")
            total += balance
            legacyPlans.append(plan)
        }
        lines.append("TOTAL,\(legacyCount),\(total)")
        let file = directory.appendingPathComponent("transit-cards-\(tag).csv")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(
                at: directory.appendingPathComponent("transit-cards-\(tag).results.csv"))
        }
        let report: LegacyImporter.Report
        do {
            report = try await LegacyImporter(env).run(
                path: file.path, results: directory.appendingPathComponent("transit-cards-\(tag).results.csv"),
                actor: admin)
        } catch {
            throw CommandFailure(description: "the migration file was not imported: \(error)")
        }
        guard report.complete, report.imported == legacyCount else {
            throw CommandFailure(
                description:
                    "the migration file was not imported whole: \(report.imported) of \(legacyCount) rows, \(report.rejected) rejected"
            )
        }
        legacyActivity.importedFen = total
        say(
            "Migration day: \(legacyCount) old transit cards imported with \(Money(fen: total)) of balances (the file's control total), \(legacyActivity.ofResidents) of them the run's residents'."
        )
    }

    /// The fold-ins of the day, as events (no random draw: the plan was made on migration day).
    package func legacyEvents(day: Int) -> [(second: Int64, card: Int, plan: Int)] {
        legacyPlans.indices.compactMap { index in
            let plan = legacyPlans[index]
            guard plan.foldDay == day, let card = plan.card else { return nil }
            return (plan.foldSecond, card, index)
        }
    }

    /// The holder at the counter: the old card's balance onto the chip by an online load.
    package mutating func foldLegacy(_ planIndex: Int) async throws {
        guard let index = legacyPlans[planIndex].card, !legacyPlans[planIndex].folded else { return }
        let balance = legacyPlans[planIndex].balanceFen
        guard !cards[index].lost, inUse(index), cards[index].balanceFen + balance <= LedgerPolicy.standard.purseCapFen
        else {
            legacyActivity.postponed += 1
            return
        }
        let clerk = counters[cards[index].counter].clerk
        let old = try await LegacyService(env).cards(of: cards[index].id, actor: clerk)
            .first { $0.number == legacyPlans[planIndex].number && !$0.folded }
        guard let old else {
            throw CommandFailure(description: "the old card \(legacyPlans[planIndex].number) is not its holder's")
        }
        try await load(index, fen: balance, funding: .legacyBalance, legacyCardID: old.id)
        legacyPlans[planIndex].folded = true
        legacyActivity.folded += 1
        legacyActivity.foldedFen += balance
    }

    /// The summary's lines about the old cards, from the database; false when they do not add up.
    package func summarizeLegacy() async throws -> (lines: [String], ok: Bool) {
        guard legacyCount > 0 else { return ([], true) }
        let summary = try await LegacyService(env).summary(actor: admin)
        guard let line = summary.lines.first(where: { $0.kind == .transit }) else {
            return (["  old transit cards: none in the database ✗"], false)
        }
        let adds = line.importedFen == line.foldedFen + line.unclaimedFen
        let ties = line.tiesOut && line.ledgerFen == line.unclaimedFen
        // Of all runs on this database: the run's own part is what the simulator folded.
        let ok = adds && ties && line.foldedFen >= legacyActivity.foldedFen
        func mark(_ ok: Bool) -> String { ok ? "✓" : "✗" }
        return (
            [
                "  old transit cards (all imports): \(line.importedCount) imported \(Money(fen: line.importedFen)) = folded in \(line.foldedCount) \(Money(fen: line.foldedFen)) + unclaimed \(line.unclaimedCount) \(Money(fen: line.unclaimedFen)) \(mark(adds))",
                "    unclaimed = legacy:transit in the ledger \(Money(fen: line.ledgerFen)) \(mark(ties)); of them without a named holder \(line.unclaimedHolderUnknownCount) \(Money(fen: line.unclaimedHolderUnknownFen))",
                "    this run: imported \(legacyCount) \(Money(fen: legacyActivity.importedFen)), folded in at the counter \(legacyActivity.folded) \(Money(fen: legacyActivity.foldedFen)), postponed \(legacyActivity.postponed) \(mark(ok))",
            ], ok
        )
    }
}

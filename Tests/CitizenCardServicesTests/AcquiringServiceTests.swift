import CardCrypto
import CitizenCardDomain
@testable import CitizenCardServices
import CitizenCardTesting
import Foundation
import Hotlist
import Ledger
@testable import SmartCard
import Storage
import Testing

/// Offline purchases from real software cards at PSAM terminals, uploaded in batches (issue 5
/// part 3, 5 and 7): TAC checks, deduplication, chains, the exceptions queue, the loss rule and
/// fraud signals, on both backends.
@Suite("Offline purchases and batches")
struct AcquiringServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var acquiring: AcquiringService { AcquiringService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func purse(_ card: CardView) async throws -> Int64 {
        -(try await world.store.ledgerBalances([.purse(card.id)])[.purse(card.id)] ?? 0)
    }

    func payable(_ merchant: Merchant) async throws -> Int64 {
        let account = AccountID.merchantPayable(merchant.id)
        return -(try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    func zeroSum() async throws -> Bool { try await world.store.ledgerAllBalances().values.reduce(0, +) == 0 }

    /// A load authorised by the issuer keys directly, for a chip the store does not know.
    func hostLoad(_ chip: inout SoftwareCard, asn: String, fen: UInt32) throws {
        let terminal = try TerminalID(hex: "330900000001")
        let time = try TransactionDateTime(digits: "20260302090000")
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let answer = chip.process([0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + terminal.bytes + [0x10])
        func number(_ range: Range<Int>) -> UInt32 { answer[range].reduce(0) { $0 << 8 | UInt32($1) } }
        let mac2 = try world.env.issuerKeys.authorizeLoad(
            LoadAuthorizationRequest(
                asn: try ApplicationSerialNumber(hex: asn), keyVersion: answer[6], algorithmID: answer[7],
                random: number(8..<12), onlineCounter: UInt16(number(4..<6)), balanceBeforeFen: Int64(number(0..<4)),
                amountFen: Int64(fen), type: .purseLoad, terminal: terminal, dateTime: time,
                mac1: try MAC4(bytes: Array(answer[12..<16]))))
        let credit = chip.process([0x80, 0x52, 0x00, 0x00, 0x0B] + time.bcd + mac2.bytes + [0x04])
        #expect(credit.suffix(2) == [0x90, 0x00])
    }

    @Test("good records are posted: purse down, merchant owed, chain moved; the same batch again changes nothing")
    func postAndReplay() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 5000)
        var bus = try await fixtures.acquirer()
        let records = [
            try bus.tap(&chip, fen: 200, at: "20260302100000"), try bus.tap(&chip, fen: 350, at: "20260302101500"),
        ]
        #expect(chip.balance() == 4450)
        let answer = try await bus.upload(records, env: world.env)
        #expect(answer.records.map(\.outcome) == [.posted, .posted])
        #expect(answer.batch.postedCount == 2 && answer.batch.acceptedFen == 550)
        #expect(try await purse(card) == 4450)
        #expect(try await payable(bus.merchant) == 550)
        #expect(try await zeroSum())
        let chain = try #require(try await world.store.purseChains(cardIDs: [card.id]).first)
        #expect(chain.nextCounter == 2 && chain.balanceFen == 4450)

        // The same number and records: the stored answer, nothing moves.
        let again = try await acquiring.upload(.init(batchNumber: 1, records: records), actor: bus.actor)
        #expect(again == answer)
        #expect(try await purse(card) == 4450)
        // The same number with other records is refused as a whole.
        let other = await expectError(.batchRefused) {
            try await acquiring.upload(.init(batchNumber: 1, records: [records[0]]), actor: bus.actor)
        }
        #expect(other?.field == "batchNumber")
        // An identical record in a new batch is a duplicate, not a second debit.
        let resent = try await bus.upload([records[1]], env: world.env)
        #expect(resent.records.map(\.outcome) == [.duplicate])
        #expect(resent.records[0].purchaseId == answer.records[1].purchaseId)
        #expect(try await purse(card) == 4450)
        #expect(try await payable(bus.merchant) == 550)
    }

    @Test("records re-sent in lower-case hex under a new number are the same records: duplicates")
    func lowerCaseResent() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let records = [
            try bus.tap(&chip, fen: 100, at: "20260302100000"), try bus.tap(&chip, fen: 200, at: "20260302100100"),
        ]
        let first = try await bus.upload(records, env: world.env)
        // The decision's reads start before the terminal is known, keyed by the records' own ASN
        // and PSAM serial: in any case they must find what the terminal's keys find.
        let lower = records.map { record in
            var record = record
            record.asn = record.asn.lowercased()
            record.psamSerialNumber = record.psamSerialNumber.lowercased()
            record.terminalID = record.terminalID.lowercased()
            return record
        }
        let again = try await bus.upload(lower, env: world.env)
        #expect(again.records.map(\.outcome) == [.duplicate, .duplicate])
        #expect(again.records.map(\.purchaseId) == first.records.map(\.purchaseId))
        #expect(try await purse(card) == 700)
        #expect(try await zeroSum())
    }

    @Test("the content hash is SHA-256 of a line per record, its fields as sent joined by |")
    func contentHashBytes() {
        // Stored with every batch and compared when a batch number comes again: the bytes hashed
        // must never change. The expected value is the hash of the two lines below, computed
        // apart from this code.
        //   0000000000000000000A|1000|900|100|6|3|000000000101|7|A1B2C3D4E5F60001|20260302100000|1|0|0A0B0C0D|01020304|complete
        //   00000000000000000abc|900|650|250|9|4|000000000101|8|a1b2c3d4e5f60001|20260302100100|2|1|ffffffff|00000000|recovered
        let records = [
            PurchaseRecord(
                asn: "0000000000000000000A", balanceBeforeFen: 1000, balanceAfterFen: 900, amountFen: 100,
                transactionType: 6, cardCounter: 3, terminalID: "000000000101", terminalSerial: 7,
                psamSerialNumber: "A1B2C3D4E5F60001", dateTime: "20260302100000", keyVersion: 1, algorithmID: 0,
                tac: "0A0B0C0D", mac2: "01020304", status: .complete),
            PurchaseRecord(
                asn: "00000000000000000abc", balanceBeforeFen: 900, balanceAfterFen: 650, amountFen: 250,
                transactionType: 9, cardCounter: 4, terminalID: "000000000101", terminalSerial: 8,
                psamSerialNumber: "a1b2c3d4e5f60001", dateTime: "20260302100100", keyVersion: 2, algorithmID: 1,
                tac: "ffffffff", mac2: "00000000", status: .recovered),
        ]
        #expect(
            AcquiringService.contentHash(records) == "93A8A0497B4573C0E1EC06A90D1C3541C5F251A23A9344985059ED2CD75DAC45")
    }

    @Test("the terminal's own merchant is credited, whatever merchant its log-in remembered")
    func merchantOfTheTerminal() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let shop = try await fixtures.acquirer(code: "SHOP", number: "000000000202", psam: "A1B2C3D4E5F60002")
        // The merchant is read beside the terminal, from the actor; a stale or missing one is
        // replaced by the terminal's.
        bus.actor.merchantID = shop.merchant.id
        let first = try await bus.upload([try bus.tap(&chip, fen: 100, at: "20260302100000")], env: world.env)
        bus.actor.merchantID = nil
        let second = try await bus.upload([try bus.tap(&chip, fen: 200, at: "20260302100100")], env: world.env)
        #expect(first.batch.merchantID == bus.merchant.id)
        #expect(second.batch.merchantID == bus.merchant.id)
        #expect(try await payable(bus.merchant) == 300)
        #expect(try await payable(shop.merchant) == 0)
        #expect(try await purse(card) == 700)
        #expect(try await zeroSum())
    }

    @Test("a forged TAC and a replayed counter are parked with a reason and flagged")
    func forgedAndReplayed() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let good = try bus.tap(&chip, fen: 100, at: "20260302100000")
        var forged = try bus.tap(&chip, fen: 100, at: "20260302100100")
        forged.tac = forged.tac == "00000000" ? "00000001" : "00000000"
        // The same counter again under a new terminal serial, for a bigger amount.
        var replay = good
        replay.terminalSerial = 99
        replay.amountFen = 900
        replay.balanceAfterFen = replay.balanceBeforeFen - 900
        _ = try await bus.upload([good], env: world.env)
        let answer = try await bus.upload([forged, replay], env: world.env)
        #expect(answer.records.map(\.outcome) == [.parked, .parked])
        #expect(answer.records.map(\.reason) == [.badTAC, .replay])
        #expect(try await purse(card) == 900)
        let queue = try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin)
        #expect(Set(queue.compactMap(\.reason)) == [.badTAC, .replay])
        let signals = try await acquiring.fraudSignals(before: nil, limit: 10, actor: staff.admin)
        #expect(Set(signals.map(\.kind)) == [.forgedTAC, .replay])
        #expect(signals.allSatisfy { $0.cardID == card.id && !$0.evidence.isEmpty })
        #expect(try await zeroSum())
    }

    @Test("an operator closes a forged or replayed record with a note: out of the queue, still parked, never paid")
    func closingExceptions() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let good = try bus.tap(&chip, fen: 100, at: "20260302100000")
        var forged = try bus.tap(&chip, fen: 100, at: "20260302100100")
        forged.tac = forged.tac == "00000000" ? "00000001" : "00000000"
        var replay = good
        replay.terminalSerial = 99
        replay.amountFen = 900
        replay.balanceAfterFen = replay.balanceBeforeFen - 900
        let first = try await bus.upload([good], env: world.env)
        _ = try await bus.upload([forged, replay], env: world.env)
        let queue = try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin)
        let forgedID = try #require(queue.first { $0.reason == .badTAC }?.id)
        let replayID = try #require(queue.first { $0.reason == .replay }?.id)
        let owed = try await payable(bus.merchant)

        // Only acquiring staff; a note is needed.
        _ = await expectError(.forbidden) {
            try await acquiring.closeException(forgedID, .init(note: "forged"), actor: staff.clerk)
        }
        for note in ["", "   ", String(repeating: "x", count: 501), "bad\u{0007}bell"] {
            let error = await expectError(.invalidField) {
                try await acquiring.closeException(forgedID, .init(note: note), actor: staff.admin)
            }
            #expect(error?.field == "note")
        }
        _ = await expectError(.notFound) {
            try await acquiring.closeException(
                .init(rawValue: UUID().uuidString.lowercased()), .init(note: "no such record"), actor: staff.admin)
        }
        // A posted record is not an exception.
        let posted = OfflinePurchase.ID(rawValue: try #require(first.records.first?.purchaseId))
        _ = await expectError(.notClosable) {
            try await acquiring.closeException(posted, .init(note: "paid already"), actor: staff.admin)
        }

        let note = "TAC forged; terminal checked on site\nno refund due"
        let closed = try await acquiring.closeException(forgedID, .init(note: "  \(note)  "), actor: staff.admin)
        #expect(closed.closure.note == note)
        #expect(closed.closure.closedBy == staff.admin.name && closed.purchase.outcome == .parked)
        // The same closure again is the same answer; with another note it is refused.
        #expect(try await acquiring.closeException(forgedID, .init(note: note), actor: staff.admin) == closed)
        _ = await expectError(.notClosable) {
            try await acquiring.closeException(forgedID, .init(note: "another reason"), actor: staff.admin)
        }
        world.clock.advance(seconds: 60)
        _ = try await acquiring.closeException(replayID, .init(note: "replayed counter"), actor: staff.admin)
        let latest = try await acquiring.latestClosedExceptions(limit: 1, actor: staff.admin)
        #expect(latest.map(\.purchase.id) == [replayID])

        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        let list = try await acquiring.closedExceptions(after: nil, limit: 10, actor: staff.admin)
        #expect(Set(list.map(\.purchase.id)) == [forgedID, replayID])
        #expect(list.allSatisfy { $0.purchase.outcome == .parked && $0.closure.purchaseID == $0.purchase.id })
        let page = try await acquiring.closedExceptions(after: list[0].purchase.id, limit: 10, actor: staff.admin)
        #expect(page.map(\.purchase.id) == [list[1].purchase.id])
        // No money moved: the merchant is owed what it was, the purse kept its balance.
        #expect(try await payable(bus.merchant) == owed)
        #expect(try await purse(card) == 900)
        #expect(try await zeroSum())
        // Audited, without the free-text note.
        let audit = try await world.store.auditEntries(AuditFilter(action: "purchase.exception.close"), limit: 10)
        #expect(audit.count == 2)
        #expect(audit.allSatisfy { !$0.draft.detail.contains("forged;") && !$0.draft.detail.contains("replayed") })
        #expect(audit.contains { $0.draft.subject == "purchase:\(forgedID)" && $0.draft.detail.contains("bad_tac") })
    }

    @Test(
        "operators closing one record at the same moment: the same note gives all the same closure, others are refused")
    func closingAtOnce() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        var forged = try bus.tap(&chip, fen: 100, at: "20260302100000")
        forged.tac = forged.tac == "00000000" ? "00000001" : "00000000"
        let answer = try await bus.upload([forged], env: world.env)
        let id = OfflinePurchase.ID(rawValue: answer.records[0].purchaseId)
        let service = acquiring, admin = staff.admin
        let same = try await withThrowingTaskGroup(of: ClosedException.self) { group in
            for _ in 0..<8 {
                group.addTask { try await service.closeException(id, .init(note: "forged"), actor: admin) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(same.count == 8 && Set(same).count == 1)
        let other = await withTaskGroup(of: CitizenCardError.Code?.self) { group in
            for index in 0..<4 {
                group.addTask {
                    do {
                        _ = try await service.closeException(id, .init(note: "other \(index)"), actor: admin)
                        return nil
                    } catch let error as CitizenCardError {
                        return error.code
                    } catch {
                        return .internal
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(other.allSatisfy { $0 == .notClosable })
        #expect(
            try await acquiring.closedExceptions(after: nil, limit: 10, actor: staff.admin).map(\.closure) == [
                same[0].closure
            ])
        let audit = try await world.store.auditEntries(AuditFilter(action: "purchase.exception.close"), limit: 20)
        #expect(audit.count == 1)
    }

    @Test("a gap record cannot be closed: it waits for its card's chain and is still released when the gap fills")
    func gapNotClosable() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let first = try bus.tap(&chip, fen: 100, at: "20260302100000")
        let second = try bus.tap(&chip, fen: 200, at: "20260302110000")
        let early = try await bus.upload([second], env: world.env)
        let id = OfflinePurchase.ID(rawValue: try #require(early.records.first?.purchaseId))
        let error = await expectError(.notClosable) {
            try await acquiring.closeException(id, .init(note: "lost record"), actor: staff.admin)
        }
        #expect(error?.detail?.contains("gap") == true)
        #expect(try await acquiring.closedExceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        _ = try await bus.upload([first], env: world.env)
        #expect(try await purse(card) == 700)
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
    }

    @Test("a record that never arrives is written off: the records behind it are paid, its amount waits in suspense")
    func missingRecordWrittenOff() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000, at: "20261129080000")
        var bus = try await fixtures.acquirer()
        let first = try bus.tap(&chip, fen: 100, at: "20261129090000")
        let lost = try bus.tap(&chip, fen: 250, at: "20261129100000")  // never uploaded, yet
        try await fixtures.load(&chip, card: card, fen: 500, at: "20261129110000")
        let behind = try bus.tap(&chip, fen: 300, at: "20261129120000")
        try await fixtures.load(&chip, card: card, fen: 200, at: "20261129130000")
        let later = try bus.tap(&chip, fen: 50, at: "20261129140000")
        _ = try await bus.upload([first], env: world.env)
        let parked = try await bus.upload([behind, later], env: world.env)
        #expect(parked.records.map(\.reason) == [.gap, .gap])
        let owed = try await payable(bus.merchant)

        // Not without a note, not by a clerk, not for a card with nothing waiting.
        _ = await expectError(.invalidField) {
            try await acquiring.writeOffMissingRecords(card: card.id, .init(note: " "), actor: staff.admin)
        }
        _ = await expectError(.forbidden) {
            try await acquiring.writeOffMissingRecords(card: card.id, .init(note: "lost"), actor: staff.clerk)
        }
        let (other, _) = try await fixtures.activeCardWithChip()
        _ = await expectError(.transitionNotAllowed) {
            try await acquiring.writeOffMissingRecords(card: other.id, .init(note: "lost"), actor: staff.admin)
        }

        world.clock.advance(seconds: 3600)
        let written = try await acquiring.writeOffMissingRecords(
            card: card.id, .init(note: "terminal 7 destroyed in a fire"), actor: staff.admin)
        #expect(written.firstCounter == Int64(lost.cardCounter) && written.lastCounter == Int64(lost.cardCounter))
        #expect(written.amountFen == 250 && written.loadsInGap == 1)
        #expect(written.released == 2 && written.stillParked == 0)
        // The purse is what the chip holds; the merchant is paid for the records behind; the
        // missing record's 250 fen wait in suspense.
        #expect(try await purse(card) == 1000 - 100 - 250 + 500 - 300 + 200 - 50)
        #expect(try await payable(bus.merchant) == owed + 350)
        #expect(-(try await world.store.ledgerBalances([.missingRecords])[.missingRecords] ?? 0) == 250)
        #expect(try await zeroSum())
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        let chain = try #require(try await world.store.purseChains(cardIDs: [card.id]).first)
        #expect(
            chain.nextCounter == Int64(later.cardCounter) + 1
                && chain.balanceFen == 1000 - 100 - 250 + 500 - 300 + 200 - 50)
        let audit = try await world.store.auditEntries(AuditFilter(action: "purse.missing-records.write-off"), limit: 5)
        #expect(audit.count == 1 && !audit[0].draft.detail.contains("fire"))
        // Nothing left to write off.
        _ = await expectError(.transitionNotAllowed) {
            try await acquiring.writeOffMissingRecords(card: card.id, .init(note: "again"), actor: staff.admin)
        }

        // The missing record turns up after all: behind the chain, parked, and now closable.
        let late = try await bus.upload([lost], env: world.env)
        #expect(late.records.map(\.reason) == [.balanceMismatch])
        let lateID = OfflinePurchase.ID(rawValue: late.records[0].purchaseId)
        _ = try await acquiring.closeException(lateID, .init(note: "written off before"), actor: staff.admin)
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        #expect(try await zeroSum())

        // The day clears with the released records in it, and ties.
        let day = world.clock.now().calendarDate()
        world.clock.advance(days: 1)
        let report = try await ClearingService(world.env).run(day, actor: staff.admin)
        #expect(report.differences.isEmpty, "\(report.differences)")
        #expect(report.merchants.map(\.grossFen) == [100 + 300 + 50])
    }

    @Test("a write-off is refused when the balances do not add up across the gap; nothing changes")
    func writeOffRefused() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000, at: "20261129080000")
        var bus = try await fixtures.acquirer()
        let first = try bus.tap(&chip, fen: 100, at: "20261129090000")
        _ = try bus.tap(&chip, fen: 250, at: "20261129100000")
        var behind = try bus.tap(&chip, fen: 300, at: "20261129120000")
        _ = try await bus.upload([first], env: world.env)
        // A balance before above the chain's with no load between: altered, or a load unknown here.
        behind.balanceBeforeFen = 2_000
        behind.balanceAfterFen = 1_700
        _ = try await bus.upload([behind], env: world.env)
        let error = await expectError(.transitionNotAllowed) {
            try await acquiring.writeOffMissingRecords(card: card.id, .init(note: "lost"), actor: staff.admin)
        }
        #expect(error?.detail?.contains("do not add up") == true)
        #expect(try await purse(card) == 900)
        #expect((try await world.store.ledgerBalances([.missingRecords])[.missingRecords] ?? 0) == 0)
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).count == 1)
    }

    @Test("a record that arrives before an earlier one waits as a gap and is released when the gap closes")
    func gapReleased() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        var tram = try await fixtures.acquirer(code: "TRAM", number: "000000000202", psam: "A1B2C3D4E5F60002")
        let first = try bus.tap(&chip, fen: 100, at: "20260302100000")
        let second = try tram.tap(&chip, fen: 200, at: "20260302110000")
        let third = try tram.tap(&chip, fen: 300, at: "20260302120000")
        let early = try await tram.upload([second, third], env: world.env)
        #expect(early.records.map(\.reason) == [.gap, .gap])
        #expect(try await purse(card) == 1000)
        let signals = try await acquiring.fraudSignals(before: nil, limit: 10, actor: staff.admin)
        #expect(signals.map(\.kind) == [.counterGap])
        let late = try await bus.upload([first], env: world.env)
        #expect(late.records.map(\.outcome) == [.posted])
        #expect(try await purse(card) == 400)
        #expect(try await payable(bus.merchant) == 100)
        #expect(try await payable(tram.merchant) == 500)
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        let stored = try await acquiring.purchases(of: card.id, limit: 10, actor: staff.clerk)
        #expect(stored.count == 3 && stored.allSatisfy { $0.outcome == .posted && $0.postedAt != nil })
        #expect(try await zeroSum())
    }

    @Test("a late record releases those behind it even when a load lies between them; one gap signal per gap")
    func gapAcrossLoad() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        var tram = try await fixtures.acquirer(code: "TRAM", number: "000000000202", psam: "A1B2C3D4E5F60002")
        let withheld = try bus.tap(&chip, fen: 100, at: "20260302100000")
        let next = try tram.tap(&chip, fen: 100, at: "20260302101000")
        _ = try await tram.upload([next], env: world.env)
        try await fixtures.load(&chip, card: card, fen: 2000)
        let afterLoad = try tram.tap(&chip, fen: 100, at: "20260302102000")
        let waiting = try await tram.upload([afterLoad], env: world.env)
        #expect(waiting.records.map(\.reason) == [.gap])
        let late = try await bus.upload([withheld], env: world.env)
        #expect(late.records.map(\.outcome) == [.posted])
        #expect(try await acquiring.exceptions(after: nil, limit: 10, actor: staff.admin).isEmpty)
        let chain = try #require(try await world.store.purseChains(cardIDs: [card.id]).first)
        #expect(chain.nextCounter == 3 && chain.balanceFen == 2700)
        #expect(try await purse(card) == 2700)
        let signals = try await acquiring.fraudSignals(before: nil, limit: 10, actor: staff.admin)
        #expect(signals.map(\.kind) == [.counterGap])
    }

    @Test("a load between two purchases keeps the balance chain; an unexplained balance is parked")
    func balanceChain() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        let before = try bus.tap(&chip, fen: 100, at: "20260302100000")
        try await fixtures.load(&chip, card: card, fen: 2000)
        let after = try bus.tap(&chip, fen: 100, at: "20260302110000")
        var odd = try bus.tap(&chip, fen: 100, at: "20260302120000")
        odd.balanceBeforeFen += 1
        odd.balanceAfterFen += 1
        let answer = try await bus.upload([before, after, odd], env: world.env)
        #expect(answer.records.map(\.outcome) == [.posted, .posted, .parked])
        #expect(answer.records[2].reason == .balanceMismatch)
        #expect(try await purse(card) == 2800)
    }

    @Test("a card that is not ours is parked; a record of another terminal refuses the whole batch")
    func unknownCardAndRefusal() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var stranger = try SoftwareCard.personalise(
            asn: try Hex.decode("03100000000099999999"),
            holder: CardHolder(
                name: "外地", socialSecurityNumber: "310101199001010011", cardSerialNumber: "3101000000019",
                bankCardNumber: "", issueDate: "20260101",
                expiryDate: "20360101", photoReference: ""), keyring: world.env.issuerKeys)
        _ = stranger.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        try hostLoad(&stranger, asn: "03100000000099999999", fen: 500)
        var bus = try await fixtures.acquirer()
        let foreign = try bus.tap(&stranger, fen: 100, at: "20260302100000")
        let ours = try bus.tap(&chip, fen: 100, at: "20260302100100")
        let answer = try await bus.upload([ours, foreign], env: world.env)
        #expect(answer.records.map(\.reason) == [nil, .unknownCard])

        var wrong = try bus.tap(&chip, fen: 100, at: "20260302100200")
        wrong.terminalID = "000000000999"
        var bad = try bus.tap(&chip, fen: 100, at: "20260302100300")
        bad.dateTime = "20260230100000"
        let refused = await expectError(.batchRefused) {
            try await acquiring.upload(.init(batchNumber: 9, records: [wrong, bad]), actor: bus.actor)
        }
        #expect(refused?.detail?.contains("record 0: terminalID") == true)
        #expect(refused?.detail?.contains("record 1: dateTime") == true)
        #expect(try await world.store.purchaseBatch(terminalID: bus.terminal.id, number: 9) == nil)
        #expect(try await purse(card) == 900)
    }

    @Test("Art 17: a purchase before the loss is the holder's, one after it is the operator's risk, flagged")
    func lossRule() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await fixtures.acquirer()
        // The clock is 2026-03-02 09:00 (+08); the loss takes effect at 10:00.
        world.clock.advance(seconds: 3600)
        _ = try await fixtures.cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let before = try bus.tap(&chip, fen: 100, at: "20260302095900")
        let after = try bus.tap(&chip, fen: 300, at: "20260302100000")
        let answer = try await bus.upload([before, after], env: world.env)
        #expect(answer.records.map(\.outcome) == [.posted, .risk])
        #expect(try await purse(card) == 900)
        #expect(try await payable(bus.merchant) == 400)
        #expect(try await world.store.ledgerBalances([.operatorRisk])[.operatorRisk] == 300)
        let signals = try await acquiring.fraudSignals(before: nil, limit: 10, actor: staff.admin)
        #expect(signals.map(\.kind) == [.useAfterLoss])
        #expect(signals[0].evidence.contains("2026-03-02T02:00:00Z"))
        #expect(try await zeroSum())
    }

    @Test("the same card at two terminals too far apart for the time between taps is flagged")
    func impossibleTravel() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 1000)
        var dinghai = try await fixtures.acquirer(latitude: 30.0190, longitude: 122.1067)
        var shanghai = try await fixtures.acquirer(
            code: "METRO", number: "000000000303", psam: "A1B2C3D4E5F60003", location: "People's Square",
            latitude: 31.2304, longitude: 121.4737)
        let here = try dinghai.tap(&chip, fen: 100, at: "20260302100000")
        let there = try shanghai.tap(&chip, fen: 100, at: "20260302101000")
        let later = try dinghai.tap(&chip, fen: 100, at: "20260302200000")
        _ = try await dinghai.upload([here], env: world.env)
        _ = try await shanghai.upload([there], env: world.env)
        _ = try await dinghai.upload([later], env: world.env)
        let signals = try await acquiring.fraudSignals(before: nil, limit: 10, actor: staff.admin)
        #expect(signals.map(\.kind) == [.impossibleTravel])
        #expect(signals.first?.evidence.contains("in 600 s") == true)
        #expect(try await purse(card) == 700)
    }

    @Test("terminals sign in with their hotlist version; a loss and its withdrawal publish versions and deltas")
    func hotlist() async throws {
        let (resident, card) = try await fixtures.activeCard()
        let bus = try await fixtures.acquirer()
        let hotlist = HotlistService(world.env)
        #expect(try await hotlist.publish(actor: .system).version == 0)
        let signIn = try await acquiring.signIn(.init(hotlistVersion: 0), actor: bus.actor)
        #expect(signIn.hotlistVersion == 0 && signIn.hotlistCurrent && signIn.merchantCode == "BUS")
        await _ = expectError(.invalidField) { try await acquiring.signIn(.init(hotlistVersion: 5), actor: bus.actor) }

        _ = try await fixtures.cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let first = try await hotlist.publish(actor: .system)
        #expect(first.version == 1 && first.added == 1)
        #expect(try await hotlist.publish(actor: .system).added == 0)
        let full = try await hotlist.full(actor: bus.actor)
        let asn = try #require(CardASN(hex: card.asn))
        #expect(full.version == 1 && full.entry(for: asn)?.reason == .lost)
        #expect(full.entry(for: asn)?.blocksApplication == true)
        #expect(try Hotlist(decoding: full.encoded()) == full)
        let behind = try await acquiring.signIn(.init(hotlistVersion: 0), actor: bus.actor)
        #expect(behind.hotlistVersion == 1 && !behind.hotlistCurrent)
        #expect(try await world.store.terminal(id: bus.terminal.id)?.hotlistVersion == 0)

        _ = try await fixtures.cards.withdrawLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(try await hotlist.publish(actor: .system).version == 2)
        let delta = try #require(try await hotlist.delta(since: 1, actor: bus.actor))
        #expect(delta.removed == [asn] && delta.changed.isEmpty)
        #expect(try full.applying(delta).count == 0)
        let whole = try #require(try await hotlist.delta(since: 0, actor: bus.actor))
        #expect(whole.changeCount == 0)
        #expect(try await hotlist.delta(since: 2, actor: bus.actor) == nil)
        await _ = expectError(.forbidden) { try await hotlist.full(actor: staff.clerk) }
    }

    @Test("the stored answer reads back equal: compact, and as JSON when an id is no lowercase UUID")
    func storedAnswer() throws {
        let batch = PurchaseBatch(
            id: .init(rawValue: "01a22728-5989-726a-a6af-02b21eda68a0"),
            terminalID: .init(rawValue: "01a22728-5989-726a-a6af-02b21eda68a1"),
            merchantID: .init(rawValue: "01a22728-5989-726a-a6af-02b21eda68a2"), number: 7,
            contentHash: "ab", recordCount: 4, postedCount: 1, riskCount: 1, parkedCount: 1, duplicateCount: 1,
            acceptedFen: 300, receivedAt: Timestamp(secondsSinceEpoch: 1_772_400_000))
        let records: [OfflineBatchAssessment.RecordResult] = [
            .init(index: 0, outcome: .posted, reason: nil, purchaseId: "01a22727-bace-721c-a1c9-9dbe3536ffc4"),
            .init(index: 1, outcome: .risk, reason: nil, purchaseId: "00000000-0000-7000-8000-000000000013"),
            .init(
                index: 2, outcome: .parked, reason: .balanceMismatch, purchaseId: "ffffffff-ffff-7fff-bfff-ffffffffffff"
            ),
            .init(index: 3, outcome: .duplicate, reason: nil, purchaseId: "01a22727-bc1c-7aac-aacc-be5ae8e00000"),
        ]
        let answer = AcquiringService.BatchAnswer(batch: batch, records: records)
        let compact = try answer.stored()
        #expect(compact.first == AcquiringService.BatchAnswer.compactMarker)
        // A batch of 250: about a quarter of the JSON.
        var large = answer
        large.records = (0..<250).map {
            .init(
                index: $0, outcome: .posted, reason: nil,
                purchaseId: "01a22727-bace-721c-a1c9-\(String(format: "%012d", $0))")
        }
        #expect(try large.stored().count * 3 < (try APIJSON.encoder.encode(large)).count)
        #expect(try AcquiringService.BatchAnswer(stored: try large.stored()) == large)
        #expect(try AcquiringService.BatchAnswer(stored: compact) == answer)
        for reason in OfflinePurchase.ParkReason.allCases {
            var parked = answer
            parked.records[2].reason = reason
            #expect(try AcquiringService.BatchAnswer(stored: try parked.stored()) == parked)
        }
        // Ids of another shape, and answers stored as JSON before, read back as they were.
        for id in ["01A22727-BACE-721C-A1C9-9DBE3536FFC4", "not-a-uuid", "", "01a22727-bace-721c-a1c9-9dbe3536ffc4x"] {
            var other = answer
            other.records[1].purchaseId = id
            let stored = try other.stored()
            #expect(stored.first == UInt8(ascii: "{"))
            #expect(try AcquiringService.BatchAnswer(stored: stored) == other)
        }
        #expect(try AcquiringService.BatchAnswer(stored: try APIJSON.encoder.encode(answer)) == answer)
        #expect(throws: (any Error).self) { try AcquiringService.BatchAnswer(stored: compact.dropLast()) }
    }
}

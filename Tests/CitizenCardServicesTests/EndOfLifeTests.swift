import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Ledger
import SmartCard
import Storage
import Testing

/// Money at the end of a card's life (issue 21; R-16 … R-19, Art 19-21, 26), with a moving clock,
/// on both backends: fees in the books, expired and lost-and-expired purses, pending affairs at
/// cancellation, refund payees (holder, relative, heir), suspense decisions, renewal offered.
@Suite("End of a card's life: fees, expiry, refunds, suspense, renewal")
struct EndOfLifeTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var closures: PurseClosureService { PurseClosureService(world.env) }
    var cards: CardService { fixtures.cards }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    func balance(_ account: AccountID) async throws -> Int64 {
        account.normalBalance(signed: try await world.store.ledgerBalances([account])[account] ?? 0)
    }

    func ledgerSumsToZero() async throws -> Bool {
        try await world.store.ledgerAllBalances().values.reduce(0, +) == 0
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

    func error(_ body: () async throws -> some Any) async -> CitizenCardError? {
        do {
            _ = try await body()
            return nil
        } catch let error as CitizenCardError {
            return error
        } catch {
            return CitizenCardError(.internal)
        }
    }

    /// The whole online load of `fen` onto a new card from its closed predecessor's purse.
    func loadOldBalance(_ chip: inout SoftwareCard, card: CardView, fen: Int64) async throws -> PurseLoad {
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: fen >> (24 - 8 * $0)) }
        let answer = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
        let purse = PurseService(world.env)
        let approval = try await purse.approveLoad(
            card.id,
            .init(
                amountFen: fen, funding: .oldCardRefund, terminalId: "330900000001",
                transactionTime: "20360310120000", initializeResponse: Hex.encode(answer.dropLast(2))),
            actor: staff.clerk)
        let credit = chip.process(
            [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode("20360310120000")) + (try Hex.decode(approval.mac2))
                + [0x04])
        return try await purse.completeLoad(approval.load.id, tac: Hex.encode(credit.prefix(4)), actor: staff.clerk)
    }

    func cancel(_ card: CardView, _ resident: Fixtures.Resident) async throws -> CardServiceResult {
        try await cards.cancel(
            card.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: "申请书 2026-011",
                identity: fixtures.identity(resident)), actor: staff.clerk)
    }

    @Test(
        "every fee is a ledger transfer from the outlet's cash to fee income under its receipt; free items post nothing"
    )
    func feesInTheBooks() async throws {
        let (resident, card) = try await fixtures.activeCard()
        #expect(try await balance(.feeIncome) == 0, "the first card is free: a receipt, no transfer")
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let reissued = try await cards.reissue(
            card.id, .init(identity: fixtures.identity(resident), expectedFeeFen: 2000), actor: staff.clerk)
        let receipt = try #require(reissued.receipt)
        let entry = try #require(try await world.store.ledgerEntry(id: TransferID("fee:\(receipt.id)")))
        #expect(entry.transfer.kind == .fee && entry.transfer.memo.contains(receipt.number))
        #expect(try await balance(.feeIncome) == 2000)
        #expect(try await balance(.outletCash(try #require(staff.clerk.outletID))) == 2000)
        // A fee that the schedule refuses writes neither a receipt nor a transfer.
        let (other, second) = try await fixtures.activeCard()
        _ = try await cards.reportWrittenLoss(second.id, identity: fixtures.identity(other), actor: staff.clerk)
        #expect(
            await code {
                try await cards.reissue(
                    second.id, .init(identity: fixtures.identity(other), expectedFeeFen: 1), actor: staff.clerk)
            } == .feeMismatch)
        #expect(try await balance(.feeIncome) == 2000)
        #expect(try await ledgerSumsToZero())
    }

    @Test("an expired card's purse is closed after the waiting period and goes onto the renewed card by a real load")
    func expiredThenRenewed() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 3000)
        let expiresAt = try #require(card.expiresAt)
        world.clock.set(expiresAt)
        #expect(try await cards.recordDueTransitions() == 1)
        world.clock.advance(days: 7)
        world.clock.advance(seconds: -1)
        #expect(try await closures.closeDue() == 0, "a second short of the waiting period")
        world.clock.advance(seconds: 1)
        #expect(try await closures.closeDue() == 1)
        let closure = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(closure.kind == .refund && closure.amountFen == 3000 && closure.status == .due)
        #expect(try await balance(.purse(card.id)) == 0)
        #expect(try await balance(.refundsPayable) == 3000)

        // The holder renews later: the refund goes onto the new card, once, with a MAC2 and a TAC.
        let renewed = try await cards.renew(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        let newCard = try #require(renewed.newCard)
        _ = try await fixtures.produceAndDeliver(newCard)
        _ = try await cards.issue(newCard.id, identity: fixtures.identity(resident), actor: staff.clerk)
        var newChip = try fixtures.chip(for: newCard)
        let load = try await loadOldBalance(&newChip, card: newCard, fen: 3000)
        #expect(load.status == .completed && newChip.balance() == 3000)
        let settled = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(settled.status == .settled && settled.settlement == "load:\(load.id)")
        #expect(try await balance(.refundsPayable) == 0)
        #expect(try await balance(.purse(newCard.id)) == 3000)
        #expect(
            await code { try await closures.payOut(card.id, fixtures.holderPayout(resident), actor: staff.clerk) }
                == .transitionNotAllowed, "paid once: not in cash as well")
        #expect(try await ledgerSumsToZero())
    }

    @Test("a lost card that expires before it is reissued loses nothing: rides after the loss are the operator's")
    func lostThenExpired() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 5000)
        var bus = try await fixtures.acquirer()
        let before = try bus.tap(&chip, fen: 200, at: "20260302093000")
        world.clock.advance(seconds: 3600)
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let after = try bus.tap(&chip, fen: 300, at: "20260302110000")
        let expiresAt = try #require(card.expiresAt)
        world.clock.set(expiresAt)
        #expect(try await cards.recordDueTransitions() == 1)
        #expect(try await cards.card(card.id, actor: staff.clerk).state == .expired)
        // The bus uploads late, after the expiry: the loss still decides whose each ride is.
        world.clock.advance(days: 2)
        #expect(try await bus.upload([before, after], env: world.env).records.map(\.outcome) == [.posted, .risk])
        world.clock.advance(days: 5)
        #expect(try await closures.closeDue() == 1)
        let closure = try await closures.closure(of: card.id, actor: staff.clerk)
        #expect(closure.kind == .refund && closure.amountFen == 4800)
        let paid = try await closures.payOut(card.id, fixtures.holderPayout(resident), actor: staff.clerk)
        #expect(paid.closure.status == .settled && paid.payee?.kind == .holder)
        #expect(try await balance(.operatorRisk) == 300)
        #expect(try await ledgerSumsToZero())
    }

    @Test("cancellation waits for an interrupted load and for records parked in the waiting period, and says which")
    func pendingAffairs() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 2000)
        // A load approved and never completed: the chip may or may not have the money.
        let amount: [UInt8] = [0, 0, 0x03, 0xE8]
        let answer = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
        let purse = PurseService(world.env)
        let interrupted = try await purse.approveLoad(
            card.id,
            .init(
                amountFen: 1000, funding: .cash, terminalId: "330900000001", transactionTime: "20260302100000",
                initializeResponse: Hex.encode(answer.dropLast(2))), actor: staff.clerk)
        let refused = try #require(await error { try await cancel(card, resident) })
        #expect(refused.code == .affairsPending)
        #expect(refused.detail?.contains(interrupted.load.id.rawValue) == true)
        #expect(try await cards.pendingAffairs(of: card.id, actor: staff.clerk).map(\.kind) == [.interruptedLoad])
        #expect(try await cards.card(card.id, actor: staff.clerk).state == .active, "nothing was written")
        // The chip never got it: resolved from the card's state, the load is reversed.
        let state = chip.process(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + [0, 0, 0, 1] + [0x33, 0x09, 0, 0, 0, 0x01] + [0x10])
        _ = try await purse.resolveLoad(
            interrupted.load.id,
            cardState: .init(
                amountFen: 1, terminalId: "330900000001", transactionTime: "20260302100000",
                initializeResponse: Hex.encode(state.dropLast(2))), actor: staff.clerk)
        #expect(try await cards.pendingAffairs(of: card.id, actor: staff.clerk).isEmpty)

        // A ride arrives ahead of a missing one: parked, and inside the waiting period it holds the cancellation.
        var bus = try await fixtures.acquirer()
        _ = try bus.tap(&chip, fen: 100, at: "20260302103000")
        let second = try bus.tap(&chip, fen: 150, at: "20260302103500")
        #expect(try await bus.upload([second], env: world.env).records.map(\.outcome) == [.parked])
        let parked = try await cards.pendingAffairs(of: card.id, actor: staff.clerk)
        #expect(parked.map(\.kind) == [.parkedRecord] && parked[0].amountFen == 150)
        let settlesBy = try #require(parked[0].settlesBy)
        #expect(await code { try await cancel(card, resident) } == .affairsPending)
        world.clock.set(settlesBy)
        #expect(try await cards.pendingAffairs(of: card.id, actor: staff.clerk).isEmpty)
        #expect(try await cancel(card, resident).card.state == .cancelled)
    }

    @Test(
        "a refund is paid to the holder on their document, or after a registered death to a relative or an heir on theirs"
    )
    func refundPayees() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 1500)
        _ = try await cancel(card, resident)
        world.clock.advance(days: 7)
        #expect(try await closures.closeDue() == 1)
        let stranger = fixtures.newIDNumber()
        let (_, other) = try await fixtures.activeCard()
        func payout(
            _ kind: RefundPayee.Kind, id: String, name: String? = nil, relationship: Cancellation.Relationship? = nil,
            document: String? = nil, channel: String = "cash", account: PurseClosureService.BankAccount? = nil
        ) -> PurseClosureService.Payout {
            .init(
                channel: channel,
                payee: .init(
                    kind: kind, name: name, idNumber: id, documentChecked: true, relationship: relationship,
                    documentReference: document), bankAccount: account)
        }
        #expect(
            await code { try await closures.payOut(card.id, payout(.holder, id: stranger), actor: staff.clerk) }
                == .identityMismatch)
        #expect(
            await code {
                try await closures.payOut(
                    card.id, payout(.heir, id: stranger, name: "李四", document: "公证书 (2026) 001"), actor: staff.clerk)
            } == .invalidField, "the holder is alive")
        var unchecked = fixtures.holderPayout(resident)
        unchecked.payee.documentChecked = false
        #expect(await code { try await closures.payOut(card.id, unchecked, actor: staff.clerk) } == .invalidField)
        #expect(
            await code {
                try await closures.payOut(
                    card.id, fixtures.holderPayout(resident, channel: "bank_transfer"), actor: staff.clerk)
            } == .invalidField, "a bank transfer names the account")

        // The holder dies before collecting it: now only a relative or an heir is paid.
        var died = RegistryService.Correction(reason: "death registered")
        died.lifeStatus = .deceased
        _ = try await fixtures.registry.correct(resident.person.id, died, actor: staff.clerk)
        #expect(
            await code { try await closures.payOut(card.id, fixtures.holderPayout(resident), actor: staff.clerk) }
                == .personDeceased)
        #expect(
            await code {
                try await closures.payOut(
                    card.id, payout(.relative, id: stranger, name: "李四", document: "户口簿"), actor: staff.clerk)
            } == .relativeRequired)
        #expect(
            await code {
                try await closures.payOut(
                    card.id,
                    payout(.relative, id: resident.idNumber, name: "李四", relationship: .child, document: "户口簿"),
                    actor: staff.clerk)
            } == .identityMismatch, "the holder's own document is not a relative's")
        #expect(
            await code {
                try await closures.payOut(
                    card.id,
                    payout(
                        .heir, id: stranger, name: "李四", document: "公证书 (2026) 001", channel: "bank_transfer",
                        account: .init(bankName: "中国工商银行", accountNumber: "62-22")), actor: staff.clerk)
            } == .invalidField)
        #expect(try await balance(.refundsPayable) == 1500, "nothing was paid by the refused attempts")
        let paid = try await closures.payOut(
            card.id,
            payout(
                .heir, id: stranger, name: "李四", document: "公证书 (2026) 浙嘉证字第 001 号", channel: "bank_transfer",
                account: .init(bankName: "中国工商银行", accountNumber: "6222 0212 3456 7890 123")), actor: staff.clerk)
        let payee = try #require(paid.payee)
        #expect(payee.kind == .heir && payee.channel == "bank_transfer" && payee.bankName == "中国工商银行")
        #expect(payee.accountMasked == "***************0123" && payee.nameMasked == "李*")
        #expect(!payee.idNumberMasked.contains(stranger) && payee.idNumberMasked.hasSuffix(String(stranger.suffix(4))))
        #expect(payee.documentReferenceMasked?.contains("001") == true)
        #expect(paid.closure.settlement == "bank_transfer")
        #expect(try await balance(.refundsPayable) == 0)
        // Stored masked; the full details sealed, bound to the card.
        let stored = try #require(try await world.store.refundPayee(cardID: card.id))
        #expect(stored.payee == payee)
        #expect(!String(decoding: stored.sealed, as: UTF8.self).contains(stranger))
        let opened = try world.env.vault.sealer.open(stored.sealed, context: "refund_payee:\(card.id.rawValue)")
        #expect(String(decoding: opened, as: UTF8.self).contains(stranger))
        #expect(throws: (any Error).self) {
            try world.env.vault.sealer.open(stored.sealed, context: "refund_payee:\(other.id.rawValue)")
        }
        let view = try await closures.view(of: card.id, actor: staff.clerk)
        #expect(view.payee == payee)
        #expect(try await ledgerSumsToZero())
    }

    @Test("suspense money leaves only by the center's decision: to the merchant found, or unclaimed after three years")
    func suspenseDecisions() async throws {
        let suspense = SuspenseService(world.env)
        let acquiring = AcquiringService(world.env)
        // A ride that never arrived, written off: its amount waits in suspense:missing-records.
        let (_, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 1000, at: "20260302090500")
        var bus = try await fixtures.acquirer()
        _ = try bus.tap(&chip, fen: 120, at: "20260302103000")
        let second = try bus.tap(&chip, fen: 80, at: "20260302103500")
        _ = try await bus.upload([second], env: world.env)
        _ = try await acquiring.writeOffMissingRecords(
            card: card.id, .init(note: "terminal lost its memory"), actor: staff.admin)
        #expect(try await balance(.missingRecords) == 120)
        let overview = try await suspense.overview(actor: staff.admin)
        #expect(overview.missingRecordsFen == 120 && overview.decisions.isEmpty)
        #expect(await code { try await suspense.overview(actor: staff.clerk) } == .forbidden)
        func decide(_ request: SuspenseService.DecisionRequest) async -> CitizenCardError.Code? {
            await code { try await suspense.decide(request, actor: staff.admin) }
        }
        #expect(
            await code {
                try await suspense.decide(
                    .init(
                        source: .missingRecords, outcome: .unclaimedIncome, amountFen: 10, decisionReference: "x",
                        reason: "y"),
                    actor: staff.clerk)
            } == .forbidden)
        #expect(
            await decide(
                .init(
                    source: .missingRecords, outcome: .merchant, amountFen: 50, decisionReference: "D-1",
                    reason: "found")) == .invalidField)
        #expect(
            await decide(
                .init(
                    source: .missingRecords, outcome: .merchant, amountFen: 500, merchantId: bus.merchant.id,
                    decisionReference: "D-1", reason: "found")) != nil, "more than the account holds")
        #expect(
            await decide(
                .init(
                    source: .missingRecords, outcome: .unclaimedIncome, amountFen: 10, decisionReference: " ",
                    reason: "y")) == .invalidField)
        let decision = try await suspense.decide(
            .init(
                source: .missingRecords, outcome: .merchant, amountFen: 120, merchantId: bus.merchant.id,
                decisionReference: "中心决定 2026-07", reason: "the bus company showed the lost ride"),
            actor: staff.admin)
        #expect(decision.amountFen == 120 && decision.merchantID == bus.merchant.id)
        #expect(try await balance(.missingRecords) == 0)
        #expect(try await balance(.merchantPayable(bus.merchant.id)) >= 120)

        // A refund nobody claims: after three years the center may take it to income.
        let (resident, other) = try await fixtures.activeCard()
        var otherChip = try fixtures.chip(for: other)
        try await fixtures.load(&otherChip, card: other, fen: 700)
        _ = try await cancel(other, resident)
        world.clock.advance(days: 7)
        #expect(try await closures.closeDue() == 1)
        let unclaimed = SuspenseService.DecisionRequest(
            source: .unclaimedRefund, outcome: .unclaimedIncome, cardId: other.id, decisionReference: "中心决定 2029-01",
            reason: "not collected in three years")
        #expect(await decide(unclaimed) == .transitionNotAllowed, "not three years yet")
        world.clock.advance(days: SuspenseService.unclaimedAfterDays)
        #expect(try await suspense.overview(actor: staff.auditor).unclaimedRefunds.map(\.cardID) == [other.id])
        #expect(
            await decide(
                .init(
                    source: .unclaimedRefund, outcome: .merchant, cardId: other.id, decisionReference: "x", reason: "y")
            ) == .invalidField)
        let taken = try await suspense.decide(unclaimed, actor: staff.admin)
        #expect(taken.amountFen == 700)
        #expect(await decide(unclaimed) == .transitionNotAllowed, "once")
        let closure = try await closures.closure(of: other.id, actor: staff.clerk)
        #expect(closure.status == .settled && closure.settlement == "unclaimed:\(taken.id)")
        #expect(try await balance(.unclaimedIncome) == 700)
        #expect(try await balance(.refundsPayable) == 0)
        let audit = try await world.store.auditEntries(AuditFilter(action: "suspense.decide"), limit: 100)
        #expect(audit.count == 2)
        #expect(try await suspense.overview(actor: staff.admin).decisions.map(\.id) == [taken.id, decision.id])
        #expect(try await ledgerSumsToZero())
    }

    @Test(
        "renewal is offered: the cards expiring soon per outlet; a lost card near expiry is renewed; the portal says so"
    )
    func renewalOffered() async throws {
        let (resident, card) = try await fixtures.activeCard()
        world.clock.advance(seconds: 43_200)
        let (other, later) = try await fixtures.activeCard()
        let expiresAt = try #require(card.expiresAt)
        world.clock.set(expiresAt.adding(days: -100))
        #expect(
            try await cards.expiringCards(withinDays: 90, outletID: nil, after: nil, limit: 10, actor: staff.clerk)
                .isEmpty)
        world.clock.set(expiresAt.adding(days: -89))
        let soon = try await cards.expiringCards(
            withinDays: 90, outletID: nil, after: nil, limit: 10, actor: staff.clerk)
        #expect(soon.map(\.id) == [card.id, later.id])
        let page = try await cards.expiringCards(
            withinDays: 90, outletID: nil, after: card.id, limit: 10, actor: staff.clerk)
        #expect(page.map(\.id) == [later.id])
        #expect(
            await code {
                try await cards.expiringCards(withinDays: 0, outletID: nil, after: nil, limit: 10, actor: staff.clerk)
            } == .invalidField)

        // The holder's portal says renewal is due.
        let portal = PortalService(world.env)
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: "246813", identity: fixtures.identity(resident), actor: staff.clerk)
        let session = try await portal.login(cardNumber: card.number, password: "246813")
        let overview = try await portal.overview(try await portal.authenticate(token: session.token))
        #expect(overview.cards.first { $0.id == card.id }?.renewalOpensAt == expiresAt.adding(days: -90))

        // A lost card in the renewal window is renewed rather than reissued.
        _ = try await cards.reportWrittenLoss(later.id, identity: fixtures.identity(other), actor: staff.clerk)
        let renewal = try await cards.renew(later.id, .init(identity: fixtures.identity(other)), actor: staff.clerk)
        #expect(renewal.card.state == .lost && renewal.newCard?.kind == .renewal)
        let left = try await cards.expiringCards(
            withinDays: 90, outletID: nil, after: nil, limit: 10, actor: staff.clerk)
        #expect(left.map(\.id) == [card.id], "a card with its new card in progress is no longer offered")
        let newCard = try #require(renewal.newCard)
        _ = try await fixtures.produceAndDeliver(newCard)
        _ = try await cards.issue(newCard.id, identity: fixtures.identity(other), actor: staff.clerk)
        #expect(try await cards.card(later.id, actor: staff.clerk).state == .replaced)
    }

    @Test("a NUL, a control character or a huge text in a payee or a decision is refused; nothing is paid or moved")
    func hostileText() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 900)
        _ = try await cancel(card, resident)
        world.clock.advance(days: 7)
        #expect(try await closures.closeDue() == 1)
        var died = RegistryService.Correction(reason: "death registered")
        died.lifeStatus = .deceased
        _ = try await fixtures.registry.correct(resident.person.id, died, actor: staff.clerk)
        let heir = fixtures.newIDNumber()
        for (name, document) in [
            ("李\u{0}四", "公证书 001"), ("李\u{7}四", "公证书 001"), (String(repeating: "李", count: 51), "公证书 001"),
            ("李四", "公证书\u{0}001"), ("李四", "公证书\n001"), ("李四", String(repeating: "x", count: 101)),
        ] {
            let payout = PurseClosureService.Payout(
                channel: "cash",
                payee: .init(
                    kind: .heir, name: name, idNumber: heir, documentChecked: true, documentReference: document))
            #expect(await code { try await closures.payOut(card.id, payout, actor: staff.clerk) } == .invalidField)
        }
        let account = PurseClosureService.BankAccount(bankName: "银行\u{0}", accountNumber: "62220212345678")
        let bank = PurseClosureService.Payout(
            channel: "bank_transfer",
            payee: .init(kind: .heir, name: "李四", idNumber: heir, documentChecked: true, documentReference: "公证书"),
            bankAccount: account)
        #expect(await code { try await closures.payOut(card.id, bank, actor: staff.clerk) } == .invalidField)
        #expect(try await balance(.refundsPayable) == 900)
        let suspense = SuspenseService(world.env)
        for (reference, reason) in [
            ("D\u{0}1", "ok"), ("D-1", "bad\u{1B}[31m"), (String(repeating: "D", count: 101), "ok"),
        ] {
            #expect(
                await code {
                    try await suspense.decide(
                        .init(
                            source: .unclaimedRefund, outcome: .unclaimedIncome, cardId: card.id,
                            decisionReference: reference, reason: reason), actor: staff.admin)
                } == .invalidField)
        }
        #expect(try await closures.closure(of: card.id, actor: staff.clerk).status == .due)
    }
}

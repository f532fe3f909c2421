@testable import CardCrypto
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import SmartCard
import Storage
import Testing

/// The card lifecycle through the use cases, on a real store, with a moving clock.
@Suite("Card lifecycle use cases")
struct LifecycleServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var cards: CardService { fixtures.cards }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    @Test("a first application is free, gets a receipt, and waits for verification")
    func firstApplication() async throws {
        let resident = try await fixtures.resident()
        let result = try await cards.apply(.init(personId: resident.person.id, expectedFeeFen: 0), actor: staff.clerk)
        #expect(result.card.state == .applied)
        #expect(result.card.outletId == staff.outlet.id)
        #expect(Luhn.isValid(result.card.number))
        #expect(result.card.asn.count == 20)
        let receipt = try #require(result.receipt)
        #expect(receipt.item == .firstCard && receipt.amount == .zero && receipt.paymentMethod == .free)
        #expect(receipt.number.hasPrefix("RDH01-"))
        #expect(try await cards.receipt(receipt.id, actor: staff.clerk) == receipt)
        await expectError(.wrongOutlet) { try await cards.receipt(receipt.id, actor: staff.otherClerk) }
        let events = try await cards.events(of: result.card.id, actor: staff.clerk)
        #expect(events.map(\.action) == [.create])
        #expect(events.first?.receiptID == receipt.id)
    }

    @Test("one application and one held card per person (R-12)")
    func oneCardPerPerson() async throws {
        let (resident, _) = try await fixtures.application()
        await expectError(.applicationExists) {
            try await cards.apply(.init(personId: resident.person.id), actor: staff.clerk)
        }
        let (holder, _) = try await fixtures.activeCard()
        await expectError(.liveCardExists) {
            try await cards.apply(.init(personId: holder.person.id), actor: staff.clerk)
        }
    }

    @Test("an application needs an eligible, living person with a portrait (R-03, R-10)")
    func applicationPreconditions() async throws {
        let visitor = try await fixtures.resident(household: .nonlocal, insured: false)
        await expectError(.notEligible) {
            try await cards.apply(.init(personId: visitor.person.id), actor: staff.clerk)
        }
        let noPhoto = try await fixtures.resident(photo: false)
        await expectError(.photoRequired) {
            try await cards.apply(.init(personId: noPhoto.person.id), actor: staff.clerk)
        }
        let insured = try await fixtures.resident(household: .nonlocal, insured: true)
        #expect(try await cards.apply(.init(personId: insured.person.id), actor: staff.clerk).card.state == .applied)
        var died = RegistryService.Correction(reason: "death registered by civil affairs")
        died.lifeStatus = .deceased
        let deceased = try await fixtures.resident()
        _ = try await fixtures.registry.correct(deceased.person.id, died, actor: staff.clerk)
        await expectError(.personDeceased) {
            try await cards.apply(.init(personId: deceased.person.id), actor: staff.clerk)
        }
        #expect(try await world.store.cards(personID: visitor.person.id).isEmpty)
    }

    @Test("a rule the city adds makes more people eligible from its effective date (R-03)")
    func cityAddsRule() async throws {
        let visitor = try await fixtures.resident(household: .nonlocal, insured: false)
        let admin = AdministrationService(world.env)
        let today = world.clock.now().calendarDate()
        let tomorrow = CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 1)
        _ = try await admin.addRule(
            .init(
                code: "nonlocal-resident-permit", title: "Residence permit holders", titleZh: "持居住证人员",
                criteria: [.household(.nonlocal)], effectiveFrom: tomorrow, effectiveUntil: nil), actor: staff.admin)
        #expect(try await fixtures.registry.eligibility(visitor.person.id, actor: staff.clerk).eligible == false)
        let yesterday = CalendarDate(daysSinceEpoch: today.daysSinceEpoch - 1)
        await expectError(.invalidField) {
            try await admin.addRule(
                .init(
                    code: "backdated", title: "x", titleZh: "x", criteria: [.household(.nonlocal)],
                    effectiveFrom: yesterday), actor: staff.admin)
        }
        let rules = try await admin.eligibilityRules(actor: staff.admin)
        let local = try #require(rules.first { $0.code == "local-household" })
        await expectError(.invalidField) {
            try await admin.endRule(local.id, effectiveUntil: yesterday, actor: staff.admin)
        }
        world.clock.advance(days: 1)
        let decision = try await fixtures.registry.eligibility(visitor.person.id, actor: staff.clerk)
        #expect(decision.eligible && decision.matchedRule == "nonlocal-resident-permit")
    }

    @Test("verification: a rejection says why; only the outlet's supervisor or the center verifies")
    func verification() async throws {
        let (_, card) = try await fixtures.application()
        await expectError(.forbidden) {
            try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.clerk)
        }
        await expectError(.wrongOutlet) {
            try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.otherSupervisor)
        }
        await expectError(.invalidField) {
            try await cards.verify(card.id, decision: .reject, reason: "  ", actor: staff.supervisor)
        }
        let rejected = try await cards.verify(card.id, decision: .reject, reason: " 照片不清晰 ", actor: staff.supervisor)
        #expect(rejected.card.state == .rejected && rejected.card.note == "照片不清晰")
        await expectError(.transitionNotAllowed) {
            try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.admin)
        }
    }

    @Test("personalisation: each chip gets its ASN, data files and wrapped diversified keys; the made card works")
    func chipPersonalisation() async throws {
        let (a, cardA) = try await fixtures.application()
        _ = try await cards.verify(cardA.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let batch = try await fixtures.production.createBatch(.init(), actor: staff.admin)
        let file = try await fixtures.production.personalisationFile(batch.batch.id, actor: staff.admin)
        let chip = try #require(file.records.first { $0.cardNumber == cardA.number }).chip
        #expect(chip.asn == cardA.asn && chip.keyVersion == 1 && chip.algorithmID == 0)
        #expect(chip.holder.name == a.name && chip.holder.socialSecurityNumber == a.idNumber)
        #expect(chip.holder.cardSerialNumber == cardA.number && chip.holder.expiryDate.hasPrefix("2036"))
        let keyNames: Set = ["load", "purchase", "tac", "applicationMaintenance", "pin", "internalAuthentication"]
        #expect(Set(chip.keys.keys) == keyNames)
        // Every field of the record the chip has a place for: sex, birth date and region
        // from the ID number; the bank card number empty until a partner bank issues one.
        let id = try ResidentID.parse(a.idNumber, regions: nil).get()
        #expect(chip.holder.sexCode == (id.sex == .male ? "1" : "2"))
        #expect(chip.holder.birthDate == id.birthDate.iso8601.replacingOccurrences(of: "-", with: ""))
        #expect(chip.holder.regionCode == String(a.idNumber.prefix(6)) && chip.holder.bankCardNumber.isEmpty)
        #expect(!chip.holder.photoReference.isEmpty, "the photo store id of the portrait")
        // The keys travel wrapped: the file never holds a card key or a master key in clear.
        let keyring = world.env.issuerKeys
        let asn = try ApplicationSerialNumber(hex: cardA.asn)
        let json = String(decoding: try JSONEncoder().encode(file), as: UTF8.self)
        for type in [MasterKeyType.load, .purchase, .tac] {
            let key = try keyring.cardKey(type, version: 1, asn: asn, algorithm: TripleDESPurse())
            #expect(!json.contains(key.description) && !json.contains(Hex.encode(key.bytes)))
        }
        #expect(!json.contains(Hex.encode(IssuerKeyring.testKey.bytes)))
        // The factory makes the card with the transport key; the wrong key is refused.
        let transport = try keyring.masterKey(.transport, version: 1)
        #expect(throws: SoftwareCardError.self) {
            try SoftwareCard(personalisation: chip, transportKey: SecretKey(hex: "00112233445566778899AABBCCDDEEFF"))
        }
        var card = try SoftwareCard(personalisation: chip, transportKey: transport)
        #expect(card.asn == asn.bytes)
        // The center's host authorises a load on it and checks its TAC with the master keys.
        _ = card.process([0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00])
        let terminal = try TerminalID(hex: "330900000001")
        let answer = card.process([0x80, 0x50, 0x00, 0x02, 0x0B, 0x01, 0, 0, 0x03, 0xE8] + terminal.bytes + [0x10])
        #expect(answer.suffix(2) == [0x90, 0x00])
        func number(_ range: Range<Int>) -> UInt32 { answer[range].reduce(0) { $0 << 8 | UInt32($1) } }
        let when = try TransactionDateTime(digits: "20261129120000")
        let request = LoadAuthorizationRequest(
            asn: asn, keyVersion: answer[6], algorithmID: answer[7], random: number(8..<12), onlineCounter: 0,
            balanceBeforeFen: 0, amountFen: 1000, type: .purseLoad, terminal: terminal, dateTime: when,
            mac1: try MAC4(bytes: answer[12..<16]))
        let mac2 = try keyring.authorizeLoad(request)
        let credit = card.process([0x80, 0x52, 0x00, 0x00, 0x0B] + when.bcd + mac2.bytes + [0x04])
        #expect(credit.suffix(2) == [0x90, 0x00])
        try keyring.verifyLoadTAC(MAC4(bytes: credit.prefix(4)), for: request)
        #expect(card.balance() == 1000)
        // Offline: a PSAM with the master internal-authentication key proves the card genuine.
        var checker = PurchaseTerminal(
            psam: PSAM(
                terminalID: terminal, serialNumber: [0x33, 0x09, 0, 0, 0, 0, 0, 0x01],
                masterPurchaseKey: try keyring.masterKey(.purchase, version: 1),
                masterAuthenticationKey: try keyring.masterKey(.internalAuthentication, version: 1)))
        #expect(try checker.authenticate(on: &card).asn == asn.bytes)
    }

    @Test("production: the batch, the personalisation file, a failed card back in the queue, delivery (R-11)")
    func production() async throws {
        let (a, cardA) = try await fixtures.application()
        let (_, cardB) = try await fixtures.application()
        for card in [cardA, cardB] {
            _ = try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.supervisor)
        }
        let production = fixtures.production
        await expectError(.forbidden) { try await production.createBatch(.init(), actor: staff.clerk) }
        let batch = try await production.createBatch(.init(), actor: staff.admin)
        #expect(batch.cards.count == 2 && batch.cards.allSatisfy { $0.state == .inProduction })
        let file = try await production.personalisationFile(batch.batch.id, actor: staff.admin)
        let recordA = try #require(file.records.first { $0.cardNumber == cardA.number })
        #expect(recordA.name == a.name && recordA.socialSecurityNumber == a.idNumber && recordA.outletCode == "DH01")
        #expect(Data(base64Encoded: recordA.photoBase64) == Fixtures.png)
        let reads = try await world.store.auditEntries(AuditFilter(action: "person.personalisation"), limit: 10)
        #expect(reads.count == 2, "every person in the file is an audited read")
        await expectError(.invalidField) {
            try await production.recordResults(
                batch.batch.id, .init(results: [.init(cardNumber: "3309999999999", outcome: .ok)]), actor: staff.admin)
        }
        await expectError(.batchNotOpen) { try await production.deliver(batch.batch.id, actor: staff.admin) }
        let partial = try await production.recordResults(
            batch.batch.id, .init(results: [.init(cardNumber: cardB.number, outcome: .failed, reason: "chip defect")]),
            actor: staff.admin)
        #expect(partial.batch.state == .exported)
        #expect(try await cards.card(cardB.id, actor: staff.admin).state == .approved)
        let done = try await production.recordResults(
            batch.batch.id, .init(results: [.init(cardNumber: cardA.number, outcome: .ok)]), actor: staff.admin)
        #expect(done.batch.state == .produced)
        let delivered = try await production.deliver(batch.batch.id, actor: staff.admin)
        #expect(delivered.batch.state == .delivered)
        #expect(try await cards.card(cardA.id, actor: staff.admin).state == .delivered)
        let (_, cardC) = try await fixtures.application()
        _ = try await cards.verify(cardC.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let chosen = try await production.createBatch(.init(cardIds: [cardC.id]), actor: staff.admin)
        #expect(chosen.cards.map(\.id) == [cardC.id], "a batch of chosen cards")
        await expectError(.invalidField) {
            try await production.createBatch(.init(cardIds: [cardA.id]), actor: staff.admin)
        }
        let next = try await production.createBatch(.init(), actor: staff.admin)
        #expect(next.cards.map(\.id) == [cardB.id], "the failed card goes into the next batch")
    }

    @Test("issuing checks the outlet and the holder's identity document (R-12)")
    func issuing() async throws {
        let (resident, card) = try await fixtures.application()
        _ = try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.supervisor)
        _ = try await fixtures.produceAndDeliver(card)
        let other = try await fixtures.resident()
        await expectError(.wrongOutlet) {
            try await cards.issue(card.id, identity: fixtures.identity(resident), actor: staff.otherClerk)
        }
        await expectError(.identityMismatch) {
            try await cards.issue(card.id, identity: fixtures.identity(other), actor: staff.clerk)
        }
        await expectError(.invalidField) {
            try await cards.issue(
                card.id, identity: .init(idNumber: resident.idNumber, documentChecked: false), actor: staff.clerk)
        }
        await expectError(.invalidResidentID) {
            try await cards.issue(card.id, identity: .init(idNumber: "123", documentChecked: true), actor: staff.clerk)
        }
        let issued = try await cards.issue(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(issued.card.state == .active && issued.card.usable)
        #expect(issued.card.issuedAt == world.clock.now())
        #expect(issued.card.expiresAt == world.clock.now().adding(years: 10))
    }

    @Test("written loss is effective at once, to the second; withdrawal only before a reissue (R-14, R-15)")
    func writtenLossAndWithdrawal() async throws {
        let (resident, card) = try await fixtures.activeCard()
        world.clock.advance(seconds: 37)
        let lost = try await cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.otherClerk)
        #expect(lost.card.state == .lost && !lost.card.usable)
        #expect(lost.card.loss?.effectiveAt == world.clock.now())
        #expect(lost.card.loss?.kind == .written)
        let back = try await cards.withdrawLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(back.card.state == .active && back.card.loss == nil)
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let reissued = try await cards.reissue(
            card.id, .init(identity: fixtures.identity(resident), expectedFeeFen: 2000), actor: staff.clerk)
        #expect(reissued.card.state == .replaced)
        await expectError(.transitionNotAllowed) {
            try await cards.withdrawLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        }
    }

    @Test("a pre-loss lapses after 5 days unless confirmed in writing, which keeps its effective time (R-14)")
    func preLoss() async throws {
        let (resident, card) = try await fixtures.activeCard()
        await expectError(.identityMismatch) {
            try await cards.reportPreLoss(
                card.id, idNumber: fixtures.newIDNumber(), channel: .phone, actor: staff.clerk)
        }
        let reported = try await cards.reportPreLoss(
            card.id, idNumber: resident.idNumber, channel: .phone, actor: staff.clerk)
        let effective = world.clock.now()
        #expect(reported.card.state == .preLost)
        #expect(reported.card.loss?.preLossExpiresAt == effective.adding(days: 5))
        world.clock.advance(days: 5)
        world.clock.advance(seconds: -1)
        #expect(try await cards.recordDueTransitions() == 0)
        world.clock.advance(seconds: 1)
        #expect(try await cards.recordDueTransitions() == 1)
        let lapsed = try await cards.card(card.id, actor: staff.clerk)
        #expect(lapsed.state == .active)
        let events = try await cards.events(of: card.id, actor: staff.clerk)
        #expect(
            events.last?.action == .expirePreLoss && events.last?.at == effective.adding(days: 5)
                && events.last?.actor == "system")

        // Confirmed in writing before it lapses: effective from the pre-loss.
        let again = try await cards.reportPreLoss(
            card.id, idNumber: resident.idNumber, channel: .selfService, actor: staff.clerk)
        let preLossTime = try #require(again.card.loss?.effectiveAt)
        world.clock.advance(days: 2)
        let confirmed = try await cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(confirmed.card.state == .lost)
        #expect(confirmed.card.loss?.effectiveAt == preLossTime)
        #expect(confirmed.card.loss?.writtenAt == world.clock.now())
        world.clock.advance(days: 10)
        #expect(try await cards.recordDueTransitions() == 0, "a written loss never lapses")
    }

    @Test("a lapsed pre-loss is recorded before the next action on the card")
    func lapsedPreLossBeforeAction() async throws {
        let (resident, card) = try await fixtures.activeCard()
        _ = try await cards.reportPreLoss(card.id, idNumber: resident.idNumber, channel: .phone, actor: staff.clerk)
        world.clock.advance(days: 6)
        // Without the sweep: the written loss finds an active card again and is a fresh loss.
        let lost = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(lost.card.loss?.effectiveAt == world.clock.now())
        let actions = try await cards.events(of: card.id, actor: staff.clerk).map(\.action)
        #expect(actions.suffix(3) == [.reportPreLoss, .expirePreLoss, .reportWrittenLoss])
    }

    @Test("reissue charges the schedule's fee with a receipt; the new card supersedes nothing when issued (R-16, R-19)")
    func reissue() async throws {
        let (resident, card) = try await fixtures.card(in: .lost)
        await expectError(.feeMismatch) {
            try await cards.reissue(
                card.id, .init(identity: fixtures.identity(resident), expectedFeeFen: 0), actor: staff.clerk)
        }
        #expect(try await cards.card(card.id, actor: staff.clerk).state == .lost, "a refused fee writes nothing")
        let result = try await cards.reissue(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        let newCard = try #require(result.newCard)
        #expect(result.card.state == .replaced && result.card.successorId == newCard.id)
        #expect(newCard.kind == .reissue && newCard.state == .approved && newCard.predecessorId == card.id)
        #expect(result.receipt?.amount == Money(yuan: 20) && result.receipt?.item == .reissue)
        await expectError(.transitionNotAllowed) {
            try await cards.reissue(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        }
        _ = try await fixtures.produceAndDeliver(newCard)
        let issued = try await cards.issue(newCard.id, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(issued.card.state == .active)
        let all = try await world.store.cards(personID: resident.person.id)
        #expect(all.filter { $0.state.slot == .held }.count == 1)
    }

    @Test("replacement keeps the old card usable until the new one is issued (R-13)")
    func replacement() async throws {
        let (resident, card) = try await fixtures.activeCard()
        await expectError(.invalidField) {
            try await cards.replace(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        }
        let result = try await cards.replace(
            card.id, .init(identity: fixtures.identity(resident), reason: .damaged, expectedFeeFen: 2000),
            actor: staff.clerk)
        #expect(result.card.state == .active && result.card.usable && result.card.replacementReason == .damaged)
        let newCard = try #require(result.newCard)
        await expectError(.successorExists) {
            try await cards.replace(
                card.id, .init(identity: fixtures.identity(resident), reason: .damaged), actor: staff.clerk)
        }
        _ = try await fixtures.produceAndDeliver(newCard)
        _ = try await cards.issue(newCard.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let old = try await cards.card(card.id, actor: staff.clerk)
        #expect(old.state == .replaced && old.closedAt == world.clock.now())
        #expect(try await cards.events(of: card.id, actor: staff.clerk).last?.action == .supersede)
    }

    @Test("replacement after a change of name is free under the demo schedule")
    func replacementDataChanged() async throws {
        let (resident, card) = try await fixtures.activeCard()
        var correction = RegistryService.Correction(reason: "name changed (户籍变更)")
        correction.name = "王晓明"
        _ = try await fixtures.registry.correct(resident.person.id, correction, actor: staff.clerk)
        let result = try await cards.replace(
            card.id, .init(identity: fixtures.identity(resident), reason: .dataChanged), actor: staff.clerk)
        #expect(result.receipt?.amount == .zero && result.receipt?.item == .replacementDataChanged)
    }

    @Test("cancellation: death by a close relative after the death is registered; the successor goes too (R-17)")
    func cancellation() async throws {
        let (resident, card) = try await fixtures.activeCard()
        let replaced = try await cards.replace(
            card.id, .init(identity: fixtures.identity(resident), reason: .damaged), actor: staff.clerk)
        let successor = try #require(replaced.newCard)
        let death = CardService.CancellationRequest(
            reason: .death, applicant: .relative, relationship: .child, documentReference: "死亡医学证明 No.330902-2026-0001")
        await expectError(.invalidField) { try await cards.cancel(card.id, death, actor: staff.clerk) }
        await expectError(.relativeRequired) {
            try await cards.cancel(
                card.id,
                .init(
                    reason: .death, applicant: .holder, documentReference: "x", identity: fixtures.identity(resident)),
                actor: staff.clerk)
        }
        await expectError(.transitionNotAllowed) { try await cards.cancel(successor.id, death, actor: staff.clerk) }
        var died = RegistryService.Correction(reason: "death registered")
        died.lifeStatus = .deceased
        _ = try await fixtures.registry.correct(resident.person.id, died, actor: staff.clerk)
        await expectError(.invalidField) {
            try await cards.cancel(
                card.id, .init(reason: .death, applicant: .relative, documentReference: "x"), actor: staff.clerk)
        }
        let cancelled = try await cards.cancel(card.id, death, actor: staff.clerk)
        #expect(cancelled.card.state == .cancelled && cancelled.card.cancellation?.relationship == .child)
        #expect(try await cards.card(successor.id, actor: staff.clerk).state == .cancelled)
        #expect(try await world.store.cards(personID: resident.person.id).allSatisfy { $0.state.slot == .closed })
    }

    @Test("cards expire after 10 years; renewal opens 90 days before (R-18)")
    func expiryAndRenewal() async throws {
        let (resident, card) = try await fixtures.activeCard()
        let expiresAt = try #require(card.expiresAt)
        await expectError(.notYetDue) {
            try await cards.renew(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        }
        world.clock.set(expiresAt.adding(days: -90))
        let renewed = try await cards.renew(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        #expect(renewed.card.state == .active && renewed.newCard?.kind == .renewal && renewed.receipt?.amount == .zero)
        world.clock.set(expiresAt)
        #expect(try await cards.recordDueTransitions() == 1)
        let expired = try await cards.card(card.id, actor: staff.clerk)
        #expect(expired.state == .expired && expired.closedAt == expiresAt)
        // The renewal card is issued after the old one expired: nothing to supersede.
        let newCard = try #require(renewed.newCard)
        _ = try await fixtures.produceAndDeliver(newCard)
        #expect(
            try await cards.issue(newCard.id, identity: fixtures.identity(resident), actor: staff.clerk).card.state
                == .active)
    }

    @Test("an expired card can be renewed")
    func renewExpired() async throws {
        let (resident, card) = try await fixtures.card(in: .expired)
        #expect(card.state == .expired)
        let renewed = try await cards.renew(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        #expect(renewed.card.state == .expired && renewed.newCard?.state == .approved)
    }

    @Test("bulk application by an employer gives a result for every row")
    func bulkApplication() async throws {
        let a = try await fixtures.resident()
        let b = try await fixtures.resident(photo: false)
        let results = try await cards.applyInBulk(
            .init(
                employerCode: "91330900MA2A0001X1", employerName: "舟山港集团",
                idNumbers: [a.idNumber, b.idNumber, "11010519491231002X", "bad"]),
            actor: staff.clerk)
        #expect(results.map(\.row) == [1, 2, 3, 4])
        #expect(results[0].card?.channel.employerName == "舟山港集团")
        #expect(results[1].error == "photo_required")
        #expect(results[2].error == "not_found")
        #expect(results[3].error == "invalid_resident_id")
        #expect(!results.contains { $0.idNumber.contains(a.idNumber) }, "ID numbers come back masked")
    }

    /// Reissue and cancellation of a lost card exclude each other whatever their order (both close
    /// the card), so whichever way the 100 tasks interleave, exactly one may succeed. Actions that
    /// can follow each other (a loss, then a cancellation) would make a second success legitimate.
    @Test("100 concurrent reissues and cancellations of one lost card: exactly one wins")
    func concurrentConflictingOperations() async throws {
        let (resident, card) = try await fixtures.card(in: .lost)
        let identity = fixtures.identity(resident)
        let cards = self.cards
        let clerk = staff.clerk
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask {
                    do {
                        switch index % 2 {
                        case 0: _ = try await cards.reissue(card.id, .init(identity: identity), actor: clerk)
                        default:
                            _ = try await cards.cancel(
                                card.id,
                                .init(
                                    reason: .holderRequest, applicant: .holder, documentReference: "doc",
                                    identity: identity), actor: clerk)
                        }
                        return "ok"
                    } catch let error as CitizenCardError {
                        return error.code.rawValue
                    } catch {
                        return "\(error)"
                    }
                }
            }
            var all: [String] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        #expect(
            outcomes.filter { $0 == "ok" }.count == 1,
            "\(Dictionary(grouping: outcomes, by: { $0 }).mapValues(\.count))")
        #expect(outcomes.allSatisfy { ["ok", "conflict", "transition_not_allowed", "successor_exists"].contains($0) })
        let all = try await world.store.cards(personID: resident.person.id)
        #expect(all.filter { $0.state.slot == .held }.count <= 1)
        #expect(all.filter { $0.state.slot == .pipeline }.count <= 1)
        #expect(try await world.store.verifyAuditChain().isIntact)
    }
}

import BankLink
import BankProtocol
import BankSimulator
import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// The error a use case throws, or nil (a `catch … as` after typed throws crashes Swift 6.3's SILGen).
func failure(_ body: () async throws(CitizenCardError) -> Void) async -> CitizenCardError? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}

/// A partner bank for one test: the bank simulator on a loopback port, registered at the center.
struct TestBank {
    let server: BankSimulatorServer
    let secret: Data
    let code: String
    let bin: String
    let directory = TemporaryDirectory()

    static func start(
        _ world: TestWorld, admin: Actor, code: String = "ICBC", bin: String = "622202", isDefault: Bool = true
    ) async throws -> TestBank {
        let secret = BankSignature.newSecret()
        let directory = TemporaryDirectory()
        let server = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(
                bankCode: code, bin: bin, secret: secret, statePath: directory.file("bank.jsonl").path))
        _ = try await BankService(world.env).register(
            .init(
                code: code, name: "\(code) Zhoushan", bins: [bin], endpoint: server.baseURL, isDefault: isDefault,
                secret: secret.map { String(format: "%02x", $0) }.joined()),
            actor: admin)
        return TestBank(server: server, secret: secret, code: code, bin: bin)
    }

    /// A notice as the bank signs it for the center (or a forger without the secret).
    func signed(
        _ notice: BankMessages.BankNotice, secret: Data? = nil, at time: Int64, path: String? = nil
    ) throws -> BankService.SignedMessage {
        let body = try JSONEncoder().encode(notice)
        let path = path ?? "/api/v1/banks/\(code)/notices"
        let headers = BankSignature(secret: secret ?? self.secret).headers(
            direction: .toCenter, bankCode: code, timestamp: time, method: "POST", path: path, body: body)
        return BankService.SignedMessage(
            bankCodeHeader: headers[0].value, timestamp: headers[1].value, signature: headers[2].value, method: "POST",
            path: path, body: body)
    }
}

/// Partner banks against a real bank on loopback (issue 20, docs/banks.md): accounts at
/// production, held cards, notices in order and once, a bank that is down, parking and retry,
/// notices from the bank, reconciliation.
@Suite("Partner banks", .serialized)
struct BankServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var banks: BankService { BankService(world.env) }
    var cards: CardService { CardService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
        // The bank checks signatures against its own clock: the center's starts at the real time.
        world.clock.set(Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970)))
    }

    /// An environment whose banks give up fast.
    func quick(maxAttempts: Int64 = 50) -> ServiceEnvironment {
        var env = world.env
        env.bankPolicy = BankPolicy(timeoutSeconds: 2, maxAttempts: maxAttempts, maxBackoffSeconds: 2)
        return env
    }

    /// Sends passes until nothing is due (at most `passes`).
    @discardableResult
    func drain(
        _ env: ServiceEnvironment? = nil, breaker: BankBreaker = BankBreaker(), passes: Int = 20
    ) async throws
        -> BankService.SendReport
    {
        var total = BankService.SendReport()
        for _ in 0..<passes {
            let report = try await BankService(env ?? world.env).sendDue(breaker: breaker)
            total.delivered += report.delivered
            total.failed += report.failed
            total.parked += report.parked
            if report.sent == 0 { break }
        }
        return total
    }

    func outbox(_ card: CardView) async throws -> [BankNotice] {
        try await world.store.bankNotices(cardID: card.id)
    }

    @Test("production opens the account: a checked number on the chip and in the personalisation file")
    func accountAtProduction() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, applied) = try await fixtures.application()
        _ = try await cards.verify(applied.id, decision: .approve, reason: nil, actor: staff.supervisor)
        let batch = try await ProductionService(world.env).createBatch(.init(cardIds: [applied.id]), actor: staff.admin)
        #expect(batch.cards.count == 1)
        #expect(batch.heldByBank == nil)
        let file = try await ProductionService(world.env).personalisationFile(batch.batch.id, actor: staff.admin)
        let record = try #require(file.records.first)
        let number = try #require(record.bankCardNumber)
        #expect(record.bankCode == "ICBC")
        #expect(number.hasPrefix(bank.bin) && number.utf8.count == 19 && BankCardNumber.isWellFormed(number))
        #expect(record.chip.holder.bankCardNumber == number)
        let atBank = bank.server.snapshot().accounts
        #expect(atBank.map(\.accountNumber) == [number])
        #expect(atBank.first?.cardNumber == applied.number)
        let account = try #require(try await banks.account(cardID: applied.id, actor: staff.admin))
        #expect(account.state == .open)
        #expect(account.maskedNumber == BankCardNumber.masked(number))
        // The holder's name and ID number went to the bank: an audited disclosure.
        let disclosed = try await world.store.auditEntries(AuditFilter(action: "person.bank_disclosure"), limit: 10)
        #expect(disclosed.count == 1)
        #expect(disclosed.first?.draft.personID == resident.person.id)
        #expect(!world.logs.text.contains(number) && !world.logs.text.contains(resident.idNumber))
    }

    @Test("a refusal or a silent bank holds that card out of the batch; the rest goes on; the next batch asks again")
    func heldCards() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (refusedResident, refused) = try await fixtures.application()
        let (_, accepted) = try await fixtures.application()
        for card in [refused, accepted] {
            _ = try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.supervisor)
        }
        bank.server.setRefused([refusedResident.idNumber])
        let production = ProductionService(world.env)
        let batch = try await production.createBatch(.init(cardIds: [refused.id, accepted.id]), actor: staff.admin)
        #expect(batch.cards.map(\.id) == [accepted.id])
        let held = try #require(batch.heldByBank?.first)
        #expect(held.cardId == refused.id)
        #expect(held.reason.hasPrefix("refused by the bank"))
        #expect(try await cards.card(refused.id, actor: staff.admin).state == .approved)
        #expect(try await banks.account(cardID: refused.id, actor: staff.admin)?.state == .held)

        // The bank is gone: every card is held, no batch is made, the reason says so.
        bank.server.setRefused([])
        await bank.server.stop()
        if let error = await failure({ () async throws(CitizenCardError) in
            _ = try await ProductionService(quick()).createBatch(.init(cardIds: [refused.id]), actor: staff.admin)
        }) {
            #expect(error.code == .batchNotOpen)
            #expect(error.detail?.contains("no answer from the bank") == true)
        } else {
            Issue.record("a batch was made with every card held")
        }
        #expect(try await banks.account(cardID: refused.id, actor: staff.admin)?.reason?.contains("no answer") == true)
    }

    @Test("a bank that is not active is refused at application with bank_not_active, before anything is written")
    func inactiveBank() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin, isDefault: false)
        defer { Task { await bank.server.stop() } }
        let tomorrow = world.clock.now().adding(days: 2).calendarDate(offsetSeconds: 8 * 3600).iso8601
        _ = try await banks.register(
            .init(
                code: "BOC", name: "Bank of China", bins: ["621660"], endpoint: "http://127.0.0.1:9",
                activeFrom: tomorrow),
            actor: staff.admin)
        let resident = try await fixtures.resident()
        for code in ["BOC", "NOPE", "icbc"] {
            if let error = await failure({ () async throws(CitizenCardError) in
                _ = try await cards.apply(.init(personId: resident.person.id, bankCode: code), actor: staff.clerk)
            }) {
                #expect(error.code == .bankNotActive)
                #expect(error.field == "bankCode")
            } else {
                Issue.record("\(code) was accepted")
            }
        }
        #expect(try await world.store.cards(personID: resident.person.id).isEmpty)
        // Named, it is used; without a default, an application names none and has no account.
        let named = try await cards.apply(.init(personId: resident.person.id, bankCode: "ICBC"), actor: staff.clerk)
        #expect(try await banks.account(cardID: named.card.id, actor: staff.admin)?.bankCode == "ICBC")
        let (_, plain) = try await fixtures.application()
        #expect(try await banks.account(cardID: plain.id, actor: staff.admin) == nil)
    }

    @Test("bad bank registrations are refused with the field named; a code is registered once")
    func registrationRules() async throws {
        let valid = BankService.BankRegistration(
            code: "ICBC", name: "ICBC", bins: ["622202"], endpoint: "https://bank.example/cc")
        var cases: [(BankService.BankRegistration, String)] = []
        var r = valid
        r.code = "icbc"
        cases.append((r, "code"))
        r = valid
        r.bins = ["62220"]
        cases.append((r, "bins"))
        r.bins = ["622202", "622202"]
        cases.append((r, "bins"))
        r = valid
        r.endpoint = "ftp://bank.example"
        cases.append((r, "endpoint"))
        r.endpoint = "https://user:pw@bank.example"
        cases.append((r, "endpoint"))
        r = valid
        r.secret = "abcd"
        cases.append((r, "secret"))
        r = valid
        r.name = "ICBC\u{202E}"
        cases.append((r, "name"))
        r = valid
        r.activeUntil = "2000-01-01"
        cases.append((r, "activeUntil"))
        for (request, field) in cases {
            if let error = await failure({ () async throws(CitizenCardError) in
                _ = try await banks.register(request, actor: staff.admin)
            }) {
                #expect(error.field == field, "\(error)")
            } else {
                Issue.record("accepted a bad \(field)")
            }
        }
        let registered = try await banks.register(valid, actor: staff.admin)
        #expect(registered.secret?.utf8.count == 64)
        if let error = await failure({ () async throws(CitizenCardError) in
            _ = try await banks.register(valid, actor: staff.admin)
        }) {
            #expect(error.code == .conflict)
        } else {
            Issue.record("a code was registered twice")
        }
        if let error = await failure({ () async throws(CitizenCardError) in
            _ = try await banks.register(valid, actor: staff.clerk)
        }) {
            #expect(error.code == .forbidden)
        } else {
            Issue.record("a clerk registered a bank")
        }
        // The secret is never shown again, nor stored in clear.
        let listed = try await banks.banks(actor: staff.auditor)
        #expect(listed.count == 1)
        let stored = try #require(try await world.store.bank(code: "ICBC"))
        #expect(!stored.sealedSecret.contains(Data(registered.secret!.utf8)))
    }

    @Test("a card's notices reach the bank once each, in order, with the effective second of the loss")
    func noticesInOrder() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await fixtures.activeCard()
        let identity = fixtures.identity(resident)
        let lost = try await cards.reportWrittenLoss(card.id, identity: identity, actor: staff.clerk)
        world.clock.advance(seconds: 5)
        _ = try await cards.withdrawLoss(card.id, identity: identity, actor: staff.clerk)
        _ = try await cards.reportPreLoss(card.id, idNumber: resident.idNumber, channel: .phone, actor: staff.clerk)
        let queued = try await outbox(card)
        #expect(queued.map(\.kind) == ["loss_written", "loss_withdrawn", "loss_pre"])
        #expect(queued.map(\.sequence) == [1, 2, 3])
        #expect(queued.allSatisfy { $0.state == .pending && $0.bankCode == "ICBC" })
        // One pass sends only the first of a card; the next waits for it.
        let first = try await banks.sendDue(breaker: BankBreaker())
        #expect(first.delivered == 1)
        try await drain()
        let atBank = bank.server.snapshot()
        #expect(atBank.notices.map(\.kind) == ["loss_written", "loss_withdrawn", "loss_pre"])
        #expect(atBank.notices.map(\.sequence) == [1, 2, 3])
        #expect(atBank.notices.allSatisfy { $0.received == 1 })
        #expect(atBank.outOfOrder == 0 && atBank.rejected == 0)
        #expect(try await outbox(card).allSatisfy { $0.state == .delivered })
        let payload = try JSONSerialization.jsonObject(with: queued[0].payload) as? [String: Any]
        #expect((payload?["effectiveAt"] as? Int).map(Int64.init) == lost.card.loss?.effectiveAt.secondsSinceEpoch)
        #expect(payload?["accountNumber"] == nil, "the account number is not stored in the outbox")
    }

    @Test("successor cards and cancellation are notices; a card without an account makes none")
    func successorsAndCancellation() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await fixtures.activeCard()
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        let reissued = try await cards.reissue(
            card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        let queued = try await outbox(card)
        #expect(queued.map(\.kind) == ["loss_written", "reissue"])
        let payload = try JSONSerialization.jsonObject(with: queued[1].payload) as? [String: Any]
        #expect(payload?["successorCardNumber"] as? String == reissued.newCard?.number)
        // The new card asks the same bank for its account at production.
        let successor = try #require(reissued.newCard)
        #expect(try await banks.account(cardID: successor.id, actor: staff.admin)?.bankCode == "ICBC")
        try await drain()
        #expect(bank.server.snapshot().notices.map(\.kind) == ["loss_written", "reissue"])

        await bank.server.stop()
        let other = try await TestBank.start(world, admin: staff.admin, code: "BOC", bin: "621660", isDefault: false)
        defer { Task { await other.server.stop() } }
        // No default bank now: a new card has no account and its loss makes no notice.
        _ = try await banks.change("ICBC", .init(isDefault: false), actor: staff.admin)
        let (plainResident, plain) = try await fixtures.activeCard()
        _ = try await cards.reportWrittenLoss(plain.id, identity: fixtures.identity(plainResident), actor: staff.clerk)
        #expect(try await outbox(plain).isEmpty)
    }

    @Test("a bank that answers 500, then drops connections, then comes back gets every notice once, in order")
    func bankDownThenBack() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        var holders: [(Fixtures.Resident, CardView)] = []
        for _ in 0..<3 { holders.append(try await fixtures.activeCard()) }
        let env = quick()
        let breaker = BankBreaker()
        bank.server.setMode(.error)
        for (resident, card) in holders {
            _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        }
        let failing = try await BankService(env).sendDue(breaker: breaker)
        #expect(failing.delivered == 0 && failing.failed == 3)
        // While it is down, one probe at a time, after the wait.
        world.clock.advance(seconds: 3)
        bank.server.setMode(.drop)
        let probe = try await BankService(env).sendDue(breaker: breaker)
        #expect(probe.failed == 1)
        for (resident, card) in holders {
            _ = try await cards.withdrawLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        }
        world.clock.advance(seconds: 3)
        bank.server.setMode(.normal)
        try await drain(env, breaker: breaker)
        let atBank = bank.server.snapshot()
        #expect(atBank.notices.count == 6)
        #expect(atBank.notices.allSatisfy { $0.received == 1 })
        #expect(atBank.outOfOrder == 0)
        for (_, card) in holders {
            #expect(
                atBank.notices.filter { $0.cardNumber == card.number }.map(\.kind) == [
                    "loss_written", "loss_withdrawn",
                ])
        }
    }

    @Test("after the limit a notice is parked, the card's later notices wait behind it; staff retry and both go")
    func parkAndRetry() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await fixtures.activeCard()
        let env = quick(maxAttempts: 2)
        let breaker = BankBreaker()
        bank.server.setMode(.error)
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        _ = try await cards.withdrawLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        for _ in 0..<3 {
            _ = try await BankService(env).sendDue(breaker: breaker)
            world.clock.advance(seconds: 3)
        }
        var queued = try await outbox(card)
        #expect(queued.map(\.state) == [.parked, .pending])
        #expect(queued[0].lastError == "HTTP 500")
        let parked = try await banks.notices(bankCode: "ICBC", state: .parked, limit: 10, actor: staff.auditor)
        #expect(parked.map(\.id) == [queued[0].id])
        bank.server.setMode(.normal)
        try await drain(env, breaker: breaker)
        #expect(bank.server.snapshot().notices.isEmpty, "nothing overtakes a parked notice")
        if let error = await failure({ () async throws(CitizenCardError) in
            _ = try await banks.retry(noticeID: queued[0].id, actor: staff.auditor)
        }) {
            #expect(error.code == .forbidden)
        } else {
            Issue.record("an auditor retried")
        }
        _ = try await banks.retry(noticeID: queued[0].id, actor: staff.admin)
        try await drain(env, breaker: breaker)
        queued = try await outbox(card)
        #expect(queued.map(\.state) == [.delivered, .delivered])
        #expect(bank.server.snapshot().notices.map(\.kind) == ["loss_written", "loss_withdrawn"])
        let retried = try await world.store.auditEntries(AuditFilter(action: "bank.notice_retry"), limit: 10)
        #expect(retried.count == 1)
    }

    @Test("a notice sent but not recorded (a crash in between) is sent again and acted on once")
    func resentAfterCrash() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await fixtures.activeCard()
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        // The first send reaches the bank, as if the server died before recording the answer.
        bank.server.setMode(.slow, delayMs: 3000)
        _ = try await BankService(quick()).sendDue(breaker: BankBreaker())  // times out after 2 s
        try await Task.sleep(for: .seconds(2))
        #expect(bank.server.snapshot().notices.count == 1)
        bank.server.setMode(.normal)
        world.clock.advance(seconds: 3)
        try await drain()
        let atBank = bank.server.snapshot()
        #expect(atBank.notices.count == 1)
        #expect(atBank.notices.first?.received == 2)
        #expect(atBank.duplicates == 1)
        #expect(try await outbox(card).map(\.state) == [.delivered])
    }

    @Test("a loss the bank reports becomes a pre-loss by the bank, once; forged, stale and foreign notices are refused")
    func noticesFromTheBank() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (_, card) = try await fixtures.activeCard()
        let account = try #require(bank.server.snapshot().accounts.first { $0.cardNumber == card.number })
        let now = world.clock.now().secondsSinceEpoch
        let notice = BankMessages.BankNotice(
            noticeId: "b-1", kind: .loss, cardNumber: card.number, accountNumber: account.accountNumber, occurredAt: now
        )

        func refusal(_ message: BankService.SignedMessage, code: String = "ICBC") async -> CitizenCardError.Code? {
            await failure { () async throws(CitizenCardError) in _ = try await banks.receive(bankCode: code, message) }?
                .code
        }
        #expect(
            await refusal(try bank.signed(notice, secret: BankSignature.newSecret(), at: now)) == .bankSignatureInvalid)
        #expect(await refusal(try bank.signed(notice, at: now - 600)) == .bankSignatureInvalid)
        #expect(await refusal(try bank.signed(notice, at: now), code: "BOC") == .bankSignatureInvalid)
        var otherPath = try bank.signed(notice, at: now, path: "/api/v1/banks/ICBC/other")
        otherPath.path = "/api/v1/banks/ICBC/notices"  // signed for another path, received on this one
        #expect(await refusal(otherPath) == .bankSignatureInvalid)
        var tampered = try bank.signed(notice, at: now)
        tampered.body = Data(
            String(decoding: tampered.body, as: UTF8.self).replacingOccurrences(of: "b-1", with: "b-2").utf8)
        #expect(await refusal(tampered) == .bankSignatureInvalid)
        var wrongAccount = notice
        wrongAccount.accountNumber = BankCardNumber.make(bin: "622202", sequence: 999_999)
        #expect(await refusal(try bank.signed(wrongAccount, at: now)) == .notFound)
        #expect(try await cards.card(card.id, actor: staff.admin).state == .active, "nothing refused changed the card")

        let answer = try await banks.receive(bankCode: "ICBC", try bank.signed(notice, at: now))
        #expect(answer == .init(noticeId: "b-1", status: "applied"))
        let lost = try await cards.card(card.id, actor: staff.admin)
        #expect(lost.state == .preLost)
        #expect(lost.loss?.channel == .bank)
        #expect(try await outbox(card).isEmpty, "the bank's own loss is not echoed back to it")
        // The same notice again, even signed anew: nothing happens twice.
        world.clock.advance(seconds: 1)
        let again = try await banks.receive(bankCode: "ICBC", try bank.signed(notice, at: now + 1))
        #expect(again.status == "duplicate")
        #expect(try await world.store.cardEvents(cardID: card.id).filter { $0.action == .reportPreLoss }.count == 1)

        let closing = BankMessages.BankNotice(
            noticeId: "b-2", kind: .accountClosed, cardNumber: card.number, accountNumber: account.accountNumber,
            occurredAt: now)
        #expect(try await banks.receive(bankCode: "ICBC", try bank.signed(closing, at: now + 1)).status == "applied")
        #expect(try await banks.account(cardID: card.id, actor: staff.admin)?.state == .closed)
    }

    @Test("reconciliation names every difference; a second run of the day replaces the first")
    func reconciliation() async throws {
        let bank = try await TestBank.start(world, admin: staff.admin)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await fixtures.activeCard()
        let (otherResident, other) = try await fixtures.activeCard()
        _ = try await cards.reportWrittenLoss(card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        try await drain()
        _ = try await cards.reportWrittenLoss(other.id, identity: fixtures.identity(otherResident), actor: staff.clerk)
        let today = world.clock.now().calendarDate(offsetSeconds: 8 * 3600).iso8601
        let first = try await banks.reconcile(bankCode: "ICBC", date: today, actor: staff.admin)
        #expect(first.noticesSent == 1 && first.noticesConfirmed == 1)
        #expect(first.accountsOpened == 2 && first.accountsConfirmed == 2)
        #expect(first.differences.map(\.kind) == ["undelivered"])
        try await drain()
        let second = try await banks.reconcile(bankCode: "ICBC", date: today, actor: staff.admin)
        #expect(second.differences.isEmpty)
        #expect(second.noticesConfirmed == 2)
        let stored = try await banks.reconciliations(bankCode: "ICBC", limit: 10, actor: staff.auditor)
        #expect(stored.count == 1 && stored.first?.differences.isEmpty == true)
        await bank.server.stop()
        if let error = await failure({ () async throws(CitizenCardError) in
            _ = try await BankService(quick()).reconcile(bankCode: "ICBC", date: today, actor: staff.admin)
        }) {
            #expect(error.code == .bankUnavailable)
        } else {
            Issue.record("reconciled with a bank that is gone")
        }
        #expect(
            try await banks.reconciliations(bankCode: "ICBC", limit: 10, actor: staff.auditor).first?.noticesConfirmed
                == 2)
    }
}

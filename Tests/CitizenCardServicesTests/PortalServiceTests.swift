import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// The citizen self-service portal (R-32, R-35, docs/portal.md): the query password, log-in and
/// lockout, sessions, the holder's overview, self-service pre-loss, the access log and the
/// service catalogue, on a real store with a moving clock.
@Suite("Citizen portal")
struct PortalServiceTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var portal: PortalService { PortalService(world.env) }

    static let password = "135790"

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    /// An active card whose holder has the query password `password`.
    func holder(password: String = Self.password) async throws -> (Fixtures.Resident, CardView) {
        let (resident, card) = try await fixtures.activeCard()
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: password, identity: fixtures.identity(resident), actor: staff.clerk)
        return (resident, card)
    }

    func loggedIn(_ card: CardView, password: String = Self.password) async throws -> PortalService.CitizenPrincipal {
        let session = try await portal.login(cardNumber: card.number, password: password)
        return try await portal.authenticate(token: session.token)
    }

    func audit(_ action: String) async throws -> [AuditEntry] {
        try await world.store.auditEntries(AuditFilter(action: action), limit: 100)
    }

    // MARK: The query password

    @Test("the counter sets the query password after the identity check; the wrong document is refused")
    func setPassword() async throws {
        let (resident, card) = try await fixtures.activeCard()
        let stranger = try await fixtures.resident()
        await expectError(.identityMismatch) {
            try await portal.setQueryPassword(
                cardID: card.id, password: Self.password, identity: fixtures.identity(stranger), actor: staff.clerk)
        }
        await expectError(.invalidField) {
            try await portal.setQueryPassword(
                cardID: card.id, password: Self.password,
                identity: .init(idNumber: resident.idNumber, documentChecked: false), actor: staff.clerk)
        }
        await expectError(.forbidden) {
            try await portal.setQueryPassword(
                cardID: card.id, password: Self.password, identity: fixtures.identity(resident), actor: staff.admin)
        }
        #expect(try await portal.queryPasswordStatus(cardID: card.id, actor: staff.clerk).isSet == false)
        let status = try await portal.setQueryPassword(
            cardID: card.id, password: Self.password, identity: fixtures.identity(resident), actor: staff.clerk)
        #expect(status.isSet && status.failedAttempts == 0 && status.lockedUntil == nil)
        #expect(status.changedAt == world.clock.now() && status.changedBy == "clerk")
        let entries = try await audit("portal.password.set")
        #expect(entries.count == 1 && entries.first?.draft.personID == resident.person.id)
        #expect(!entries.contains { $0.draft.detail.contains(Self.password) })
        // A card not yet issued has no password.
        let (applicant, applied) = try await fixtures.application()
        await expectError(.transitionNotAllowed) {
            try await portal.setQueryPassword(
                cardID: applied.id, password: Self.password, identity: fixtures.identity(applicant),
                actor: staff.clerk)
        }
        // Setting it again (the holder forgot it) replaces it and ends the card's sessions.
        let principal = try await loggedIn(card)
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: "246801", identity: fixtures.identity(resident), actor: staff.clerk)
        await expectError(.unauthenticated) { try await portal.authenticate(token: "cit_unknown") }
        await expectError(.invalidCredentials) {
            try await portal.login(cardNumber: card.number, password: Self.password)
        }
        #expect(try await loggedIn(card, password: "246801").personID == principal.personID)
        #expect(!world.logs.text.contains(Self.password) && !world.logs.text.contains("246801"))
    }

    @Test(
        "a query password is 6-12 digits, not one digit repeated, not a run",
        arguments: [
            "12345", "1234567890123", "12a456", "１２３４５６", "", "111111", "000000000000", "123456", "654321",
            "7890123", "098765", "0123456789",
        ])
    func refusedPasswords(_ password: String) async throws {
        #expect(throws: CitizenCardError.self) { try QueryPassword.validate(password) }
        do {
            try QueryPassword.validate(password)
        } catch {
            #expect(error.code == .invalidField && error.field == "password")
            #expect(error.detail?.isEmpty == false && error.detailZh?.isEmpty == false)
        }
    }

    @Test("passwords that meet the rule", arguments: ["135790", "112233", "204813", "987654321012", "24680246"])
    func acceptedPasswords(_ password: String) throws {
        try QueryPassword.validate(password)
    }

    @Test("the counter is told why a password is refused, in both languages")
    func refusedAtTheCounter() async throws {
        let (resident, card) = try await fixtures.activeCard()
        let error = await expectError(.invalidField) {
            try await portal.setQueryPassword(
                cardID: card.id, password: "123456", identity: fixtures.identity(resident), actor: staff.clerk)
        }
        #expect(error?.field == "password")
        #expect(error?.detail?.contains("123456") == true && error?.detailZh?.contains("连续") == true)
    }

    // MARK: Log-in

    @Test("a holder logs in with card number and password; the token authenticates until log-out")
    func login() async throws {
        let (resident, card) = try await holder()
        let session = try await portal.login(cardNumber: " \(card.number) ", password: Self.password)
        #expect(session.token.hasPrefix(PortalService.tokenPrefix) && session.token.count == 4 + 43)
        #expect(session.expiresAt == world.clock.now().adding(seconds: PortalPolicy.sessionSeconds))
        #expect(session.cardId == card.id && session.maskedCardNumber == Masking.cardNumber(card.number))
        #expect(!session.maskedCardNumber.contains(card.number.dropFirst(4).prefix(5)))
        let principal = try await portal.authenticate(token: session.token)
        #expect(principal.cardID == card.id && principal.personID == resident.person.id)
        #expect(principal.actorName == "citizen:\(session.maskedCardNumber)")
        let logins = try await audit("portal.login")
        #expect(logins.count == 1 && logins.first?.draft.actor == principal.actorName)
        try await portal.logout(token: session.token)
        await expectError(.unauthenticated) { try await portal.authenticate(token: session.token) }
        #expect(try await audit("portal.logout").count == 1)
        try await portal.logout(token: session.token)
        #expect(try await audit("portal.logout").count == 1)
        #expect(!world.logs.text.contains(session.token))
    }

    @Test("a wrong password, an unknown card and a card without a password answer alike")
    func failuresAlike() async throws {
        let (_, card) = try await holder()
        let (_, bare) = try await fixtures.activeCard()
        let wrong = await expectError(.invalidCredentials) {
            try await portal.login(cardNumber: card.number, password: "975310")
        }
        let unknown = await expectError(.invalidCredentials) {
            try await portal.login(cardNumber: "3309999999990", password: Self.password)
        }
        let noPassword = await expectError(.invalidCredentials) {
            try await portal.login(cardNumber: bare.number, password: Self.password)
        }
        #expect(wrong != nil && wrong == unknown && unknown == noPassword)
        let failures = try await audit("portal.login.failed")
        #expect(Set(failures.map(\.draft.detail)).count == 3)
        #expect(failures.contains { $0.draft.actor == "citizen:unknown" && $0.draft.personID == nil })
        #expect(try await portal.queryPasswordStatus(cardID: card.id, actor: staff.clerk).failedAttempts == 1)
    }

    @Test("5 wrong passwords lock the card's password for 30 minutes, even against the right one")
    func lockout() async throws {
        let (_, card) = try await holder()
        for _ in 1..<PortalPolicy.failuresMax {
            await expectError(.invalidCredentials) {
                try await portal.login(cardNumber: card.number, password: "975310")
            }
            world.clock.advance(seconds: 10)
        }
        let locking = await expectError(.tooManyAttempts) {
            try await portal.login(cardNumber: card.number, password: "975310")
        }
        let lockedAt = world.clock.now()
        #expect(locking?.detail?.contains("2026-03-02 09:") == true)
        #expect(locking?.detailZh?.contains("锁定") == true)
        #expect(try await audit("portal.login.locked").count == 1)
        let status = try await portal.queryPasswordStatus(cardID: card.id, actor: staff.clerk)
        #expect(status.lockedUntil == lockedAt.adding(seconds: PortalPolicy.lockSeconds))
        world.clock.advance(seconds: PortalPolicy.lockSeconds - 1)
        await expectError(.tooManyAttempts) { try await portal.login(cardNumber: card.number, password: Self.password) }
        world.clock.advance(seconds: 1)
        _ = try await loggedIn(card)
        let after = try await portal.queryPasswordStatus(cardID: card.id, actor: staff.clerk)
        #expect(after.failedAttempts == 0 && after.lockedUntil == nil)
        // A success starts the count again: 4 more failures do not lock.
        for _ in 1..<PortalPolicy.failuresMax {
            await expectError(.invalidCredentials) {
                try await portal.login(cardNumber: card.number, password: "975310")
            }
        }
        _ = try await loggedIn(card)
        #expect(try await audit("portal.login.locked").count == 1)
    }

    @Test("a session lasts a fixed 2 hours")
    func sessionExpiry() async throws {
        let (_, card) = try await holder()
        let session = try await portal.login(cardNumber: card.number, password: Self.password)
        world.clock.advance(seconds: PortalPolicy.sessionSeconds - 1)
        _ = try await portal.authenticate(token: session.token)
        world.clock.advance(seconds: 1)
        await expectError(.unauthenticated) { try await portal.authenticate(token: session.token) }
        await expectError(.unauthenticated) { try await portal.authenticate(token: "not a portal token") }
    }

    @Test("changing the password ends the card's other sessions and keeps this one")
    func changePassword() async throws {
        let (_, card) = try await holder()
        let phone = try await portal.login(cardNumber: card.number, password: Self.password)
        let browser = try await login(card)
        let principal = try await portal.authenticate(token: browser)
        let wrong = await expectError(.invalidCredentials) {
            try await portal.changePassword(current: "975310", new: "246801", principal: principal)
        }
        #expect(wrong?.field == "currentPassword")
        let weak = await expectError(.invalidField) {
            try await portal.changePassword(current: Self.password, new: "888888", principal: principal)
        }
        #expect(weak?.field == "newPassword")
        await expectError(.invalidField) {
            try await portal.changePassword(current: Self.password, new: Self.password, principal: principal)
        }
        try await portal.changePassword(current: Self.password, new: "246801", principal: principal)
        await expectError(.unauthenticated) { try await portal.authenticate(token: phone.token) }
        #expect(try await portal.authenticate(token: browser) == principal)
        await expectError(.invalidCredentials) { try await login(card) }
        _ = try await loggedIn(card, password: "246801")
        #expect(try await audit("portal.password.change").first?.draft.actor == principal.actorName)
    }

    // MARK: What the holder sees and does

    @Test("the overview shows the holder's data masked, cards, balance and records, and is audited")
    func overview() async throws {
        var (card, chip) = try await fixtures.activeCardWithChip()
        try await fixtures.load(&chip, card: card, fen: 5000)
        var bus = try await fixtures.acquirer()
        let record = try bus.tap(&chip, fen: 200, at: "20260302100000")
        _ = try await bus.upload([record], env: world.env)
        let resident = try await fixtures.registry.read(
            card.personId, reveal: true, purpose: "test setup", actor: staff.clerk)
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: Self.password,
            identity: .init(idNumber: resident.idNumber, documentChecked: true), actor: staff.clerk)
        let principal = try await loggedIn(card)
        let overview = try await portal.overview(principal)
        #expect(overview.person.masked && overview.person.id == card.personId)
        #expect(overview.person.name == Masking.name(resident.name) && overview.person.name != resident.name)
        #expect(overview.person.idNumber == Masking.residentID(resident.idNumber))
        #expect(overview.person.phone == resident.phone.map(Masking.phone))
        #expect(overview.cards.count == 1)
        let shown = try #require(overview.cards.first)
        #expect(shown.current && shown.usable && shown.state == .active && shown.purseBalanceFen == 4800)
        #expect(shown.issuedAt != nil && shown.expiresAt != nil && shown.maskedNumber == principal.maskedCardNumber)
        #expect(overview.recentRecords.map(\.kind) == [.purchase, .load])
        #expect(overview.recentRecords.map(\.amountFen) == [200, 5000])
        #expect(overview.recentRecords.first?.place == "BUS merchant")
        #expect(overview.recentRecords.first?.balanceAfterFen == 4800)
        #expect(overview.recentRecords.last?.placeZh == staff.outlet.nameZh)
        #expect(overview.recentRecords.last?.status == "completed")
        let reads = try await audit("portal.overview")
        #expect(reads.count == 1)
        let read = try #require(reads.first)
        #expect(read.draft.actor == principal.actorName && read.draft.personID == card.personId)
        #expect(read.draft.purpose == PortalService.ownQueryPurpose && read.draft.subject == "person:\(card.personId)")
        #expect(!world.logs.text.contains(resident.name))
    }

    @Test("the holder reports the card lost: blocked at once, lapsing after the pre-loss period")
    func selfServicePreLoss() async throws {
        let (_, card) = try await holder()
        let principal = try await loggedIn(card)
        let reported = try await portal.reportLoss(principal)
        #expect(reported.state == .preLost && !reported.usable)
        #expect(reported.loss?.kind == .pre && reported.loss?.channel == .selfService)
        #expect(reported.loss?.effectiveAt == world.clock.now())
        #expect(reported.loss?.preLossExpiresAt == world.clock.now().adding(seconds: world.env.policy.preLossSeconds))
        let stored = try #require(try await world.store.card(id: card.id))
        #expect(stored.state == .preLost && !stored.state.isUsable)
        let events = try await fixtures.cards.events(of: card.id, actor: staff.clerk)
        #expect(events.last?.action == .reportPreLoss && events.last?.actor == principal.actorName)
        // Still logged in, to see the card's state; a second report is refused.
        let overview = try await portal.overview(try await portal.authenticate(token: try await login(card)))
        #expect(overview.cards.first?.state == .preLost && overview.cards.first?.usable == false)
        await expectError(.transitionNotAllowed) { try await portal.reportLoss(principal) }
        // Unconfirmed in writing, it lapses and the card is usable again.
        world.clock.advance(seconds: world.env.policy.preLossSeconds)
        let lapsed = try await portal.overview(try await portal.authenticate(token: try await login(card)))
        #expect(lapsed.cards.first?.state == .active && lapsed.cards.first?.usable == true)
        #expect(lapsed.cards.first?.loss == nil)
        _ = try await fixtures.cards.recordDueTransitions()
        #expect(try await world.store.card(id: card.id)?.state == .active)
    }

    func login(_ card: CardView) async throws -> String {
        try await portal.login(cardNumber: card.number, password: Self.password).token
    }

    @Test("a replaced or cancelled card no longer logs in, and its sessions end")
    func closedCards() async throws {
        let (resident, card) = try await holder()
        let token = try await login(card)
        _ = try await fixtures.cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: staff.clerk)
        _ = try await portal.authenticate(token: token)
        _ = try await fixtures.cards.reissue(card.id, .init(identity: fixtures.identity(resident)), actor: staff.clerk)
        await expectError(.unauthenticated) { try await portal.authenticate(token: token) }
        await expectError(.invalidCredentials) { try await login(card) }
        let failed = try await audit("portal.login.failed")
        #expect(failed.first?.draft.detail.contains("card_state") == true)
    }

    @Test("the access log shows who read the holder's data and why; the holder's own reads as 'you'")
    func accessLog() async throws {
        let (resident, card) = try await holder()
        _ = try await fixtures.registry.read(
            resident.person.id, reveal: false, purpose: "benefit check", actor: staff.supervisor)
        let principal = try await loggedIn(card)
        _ = try await portal.overview(principal)
        let log = try await portal.accessLog(principal)
        #expect(log.first?.who == .you && log.first?.action == "portal.overview")
        let staffRead = try #require(log.first { $0.action == "person.read" })
        #expect(staffRead.who == .staff && staffRead.actor == "supervisor" && staffRead.purpose == "benefit check")
        #expect(log.contains { $0.action == "portal.password.set" && $0.actor == "clerk" })
        #expect(log.contains { $0.action == "card.issue" && $0.who == .staff })
        #expect(zip(log, log.dropFirst()).allSatisfy { $0.at >= $1.at })
        #expect(try await portal.accessLog(principal, limit: 2).count == 2)
        await expectError(.invalidCredentials) { try await portal.login(cardNumber: card.number, password: "975310") }
        #expect(try await portal.accessLog(principal).first?.who == .someone)
    }

    // MARK: The service catalogue

    func library(code: String = "library", from: CalendarDate? = nil) -> PortalService.NewCatalogueService {
        .init(
            code: code, name: "City library", nameZh: "市图书馆", description: "Borrow books with the card",
            descriptionZh: "持卡借阅图书", effectiveFrom: from ?? world.clock.now().calendarDate())
    }

    @Test("the center publishes and withdraws services; holders activate them once")
    func catalogue() async throws {
        let (_, card) = try await holder()
        let principal = try await loggedIn(card)
        await expectError(.forbidden) { try await portal.publishService(library(), actor: staff.clerk) }
        await expectError(.invalidField) {
            try await portal.publishService(library(code: "Library!"), actor: staff.admin)
        }
        let published = try await portal.publishService(library(), actor: staff.admin)
        #expect(published.publishedBy == "admin" && !published.isWithdrawn)
        await expectError(.conflict) { try await portal.publishService(library(), actor: staff.admin) }
        let today = world.clock.now().calendarDate()
        let pool = try await portal.publishService(
            library(code: "swimming-pool", from: CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 7)),
            actor: staff.admin)
        #expect(try await portal.catalogue(actor: staff.clerk).map(\.code) == ["library", "swimming-pool"])
        #expect(try await portal.catalogue(principal).map(\.code) == ["library", "swimming-pool"])

        let activation = try await portal.activateService(principal, serviceCode: "library")
        #expect(activation.cardID == card.id && activation.activatedAt == world.clock.now())
        let twice = await expectError(.conflict) { try await portal.activateService(principal, serviceCode: "library") }
        #expect(twice?.detailZh == "此卡已开通该服务")
        await expectError(.notYetDue) { try await portal.activateService(principal, serviceCode: pool.code) }
        await expectError(.notFound) { try await portal.activateService(principal, serviceCode: "opera") }
        #expect(try await portal.overview(principal).activations.map(\.serviceCode) == ["library"])
        #expect(try await portal.activations(of: card.id, actor: staff.clerk) == [activation])
        await expectError(.forbidden) { try await portal.activations(of: card.id, actor: bus()) }
        #expect(try await audit("portal.service.activate").first?.draft.personID == card.personId)

        let withdrawn = try await portal.withdrawService(code: "swimming-pool", actor: staff.admin)
        #expect(withdrawn.isWithdrawn && withdrawn.withdrawnBy == "admin")
        await expectError(.conflict) { try await portal.withdrawService(code: "swimming-pool", actor: staff.admin) }
        world.clock.advance(days: 8)
        let refused = await expectError(.conflict) {
            try await portal.activateService(try await loggedIn(card), serviceCode: "swimming-pool")
        }
        #expect(refused?.detail?.contains("withdrawn") == true)
        #expect(try await portal.catalogue(actor: staff.clerk).map(\.code) == ["library"])
        await expectError(.forbidden) { try await portal.catalogue(actor: staff.clerk, includeWithdrawn: true) }
        #expect(try await portal.catalogue(actor: staff.admin, includeWithdrawn: true).count == 2)
        _ = try await portal.withdrawService(code: "library", actor: staff.admin)
        #expect(try await portal.overview(try await loggedIn(card)).activations.first?.withdrawn == true)
        #expect(try await audit("portal.catalogue.publish").count == 2)
        #expect(try await audit("portal.catalogue.withdraw").count == 2)
    }

    @Test("a blocked card cannot take on a service")
    func blockedCardActivation() async throws {
        let (_, card) = try await holder()
        _ = try await portal.publishService(library(), actor: staff.admin)
        let principal = try await loggedIn(card)
        _ = try await portal.reportLoss(principal)
        await expectError(.transitionNotAllowed) { try await portal.activateService(principal, serviceCode: "library") }
    }

    /// A terminal's actor: logged in, but not staff.
    func bus() async throws -> Actor {
        try await fixtures.acquirer().actor
    }
}

import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// Departments (issue 18, R-04, R-31, R-40 … R-42): clients and keys, feeds and their effects,
/// grants through approval and agreement, queries, card checks, and what the citizen sees.
@Suite("Departments")
struct DepartmentTests {
    let world: TestWorld
    let staff: TestWorld.Staff
    let fixtures: Fixtures
    var departments: DepartmentService { DepartmentService(world.env) }
    var feeds: FeedService { FeedService(world.env) }
    var grants: GrantService { GrantService(world.env) }
    var disclosures: DisclosureService { DisclosureService(world.env) }
    var auth: AuthService { AuthService(world.env) }

    init() async throws {
        world = try await TestWorld()
        staff = try await world.seedReferenceData()
        fixtures = Fixtures(world: world, staff: staff)
    }

    // MARK: Clients and keys

    @Test("a key is shown once, stored as a hash, rotated with an overlap and revoked at once")
    func keys() async throws {
        let psb = try await fixtures.department()
        #expect(psb.key.hasPrefix("ccd_"))
        #expect(psb.actor.role == .department && psb.actor.departmentID == psb.department.id)
        let stored = try await world.store.departmentKeys(clientID: psb.client.id)
        #expect(stored.count == 1 && stored[0].keyHash != Array(psb.key.utf8) && stored[0].keyHash.count == 32)
        let listed = try await departments.clients(department: psb.department.id, actor: staff.admin)
        #expect(listed[0].issuedKey == nil && listed[0].keys[0].hint == String(psb.key.prefix(8)))

        // Rotation: both keys work during the overlap; the old one stops after it.
        let rotated = try await departments.rotateKey(
            client: psb.client.id, .init(overlapSeconds: 3600), actor: staff.admin)
        let newKey = try #require(rotated.issuedKey?.key)
        _ = try await auth.authenticate(token: psb.key)
        _ = try await auth.authenticate(token: newKey)
        world.clock.advance(seconds: 3601)
        await expectError(.unauthenticated) { try await auth.authenticate(token: psb.key) }
        _ = try await auth.authenticate(token: newKey)

        // A department client may not manage departments; staff may not send feeds.
        await expectError(.forbidden) {
            try await departments.rotateKey(client: psb.client.id, .init(), actor: psb.actor)
        }
        await expectError(.forbidden) {
            try await feeds.apply(FeedService.Message(messageId: "1", kind: "death", idNumber: "x"), actor: staff.admin)
        }

        // Revoking the client ends every key at once.
        _ = try await departments.revokeClient(psb.client.id, reason: "gateway replaced", actor: staff.admin)
        await expectError(.unauthenticated) { try await auth.authenticate(token: newKey) }
        // An inactive department's clients are refused too.
        let civil = try await fixtures.department(code: "CIVIL", kind: "civil_affairs")
        var change = DepartmentService.DepartmentChange(reason: "merged")
        change.active = false
        _ = try await departments.change(civil.department.id, change, actor: staff.admin)
        await expectError(.unauthenticated) { try await auth.authenticate(token: civil.key) }
    }

    @Test("bad registry input is refused with the field, and nothing is stored")
    func registryInput() async throws {
        await expectError(.invalidField) {
            try await departments.create(
                .init(code: "psb", name: "x", nameZh: "x", kind: "public_security"), actor: staff.admin)
        }
        await expectError(.invalidField) {
            try await departments.create(
                .init(code: "PSB", name: "x", nameZh: "x", kind: "Public Security"), actor: staff.admin)
        }
        await expectError(.forbidden) {
            try await departments.create(.init(code: "PSB", name: "x", nameZh: "x", kind: "health"), actor: staff.clerk)
        }
        _ = try await fixtures.department()
        await expectError(.conflict) {
            try await departments.create(
                .init(code: "PSB", name: "again", nameZh: "x", kind: "health"), actor: staff.admin)
        }
        #expect(try await departments.list(actor: staff.admin).count == 1)
        let psb = try await departments.list(actor: staff.auditor)[0]
        await expectError(.invalidField) {
            try await departments.createClient(
                department: psb.id, .init(name: "tls only", issueKey: false), actor: staff.admin)
        }
        await expectError(.invalidField) {
            try await departments.createClient(
                department: psb.id, .init(name: "k", keyLifetimeDays: 0), actor: staff.admin)
        }
    }

    // MARK: Feeds

    @Test("a death blocks every live card at once, holds the balance, queues a cancellation; a repeat changes nothing")
    func death() async throws {
        let psb = try await fixtures.department()
        let (resident, card) = try await fixtures.activeCard()
        let message = FeedService.Message(
            messageId: "PSB-2026-0001", kind: "death", idNumber: resident.idNumber,
            occurredOn: world.env.clock.now().calendarDate().iso8601)
        let result = try await feeds.apply(message, actor: psb.actor)
        #expect(result.outcome == .applied && !result.duplicate && result.personId == resident.person.id)
        #expect(result.cards.map(\.effect) == ["blocked", "cancel_after_death"])

        let person = try #require(try await world.store.person(id: resident.person.id))
        #expect(person.attributes.lifeStatus == .deceased && person.provenance.source == .department)
        #expect(person.provenance.actor == "department:PSB")
        let hold = try #require(try await world.store.cardHold(cardID: card.id))
        #expect(hold.reason == "death" && hold.messageID == "PSB-2026-0001")

        // On the next hotlist as blocked; an online load is refused.
        let publication = try await HotlistService(world.env).publish(actor: staff.admin)
        #expect(publication.added == 1)
        let listed = try await world.store.hotlistEntries()
        #expect(listed.contains { $0.asn == card.asn && $0.reason == 5 })

        // The outlet's queue has the case; the repeat gets the same answer, marked duplicate.
        let cases = try await CaseService(world.env).cases(open: true, limit: 50, actor: staff.clerk)
        #expect(cases.count == 1 && cases[0].kind == .cancelAfterDeath && cases[0].cardId == card.id)
        let repeated = try await feeds.apply(message, actor: psb.actor)
        #expect(repeated.duplicate && repeated.outcome == .applied && repeated.cards == result.cards)
        #expect(try await world.store.cardCases(cardID: card.id).count == 1)

        // The same id with other content is refused and changes nothing.
        var other = message
        other.occurredOn = "2020-01-01"
        let reused = try await feeds.apply(other, actor: psb.actor)
        #expect(reused.outcome == .invalid && reused.code == "message_id_reused")

        // The outlet cancels (reason death, a relative): the case closes with it.
        _ = try await fixtures.cards.cancel(
            card.id,
            .init(reason: .death, applicant: .relative, relationship: .child, documentReference: "DC-330902-77"),
            actor: staff.clerk)
        #expect(try await CaseService(world.env).cases(open: true, limit: 50, actor: staff.clerk).isEmpty)
        let verification = try await world.store.verifyAuditChain()
        #expect(verification.firstBad == nil)
    }

    @Test("a death dated before a successful card use is a conflict for review; nothing changes")
    func deathConflict() async throws {
        let psb = try await fixtures.department()
        var (card, chip) = try await fixtures.activeCardWithChip()
        let resident = (
            person: (id: card.personId, unused: 0),
            idNumber: try await fixtures.registry.read(card.personId, reveal: true, purpose: "test", actor: staff.clerk)
                .idNumber
        )
        // A load today, after the death date a week ago.
        try await fixtures.load(&chip, card: card, fen: 1000)
        let weekAgo = CalendarDate(daysSinceEpoch: world.env.clock.now().calendarDate().daysSinceEpoch - 7)
        let result = try await feeds.apply(
            FeedService.Message(
                messageId: "D-1", kind: "death", idNumber: resident.idNumber, occurredOn: weekAgo.iso8601),
            actor: psb.actor)
        #expect(result.outcome == .conflict && result.code == "death_before_card_use")
        let review = try #require(result.reviewItemId)
        let item = try #require(try await world.store.reviewItem(id: review))
        #expect(item.kind == "feed_conflict" && item.closedAt == nil)
        let person = try #require(try await world.store.person(id: resident.person.id))
        #expect(person.attributes.lifeStatus == .alive)
        #expect(try await world.store.cardHold(cardID: card.id) == nil)
        let closed = try await CaseService(world.env).closeReviewItem(
            review, .init(note: "date corrected"), actor: staff.admin)
        #expect(closed.closedBy == "admin")
    }

    @Test("a new ID number or name updates the person with the feed as provenance and queues a replacement")
    func identityChanges() async throws {
        let psb = try await fixtures.department()
        let (resident, card) = try await fixtures.activeCard()
        let newNumber = fixtures.newIDNumber()
        let changed = try await feeds.apply(
            .init(messageId: "ID-1", kind: "id_number_change", idNumber: resident.idNumber, newIdNumber: newNumber),
            actor: psb.actor)
        #expect(changed.outcome == .applied && changed.cards.map(\.effect) == ["replace_data_changed"])
        let found = try await fixtures.registry.lookup(
            idNumber: newNumber, reveal: false, purpose: "check", actor: staff.clerk)
        #expect(found.id == resident.person.id)
        let renamed = try await feeds.apply(
            .init(messageId: "N-1", kind: "name_change", idNumber: newNumber, newName: "王晓明"), actor: psb.actor)
        #expect(renamed.outcome == .applied)
        // One open case per card and kind, however many changes.
        let cases = try await world.store.cardCases(cardID: card.id)
        #expect(cases.count == 1 && cases[0].kind == .replaceDataChanged)
        // The old number is unknown now; another person's number is a conflict.
        let unknown = try await feeds.apply(
            .init(messageId: "N-2", kind: "name_change", idNumber: resident.idNumber, newName: "x"), actor: psb.actor)
        #expect(unknown.outcome == .unknownPerson)
        let other = try await fixtures.resident()
        let taken = try await feeds.apply(
            .init(messageId: "ID-2", kind: "id_number_change", idNumber: newNumber, newIdNumber: other.idNumber),
            actor: psb.actor)
        #expect(taken.outcome == .conflict && taken.code == "id_number_taken")
        // A replacement at the counter closes the case.
        _ = try await fixtures.cards.replace(
            card.id, .init(identity: .init(idNumber: newNumber, documentChecked: true), reason: .dataChanged),
            actor: staff.clerk)
        #expect(try await world.store.cardCases(cardID: card.id).allSatisfy { $0.closedAt != nil })
    }

    @Test("insurance and household changes decide eligibility again and queue, never cancel; a birth pre-registers")
    func eligibilityAndBirth() async throws {
        let hrss = try await fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let (resident, card) = try await fixtures.activeCard(for: try await fixtures.resident(household: .nonlocal))
        let ended = try await feeds.apply(
            .init(messageId: "I-1", kind: "insurance_end", idNumber: resident.idNumber), actor: hrss.actor)
        #expect(ended.outcome == .applied && ended.cards.map(\.effect) == ["eligibility_review"])
        let stored = try #require(try await world.store.card(id: card.id))
        #expect(stored.state == .active)
        let again = try await feeds.apply(
            .init(messageId: "I-2", kind: "insurance_end", idNumber: resident.idNumber), actor: hrss.actor)
        #expect(again.outcome == .unchanged)

        let baby = ResidentID.make(
            region: "330902",
            birth: CalendarDate(daysSinceEpoch: world.env.clock.now().calendarDate().daysSinceEpoch - 3),
            sequence: 11
        ).number
        let born = try await feeds.apply(
            .init(messageId: "B-1", kind: "birth", idNumber: baby, name: "王小宝"), actor: hrss.actor)
        #expect(born.outcome == .applied)
        let person = try await fixtures.registry.lookup(
            idNumber: baby, reveal: false, purpose: "check", actor: staff.clerk)
        #expect(person.household == .local)
        let twice = try await feeds.apply(
            .init(messageId: "B-2", kind: "birth", idNumber: baby, name: "王小宝"), actor: hrss.actor)
        #expect(twice.outcome == .unchanged && twice.code == "person_exists")
    }

    @Test("bad messages get their own answer and store nothing; kinds a department may not send are refused")
    func badMessages() async throws {
        let civil = try await fixtures.department(
            code: "CIVIL", kind: "civil_affairs", feedKinds: [.birth, .householdMove])
        let resident = try await fixtures.resident()
        let results = try await feeds.apply(
            [
                .init(messageId: "", kind: "death", idNumber: resident.idNumber),
                .init(messageId: "M1", kind: "resurrection", idNumber: resident.idNumber),
                .init(messageId: "M2", kind: "death", idNumber: resident.idNumber, occurredOn: "2026-01-01"),
                .init(messageId: "M3", kind: "household_move", idNumber: "123"),
                .init(messageId: "M4", kind: "household_move", idNumber: resident.idNumber, household: "mars"),
                .init(messageId: "M5", kind: "birth", idNumber: fixtures.newIDNumber()),
            ], actor: civil.actor)
        #expect(results.map(\.outcome) == Array(repeating: .invalid, count: 6))
        #expect(
            results.map(\.code) == [
                "invalid_field", "invalid_field", "forbidden", "invalid_resident_id", "invalid_field", "invalid_field",
            ])
        #expect(try await world.store.feedRecords(departmentID: nil, outcome: nil, limit: 50).isEmpty)
        // Fixed and sent again, the same id is applied.
        let fixed = try await feeds.apply(
            .init(messageId: "M4", kind: "household_move", idNumber: resident.idNumber, household: "nonlocal"),
            actor: civil.actor)
        #expect(fixed.outcome == .applied)
    }

    // MARK: Grants and queries

    @Test("a grant is active only after approval and agreement, by three different people; outside it nothing")
    func grantLifecycle() async throws {
        let hrss = try await fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let resident = try await fixtures.resident()
        let today = world.env.clock.now().calendarDate()
        let request = GrantService.GrantRequest(
            fields: ["name": "masked", "socialInsurance": "yes_no", "birthDate": "year_only"],
            purpose: "pension checks",
            legalBasis: "Regulation art. 7", validFrom: today,
            validUntil: CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 30))
        await expectError(.invalidField) {
            var bad = request
            bad.fields = ["name": "year_only"]
            return try await grants.request(bad, actor: hrss.actor)
        }
        await expectError(.invalidField) {
            var bad = request
            bad.fields = ["salary": "full"]
            return try await grants.request(bad, actor: hrss.actor)
        }
        let grant = try await grants.request(request, actor: hrss.actor)
        let purpose = try Fixtures.purpose()
        let query = DisclosureService.LookupRequest(grantId: grant.id, idNumbers: [resident.idNumber])
        await expectError(.grantInactive) { try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor) }
        await expectError(.forbidden) { try await grants.approve(grant.id, .init(), actor: staff.admin) }
        let approved = try await grants.approve(grant.id, .init(note: "ok"), actor: staff.commissioner)
        #expect(approved.state == .approved)
        await expectError(.grantInactive) { try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor) }
        let agreement = GrantService.AgreementRequest(reference: "CA-1", signatory: "Director Li", signedOn: today)
        await expectError(.forbidden) {
            try await grants.recordAgreement(grant.id, agreement, actor: staff.commissioner)
        }
        let active = try await grants.recordAgreement(grant.id, agreement, actor: staff.admin)
        #expect(active.state == .active && active.agreement?.recordedBy == "admin")

        let answer = try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor)
        #expect(answer.results.count == 1 && answer.results[0].found)
        let fields = try #require(answer.results[0].fields)
        #expect(fields["socialInsurance"] == .flag(true))
        #expect(fields["birthDate"] == .text(String(resident.idNumber.dropFirst(6).prefix(4))))
        if case .text(let name) = fields["name"] { #expect(name.contains("*")) } else { Issue.record("no name") }
        #expect(fields["idNumber"] == nil && fields["phone"] == nil)

        // Another department's grant, a suspended one, an expired one: nothing.
        let other = try await fixtures.department(code: "HEALTH", kind: "health")
        await expectError(.grantInactive) { try await disclosures.lookup(query, purpose: purpose, actor: other.actor) }
        _ = try await grants.suspend(grant.id, .init(reason: "audit"), actor: staff.admin)
        await expectError(.grantSuspended) { try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor) }
        _ = try await grants.resume(grant.id, .init(reason: "audit done"), actor: staff.admin)
        _ = try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor)
        world.clock.advance(days: 31)
        await expectError(.grantInactive) { try await disclosures.lookup(query, purpose: purpose, actor: hrss.actor) }
        _ = try await grants.revoke(grant.id, .init(reason: "ended"), actor: staff.commissioner)
        await expectError(.transitionNotAllowed) {
            try await grants.resume(grant.id, .init(reason: "x"), actor: staff.admin)
        }

        // Its history, oldest first, for whoever reads grants (the commission too, which does not
        // read the audit trail): who did what, with the note or reason; not the request's purpose.
        let history = try await grants.history(grant.id, actor: staff.commissioner)
        #expect(
            history.map(\.action) == [
                "grant.request", "grant.approve", "grant.agreement", "grant.suspend", "grant.resume", "grant.revoke",
            ])
        #expect(history.map(\.reason) == [nil, "ok", nil, "audit", "audit done", "ended"])
        #expect(history.map(\.actor) == ["department:HRSS", "commissioner", "admin", "admin", "admin", "commissioner"])
        await expectError(.forbidden) { try await grants.history(grant.id, actor: staff.clerk) }
        await expectError(.notFound) {
            try await grants.history(Grant.ID(rawValue: world.env.ids.next()), actor: staff.auditor)
        }
    }

    @Test(
        "an unknown person and an invalid ID number get the same answer; every answer is a disclosure the citizen sees")
    func disclosuresShown() async throws {
        let hrss = try await fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let grant = try await fixtures.activeGrant(for: hrss)
        let (resident, card) = try await fixtures.activeCard()
        let purpose = try Fixtures.purpose()
        let answer = try await disclosures.lookup(
            .init(grantId: grant.id, idNumbers: [fixtures.newIDNumber(), "330902198501010000", resident.idNumber]),
            purpose: purpose, actor: hrss.actor)
        #expect(answer.results.map(\.found) == [false, false, true])
        #expect(answer.results[0].index == 0 && !answer.results[0].found && answer.results[0].fields == nil)
        let log = try await disclosures.accessLog(before: nil, limit: 50, actor: hrss.actor)
        #expect(log.count == 3 && log.allSatisfy { $0.caseNumber == "CASE-1" && $0.endUser == "officer 7" })
        // The holder sees which department read which fields, for what, never the values.
        let shown = try await world.store.disclosures(personID: resident.person.id, limit: 10)
        #expect(
            shown.count == 1 && shown[0].fields == ["name", "socialInsurance"] && shown[0].purpose == "insurance check")
        let portal = PortalService(world.env)
        _ = try await portal.setQueryPassword(
            cardID: card.id, password: "135790", identity: fixtures.identity(resident), actor: staff.clerk)
        let session = try await portal.login(cardNumber: card.number, password: "135790")
        let principal = try await portal.authenticate(token: session.token)
        let entries = try await portal.accessLog(principal)
        let entry = try #require(entries.first { $0.action == "department.query" })
        #expect(entry.who == .department && entry.actor == "HRSS department")
        #expect(entry.caseNumber == "CASE-1" && entry.fields == ["name", "socialInsurance"])
        // The disclosure report: no personal data, counts by department and grant.
        let report = try await disclosures.report(
            from: world.env.clock.now().calendarDate(), until: world.env.clock.now().calendarDate(),
            actor: staff.auditor)
        #expect(report.lines.reduce(0) { $0 + $1.requests } == 3)
        await expectError(.forbidden) {
            try await disclosures.report(from: report.from, until: report.until, actor: staff.clerk)
        }
    }

    @Test("rate limits per grant, and bulk scraping raises a signal then suspends the grant")
    func limitsAndScraping() async throws {
        var env = world.env
        env.grantMonitor = GrantMonitor(window: 600, signalPersons: 3, suspendPersons: 5)
        let disclosures = DisclosureService(env)
        let hrss = try await fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let grant = try await fixtures.activeGrant(for: hrss, ratePerMinute: 8)
        let residents = try await (0..<7).asyncMap { _ in try await fixtures.resident() }
        let purpose = try Fixtures.purpose()
        for resident in residents.prefix(4) {
            _ = try await disclosures.lookup(
                .init(grantId: grant.id, idNumbers: [resident.idNumber]), purpose: purpose, actor: hrss.actor)
        }
        let signals = try await world.store.reviewItems(open: true, limit: 10)
        #expect(signals.count == 1 && signals[0].kind == "bulk_scraping" && signals[0].grantID == grant.id)
        _ = try await disclosures.lookup(
            .init(grantId: grant.id, idNumbers: residents[4...5].map(\.idNumber)), purpose: purpose, actor: hrss.actor)
        let suspended = try #require(try await world.store.grant(id: grant.id))
        #expect(suspended.state == .suspended && suspended.stateReason?.hasPrefix("bulk scraping") == true)
        await expectError(.grantSuspended) {
            try await disclosures.lookup(
                .init(grantId: grant.id, idNumbers: [residents[6].idNumber]), purpose: purpose, actor: hrss.actor)
        }
        // The rate: 8 persons a minute.
        _ = try await grants.resume(grant.id, .init(reason: "reviewed"), actor: staff.admin)
        _ = try await disclosures.lookup(
            .init(grantId: grant.id, idNumbers: residents[0...4].map(\.idNumber)), purpose: purpose, actor: hrss.actor)
        await expectError(.tooManyAttempts) {
            try await disclosures.lookup(
                .init(grantId: grant.id, idNumbers: residents[0...3].map(\.idNumber)), purpose: purpose,
                actor: hrss.actor)
        }
        world.clock.advance(seconds: 61)
        _ = try await disclosures.lookup(
            .init(grantId: grant.id, idNumbers: [residents[0].idNumber]), purpose: purpose, actor: hrss.actor)
    }

    @Test("a card check answers only valid, a reason and whether the card is the ID number's")
    func cardChecks() async throws {
        let psb = try await fixtures.department()
        let (resident, card) = try await fixtures.activeCard()
        let other = try await fixtures.resident()
        let purpose = try Fixtures.purpose()
        let answers = try await disclosures.check(
            [
                .init(cardNumber: card.number, idNumber: resident.idNumber),
                .init(cardNumber: card.number, idNumber: other.idNumber), .init(cardNumber: card.number),
                .init(cardNumber: "3309000000999"),
            ], purpose: purpose, actor: psb.actor)
        #expect(answers.map(\.reason) == [.active, .active, .active, .unknown])
        #expect(answers.map(\.holderMatches) == [true, false, nil, nil])
        await expectError(.purposeRequired) {
            try await disclosures.check([.init(cardNumber: card.number)], purpose: nil, actor: psb.actor)
        }
        await expectError(.invalidField) {
            try await disclosures.check(
                [.init(cardNumber: card.number, idNumber: "12")], purpose: purpose, actor: psb.actor)
        }
        // A terminal checks without purpose headers; after the holder's death the card is blocked.
        let terminal = try await fixtures.acquirer().actor
        _ = try await feeds.apply(
            .init(
                messageId: "D", kind: "death", idNumber: resident.idNumber,
                occurredOn: world.env.clock.now().calendarDate().iso8601),
            actor: psb.actor)
        let blocked = try await disclosures.check([.init(cardNumber: card.number)], purpose: nil, actor: terminal)
        #expect(
            blocked.count == 1 && !blocked[0].valid && blocked[0].reason == .blocked && blocked[0].holderMatches == nil)
        await expectError(.forbidden) {
            try await disclosures.check([.init(cardNumber: card.number)], purpose: nil, actor: staff.clerk)
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}

/// A feed file's chunk decided together (`FeedService.applyBatch`) answers and changes exactly
/// what the same messages applied one by one do.
@Suite("Feed chunks")
struct FeedChunkTests {
    struct Side {
        let world: TestWorld
        let staff: TestWorld.Staff
        let fixtures: Fixtures
        let department: Fixtures.DepartmentClientFixture
        var residents: [Fixtures.Resident] = []

        init() async throws {
            world = try await TestWorld()
            staff = try await world.seedReferenceData()
            fixtures = Fixtures(world: world, staff: staff)
            department = try await fixtures.department(code: "HRSS", kind: "human_resources_social_security")
            residents.append(try await fixtures.resident(household: .local, insured: true))
            residents.append(try await fixtures.resident(household: .nonlocal, insured: true))
            residents.append(try await fixtures.activeCard(for: try await fixtures.resident(household: .nonlocal)).0)
            residents.append(try await fixtures.resident(household: .local, insured: false))
            residents.append(try await fixtures.activeCard().0)
        }

        func state() async throws -> [String] {
            var lines: [String] = []
            for resident in residents {
                let person = try #require(try await world.store.person(id: resident.person.id))
                let cases = try await world.store.cardCases(open: true, outletID: nil, limit: 50)
                    .filter { $0.personID == person.id }.map(\.kind.rawValue)
                // Fingerprints are keyed per world: each must match its own record.
                let details = try world.env.vault.open(person.details, personID: person.id)
                let fingerprinted = person.fingerprint == world.env.vault.fingerprint(details, person.attributes)
                lines.append(
                    "\(person.version) \(person.attributes) \(person.provenance.reason) \(fingerprinted) \(cases)")
            }
            return lines
        }
    }

    static func messages(_ r: [Fixtures.Resident], unknown: String) -> [FeedService.Message] {
        [
            .init(messageId: "A1", kind: "insurance_end", idNumber: r[0].idNumber),
            .init(messageId: "A2", kind: "insurance_enrolment", idNumber: r[1].idNumber),
            .init(messageId: "A3", kind: "insurance_end", idNumber: r[2].idNumber),
            .init(messageId: "A4", kind: "household_move", idNumber: r[3].idNumber, household: "mars"),
            .init(messageId: "A5", kind: "insurance_end", idNumber: unknown),
            .init(messageId: "A6", kind: "household_move", idNumber: r[3].idNumber),
            .init(messageId: "A7", kind: "insurance_enrolment", idNumber: r[0].idNumber),
            .init(messageId: "A8", kind: "insurance_end", idNumber: r[4].idNumber),
            .init(messageId: "A8", kind: "insurance_end", idNumber: r[4].idNumber),
            .init(messageId: "A9", kind: "death", idNumber: r[1].idNumber, occurredOn: "2026-01-01"),
        ]
    }

    static func summary(_ results: [FeedResult]) -> [String] {
        results.map { "\($0.messageId) \($0.outcome) \($0.code ?? "-") \($0.duplicate) \($0.cards.map(\.effect))" }
    }

    @Test("the same answers and the same records as one by one; a second run answers repeats")
    func sameAsOneByOne() async throws {
        let together = try await Side()
        let alone = try await Side()
        let unknown = together.fixtures.newIDNumber()
        _ = alone.fixtures.newIDNumber()
        let chunk = Self.messages(together.residents, unknown: unknown)
        #expect(chunk.map(\.idNumber) == Self.messages(alone.residents, unknown: unknown).map(\.idNumber))
        let feeds = FeedService(together.world.env)
        let batched = try await feeds.applyBatch(
            chunk, department: together.department.department, actor: together.department.actor)
        var single: [FeedResult] = []
        for message in chunk {
            single.append(try await FeedService(alone.world.env).apply(message, actor: alone.department.actor))
        }
        #expect(Self.summary(batched) == Self.summary(single))
        let (a, b) = (try await together.state(), try await alone.state())
        #expect(a == b, "\(a.joined(separator: "\n"))\n---\n\(b.joined(separator: "\n"))")
        let again = try await feeds.applyBatch(
            chunk, department: together.department.department, actor: together.department.actor)
        let repeats = again.filter { $0.outcome != .invalid }.map(\.duplicate)
        #expect(repeats.allSatisfy { $0 } && repeats.count == 9)
        #expect(try await together.world.store.verifyAuditChain().firstBad == nil)
    }
}

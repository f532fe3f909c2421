import CitizenCardDomain
import CitizenCardTesting
import DataProtection
import Foundation
import Storage
import StoragePostgres
import Testing

/// The storage contract: every backend must pass every test here (STYLE §3). The tests use the
/// protocols only; `Backend.allCases` lists the backends built in.
@Suite("Storage contract")
struct StorageContractTests {
    let ids = SequentialIDs()
    let t0 = Timestamp(iso8601: "2026-03-02T09:00:00+08:00")!

    func person(index: UInt8 = 1, version: Int64 = 1) -> SealedPerson {
        SealedPerson(
            id: Person.ID(rawValue: ids.next()), idIndex: Data(repeating: index, count: 16),
            fingerprint: Data(repeating: index &+ 100, count: 16), details: Data([1, 2, 3, index]),
            attributes: PersonAttributes(household: .local, socialInsurance: true, ruralMedical: false),
            version: version,
            provenance: Provenance(actor: "clerk", at: t0, reason: "registration", source: .outlet), createdAt: t0)
    }

    func outlet(_ code: String = "DH01") -> Outlet {
        Outlet(
            id: Outlet.ID(rawValue: ids.next()), code: code, name: "Hall", nameZh: "大厅", regionCode: "330902",
            address: "定海")
    }

    func card(of person: SealedPerson, outlet: Outlet, sequence: Int64, predecessor: Card.ID? = nil) -> Card {
        Card(
            id: Card.ID(rawValue: ids.next()), personID: person.id, kind: predecessor == nil ? .application : .reissue,
            number: CardNumbering.cardNumber(prefix: "3309", sequence: sequence),
            asn: CardNumbering.asn(prefix: "3309", sequence: sequence), channel: .individual, outletID: outlet.id,
            predecessorID: predecessor, at: t0)
    }

    func seeded(_ store: any CitizenCardStore) async throws -> (SealedPerson, Outlet) {
        let person = person()
        let outlet = outlet()
        var changes = ChangeSet()
        changes.add(.insertPerson(person))
        changes.add(.insertOutlet(outlet))
        try await store.commit(changes)
        return (person, outlet)
    }

    func context(_ time: Timestamp? = nil) -> LifecycleContext {
        LifecycleContext(now: time ?? t0, actor: "clerk", outletID: nil)
    }

    /// Commits each step as its own update and event; a step into a batch first inserts the batch.
    func walk(_ card: Card, through steps: [CardAction], in store: any CitizenCardStore) async throws -> Card {
        var card = card
        for step in steps {
            if case .addToBatch(let id) = step {
                var insert = ChangeSet()
                insert.add(
                    .insertBatch(
                        ProductionBatch(
                            id: id, number: "PB-\(id.rawValue.suffix(6))", cardCount: 1, createdAt: t0,
                            createdBy: "admin")))
                try await store.commit(insert)
            }
            let (next, event) = try card.applying(step, context: context())
            var update = ChangeSet()
            update.add(.updateCard(next, expectedVersion: card.version))
            update.add(.appendCardEvent(event))
            try await store.commit(update)
            card = next
        }
        return card
    }

    /// From an application to an issued card.
    var toActive: [CardAction] {
        [.approve, .addToBatch(ProductionBatch.ID(rawValue: ids.next())), .productionSucceeded, .deliver, .issue]
    }

    // MARK: Persons

    @Test("a person reads back as written, by id and by blind index", arguments: Backend.allCases)
    func personRoundTrip(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let written = person()
        var changes = ChangeSet()
        changes.add(.insertPerson(written))
        try await store.commit(changes)
        #expect(try await store.person(id: written.id) == written)
        #expect(try await store.person(idIndex: written.idIndex) == written)
        #expect(try await store.person(idIndex: Data(repeating: 9, count: 16)) == nil)
        #expect(try await store.personCount() == 1)
        #expect(try await store.persons(after: nil, limit: 10) == [written])
    }

    @Test(
        "a second person with the same blind index is a duplicate and nothing is written", arguments: Backend.allCases)
    func duplicatePerson(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let first = person(index: 1)
        var changes = ChangeSet()
        changes.add(.insertPerson(first))
        try await store.commit(changes)
        var again = ChangeSet()
        let outlet = outlet()
        again.add(.insertOutlet(outlet))
        again.add(.insertPerson(person(index: 1)))
        again.record(AuditDraft(at: t0, actor: "clerk", action: "person.register", subject: "x", purpose: "test"))
        await #expect(throws: StorageError.duplicate(.personIDNumber)) { try await store.commit(again) }
        #expect(try await store.personCount() == 1)
        #expect(try await store.outlets().isEmpty, "the whole commit is undone")
        #expect(try await store.auditEntries(AuditFilter(), limit: 10).isEmpty)
    }

    @Test(
        "updating a person keeps the old version in the history; a stale version conflicts", arguments: Backend.allCases
    )
    func personVersions(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let original = person()
        var changes = ChangeSet()
        changes.add(.insertPerson(original))
        try await store.commit(changes)
        var second = original
        second.version = 2
        second.details = Data([9, 9])
        second.provenance = Provenance(
            actor: "supervisor", at: t0.adding(seconds: 60), reason: "name corrected", source: .outlet)
        var update = ChangeSet()
        update.add(.updatePerson(second, expectedVersion: 1))
        try await store.commit(update)
        #expect(try await store.person(id: original.id) == second)
        #expect(try await store.personVersions(id: original.id) == [original])
        var stale = second
        stale.version = 2
        var conflicting = ChangeSet()
        conflicting.add(.updatePerson(stale, expectedVersion: 1))
        await #expect(throws: StorageError.conflict(entity: "person")) { try await store.commit(conflicting) }
        #expect(try await store.personVersions(id: original.id).count == 1)
    }

    @Test("an ID number moves with its person; another person's ID number is refused", arguments: Backend.allCases)
    func idNumberChange(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let a = person(index: 1), b = person(index: 2)
        var changes = ChangeSet()
        changes.add(.insertPerson(a))
        changes.add(.insertPerson(b))
        try await store.commit(changes)
        func moved(_ person: SealedPerson, to index: UInt8) -> SealedPerson {
            var next = person
            next.idIndex = Data(repeating: index, count: 16)
            next.version += 1
            return next
        }
        let a2 = moved(a, to: 3)
        var first = ChangeSet()
        first.add(.updatePerson(a2, expectedVersion: 1))
        try await store.commit(first)
        #expect(try await store.person(idIndex: a2.idIndex)?.id == a.id)
        #expect(try await store.person(idIndex: a.idIndex) == nil)
        var taken = ChangeSet()
        taken.add(.updatePerson(moved(b, to: 3), expectedVersion: 1))
        await #expect(throws: StorageError.duplicate(.personIDNumber)) { try await store.commit(taken) }
        #expect(try await store.person(id: b.id) == b)
        var freed = ChangeSet()
        freed.add(.updatePerson(moved(b, to: 1), expectedVersion: 1))
        try await store.commit(freed)
        let audit = AuditDraft(at: t0, actor: "import", action: "person.import", subject: "f", purpose: "bulk")
        let outcomes = try await store.importPersons(
            [person(index: 2), person(index: 3), person(index: 2)], audit: audit)
        #expect(outcomes.first == .inserted && outcomes.last != .inserted && outcomes[1] != .inserted)
        #expect(try await store.personCount() == 3)
        if let postgres = store as? PostgresStore {
            #expect(try await postgres.personIDClaimMismatches() == 0, "the claims mirror the persons")
        }
    }

    @Test(
        "import inserts new persons and reports registered ones as unchanged or differing", arguments: Backend.allCases)
    func importOutcomes(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let a = person(index: 1), b = person(index: 2)
        let audit = AuditDraft(
            at: t0, actor: "import", action: "person.import", subject: "import:file.csv", purpose: "bulk")
        #expect(try await store.importPersons([a, b], audit: audit) == [.inserted, .inserted])
        var changed = person(index: 2)
        changed.fingerprint = Data(repeating: 77, count: 16)
        let again = try await store.importPersons([person(index: 1), changed, person(index: 3)], audit: audit)
        #expect(again == [.unchanged(a.id), .differs(b.id), .inserted])
        #expect(try await store.personCount() == 3)
        #expect(try await store.person(id: b.id) == b, "a differing row changes nothing")
        #expect(try await store.auditEntries(AuditFilter(action: "person.import"), limit: 10).count == 2)
    }

    // MARK: Cards

    @Test("a card round-trips with every optional field set", arguments: Backend.allCases)
    func cardRoundTrip(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        var card = card(of: person, outlet: outlet, sequence: 1)
        var changes = ChangeSet()
        changes.add(.insertCard(card))
        try await store.commit(changes)
        #expect(try await store.card(id: card.id) == card)
        #expect(try await store.card(number: card.number) == card)
        // Walk it to a cancelled, formerly lost card so that loss and cancellation columns are set.
        card = try await walk(
            card, through: toActive + [.reportPreLoss(channel: .phone), .reportWrittenLoss], in: store)
        #expect(try await store.card(id: card.id) == card)
        let cancellation = Cancellation(
            reason: .death, applicant: .relative, relationship: .child, documentReference: "死亡证明 123", at: t0)
        let (cancelled, event) = try card.applying(.cancel(cancellation), context: context())
        var update = ChangeSet()
        update.add(.updateCard(cancelled, expectedVersion: card.version))
        update.add(.appendCardEvent(event))
        try await store.commit(update)
        #expect(try await store.card(id: card.id) == cancelled)
        let events = try await store.cardEvents(cardID: card.id)
        #expect(events.map(\.sequence) == Array(2...9))
        #expect(events.last == event)
    }

    @Test("a person has at most one card in the pipeline and one held", arguments: Backend.allCases)
    func oneCardPerSlot(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        var first = ChangeSet()
        first.add(.insertCard(card(of: person, outlet: outlet, sequence: 1)))
        try await store.commit(first)
        var second = ChangeSet()
        second.add(.insertCard(card(of: person, outlet: outlet, sequence: 2)))
        await #expect(throws: StorageError.duplicate(.cardSlot)) { try await store.commit(second) }
        #expect(try await store.cards(personID: person.id).count == 1)
    }

    @Test("an update decided on a stale version conflicts and writes nothing", arguments: Backend.allCases)
    func staleCardUpdate(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        let card = card(of: person, outlet: outlet, sequence: 1)
        var insert = ChangeSet()
        insert.add(.insertCard(card))
        try await store.commit(insert)
        let (approved, approveEvent) = try card.applying(.approve, context: context())
        let (rejected, rejectEvent) = try card.applying(.reject(reason: "photo"), context: context())
        var a = ChangeSet()
        a.add(.updateCard(approved, expectedVersion: 1))
        a.add(.appendCardEvent(approveEvent))
        try await store.commit(a)
        var b = ChangeSet()
        b.add(.updateCard(rejected, expectedVersion: 1))
        b.add(.appendCardEvent(rejectEvent))
        b.record(AuditDraft(at: t0, actor: "x", action: "card.reject", subject: "card", purpose: "test"))
        await #expect(throws: StorageError.conflict(entity: "card")) { try await store.commit(b) }
        #expect(try await store.card(id: card.id)?.state == .approved)
        #expect(try await store.cardEvents(cardID: card.id).count == 1)
        #expect(try await store.auditEntries(AuditFilter(), limit: 10).isEmpty)
    }

    @Test("of 100 concurrent commits decided on the same card version exactly one wins", arguments: Backend.allCases)
    func concurrentCommits(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        var card = card(of: person, outlet: outlet, sequence: 1)
        var insert = ChangeSet()
        insert.add(.insertCard(card))
        try await store.commit(insert)
        card = try await walk(card, through: toActive + [.reportWrittenLoss], in: store)
        // A lost card: half the tasks reissue it (adding a successor), half cancel it.
        let lost = card
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<100 {
                let successor = self.card(
                    of: person, outlet: outlet, sequence: Int64(100 + index), predecessor: lost.id)
                let action: CardAction =
                    index % 2 == 0
                    ? .reissue(successor: successor.id)
                    : .cancel(
                        Cancellation(
                            reason: .holderRequest, applicant: .holder, relationship: nil, documentReference: "doc",
                            at: t0))
                let (next, event) = try lost.applying(action, context: context())
                var changes = ChangeSet()
                changes.add(.updateCard(next, expectedVersion: lost.version))
                changes.add(.appendCardEvent(event))
                if index % 2 == 0 { changes.add(.insertCard(successor)) }
                changes.record(
                    AuditDraft(
                        at: t0, actor: "task\(index)", action: "card.\(event.action.rawValue)",
                        subject: "card:\(lost.id)", purpose: "race"))
                group.addTask {
                    do {
                        try await store.commit(changes)
                        return true
                    } catch let error as StorageError {
                        guard case .conflict = error else {
                            if case .duplicate(.cardSlot) = error { return false }
                            throw error
                        }
                        return false
                    }
                }
            }
            var results: [Bool] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(outcomes.filter { $0 }.count == 1)
        let cards = try await store.cards(personID: person.id)
        #expect(cards.filter { $0.state.slot == .held }.count <= 1)
        #expect(cards.filter { $0.state.slot == .pipeline }.count <= 1)
        #expect(cards.count <= 2)
        #expect(try await store.cardEvents(cardID: lost.id).count == Int(lost.version))
        #expect(try await store.auditEntries(AuditFilter(), limit: 1000).count == 1)
        #expect(try await store.verifyAuditChain().isIntact)
    }

    @Test("cards with due time-based transitions are found", arguments: Backend.allCases)
    func dueTransitions(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        var card = card(of: person, outlet: outlet, sequence: 1)
        var insert = ChangeSet()
        insert.add(.insertCard(card))
        try await store.commit(insert)
        card = try await walk(card, through: toActive + [.reportPreLoss(channel: .phone)], in: store)
        #expect(try await store.cardsWithTransitionsDue(at: t0.adding(days: 4), limit: 10).isEmpty)
        #expect(try await store.cardsWithTransitionsDue(at: t0.adding(days: 5), limit: 10).map(\.id) == [card.id])
        #expect(try await store.cardsWithTransitionsDue(at: t0.adding(years: 11), limit: 10).map(\.id) == [card.id])
    }

    // MARK: Sequences, batches, receipts, staff, rules, fees, idempotency

    @Test("sequences hand out every value once, even to concurrent callers", arguments: Backend.allCases)
    func sequences(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        #expect(try await store.allocate(.card, count: 1) == 1)
        #expect(try await store.allocate(.card, count: 10) == 2)
        #expect(try await store.allocate(.receipt, count: 1) == 1)
        let values = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<50 { group.addTask { try await store.allocate(.card, count: 1) } }
            var all: [Int64] = []
            for try await value in group { all.append(value) }
            return all
        }
        #expect(Set(values).count == 50)
        #expect(values.min() == 12 && values.max() == 61)
    }

    @Test("reference data and sessions round-trip", arguments: Backend.allCases)
    func referenceData(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let outlet = outlet()
        let staff = Operator(
            id: Operator.ID(rawValue: ids.next()), username: "clerk", displayName: "柜员", role: .outletOperator,
            outletID: outlet.id, passwordHash: "$2b$04$hash")
        let rule = EligibilityRule(
            id: EligibilityRule.ID(rawValue: ids.next()), code: "seniors", title: "Seniors", titleZh: "老年人",
            criteria: [Criterion(.age, atLeast: 60), .household(.nonlocal)],
            effectiveFrom: CalendarDate(year: 2027, month: 1, day: 1)!)
        let fee = FeeEntry(item: .reissue, amount: Money(yuan: 20), effectiveFrom: t0, authority: "doc")
        let session = Session(
            tokenHash: Data(repeating: 5, count: 32), operatorID: staff.id, createdAt: t0,
            expiresAt: t0.adding(seconds: 3600))
        var changes = ChangeSet()
        changes.add(.insertOutlet(outlet))
        changes.add(.insertOperator(staff))
        changes.add(.insertEligibilityRule(rule))
        changes.add(.insertFeeEntry(fee))
        changes.add(.insertSession(session))
        changes.add(.putSetting(key: "k", value: "v"))
        changes.add(
            .saveIdempotencyRecord(
                IdempotencyRecord(
                    key: "key-1", requestHash: Data([1]), status: 201, response: Data("{}".utf8), createdAt: t0)))
        try await store.commit(changes)
        #expect(try await store.outlets() == [outlet])
        #expect(try await store.outlet(id: outlet.id) == outlet)
        #expect(try await store.operator(username: "clerk") == staff)
        #expect(try await store.operator(id: staff.id) == staff)
        #expect(try await store.operators() == [staff])
        #expect(try await store.eligibilityRules() == [rule])
        #expect(try await store.feeEntries() == [fee])
        #expect(try await store.session(tokenHash: session.tokenHash) == session)
        #expect(try await store.setting("k") == "v")
        #expect(try await store.idempotencyRecord(key: "key-1")?.status == 201)
        var more = ChangeSet()
        var ended = rule
        ended.effectiveUntil = CalendarDate(year: 2028, month: 1, day: 1)
        more.add(.updateEligibilityRule(ended))
        more.add(.deleteSession(tokenHash: session.tokenHash))
        more.add(.putSetting(key: "k", value: "w"))
        var deactivated = staff
        deactivated.active = false
        more.add(.updateOperator(deactivated))
        try await store.commit(more)
        #expect(try await store.eligibilityRules() == [ended])
        #expect(try await store.session(tokenHash: session.tokenHash) == nil)
        #expect(try await store.setting("k") == "w")
        #expect(try await store.operator(id: staff.id)?.active == false)
        var duplicate = ChangeSet()
        duplicate.add(
            .insertOutlet(
                Outlet(
                    id: Outlet.ID(rawValue: ids.next()), code: "DH01", name: "x", nameZh: "x", regionCode: "330902",
                    address: "")))
        await #expect(throws: StorageError.duplicate(.outletCode)) { try await store.commit(duplicate) }
        var key = ChangeSet()
        key.add(
            .saveIdempotencyRecord(
                IdempotencyRecord(key: "key-1", requestHash: Data([2]), status: 200, response: Data(), createdAt: t0)))
        await #expect(throws: StorageError.duplicate(.idempotencyKey)) { try await store.commit(key) }
    }

    @Test("batches and receipts round-trip", arguments: Backend.allCases)
    func batchesAndReceipts(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let (person, outlet) = try await seeded(store)
        let card = card(of: person, outlet: outlet, sequence: 1)
        let staff = Operator(
            id: Operator.ID(rawValue: ids.next()), username: "clerk", displayName: "c", role: .outletOperator,
            outletID: outlet.id, passwordHash: "h")
        var batch = ProductionBatch(
            id: ProductionBatch.ID(rawValue: ids.next()), number: "PB000001", cardCount: 1, createdAt: t0,
            createdBy: "admin")
        let receipt = Receipt(
            id: Receipt.ID(rawValue: ids.next()), number: "RDH01-00000001", at: t0, outletID: outlet.id,
            operatorID: staff.id, personID: person.id, cardID: card.id, item: .reissue, amount: Money(yuan: 20))
        var changes = ChangeSet()
        changes.add(.insertOperator(staff))
        changes.add(.insertCard(card))
        changes.add(.insertBatch(batch))
        changes.add(.insertReceipt(receipt))
        try await store.commit(changes)
        #expect(try await store.batch(id: batch.id) == batch)
        #expect(try await store.batches(limit: 5) == [batch])
        #expect(try await store.receipt(id: receipt.id) == receipt)
        #expect(try await store.receipts(outletID: outlet.id, from: t0, until: t0.adding(days: 1)) == [receipt])
        #expect(
            try await store.receipts(outletID: outlet.id, from: t0.adding(seconds: 1), until: t0.adding(days: 1))
                .isEmpty)
        batch.state = .produced
        batch.producedAt = t0.adding(days: 1)
        batch.version = 2
        var update = ChangeSet()
        update.add(.updateBatch(batch, expectedVersion: 1))
        try await store.commit(update)
        #expect(try await store.batch(id: batch.id) == batch)
        var stale = ChangeSet()
        stale.add(.updateBatch(batch, expectedVersion: 1))
        await #expect(throws: StorageError.conflict(entity: "production batch")) { try await store.commit(stale) }
    }

    // MARK: Audit

    @Test("audit entries chain, filter and verify", arguments: Backend.allCases)
    func auditChain(backend: Backend) async throws {
        let directory = TemporaryDirectory()
        let store = try await backend.makeStore(in: directory)
        let personID = Person.ID(rawValue: ids.next())
        for index in 0..<5 {
            var changes = ChangeSet()
            changes.record(
                AuditDraft(
                    at: t0.adding(seconds: Int64(index)), actor: index % 2 == 0 ? "clerk" : "admin",
                    action: "person.read", subject: "person:\(personID)", personID: index < 3 ? personID : nil,
                    purpose: "counter service", detail: #"{"n":\#(index)}"#))
            try await store.commit(changes)
        }
        let all = try await store.auditEntries(AuditFilter(), limit: 100)
        #expect(all.map(\.draft.at) == (0..<5).reversed().map { t0.adding(seconds: Int64($0)) }, "newest first")
        // Each lane is a chain of its own: sequences from 1, each entry linked to the one before.
        for lane in Set(all.map(\.lane)) {
            let chain = all.filter { $0.lane == lane }.sorted { $0.sequence < $1.sequence }
            #expect(chain.map(\.sequence) == Array(1...Int64(chain.count)))
            #expect(chain.first?.previousHash == AuditChain.genesis)
            for (older, newer) in zip(chain, chain.dropFirst()) { #expect(newer.previousHash == older.hash) }
        }
        // One person's entries stay in one lane.
        #expect(Set(all.filter { $0.draft.personID == personID }.map(\.lane)).count == 1)
        #expect(try await store.auditEntries(AuditFilter(actor: "clerk"), limit: 100).count == 3)
        #expect(try await store.auditEntries(AuditFilter(personID: personID), limit: 100).count == 3)
        #expect(try await store.auditEntries(AuditFilter(from: t0.adding(seconds: 3)), limit: 100).count == 2)
        let page = try await store.auditEntries(AuditFilter(), limit: 2)
        let rest = try await store.auditEntries(AuditFilter(before: page.last?.cursor), limit: 100)
        #expect(page + rest == all, "paging by cursor gives every entry once, in order")
        let verification = try await store.verifyAuditChain()
        #expect(verification.isIntact)
        #expect(verification.entriesChecked == 5)
    }

    @Test("the verifier names the first bad entry of any lane", arguments: Backend.allCases)
    func verifierLanes(backend: Backend) throws {
        func entry(lane: Int, sequence: Int64, previous: Data) -> AuditEntry {
            let draft = AuditDraft(at: t0, actor: "a", action: "x", subject: "s\(lane)", purpose: "p")
            return AuditEntry(
                lane: lane, sequence: sequence, draft: draft, previousHash: previous,
                hash: AuditChain.hash(previous: previous, sequence: sequence, draft: draft))
        }
        let a1 = entry(lane: 0, sequence: 1, previous: AuditChain.genesis)
        let a2 = entry(lane: 0, sequence: 2, previous: a1.hash)
        let b1 = entry(lane: 1, sequence: 1, previous: AuditChain.genesis)
        var intact = AuditChain.Verifier(laneCount: 3)
        for item in [a1, a2, b1] {
            let good = intact.check(item)
            #expect(good)
        }
        let heads = [(Int64(2), a2.hash), (Int64(1), b1.hash), (Int64(0), AuditChain.genesis)]
        #expect(intact.finish(heads: heads).isIntact)
        var tampered = b1
        tampered.draft.actor = "b"
        var edited = AuditChain.Verifier(laneCount: 3)
        for item in [a1, a2, tampered] { _ = edited.check(item) }
        #expect(edited.finish(heads: heads).firstBad == .init(lane: 1, sequence: 1, problem: .contentAltered))
        var truncated = AuditChain.Verifier(laneCount: 3)
        for item in [a1, b1] { _ = truncated.check(item) }
        #expect(truncated.finish(heads: heads).firstBad == .init(lane: 0, sequence: 2, problem: .headMismatch))
        #expect(backend == backend)
    }
}

import CitizenCardDomain
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Storage
import Testing

/// 200 clients doing conflicting lifecycle work on 50 cards for 30 seconds (issue 3): afterwards
/// no update is lost, nobody holds two cards, every fee was charged exactly once, and the audit
/// chain verifies. `CITIZENCARD_LOAD_SECONDS` changes the duration.
@Suite("Concurrency under load", .serialized)
struct LoadTests {
    static var seconds: Int { Int(ProcessInfo.processInfo.environment["CITIZENCARD_LOAD_SECONDS"] ?? "") ?? 30 }

    /// What the clients observed, to compare with what the database holds.
    actor Tally {
        var succeeded: [String: Int] = [:]
        var failed: [String: Int] = [:]
        var feesFen: Int64 = 0
        var receipts = 0

        func record(_ operation: String, _ result: Result<CardServiceResult?, CitizenCardError>) {
            switch result {
            case .success(let value):
                succeeded[operation, default: 0] += 1
                if let receipt = value?.receipt {
                    receipts += 1
                    feesFen += receipt.amount.fen
                }
            case .failure(let error): failed[error.code.rawValue, default: 0] += 1
            }
        }
    }

    @Test(
        "200 clients, 50 cards, conflicting lifecycle operations: no lost update, one live card, fees once, audit intact",
        .enabled(if: Backend.postgresURL != nil, "runs on PostgreSQL: set CITIZENCARD_TEST_POSTGRES_URL"))
    func conflictingLoad() async throws {
        let world = try await TestWorld(backend: .postgres, connectionsMax: 40)
        let staff = try await world.seedReferenceData()
        let fixtures = Fixtures(world: world, staff: staff)
        var residents: [Fixtures.Resident] = []
        for _ in 0..<50 { residents.append(try await fixtures.activeCard().0) }
        let tally = Tally()
        let deadline = ContinuousClock.now + .seconds(Self.seconds)
        let shared = residents
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<200 {
                group.addTask {
                    var random = SplitMix(seed: UInt64(client) &* 0x9E37_79B9 &+ 1)
                    while ContinuousClock.now < deadline {
                        let resident = shared[Int(random.next() % UInt64(shared.count))]
                        let (operation, result) = await Self.step(resident, fixtures: fixtures, random: &random)
                        await tally.record(operation, result)
                    }
                }
            }
            try await group.waitForAll()
        }
        let succeeded = await tally.succeeded, failed = await tally.failed
        let operations = succeeded.values.reduce(0, +)
        print(
            "load: \(Self.seconds) s, 200 clients, 50 cards: \(operations) operations succeeded \(succeeded.sorted { $0.key < $1.key }), refused \(failed.sorted { $0.key < $1.key })"
        )
        #expect(operations > 200, "the clients got work done: \(succeeded) refused: \(failed)")
        #expect(
            failed.keys.allSatisfy {
                [
                    "conflict", "transition_not_allowed", "successor_exists", "application_exists", "live_card_exists",
                    "batch_not_open", "invalid_field",
                ].contains($0)
            }, "\(failed)")
        try await Self.checkInvariants(world: world, residents: residents, tally: tally)
    }

    /// One operation chosen from what the person's cards allow, as a counter clerk would.
    static func step(
        _ resident: Fixtures.Resident, fixtures: Fixtures, random: inout SplitMix
    ) async
        -> (String, Result<CardServiceResult?, CitizenCardError>)
    {
        let cards = fixtures.cards, staff = fixtures.staff
        let identity = fixtures.identity(resident)
        let all: [Card]
        do { all = try await fixtures.world.store.cards(personID: resident.person.id) } catch {
            return ("read", .failure(CitizenCardError(.unavailable)))
        }
        let held = all.first { $0.state.slot == .held }
        let pipeline = all.first { $0.state.slot == .pipeline }
        let choice = random.next() % 4
        func run(
            _ name: String, _ body: () async throws -> CardServiceResult?
        ) async -> (String, Result<CardServiceResult?, CitizenCardError>) {
            do { return (name, .success(try await body())) } catch let error as CitizenCardError {
                return (name, .failure(error))
            } catch {
                return (name, .failure(CitizenCardError(.internal, "\(type(of: error))")))
            }
        }
        if let pipeline, choice < 2 {
            return await run("produce and issue") {
                if pipeline.state == .applied {
                    _ = try await cards.verify(pipeline.id, decision: .approve, reason: nil, actor: staff.supervisor)
                }
                _ = try await fixtures.produceAndDeliver(CardView(pipeline))
                return try await cards.issue(pipeline.id, identity: identity, actor: staff.clerk)
            }
        }
        guard let held else {
            return await run("apply") { try await cards.apply(.init(personId: resident.person.id), actor: staff.clerk) }
        }
        switch (held.state, choice) {
        case (.active, 0):
            return await run("loss") {
                try await cards.reportWrittenLoss(held.id, identity: identity, actor: staff.clerk)
            }
        case (.active, 1):
            return await run("pre-loss") {
                try await cards.reportPreLoss(held.id, idNumber: resident.idNumber, channel: .phone, actor: staff.clerk)
            }
        case (.active, 2):
            return await run("replace") {
                try await cards.replace(held.id, .init(identity: identity, reason: .damaged), actor: staff.clerk)
            }
        case (.active, _):
            return await run("cancel") {
                try await cards.cancel(
                    held.id,
                    .init(
                        reason: .holderRequest, applicant: .holder, documentReference: "load test", identity: identity),
                    actor: staff.clerk)
            }
        case (_, 0), (_, 1):
            return await run("withdraw") {
                try await cards.withdrawLoss(held.id, identity: identity, actor: staff.clerk)
            }
        case (.preLost, _):
            return await run("loss") {
                try await cards.reportWrittenLoss(held.id, identity: identity, actor: staff.clerk)
            }
        default:
            return await run("reissue") {
                try await cards.reissue(held.id, .init(identity: identity), actor: staff.clerk)
            }
        }
    }

    static func checkInvariants(world: TestWorld, residents: [Fixtures.Resident], tally: Tally) async throws {
        let store = world.store
        var receiptsInCards = 0
        for resident in residents {
            let cards = try await store.cards(personID: resident.person.id)
            #expect(cards.filter { $0.state.slot == .held }.count <= 1, "never two held cards")
            #expect(cards.filter { $0.state.slot == .pipeline }.count <= 1, "never two cards in production")
            for card in cards {
                let events = try await store.cardEvents(cardID: card.id)
                // No lost update: every version of the card has exactly its one event.
                #expect(
                    events.map(\.sequence) == Array(1...card.version), "card events are contiguous up to the version")
                #expect(events.last?.to == card.state)
                for event in events where event.action == .create && event.receiptID != nil {
                    let receipt = try #require(try await store.receipt(id: event.receiptID!))
                    #expect(receipt.cardID == card.id)
                    receiptsInCards += 1
                }
            }
        }
        // Every fee exactly once: one receipt per card created with a fee, as many as the clients
        // were told about (the 50 cards issued before the load have theirs too).
        let clientReceipts = await tally.receipts
        #expect(receiptsInCards == clientReceipts + residents.count)
        let verification = try await store.verifyAuditChain()
        #expect(verification.isIntact, "the audit chain verifies")
    }
}

/// A small deterministic random generator for the load clients.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

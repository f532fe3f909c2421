public import CitizenCardDomain
public import CitizenCardServices
public import Foundation

/// Makes residents and cards in any stage through the real use cases.
public struct Fixtures: Sendable {
    public let world: TestWorld
    public let staff: TestWorld.Staff
    private let counter = Counter()

    public init(world: TestWorld, staff: TestWorld.Staff) {
        self.world = world
        self.staff = staff
    }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.withLock {
                value += 1; return value
            }
        }
    }

    public var registry: RegistryService { RegistryService(world.env) }
    public var cards: CardService { CardService(world.env) }
    public var production: ProductionService { ProductionService(world.env) }

    /// A valid, not yet registered resident ID number (Dinghai, born 1985 + n days).
    public func newIDNumber() -> String {
        let n = counter.next()
        let birth = CalendarDate(daysSinceEpoch: 5_500 + Int64(n / 500))
        return ResidentID.make(region: "330902", birth: birth, sequence: n % 500 * 2 + 1).number
    }

    public static let names = ["王小明", "李秀英", "张伟", "陈静怡", "欧阳娜娜", "周建国"]

    public struct Resident: Sendable {
        public var person: PersonView
        public var idNumber: String
        public var name: String
    }

    /// A registered local resident with a portrait, eligible for a card.
    public func resident(
        name: String? = nil, household: Household = .local, insured: Bool = true, photo: Bool = true
    ) async throws -> Resident {
        let number = newIDNumber()
        let chosen = name ?? Self.names[counter.next() % Self.names.count]
        var person = try await registry.register(
            .init(
                idNumber: number, name: chosen, phone: "13805801234", address: "浙江省舟山市定海区解放路1号",
                employer: "舟山港集团", household: household, socialInsurance: insured, ruralMedical: false),
            actor: staff.clerk)
        if photo { person = try await registry.storePhoto(person.id, bytes: Self.png, actor: staff.clerk) }
        return Resident(person: person, idNumber: number, name: chosen)
    }

    public func identity(_ resident: Resident) -> CardService.IdentityCheck {
        .init(idNumber: resident.idNumber, documentChecked: true)
    }

    /// A cash refund paid to the holder on their own identity document.
    public func holderPayout(_ resident: Resident, channel: String = "cash") -> PurseClosureService.Payout {
        .init(channel: channel, payee: .init(kind: .holder, idNumber: resident.idNumber, documentChecked: true))
    }

    /// An application (state `applied`) at the clerk's outlet.
    public func application(for given: Resident? = nil) async throws -> (Resident, CardView) {
        let resident: Resident
        if let given { resident = given } else { resident = try await self.resident() }
        let result = try await cards.apply(.init(personId: resident.person.id), actor: staff.clerk)
        return (resident, result.card)
    }

    /// Takes a card from `approved` to `delivered` through a batch of its own.
    public func produceAndDeliver(_ card: CardView) async throws -> CardView {
        let batch = try await production.createBatch(.init(cardIds: [card.id]), actor: staff.admin)
        _ = try await production.recordResults(
            batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }),
            actor: staff.admin)
        _ = try await production.deliver(batch.batch.id, actor: staff.admin)
        return try await cards.card(card.id, actor: staff.admin)
    }

    /// A resident with an active card issued at the clerk's outlet.
    public func activeCard(for resident: Resident? = nil) async throws -> (Resident, CardView) {
        let (resident, applied) = try await application(for: resident)
        _ = try await cards.verify(applied.id, decision: .approve, reason: nil, actor: staff.supervisor)
        _ = try await produceAndDeliver(applied)
        let issued = try await cards.issue(applied.id, identity: identity(resident), actor: staff.clerk)
        return (resident, issued.card)
    }

    /// A card in `state`, made through the use cases.
    public func card(in state: CardState) async throws -> (Resident, CardView) {
        switch state {
        case .applied:
            return try await application()
        case .rejected, .approved:
            let (resident, card) = try await application()
            let decision: CardService.Decision = state == .approved ? .approve : .reject
            return (
                resident,
                try await cards.verify(card.id, decision: decision, reason: "photo unclear", actor: staff.supervisor)
                    .card
            )
        case .inProduction, .produced, .delivered:
            let (resident, card) = try await application()
            _ = try await cards.verify(card.id, decision: .approve, reason: nil, actor: staff.supervisor)
            let batch = try await production.createBatch(.init(cardIds: [card.id]), actor: staff.admin)
            if state != .inProduction {
                _ = try await production.recordResults(
                    batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }),
                    actor: staff.admin)
            }
            if state == .delivered { _ = try await production.deliver(batch.batch.id, actor: staff.admin) }
            return (resident, try await cards.card(card.id, actor: staff.admin))
        case .active:
            return try await activeCard()
        case .preLost:
            let (resident, card) = try await activeCard()
            return (
                resident,
                try await cards.reportPreLoss(card.id, idNumber: resident.idNumber, channel: .phone, actor: staff.clerk)
                    .card
            )
        case .lost:
            let (resident, card) = try await activeCard()
            return (
                resident,
                try await cards.reportWrittenLoss(card.id, identity: identity(resident), actor: staff.clerk).card
            )
        case .replaced:
            let (resident, card) = try await card(in: .lost)
            return (
                resident, try await cards.reissue(card.id, .init(identity: identity(resident)), actor: staff.clerk).card
            )
        case .cancelled:
            let (resident, card) = try await activeCard()
            return (
                resident,
                try await cards.cancel(
                    card.id,
                    .init(
                        reason: .holderRequest, applicant: .holder, documentReference: "申请书 2026-001",
                        identity: identity(resident)), actor: staff.clerk
                ).card
            )
        case .expired:
            let (resident, card) = try await activeCard()
            world.clock.advance(days: 366 * 10 + 3)
            _ = try await cards.recordDueTransitions()
            return (resident, try await cards.card(card.id, actor: staff.admin))
        }
    }

    /// A real 1×1 PNG.
    public static let png = Data([
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF,
        0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ])
}

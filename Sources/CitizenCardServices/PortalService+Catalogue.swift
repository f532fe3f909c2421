public import CitizenCardDomain
import Storage

/// The service catalogue (R-35, Art 14): the center publishes services and withdraws them;
/// anyone logged in lists them; a holder activates one for their card.
extension PortalService {
    /// A service the center publishes.
    public struct NewCatalogueService: Codable, Sendable {
        /// 2-32 of `a-z 0-9 -`, starting with a letter; never reused.
        public var code: String
        public var name: String
        public var nameZh: String
        public var description: String
        public var descriptionZh: String
        /// Today or later (Asia/Shanghai); holders may activate it from this day on.
        public var effectiveFrom: CalendarDate

        public init(
            code: String, name: String, nameZh: String, description: String, descriptionZh: String,
            effectiveFrom: CalendarDate
        ) {
            self.code = code
            self.name = name
            self.nameZh = nameZh
            self.description = description
            self.descriptionZh = descriptionZh
            self.effectiveFrom = effectiveFrom
        }
    }

    /// Names are 1-100 characters, descriptions 1-1000.
    static let nameLengthMax = 100
    static let descriptionLengthMax = 1000

    /// Publishes a service (permission `administer`). A code used before, even by a withdrawn
    /// service, is a `conflict`.
    public func publishService(
        _ request: NewCatalogueService, actor: Actor
    ) async throws(CitizenCardError) -> CatalogueEntry {
        try actor.require(.administer)
        try CatalogueEntry.validate(code: request.code)
        let entry = CatalogueEntry(
            code: request.code,
            name: try Self.text(request.name, field: "name", lengthMax: Self.nameLengthMax, kind: .name),
            nameZh: try Self.text(request.nameZh, field: "nameZh", lengthMax: Self.nameLengthMax, kind: .name),
            description: try Self.text(
                request.description, field: "description", lengthMax: Self.descriptionLengthMax),
            descriptionZh: try Self.text(
                request.descriptionZh, field: "descriptionZh", lengthMax: Self.descriptionLengthMax),
            effectiveFrom: request.effectiveFrom, publishedAt: env.clock.now(), publishedBy: actor.name)
        guard entry.effectiveFrom >= env.today else {
            throw CitizenCardError.invalid(
                "effectiveFrom", "a service takes effect today or later", zh: "生效日期须为今天或以后")
        }
        if try await env.fetch(try await env.store.catalogueEntry(code: entry.code)) != nil {
            throw CitizenCardError(
                .conflict, field: "code", "the code is taken (codes are never reused)", zh: "该服务代码已使用过")
        }
        var changes = ChangeSet()
        changes.add(.insertCatalogueEntry(entry))
        changes.record(
            AuditDraft(
                at: entry.publishedAt, actor: actor.name, action: "portal.catalogue.publish",
                subject: "service:\(entry.code)", purpose: "service catalogue",
                detail: RegistryService.json(["from": entry.effectiveFrom.iso8601])))
        try await env.commit(changes)
        return entry
    }

    /// Withdraws a service (permission `administer`): no longer listed nor activated; the
    /// activations made before are kept. A second withdrawal is a `conflict`.
    public func withdrawService(code: String, actor: Actor) async throws(CitizenCardError) -> CatalogueEntry {
        try actor.require(.administer)
        let stored = try await entry(code)
        guard !stored.isWithdrawn else {
            throw CitizenCardError(.conflict, field: "code", "the service is already withdrawn", zh: "该服务已停办")
        }
        var entry = stored
        entry.withdrawnAt = env.clock.now()
        entry.withdrawnBy = actor.name
        entry.version = stored.version + 1
        var changes = ChangeSet()
        changes.add(.updateCatalogueEntry(entry, expectedVersion: stored.version))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "portal.catalogue.withdraw",
                subject: "service:\(entry.code)", purpose: "service catalogue"))
        try await env.commit(changes)
        return entry
    }

    /// The published services, by code, for staff (permission `read_cards`); upcoming ones are
    /// included (see `effectiveFrom`). Withdrawn ones too when asked, for `administer` only.
    public func catalogue(
        actor: Actor, includeWithdrawn: Bool = false
    ) async throws(CitizenCardError)
        -> [CatalogueEntry]
    {
        try actor.require(includeWithdrawn ? .administer : .readCards)
        let entries = try await env.fetch(try await env.store.catalogueEntries())
        return includeWithdrawn ? entries : entries.filter { !$0.isWithdrawn }
    }

    /// The published services, by code, for a logged-in holder; upcoming ones included.
    public func catalogue(_ principal: CitizenPrincipal) async throws(CitizenCardError) -> [CatalogueEntry] {
        try await env.fetch(try await env.store.catalogueEntries()).filter { !$0.isWithdrawn }
    }

    /// The holder activates a service for the card they logged in with, recorded with the time.
    ///
    /// Errors, in this order: `not_found` (no such code); `conflict` (withdrawn); `not_yet_due`
    /// (before its `effectiveFrom`); `transition_not_allowed` (the card is not active, e.g.
    /// reported lost); `conflict` (already activated for this card).
    public func activateService(
        _ principal: CitizenPrincipal, serviceCode: String
    ) async throws(CitizenCardError) -> ServiceActivation {
        let entry = try await entry(serviceCode.trimmingSpaces.lowercased())
        guard !entry.isWithdrawn else {
            throw CitizenCardError(
                .conflict, field: "serviceCode", "the service has been withdrawn", zh: "该服务已停止办理")
        }
        guard entry.effectiveFrom <= env.today else {
            throw CitizenCardError(
                .notYetDue, field: "serviceCode", "the service starts on \(entry.effectiveFrom)",
                zh: "该服务自\(entry.effectiveFrom)起办理")
        }
        let card = try await cards.load(principal.cardID)
        guard effectiveState(card).isUsable else {
            throw CitizenCardError(
                .transitionNotAllowed, "only an active card can take on a service", zh: "只有正常状态的卡可以开通服务")
        }
        let existing = try await env.fetch(try await env.store.serviceActivations(cardID: card.id))
        guard !existing.contains(where: { $0.serviceCode == entry.code }) else {
            throw CitizenCardError(
                .conflict, field: "serviceCode", "the card already has this service", zh: "此卡已开通该服务")
        }
        let activation = ServiceActivation(
            id: env.ids.make(), cardID: card.id, personID: card.personID, serviceCode: entry.code,
            activatedAt: env.clock.now())
        var changes = ChangeSet()
        changes.add(.insertServiceActivation(activation))
        changes.record(
            audit(
                card, actor: principal.actorName, action: "portal.service.activate", purpose: "service activation",
                detail: ["service": entry.code]))
        try await env.commit(changes)
        return activation
    }

    /// A card's activations, oldest first, for staff (permission `read_cards`); audited, since
    /// they tell which services a person uses.
    public func activations(of cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> [ServiceActivation] {
        try actor.require(.readCards)
        let card = try await cards.load(cardID)
        let activations = try await env.fetch(try await env.store.serviceActivations(cardID: cardID))
        var changes = ChangeSet()
        changes.record(
            audit(card, actor: actor.name, action: "portal.activations.read", purpose: "counter service"))
        try await env.commit(changes)
        return activations
    }

    func entry(_ code: String) async throws(CitizenCardError) -> CatalogueEntry {
        guard let entry = try await env.fetch(try await env.store.catalogueEntry(code: code)) else {
            throw CitizenCardError.notFound("service")
        }
        return entry
    }

    /// Trimmed text of 1-`lengthMax` characters within the text rule for `kind`.
    static func text(
        _ value: String, field: String, lengthMax: Int, kind: TextRule.Kind = .multiline
    ) throws(CitizenCardError) -> String {
        let trimmed = value.trimmingSpaces
        guard (1...lengthMax).contains(trimmed.count) else {
            throw CitizenCardError.invalid(
                field, "give 1-\(lengthMax) characters", zh: "请填写1至\(lengthMax)个字符")
        }
        try TextRule.check(trimmed, field: field, kind: kind)
        return trimmed
    }
}

import CitizenCardDomain

/// A mutable copy of every field of a `Card`, so that a test can state the exact card it expects
/// after a transition (the card's own setters are internal to the domain module).
struct CardFields {
    var id: Card.ID
    var personID: Person.ID
    var kind: Card.Kind
    var state: CardState
    var number: String
    var asn: String
    var channel: ApplicationChannel
    var outletID: Outlet.ID
    var predecessorID: Card.ID?
    var successorID: Card.ID?
    var batchID: ProductionBatch.ID?
    var appliedAt: Timestamp
    var approvedAt: Timestamp?
    var issuedAt: Timestamp?
    var expiresAt: Timestamp?
    var loss: LossReport?
    var note: String?
    var replacementReason: ReplacementReason?
    var cancellation: Cancellation?
    var closedAt: Timestamp?
    var version: Int64
    var updatedAt: Timestamp

    init(_ card: Card) {
        id = card.id
        personID = card.personID
        kind = card.kind
        state = card.state
        number = card.number
        asn = card.asn
        channel = card.channel
        outletID = card.outletID
        predecessorID = card.predecessorID
        successorID = card.successorID
        batchID = card.batchID
        appliedAt = card.appliedAt
        approvedAt = card.approvedAt
        issuedAt = card.issuedAt
        expiresAt = card.expiresAt
        loss = card.loss
        note = card.note
        replacementReason = card.replacementReason
        cancellation = card.cancellation
        closedAt = card.closedAt
        version = card.version
        updatedAt = card.updatedAt
    }

    var card: Card {
        Card(
            stored: id, personID: personID, kind: kind, state: state, number: number, asn: asn, channel: channel,
            outletID: outletID, predecessorID: predecessorID, successorID: successorID, batchID: batchID,
            appliedAt: appliedAt, approvedAt: approvedAt, issuedAt: issuedAt, expiresAt: expiresAt, loss: loss,
            note: note, replacementReason: replacementReason, cancellation: cancellation, closedAt: closedAt,
            version: version, updatedAt: updatedAt)
    }
}

/// Fixed times, ids and actions shared by the lifecycle tests.
enum Fixture {
    /// "Now" for every single-step test: 2026-11-29 10:00 in Asia/Shanghai.
    static let now = Timestamp.at("2026-11-29T10:00:00+08:00")
    static let policy = LifecyclePolicy.default
    static let outlet: Outlet.ID = fixedID(500)
    static let context = LifecycleContext(now: now, policy: policy, actor: "op-dh01", outletID: outlet)
    static let batch: ProductionBatch.ID = fixedID(800)
    static let successor: Card.ID = fixedID(900)
    static let cardID: Card.ID = fixedID(100)
    static let personID: Person.ID = fixedID(200)
    static let cancellation = Cancellation(
        reason: .death, applicant: .relative, relationship: .child, documentReference: "死亡医学证明 330902-2026-0001",
        at: now)
    /// Given with surrounding ASCII and ideographic spaces; stored trimmed.
    static let rejectReason = "  portrait does not meet the standard\u{3000}"
    static let rejectReasonTrimmed = "portrait does not meet the standard"
    static let failureReason = "\tchip initialisation failed \n"
    static let failureReasonTrimmed = "chip initialisation failed"

    static func context(at time: Timestamp, actor: String = "op-dh01") -> LifecycleContext {
        LifecycleContext(now: time, policy: policy, actor: actor, outletID: outlet)
    }

    /// A representative action of each kind; its guards pass on the card `card(in:for:)` builds.
    static func action(_ kind: CardAction.Kind, successor: Card.ID = successor) -> CardAction {
        switch kind {
        case .approve: .approve
        case .reject: .reject(reason: rejectReason)
        case .addToBatch: .addToBatch(batch)
        case .productionSucceeded: .productionSucceeded
        case .productionFailed: .productionFailed(reason: failureReason)
        case .deliver: .deliver
        case .issue: .issue
        case .reportPreLoss: .reportPreLoss(channel: .phone)
        case .reportWrittenLoss: .reportWrittenLoss
        case .withdrawLoss: .withdrawLoss
        case .expirePreLoss: .expirePreLoss
        case .reissue: .reissue(successor: successor)
        case .requestReplacement: .requestReplacement(reason: .damaged, successor: successor)
        case .renew: .renew(successor: successor)
        case .supersede: .supersede
        case .cancel: .cancel(cancellation)
        case .expire: .expire
        case .create: preconditionFailure("create records a new card; it is not an action on one")
        }
    }

    /// A card in `state` whose fields are what that state implies, set up so that an action of
    /// `kind` meets its guards when the pair is allowed:
    /// - `expire`: the card expired an hour ago; otherwise it expires in 200 days (outside the
    ///   renewal window), or in 30 days for `renew` (inside it); an `expired` card expired 30 days ago;
    /// - `expire_pre_loss`: the pre-loss lapsed an hour ago; otherwise it lapses in four days;
    /// - `supersede`: a successor is recorded; otherwise none is (except on a `replaced` card).
    static func card(in state: CardState, for kind: CardAction.Kind? = nil) -> Card {
        var fields = CardFields(
            Card(
                id: cardID, personID: personID, kind: .application, number: "3309000000010",
                asn: "33090001000000000001", channel: .individual, outletID: outlet, predecessorID: nil,
                at: now.adding(days: -400)))
        fields.state = state
        fields.version = 7
        fields.updatedAt = now.adding(days: -1)
        if state != .applied && state != .rejected { fields.approvedAt = now.adding(days: -399) }
        if ![.applied, .rejected, .approved].contains(state) { fields.batchID = batch }
        let issued = state.slot == .held || [.replaced, .expired].contains(state)
        if issued {
            fields.issuedAt = now.adding(days: -300)
            fields.expiresAt =
                switch (state, kind) {
                case (.expired, _): now.adding(days: -30)
                case (_, .expire): now.adding(seconds: -3600)
                case (_, .renew): now.adding(days: 30)
                default: now.adding(days: 200)
                }
        }
        switch state {
        case .rejected:
            fields.note = "photo missing"
            fields.closedAt = now.adding(days: -399)
        case .preLost:
            let lapse = kind == .expirePreLoss ? now.adding(seconds: -3600) : now.adding(days: 4)
            fields.loss = LossReport(
                kind: .pre, channel: .phone, effectiveAt: lapse.adding(seconds: -policy.preLossSeconds),
                preLossExpiresAt: lapse, writtenAt: nil)
        case .lost:
            fields.loss = LossReport(
                kind: .written, channel: .outlet, effectiveAt: now.adding(days: -2), preLossExpiresAt: nil,
                writtenAt: now.adding(days: -2))
        case .replaced:
            fields.loss = LossReport(
                kind: .written, channel: .outlet, effectiveAt: now.adding(days: -3), preLossExpiresAt: nil,
                writtenAt: now.adding(days: -3))
            fields.successorID = fixedID(901)
            fields.closedAt = now.adding(days: -2)
        case .cancelled:
            fields.cancellation = Cancellation(
                reason: .holderRequest, applicant: .holder, relationship: nil, documentReference: "ID shown",
                at: now.adding(days: -2))
            fields.closedAt = now.adding(days: -2)
        case .expired:
            fields.closedAt = fields.expiresAt
        default:
            break
        }
        if kind == .supersede && fields.successorID == nil { fields.successorID = successor }
        return fields.card
    }

    /// When a transition takes effect: time-based ones when they fell due, the others now.
    static func effectiveTime(of kind: CardAction.Kind, on card: Card, now: Timestamp = now) -> Timestamp {
        switch kind {
        case .expire: card.expiresAt!
        case .expirePreLoss: card.loss!.preLossExpiresAt!
        default: now
        }
    }

    /// The exact card an allowed transition must produce: the given card with only the fields the
    /// transition is documented to change.
    static func expected(
        after action: CardAction, on card: Card, to target: CardState, context: LifecycleContext = context
    ) -> Card {
        let now = context.now
        let effective = effectiveTime(of: action.kind, on: card, now: now)
        var fields = CardFields(card)
        fields.state = target
        fields.version = card.version + 1
        fields.updatedAt = now
        if target.slot == .closed && card.state.slot != .closed { fields.closedAt = effective }
        switch action {
        case .approve:
            fields.approvedAt = now
        case .reject(let reason):
            fields.note = reason.trimmingSpaces
        case .addToBatch(let batch):
            fields.batchID = batch
        case .productionFailed(let reason):
            fields.batchID = nil
            fields.note = reason.trimmingSpaces
        case .issue:
            fields.issuedAt = now
            fields.expiresAt = now.adding(years: context.policy.validityYears)
        case .reportPreLoss(let channel):
            fields.loss = LossReport(
                kind: .pre, channel: channel, effectiveAt: now,
                preLossExpiresAt: now.adding(seconds: context.policy.preLossSeconds), writtenAt: nil)
        case .reportWrittenLoss:
            if card.state == .preLost, let lapse = card.loss?.preLossExpiresAt, now < lapse {
                fields.loss?.kind = .written
                fields.loss?.writtenAt = now
                fields.loss?.preLossExpiresAt = nil
            } else {
                fields.loss = LossReport(
                    kind: .written, channel: .outlet, effectiveAt: now, preLossExpiresAt: nil, writtenAt: now)
            }
        case .withdrawLoss, .expirePreLoss:
            fields.loss = nil
        case .reissue(let successor), .renew(let successor):
            fields.successorID = successor
        case .requestReplacement(let reason, let successor):
            fields.successorID = successor
            fields.replacementReason = reason
        case .cancel(let cancellation):
            fields.cancellation = cancellation
        case .productionSucceeded, .deliver, .supersede, .expire:
            break
        }
        return fields.card
    }

    /// The reason an event records.
    static func expectedReason(of action: CardAction) -> String? {
        switch action {
        case .reject(let reason), .productionFailed(let reason): reason.trimmingSpaces
        case .requestReplacement(let reason, _): reason.rawValue
        case .cancel(let cancellation): cancellation.reason.rawValue
        default: nil
        }
    }
}

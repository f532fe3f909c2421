/// Everything that can happen to a card. The transition table is in docs/card-lifecycle.md and is
/// implemented by `Card.applying(_:context:)`; a test walks every (state, action) pair.
public enum CardAction: Hashable, Sendable {
    /// 校核 passed.
    case approve
    /// 校核 refused, with the reason given to the applicant.
    case reject(reason: String)
    case addToBatch(ProductionBatch.ID)
    case productionSucceeded
    /// The factory could not make the card; it goes back to the production queue.
    case productionFailed(reason: String)
    case deliver
    /// Handed to the holder after the identity check.
    case issue
    case reportPreLoss(channel: LossReport.Channel)
    case reportWrittenLoss
    case withdrawLoss
    /// System: an unconfirmed pre-loss reached its expiry time.
    case expirePreLoss
    /// 补领: the successor card is created by the caller with this id.
    case reissue(successor: Card.ID)
    case requestReplacement(reason: ReplacementReason, successor: Card.ID)
    case renew(successor: Card.ID)
    /// System: the successor card was issued.
    case supersede
    case cancel(Cancellation)
    /// System: the card reached the end of its validity.
    case expire

    public enum Kind: String, Codable, Sendable, CaseIterable {
        case approve, reject
        case addToBatch = "add_to_batch"
        case productionSucceeded = "production_succeeded"
        case productionFailed = "production_failed"
        case deliver, issue
        case reportPreLoss = "report_pre_loss"
        case reportWrittenLoss = "report_written_loss"
        case withdrawLoss = "withdraw_loss"
        case expirePreLoss = "expire_pre_loss"
        case reissue
        case requestReplacement = "request_replacement"
        case renew, supersede, cancel, expire
        /// The card record was created: an application, or a successor card. Only ever the first
        /// event of a card; not an action on an existing card.
        case create
    }

    /// The kinds that act on an existing card (all but `create`).
    public static var transitionKinds: [Kind] { Kind.allCases.filter { $0 != .create } }

    public var kind: Kind {
        switch self {
        case .approve: .approve
        case .reject: .reject
        case .addToBatch: .addToBatch
        case .productionSucceeded: .productionSucceeded
        case .productionFailed: .productionFailed
        case .deliver: .deliver
        case .issue: .issue
        case .reportPreLoss: .reportPreLoss
        case .reportWrittenLoss: .reportWrittenLoss
        case .withdrawLoss: .withdrawLoss
        case .expirePreLoss: .expirePreLoss
        case .reissue: .reissue
        case .requestReplacement: .requestReplacement
        case .renew: .renew
        case .supersede: .supersede
        case .cancel: .cancel
        case .expire: .expire
        }
    }
}

/// The configured periods of the lifecycle.
public struct LifecyclePolicy: Hashable, Codable, Sendable {
    /// How long an unconfirmed pre-loss lasts (Art 17; default 5 days).
    public var preLossSeconds: Int64
    /// How long a card is valid from issue (Art 26; 10 years).
    public var validityYears: Int
    /// How many days before expiry a renewal may be applied for.
    public var renewalWindowDays: Int
    /// How long after a card left service its e-purse waits for late terminal uploads before
    /// the balance is final and moves (R-16; default 7 days).
    public var purseWaitingSeconds: Int64

    public init(
        preLossSeconds: Int64 = 5 * 86_400, validityYears: Int = 10, renewalWindowDays: Int = 90,
        purseWaitingSeconds: Int64 = 7 * 86_400
    ) {
        self.preLossSeconds = preLossSeconds
        self.validityYears = validityYears
        self.renewalWindowDays = renewalWindowDays
        self.purseWaitingSeconds = purseWaitingSeconds
    }

    enum CodingKeys: String, CodingKey {
        case preLossSeconds, validityYears, renewalWindowDays, purseWaitingSeconds
    }

    /// `purseWaitingSeconds` may be absent (configuration files written before it existed).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            preLossSeconds: try container.decode(Int64.self, forKey: .preLossSeconds),
            validityYears: try container.decode(Int.self, forKey: .validityYears),
            renewalWindowDays: try container.decode(Int.self, forKey: .renewalWindowDays),
            purseWaitingSeconds: try container.decodeIfPresent(Int64.self, forKey: .purseWaitingSeconds)
                ?? 7 * 86_400)
    }

    public static let `default` = LifecyclePolicy()
}

/// Who acts, where, and when.
public struct LifecycleContext: Sendable {
    public var now: Timestamp
    public var policy: LifecyclePolicy
    public var actor: String
    public var outletID: Outlet.ID?

    public init(now: Timestamp, policy: LifecyclePolicy = .default, actor: String, outletID: Outlet.ID?) {
        self.now = now
        self.policy = policy
        self.actor = actor
        self.outletID = outletID
    }
}

extension Card {
    /// The card after `action`, and the event that records it; or a typed error and no change.
    ///
    /// Time-based transitions (`expirePreLoss`, `expire`) take effect at the moment they were due,
    /// not at `context.now`, so that the record shows when the card really changed.
    public func applying(_ action: CardAction, context: LifecycleContext) throws(CitizenCardError) -> (Card, CardEvent)
    {
        var next = self
        var reason: String? = nil
        var effectiveAt = context.now
        let target: CardState
        switch (state, action) {
        case (.applied, .approve):
            target = .approved
            next.approvedAt = context.now
        case (.applied, .reject(let why)):
            target = .rejected
            reason = try Self.requireReason(why)
            next.note = reason
        case (.approved, .addToBatch(let batch)):
            target = .inProduction
            next.batchID = batch
        case (.inProduction, .productionSucceeded):
            target = .produced
        case (.inProduction, .productionFailed(let why)):
            target = .approved
            reason = try Self.requireReason(why)
            next.note = reason
            next.batchID = nil
        case (.produced, .deliver):
            target = .delivered
        case (.delivered, .issue):
            target = .active
            next.issuedAt = context.now
            next.expiresAt = context.now.adding(years: context.policy.validityYears)
        case (.active, .reportPreLoss(let channel)):
            target = .preLost
            next.loss = LossReport(
                kind: .pre, channel: channel, effectiveAt: context.now,
                preLossExpiresAt: context.now.adding(seconds: context.policy.preLossSeconds), writtenAt: nil)
        case (.active, .reportWrittenLoss):
            target = .lost
            next.loss = LossReport(
                kind: .written, channel: .outlet, effectiveAt: context.now, preLossExpiresAt: nil,
                writtenAt: context.now)
        case (.preLost, .reportWrittenLoss):
            target = .lost
            if let lapse = loss?.preLossExpiresAt, lapse <= context.now {
                // The pre-loss lapsed before this report (Art 17) and covered nothing after its
                // lapse, so this is a new loss that takes effect now, like one on an active card.
                next.loss = LossReport(
                    kind: .written, channel: .outlet, effectiveAt: context.now, preLossExpiresAt: nil,
                    writtenAt: context.now)
            } else {
                // Confirmation of a pre-loss in force: the loss stays effective from the pre-loss.
                next.loss?.kind = .written
                next.loss?.writtenAt = context.now
                next.loss?.preLossExpiresAt = nil
            }
        case (.preLost, .withdrawLoss), (.lost, .withdrawLoss):
            target = .active
            next.loss = nil
        case (.preLost, .expirePreLoss):
            guard let due = loss?.preLossExpiresAt, due <= context.now else {
                throw CitizenCardError(.notYetDue, "the pre-loss has not expired")
            }
            target = .active
            effectiveAt = due
            next.loss = nil
        case (.lost, .reissue(let successor)):
            try requireNoSuccessor()
            target = .replaced
            next.successorID = successor
        case (.active, .requestReplacement(let why, let successor)):
            try requireNoSuccessor()
            target = .active
            next.successorID = successor
            next.replacementReason = why
            reason = why.rawValue
        case (.active, .renew(let successor)), (.preLost, .renew(let successor)), (.lost, .renew(let successor)):
            // A card reported lost may be renewed instead of reissued once renewal is open
            // (issue 21, R-18): the new card is the renewal, and the lost card stays lost until
            // the new one is issued.
            try requireNoSuccessor()
            guard let expiresAt, context.now >= expiresAt.adding(days: -context.policy.renewalWindowDays) else {
                throw CitizenCardError(
                    .notYetDue, "renewal opens \(context.policy.renewalWindowDays) days before expiry",
                    zh: "有效期届满前\(context.policy.renewalWindowDays)天内方可换发")
            }
            target = state
            next.successorID = successor
        case (.expired, .renew(let successor)):
            try requireNoSuccessor()
            target = .expired
            next.successorID = successor
        case (.active, .supersede), (.preLost, .supersede), (.lost, .supersede):
            guard successorID != nil else {
                throw CitizenCardError(.transitionNotAllowed, "the card has no successor")
            }
            target = .replaced
        case (let from, .cancel(let cancellation)) where from.slot != .closed:
            target = .cancelled
            next.cancellation = cancellation
            reason = cancellation.reason.rawValue
        case (.active, .expire), (.preLost, .expire), (.lost, .expire):
            guard let due = expiresAt, due <= context.now else {
                throw CitizenCardError(.notYetDue, "the card has not reached its expiry time")
            }
            target = .expired
            effectiveAt = due
        default:
            throw CitizenCardError(
                .transitionNotAllowed, "\(action.kind.rawValue) is not allowed when the card is \(state.rawValue)",
                zh: "卡片状态为\(state.rawValue)时不允许\(action.kind.rawValue)")
        }
        next.state = target
        next.version = version + 1
        next.updatedAt = context.now
        if target.slot == .closed && state.slot != .closed { next.closedAt = effectiveAt }
        let event = CardEvent(
            cardID: id, sequence: next.version, action: action.kind, from: state, to: target, at: effectiveAt,
            actor: context.actor, outletID: context.outletID, reason: reason)
        return (next, event)
    }

    /// The time-based transitions that were due at `context.now` and not yet recorded, in the
    /// order they fell due: an unconfirmed pre-loss lapsing, then the card expiring.
    public func dueTransitions(context: LifecycleContext) -> [(Card, CardEvent)] {
        var card = self
        var steps: [(Card, CardEvent)] = []
        let system = LifecycleContext(now: context.now, policy: context.policy, actor: "system", outletID: nil)
        if card.state == .preLost, let due = card.loss?.preLossExpiresAt, due <= context.now,
            card.expiresAt.map({ due < $0 }) ?? true,
            let step = try? card.applying(.expirePreLoss, context: system)
        {
            steps.append(step)
            card = step.0
        }
        if card.state.slot == .held, let due = card.expiresAt, due <= context.now,
            let step = try? card.applying(.expire, context: system)
        {
            steps.append(step)
        }
        return steps
    }

    private func requireNoSuccessor() throws(CitizenCardError) {
        if successorID != nil { throw CitizenCardError(.successorExists) }
    }

    private static func requireReason(_ text: String) throws(CitizenCardError) -> String {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty, trimmed.count <= 500 else {
            throw CitizenCardError.invalid("reason", "give a reason of 1-500 characters", zh: "请填写1至500字的原因")
        }
        try TextRule.check(trimmed, field: "reason", kind: .line)
        return trimmed
    }
}

extension String {
    /// Without leading and trailing ASCII and ideographic spaces, tabs and newlines.
    public var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{3000}" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}

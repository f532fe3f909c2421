public import CitizenCardDomain
import Foundation
import HummingbirdBcrypt
import Storage
import Synchronization

/// The citizen self-service portal (R-32 holder's own query, R-35 service catalogue; issue 6
/// part 3; docs/portal.md).
///
/// A holder logs in with the card number and the card's query password (查询密码), which the
/// counter sets when the card is issued (`setQueryPassword`) and the holder may change. The
/// answer is a bearer token (`CitizenSession`); `authenticate(token:)` turns it into the
/// `CitizenPrincipal` that every holder use case takes. Only SHA-256 of the token is stored.
///
/// Rules, all in `PortalPolicy`: a password is 6-12 digits, not one digit repeated nor a run
/// (`QueryPassword.validate`); 5 wrong passwords in a row lock the card's password for 30
/// minutes (`too_many_attempts`, even with the right password); a session lasts a fixed 2
/// hours. A wrong card number and a wrong password answer alike (`invalid_credentials`) and
/// cost one bcrypt each. Log-ins, failures, locks, reads of personal data and every change are
/// audited; passwords and tokens are never logged nor audited.
public struct PortalService: Sendable {
    let env: ServiceEnvironment
    var cards: CardService { CardService(env) }
    var registry: RegistryService { RegistryService(env) }

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Portal tokens start with this, so that an HTTP layer can tell them from staff tokens.
    public static let tokenPrefix = "cit_"
    /// A log-in or a password change whose commit meets a concurrent one is retried this often.
    static let commitAttemptsMax = 5

    /// The answer to a log-in: the bearer token (given out once, never stored) and its expiry.
    public struct CitizenSession: Codable, Hashable, Sendable {
        /// `cit_` and 256 random bits in base64url.
        public var token: String
        /// A fixed `PortalPolicy.sessionSeconds` after the log-in.
        public var expiresAt: Timestamp
        public var cardId: Card.ID
        /// `3309*****0012`.
        public var maskedCardNumber: String
    }

    /// The holder behind a valid portal token, made only by `authenticate(token:)`.
    public struct CitizenPrincipal: Hashable, Sendable {
        /// The card the holder logged in with.
        public let cardID: Card.ID
        public let personID: Person.ID
        /// `3309*****0012`.
        public let maskedCardNumber: String
        public let sessionExpiresAt: Timestamp
        /// SHA-256 of the session's token: the session a password change keeps.
        let tokenHash: [UInt8]

        /// The name the holder's actions and reads carry in events and the audit log.
        public var actorName: String { "citizen:\(maskedCardNumber)" }

        var actor: Actor { Actor(operatorID: nil, name: actorName, role: nil, outletID: nil) }
    }

    /// A card's query password as the counter sees it (never the password nor its hash).
    public struct QueryPasswordStatus: Codable, Hashable, Sendable {
        public var cardId: Card.ID
        public var isSet: Bool
        public var changedAt: Timestamp?
        public var changedBy: String?
        public var failedAttempts: Int64
        /// Set while the password is locked after too many wrong attempts.
        public var lockedUntil: Timestamp?

        init(cardID: Card.ID, credential: QueryCredential?, now: Timestamp) {
            cardId = cardID
            isSet = credential != nil
            changedAt = credential?.changedAt
            changedBy = credential?.changedBy
            failedAttempts = credential?.failedAttempts ?? 0
            lockedUntil = credential.flatMap { $0.isLocked(at: now) ? $0.lockedUntil : nil }
        }
    }

    // MARK: At the counter

    /// Sets (or resets) a card's query password at the counter, after checking the holder's
    /// identity document (R-12). The card must be in the holder's hands (active, pre-lost or
    /// lost). Failures and any lock are cleared and every portal session of the card ends.
    public func setQueryPassword(
        cardID: Card.ID, password: String, identity: CardService.IdentityCheck, actor: Actor
    ) async throws(CitizenCardError) -> QueryPasswordStatus {
        try actor.require(.counterService)
        _ = try actor.counterOutlet()
        try QueryPassword.validate(password)
        let card = try await cards.load(cardID, checking: identity)
        guard PortalPolicy.allowsPortal(effectiveState(card)) else {
            throw CitizenCardError(
                .transitionNotAllowed, "a query password is set for an issued card that is not closed",
                zh: "只能为已发放且未注销的卡设置查询密码")
        }
        let now = env.clock.now()
        let hash = await PasswordHashing.hash(password, cost: env.passwordCost)
        let stored = try await env.fetch(try await env.store.queryCredential(cardID: cardID))
        let credential =
            stored?.replacing(hash: hash, at: now, by: actor.name)
            ?? QueryCredential(cardID: cardID, passwordHash: hash, changedAt: now, changedBy: actor.name)
        var changes = ChangeSet()
        if let stored {
            changes.add(.updateQueryCredential(credential, expectedVersion: stored.version))
        } else {
            changes.add(.insertQueryCredential(credential))
        }
        changes.add(.deletePortalSessions(cardID: cardID, keeping: nil))
        changes.record(
            audit(
                card, actor: actor.name, action: "portal.password.set", purpose: "query password set at the counter",
                detail: ["replaced": "\(stored != nil)"]))
        try await env.commit(changes)
        return QueryPasswordStatus(cardID: cardID, credential: credential, now: now)
    }

    /// Whether a card has a query password and whether it is locked (for the counter).
    public func queryPasswordStatus(cardID: Card.ID, actor: Actor) async throws(CitizenCardError) -> QueryPasswordStatus
    {
        try actor.require(.readCards)
        _ = try await cards.load(cardID)
        let credential = try await env.fetch(try await env.store.queryCredential(cardID: cardID))
        return QueryPasswordStatus(cardID: cardID, credential: credential, now: env.clock.now())
    }

    // MARK: Sessions

    /// Logs a holder in with the card number and the query password.
    ///
    /// Errors, in this order: `too_many_attempts` while the card's password is locked (the
    /// detail says until when; the password is not checked); `invalid_credentials` for an
    /// unknown card, a card without a password, a wrong password, or a card that allows no
    /// portal use (`PortalPolicy.allowsPortal`) — alike, each after one bcrypt. The wrong
    /// password that makes `PortalPolicy.failuresMax` in a row locks the password and answers
    /// `too_many_attempts`.
    public func login(cardNumber: String, password: String) async throws(CitizenCardError) -> CitizenSession {
        let number = cardNumber.trimmingSpaces
        let found =
            (1...32).contains(number.utf8.count) ? try await env.fetch(try await env.store.card(number: number)) : nil
        var credential: QueryCredential? = nil
        if let found { credential = try await env.fetch(try await env.store.queryCredential(cardID: found.id)) }
        if let found, let credential, let until = credential.lockedUntil, credential.isLocked(at: env.clock.now()) {
            try await auditFailure(found, reason: "locked")
            throw lockedError(until: until)
        }
        // One bcrypt whatever is unknown, so that the answer's time tells nothing.
        let matches =
            password.utf8.count <= 72
            ? await PasswordHashing.verify(password, hash: credential?.passwordHash ?? decoyHash) : false
        guard let card = found, let credential else {
            try await auditFailure(found, reason: found == nil ? "unknown_card" : "no_password")
            throw CitizenCardError(.invalidCredentials)
        }
        guard matches else { try await recordWrongPassword(card, checked: credential) }
        guard PortalPolicy.allowsPortal(effectiveState(card)) else {
            try await auditFailure(card, reason: "card_state")
            throw CitizenCardError(.invalidCredentials)
        }
        if try await env.fetch(try await env.store.cardHold(cardID: card.id)) != nil {
            try await auditFailure(card, reason: "card_blocked")
            throw CitizenCardError(.invalidCredentials)
        }
        let now = env.clock.now()
        let token = AuthService.randomToken(prefix: Self.tokenPrefix)
        let session = PortalSession(
            tokenHash: Array(AuthService.hash(token)), cardID: card.id, personID: card.personID, createdAt: now,
            expiresAt: now.adding(seconds: PortalPolicy.sessionSeconds))
        var changes = ChangeSet()
        changes.add(.deleteExpiredPortalSessions(cardID: card.id, at: now))
        changes.add(.insertPortalSession(session))
        if let reset = credential.succeeding() {
            changes.add(.updateQueryCredential(reset, expectedVersion: credential.version))
        }
        changes.record(audit(card, actor: Self.actorName(card), action: "portal.login", purpose: "log in"))
        try await env.commit(changes)
        return CitizenSession(
            token: token, expiresAt: session.expiresAt, cardId: card.id,
            maskedCardNumber: Masking.cardNumber(card.number))
    }

    /// The holder behind a portal token, or `unauthenticated` for an unknown or expired token or
    /// a card that no longer allows portal use. Reads only; extends nothing.
    public func authenticate(token: String) async throws(CitizenCardError) -> CitizenPrincipal {
        let refused = CitizenCardError(.unauthenticated, "the portal session is unknown or expired")
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count <= 100 else { throw refused }
        let tokenHash = Array(AuthService.hash(token))
        guard let session = try await env.fetch(try await env.store.portalSession(tokenHash: tokenHash)),
            session.expiresAt > env.clock.now(),
            let card = try await env.fetch(try await env.store.card(id: session.cardID)),
            PortalPolicy.allowsPortal(effectiveState(card))
        else { throw refused }
        return CitizenPrincipal(
            cardID: card.id, personID: card.personID, maskedCardNumber: Masking.cardNumber(card.number),
            sessionExpiresAt: session.expiresAt, tokenHash: tokenHash)
    }

    /// Ends the session of `token`; an unknown or expired token changes nothing.
    public func logout(token: String) async throws(CitizenCardError) {
        guard token.hasPrefix(Self.tokenPrefix), token.utf8.count <= 100 else { return }
        let tokenHash = Array(AuthService.hash(token))
        guard let session = try await env.fetch(try await env.store.portalSession(tokenHash: tokenHash)),
            let card = try await env.fetch(try await env.store.card(id: session.cardID))
        else { return }
        var changes = ChangeSet()
        changes.add(.deletePortalSession(tokenHash: tokenHash))
        changes.record(audit(card, actor: Self.actorName(card), action: "portal.logout", purpose: "log out"))
        try await env.commit(changes)
    }

    /// The holder changes their query password after giving the current one. A wrong current
    /// password counts towards the lock like a wrong log-in (`invalid_credentials` with field
    /// `currentPassword`); the new one must meet `QueryPassword.validate` (field `newPassword`)
    /// and differ. Every other session of the card ends; this one stays.
    public func changePassword(
        current: String, new: String, principal: CitizenPrincipal
    ) async throws(CitizenCardError) {
        let card = try await cards.load(principal.cardID)
        guard let credential = try await env.fetch(try await env.store.queryCredential(cardID: card.id)) else {
            throw CitizenCardError(.unauthenticated, "the card has no query password")
        }
        if let until = credential.lockedUntil, credential.isLocked(at: env.clock.now()) {
            throw lockedError(until: until)
        }
        guard current.utf8.count <= 72, await PasswordHashing.verify(current, hash: credential.passwordHash) else {
            try await recordWrongPassword(card, checked: credential, field: "currentPassword")
        }
        try QueryPassword.validate(new, field: "newPassword")
        guard new != current else {
            throw CitizenCardError.invalid("newPassword", "choose a different password", zh: "新密码不能与原密码相同")
        }
        let next = credential.replacing(
            hash: await PasswordHashing.hash(new, cost: env.passwordCost), at: env.clock.now(), by: principal.actorName)
        var changes = ChangeSet()
        changes.add(.updateQueryCredential(next, expectedVersion: credential.version))
        changes.add(.deletePortalSessions(cardID: card.id, keeping: principal.tokenHash))
        changes.record(
            audit(card, actor: principal.actorName, action: "portal.password.change", purpose: "query password change"))
        try await env.commit(changes)
    }

    // MARK: Failures and the lock

    /// Counts a wrong password (retrying when a concurrent attempt changed the count first, so
    /// that parallel guesses are all counted), audits it, and throws: `too_many_attempts` if this
    /// failure locked the password, else `invalid_credentials`.
    func recordWrongPassword(
        _ card: Card, checked: QueryCredential, field: String? = nil
    ) async throws(CitizenCardError) -> Never {
        var credential = checked
        for _ in 0..<Self.commitAttemptsMax {
            let now = env.clock.now()
            let next = credential.failing(at: now)
            var changes = ChangeSet()
            changes.add(.updateQueryCredential(next, expectedVersion: credential.version))
            changes.record(
                audit(
                    card, actor: Self.actorName(card), action: "portal.login.failed", purpose: "log in",
                    detail: ["reason": "wrong_password", "failures": "\(credential.failedAttempts + 1)"]))
            if let until = next.lockedUntil, next.lockedUntil != credential.lockedUntil {
                changes.record(
                    audit(
                        card, actor: Self.actorName(card), action: "portal.login.locked", purpose: "log in",
                        detail: ["until": until.iso8601, "failures": "\(PortalPolicy.failuresMax)"]))
            }
            do {
                try await env.commit(changes)
            } catch  where error.code == .conflict {
                guard let fresh = try await env.fetch(try await env.store.queryCredential(cardID: card.id)),
                    fresh.passwordHash == checked.passwordHash
                else { break }
                if let until = fresh.lockedUntil, fresh.isLocked(at: now) { throw lockedError(until: until) }
                credential = fresh
                continue
            }
            if let until = next.lockedUntil, next.lockedUntil != credential.lockedUntil {
                throw lockedError(until: until)
            }
            break
        }
        throw CitizenCardError(.invalidCredentials, field: field)
    }

    /// Audits a refused log-in that changes no credential: locked, unknown card, no password,
    /// card state. An unknown card has no holder: the entry names no person.
    func auditFailure(_ card: Card?, reason: String) async throws(CitizenCardError) {
        var changes = ChangeSet()
        if let card {
            changes.record(
                audit(
                    card, actor: Self.actorName(card), action: "portal.login.failed", purpose: "log in",
                    detail: ["reason": reason]))
        } else {
            changes.record(
                AuditDraft(
                    at: env.clock.now(), actor: "citizen:unknown", action: "portal.login.failed", subject: "portal",
                    purpose: "log in", detail: RegistryService.json(["reason": reason])))
        }
        try await env.commit(changes)
    }

    func lockedError(until: Timestamp) -> CitizenCardError {
        let local = localTime(until)
        return CitizenCardError(
            .tooManyAttempts, field: "password",
            "the query password is locked after \(PortalPolicy.failuresMax) wrong attempts until \(local) (UTC+8)",
            zh: "查询密码连续输错\(PortalPolicy.failuresMax)次已锁定，请于\(local)后再试")
    }

    /// `2026-03-02 09:30` in the city's time.
    func localTime(_ time: Timestamp) -> String {
        let (date, second) = time.adding(seconds: env.city.utcOffsetSeconds).utcDateAndSecond
        let hours = second / 3600, minutes = second % 3600 / 60
        return "\(date.iso8601) \(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }

    // MARK: Helpers

    /// The card once any due time-based transition (a lapsed pre-loss, an expiry) is taken into
    /// account, without recording it (the next counter action or the scheduled job records it).
    func effective(_ card: Card) -> Card {
        card.dueTransitions(context: env.context(.system)).last?.0 ?? card
    }

    func effectiveState(_ card: Card) -> CardState { effective(card).state }

    static func actorName(_ card: Card) -> String { "citizen:\(Masking.cardNumber(card.number))" }

    func audit(
        _ card: Card, actor: String, action: String, purpose: String, detail: [String: String] = [:]
    ) -> AuditDraft {
        AuditDraft(
            at: env.clock.now(), actor: actor, action: action, subject: "card:\(card.id)", personID: card.personID,
            purpose: purpose, detail: RegistryService.json(detail))
    }

    /// Checked against when the card or its password is unknown (`DecoyHash`).
    var decoyHash: String { DecoyHash.at(cost: env.passwordCost) }
}

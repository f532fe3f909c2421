public import CitizenCardDomain
import Crypto
import Foundation
import HummingbirdBcrypt
import Storage

/// Staff log-in: bcrypt-checked passwords, random bearer tokens of which only the SHA-256 is
/// stored, sessions that expire.
public struct AuthService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public static let sessionSeconds: Int64 = 12 * 3600

    public struct LoginResult: Codable, Sendable {
        public var token: String
        public var expiresAt: Timestamp
        public var `operator`: OperatorView
    }

    /// A wrong user name and a wrong password answer alike (`invalid_credentials`), and take
    /// about as long, so that user names cannot be probed.
    ///
    /// The user name is checked against the text rule first (422 for a NUL or a control
    /// character: it would otherwise be looked up cut short); a name that cannot be an account's
    /// (`AdministrationService.isUsername`) is not looked up, and costs the same decoy bcrypt.
    public func login(username: String, password: String) async throws(CitizenCardError) -> LoginResult {
        try TextRule.check(username, field: "username", kind: .name)
        let name = Self.canonicalUsername(username)
        let found =
            AdministrationService.isUsername(name)
            ? try await env.fetch(try await env.store.operator(username: name)) : nil
        guard password.utf8.count <= 72 else { throw CitizenCardError(.invalidCredentials) }
        let hash = found?.passwordHash ?? DecoyHash.at(cost: env.passwordCost)
        let matches = await PasswordHashing.verify(password, hash: hash)
        guard let staff = found, staff.active, matches else {
            env.logger.notice("login refused", metadata: ["username.length": "\(name.count)"])
            throw CitizenCardError(.invalidCredentials)
        }
        let tokenText = Self.randomToken()
        let now = env.clock.now()
        let session = Session(
            tokenHash: Self.hash(tokenText), operatorID: staff.id, createdAt: now,
            expiresAt: now.adding(seconds: Self.sessionSeconds))
        var changes = ChangeSet()
        changes.add(.insertSession(session))
        changes.record(
            AuditDraft(
                at: now, actor: staff.username, action: "auth.login", subject: "operator:\(staff.id)", purpose: "log in"
            ))
        try await env.commit(changes)
        return LoginResult(token: tokenText, expiresAt: session.expiresAt, operator: OperatorView(staff))
    }

    /// The actor behind a bearer token, or `unauthenticated`.
    public func authenticate(token: String) async throws(CitizenCardError) -> Actor {
        if token.hasPrefix(DepartmentService.keyPrefix) {
            return try await DepartmentService(env).authenticate(key: token)
        }
        if token.hasPrefix(Self.terminalKeyPrefix) {
            guard let terminal = try await env.fetch(try await env.store.terminal(keyHash: Array(Self.hash(token)))),
                terminal.active
            else { throw CitizenCardError(.unauthenticated, "the terminal key is unknown or revoked") }
            return Actor(
                operatorID: nil, name: "terminal:\(terminal.number)", role: .terminal, outletID: nil,
                terminalID: terminal.id, merchantID: terminal.merchantID)
        }
        let session = try await env.fetch(try await env.store.session(tokenHash: Self.hash(token)))
        guard let session, session.expiresAt > env.clock.now(),
            let staff = try await env.fetch(try await env.store.operator(id: session.operatorID)),
            staff.active
        else { throw CitizenCardError(.unauthenticated, "the session is unknown or expired") }
        return Actor(staff)
    }

    /// Changes one's own password after checking the current one.
    /// Other sessions of the account end; the one making the change (`token`) stays.
    public func changePassword(
        current: String, new: String, token: String?, actor: Actor
    ) async throws(CitizenCardError) {
        guard let id = actor.operatorID,
            var staff = try await env.fetch(try await env.store.operator(id: id))
        else { throw CitizenCardError(.unauthenticated) }
        guard current.utf8.count <= 72, await PasswordHashing.verify(current, hash: staff.passwordHash) else {
            throw CitizenCardError(.invalidCredentials, field: "currentPassword")
        }
        try AdministrationService.checkPassword(new, field: "newPassword")
        guard new != current else {
            throw CitizenCardError.invalid("newPassword", "choose a different password", zh: "新密码不能与当前密码相同")
        }
        staff.passwordHash = await PasswordHashing.hash(new, cost: env.passwordCost)
        var changes = ChangeSet()
        changes.add(.updateOperator(staff))
        changes.add(.deleteSessions(operatorID: staff.id, keeping: token.map(Self.hash)))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "auth.password", subject: "operator:\(staff.id)",
                purpose: "password change"))
        try await env.commit(changes)
    }

    public func logout(token: String, actor: Actor) async throws(CitizenCardError) {
        // A terminal key is not a session: it is revoked by the center, not logged out.
        guard actor.terminalID == nil else { return }
        var changes = ChangeSet()
        changes.add(.deleteSession(tokenHash: Self.hash(token)))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "auth.logout",
                subject: "operator:\(actor.operatorID?.rawValue ?? "")", purpose: "log out"))
        try await env.commit(changes)
    }

    /// Terminal keys are told apart from session tokens by this prefix.
    static let terminalKeyPrefix = "ctk_"

    /// A new random bearer token (256 bits, base64url).
    public static func randomToken(prefix: String = "") -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        return prefix
            + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> Data { Data(SHA256.hash(data: Data(token.utf8))) }

    /// Makes the decoy hash of the configured cost now (a bcrypt), so that the first log-in with
    /// an unknown name does not take twice as long as any other (the server calls it at start).
    /// The staff account `actor` is signed in as (`auth/me`).
    public func currentOperator(_ actor: Actor) async throws(CitizenCardError) -> Operator {
        guard let id = actor.operatorID, let staff = try await env.fetch(try await env.store.operator(id: id)) else {
            throw CitizenCardError(.unauthenticated)
        }
        return staff
    }

    public func prepareDecoy() { _ = DecoyHash.at(cost: env.passwordCost) }

    /// The form a user name is stored and throttled in: surrounding spaces removed, lowercase.
    public static func canonicalUsername(_ username: String) -> String { username.trimmingSpaces.lowercased() }
}

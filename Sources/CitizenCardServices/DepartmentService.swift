public import CitizenCardDomain
import Foundation
import Storage

/// The department registry and its API clients (issue 18, docs/departments.md): departments,
/// clients, keys shown once and stored as a SHA-256, rotation with an overlap, revocation that
/// takes effect on the next request, and client certificates mapped by subject.
public struct DepartmentService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Keys start with this, so that a key is told from a staff token or a terminal key at once.
    public static let keyPrefix = "ccd_"

    public struct DepartmentRequest: Codable, Sendable {
        public var code: String
        public var name: String
        public var nameZh: String
        public var kind: String
        public var feedKinds: [FeedKind]?

        public init(code: String, name: String, nameZh: String, kind: String, feedKinds: [FeedKind]? = nil) {
            self.code = code
            self.name = name
            self.nameZh = nameZh
            self.kind = kind
            self.feedKinds = feedKinds
        }
    }

    public func create(_ request: DepartmentRequest, actor: Actor) async throws(CitizenCardError) -> Department {
        try actor.require(.manageDepartments)
        try Department.validateCode(request.code)
        try Department.validateKind(request.kind)
        let name = try Self.text(request.name, field: "name", max: 100)
        let nameZh = try Self.text(request.nameZh, field: "nameZh", max: 100)
        let now = env.clock.now()
        let department = Department(
            id: Department.ID(rawValue: env.ids.next()), code: request.code, name: name, nameZh: nameZh,
            kind: request.kind, feedKinds: Self.unique(request.feedKinds ?? []), createdAt: now)
        var changes = ChangeSet()
        changes.add(.department(.insertDepartment(department)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "department.create", subject: "department:\(department.id)",
                purpose: "department registry",
                detail: RegistryService.json([
                    "code": department.code, "feedKinds": department.feedKinds.map(\.rawValue).joined(separator: ","),
                ])))
        do {
            try await env.store.commit(changes)
        } catch .duplicate(.departmentCode) {
            throw CitizenCardError(.conflict, field: "code", "a department with this code exists", zh: "该部门代码已存在")
        } catch {
            throw env.translate(error)
        }
        return department
    }

    public struct DepartmentChange: Codable, Sendable {
        public var name: String?
        public var nameZh: String?
        public var feedKinds: [FeedKind]?
        public var active: Bool?
        public var reason: String

        public init(reason: String) { self.reason = reason }
    }

    public func change(
        _ id: Department.ID, _ change: DepartmentChange, actor: Actor
    ) async throws(CitizenCardError) -> Department {
        try actor.require(.manageDepartments)
        let reason = try RegistryService.reason(change.reason, default: nil)
        let stored = try await department(id)
        var next = stored
        if let name = change.name { next.name = try Self.text(name, field: "name", max: 100) }
        if let name = change.nameZh { next.nameZh = try Self.text(name, field: "nameZh", max: 100) }
        if let kinds = change.feedKinds { next.feedKinds = Self.unique(kinds) }
        if let active = change.active { next.active = active }
        guard next != stored else {
            throw CitizenCardError.invalid("reason", "the change changes nothing", zh: "修改内容与现有记录相同")
        }
        next.version = stored.version + 1
        var changes = ChangeSet()
        changes.add(.department(.updateDepartment(next, expectedVersion: stored.version)))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "department.change", subject: "department:\(id)",
                purpose: reason,
                detail: RegistryService.json([
                    "active": "\(next.active)", "feedKinds": next.feedKinds.map(\.rawValue).joined(separator: ","),
                ])))
        try await env.commit(changes)
        return next
    }

    public func list(actor: Actor) async throws(CitizenCardError) -> [Department] {
        guard
            actor.role.map({
                Permission.manageDepartments.roles.contains($0) || Permission.superviseDisclosures.roles.contains($0)
            }) == true
        else {
            throw CitizenCardError(.forbidden, "manage_departments is not permitted for this role")
        }
        return try await env.fetch(try await env.store.departments())
    }

    public func department(_ id: Department.ID, actor: Actor) async throws(CitizenCardError) -> Department {
        _ = try await list(actor: actor)
        return try await department(id)
    }

    func department(_ id: Department.ID) async throws(CitizenCardError) -> Department {
        guard let found = try await env.fetch(try await env.store.department(id: id)) else {
            throw CitizenCardError.notFound("department")
        }
        return found
    }

    // MARK: Clients and keys

    public struct ClientRequest: Codable, Sendable {
        public var name: String
        /// RFC 4514 subject of the client's certificate, for mutual TLS.
        public var certificateSubject: String?
        /// Issue a key now (default true; a certificate-only client says false).
        public var issueKey: Bool?
        /// Days the key is valid (1-730; default 365).
        public var keyLifetimeDays: Int?

        public init(name: String, certificateSubject: String? = nil, issueKey: Bool? = nil, keyLifetimeDays: Int? = nil)
        {
            self.name = name
            self.certificateSubject = certificateSubject
            self.issueKey = issueKey
            self.keyLifetimeDays = keyLifetimeDays
        }
    }

    /// A key as issued: the key itself appears here once and nowhere else.
    public struct IssuedKey: Codable, Sendable {
        public var keyId: DepartmentKey.ID
        public var key: String
        public var expiresAt: Timestamp
    }

    public struct KeyView: Codable, Sendable, Equatable {
        public var id: DepartmentKey.ID
        public var hint: String
        public var createdAt: Timestamp
        public var expiresAt: Timestamp
        public var revokedAt: Timestamp?
        public var valid: Bool
    }

    public struct ClientView: Codable, Sendable {
        public var id: DepartmentClient.ID
        public var departmentId: Department.ID
        public var name: String
        public var certificateSubject: String?
        public var createdAt: Timestamp
        public var createdBy: String
        public var revokedAt: Timestamp?
        public var keys: [KeyView]
        /// Only in the answer that issued it.
        public var issuedKey: IssuedKey?
    }

    public func createClient(
        department departmentID: Department.ID, _ request: ClientRequest, actor: Actor
    ) async throws(CitizenCardError) -> ClientView {
        try actor.require(.manageDepartments)
        let department = try await department(departmentID)
        let name = try Self.text(request.name, field: "name", max: 100)
        let subject = try request.certificateSubject.map { (text) throws(CitizenCardError) in
            try Self.subject(text)
        }
        let issue = request.issueKey ?? true
        guard issue || subject != nil else {
            throw CitizenCardError.invalid(
                "issueKey", "a client without a certificate needs a key", zh: "未登记证书的客户端必须签发密钥")
        }
        let lifetime = try Self.lifetime(request.keyLifetimeDays)
        let now = env.clock.now()
        let client = DepartmentClient(
            id: DepartmentClient.ID(rawValue: env.ids.next()), departmentID: department.id, name: name,
            certificateSubject: subject, createdAt: now, createdBy: actor.name)
        var changes = ChangeSet()
        changes.add(.department(.insertDepartmentClient(client)))
        var issued: (DepartmentKey, IssuedKey)? = nil
        if issue {
            issued = newKey(client: client.id, at: now, lifetime: lifetime)
            changes.add(.department(.insertDepartmentKey(issued!.0)))
        }
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "department.client.create",
                subject: "department_client:\(client.id)",
                purpose: "department clients",
                detail: RegistryService.json([
                    "department": department.code, "certificate": "\(subject != nil)", "key": "\(issue)",
                ])))
        do {
            try await env.store.commit(changes)
        } catch .duplicate(.certificateSubject) {
            throw CitizenCardError(
                .conflict, field: "certificateSubject", "another client has this certificate subject",
                zh: "该证书主题已登记给其他客户端")
        } catch {
            throw env.translate(error)
        }
        var view = Self.view(client, keys: issued.map { [$0.0] } ?? [], at: now)
        view.issuedKey = issued?.1
        return view
    }

    public func clients(
        department departmentID: Department.ID, actor: Actor
    ) async throws(CitizenCardError) -> [ClientView] {
        try actor.require(.manageDepartments)
        _ = try await department(departmentID)
        let now = env.clock.now()
        var views: [ClientView] = []
        for client in try await env.fetch(try await env.store.departmentClients(departmentID: departmentID)) {
            views.append(
                Self.view(
                    client, keys: try await env.fetch(try await env.store.departmentKeys(clientID: client.id)), at: now)
            )
        }
        return views
    }

    public struct Rotation: Codable, Sendable {
        /// How long the keys valid now keep working (0 … 30 days; default 7 days).
        public var overlapSeconds: Int64?
        public var keyLifetimeDays: Int?

        public init(overlapSeconds: Int64? = nil, keyLifetimeDays: Int? = nil) {
            self.overlapSeconds = overlapSeconds
            self.keyLifetimeDays = keyLifetimeDays
        }
    }

    /// Issues a new key; every key valid now expires after the overlap (or sooner, as it would).
    public func rotateKey(
        client clientID: DepartmentClient.ID, _ rotation: Rotation, actor: Actor
    ) async throws(CitizenCardError) -> ClientView {
        try actor.require(.manageDepartments)
        let client = try await client(clientID)
        guard client.revokedAt == nil else {
            throw CitizenCardError(.transitionNotAllowed, "the client is revoked")
        }
        let overlap = rotation.overlapSeconds ?? DepartmentPolicy.rotationOverlapSeconds
        guard (0...DepartmentPolicy.rotationOverlapMax).contains(overlap) else {
            throw CitizenCardError.invalid("overlapSeconds", "0 to 2592000 seconds", zh: "须为0至2592000秒")
        }
        let lifetime = try Self.lifetime(rotation.keyLifetimeDays)
        let now = env.clock.now()
        let cutoff = now.adding(seconds: overlap)
        var changes = ChangeSet()
        var keys = try await env.fetch(try await env.store.departmentKeys(clientID: client.id))
        for (index, key) in keys.enumerated() where key.isValid(at: now) && key.expiresAt > cutoff {
            var next = key
            next.expiresAt = cutoff
            next.version += 1
            changes.add(.department(.updateDepartmentKey(next, expectedVersion: key.version)))
            keys[index] = next
        }
        let (key, issued) = newKey(client: client.id, at: now, lifetime: lifetime)
        changes.add(.department(.insertDepartmentKey(key)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "department.key.rotate", subject: "department_client:\(client.id)",
                purpose: "department clients", detail: #"{"overlapSeconds":\#(overlap)}"#))
        try await env.commit(changes)
        var view = Self.view(client, keys: keys + [key], at: now)
        view.issuedKey = issued
        return view
    }

    /// Revokes one key at once.
    public func revokeKey(
        client clientID: DepartmentClient.ID, key keyID: DepartmentKey.ID, reason: String, actor: Actor
    ) async throws(CitizenCardError) -> ClientView {
        try actor.require(.manageDepartments)
        let reason = try RegistryService.reason(reason, default: nil)
        let client = try await client(clientID)
        var keys = try await env.fetch(try await env.store.departmentKeys(clientID: client.id))
        guard let index = keys.firstIndex(where: { $0.id == keyID }) else { throw CitizenCardError.notFound("key") }
        guard keys[index].revokedAt == nil else {
            throw CitizenCardError(.transitionNotAllowed, "the key is revoked already")
        }
        let now = env.clock.now()
        var next = keys[index]
        next.revokedAt = now
        next.version += 1
        var changes = ChangeSet()
        changes.add(.department(.updateDepartmentKey(next, expectedVersion: keys[index].version)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "department.key.revoke", subject: "department_key:\(keyID)",
                purpose: reason))
        try await env.commit(changes)
        keys[index] = next
        return Self.view(client, keys: keys, at: now)
    }

    /// Revokes the client, its keys and its certificate mapping, at once.
    public func revokeClient(
        _ clientID: DepartmentClient.ID, reason: String, actor: Actor
    ) async throws(CitizenCardError) -> ClientView {
        try actor.require(.manageDepartments)
        let reason = try RegistryService.reason(reason, default: nil)
        let client = try await client(clientID)
        guard client.revokedAt == nil else {
            throw CitizenCardError(.transitionNotAllowed, "the client is revoked already")
        }
        let now = env.clock.now()
        var next = client
        next.revokedAt = now
        next.version += 1
        var changes = ChangeSet()
        changes.add(.department(.updateDepartmentClient(next, expectedVersion: client.version)))
        var keys = try await env.fetch(try await env.store.departmentKeys(clientID: client.id))
        for (index, key) in keys.enumerated() where key.revokedAt == nil {
            var revoked = key
            revoked.revokedAt = now
            revoked.version += 1
            changes.add(.department(.updateDepartmentKey(revoked, expectedVersion: key.version)))
            keys[index] = revoked
        }
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "department.client.revoke",
                subject: "department_client:\(client.id)",
                purpose: reason))
        try await env.commit(changes)
        return Self.view(next, keys: keys, at: now)
    }

    // MARK: Authentication

    /// The department client behind a key: `unauthenticated` for an unknown, expired or revoked
    /// key, a revoked client or an inactive department (alike).
    public func authenticate(key: String) async throws(CitizenCardError) -> Actor {
        let hash = Array(AuthService.hash(key))
        guard let found = try await env.fetch(try await env.store.departmentCredential(keyHash: hash)),
            found.key.isValid(at: env.clock.now()), found.client.revokedAt == nil, found.department.active
        else { throw CitizenCardError(.unauthenticated, "the department key is unknown, expired or revoked") }
        return Self.actor(found.client, found.department)
    }

    /// The department client whose certificate has this subject (the TLS layer checked the
    /// certificate against the client CA).
    public func authenticate(certificateSubject: String) async throws(CitizenCardError) -> Actor {
        guard
            let client = try await env.fetch(
                try await env.store.departmentClient(certificateSubject: certificateSubject)),
            client.revokedAt == nil,
            let department = try await env.fetch(try await env.store.department(id: client.departmentID)),
            department.active
        else { throw CitizenCardError(.unauthenticated, "the client certificate is not registered or revoked") }
        return Self.actor(client, department)
    }

    static func actor(_ client: DepartmentClient, _ department: Department) -> Actor {
        Actor(
            operatorID: nil, name: "department:\(department.code)", role: .department, outletID: nil,
            departmentID: department.id, departmentClientID: client.id)
    }

    // MARK: Support

    func client(_ id: DepartmentClient.ID) async throws(CitizenCardError) -> DepartmentClient {
        guard let found = try await env.fetch(try await env.store.departmentClient(id: id)) else {
            throw CitizenCardError.notFound("client")
        }
        return found
    }

    func newKey(client: DepartmentClient.ID, at now: Timestamp, lifetime: Int64) -> (DepartmentKey, IssuedKey) {
        let text = AuthService.randomToken(prefix: Self.keyPrefix)
        let key = DepartmentKey(
            id: DepartmentKey.ID(rawValue: env.ids.next()), clientID: client, keyHash: Array(AuthService.hash(text)),
            hint: String(text.prefix(Self.keyPrefix.count + 4)), createdAt: now,
            expiresAt: now.adding(seconds: lifetime))
        return (key, IssuedKey(keyId: key.id, key: text, expiresAt: key.expiresAt))
    }

    static func view(_ client: DepartmentClient, keys: [DepartmentKey], at now: Timestamp) -> ClientView {
        ClientView(
            id: client.id, departmentId: client.departmentID, name: client.name,
            certificateSubject: client.certificateSubject, createdAt: client.createdAt, createdBy: client.createdBy,
            revokedAt: client.revokedAt,
            keys: keys.map {
                KeyView(
                    id: $0.id, hint: $0.hint, createdAt: $0.createdAt, expiresAt: $0.expiresAt, revokedAt: $0.revokedAt,
                    valid: client.revokedAt == nil && $0.isValid(at: now))
            })
    }

    static func lifetime(_ days: Int?) throws(CitizenCardError) -> Int64 {
        guard let days else { return DepartmentPolicy.keyLifetimeSeconds }
        guard (1...730).contains(days) else {
            throw CitizenCardError.invalid("keyLifetimeDays", "1 to 730 days", zh: "须为1至730天")
        }
        return Int64(days) * 86_400
    }

    /// A subject in one form whatever its spelling: attributes upper-case, no spaces around `,`
    /// and `=` (`cn = gw, O=PSB` → `CN=gw,O=PSB`). The TLS layer writes a presented certificate's
    /// subject the same way, so the registered text and the certificate meet.
    public static func normalizedSubject(_ text: String) -> String {
        text.split(separator: ",", omittingEmptySubsequences: true).map { part -> String in
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2 else { return part.trimmingCharacters(in: .whitespaces) }
            return pieces[0].trimmingCharacters(in: .whitespaces).uppercased() + "="
                + pieces[1].trimmingCharacters(in: .whitespaces)
        }.joined(separator: ",")
    }

    /// A certificate subject as RFC 4514 text: 3-300 printable characters with at least one `=`,
    /// kept in `normalizedSubject` form.
    static func subject(_ text: String) throws(CitizenCardError) -> String {
        let trimmed = normalizedSubject(text.trimmingSpaces)
        guard (3...300).contains(trimmed.count), trimmed.contains("=") else {
            throw CitizenCardError.invalid(
                "certificateSubject", "an RFC 4514 subject such as CN=gateway,O=Department", zh: "须为RFC 4514格式的证书主题")
        }
        try TextRule.check(trimmed, field: "certificateSubject", kind: .line)
        return trimmed
    }

    static func text(_ value: String, field: String, max: Int) throws(CitizenCardError) -> String {
        let trimmed = value.trimmingSpaces
        guard (1...max).contains(trimmed.count) else {
            throw CitizenCardError.invalid(field, "give 1-\(max) characters", zh: "请填写1至\(max)个字符")
        }
        try TextRule.check(trimmed, field: field, kind: .name)
        return trimmed
    }

    static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }
}

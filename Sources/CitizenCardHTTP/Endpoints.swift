public import Hummingbird
public import CitizenCardServices
public import CitizenCardDomain
import Foundation

/// Who may call an endpoint. Checked before the body is read, so that a refused caller learns
/// nothing from validation errors; the use case checks again.
public enum Access: Sendable, Hashable {
    case everyone
    case authenticated
    case permission(Permission)

    /// Whether a caller with this role (nil: not logged in) gets past the access check.
    public func admits(_ role: Role?) -> Bool {
        if role == .department {
            guard case .permission(let permission) = self else { return false }
            return EndpointRegistry.departmentZone.contains(permission) && permission.roles.contains(.department)
        }
        return switch self {
        case .everyone: true
        case .authenticated: role != nil
        case .permission(let permission): role.map(permission.roles.contains) ?? false
        }
    }
}

/// One route of the API as registered: the test suite checks these against openapi.yaml and
/// against every role.
public struct Endpoint: Sendable, Hashable {
    public var method: HTTPRequest.Method
    public var path: String
    public var access: Access
}

typealias Handler = @Sendable (Request, AppContext, Actor) async throws -> Response

/// Registers routes together with their access rule.
final class EndpointRegistry: @unchecked Sendable {
    let router: Router<AppContext>
    let routes: RouteTable
    private(set) var endpoints: [Endpoint] = []

    init(router: Router<AppContext>, routes: RouteTable) {
        self.router = router
        self.routes = routes
    }

    func add(_ method: HTTPRequest.Method, _ path: String, _ access: Access, _ handler: @escaping Handler) {
        endpoints.append(Endpoint(method: method, path: path, access: access))
        routes.add(method, path)
        router.on(RouterPath(path), method: method) { request, context in
            let actor = try Self.admit(access, context: context)
            return try await handler(request, context, actor)
        }
    }

    /// The routes a department's client may reach; it reaches no other (and staff none of the
    /// department side, whose permissions no staff role has).
    static let departmentZone: Set<Permission> = [.departmentOperations, .verifyCards, .verifyCredentials]

    static func admit(_ access: Access, context: AppContext) throws -> Actor {
        if let actor = context.actor, actor.role == .department {
            guard case .permission(let permission) = access, departmentZone.contains(permission) else {
                throw CitizenCardError(.forbidden, "a department client reaches the department routes only")
            }
        }
        switch access {
        case .everyone:
            return context.actor ?? Actor(operatorID: nil, name: "anonymous", role: nil, outletID: nil)
        case .authenticated:
            guard let actor = context.actor else { throw CitizenCardError(.unauthenticated) }
            return actor
        case .permission(let permission):
            guard let actor = context.actor else { throw CitizenCardError(.unauthenticated) }
            try actor.require(permission)
            return actor
        }
    }
}

extension AppContext {
    func id<Tag>(_ name: String, as: Tag.Type = Tag.self) throws -> Identifier<Tag> {
        guard let text = parameters.get(name), let id = Identifier<Tag>(parsing: text) else {
            throw CitizenCardError(.notFound, "no such \(name)")
        }
        return id
    }
}

extension Request {
    func queryFlag(_ name: String, default fallback: Bool = false) throws -> Bool {
        switch query(name)?.lowercased() {
        case nil: return fallback
        case "false", "0": return false
        case "true", "1": return true
        default: throw CitizenCardError.invalid(name, "true or false")
        }
    }

    func queryLimit(default value: Int = 50, max: Int = 500) throws -> Int {
        guard let text = query("limit") else { return value }
        guard let limit = Int(text), (1...max).contains(limit) else {
            throw CitizenCardError.invalid("limit", "1-\(max)")
        }
        return limit
    }
}

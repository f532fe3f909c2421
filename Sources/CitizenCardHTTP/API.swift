import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation
import NIOCore
import HTTPTypes

/// The HTTP JSON API. Each handler decodes, calls one use case and encodes; nothing else.
struct API {
    let env: ServiceEnvironment
    let throttle: LoginThrottle
    var registry: RegistryService { RegistryService(env) }
    var cards: CardService { CardService(env) }
    var purse: PurseService { PurseService(env) }
    var production: ProductionService { ProductionService(env) }
    var administration: AdministrationService { AdministrationService(env) }
    var audit: AuditService { AuditService(env) }
    var auth: AuthService { AuthService(env) }

    static let prefix = "/api/v1"

    func register(_ routes: EndpointRegistry) {
        registerAuth(routes)
        registerPersons(routes)
        registerCards(routes)
        registerPurse(routes)
        registerAcquiring(routes)
        registerClearing(routes)
        registerProduction(routes)
        registerAdministration(routes)
        registerDepartmentSide(routes)
        registerDepartmentAdministration(routes)
        registerCredentials(routes)
        registerBanks(routes)
    }

    /// Runs `body` once per `Idempotency-Key`: a repeat with the same request gets the stored
    /// answer (and `Idempotency-Replayed: true`); the key with a different request is refused.
    func idempotent<Result: Encodable>(
        _ request: Request, _ context: AppContext, _ actor: Actor, body: ByteBuffer, status: HTTPResponse.Status = .ok,
        _ run: (IdempotencyKey?) async throws -> Result
    ) async throws -> Response {
        guard let header = request.headers[HTTPField.Name("Idempotency-Key")!] else {
            return try JSONResponse.make(try await run(nil), status: status)
        }
        let key = try IdempotencyKey.make(
            key: header, actor: actor.name, method: request.method.rawValue, path: request.uri.path,
            body: body.readableBytesView, status: Int(status.code))
        if let stored = try await env.storedAnswer(for: key) {
            return JSONResponse.raw(
                stored.body, status: HTTPResponse.Status(code: stored.status),
                headers: [HTTPField.Name("Idempotency-Replayed")!: "true"])
        }
        return try JSONResponse.make(try await run(key), status: status)
    }

    // MARK: Authentication

    struct LoginRequest: Codable { var username: String; var password: String }
    struct PasswordChange: Codable { var currentPassword: String; var newPassword: String }

    func registerAuth(_ routes: EndpointRegistry) {
        routes.add(.post, "\(Self.prefix)/auth/login", .everyone) { request, context, _ in
            let (body, _) = try await JSONBody.decode(LoginRequest.self, request, context: context)
            return try JSONResponse.make(
                try await throttle.login(
                    auth, username: body.username, password: body.password, address: context.clientAddress))
        }
        routes.add(.post, "\(Self.prefix)/auth/logout", .authenticated) { _, context, actor in
            try await auth.logout(token: context.token ?? "", actor: actor)
            return Response(status: .noContent)
        }
        routes.add(.post, "\(Self.prefix)/auth/password", .authenticated) { request, context, actor in
            let (body, _) = try await JSONBody.decode(PasswordChange.self, request, context: context)
            try await auth.changePassword(
                current: body.currentPassword, new: body.newPassword, token: context.token, actor: actor)
            return Response(status: .noContent)
        }
        routes.add(.get, "\(Self.prefix)/auth/me", .authenticated) { _, _, actor in
            if let terminal = actor.terminalID {
                return try JSONResponse.make(["id": terminal.rawValue, "username": actor.name, "role": "terminal"])
            }
            return try JSONResponse.make(OperatorView(try await auth.currentOperator(actor)))
        }
    }

    // MARK: Persons

    struct LookupRequest: Codable { var idNumber: String; var reveal: Bool?; var purpose: String? }

    func registerPersons(_ routes: EndpointRegistry) {
        let persons = "\(Self.prefix)/persons"
        routes.add(.post, persons, .permission(.maintainPersons)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(RegistryService.Registration.self, request, context: context)
            return try JSONResponse.make(try await registry.register(body, actor: actor), status: .created)
        }
        routes.add(.post, "\(persons)/lookup", .permission(.readPersons)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(LookupRequest.self, request, context: context)
            return try JSONResponse.make(
                try await registry.lookup(
                    idNumber: body.idNumber, reveal: body.reveal ?? false, purpose: body.purpose, actor: actor))
        }
        routes.add(.get, "\(persons)/{personId}", .permission(.readPersons)) { request, context, actor in
            try JSONResponse.make(
                try await registry.read(
                    try context.id("personId"), reveal: try request.queryFlag("reveal"),
                    purpose: request.query("purpose"),
                    actor: actor))
        }
        routes.add(.patch, "\(persons)/{personId}", .permission(.maintainPersons)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(RegistryService.Correction.self, request, context: context)
            return try JSONResponse.make(try await registry.correct(try context.id("personId"), body, actor: actor))
        }
        routes.add(.get, "\(persons)/{personId}/history", .permission(.readPersons)) { request, context, actor in
            try JSONResponse.make(
                Page(
                    items: try await registry.history(
                        try context.id("personId"), reveal: try request.queryFlag("reveal"),
                        purpose: request.query("purpose"), actor: actor), next: nil))
        }
        routes.add(.put, "\(persons)/{personId}/photo", .permission(.maintainPersons)) { request, context, actor in
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("image/jpeg") || contentType.hasPrefix("image/png") else {
                throw CitizenCardError(.unsupportedMediaType, "send image/jpeg or image/png")
            }
            let buffer = try await JSONBody.bytes(request, context: context, limit: RegistryService.photoSizeMax)
            return try JSONResponse.make(
                try await registry.storePhoto(
                    try context.id("personId"), bytes: Data(buffer.readableBytesView), actor: actor))
        }
        routes.add(.get, "\(persons)/{personId}/photo", .permission(.readPersons)) { request, context, actor in
            let photo = try await registry.photo(
                try context.id("personId"), purpose: request.query("purpose"), actor: actor)
            return Response(
                status: .ok, headers: [.contentType: photo.mediaType, .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: photo.bytes)))
        }
        routes.add(.get, "\(persons)/{personId}/eligibility", .permission(.readPersons)) { _, context, actor in
            try JSONResponse.make(try await registry.eligibility(try context.id("personId"), actor: actor))
        }
        routes.add(.get, "\(persons)/{personId}/cards", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                Page(items: try await cards.cards(of: try context.id("personId"), actor: actor), next: nil))
        }
    }
}

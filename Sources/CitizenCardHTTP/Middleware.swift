import Foundation
import Hummingbird
import Logging
import Metrics
import CitizenCardDomain
import CitizenCardServices
import NIOCore
import NIOHTTP1

/// Turns every error into a problem document: operating errors keep their code; Hummingbird's
/// own errors (no route, body too large) get the matching code, and a path that exists for
/// other methods is 405 with `Allow`; a body that breaks HTTP's framing (a malformed chunk) is
/// 400; anything else is an internal error whose type, not content, is logged.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let routes: RouteTable

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as CitizenCardError {
            return Self.problem(error, request, retryAfterSeconds: error.retryAfterSeconds)
        } catch let error as HTTPError {
            // A path a route has, asked with a method it does not have (a route's own 404, such as
            // a static file that does not exist, stays 404).
            if error.status == .notFound, case let allowed = routes.methods(matching: request.uri.path),
                !allowed.isEmpty, !allowed.contains(request.method)
            {
                let allow = allowed.map(\.rawValue).joined(separator: ", ")
                return Self.problem(
                    CitizenCardError(.methodNotAllowed, "this resource takes \(allow)"), request,
                    headers: [.allow: allow])
            }
            return Self.problem(Self.translate(error.status), request, headers: error.headers)
        } catch is NIOTooManyBytesError {
            return Self.problem(CitizenCardError(.bodyTooLarge), request)
        } catch is HTTPParserError {
            return Self.problem(
                CitizenCardError(.malformedRequest, "the body does not follow HTTP's framing"), request,
                headers: [.connection: "close"])
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            return Self.problem(CitizenCardError(.internal), request)
        }
    }

    static func problem(
        _ error: CitizenCardError, _ request: Request, headers: HTTPFields = [:], retryAfterSeconds: Int64? = nil
    ) -> Response {
        count(error.code)
        var headers = headers
        if let retryAfterSeconds { headers[.retryAfter] = "\(max(1, retryAfterSeconds))" }
        // A body refused for its size is not read further: the connection closes after the answer.
        if error.code == .bodyTooLarge { headers[.connection] = "close" }
        return Problem(error, instance: request.uri.path, chinese: request.prefersChinese).response(headers: headers)
    }

    /// Refused operations by their stable code: conflicts, transitions, validation …
    static func count(_ code: CitizenCardError.Code) {
        Counter(label: "citizencard_problems_total", dimensions: [("code", code.rawValue)]).increment()
    }

    static func translate(_ status: HTTPResponse.Status) -> CitizenCardError {
        switch status {
        case .notFound: CitizenCardError(.notFound, "no such resource")
        case .methodNotAllowed: CitizenCardError(.methodNotAllowed)
        case .contentTooLarge: CitizenCardError(.bodyTooLarge)
        case .unauthorized: CitizenCardError(.unauthenticated)
        case .badRequest: CitizenCardError(.malformedRequest)
        default: CitizenCardError(.internal, "HTTP \(status.code)")
        }
    }
}

/// Resolves `Authorization: Bearer <token>` to the actor; a bad or expired token is refused at
/// once rather than treated as anonymous.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let auth: AuthService

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        guard header.lowercased().hasPrefix("bearer ") else {
            throw CitizenCardError(.unauthenticated, "use Authorization: Bearer <token>")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard (1...256).contains(token.count) else { throw CitizenCardError(.unauthenticated) }
        var context = context
        context.actor = try await auth.authenticate(token: token)
        context.token = token
        context.logger[metadataKey: "actor"] = "\(context.actor!.name)"
        return try await next(request, context)
    }
}

/// One line per request: method, path (never the query string), status, duration, actor. Paths
/// carry only opaque ids: personal data travels in bodies, which are never logged.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = AppContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                "status": "\(response.status.code)", "ms": "\(String(format: "%.1f", milliseconds))",
            ])
        return response
    }
}

/// Headers every answer carries: `nosniff`, so that a browser never runs a JSON answer as
/// something else; `no-store` on every answer that is not a static file (answers carry personal
/// data and bearer tokens, which no cache may keep); and, when browsers reach the server over
/// HTTPS (`--secure-cookies`: behind a TLS-terminating proxy), HSTS.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let strictTransportSecurity: Bool

    static let hstsValue = "max-age=31536000"

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if strictTransportSecurity { response.headers[.strictTransportSecurity] = Self.hstsValue }
        return response
    }
}

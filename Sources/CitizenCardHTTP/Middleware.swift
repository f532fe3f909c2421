import Foundation
import Hummingbird
import Logging
import Metrics
import CitizenCardDomain
import CitizenCardServices
import NIOCore

/// Turns every error into a problem document: operating errors keep their code; Hummingbird's
/// own errors (no route, body too large) get the matching code; anything else is an internal
/// error whose type, not content, is logged.
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = AppContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as CitizenCardError {
            Self.count(error.code)
            return Problem(error, instance: request.uri.path, chinese: request.prefersChinese).response()
        } catch let error as HTTPError {
            let problem = Self.translate(error.status)
            Self.count(problem.code)
            return Problem(problem, instance: request.uri.path, chinese: request.prefersChinese)
                .response(headers: error.headers)
        } catch is NIOTooManyBytesError {
            return Problem(CitizenCardError(.bodyTooLarge), instance: request.uri.path, chinese: request.prefersChinese)
                .response()
        } catch {
            context.logger.error("unhandled error", metadata: ["error.type": "\(type(of: error))"])
            return Problem(CitizenCardError(.internal), instance: request.uri.path, chinese: request.prefersChinese)
                .response()
        }
    }

    /// Refused operations by their stable code: conflicts, transitions, validation …
    static func count(_ code: CitizenCardError.Code) {
        Counter(label: "citizencard_problems_total", dimensions: [("code", code.rawValue)]).increment()
    }

    static func translate(_ status: HTTPResponse.Status) -> CitizenCardError {
        switch status {
        case .notFound: CitizenCardError(.notFound, "no such resource")
        case .methodNotAllowed: CitizenCardError(.notFound, "no such operation on this resource")
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

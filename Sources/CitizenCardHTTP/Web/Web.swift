import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1

/// The web pages: the outlet console (`/console`) for staff and the portal (`/portal`) for card
/// holders, server-rendered from Mustache templates (docs/web.md). Pages call the same use cases
/// as the JSON API; the use cases check permissions again.
struct Web: Sendable {
    let env: ServiceEnvironment
    /// The counter agents: the card readers on the counters' PCs.
    let agents: CounterAgentHub
    let pages: PageRenderer
    let throttle: LoginThrottle
    let portalThrottle: PortalThrottle
    /// Cookies get `Secure` (set when the server is reached over TLS, e.g. behind a proxy).
    let secureCookies: Bool
    /// Where the pages' routes are written down (405 with `Allow` for a wrong method).
    let routes: RouteTable

    var registry: RegistryService { RegistryService(env) }
    var cards: CardService { CardService(env) }
    var production: ProductionService { ProductionService(env) }
    var administration: AdministrationService { AdministrationService(env) }
    var auth: AuthService { AuthService(env) }

    /// Form bodies: a portrait (2 MiB) or an employer's CSV, with room for the encoding.
    static let formBodyMax = 4 * 1024 * 1024

    enum Access {
        /// Log-in pages, static files.
        case anyone
        /// A member of staff with this permission (nil: any member of staff).
        case staff(Permission?)
        /// A card holder logged in to the portal.
        case citizen
    }

    typealias Handler = @Sendable (Request, AppContext, inout WebRequest) async throws -> Response

    func register(_ router: Router<AppContext>) {
        for path in ["/", "/static/{file}", "/lang/{language}"] { routes.add(.get, path) }
        router.get("/") { _, _ in Self.redirect("/console/login") }
        router.get("/static/{file}") { _, context in try Self.staticFile(context.parameters.get("file") ?? "") }
        router.get("/lang/{language}") { request, context in
            let language = Language(rawValue: context.parameters.get("language") ?? "") ?? .zh
            var response = Self.redirect(Self.localPath(request.query("back")) ?? "/console")
            response.setCookie(
                Cookie(
                    name: WebCookies.language, value: language.rawValue, maxAge: 365 * 86_400, path: "/",
                    secure: secureCookies, httpOnly: true, sameSite: .lax))
            return response
        }
        registerConsole(router)
        registerPortal(router)
        // Any other page address: a page saying so, in the visitor's language.
        for area in ["/console/**", "/portal/**"] {
            page(router, .get, area, .anyone) { _, _, _ in
                throw CitizenCardError(.notFound, "no such page", zh: "没有这个页面")
            }
        }
    }

    /// Registers a page: resolves the visitor, checks the CSRF token of a POST and the access
    /// rule, and turns errors into pages in the visitor's language.
    func page(
        _ router: Router<AppContext>, _ method: HTTPRequest.Method, _ path: String, _ access: Access,
        _ handler: @escaping Handler
    ) {
        routes.add(method, path)
        router.on(RouterPath(path), method: method) { request, context in
            var web = try await visitor(request)
            do {
                // Not logged in (or the session ended): to the log-in page, before anything else.
                switch access {
                case .staff where web.actor == nil:
                    return Self.redirect("/console/login?next=\(Self.localPath(request.uri.path) ?? "/console")")
                case .citizen where web.citizen == nil:
                    return Self.redirect("/portal/login")
                default: break
                }
                if method == .post {
                    if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > Self.formBodyMax
                    {
                        throw CitizenCardError(.bodyTooLarge)
                    }
                    let body = try await request.body.collect(upTo: Self.formBodyMax)
                    guard
                        let form = WebForm.parse(
                            contentType: request.headers[.contentType], body: Data(buffer: body))
                    else { throw CitizenCardError(.unsupportedMediaType, "submit the page's form") }
                    try form.checkText()
                    guard let token = form["_csrf"], WebSecurity.same(token, web.csrf) else {
                        throw CitizenCardError(
                            .forbidden, "the form has expired or did not come from this site; reload the page",
                            zh: "表单已过期或并非来自本站，请刷新页面后重试")
                    }
                    web.form = form
                }
                if case .staff(let permission?) = access { try web.actor!.require(permission) }
                return try await handler(request, context, &web)
            } catch let error as CitizenCardError {
                return errorPage(error, web: web)
            } catch is NIOTooManyBytesError {
                return errorPage(CitizenCardError(.bodyTooLarge), web: web)
            } catch is HTTPParserError {
                return errorPage(CitizenCardError(.malformedRequest), web: web)
            } catch {
                context.logger.error("page failed", metadata: ["error.type": "\(type(of: error))"])
                return errorPage(CitizenCardError(.internal), web: web)
            }
        }
    }

    /// Language, the logged-in member of staff or holder, and the CSRF token of this visitor.
    func visitor(_ request: Request) async throws -> WebRequest {
        var web = WebRequest(
            language: Language.of(request), csrf: "", path: request.uri.path)
        if let token = request.cookies[WebCookies.staff]?.value, (1...256).contains(token.count) {
            if let actor = try? await auth.authenticate(token: token), actor.role?.isStaff == true {
                web.actor = actor
                web.staffToken = token
            } else {
                web.cookies.append(expired(WebCookies.staff))
            }
        }
        if let token = request.cookies[WebCookies.citizen]?.value, (1...256).contains(token.count) {
            if let principal = try? await PortalService(env).authenticate(token: token) {
                web.citizen = principal
                web.citizenToken = token
            } else {
                web.cookies.append(expired(WebCookies.citizen))
            }
        }
        let seed: String
        if let token = web.staffToken ?? web.citizenToken {
            seed = token
        } else if let existing = request.cookies[WebCookies.form]?.value, existing.count >= 16 {
            seed = existing
        } else {
            seed = AuthService.randomToken()
            web.cookies.append(sessionCookie(WebCookies.form, seed))
        }
        web.csrf = WebSecurity.csrfToken(seed: seed)
        return web
    }

    func sessionCookie(_ name: String, _ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(
            name: name, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true,
            sameSite: .strict)
    }

    func expired(_ name: String) -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    func errorPage(_ error: CitizenCardError, web: WebRequest) -> Response {
        let said = PageError(error, web.language)
        var values: [String: Any] = ["code": error.code.rawValue, "loggedOut": error.code == .unauthenticated]
        if let detail = said.detail { values["detail"] = detail }
        if let field = said.field { values["field"] = field }
        return pages.response("error", title: said.title, values, web: web, status: Problem.status(of: error.code))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// A redirect after a POST, carrying the visitor's cookies.
    func redirect(_ location: String, web: WebRequest) -> Response {
        var response = Self.redirect(location)
        for cookie in web.cookies { response.setCookie(cookie) }
        return response
    }

    /// Only a path of this site: no scheme, no host, no `//`.
    static func localPath(_ path: String?) -> String? {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"), path.count <= 200,
            path.allSatisfy({ $0.isASCII && !$0.isWhitespace })
        else { return nil }
        return path
    }

    static func staticFile(_ name: String) throws -> Response {
        let types = ["css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"]
        guard name.range(of: "^[a-z0-9-]+\\.(css|js|svg)$", options: .regularExpression) != nil,
            let url = PageRenderer.resource("static/\(name)"),
            let data = try? Data(contentsOf: url), let type = types[String(name.split(separator: ".").last!)]
        else { throw HTTPError(.notFound) }
        return Response(
            status: .ok,
            headers: [
                .contentType: type, .cacheControl: "public, max-age=3600", .init("X-Content-Type-Options")!: "nosniff",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// An error as the pages say it, in the visitor's language: the code's title, the field's name,
/// and the detail. A detail written only in English is left out of a Chinese page: the title and
/// the field's name say it in Chinese.
struct PageError {
    var title: String
    var field: String?
    var detail: String?
    let language: Language

    init(_ error: CitizenCardError, _ language: Language) {
        let zh = language == .zh
        self.language = language
        title = zh ? error.code.titleZh : error.code.title
        field = error.field.map { WebStrings.fieldName($0, language) }
        let detail = zh ? error.detailZh : error.detail
        self.detail = detail == title ? nil : detail
    }

    /// One line, for a form that is shown again with the error above it.
    var line: String {
        let zh = language == .zh
        var text = title
        if let field { text += zh ? "（\(field)）" : " (\(field))" }
        if let detail { text += zh ? "：\(detail)" : ": \(detail)" }
        return text
    }
}

extension Response {
    /// With `Retry-After` when `error` says how long to wait (a page refused by a log-in throttle).
    func retrying(after error: CitizenCardError?) -> Response {
        guard let seconds = error?.retryAfterSeconds else { return self }
        var response = self
        response.headers[.retryAfter] = "\(max(1, seconds))"
        return response
    }
}

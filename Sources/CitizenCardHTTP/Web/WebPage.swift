import CitizenCardDomain
import CitizenCardServices
import Crypto
import Foundation
import Hummingbird
import Mustache

/// The language of a page: zh-Hans unless the visitor chose English (the switch sets the
/// `cc_lang` cookie) or their browser prefers it (Accept-Language).
enum Language: String, Sendable {
    case zh
    case en

    var htmlTag: String { self == .zh ? "zh-Hans" : "en" }
    var other: Language { self == .zh ? .en : .zh }

    static func of(_ request: Request) -> Language {
        if let chosen = request.cookies[WebCookies.language].flatMap({ Language(rawValue: $0.value) }) { return chosen }
        return request.prefersChinese ? .zh : .en
    }
}

/// Names of the cookies the pages set; none holds personal data.
enum WebCookies {
    /// A member of staff's session token (the same sessions as the API's bearer tokens).
    static let staff = "cc_session"
    /// A card holder's portal session token.
    static let citizen = "cc_citizen"
    /// A random value that anonymous forms (the log-in pages) derive their CSRF token from.
    static let form = "cc_form"
    /// The chosen language.
    static let language = "cc_lang"
}

/// What every page handler knows about the request: language, who is logged in, the CSRF token
/// its forms must carry, and the submitted form of a POST.
struct WebRequest: Sendable {
    var language: Language
    var actor: Actor?
    var staffToken: String?
    var citizen: PortalService.CitizenPrincipal?
    var citizenToken: String?
    var csrf: String
    var form = WebForm()
    var path: String
    /// Cookies to set on whatever response the handler gives.
    var cookies: [Cookie] = []

    func text(_ key: String) -> String { WebStrings.text(key, language) }
}

/// Renders the Mustache templates of Resources/web/templates. Every `{{value}}` is HTML-escaped
/// by the template engine; the templates never use the unescaped `{{{ }}}` form.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    init() {
        var templates: [String: MustacheTemplate] = [:]
        if let directory = Self.resource("templates"),
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        {
            for name in names where name.hasSuffix(".mustache") {
                let url = directory.appendingPathComponent(name)
                guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
                do {
                    templates[String(name.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
                } catch {
                    preconditionFailure("template \(name) does not parse: \(error)")
                }
            }
        }
        precondition(templates["layout"] != nil, "the page templates are not bundled (Resources/web/templates)")
        library = MustacheLibrary(templates: templates)
    }

    /// A folder or file of Resources/web in the module's bundle.
    static func resource(_ name: String) -> URL? {
        Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources/web")
    }

    /// The page as HTML, with the values every page has (language, strings, user, CSRF token).
    func html(_ template: String, title: String, _ values: [String: Any], web: WebRequest) -> String {
        var context = values
        context["lang"] = web.language.htmlTag
        context["title"] = title
        context["csrf"] = web.csrf
        context["path"] = web.path
        context["otherLanguage"] = web.language.other.rawValue
        context["otherLanguageName"] = web.language == .zh ? "English" : "中文"
        if let actor = web.actor, let role = actor.role {
            context["user"] = ["name": actor.name, "role": WebStrings.text("role.\(role.rawValue)", web.language)]
            context["nav"] = Self.navigation(for: role, web: web)
            context["hasNav"] = true
        } else if let citizen = web.citizen {
            context["citizen"] = ["name": citizen.maskedCardNumber]
        }
        // The strings are added after pruning: they have no empty values and are many.
        var values = Self.pruned(context) as! [String: Any]
        values["t"] = WebStrings.table(web.language)
        return library.render(values, withTemplate: template) ?? ""
    }

    /// Drops empty strings: Mustache counts "" as true in `{{#name}}`, and a missing value
    /// renders as empty anyway.
    static func pruned(_ value: Any) -> Any {
        switch value {
        case let dictionary as [String: Any]:
            var result: [String: Any] = [:]
            for (key, item) in dictionary {
                if let text = item as? String, text.isEmpty { continue }
                result[key] = pruned(item)
            }
            return result
        case let dictionaries as [[String: Any]]:
            return dictionaries.map { pruned($0) }
        default:
            return value
        }
    }

    func response(
        _ template: String, title: String, _ values: [String: Any], web: WebRequest, status: HTTPResponse.Status = .ok
    ) -> Response {
        var response = Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html(template, title: title, values, web: web))))
        WebSecurity.apply(to: &response, cookies: web.cookies)
        return response
    }

    /// The console's menu: only what the role may do.
    static func navigation(for role: Role, web: WebRequest) -> [[String: Any]] {
        var items: [(String, String, Permission?)] = [
            ("/console/persons/find", "nav.persons", .readPersons),
            ("/console/persons/new", "nav.register", .maintainPersons),
            ("/console/applications/bulk", "nav.bulk", .counterService),
            ("/console/verification", "nav.verification", .verifyApplications),
            ("/console/production", "nav.production", .manageProduction),
            ("/console/reports", "nav.reports", .readCards),
            ("/console/pre-losses", "nav.preLosses", .readCards),
            ("/console/queues", "nav.queues", .readCards),
            ("/console/fees", "nav.fees", .readCards),
            ("/console/catalogue", "nav.catalogue", .readCards),
            ("/console/audit", "nav.audit", .readAudit),
            ("/console/cases", "nav.cases", .workCardCases),
            ("/console/credentials", "nav.credentials", .verifyCredentials),
            ("/console/departments", "nav.departments", .superviseDisclosures),
            ("/console/grants", "nav.grants", .superviseDisclosures),
            ("/console/feeds", "nav.feeds", .superviseDisclosures),
            ("/console/disclosures", "nav.disclosures", .superviseDisclosures),
            ("/console/banks", "nav.banks", .readBanks),
            ("/console/refunds", "nav.refunds", .readCards),
            ("/console/merchants", "nav.merchants", .acquiring),
            ("/console/clearing", "nav.clearing", .acquiring),
            ("/console/fraud-signals", "nav.fraudSignals", .acquiring),
            ("/console/suspense", "nav.suspense", .readSuspense),
        ]
        // Every member of staff may change their own password.
        items.append(("/console/account", "nav.account", nil))
        return items.filter { $0.2?.roles.contains(role) ?? true }.map { item in
            ["href": item.0, "label": WebStrings.text(item.1, web.language), "current": web.path.hasPrefix(item.0)]
        }
    }
}

/// Response headers every page carries, and the CSRF token derivation.
enum WebSecurity {
    /// No inline scripts or foreign origins; pages cannot be framed.
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    static func apply(to response: inout Response, cookies: [Cookie]) {
        response.headers[.init("Content-Security-Policy")!] = contentSecurityPolicy
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "same-origin"
        response.headers[.cacheControl] = "no-store"
        for cookie in cookies { response.setCookie(cookie) }
    }

    /// The token a form must carry: derived from the session (or the anonymous form cookie), so
    /// another site can neither read nor compute it.
    static func csrfToken(seed: String) -> String {
        let digest = SHA256.hash(data: Data("citizencard-csrf|\(seed)".utf8))
        return Data(digest).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Constant-time comparison of two tokens.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

}

/// How pages show values: dates in Asia/Shanghai (UTC+8, no daylight saving), money as ¥12.50.
enum WebFormat {
    static let chinaOffset: Int64 = 8 * 3600

    static func money(_ fen: Int64) -> String {
        let sign = fen < 0 ? "-" : ""
        let magnitude = fen.magnitude
        let cents = magnitude % 100
        return "\(sign)¥\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    static func date(_ time: Timestamp?) -> String {
        guard let time else { return "" }
        return time.calendarDate(offsetSeconds: chinaOffset).iso8601
    }

    static func time(_ time: Timestamp?) -> String {
        guard let time else { return "" }
        let local = time.secondsSinceEpoch + chinaOffset
        let seconds = ((local % 86_400) + 86_400) % 86_400
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(date(time)) \(two(seconds / 3600)):\(two(seconds / 60 % 60))"
    }
}

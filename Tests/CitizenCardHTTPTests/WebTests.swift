import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A browser in miniature over the test client: keeps cookies, reads the CSRF token of the page
/// it is on, and submits forms.
final class WebSession: @unchecked Sendable {
    let client: Harness.Client
    var cookies: [String: String] = [:]
    var acceptLanguage = "zh-CN,zh;q=0.9"
    var lastPage = ""

    init(_ client: Harness.Client) { self.client = client }

    var csrf: String {
        guard let range = lastPage.range(of: #"name="_csrf" value=""#) else { return "" }
        return String(lastPage[range.upperBound...].prefix { $0 != "\"" })
    }

    @discardableResult
    func get(_ path: String) async throws -> Harness.Reply {
        let reply = try await client.send(.get, path, headers: headers())
        remember(reply)
        return reply
    }

    /// Submits a form (url-encoded) with the current page's CSRF token unless `csrf` is given.
    @discardableResult
    func post(_ path: String, _ fields: [(String, String)], csrf token: String? = nil) async throws -> Harness.Reply {
        var all = fields
        all.append(("_csrf", token ?? csrf))
        let body = all.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        var extra = headers()
        extra[.contentType] = "application/x-www-form-urlencoded"
        let reply = try await client.send(.post, path, bytes: Data(body.utf8), headers: extra)
        remember(reply)
        return reply
    }

    /// Submits a multipart form with one file.
    @discardableResult
    func upload(
        _ path: String, _ fields: [(String, String)], file: (name: String, filename: String, type: String, bytes: Data)
    ) async throws -> Harness.Reply {
        let boundary = "----citizencard-test-boundary"
        var body = Data()
        for (name, value) in fields + [("_csrf", csrf)] {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        body += Data(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\nContent-Type: \(file.type)\r\n\r\n"
                .utf8)
        body += file.bytes
        body += Data("\r\n--\(boundary)--\r\n".utf8)
        var extra = headers()
        extra[.contentType] = "multipart/form-data; boundary=\(boundary)"
        let reply = try await client.send(.post, path, bytes: body, headers: extra)
        remember(reply)
        return reply
    }

    /// Follows a 303 to its page.
    func follow(_ reply: Harness.Reply) async throws -> Harness.Reply {
        guard reply.status == 303, let location = reply.headers[.location] else { return reply }
        return try await get(location)
    }

    func login(_ username: String, password: String = TestWorld.password) async throws -> Harness.Reply {
        try await get("/console/login")
        return try await follow(try await post("/console/login", [("username", username), ("password", password)]))
    }

    private func headers() -> HTTPFields {
        var fields: HTTPFields = [.acceptLanguage: acceptLanguage]
        if !cookies.isEmpty {
            fields[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")
        }
        return fields
    }

    private func remember(_ reply: Harness.Reply) {
        for header in reply.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = String(pair[0])
            if header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = String(pair[1]) }
        }
        if reply.headers[.contentType]?.hasPrefix("text/html") == true { lastPage = reply.text }
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

@Suite("Web pages")
struct WebTests {
    @Test("the root opens the console's log-in page, in Chinese by default and in English on request")
    func loginPage() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let web = WebSession(client)
            let root = try await web.get("/")
            #expect(root.status == 303)
            #expect(root.headers[.location] == "/console/login")
            let page = try await web.get("/console/login")
            #expect(page.status == 200)
            #expect(page.text.contains("<html lang=\"zh-Hans\">"))
            #expect(page.text.contains("工作人员登录"))
            #expect(page.headers[.init("Content-Security-Policy")!]?.contains("frame-ancestors 'none'") == true)
            web.acceptLanguage = "en-GB,en;q=0.9"
            let english = try await web.get("/console/login")
            #expect(english.text.contains("Staff log-in"))
            // The switch wins over the browser's preference, and is remembered.
            let switched = try await web.get("/lang/zh?back=/console/login")
            #expect(switched.status == 303)
            #expect(switched.headers[.location] == "/console/login")
            #expect(try await web.get("/console/login").text.contains("工作人员登录"))
            // An unknown page is a page too, not a JSON problem.
            let missing = try await web.get("/console/no/such/page")
            #expect(missing.status == 404)
            #expect(missing.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(missing.text.contains("没有这个页面"))
            #expect(try await web.get("/static/../Package.swift").status == 404)
        }
    }
}

extension Harness.Reply {
    /// The first capture of `pattern` in the body or the Location header.
    func capture(_ pattern: String) -> String? {
        for text in [headers[.location] ?? "", self.text] {
            guard let regex = try? NSRegularExpression(pattern: pattern),
                let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
                let range = Range(match.range(at: 1), in: text)
            else { continue }
            return String(text[range])
        }
        return nil
    }
}

@Suite("Page cookies")
struct PageCookieTests {
    @Test("behind TLS the session cookie is Secure, HttpOnly and SameSite=Strict")
    func secureCookies() async throws {
        let world = try await TestWorld()
        _ = try await world.seedReferenceData()
        let (router, _) = CitizenCardApp.router(env: world.env, secureCookies: true)
        try await Application(router: router).test(.router) { client in
            let web = WebSession(Harness.Client(client: client))
            try await web.get("/console/login")
            let login = try await web.post("/console/login", [("username", "clerk"), ("password", TestWorld.password)])
            let cookie = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("cc_session=") })
            for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
                #expect(cookie.contains(attribute), "\(attribute) in \(cookie)")
            }
        }
    }
}

@Suite("Console flows")
struct ConsoleFlowTests {
    @Test("an operator takes a person from application to an issued card, reports it lost and reissues it")
    func applicationToReissue() async throws {
        let harness = try await Harness()
        let idNumber = harness.fixtures.newIDNumber()
        try await harness.run { client in
            let clerk = WebSession(client)
            #expect(try await clerk.login("clerk").text.contains("/console/persons/find"))
            // Unknown ID number: the page offers to register.
            try await clerk.get("/console/persons/find")
            let unknown = try await clerk.post("/console/persons/find", [("idNumber", idNumber)])
            #expect(unknown.status == 404)
            #expect(unknown.text.contains("/console/persons/new"))
            // Register, with markup in the name: shown as text, never as markup.
            try await clerk.get("/console/persons/new")
            let markup = "<b>王</b><script>alert(1)</script>"
            let registered = try await clerk.post(
                "/console/persons/new",
                [
                    ("idNumber", idNumber), ("name", markup), ("household", "local"), ("socialInsurance", "on"),
                    ("phone", "13805801234"),
                ])
            #expect(registered.status == 303, "\(registered.text)")
            let personID = try #require(registered.capture(#"/console/persons/([^?"/]+)"#))
            #expect(!(registered.headers[.location] ?? "").contains(idNumber), "no personal data in URLs")
            let personPage = try await clerk.follow(registered)
            #expect(personPage.text.contains("人员已登记"))
            let revealed = try await clerk.post("/console/persons/\(personID)/reveal", [("purpose", "identity check")])
            #expect(revealed.text.contains("&lt;b&gt;王&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!revealed.text.contains("<script>alert"))
            // Without a portrait the application is refused, with the reason on the page.
            let noPhoto = try await clerk.post("/console/persons/\(personID)/applications", [("expectedFeeFen", "0")])
            #expect(noPhoto.status == 422)
            #expect(noPhoto.text.contains(CitizenCardError.Code.photoRequired.titleZh))
            try await clerk.get("/console/persons/\(personID)")
            let photo = try await clerk.upload(
                "/console/persons/\(personID)/photo", [],
                file: ("photo", "portrait.png", "image/png", Fixtures.png))
            #expect(photo.status == 303, "\(photo.text)")
            try await clerk.follow(photo)
            let applied = try await clerk.follow(
                try await clerk.post("/console/persons/\(personID)/applications", [("expectedFeeFen", "0")]))
            #expect(applied.text.contains("收费凭证"))
            #expect(applied.text.contains("¥0.00"))
            let cardID = try #require(applied.capture(#"/console/cards/([^?"/]+)"#))
            // The clerk may not verify: the page is not in the menu and the server refuses it.
            #expect(!clerk.lastPage.contains("/console/verification"))
            #expect(try await clerk.get("/console/verification").status == 403)
            let supervisor = WebSession(client)
            _ = try await supervisor.login("supervisor")
            let queue = try await supervisor.get("/console/verification")
            #expect(queue.text.contains(cardID))
            let approved = try await supervisor.post(
                "/console/cards/\(cardID)/verification", [("decision", "approve"), ("back", "queue")])
            #expect(approved.status == 303)
            // The center makes and delivers the card.
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            try await admin.get("/console/production")
            let batch = try await admin.post("/console/production", [])
            let batchID = try #require(batch.capture(#"/console/production/([^?"/]+)"#))
            try await admin.follow(batch)
            let file = try await admin.get("/console/production/\(batchID)/file")
            #expect(file.status == 200)
            let records = try #require((file.json["records"] as? [[String: Any]]))
            let numbers = records.compactMap { $0["cardNumber"] as? String }
            #expect(!numbers.isEmpty)
            let csv = "cardNumber,outcome\n" + numbers.map { "\($0),ok" }.joined(separator: "\n")
            let recorded = try await admin.upload(
                "/console/production/\(batchID)/results", [],
                file: ("results", "results.csv", "text/csv", Data(csv.utf8)))
            #expect(recorded.status == 200, "\(recorded.text)")
            #expect(recorded.text.contains("制卡结果已导入"))
            let delivered = try await admin.post("/console/production/\(batchID)/delivery", [])
            #expect(delivered.text.contains("卡片已配送至网点"))
            // Issue against an identity check: a wrong ID number is refused on the card's page.
            try await clerk.get("/console/cards/\(cardID)")
            #expect(clerk.lastPage.contains("待领取"))
            let wrong = try await clerk.post(
                "/console/cards/\(cardID)/issue",
                [("idNumber", harness.fixtures.newIDNumber()), ("documentChecked", "on")])
            #expect(wrong.status == 422)
            #expect(wrong.text.contains(CitizenCardError.Code.identityMismatch.titleZh))
            let issued = try await clerk.follow(
                try await clerk.post(
                    "/console/cards/\(cardID)/issue", [("idNumber", idNumber), ("documentChecked", "on")]))
            #expect(issued.text.contains("卡片已发放"))
            #expect(issued.text.contains("state-active"))
            let lost = try await clerk.follow(
                try await clerk.post(
                    "/console/cards/\(cardID)/written-loss", [("idNumber", idNumber), ("documentChecked", "on")]))
            #expect(lost.text.contains("书面挂失已生效"))
            #expect(lost.text.contains("state-lost"))
            // A written loss never lapses: the page must not say it does (at the card's expiry).
            #expect(!lost.text.contains(WebStringsProbe.lossLapses), "a written loss shown as lapsing")
            let fee = try #require(
                lost.capture(
                    #"id="reissue">\s*<input[^>]*>\s*<input type="hidden" name="expectedFeeFen" value="(\d+)""#))
            let reissued = try await clerk.follow(
                try await clerk.post(
                    "/console/cards/\(cardID)/reissue",
                    [("idNumber", idNumber), ("documentChecked", "on"), ("expectedFeeFen", fee)]))
            #expect(reissued.text.contains("补领工本费"))
            #expect(reissued.text.contains(WebFormatProbe.money(Int64(fee)!)))
            #expect(reissued.text.contains("/static/print.js"))
            // The day's report counts the clerk's work and the fee taken in cash, with a chart.
            let report = try await clerk.get("/console/reports")
            #expect(report.status == 200)
            #expect(report.text.contains("<svg class=\"chart\""))
            #expect(report.text.contains("补领</td><td>1</td>"))
            #expect(report.text.contains("书面挂失</td><td>1</td>"))
            #expect(report.text.contains(WebFormatProbe.money(Int64(fee)!)))
            // An outlet's clerk sees its own outlet whatever the URL asks for.
            #expect(try await clerk.get("/console/reports?outlet=PT01").text.contains("DH01"))
        }
    }
}

/// The label of a pre-loss's lapse time after the loss's own time on the card pages
/// (`card.lossExpires`; the menu has the same words alone, without the separator).
enum WebStringsProbe {
    static let lossLapses = "· 预挂失到期"
}

/// The money format the pages use (¥12.50), restated for the assertions.
enum WebFormatProbe {
    static func money(_ fen: Int64) -> String { "¥\(fen / 100)." + String(format: "%02d", fen % 100) }
}

@Suite("Citizen portal pages")
struct PortalPageTests {
    @Test("a holder logs in with the query password set at the counter, sees the card, reports a loss")
    func holderFlow() async throws {
        let harness = try await Harness()
        let (resident, card) = try await harness.fixtures.activeCard()
        try await harness.run { client in
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            let cardPage = try await clerk.get("/console/cards/\(card.id)")
            #expect(cardPage.text.contains("未设置"))
            let weak = try await clerk.post(
                "/console/cards/\(card.id)/query-password",
                [("queryPassword", "123456"), ("idNumber", resident.idNumber), ("documentChecked", "on")])
            #expect(weak.status == 422)
            let set = try await clerk.post(
                "/console/cards/\(card.id)/query-password",
                [("queryPassword", "135790"), ("idNumber", resident.idNumber), ("documentChecked", "on")])
            #expect(set.status == 303, "\(set.text)")
            #expect(try await clerk.follow(set).text.contains("查询密码已设置"))

            let holder = WebSession(client)
            let gate = try await holder.get("/portal")
            #expect(gate.status == 303)
            #expect(gate.headers[.location] == "/portal/login")
            try await holder.get("/portal/login")
            let wrong = try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "999999")])
            #expect(wrong.status == 401)
            let login = try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "135790")])
            #expect(login.status == 303, "\(login.text)")
            #expect(
                login.headers[values: .setCookie].contains { $0.hasPrefix("cc_citizen=") && $0.contains("HttpOnly") })
            let home = try await holder.follow(login)
            #expect(home.text.contains("我的市民卡"))
            #expect(home.text.contains("state-active"))
            #expect(home.text.contains("¥0.00"))
            #expect(!home.text.contains(resident.idNumber), "masked as a citizen expects")
            #expect(!home.text.contains(card.number), "the card number is masked too")
            // A form without the token is refused and changes nothing.
            let forged = try await holder.post("/portal/loss", [], csrf: "forged")
            #expect(forged.status == 403)
            #expect(try await harness.fixtures.cards.card(card.id, actor: harness.staff.clerk).state == .active)
            try await holder.get("/portal")
            let lost = try await holder.follow(try await holder.post("/portal/loss", []))
            #expect(lost.text.contains("预挂失已生效"))
            #expect(lost.text.contains("class=\"lapse\""))
            #expect(try await harness.fixtures.cards.card(card.id, actor: harness.staff.clerk).state == .preLost)
            // Who read my data: the clerk's reads are there, as staff.
            let log = try await holder.get("/portal/access-log")
            #expect(log.text.contains("工作人员"))
            #expect(log.text.contains("clerk"))
            // Log-out ends the session.
            let out = try await holder.post("/portal/logout", [])
            #expect(out.status == 303)
            #expect(try await holder.get("/portal").status == 303)
            // A form sent after the session ended goes to the log-in page, not to an error.
            let late = try await holder.post("/portal/loss", [])
            #expect(late.status == 303)
            #expect(late.headers[.location] == "/portal/login")
        }
    }

    /// An active card whose holder's query password is 246813.
    static func portalCard(_ harness: Harness) async throws -> CardView {
        let (resident, card) = try await harness.fixtures.activeCard()
        _ = try await PortalService(harness.world.env).setQueryPassword(
            cardID: card.id, password: "246813", identity: harness.fixtures.identity(resident),
            actor: harness.staff.clerk)
        return card
    }

    @Test("the center publishes a service and a holder activates it once")
    func catalogue() async throws {
        let harness = try await Harness()
        let card = try await Self.portalCard(harness)
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            try await admin.get("/console/catalogue")
            let today = harness.world.clock.now().calendarDate().iso8601
            let published = try await admin.post(
                "/console/catalogue",
                [
                    ("code", "library"), ("nameZh", "图书借阅"), ("name", "Library lending"),
                    ("descriptionZh", "凭市民卡借阅图书"), ("description", "Borrow books with the card"),
                    ("effectiveFrom", today),
                ])
            #expect(published.status == 200, "\(published.text)")
            #expect(published.text.contains("服务已发布"))
            let holder = WebSession(client)
            try await holder.get("/portal/login")
            _ = try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "246813")])
            let services = try await holder.get("/portal/services")
            #expect(services.text.contains("图书借阅"))
            let activated = try await holder.post("/portal/services/library/activation", [])
            #expect(activated.text.contains("服务已开通"))
            let again = try await holder.post("/portal/services/library/activation", [])
            #expect(again.status == 409)
            #expect(try await holder.get("/portal").text.contains("图书借阅"))
        }
    }

    @Test("repeated wrong passwords lock the holder's log-in, and the staff log-in is throttled too")
    func lockout() async throws {
        let harness = try await Harness()
        let card = try await Self.portalCard(harness)
        try await harness.run { client in
            let holder = WebSession(client)
            try await holder.get("/portal/login")
            var statuses: [Int] = []
            for _ in 0..<5 {
                statuses.append(
                    try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "975310")]).status
                )
            }
            #expect(statuses.last == 429)
            let locked = try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "246813")])
            #expect(locked.status == 429)
            #expect(locked.text.contains(CitizenCardError.Code.tooManyAttempts.titleZh))

            let staff = WebSession(client)
            try await staff.get("/console/login")
            for _ in 0..<5 {
                _ = try await staff.post("/console/login", [("username", "clerk"), ("password", "wrong")])
            }
            let throttled = try await staff.post(
                "/console/login", [("username", "clerk"), ("password", TestWorld.password)])
            #expect(throttled.status == 429)
            let api = try await client.send(
                .post, "/api/v1/auth/login", json: #"{"username":"clerk","password":"\#(TestWorld.password)"}"#)
            #expect(api.status == 429)
            #expect(api.code == "too_many_attempts")
            harness.world.clock.advance(seconds: 15 * 60 + 1)
            #expect(try await staff.login("clerk").status == 200)
        }
    }
}

@Suite("Page access")
struct PageAccessTests {
    /// Every console page, and the roles whose menu shows it and whom the server lets in.
    static let pages: [(path: String, roles: Set<String>)] = [
        ("/console/persons/find", ["clerk", "supervisor", "admin"]),
        ("/console/persons/new", ["clerk", "supervisor"]),
        ("/console/applications/bulk", ["clerk", "supervisor"]),
        ("/console/verification", ["supervisor", "admin"]),
        ("/console/production", ["admin"]),
        ("/console/reports", ["clerk", "supervisor", "admin"]),
        ("/console/pre-losses", ["clerk", "supervisor", "admin"]),
        ("/console/queues", ["clerk", "supervisor", "admin"]),
        ("/console/fees", ["clerk", "supervisor", "admin"]),
        ("/console/catalogue", ["clerk", "supervisor", "admin"]),
        ("/console/audit", ["admin", "auditor"]),
        ("/console/cases", ["clerk", "supervisor", "admin"]),
        ("/console/departments", ["admin", "commissioner", "auditor"]),
        ("/console/grants", ["admin", "commissioner", "auditor"]),
        ("/console/feeds", ["admin", "commissioner", "auditor"]),
        ("/console/disclosures", ["admin", "commissioner", "auditor"]),
        ("/console/banks", ["admin", "auditor"]),
        ("/console/account", ["clerk", "supervisor", "admin", "commissioner", "auditor"]),
    ]

    @Test("a role sees in its menu exactly the pages the server lets it open")
    func menuMatchesServer() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            for user in ["clerk", "supervisor", "admin", "commissioner", "auditor"] {
                let web = WebSession(client)
                let home = try await web.login(user)
                for page in Self.pages {
                    let allowed = page.roles.contains(user)
                    #expect(home.text.contains("href=\"\(page.path)\"") == allowed, "\(user) menu: \(page.path)")
                    let reply = try await web.get(page.path)
                    #expect(reply.status == (allowed ? 200 : 403), "\(user) GET \(page.path): \(reply.status)")
                }
            }
            // Not logged in: every page sends to the log-in page.
            let anonymous = WebSession(client)
            for page in Self.pages {
                let reply = try await anonymous.get(page.path)
                #expect(reply.status == 303)
                #expect(reply.headers[.location]?.hasPrefix("/console/login?next=") == true)
            }
        }
    }

    @Test("every text a template uses exists in both languages, and no template writes a value unescaped")
    func templateStrings() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/CitizenCardHTTP/Resources/web/templates").standardized
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter {
            $0.hasSuffix(".mustache")
        }
        #expect(names.count > 10)
        let regex = try NSRegularExpression(pattern: #"\{\{t\.([A-Za-z0-9_.-]+)\}\}"#)
        var missing: [String] = []
        for name in names {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            // Every value is written escaped: no triple braces, no `{{&name}}`.
            #expect(!text.contains("{{{") && !text.contains("{{&"), "\(name) writes a value unescaped")
            for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let key = String(text[Range(match.range(at: 1), in: text)!])
                if !CitizenCardApp.hasPageText(key) { missing.append("\(name): \(key)") }
            }
        }
        #expect(missing.isEmpty, "\(missing)")
    }
}

@Suite("Console counter services")
struct ConsoleServiceTests {
    @Test("withdrawal of a loss, replacement with its fee and receipt, cancellation, at the counter")
    func counterServices() async throws {
        let harness = try await Harness()
        let (resident, card) = try await harness.fixtures.activeCard()
        let (other, second) = try await harness.fixtures.activeCard()
        try await harness.run { client in
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            let identity = [("idNumber", resident.idNumber), ("documentChecked", "on")]
            try await clerk.get("/console/cards/\(card.id)")
            // Without ticking the document check nothing happens.
            let unchecked = try await clerk.post(
                "/console/cards/\(card.id)/written-loss", [("idNumber", resident.idNumber)])
            #expect(unchecked.status == 422)
            #expect(try await harness.fixtures.cards.card(card.id, actor: harness.staff.clerk).state == .active)
            _ = try await clerk.follow(try await clerk.post("/console/cards/\(card.id)/written-loss", identity))
            let withdrawn = try await clerk.follow(
                try await clerk.post("/console/cards/\(card.id)/loss-withdrawal", identity))
            #expect(withdrawn.text.contains("挂失已解除"))
            #expect(withdrawn.text.contains("state-active"))
            // Replacement: the page shows each reason with its fee; the receipt shows the amount.
            #expect(withdrawn.text.contains("卡片损坏 — ¥"))
            let replaced = try await clerk.follow(
                try await clerk.post("/console/cards/\(card.id)/replacement", identity + [("reason", "damaged")]))
            #expect(replaced.text.contains("损坏换领工本费"))
            let schedule = try await AdministrationService(harness.world.env).feeSchedule(actor: harness.staff.clerk)
            let fee = try #require(schedule.current[FeeItem.replacementDamaged.rawValue])
            #expect(replaced.text.contains(WebFormatProbe.money(fee.fen)))
            #expect(replaced.text.contains("/static/print.js"))
            // Cancellation by a relative needs the relationship; by the holder, the identity check.
            try await clerk.get("/console/cards/\(second.id)")
            let cancelled = try await clerk.follow(
                try await clerk.post(
                    "/console/cards/\(second.id)/cancellation",
                    [
                        ("reason", "household_move"), ("applicant", "holder"), ("documentReference", "迁出证明 2026-001"),
                        ("idNumber", other.idNumber), ("documentChecked", "on"),
                    ]))
            #expect(cancelled.text.contains("卡片已注销"), "\(cancelled.text)")
            #expect(try await harness.fixtures.cards.card(second.id, actor: harness.staff.clerk).state == .cancelled)
            // In English, the same page and its errors are English.
            clerk.acceptLanguage = "en"
            let english = try await clerk.post(
                "/console/cards/\(second.id)/written-loss", [("idNumber", other.idNumber), ("documentChecked", "on")])
            #expect(english.status == 409)
            #expect(english.text.contains("This action is not allowed in the card&#39;s current state"))
        }
    }

    @Test(
        "the queues page: a forged record closed with a note moves to the closed list; a gap record's card written off")
    func closingExceptions() async throws {
        let harness = try await Harness()
        var (card, chip) = try await harness.fixtures.activeCardWithChip()
        try await harness.fixtures.load(&chip, card: card, fen: 1000)
        var bus = try await harness.fixtures.acquirer()
        var forged = try bus.tap(&chip, fen: 100, at: "20261129130000")
        forged.tac = forged.tac == "00000000" ? "00000001" : "00000000"
        _ = try bus.tap(&chip, fen: 100, at: "20261129130100")
        let ahead = try bus.tap(&chip, fen: 100, at: "20261129130200")
        let answer = try await bus.upload([forged, ahead], env: harness.world.env)
        #expect(answer.records.map(\.reason) == [.badTAC, .gap])
        let forgedID = answer.records[0].purchaseId, gapID = answer.records[1].purchaseId
        let cardID = card.id
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            let page = try await admin.get("/console/queues")
            #expect(page.text.contains("/console/queues/exceptions/\(forgedID)/closure"))
            #expect(!page.text.contains("/console/queues/exceptions/\(gapID)/closure"))
            #expect(page.text.contains("等待补齐"))
            let blank = try await admin.post("/console/queues/exceptions/\(forgedID)/closure", [("note", " ")])
            #expect(blank.status == 422 && blank.text.contains("请填写原因"), "\(blank.status)")
            let closed = try await admin.follow(
                try await admin.post("/console/queues/exceptions/\(forgedID)/closure", [("note", "伪造 TAC，已核查终端")]))
            #expect(closed.text.contains("异常记录已关闭"))
            #expect(closed.text.contains("伪造 TAC，已核查终端"))
            #expect(!closed.text.contains("/console/queues/exceptions/\(forgedID)/closure"))
            // The gap record cannot be closed from a hand-made form either.
            let refused = try await admin.post("/console/queues/exceptions/\(gapID)/closure", [("note", "lost")])
            #expect(refused.status == 409 && refused.text.contains("该记录在等待本卡的交易链补齐"))
            // The gap row offers to write off the card's missing records; that releases it.
            let queue = try await admin.get("/console/queues")
            #expect(queue.text.contains("/console/queues/cards/\(cardID)/missing-records"))
            let writtenOff = try await admin.follow(
                try await admin.post("/console/queues/cards/\(cardID)/missing-records", [("note", "终端损坏，记录无法恢复")]))
            #expect(writtenOff.text.contains("缺失记录已核销"), "\(writtenOff.status)")
            #expect(!writtenOff.text.contains("/console/queues/cards/\(cardID)/missing-records"))
            let again = try await admin.post("/console/queues/cards/\(cardID)/missing-records", [("note", "again")])
            #expect(again.status == 409 && again.text.contains("该卡没有等待缺失记录的交易"))
            // A clerk sees the loads queue only and cannot close.
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            #expect(!(try await clerk.get("/console/queues")).text.contains("closure"))
            let forbidden = try await clerk.post("/console/queues/exceptions/\(forgedID)/closure", [("note", "x")])
            #expect(forbidden.status == 403)
        }
        let closures = try await AcquiringService(harness.world.env).closedExceptions(
            after: nil, limit: 10, actor: harness.staff.admin)
        #expect(closures.map(\.purchase.id.rawValue) == [forgedID])
    }

    @Test("a correction: the form shows the data in full, saves a new version with its reason")
    func correction() async throws {
        let harness = try await Harness()
        let resident = try await harness.fixtures.resident()
        let id = resident.person.id
        try await harness.run { client in
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            let form = try await clerk.get("/console/persons/\(id)/edit")
            #expect(form.status == 200)
            #expect(form.text.contains("value=\"13805801234\""))
            let noReason = try await clerk.post(
                "/console/persons/\(id)/edit",
                [("name", resident.name), ("phone", "13900001111"), ("household", "local")])
            #expect(noReason.status == 422)
            let saved = try await clerk.post(
                "/console/persons/\(id)/edit",
                [
                    ("name", resident.name), ("phone", "13900001111"), ("household", "local"),
                    ("socialInsurance", "on"), ("reason", "new phone"), ("version", "2"),
                ])
            #expect(saved.status == 303, "\(saved.text)")
            #expect(try await clerk.follow(saved).text.contains("更正已保存"))
            let person = try await harness.fixtures.registry.read(
                id, reveal: true, purpose: "test", actor: harness.staff.clerk)
            #expect(person.phone == "13900001111")
            #expect(person.changeReason == "new phone")
            // A stale version is a conflict, shown on the form.
            let stale = try await clerk.post(
                "/console/persons/\(id)/edit",
                [("name", resident.name), ("phone", "13900002222"), ("reason", "again"), ("version", "2")])
            #expect(stale.status == 409)
        }
    }

    @Test("an employer's CSV: a result for every row, accepted and refused")
    func bulkApplication() async throws {
        let harness = try await Harness()
        let first = try await harness.fixtures.resident()
        let second = try await harness.fixtures.resident()
        let unknown = harness.fixtures.newIDNumber()
        try await harness.run { client in
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            try await clerk.get("/console/applications/bulk")
            let csv =
                "\u{FEFF}idNumber,name\n\(first.idNumber),a\n\(unknown),b\n\(second.idNumber),c\n\(first.idNumber),a\n"
            let reply = try await clerk.upload(
                "/console/applications/bulk", [("employerCode", "91330900MA2A"), ("employerName", "舟山港集团")],
                file: ("file", "staff.csv", "text/csv", Data(csv.utf8)))
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.text.contains("受理: <strong>2</strong>"))
            #expect(reply.text.contains("未受理: <strong>2</strong>"))
            #expect(reply.text.contains(CitizenCardError.Code.notFound.titleZh))
            #expect(reply.text.contains(CitizenCardError.Code.applicationExists.titleZh))
            #expect(!reply.text.contains(unknown), "ID numbers are shown masked")
        }
    }
}

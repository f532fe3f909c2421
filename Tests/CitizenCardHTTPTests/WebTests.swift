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
        }
    }
}

/// The money format the pages use (¥12.50), restated for the assertions.
enum WebFormatProbe {
    static func money(_ fen: Int64) -> String { "¥\(fen / 100)." + String(format: "%02d", fen % 100) }
}

import BankProtocol
import BankSimulator
import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Testing

/// A partner bank for one page test: the bank simulator on a loopback port, registered at the
/// center as the city's default bank, so that cards made through production get accounts.
struct PageTestBank {
    let server: BankSimulatorServer
    let directory: TemporaryDirectory

    static let name = "工商银行舟山分行"

    static func start(_ harness: Harness) async throws -> PageTestBank {
        // The bank checks signatures against its own clock: the center's runs at the real time.
        harness.world.clock.set(Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970)))
        let secret = BankSignature.newSecret()
        let directory = TemporaryDirectory()
        let server = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(
                bankCode: "ICBC", bin: "622202", secret: secret, statePath: directory.file("bank.jsonl").path))
        _ = try await BankService(harness.world.env).register(
            .init(
                code: "ICBC", name: name, bins: ["622202"], endpoint: server.baseURL, isDefault: true,
                secret: secret.map { String(format: "%02x", $0) }.joined()),
            actor: harness.staff.admin)
        return PageTestBank(server: server, directory: directory)
    }
}

/// The partner-bank pages (issue 20): the banks and the outbox on the console, a parked notice
/// retried, a reconciliation run (and a bank that does not answer), the account on the card page
/// and on the portal, and what each role may see and do.
@Suite("Console bank pages", .serialized)
struct BankPageTests {
    /// One pass of the outbox with a policy that parks a notice at its first failure.
    static func sendOnce(_ harness: Harness) async throws -> BankService.SendReport {
        var env = harness.world.env
        env.bankPolicy = BankPolicy(timeoutSeconds: 2, maxAttempts: 1, maxBackoffSeconds: 1)
        return try await BankService(env).sendDue(breaker: BankBreaker())
    }

    @Test("the center sees its banks, retries a parked notice, reconciles; the card and the portal show the account")
    func centerRetriesAndReconciles() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        let bank = try await PageTestBank.start(harness)
        defer { Task { await bank.server.stop() } }
        let (resident, card) = try await harness.fixtures.activeCard()
        let account = try #require(try await BankService(env).account(cardID: card.id, actor: harness.staff.admin))
        #expect(account.state == .open)
        let masked = try #require(account.maskedNumber)
        let number = try #require(bank.server.snapshot().accounts.first { $0.cardNumber == card.number }?.accountNumber)
        _ = try await PortalService(env).setQueryPassword(
            cardID: card.id, password: "246813", identity: harness.fixtures.identity(resident),
            actor: harness.staff.clerk)
        // The bank answers 500: the written loss's notice is parked with its error.
        bank.server.setMode(.error)
        _ = try await CardService(env).reportWrittenLoss(
            card.id, identity: harness.fixtures.identity(resident), actor: harness.staff.clerk)
        #expect(try await Self.sendOnce(harness).parked == 1)
        let parked = try #require(
            try await BankService(env).notices(bankCode: "ICBC", state: .parked, limit: 10, actor: harness.staff.admin)
                .first)

        try await harness.run { client in
            let admin = WebSession(client)
            let home = try await admin.login("admin")
            #expect(home.text.contains("href=\"/console/banks\"") && home.text.contains("合作银行"))
            let page = try await admin.get("/console/banks")
            #expect(page.status == 200, "\(page.text)")
            for text in [">ICBC</code>", PageTestBank.name, "622202", bank.server.baseURL, "默认银行", "合作中"] {
                #expect(page.text.contains(text), "bank: \(text)")
            }
            #expect(page.text.contains("id=\"notice-\(parked.id)\""))
            #expect(page.text.contains("href=\"/console/cards/\(card.id)\""))
            #expect(page.text.contains("书面挂失") && page.text.contains("已搁置") && page.text.contains("HTTP 500"))
            #expect(page.text.contains("action=\"/console/banks/notices/\(parked.id)/retry\""))
            #expect(page.text.contains("id=\"reconcile\""))
            // The filter: delivered notices only (none yet), then in English.
            let delivered = try await admin.get("/console/banks?bank=ICBC&state=delivered")
            #expect(delivered.status == 200 && !delivered.text.contains("id=\"notice-\(parked.id)\""))
            #expect(try await admin.get("/console/banks?state=lost").status == 422)

            // A retry without the form's token changes nothing.
            try await admin.get("/console/banks")
            let forged = try await admin.post("/console/banks/notices/\(parked.id)/retry", [], csrf: "forged")
            #expect(forged.status == 403 && forged.text.contains("表单已过期"))
            #expect(try await Self.state(of: parked.id, harness) == .parked)

            // The auditor reads the same page, without the retry or the reconciliation form, and may do neither.
            let auditor = WebSession(client)
            #expect(try await auditor.login("auditor").text.contains("href=\"/console/banks\""))
            let read = try await auditor.get("/console/banks")
            #expect(read.status == 200 && read.text.contains("id=\"notice-\(parked.id)\""))
            #expect(!read.text.contains("/retry\"") && !read.text.contains("id=\"reconcile\""))
            #expect(try await auditor.post("/console/banks/notices/\(parked.id)/retry", []).status == 403)
            let today = env.clock.now().calendarDate(offsetSeconds: 8 * 3600).iso8601
            #expect(
                try await auditor.post("/console/banks/reconciliations", [("bank", "ICBC"), ("date", today)]).status
                    == 403)
            #expect(try await Self.state(of: parked.id, harness) == .parked)
            // A clerk neither sees nor opens it.
            let clerk = WebSession(client)
            #expect(try await clerk.login("clerk").text.contains("/console/banks") == false)
            #expect(try await clerk.get("/console/banks").status == 403)
            #expect(try await clerk.post("/console/banks/notices/\(parked.id)/retry", []).status == 403)

            // The bank answers again; the center retries; the notice is delivered.
            bank.server.setMode(.normal)
            try await admin.get("/console/banks?bank=ICBC")
            let retried = try await admin.post(
                "/console/banks/notices/\(parked.id)/retry", [("bank", "ICBC"), ("state", "")])
            #expect(retried.status == 303)
            #expect(retried.headers[.location] == "/console/banks?bank=ICBC&done=notice-retried")
            #expect(try await admin.follow(retried).text.contains("通知已重新排队"))
            let again = try await admin.post("/console/banks/notices/\(parked.id)/retry", [])
            #expect(again.status == 409, "only a parked notice is retried")
            #expect(try await Self.sendOnce(harness).delivered == 1)
            let sent = try await admin.get("/console/banks?state=delivered")
            #expect(sent.text.contains("id=\"notice-\(parked.id)\"") && sent.text.contains("已送达"))

            // Today's reconciliation from the form; its result on the answer and in the list.
            let reconciled = try await admin.post(
                "/console/banks/reconciliations", [("bank", "ICBC"), ("date", today)])
            #expect(reconciled.status == 200, "\(reconciled.text)")
            #expect(reconciled.text.contains("对账已完成") && reconciled.text.contains("id=\"reconciliation-result\""))
            #expect(reconciled.text.contains("href=\"/lang/en?back=/console/banks\""))
            #expect(
                reconciled.text.contains("1 / 1"), "one notice sent and confirmed, one account opened and confirmed")
            let listed = try await admin.get("/console/banks")
            #expect(listed.text.contains("id=\"reconciliations\"") && listed.text.contains(today))

            // A bank that does not answer: the page says so (503), with the form as it was sent.
            _ = try await BankService(env).register(
                .init(code: "BOC", name: "中国银行", bins: ["621660"], endpoint: "http://127.0.0.1:9"),
                actor: harness.staff.admin)
            let silent = try await admin.post("/console/banks/reconciliations", [("bank", "BOC"), ("date", today)])
            #expect(silent.status == 503)
            #expect(silent.text.contains("银行未应答"))
            #expect(silent.text.contains("<option value=\"BOC\" selected>"))
            try await admin.get("/lang/en?back=/console/banks")
            let english = try await admin.post("/console/banks/reconciliations", [("bank", "BOC"), ("date", today)])
            #expect(english.status == 503 && english.text.contains("The bank did not answer"))
            #expect(english.text.contains("Notices to the banks") && english.text.contains("Parked and pending"))

            // The card page: the account masked, its state, and the card's notices.
            let cardPage = try await admin.get("/console/cards/\(card.id)")
            #expect(cardPage.text.contains("id=\"bank-account\"") && cardPage.text.contains(masked))
            #expect(cardPage.text.contains("account-open\">Open<") && cardPage.text.contains("id=\"bank-notices\""))
            #expect(cardPage.text.contains("Written loss") && cardPage.text.contains("notice-delivered\">Delivered<"))
            #expect(!cardPage.text.contains(number))
            let counter = WebSession(client)
            _ = try await counter.login("clerk")
            let atCounter = try await counter.get("/console/cards/\(card.id)")
            #expect(atCounter.text.contains("银行账户") && atCounter.text.contains("account-open\">正常<"))
            #expect(!atCounter.text.contains("id=\"bank-notices\""), "the notices are for the center")

            // The portal: the bank's name and the number masked, never in full.
            let holder = WebSession(client)
            try await holder.get("/portal/login")
            let portal = try await holder.follow(
                try await holder.post("/portal/login", [("cardNumber", card.number), ("password", "246813")]))
            #expect(portal.status == 200)
            #expect(portal.text.contains(PageTestBank.name) && portal.text.contains(masked))
            #expect(!portal.text.contains(number))
        }
    }

    @Test("a hostile bank name is shown as text; with no bank the page says so")
    func escaping() async throws {
        let harness = try await Harness()
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            let empty = try await admin.get("/console/banks")
            #expect(empty.status == 200 && empty.text.contains("尚未登记合作银行"))
            #expect(empty.text.contains("尚无对账结果"))
            _ = try await BankService(harness.world.env).register(
                .init(
                    code: "EVIL", name: "<b>坏</b><script>alert(1)</script>", bins: ["999999"],
                    endpoint: "http://127.0.0.1:9"),
                actor: harness.staff.admin)
            let page = try await admin.get("/console/banks")
            #expect(page.status == 200)
            #expect(page.text.contains("&lt;b&gt;坏&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!page.text.contains("<script>alert"))
            #expect(!page.text.contains("<b>坏"))
        }
    }

    static func state(of id: Int64, _ harness: Harness) async throws -> BankService.NoticeState? {
        try await BankService(harness.world.env).notices(
            bankCode: "ICBC", state: nil, limit: 100, actor: harness.staff.admin
        ).first { $0.id == id }?.state
    }
}

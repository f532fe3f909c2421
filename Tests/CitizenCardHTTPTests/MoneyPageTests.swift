import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import HTTPTypes
import Testing

/// The money pages (issue 21, part 5): a closed purse's refund paid out at the counter with its
/// payee, the refunds due, merchants and terminals (the key shown once), clearing with the
/// settlement files, fraud signals, the suspense accounts and the center's decisions; in both
/// languages, and only for the roles that may.
@Suite("Console money pages", .serialized)
struct MoneyPageTests {
    /// The pages, and the roles whose menu shows them and who may open them.
    static let pages: [(path: String, roles: Set<String>)] = [
        ("/console/refunds", ["clerk", "supervisor", "admin"]),
        ("/console/merchants", ["admin"]),
        ("/console/clearing", ["admin"]),
        ("/console/fraud-signals", ["admin"]),
        ("/console/suspense", ["admin", "auditor"]),
    ]

    /// A cancelled card whose purse (`fen`) was closed as a refund after the waiting period.
    static func refundDue(_ harness: Harness, fen: Int64 = 1000) async throws -> (Fixtures.Resident, CardView) {
        let fixtures = harness.fixtures
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: fen)
        _ = try await fixtures.cards.cancel(
            card.id,
            .init(
                reason: .holderRequest, applicant: .holder, documentReference: "ID card",
                identity: fixtures.identity(resident)), actor: harness.staff.clerk)
        harness.world.clock.advance(days: 7)
        #expect(try await PurseClosureService(harness.world.env).closeDue() >= 1)
        return (resident, card)
    }

    @Test("a role sees the money pages in its menu exactly when the server lets it open them")
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
                    if allowed {
                        web.acceptLanguage = "en-GB,en;q=0.9"
                        let english = try await web.get(page.path)
                        #expect(english.status == 200 && english.text.contains("<html lang=\"en\">"), "\(page.path)")
                        web.acceptLanguage = "zh-CN,zh;q=0.9"
                    }
                }
            }
            let anonymous = WebSession(client)
            for page in Self.pages {
                let reply = try await anonymous.get(page.path)
                #expect(reply.status == 303 && reply.headers[.location]?.hasPrefix("/console/login?next=") == true)
            }
        }
    }

    @Test("a refund due shows on its card and in the list; the clerk pays it to the holder by bank, masked")
    func refundPayout() async throws {
        let harness = try await Harness()
        let (resident, card) = try await Self.refundDue(harness)
        let (other, _) = try await harness.fixtures.activeCard()
        let account = "6222020000001234"
        try await harness.run { client in
            let clerk = WebSession(client)
            try await clerk.login("clerk")
            let due = try await clerk.get("/console/refunds")
            #expect(due.status == 200 && due.text.contains("href=\"/console/cards/\(card.id)\""))
            #expect(due.text.contains("¥10.00"))
            let page = try await clerk.get("/console/cards/\(card.id)")
            #expect(page.status == 200)
            for text in ["id=\"purse-closure\"", "注销退款", "¥10.00", "待支付", "id=\"refund-payout\"", "近亲属", "继承人"] {
                #expect(page.text.contains(text), "card page: \(text)")
            }
            let path = "/console/cards/\(card.id)/purse-closure/payout"
            // Refusals: another person's document, no tick, a relative while the holder lives, a bad account.
            let holderFields: [(String, String)] = [
                ("payeeKind", "holder"), ("payeeIdNumber", resident.idNumber), ("documentChecked", "on"),
                ("channel", "cash"),
            ]
            let mismatch = try await clerk.post(
                path,
                [
                    ("payeeKind", "holder"), ("payeeIdNumber", other.idNumber), ("documentChecked", "on"),
                    ("channel", "cash"),
                ]
            )
            #expect(mismatch.status == 422 || mismatch.status == 409 || mismatch.status == 403, "\(mismatch.status)")
            #expect(mismatch.text.contains("class=\"problem\"") && mismatch.text.contains("id=\"refund-payout\""))
            #expect(!mismatch.text.contains(other.idNumber), "the typed ID number is not shown again")
            let unticked = try await clerk.post(path, holderFields.filter { $0.0 != "documentChecked" })
            #expect(unticked.status == 422 && unticked.text.contains("证件核验"))
            let relative = try await clerk.post(
                path,
                [
                    ("payeeKind", "relative"), ("payeeName", "王大明"), ("payeeIdNumber", other.idNumber),
                    ("documentChecked", "on"), ("relationship", "child"), ("documentReference", "户口簿 123"),
                    ("channel", "cash"),
                ])
            #expect(relative.status == 422 && relative.text.contains("持卡人在世"))
            let badAccount = try await clerk.post(
                path,
                [
                    ("payeeKind", "holder"), ("payeeIdNumber", resident.idNumber), ("documentChecked", "on"),
                    ("channel", "bank_transfer"), ("bankName", "工商银行"), ("accountNumber", "12ab"),
                ])
            #expect(badAccount.status == 422 && badAccount.text.contains("银行账号"))
            let noChannel = try await clerk.post(path, holderFields.filter { $0.0 != "channel" })
            #expect(noChannel.status == 422 && noChannel.text.contains("支付方式"))
            let closures = PurseClosureService(harness.world.env)
            #expect(try await closures.closure(of: card.id, actor: harness.staff.clerk).status == .due)
            // A forged form changes nothing.
            #expect(try await clerk.post(path, holderFields, csrf: "forged").status == 403)

            // Paid to the holder by bank transfer.
            try await clerk.get("/console/cards/\(card.id)")
            let paid = try await clerk.post(
                path,
                [
                    ("payeeKind", "holder"), ("payeeIdNumber", resident.idNumber), ("documentChecked", "on"),
                    ("channel", "bank_transfer"), ("bankName", "工商银行舟山分行"), ("accountNumber", account),
                    // Left on the form from another choice: not sent for the holder.
                    ("relationship", ""), ("documentReference", ""),
                ])
            #expect(paid.status == 303 && paid.headers[.location] == "/console/cards/\(card.id)?done=refund-paid")
            let shown = try await clerk.follow(paid)
            for text in ["退款已支付", "已结清", "id=\"refund-payee\"", "持卡人本人", "银行转账", "工商银行舟山分行", "************1234"] {
                #expect(shown.text.contains(text), "paid: \(text)")
            }
            #expect(shown.text.contains(String(resident.idNumber.suffix(4))))
            #expect(!shown.text.contains(resident.idNumber) && !shown.text.contains(account), "masked only")
            #expect(!shown.text.contains("id=\"refund-payout\""), "paid once")
            let view = try await closures.view(of: card.id, actor: harness.staff.clerk)
            #expect(
                view.closure.status == .settled && view.payee?.kind == .holder && view.payee?.channel == "bank_transfer"
            )
            let again = try await clerk.post(path, holderFields)
            #expect(again.status == 409 && again.text.contains("退款已支付"))
            #expect(!(try await clerk.get("/console/refunds")).text.contains("/console/cards/\(card.id)\""))

            // In English.
            clerk.acceptLanguage = "en-GB,en;q=0.9"
            let english = try await clerk.get("/console/cards/\(card.id)")
            for text in ["E-purse closure", "Refund (cancellation)", "Settled", "The holder", "Bank transfer"] {
                #expect(english.text.contains(text), "English: \(text)")
            }

            // The center reads the closure but pays no refund.
            let admin = WebSession(client)
            try await admin.login("admin")
            let read = try await admin.get("/console/cards/\(card.id)")
            #expect(read.status == 200 && read.text.contains("id=\"refund-payee\""))
            #expect(try await admin.post(path, holderFields).status == 403)
        }
        // The payee's details never reached the log.
        #expect(!harness.world.logs.text.contains(resident.idNumber) && !harness.world.logs.text.contains(account))
    }

    @Test("after a death the refund is paid to a relative on the relationship's document")
    func refundToRelative() async throws {
        let harness = try await Harness()
        let (resident, card) = try await Self.refundDue(harness, fen: 550)
        let (relative, _) = try await harness.fixtures.activeCard()
        var died = RegistryService.Correction(reason: "death registered")
        died.lifeStatus = .deceased
        _ = try await harness.fixtures.registry.correct(resident.person.id, died, actor: harness.staff.clerk)
        try await harness.run { client in
            let clerk = WebSession(client)
            try await clerk.login("clerk")
            try await clerk.get("/console/cards/\(card.id)")
            let path = "/console/cards/\(card.id)/purse-closure/payout"
            let holder = try await clerk.post(
                path,
                [
                    ("payeeKind", "holder"), ("payeeIdNumber", resident.idNumber), ("documentChecked", "on"),
                    ("channel", "cash"),
                ])
            #expect(holder.status == 422 && holder.text.contains("持卡人已登记死亡"))
            let noRelationship = try await clerk.post(
                path,
                [
                    ("payeeKind", "relative"), ("payeeName", "李秀英"), ("payeeIdNumber", relative.idNumber),
                    ("documentChecked", "on"), ("documentReference", "户口簿 330902"), ("channel", "cash"),
                ])
            #expect(noRelationship.status == 422 && noRelationship.text.contains("关系"))
            let paid = try await clerk.post(
                path,
                [
                    ("payeeKind", "relative"), ("payeeName", "李秀英"), ("payeeIdNumber", relative.idNumber),
                    ("documentChecked", "on"), ("relationship", "child"), ("documentReference", "户口簿 330902"),
                    ("channel", "cash"),
                ])
            #expect(paid.status == 303)
            let shown = try await clerk.follow(paid)
            for text in ["近亲属", "子女", "现金", "¥5.50"] { #expect(shown.text.contains(text), "relative: \(text)") }
            #expect(!shown.text.contains("李秀英") && !shown.text.contains(relative.idNumber), "masked only")
        }
    }

    @Test("the center registers a merchant and a terminal, sees the key once, deactivates and reactivates it")
    func merchantsAndTerminals() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        try await harness.run { client in
            let admin = WebSession(client)
            try await admin.login("admin")
            #expect(try await admin.get("/console/merchants").text.contains("尚未登记商户"))
            let badCode = try await admin.post(
                "/console/merchants", [("code", "-X"), ("name", "舟山轮渡"), ("commissionBasisPoints", "60")])
            #expect(badCode.status == 422 && badCode.text.contains("商户代码") && badCode.text.contains("value=\"舟山轮渡\""))
            let noCommission = try await admin.post(
                "/console/merchants", [("code", "FERRY"), ("name", "舟山轮渡"), ("commissionBasisPoints", "")])
            #expect(noCommission.status == 422 && noCommission.text.contains("手续费"))
            let tooMuch = try await admin.post(
                "/console/merchants", [("code", "FERRY"), ("name", "舟山轮渡"), ("commissionBasisPoints", "10001")])
            #expect(tooMuch.status == 422)
            let made = try await admin.post(
                "/console/merchants", [("code", "ferry"), ("name", "舟山轮渡"), ("commissionBasisPoints", "60")])
            #expect(made.status == 303)
            let merchantPath = try #require(made.headers[.location]?.split(separator: "?").first.map(String.init))
            let page = try await admin.follow(made)
            #expect(page.status == 200 && page.text.contains("商户已登记") && page.text.contains("FERRY"))
            #expect(page.text.contains("0.60 %"))
            let twice = try await admin.post(
                "/console/merchants", [("code", "FERRY"), ("name", "again"), ("commissionBasisPoints", "60")])
            #expect(twice.status == 409)
            let list = try await admin.get("/console/merchants")
            #expect(list.text.contains("href=\"\(merchantPath)\""))

            // A terminal: bad input first, then the key, shown on the answer only.
            try await admin.get(merchantPath)
            let badNumber = try await admin.post(
                "\(merchantPath)/terminals", [("number", "XYZ"), ("psamSerial", "A1B2"), ("location", "码头")])
            #expect(badNumber.status == 422 && badNumber.text.contains("终端号"))
            let badPlace = try await admin.post(
                "\(merchantPath)/terminals",
                [("number", "0000000003A1"), ("psamSerial", "A1B2"), ("location", "码头"), ("latitude", "north")])
            #expect(badPlace.status == 422 && badPlace.text.contains("纬度"))
            let halfPlace = try await admin.post(
                "\(merchantPath)/terminals",
                [("number", "0000000003A1"), ("psamSerial", "A1B2"), ("location", "码头"), ("latitude", "29.98")])
            #expect(halfPlace.status == 422)
            let registered = try await admin.post(
                "\(merchantPath)/terminals",
                [
                    ("number", "0000000003a1"), ("psamSerial", "a1b2c3d4"), ("location", "三江码头"),
                    ("latitude", "29.985"), ("longitude", "122.207"),
                ])
            #expect(registered.status == 200 && registered.headers[.location] == nil)
            let key = try #require(registered.capture(#"id="issued-key">([^<]+)<"#))
            #expect(registered.text.contains("终端已登记") && registered.text.contains("0000000003A1"))
            #expect(registered.text.contains("29.985000, 122.207000"))
            let terminal = try await AuthService(env).authenticate(token: key)
            #expect(terminal.role == .terminal)
            let reread = try await admin.get(merchantPath)
            #expect(!reread.text.contains(key) && reread.text.contains("0000000003A1"), "the key is shown once")
            let duplicate = try await admin.post(
                "\(merchantPath)/terminals", [("number", "0000000003A1"), ("psamSerial", "FFFF"), ("location", "x")])
            #expect(duplicate.status == 409 && duplicate.text.contains("终端号"))

            // Deactivated: its key is refused; reactivated: accepted again.
            let terminalID = try #require(
                try await AcquiringService(env).terminals(merchant: nil, actor: harness.staff.admin).first?.id)
            let statusPath = "\(merchantPath)/terminals/\(terminalID)/status"
            #expect(try await admin.post(statusPath, [("active", "maybe")]).status == 422)
            let off = try await admin.post(statusPath, [("active", "false")])
            #expect(off.headers[.location] == "\(merchantPath)?done=terminal-deactivated")
            #expect(try await admin.follow(off).text.contains("终端已停用"))
            #expect((try? await AuthService(env).authenticate(token: key)) == nil)
            let on = try await admin.post(statusPath, [("active", "true")])
            #expect(on.headers[.location] == "\(merchantPath)?done=terminal-reactivated")
            #expect(try await AuthService(env).authenticate(token: key).role == .terminal)
            // Another merchant's address for the terminal: not found.
            let other = try await AcquiringService(env).registerMerchant(
                .init(code: "SHOP", name: "Shop", commissionBasisPoints: 0), actor: harness.staff.admin)
            try await admin.get(merchantPath)
            #expect(
                try await admin.post(
                    "/console/merchants/\(other.id)/terminals/\(terminalID)/status", [("active", "false")]
                )
                .status == 404)
            #expect(try await admin.get("/console/merchants/00000000-0000-7000-8000-00000000ffff").status == 404)

            admin.acceptLanguage = "en-GB,en;q=0.9"
            let english = try await admin.get(merchantPath)
            #expect(english.text.contains("Terminals") && english.text.contains("Deactivate"))

            // The other roles may not.
            let clerk = WebSession(client)
            try await clerk.login("clerk")
            #expect(try await clerk.get(merchantPath).status == 403)
            #expect(
                try await clerk.post(
                    "/console/merchants", [("code", "X1"), ("name", "x"), ("commissionBasisPoints", "1")]
                )
                .status == 403)
            #expect(try await clerk.post(statusPath, [("active", "false")]).status == 403)
        }
        #expect(!harness.world.logs.text.contains("tk_"), "no key in the log")
    }

    @Test("the center clears a day, reads the settlements and downloads a merchant's file")
    func clearingAndFile() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        // 2026-03-02 09:00 (+08): two rides on the bus.
        var (card, chip) = try await harness.fixtures.activeCardWithChip()
        try await harness.fixtures.load(&chip, card: card, fen: 5_000)
        var bus = try await harness.fixtures.acquirer(code: "BUS", commissionBasisPoints: 60)
        let rides = [
            try bus.tap(&chip, fen: 200, at: "20260302093000"), try bus.tap(&chip, fen: 200, at: "20260302094000"),
        ]
        _ = try await bus.upload(rides, env: env)
        try await harness.run { client in
            let admin = WebSession(client)
            try await admin.login("admin")
            let form = try await admin.get("/console/clearing")
            #expect(form.text.contains("value=\"2026-03-01\"") && form.text.contains("尚无清分记录"))
            let early = try await admin.post("/console/clearing", [("date", "2026-03-02")])
            #expect(early.status == 409 && early.text.contains("只能对已结束的营业日清分"))
            let nonsense = try await admin.post("/console/clearing", [("date", "yesterday")])
            #expect(nonsense.status == 422 && nonsense.text.contains("日期"))
        }
        harness.world.clock.advance(days: 1)
        try await harness.run { client in
            let admin = WebSession(client)
            try await admin.login("admin")
            try await admin.get("/console/clearing")
            // A day without purchases: its figures, all zero, on the answer; listed without a link.
            let empty = try await admin.post("/console/clearing", [("date", "2026-03-01")])
            #expect(empty.status == 200 && empty.text.contains("该营业日没有交易"))
            try await admin.get("/console/clearing")
            let report = try await admin.post("/console/clearing", [("date", "2026-03-02")])
            #expect(report.status == 200 && report.headers[.location] == nil)
            for text in ["清分已完成", "BUS", "¥4.00", "¥3.98", "0.60 %", "无差异", "000000000101"] {
                #expect(report.text.contains(text), "report: \(text)")
            }
            let file = try #require(report.capture(#"href="(/console/clearing/2026-03-02/settlements/BUS)""#))
            let csv = try await admin.get(file)
            #expect(csv.status == 200 && csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            #expect(csv.headers[.contentDisposition]?.contains("2026-03-02-BUS.csv") == true)
            #expect(
                csv.text.hasPrefix("business_date,merchant_code")
                    && csv.text.contains("2026-03-02,BUS,TOTAL,2,400,0,2,398"))
            #expect(try await admin.get("/console/clearing/2026-03-02/settlements/SHOP").status == 404)
            #expect(try await admin.get("/console/clearing/2026-02-01").status == 404)
            #expect(try await admin.get("/console/clearing/not-a-date").status == 404)
            let list = try await admin.get("/console/clearing")
            #expect(list.text.contains("href=\"/console/clearing/2026-03-02\"") && list.text.contains("¥3.98"))
            #expect(list.text.contains("2026-03-01") && !list.text.contains("href=\"/console/clearing/2026-03-01\""))
            let again = try await admin.post("/console/clearing", [("date", "2026-03-02")])
            #expect(again.status == 200 && again.text.contains("该营业日此前已清分") && again.text.contains("¥3.98"))
            #expect(try await admin.get("/console/clearing/2026-03-02").text.contains("¥3.98"))
            admin.acceptLanguage = "en-GB,en;q=0.9"
            let english = try await admin.get("/console/clearing/2026-03-02")
            #expect(english.text.contains("Settlements") && english.text.contains("Download CSV"))

            let clerk = WebSession(client)
            try await clerk.login("clerk")
            #expect(try await clerk.get("/console/clearing/2026-03-02").status == 403)
            #expect(try await clerk.get(file).status == 403)
            #expect(try await clerk.post("/console/clearing", [("date", "2026-03-02")]).status == 403)
        }
    }

    @Test("fraud signals: newest first with the card and the terminal, and older pages")
    func fraudSignals() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        let fixtures = harness.fixtures
        let (resident, card) = try await fixtures.activeCard()
        var chip = try fixtures.chip(for: card)
        try await fixtures.load(&chip, card: card, fen: 5_000)
        var bus = try await fixtures.acquirer()
        _ = try await fixtures.cards.reportWrittenLoss(
            card.id, identity: fixtures.identity(resident), actor: harness.staff.clerk)
        let afterLoss = try bus.tap(&chip, fen: 300, at: "20260302110000")
        harness.world.clock.advance(days: 1)
        _ = try await bus.upload([afterLoss], env: env)
        let signals = try await AcquiringService(env).fraudSignals(before: nil, limit: 10, actor: harness.staff.admin)
        let signal = try #require(signals.first)
        let merchantID = bus.merchant.id
        try await harness.run { client in
            let admin = WebSession(client)
            try await admin.login("admin")
            let page = try await admin.get("/console/fraud-signals")
            #expect(page.status == 200)
            for text in [
                "挂失后使用", "href=\"/console/cards/\(card.id)\"", "href=\"/console/merchants/\(merchantID)\"",
                "000000000101", "loss effective",
            ] {
                #expect(page.text.contains(text), "signals: \(text)")
            }
            let older = try await admin.get("/console/fraud-signals?before=\(signal.id.rawValue)")
            #expect(
                older.status == 200 && older.text.contains("没有风险预警")
                    && older.text.contains("href=\"/console/fraud-signals\""))
            #expect(try await admin.get("/console/fraud-signals?before=%3Cscript%3E").status == 422)
            admin.acceptLanguage = "en-GB,en;q=0.9"
            #expect(try await admin.get("/console/fraud-signals").text.contains("Use after loss"))
            let auditor = WebSession(client)
            try await auditor.login("auditor")
            #expect(try await auditor.get("/console/fraud-signals").status == 403)
        }
    }

    @Test("the suspense accounts: the center decides an unclaimed refund; the auditor reads; refusals say why")
    func suspenseDecision() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        let (_, card) = try await Self.refundDue(harness, fen: 1_234)
        // The limitation period passes.
        harness.world.clock.advance(days: SuspenseService.unclaimedAfterDays)
        try await harness.run { client in
            let admin = WebSession(client)
            try await admin.login("admin")
            let page = try await admin.get("/console/suspense")
            #expect(page.status == 200)
            for text in ["应付退款", "¥12.34", "id=\"suspense-decision\"", "href=\"/console/cards/\(card.id)\"", "尚无处理决定"] {
                #expect(page.text.contains(text), "suspense: \(text)")
            }
            // Refusals: no reference; more missing records than held; a merchant for a refund.
            let noReference = try await admin.post(
                "/console/suspense/decisions",
                [
                    ("source", "unclaimed_refund"), ("outcome", "unclaimed_income"), ("cardId", card.id.rawValue),
                    ("decisionReference", ""), ("reason", "三年无人认领"), ("requestKey", UUID().uuidString),
                ])
            #expect(noReference.status == 422 && noReference.text.contains("决定文号"))
            #expect(noReference.text.contains("三年无人认领"), "the form keeps what was typed")
            let tooMuch = try await admin.post(
                "/console/suspense/decisions",
                [
                    ("source", "missing_records"), ("outcome", "unclaimed_income"), ("amount", "5"),
                    ("decisionReference", "舟卡〔2029〕1号"), ("reason", "核销"), ("requestKey", UUID().uuidString),
                ])
            #expect(tooMuch.status == 409 || tooMuch.status == 422, "\(tooMuch.status)")
            #expect(tooMuch.text.contains("class=\"problem\""))
            let badAmount = try await admin.post(
                "/console/suspense/decisions",
                [
                    ("source", "missing_records"), ("outcome", "unclaimed_income"), ("amount", "1,5"),
                    ("decisionReference", "舟卡〔2029〕1号"), ("reason", "核销"),
                ])
            #expect(badAmount.status == 422 && badAmount.text.contains("金额"))
            let fields = [
                ("source", "unclaimed_refund"), ("outcome", "unclaimed_income"), ("cardId", card.id.rawValue),
                ("amount", ""), ("decisionReference", "舟卡〔2029〕7号"), ("reason", "逾期三年无人认领"),
            ]
            // Without the form's own key (an old page): refused, nothing decided.
            #expect(try await admin.post("/console/suspense/decisions", fields).status == 400)
            let requestKey = UUID().uuidString
            let decided = try await admin.post("/console/suspense/decisions", fields + [("requestKey", requestKey)])
            #expect(decided.headers[.location] == "/console/suspense?done=suspense-decided")
            // The same form submitted again (a double click, a reload): the first decision, not a second.
            let again = try await admin.post("/console/suspense/decisions", fields + [("requestKey", requestKey)])
            #expect(again.headers[.location] == "/console/suspense?done=suspense-decided")
            #expect(try await SuspenseService(env).overview(actor: harness.staff.admin).decisions.count == 1)
            let shown = try await admin.follow(decided)
            for text in ["处理决定已登记", "舟卡〔2029〕7号", "逾期三年无人认领", "转为无人认领收入", "没有逾期未领的退款"] {
                #expect(shown.text.contains(text), "decided: \(text)")
            }
            let closure = try await PurseClosureService(env).closure(of: card.id, actor: harness.staff.admin)
            #expect(closure.status == .settled && closure.settlement?.hasPrefix("unclaimed:") == true)
            #expect(try await admin.get("/console/cards/\(card.id)").text.contains("经中心决定转为无人认领收入"))
            admin.acceptLanguage = "en-GB,en;q=0.9"
            #expect(try await admin.get("/console/suspense").text.contains("Taken as unclaimed income"))

            let auditor = WebSession(client)
            try await auditor.login("auditor")
            let read = try await auditor.get("/console/suspense")
            #expect(
                read.status == 200 && read.text.contains("舟卡〔2029〕7号")
                    && !read.text.contains("id=\"suspense-decision\""))
            #expect(
                try await auditor.post(
                    "/console/suspense/decisions",
                    [("source", "missing_records"), ("outcome", "unclaimed_income"), ("amount", "1")]
                ).status == 403)
        }
    }
}

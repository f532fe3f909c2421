import CitizenCardDomain
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardTesting
import Foundation
import Testing

/// The console's department pages (issue 18): the registry, clients and keys shown once, grants
/// through approval and agreement, feed results and the review queue, the outlets' card cases and
/// the disclosure report, each with what every role may and may not do.
@Suite("Console department pages")
struct DepartmentPageTests {
    @Test("the center registers a department, issues a client's key once, rotates, revokes and deactivates")
    func registryClientsAndKeys() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            let empty = try await admin.get("/console/departments")
            #expect(empty.status == 200)
            #expect(empty.text.contains("尚未登记部门"))
            let created = try await admin.post(
                "/console/departments",
                [
                    ("code", "psb"), ("nameZh", "市公安局"), ("name", "Public Security Bureau"),
                    ("kind", "public_security"), ("feedKinds", "death"), ("feedKinds", "birth"),
                ])
            #expect(created.status == 303, "\(created.text)")
            let departmentID = try #require(created.capture(#"/console/departments/([^?"/]+)"#))
            let page = try await admin.follow(created)
            #expect(page.text.contains("部门已登记"))
            #expect(page.text.contains(">PSB</code>"))
            #expect(page.text.contains("死亡、出生登记"))
            // The same code again: refused on the registry, the field named as the form names it.
            try await admin.get("/console/departments")
            let duplicate = try await admin.post(
                "/console/departments",
                [("code", "PSB"), ("nameZh", "重复"), ("name", "Again"), ("kind", "public_security")])
            #expect(duplicate.status == 409)
            #expect(duplicate.text.contains("该部门代码已存在") && duplicate.text.contains("部门代码"))
            #expect(duplicate.text.contains("value=\"Again\""), "the form is shown again with what was typed")

            // A client: its key is on the answer to the POST, once.
            try await admin.get("/console/departments/\(departmentID)")
            let issued = try await admin.post(
                "/console/departments/\(departmentID)/clients",
                [("name", "PSB gateway"), ("keyLifetimeDays", "90"), ("issueKey", "on")])
            #expect(issued.status == 200, "\(issued.text)")
            #expect(issued.text.contains("此密钥只显示这一次"))
            // The language switch leads to the department's page, not to the form's address.
            #expect(issued.text.contains("href=\"/lang/en?back=/console/departments/\(departmentID)\""))
            let key = try #require(issued.capture(#"id="issued-key">(ccd_[^<]+)<"#))
            let actor = try await AuthService(env).authenticate(token: key)
            #expect(actor.role == .department)
            let later = try await admin.get("/console/departments/\(departmentID)")
            #expect(!later.text.contains(key), "the key is never shown again")
            #expect(later.text.contains(String(key.prefix(8))), "its hint is")
            #expect(!later.text.contains("issued-key"))
            let clientID = try #require(later.capture(#"/clients/([^/"]+)/revocation"#))

            // Rotation: a new key shown once; the old one keeps working for the overlap.
            let tooLong = try await admin.post(
                "/console/departments/\(departmentID)/clients/\(clientID)/keys",
                [("overlapHours", "9999"), ("keyLifetimeDays", "365")])
            #expect(tooLong.status == 422 && tooLong.text.contains("须为0至720小时"))
            let rotated = try await admin.post(
                "/console/departments/\(departmentID)/clients/\(clientID)/keys",
                [("overlapHours", "1"), ("keyLifetimeDays", "365")])
            #expect(rotated.status == 200 && rotated.text.contains("新密钥已签发"))
            let newKey = try #require(rotated.capture(#"id="issued-key">(ccd_[^<]+)<"#))
            #expect(newKey != key)
            _ = try await AuthService(env).authenticate(token: key)
            // Revoke the old key: refused at once.
            // The old key's row: its hint, then its revocation form.
            let hint = NSRegularExpression.escapedPattern(for: String(key.prefix(8)))
            let keyID = try #require(
                rotated.capture(#"(?s)<code class="nowrap">"# + hint + #"…</code>.*?/keys/([^/"]+)/revocation"#))
            let blank = try await admin.post(
                "/console/departments/\(departmentID)/clients/\(clientID)/keys/\(keyID)/revocation", [("reason", " ")])
            #expect(blank.status == 422)
            let revoked = try await admin.follow(
                try await admin.post(
                    "/console/departments/\(departmentID)/clients/\(clientID)/keys/\(keyID)/revocation",
                    [("reason", "rotated")]))
            #expect(revoked.text.contains("密钥已吊销"))
            var remaining = 0
            for candidate in [key, newKey] where (try? await AuthService(env).authenticate(token: candidate)) != nil {
                remaining += 1
            }
            #expect(remaining == 1)
            // A client of another department is not found under this one.
            let other = try await harness.fixtures.department(code: "HRSS", kind: "human_resources_social_security")
            let foreign = try await admin.post(
                "/console/departments/\(departmentID)/clients/\(other.client.id)/revocation", [("reason", "x")])
            #expect(foreign.status == 404)
            #expect(try await AuthService(env).authenticate(token: other.key).role == .department)
            // Revoke the client: its remaining key stops working.
            let gone = try await admin.follow(
                try await admin.post(
                    "/console/departments/\(departmentID)/clients/\(clientID)/revocation", [("reason", "replaced")]))
            #expect(gone.text.contains("客户端已吊销"))
            await #expect(throws: CitizenCardError.self) { try await AuthService(env).authenticate(token: newKey) }
            // Change the feeds, then deactivate with a reason.
            let changed = try await admin.follow(
                try await admin.post(
                    "/console/departments/\(departmentID)/change",
                    [
                        ("nameZh", "市公安局"), ("name", "Public Security Bureau"), ("feedKinds", "death"),
                        ("reason", "births come from HEALTH"),
                    ]))
            #expect(changed.text.contains("部门登记已修改"))
            let deactivated = try await admin.follow(
                try await admin.post(
                    "/console/departments/\(departmentID)/status", [("active", "false"), ("reason", "test")]))
            #expect(deactivated.text.contains("部门已停用"))
            #expect(deactivated.text.contains("重新启用部门"))

            // The commission and the auditors read the registry and a department, without clients or forms.
            for name in ["commissioner", "auditor"] {
                let reader = WebSession(client)
                _ = try await reader.login(name)
                let list = try await reader.get("/console/departments")
                #expect(list.status == 200 && list.text.contains(">PSB</code>"))
                #expect(!list.text.contains("action=\"/console/departments\""))
                let one = try await reader.get("/console/departments/\(departmentID)")
                #expect(one.status == 200)
                #expect(!one.text.contains("/clients") && !one.text.contains("ccd_"))
                let refused = try await reader.post(
                    "/console/departments", [("code", "X1"), ("nameZh", "x"), ("name", "x"), ("kind", "transit")])
                #expect(refused.status == 403)
            }
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            #expect(try await clerk.get("/console/departments/\(departmentID)").status == 403)
        }
    }

    @Test("grants: the center files, the commission decides, the agreement is recorded by another, either stops it")
    func grantLifecycle() async throws {
        let harness = try await Harness()
        let hrss = try await harness.fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let today = harness.world.env.clock.now().calendarDate()
        let until = CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 100).iso8601
        // A request the department's client made itself (so that the administrator may record its agreement).
        let asked = try await GrantService(harness.world.env).request(
            .init(
                fields: ["name": "masked", "socialInsurance": "yes_no"], purpose: "insurance checks",
                legalBasis: "Regulation art. 7", validFrom: today,
                validUntil: CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 30)),
            actor: hrss.actor)
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            let list = try await admin.get("/console/grants")
            #expect(list.status == 200 && list.text.contains("/console/grants/\(asked.id)"))
            // Filed on the department's behalf, with markup in the purpose shown as text.
            let filed = try await admin.post(
                "/console/grants",
                [
                    ("departmentId", hrss.department.id.rawValue), ("fields.name", "masked"),
                    ("fields.socialInsurance", "yes_no"), ("fields.phone", ""), ("purpose", "核查 <b>参保</b>"),
                    ("legalBasis", "条例第七条"), ("validFrom", today.iso8601), ("validUntil", until),
                    ("dailyVolume", "100"), ("ratePerMinute", "10"),
                ])
            #expect(filed.status == 303, "\(filed.text)")
            let grantID = try #require(filed.capture(#"/console/grants/([^?"/]+)"#))
            let shown = try await admin.follow(filed)
            #expect(shown.text.contains("授权申请已提交"))
            #expect(shown.text.contains("核查 &lt;b&gt;参保&lt;/b&gt;"))
            #expect(shown.text.contains("遮蔽") && shown.text.contains("仅是/否") && !shown.text.contains("联系电话"))
            #expect(!shown.text.contains("/decision"), "the center does not decide")
            #expect(shown.text.contains("/revocation"))
            // Nothing requested: refused on the list page in the visitor's language.
            try await admin.get("/console/grants")
            let nothing = try await admin.post(
                "/console/grants",
                [
                    ("departmentId", hrss.department.id.rawValue), ("purpose", "x"), ("legalBasis", "y"),
                    ("validFrom", today.iso8601), ("validUntil", until),
                ])
            #expect(nothing.status == 422 && nothing.text.contains("至少申请一个字段"))
            let filtered = try await admin.get("/console/grants?state=active")
            #expect(!filtered.text.contains("/console/grants/\(grantID)\""))

            // The commission: a refusal needs a note; then approves both.
            let commissioner = WebSession(client)
            _ = try await commissioner.login("commissioner")
            let toDecide = try await commissioner.get("/console/grants/\(grantID)")
            #expect(toDecide.text.contains("/console/grants/\(grantID)/decision"))
            #expect(!toDecide.text.contains("/agreement"))
            let noNote = try await commissioner.post(
                "/console/grants/\(grantID)/decision", [("decision", "refuse"), ("note", "")])
            #expect(noNote.status == 422)
            for id in [grantID, asked.id.rawValue] {
                try await commissioner.get("/console/grants/\(id)")
                let approved = try await commissioner.follow(
                    try await commissioner.post(
                        "/console/grants/\(id)/decision", [("decision", "approve"), ("note", "meeting 12")]))
                #expect(approved.text.contains("授权已批准"), "\(approved.text)")
            }
            // The administrator who filed it may not record its agreement: the page says so.
            let own = try await admin.get("/console/grants/\(grantID)")
            #expect(own.text.contains("保密协议须由申请人和批准人以外的管理员登记"))
            #expect(!own.text.contains("action=\"/console/grants/\(grantID)/agreement\""))
            let sneaked = try await admin.post(
                "/console/grants/\(grantID)/agreement",
                [("reference", "CA-1"), ("signatory", "Director"), ("signedOn", today.iso8601)])
            #expect(sneaked.status == 403 && sneaked.text.contains("保密协议须由申请人和批准人以外的人员登记"))
            // The department's own request: the administrator records the agreement; it is active.
            try await admin.get("/console/grants/\(asked.id)")
            let future = CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 3).iso8601
            let early = try await admin.post(
                "/console/grants/\(asked.id)/agreement",
                [("reference", "CA-2026-007"), ("signatory", "王局长"), ("signedOn", future)])
            #expect(early.status == 422 && early.text.contains("不得晚于今天"))
            let active = try await admin.follow(
                try await admin.post(
                    "/console/grants/\(asked.id)/agreement",
                    [("reference", "CA-2026-007"), ("signatory", "王局长"), ("signedOn", today.iso8601)]))
            #expect(active.text.contains("保密协议已登记，授权生效"))
            #expect(active.text.contains("grant-active") && active.text.contains("CA-2026-007"))
            // The commission suspends, the center resumes, the commission revokes; the history says it all.
            try await commissioner.get("/console/grants/\(asked.id)")
            let suspended = try await commissioner.follow(
                try await commissioner.post("/console/grants/\(asked.id)/suspension", [("reason", "audit finding")]))
            #expect(suspended.text.contains("授权已暂停") && suspended.text.contains("audit finding"))
            #expect(!suspended.text.contains("/resumption"), "only the center resumes")
            try await admin.get("/console/grants/\(asked.id)")
            let resumed = try await admin.follow(
                try await admin.post("/console/grants/\(asked.id)/resumption", [("reason", "finding closed")]))
            #expect(resumed.text.contains("授权已恢复"))
            try await commissioner.get("/console/grants/\(asked.id)")
            let revoked = try await commissioner.follow(
                try await commissioner.post("/console/grants/\(asked.id)/revocation", [("reason", "no longer needed")]))
            #expect(revoked.text.contains("授权已撤销"))
            for step in ["提出申请", "批准", "登记保密协议，授权生效", "暂停", "恢复", "撤销", "meeting 12", "finding closed"] {
                #expect(revoked.text.contains(step), "history: \(step)")
            }
            let again = try await commissioner.post(
                "/console/grants/\(asked.id)/suspension", [("reason", "again")], csrf: commissioner.csrf)
            #expect(again.status == 409)
            // The auditor reads, and may do nothing.
            let auditor = WebSession(client)
            _ = try await auditor.login("auditor")
            let read = try await auditor.get("/console/grants/\(grantID)")
            #expect(read.status == 200 && !read.text.contains("method=\"post\" action=\"/console/grants"))
            #expect(
                try await auditor.post("/console/grants/\(grantID)/revocation", [("reason", "x")]).status == 403)
            // In English, the same page in English.
            auditor.acceptLanguage = "en"
            let english = try await auditor.get("/console/grants/\(asked.id)")
            #expect(english.text.contains("Revoked") && english.text.contains("Fields and forms"))
        }
    }

    @Test("feed results and the review queue; the outlet's card cases closed by a supervisor with a note")
    func feedsAndCases() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        let psb = try await harness.fixtures.department()
        let (resident, card) = try await harness.fixtures.activeCard()
        let feeds = FeedService(env)
        _ = try await feeds.apply(
            .init(
                messageId: "PSB-2026-0001", kind: "death", idNumber: resident.idNumber,
                occurredOn: env.clock.now().calendarDate().iso8601), actor: psb.actor)
        let first = try await harness.fixtures.resident()
        let second = try await harness.fixtures.resident()
        let conflict = try await feeds.apply(
            .init(
                messageId: "PSB-2026-0002", kind: "id_number_change", idNumber: first.idNumber,
                newIdNumber: second.idNumber), actor: psb.actor)
        #expect(conflict.outcome == .conflict)
        try await harness.run { client in
            let admin = WebSession(client)
            _ = try await admin.login("admin")
            let page = try await admin.get("/console/feeds")
            #expect(page.status == 200)
            for text in ["PSB-2026-0001", "PSB-2026-0002", "已更新", "与登记信息矛盾", "已止付、待注销", "报送与登记矛盾"] {
                #expect(page.text.contains(text), "\(text)")
            }
            #expect(!page.text.contains(resident.idNumber) && !page.text.contains(second.idNumber))
            let conflicts = try await admin.get("/console/feeds?outcome=conflict&department=psb")
            #expect(conflicts.text.contains("PSB-2026-0002") && !conflicts.text.contains("PSB-2026-0001"))
            let itemID = try #require(page.capture(#"/console/feeds/review-items/([^/"]+)/closure"#))
            let commissioner = WebSession(client)
            _ = try await commissioner.login("commissioner")
            let read = try await commissioner.get("/console/feeds")
            #expect(read.text.contains("报送与登记矛盾") && !read.text.contains("/closure"))
            #expect(
                try await commissioner.post("/console/feeds/review-items/\(itemID)/closure", [("note", "x")]).status
                    == 403)
            let closed = try await admin.follow(
                try await admin.post("/console/feeds/review-items/\(itemID)/closure", [("note", "numbers checked")]))
            #expect(closed.text.contains("核查事项已关闭") && !closed.text.contains("/closure"))

            // The outlet's clerk sees the case and goes to the card; the other outlet sees nothing.
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            let cases = try await clerk.get("/console/cases")
            #expect(cases.status == 200)
            #expect(cases.text.contains("死亡注销") && cases.text.contains("/console/cards/\(card.id)"))
            #expect(cases.text.contains(">PSB</code>") && cases.text.contains("¥0.00"))
            #expect(!cases.text.contains(card.number), "the card number is masked")
            #expect(!cases.text.contains("/closure"))
            #expect(try await clerk.post("/console/cases/\(card.id)/closure", [("note", "x")]).status == 403)
            let elsewhere = WebSession(client)
            _ = try await elsewhere.login("other.clerk")
            #expect(try await elsewhere.get("/console/cases").text.contains("没有待办事项"))
            // The supervisor closes it with a note.
            let supervisor = WebSession(client)
            _ = try await supervisor.login("supervisor")
            let open = try await supervisor.get("/console/cases")
            let caseID = try #require(open.capture(#"/console/cases/([^/"]+)/closure"#))
            let noNote = try await supervisor.post("/console/cases/\(caseID)/closure", [("note", "")])
            #expect(noNote.status == 422)
            let done = try await supervisor.follow(
                try await supervisor.post("/console/cases/\(caseID)/closure", [("note", "heirs collect later")]))
            #expect(done.text.contains("事项已关闭") && done.text.contains("没有待办事项"))
            // The center sees every outlet's cases, with the outlet.
            #expect(try await admin.get("/console/cases").text.contains("没有待办事项"))
            #expect(try await commissioner.get("/console/cases").status == 403)
        }
    }

    @Test("the disclosure report: lines by department and grant, suspended grants, anomalies; readers only")
    func disclosureReport() async throws {
        let harness = try await Harness()
        let env = harness.world.env
        let hrss = try await harness.fixtures.department(code: "HRSS", kind: "human_resources_social_security")
        let grant = try await harness.fixtures.activeGrant(for: hrss)
        let resident = try await harness.fixtures.resident()
        _ = try await DisclosureService(env).lookup(
            .init(grantId: grant.id, idNumbers: [resident.idNumber, harness.fixtures.newIDNumber()]),
            purpose: try Fixtures.purpose(), actor: hrss.actor)
        _ = try await GrantService(env).suspend(grant.id, .init(reason: "checking volumes"), actor: harness.staff.admin)
        try await harness.run { client in
            let auditor = WebSession(client)
            _ = try await auditor.login("auditor")
            let report = try await auditor.get("/console/disclosures")
            #expect(report.status == 200)
            for text in [">HRSS</code>", "人员查询", "/console/grants/\(grant.id)", "checking volumes", "已暂停"] {
                #expect(report.text.contains(text), "\(text)")
            }
            #expect(report.text.contains("请求合计: <strong>2</strong>"))
            #expect(!report.text.contains(resident.idNumber))
            let backwards = try await auditor.get("/console/disclosures?from=2026-03-01&until=2026-01-01")
            #expect(backwards.status == 422 && backwards.text.contains("日期范围须在一年以内"))
            auditor.acceptLanguage = "en"
            #expect(try await auditor.get("/console/disclosures").text.contains("Suspended grants"))
            let clerk = WebSession(client)
            _ = try await clerk.login("clerk")
            #expect(try await clerk.get("/console/disclosures").status == 403)
        }
    }
}

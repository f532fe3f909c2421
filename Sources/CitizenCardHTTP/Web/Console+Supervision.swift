import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// What the departments' feeds and queries leave behind (issue 18): the feed results and the
/// review queue of the center, the outlets' card cases, and the disclosure report the
/// supervisors read. No page here shows personal data.
extension Web {
    var caseWork: CaseService { CaseService(env) }

    /// Rows a list page shows at most.
    static let supervisionRows = 200
    /// Days the disclosure report covers unless the visitor chooses.
    static let disclosureReportDays: Int64 = 30

    func registerSupervisionPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/feeds", .staff(.superviseDisclosures)) { request, _, web in
            try await feedsPage(
                web, department: request.query("department"), outcome: request.query("outcome"),
                done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/feeds/review-items/{itemId}/closure", .staff(.manageDepartments)) {
            _, context, web in
            let id: ReviewItem.ID = try context.id("itemId")
            do {
                _ = try await caseWork.closeReviewItem(id, .init(note: web.form["note"] ?? ""), actor: web.actor!)
                return redirect("/console/feeds?done=review-closed", web: web)
            } catch let error as CitizenCardError {
                return try await feedsPage(web, department: nil, outcome: nil, error: error)
            }
        }
        page(router, .get, "/console/cases", .staff(.workCardCases)) { request, _, web in
            try await casesPage(web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/cases/{caseId}/closure", .staff(.closeCardCases)) { _, context, web in
            let id: CardCase.ID = try context.id("caseId")
            do {
                _ = try await caseWork.close(id, .init(note: web.form["note"] ?? ""), actor: web.actor!)
                return redirect("/console/cases?done=case-closed", web: web)
            } catch let error as CitizenCardError {
                return try await casesPage(web, error: error)
            }
        }
        page(router, .get, "/console/disclosures", .staff(.superviseDisclosures)) { request, _, web in
            try await disclosuresPage(web, from: request.query("from"), until: request.query("until"))
        }
    }

    /// Feed results newest first (filtered by department and outcome) and the open review items.
    func feedsPage(
        _ web: WebRequest, department: String?, outcome: String?, done: String? = nil,
        error: CitizenCardError? = nil
    ) async throws -> Response {
        let web = web.at("/console/feeds")
        let actor = web.actor!
        let departments = try await departmentRegistry.list(actor: actor).sorted { $0.code < $1.code }
        let codes = Dictionary(departments.map { ($0.id, $0.code) }, uniquingKeysWith: { first, _ in first })
        let code = department.map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.flatMap {
            $0.isEmpty ? nil : $0
        }
        let chosen = outcome.flatMap(FeedResult.Outcome.init(rawValue:))
        let results = try await caseWork.feedResults(
            department: code, outcome: chosen, limit: Self.supervisionRows, actor: actor)
        let items = try await caseWork.reviewItems(open: true, limit: Self.supervisionRows, actor: actor)
        let canClose = Permission.manageDepartments.roles.contains(actor.role!)
        var values: [String: Any] = [
            "departments": departments.map { ["code": $0.code, "selected": $0.code == code] as [String: Any] },
            "outcomes": FeedResult.Outcome.allCases.map { option in
                [
                    "value": option.rawValue, "label": web.text("outcome.\(option.rawValue)"),
                    "selected": option == chosen,
                ] as [String: Any]
            },
            "results": results.map { record in
                [
                    "receivedAt": WebFormat.time(record.receivedAt), "department": record.department,
                    "messageId": record.messageId, "kind": Self.label("feed", record.kind, web),
                    "outcome": web.text("outcome.\(record.result.outcome.rawValue)"),
                    "outcomeCode": record.result.outcome.rawValue, "duplicate": record.result.duplicate,
                    "code": record.result.code ?? "", "detail": record.result.detail ?? "",
                    "effects": Self.list(record.result.cards.map { Self.label("effect", $0.effect, web) }, web),
                ] as [String: Any]
            },
            "noResults": results.isEmpty,
            "items": items.map { item in
                [
                    "id": item.id.rawValue, "createdAt": WebFormat.time(item.createdAt),
                    "kind": Self.label("reviewKind", item.kind, web),
                    "department": item.departmentID.flatMap { codes[$0] } ?? "",
                    "messageId": item.messageID ?? "", "grantId": item.grantID?.rawValue ?? "",
                    "detail": item.detail, "canClose": canClose,
                ] as [String: Any]
            },
            "noItems": items.isEmpty,
            "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "feeds", title: web.text("nav.feeds"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// The open card cases of the visitor's outlet (all outlets for the center), oldest first,
    /// each with a link to its card, where the outlet does the work the case asks for.
    func casesPage(_ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil) async throws -> Response {
        let web = web.at("/console/cases")
        let actor = web.actor!
        let cases = try await caseWork.cases(open: true, limit: Self.supervisionRows * 2, actor: actor)
        var outlets: [Outlet.ID: String] = [:]
        if actor.outletID == nil {
            for outlet in try await administration.outlets(actor: actor) { outlets[outlet.id] = outlet.code }
        }
        let canClose = Permission.closeCardCases.roles.contains(actor.role!)
        var values: [String: Any] = [
            "cases": cases.map { item in
                [
                    "id": item.id.rawValue, "kind": web.text("case.\(item.kind.rawValue)"),
                    "cardId": item.cardId.rawValue, "cardNumber": item.cardNumber,
                    "cardState": web.text("state.\(item.cardState.rawValue)"),
                    "cardStateCode": item.cardState.rawValue, "department": item.department ?? "",
                    "messageId": item.messageId ?? "", "createdAt": WebFormat.time(item.createdAt),
                    "held": item.heldBalanceFen.map { WebFormat.money($0) } ?? "",
                    "outlet": outlets[item.outletId] ?? "", "canClose": canClose,
                ] as [String: Any]
            },
            "noCases": cases.isEmpty, "showOutlet": actor.outletID == nil, "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "cases", title: web.text("nav.cases"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// Disclosures by department and grant between two dates (the last 30 days unless chosen),
    /// with the grants suspended now and the open anomalies.
    func disclosuresPage(_ web: WebRequest, from: String?, until: String?) async throws -> Response {
        let actor = web.actor!
        let today = env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset)
        let first =
            from.flatMap { CalendarDate(iso8601: $0.trimmingCharacters(in: .whitespaces)) }
            ?? CalendarDate(daysSinceEpoch: today.daysSinceEpoch - Self.disclosureReportDays + 1)
        let last = until.flatMap { CalendarDate(iso8601: $0.trimmingCharacters(in: .whitespaces)) } ?? today
        var values: [String: Any] = ["from": first.iso8601, "until": last.iso8601, "today": today.iso8601]
        let report: DisclosureService.Report
        do {
            report = try await DisclosureService(env).report(from: first, until: last, actor: actor)
        } catch {
            // A range the report does not take: said on the page, with the dates to correct.
            guard error.code == .invalidField else { throw error }
            values["error"] = message(error, web)
            return pages.response(
                "disclosures", title: web.text("nav.disclosures"), values, web: web,
                status: Problem.status(of: error.code))
        }
        let codes = Dictionary(
            try await departmentRegistry.list(actor: actor).map { ($0.id, $0.code) },
            uniquingKeysWith: { first, _ in first })
        let lines = report.lines.sorted {
            ($0.department ?? "", $0.grantId?.rawValue ?? "", $0.kind.rawValue, $0.found ? 0 : 1)
                < ($1.department ?? "", $1.grantId?.rawValue ?? "", $1.kind.rawValue, $1.found ? 0 : 1)
        }
        values["lines"] = lines.map { line in
            [
                "department": line.department ?? "", "grantId": line.grantId?.rawValue ?? "",
                "grantState": line.grantState.map { web.text("grantState.\($0.rawValue)") } ?? "",
                "kind": web.text("disclosureKind.\(line.kind.rawValue)"),
                "found": web.text(line.found ? "app.yes" : "app.no"), "requests": "\(line.requests)",
                "persons": "\(line.persons)",
            ]
        }
        values["noLines"] = lines.isEmpty
        values["requests"] = "\(lines.reduce(0) { $0 + $1.requests })"
        values["suspended"] = report.suspendedGrants.map { grant in
            [
                "id": grant.id.rawValue, "department": codes[grant.departmentID] ?? "",
                "purpose": grant.purpose, "reason": grant.stateReason ?? "",
            ]
        }
        values["noSuspended"] = report.suspendedGrants.isEmpty
        values["anomalies"] = report.anomalies.map { item in
            [
                "createdAt": WebFormat.time(item.createdAt), "kind": Self.label("reviewKind", item.kind, web),
                "department": item.departmentID.flatMap { codes[$0] } ?? "",
                "grantId": item.grantID?.rawValue ?? "", "detail": item.detail,
            ]
        }
        values["noAnomalies"] = report.anomalies.isEmpty
        values["shown"] = true
        return pages.response("disclosures", title: web.text("nav.disclosures"), values, web: web)
    }
}

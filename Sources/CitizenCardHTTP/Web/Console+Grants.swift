import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// Grants on the console (R-40, issue 18): the list with a state filter, a request filed by the
/// center on a department's behalf, and a grant's page with its fields and forms, its history and
/// the actions each role may take — the commission approves or refuses, the center records the
/// signed agreement (not the requester, not the approver) and resumes, either stops it.
extension Web {
    var grantService: GrantService { GrantService(env) }

    func registerGrantPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/grants", .staff(.superviseDisclosures)) { request, _, web in
            try await grantsPage(
                web, state: request.query("state").flatMap(Grant.State.init(rawValue:)),
                done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/grants", .staff(.manageDepartments)) { _, _, web in
            let form = web.form
            do {
                guard let department = form.text("departmentId").flatMap(Department.ID.init(parsing:)) else {
                    throw CitizenCardError.invalid("departmentId", "choose a department", zh: "请选择部门")
                }
                var fields: [String: String] = [:]
                for field in GrantField.allCases {
                    if let chosen = form.text("fields.\(field.rawValue)") { fields[field.rawValue] = chosen }
                }
                let grant = try await grantService.request(
                    .init(
                        departmentId: department, fields: fields, purpose: form["purpose"] ?? "",
                        legalBasis: form["legalBasis"] ?? "", validFrom: try Self.date(form, "validFrom"),
                        validUntil: try Self.date(form, "validUntil"),
                        dailyVolume: try Self.integer(form, "dailyVolume"),
                        ratePerMinute: try Self.integer(form, "ratePerMinute")), actor: web.actor!)
                return redirect("/console/grants/\(grant.id)?done=grant-requested", web: web)
            } catch let error as CitizenCardError {
                return try await grantsPage(web, state: nil, error: error, echo: form)
            }
        }
        page(router, .get, "/console/grants/{grantId}", .staff(.superviseDisclosures)) { request, context, web in
            try await grantPage(try context.id("grantId"), web: web, done: doneText(request.query("done"), web))
        }
        grantAction(router, "decision", .decideGrants) { id, web in
            let decision = GrantService.Decision(note: web.form.text("note"))
            if web.form["decision"] == "refuse" {
                _ = try await grantService.refuse(id, decision, actor: web.actor!)
                return "grant-refused"
            }
            _ = try await grantService.approve(id, decision, actor: web.actor!)
            return "grant-approved"
        }
        grantAction(router, "agreement", .manageDepartments) { id, web in
            let form = web.form
            _ = try await grantService.recordAgreement(
                id,
                .init(
                    reference: form["reference"] ?? "", signatory: form["signatory"] ?? "",
                    signedOn: try Self.date(form, "signedOn")), actor: web.actor!)
            return "grant-agreement"
        }
        grantAction(router, "suspension", .stopGrants) { id, web in
            _ = try await grantService.suspend(id, .init(reason: web.form["reason"] ?? ""), actor: web.actor!)
            return "grant-suspended"
        }
        grantAction(router, "resumption", .manageDepartments) { id, web in
            _ = try await grantService.resume(id, .init(reason: web.form["reason"] ?? ""), actor: web.actor!)
            return "grant-resumed"
        }
        grantAction(router, "revocation", .stopGrants) { id, web in
            _ = try await grantService.revoke(id, .init(reason: web.form["reason"] ?? ""), actor: web.actor!)
            return "grant-revoked"
        }
    }

    /// A POSTed action on a grant: back to the grant's page saying it is done, or with the refusal.
    func grantAction(
        _ router: Router<AppContext>, _ name: String, _ permission: Permission,
        _ run: @escaping @Sendable (Grant.ID, WebRequest) async throws -> String
    ) {
        page(router, .post, "/console/grants/{grantId}/\(name)", .staff(permission)) { _, context, web in
            let id: Grant.ID = try context.id("grantId")
            do {
                let done = try await run(id, web)
                return redirect("/console/grants/\(id)?done=\(done)", web: web)
            } catch let error as CitizenCardError {
                return try await grantPage(id, web: web, error: error)
            }
        }
    }

    func grantsPage(
        _ web: WebRequest, state: Grant.State?, done: String? = nil, error: CitizenCardError? = nil,
        echo form: WebForm? = nil
    ) async throws -> Response {
        let web = web.at("/console/grants")
        let actor = web.actor!
        let departments = try await departmentRegistry.list(actor: actor)
        let byID = Dictionary(departments.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let grants = try await grantService.list(actor: actor).filter { state == nil || $0.state == state }
        var values: [String: Any] = [
            "grants": grants.map { grantRowValues($0, department: byID[$0.departmentID], web: web) },
            "noGrants": grants.isEmpty,
            "states": Grant.State.allCases.map { option in
                [
                    "value": option.rawValue, "label": web.text("grantState.\(option.rawValue)"),
                    "selected": option == state,
                ]
            },
            "done": done ?? "",
        ]
        if Permission.manageDepartments.roles.contains(actor.role!) {
            let today = env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset)
            let chosenDepartment = form?.text("departmentId")
            values["canRequest"] = true
            values["requestDepartments"] = departments.filter(\.active).sorted { $0.code < $1.code }.map { department in
                [
                    "id": department.id.rawValue, "code": department.code,
                    "name": web.language == .zh ? department.nameZh : department.name,
                    "selected": department.id.rawValue == chosenDepartment,
                ] as [String: Any]
            }
            values["grantFields"] = GrantField.allCases.map { field in
                let chosen = form?.text("fields.\(field.rawValue)")
                return [
                    "field": field.rawValue, "label": web.text("grantField.\(field.rawValue)"),
                    "forms": DisclosureForm.allCases.filter { field.forms.contains($0) }.map { option in
                        [
                            "value": option.rawValue, "label": web.text("disclosureForm.\(option.rawValue)"),
                            "selected": option.rawValue == chosen,
                        ] as [String: Any]
                    },
                ] as [String: Any]
            }
            var echo = [
                "validFrom": today.iso8601,
                "validUntil": CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 364).iso8601,
                "dailyVolume": "1000", "ratePerMinute": "60",
            ]
            if let form {
                for (name, value) in Self.echo(
                    form, ["purpose", "legalBasis", "validFrom", "validUntil", "dailyVolume", "ratePerMinute"])
                {
                    echo[name] = value
                }
            }
            values["request"] = echo
            values["today"] = today.iso8601
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "grants", title: web.text("nav.grants"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func grantRowValues(_ grant: Grant, department: Department?, web: WebRequest) -> [String: Any] {
        [
            "id": grant.id.rawValue, "department": department?.code ?? "",
            "fieldNames": Self.list(
                GrantField.allCases.filter { grant.fields[$0] != nil }.map { web.text("grantField.\($0.rawValue)") },
                web),
            "purpose": grant.purpose, "validFrom": grant.validFrom.iso8601, "validUntil": grant.validUntil.iso8601,
            "state": web.text("grantState.\(grant.state.rawValue)"), "stateCode": grant.state.rawValue,
            "requestedAt": WebFormat.date(grant.requestedAt),
        ]
    }

    func grantPage(
        _ id: Grant.ID, web: WebRequest, done: String? = nil, error: CitizenCardError? = nil
    ) async throws -> Response {
        let web = web.at("/console/grants/\(id)")
        let actor = web.actor!
        let role = actor.role!
        let grant = try await grantService.grant(id, actor: actor)
        let department = try await departmentRegistry.department(grant.departmentID, actor: actor)
        let history = try await grantService.history(id, actor: actor)
        var facts: [String: Any] = [
            "id": grant.id.rawValue, "departmentId": department.id.rawValue, "department": department.code,
            "departmentName": web.language == .zh ? department.nameZh : department.name,
            "state": web.text("grantState.\(grant.state.rawValue)"), "stateCode": grant.state.rawValue,
            "purpose": grant.purpose, "legalBasis": grant.legalBasis, "validFrom": grant.validFrom.iso8601,
            "validUntil": grant.validUntil.iso8601, "dailyVolume": "\(grant.dailyVolume)",
            "ratePerMinute": "\(grant.ratePerMinute)", "requestedBy": grant.requestedBy,
            "requestedAt": WebFormat.time(grant.requestedAt), "decidedBy": grant.decidedBy ?? "",
            "decidedAt": WebFormat.time(grant.decidedAt), "decisionNote": grant.decisionNote ?? "",
            "stateReason": grant.stateReason ?? "",
        ]
        if let agreement = grant.agreement {
            facts["agreement"] = [
                "reference": agreement.reference, "signatory": agreement.signatory,
                "signedOn": agreement.signedOn.iso8601, "recordedBy": agreement.recordedBy,
                "recordedAt": WebFormat.time(agreement.recordedAt),
            ]
        }
        var values: [String: Any] = [
            "grant": facts,
            "fields": GrantField.allCases.compactMap { field in
                grant.fields[field].map { form in
                    [
                        "field": web.text("grantField.\(field.rawValue)"),
                        "form": web.text("disclosureForm.\(form.rawValue)"),
                    ]
                }
            },
            "history": history.map { entry in
                [
                    "at": WebFormat.time(entry.at), "actor": entry.actor,
                    "action": Self.label("grantAction", entry.action, web), "reason": entry.reason ?? "",
                ]
            },
            "done": done ?? "",
        ]
        let state = grant.state
        if state == .requested && Permission.decideGrants.roles.contains(role) { values["canDecide"] = true }
        if state == .approved && Permission.manageDepartments.roles.contains(role) {
            // Separation of duties: the agreement is recorded by neither the requester nor the approver.
            if actor.name == grant.requestedBy || actor.name == grant.decidedBy {
                values["agreementByOther"] = true
            } else {
                values["canRecordAgreement"] = [
                    "today": env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset).iso8601
                ]
            }
        }
        if state == .active && Permission.stopGrants.roles.contains(role) { values["canSuspend"] = true }
        if state == .suspended && Permission.manageDepartments.roles.contains(role) { values["canResume"] = true }
        if [.requested, .approved, .active, .suspended].contains(state) && Permission.stopGrants.roles.contains(role) {
            values["canRevoke"] = true
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "grant", title: web.text("grant.title"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }
}

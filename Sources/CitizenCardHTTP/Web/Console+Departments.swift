import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// The department registry on the console (issue 18, docs/departments.md): the departments and
/// the feeds each may send, their API clients and keys. A new key is shown once, on the page that
/// answers the POST that issued it, never in a URL or a redirect; afterwards only its hint.
extension Web {
    var departmentRegistry: DepartmentService { DepartmentService(env) }

    /// The longest overlap a rotation may give, in the hours the form asks for (30 days).
    static let overlapHoursMax = DepartmentPolicy.rotationOverlapMax / 3600

    func registerDepartmentPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/departments", .staff(.superviseDisclosures)) { request, _, web in
            try await departmentsPage(web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/departments", .staff(.manageDepartments)) { _, _, web in
            let form = web.form
            do {
                let department = try await departmentRegistry.create(
                    .init(
                        code: (form["code"] ?? "").trimmingCharacters(in: .whitespaces).uppercased(),
                        name: form["name"] ?? "", nameZh: form["nameZh"] ?? "",
                        kind: (form["kind"] ?? "").trimmingCharacters(in: .whitespaces).lowercased(),
                        feedKinds: try Self.feedKinds(form)), actor: web.actor!)
                return redirect("/console/departments/\(department.id)?done=department-created", web: web)
            } catch let error as CitizenCardError {
                return try await departmentsPage(
                    web, error: Self.renaming(error, Self.departmentFields), echo: form)
            }
        }
        page(router, .get, "/console/departments/{departmentId}", .staff(.superviseDisclosures)) {
            request, context, web in
            try await departmentPage(
                try context.id("departmentId"), web: web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/departments/{departmentId}/change", .staff(.manageDepartments)) {
            _, context, web in
            let id: Department.ID = try context.id("departmentId")
            let form = web.form
            do {
                var change = DepartmentService.DepartmentChange(reason: form["reason"] ?? "")
                change.name = form.text("name")
                change.nameZh = form.text("nameZh")
                change.feedKinds = try Self.feedKinds(form)
                _ = try await departmentRegistry.change(id, change, actor: web.actor!)
                return redirect("/console/departments/\(id)?done=department-changed", web: web)
            } catch let error as CitizenCardError {
                return try await departmentPage(id, web: web, error: Self.renaming(error, Self.departmentFields))
            }
        }
        page(router, .post, "/console/departments/{departmentId}/status", .staff(.manageDepartments)) {
            _, context, web in
            let id: Department.ID = try context.id("departmentId")
            do {
                guard let active = ["true": true, "false": false][web.form["active"] ?? ""] else {
                    throw CitizenCardError.invalid("active", "true or false", zh: "须为 true 或 false")
                }
                var change = DepartmentService.DepartmentChange(reason: web.form["reason"] ?? "")
                change.active = active
                _ = try await departmentRegistry.change(id, change, actor: web.actor!)
                return redirect(
                    "/console/departments/\(id)?done=\(active ? "department-reactivated" : "department-deactivated")",
                    web: web)
            } catch let error as CitizenCardError {
                return try await departmentPage(id, web: web, error: error)
            }
        }
        page(router, .post, "/console/departments/{departmentId}/clients", .staff(.manageDepartments)) {
            _, context, web in
            let id: Department.ID = try context.id("departmentId")
            let form = web.form
            do {
                let client = try await departmentRegistry.createClient(
                    department: id,
                    .init(
                        name: form["name"] ?? "", certificateSubject: form.text("certificateSubject"),
                        issueKey: form.flag("issueKey"),
                        keyLifetimeDays: try Self.integer(form, "keyLifetimeDays").map { Int(clamping: $0) }),
                    actor: web.actor!)
                // The key is on this answer and nowhere else: no redirect.
                return try await departmentPage(
                    id, web: web, done: web.text("done.client-created"),
                    issued: client.issuedKey.map { (client.name, $0) })
            } catch let error as CitizenCardError {
                return try await departmentPage(
                    id, web: web, error: Self.renaming(error, ["name": "clientName"]),
                    echo: Self.echo(form, ["name", "certificateSubject", "keyLifetimeDays"]))
            }
        }
        page(
            router, .post, "/console/departments/{departmentId}/clients/{clientId}/keys", .staff(.manageDepartments)
        ) { _, context, web in
            let id: Department.ID = try context.id("departmentId")
            let clientID: DepartmentClient.ID = try context.id("clientId")
            do {
                try await requireClient(clientID, of: id, web: web)
                let hours = try Self.integer(web.form, "overlapHours")
                if let hours, !(0...Self.overlapHoursMax).contains(hours) {
                    throw CitizenCardError.invalid(
                        "overlapHours", "0 to \(Self.overlapHoursMax) hours", zh: "须为0至\(Self.overlapHoursMax)小时")
                }
                let client = try await departmentRegistry.rotateKey(
                    client: clientID,
                    .init(
                        overlapSeconds: hours.map { $0 * 3600 },
                        keyLifetimeDays: try Self.integer(web.form, "keyLifetimeDays").map { Int(clamping: $0) }),
                    actor: web.actor!)
                return try await departmentPage(
                    id, web: web, done: web.text("done.key-rotated"), issued: client.issuedKey.map { (client.name, $0) }
                )
            } catch let error as CitizenCardError {
                return try await departmentPage(id, web: web, error: error)
            }
        }
        page(
            router, .post, "/console/departments/{departmentId}/clients/{clientId}/keys/{keyId}/revocation",
            .staff(.manageDepartments)
        ) { _, context, web in
            let id: Department.ID = try context.id("departmentId")
            let clientID: DepartmentClient.ID = try context.id("clientId")
            let keyID: DepartmentKey.ID = try context.id("keyId")
            do {
                try await requireClient(clientID, of: id, web: web)
                _ = try await departmentRegistry.revokeKey(
                    client: clientID, key: keyID, reason: web.form["reason"] ?? "", actor: web.actor!)
                return redirect("/console/departments/\(id)?done=key-revoked", web: web)
            } catch let error as CitizenCardError {
                return try await departmentPage(id, web: web, error: error)
            }
        }
        page(
            router, .post, "/console/departments/{departmentId}/clients/{clientId}/revocation",
            .staff(.manageDepartments)
        ) { _, context, web in
            let id: Department.ID = try context.id("departmentId")
            let clientID: DepartmentClient.ID = try context.id("clientId")
            do {
                try await requireClient(clientID, of: id, web: web)
                _ = try await departmentRegistry.revokeClient(
                    clientID, reason: web.form["reason"] ?? "", actor: web.actor!)
                return redirect("/console/departments/\(id)?done=client-revoked", web: web)
            } catch let error as CitizenCardError {
                return try await departmentPage(id, web: web, error: error)
            }
        }
    }

    /// A client's actions are addressed under its department: another department's client is not found.
    func requireClient(
        _ client: DepartmentClient.ID, of department: Department.ID, web: WebRequest
    ) async throws(CitizenCardError) {
        let clients = try await departmentRegistry.clients(department: department, actor: web.actor!)
        guard clients.contains(where: { $0.id == client }) else { throw CitizenCardError.notFound("client") }
    }

    func departmentsPage(
        _ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil, echo form: WebForm? = nil
    ) async throws -> Response {
        let web = web.at("/console/departments")
        let actor = web.actor!
        let departments = try await departmentRegistry.list(actor: actor).sorted { $0.code < $1.code }
        let chosen = Set(form.flatMap { try? Self.feedKinds($0) } ?? [])
        var values: [String: Any] = [
            "departments": departments.map { departmentValues($0, web: web) },
            "noDepartments": departments.isEmpty,
            "canCreate": Permission.manageDepartments.roles.contains(actor.role!),
            "feedChoices": FeedKind.allCases.map { kind in
                ["value": kind.rawValue, "label": web.text("feed.\(kind.rawValue)"), "checked": chosen.contains(kind)]
            },
            "knownKinds": Department.knownKinds.map { ["value": $0, "label": web.text("departmentKind.\($0)")] },
            "done": done ?? "",
        ]
        if let form { values["values"] = Self.echo(form, ["code", "name", "nameZh", "kind"]) }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "departments", title: web.text("nav.departments"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// A department: its facts and grants for every reader; for the center also its clients and
    /// keys with their forms, and — once, after a POST issued it — the new key.
    func departmentPage(
        _ id: Department.ID, web: WebRequest, done: String? = nil, error: CitizenCardError? = nil,
        echo: [String: String]? = nil, issued: (client: String, key: DepartmentService.IssuedKey)? = nil
    ) async throws -> Response {
        let web = web.at("/console/departments/\(id)")
        let actor = web.actor!
        let department = try await departmentRegistry.department(id, actor: actor)
        let grants = try await GrantService(env).list(actor: actor).filter { $0.departmentID == id }
        let manage = Permission.manageDepartments.roles.contains(actor.role!)
        var values: [String: Any] = [
            "department": departmentValues(department, web: web),
            "grants": grants.map { grantRowValues($0, department: department, web: web) },
            "noGrants": grants.isEmpty, "canManage": manage, "done": done ?? "",
        ]
        if manage {
            let clients = try await departmentRegistry.clients(department: id, actor: actor)
            values["clients"] = clients.map { clientValues($0, web: web) }
            values["noClients"] = clients.isEmpty
            values["feedChoices"] = FeedKind.allCases.map { kind in
                [
                    "value": kind.rawValue, "label": web.text("feed.\(kind.rawValue)"),
                    "checked": department.feedKinds.contains(kind),
                ]
            }
            values["overlapHours"] = "\(DepartmentPolicy.rotationOverlapSeconds / 3600)"
            values["overlapHoursMax"] = "\(Self.overlapHoursMax)"
            values["lifetimeDays"] = "\(DepartmentPolicy.keyLifetimeSeconds / 86_400)"
            values["clientValues"] = echo ?? ["keyLifetimeDays": "\(DepartmentPolicy.keyLifetimeSeconds / 86_400)"]
        }
        if let issued {
            values["issued"] = [
                "client": issued.client, "key": issued.key.key, "expiresAt": WebFormat.time(issued.key.expiresAt),
            ]
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "department", title: "\(web.text("department.title")) \(department.code)", values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func departmentValues(_ department: Department, web: WebRequest) -> [String: Any] {
        [
            "id": department.id.rawValue, "code": department.code,
            "name": web.language == .zh ? department.nameZh : department.name, "nameZh": department.nameZh,
            "nameEn": department.name, "kind": Self.label("departmentKind", department.kind, web),
            "feeds": Self.list(department.feedKinds.map { web.text("feed.\($0.rawValue)") }, web),
            "active": department.active, "createdAt": WebFormat.date(department.createdAt),
            "version": "\(department.version)",
        ]
    }

    func clientValues(_ client: DepartmentService.ClientView, web: WebRequest) -> [String: Any] {
        let open = client.revokedAt == nil
        return [
            "id": client.id.rawValue, "name": client.name, "subject": client.certificateSubject ?? "",
            "createdAt": WebFormat.time(client.createdAt), "createdBy": client.createdBy,
            "clientRevokedAt": client.revokedAt.map { WebFormat.time($0) } ?? "", "open": open,
            "keys": client.keys.sorted { $0.createdAt > $1.createdAt }.map { key in
                [
                    "id": key.id.rawValue, "clientId": client.id.rawValue, "hint": key.hint,
                    "createdAt": WebFormat.time(key.createdAt),
                    "expiresAt": WebFormat.time(key.expiresAt), "valid": key.valid,
                    "keyRevokedAt": key.revokedAt.map { WebFormat.time($0) } ?? "",
                    "canRevoke": open && key.revokedAt == nil,
                ] as [String: Any]
            },
            "noKeys": client.keys.isEmpty,
        ]
    }

    /// A department's fields as its forms label them (`name` is not a person's name here).
    static let departmentFields = [
        "code": "departmentCode", "name": "departmentName", "nameZh": "departmentNameZh",
    ]

    /// The error with its field named as this page's form labels it.
    static func renaming(_ error: CitizenCardError, _ names: [String: String]) -> CitizenCardError {
        guard let field = error.field, let renamed = names[field] else { return error }
        return CitizenCardError(
            error.code, field: renamed, error.detail, zh: error.detailZh, retryAfterSeconds: error.retryAfterSeconds)
    }

    /// The feed kinds ticked on a form (`feedKinds`, repeated); an unknown one is refused.
    static func feedKinds(_ form: WebForm) throws(CitizenCardError) -> [FeedKind] {
        var kinds: [FeedKind] = []
        for field in form.fields where field.name == "feedKinds" {
            guard let kind = FeedKind(rawValue: field.value) else {
                throw CitizenCardError.invalid("feedKinds", "a feed kind of the list", zh: "请从列表中选择报送类型")
            }
            kinds.append(kind)
        }
        return kinds
    }

    /// A whole number typed in a form; nil when left blank.
    static func integer(_ form: WebForm, _ name: String) throws(CitizenCardError) -> Int64? {
        guard let text = form.text(name) else { return nil }
        guard text.count <= 12, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(text) else {
            throw CitizenCardError.invalid(name, "a whole number", zh: "请填写整数")
        }
        return value
    }

    /// A date typed in a form (`YYYY-MM-DD`, as `<input type=date>` sends it).
    static func date(_ form: WebForm, _ name: String) throws(CitizenCardError) -> CalendarDate {
        guard let date = form.text(name).flatMap(CalendarDate.init(iso8601:)) else {
            throw CitizenCardError.invalid(name, "a date YYYY-MM-DD", zh: "请填写日期（年-月-日）")
        }
        return date
    }

    /// The label of a code (`prefix.code`), or the code itself when the pages have no label for it
    /// (a department kind the city added, a feed kind a department made up).
    static func label(_ prefix: String, _ code: String, _ web: WebRequest) -> String {
        WebStrings.strings["\(prefix).\(code)"] == nil ? code : web.text("\(prefix).\(code)")
    }

    /// Items as a sentence lists them: `甲、乙` or `a, b`.
    static func list(_ items: [String], _ web: WebRequest) -> String {
        items.joined(separator: web.language == .zh ? "、" : ", ")
    }

    /// The confirmation a `?done=` key names, when the pages have one; nothing otherwise.
    func doneText(_ key: String?, _ web: WebRequest) -> String? {
        guard let key, WebStrings.strings["done.\(key)"] != nil else { return nil }
        return web.text("done.\(key)")
    }
}

extension WebRequest {
    /// The request as the page at `path` answers it. A page shown in answer to a POST (a refusal,
    /// a key shown once) points the language switch and the menu at the page itself, not at the
    /// form's address, which takes only POST.
    func at(_ path: String) -> WebRequest {
        var web = self
        web.path = path
        return web
    }
}

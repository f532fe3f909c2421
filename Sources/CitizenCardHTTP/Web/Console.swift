import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import Hummingbird

/// The outlet console: log-in, persons, applications, verification, issuing and the counter
/// services of a card, receipts. Personal data never goes into a URL: look-ups by ID number are
/// POSTed, pages are addressed by opaque ids.
extension Web {
    func registerConsole(_ router: Router<AppContext>) {
        page(router, .get, "/console/login", .anyone) { request, _, web in
            if web.actor != nil { return Self.redirect("/console") }
            return loginPage(web, next: request.query("next"))
        }
        page(router, .post, "/console/login", .anyone) { request, context, web in
            do throws(CitizenCardError) {
                let result = try await throttle.login(
                    auth, username: web.form["username"] ?? "", password: web.form["password"] ?? "",
                    address: context.clientAddress)
                web.cookies.append(
                    sessionCookie(WebCookies.staff, result.token, maxAge: Int(AuthService.sessionSeconds)))
                return redirect(
                    Self.localPath(web.form["next"]).flatMap { $0.hasPrefix("/console") ? $0 : nil } ?? "/console",
                    web: web)
            } catch {
                return loginPage(web, next: web.form["next"], error: error, status: Problem.status(of: error.code))
            }
        }
        page(router, .post, "/console/logout", .staff(nil)) { _, _, web in
            if let token = web.staffToken, let actor = web.actor { try await auth.logout(token: token, actor: actor) }
            web.cookies.append(expired(WebCookies.staff))
            return redirect("/console/login", web: web)
        }
        page(router, .get, "/console", .staff(nil)) { _, _, web in
            let role = web.actor!.role!
            var values: [String: Any] = [
                "links": PageRenderer.navigation(for: role, web: web).filter {
                    $0["href"] as? String != "/console/account"
                }
            ]
            if Permission.verifyApplications.roles.contains(role) {
                values["pending"] = try await cards.cards(
                    in: .applied, outletID: nil, after: nil, limit: 200, actor: web.actor!
                ).count
            }
            return pages.response("home", title: web.text("home.title"), values, web: web)
        }
        page(router, .get, "/console/account", .staff(nil)) { _, _, web in
            pages.response("account", title: web.text("nav.account"), [:], web: web)
        }
        page(router, .post, "/console/account/password", .staff(nil)) { _, _, web in
            try await auth.changePassword(
                current: web.form["currentPassword"] ?? "", new: web.form["newPassword"] ?? "", token: web.staffToken,
                actor: web.actor!)
            return pages.response("account", title: web.text("nav.account"), ["done": true], web: web)
        }
        registerPersonPages(router)
        registerCardPages(router)
        registerPursePages(router)
        registerProductionPages(router)
        registerCenterPages(router)
        registerReportPages(router)
        registerDepartmentPages(router)
        registerGrantPages(router)
        registerSupervisionPages(router)
        registerCredentialPages(router)
        registerBankPages(router)
        registerMoneyPages(router)
        registerAcquiringPages(router)
    }

    func loginPage(
        _ web: WebRequest, next: String?, error: CitizenCardError? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        var values: [String: Any] = ["next": Self.localPath(next) ?? ""]
        if let error { values["error"] = message(error, web) }
        return pages.response("login", title: web.text("login.title"), values, web: web, status: status)
            .retrying(after: error)
    }

    /// An error as one line in the visitor's language.
    func message(_ error: CitizenCardError, _ web: WebRequest) -> String {
        PageError(error, web.language).line
    }

    // MARK: Persons

    func registerPersonPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/persons/find", .staff(.readPersons)) { _, _, web in
            pages.response("person-find", title: web.text("nav.persons"), [:], web: web)
        }
        page(router, .post, "/console/persons/find", .staff(.readPersons)) { _, _, web in
            do {
                let person = try await registry.lookup(
                    idNumber: web.form["idNumber"] ?? "", reveal: false, purpose: nil, actor: web.actor!)
                return try await personPage(person, web: web)
            } catch let error as CitizenCardError where [.notFound, .invalidResidentID].contains(error.code) {
                return pages.response(
                    "person-find", title: web.text("nav.persons"),
                    [
                        "error": message(error, web), "notFound": error.code == .notFound,
                        "canRegister": Permission.maintainPersons.roles.contains(web.actor!.role!),
                    ],
                    web: web, status: Problem.status(of: error.code))
            }
        }
        page(router, .get, "/console/persons/new", .staff(.maintainPersons)) { _, _, web in
            pages.response("person-form", title: web.text("nav.register"), personForm(nil, web: web), web: web)
        }
        page(router, .post, "/console/persons/new", .staff(.maintainPersons)) { _, _, web in
            let form = web.form
            do {
                let registration = RegistryService.Registration(
                    idNumber: form["idNumber"] ?? "", name: form["name"] ?? "",
                    sex: form.text("sex").flatMap(Sex.init(rawValue:)),
                    socialSecurityNumber: form.text("socialSecurityNumber"), phone: form.text("phone"),
                    address: form.text("address"), employer: form.text("employer"),
                    household: Household(rawValue: form["household"] ?? "") ?? .local,
                    socialInsurance: form.flag("socialInsurance"), ruralMedical: form.flag("ruralMedical"),
                    reason: form.text("reason"))
                let person = try await registry.register(registration, actor: web.actor!)
                return redirect("/console/persons/\(person.id)?done=registered", web: web)
            } catch let error as CitizenCardError {
                var values = personForm(nil, web: web)
                values["error"] = message(error, web)
                values["values"] = Self.echo(
                    form, ["idNumber", "name", "socialSecurityNumber", "phone", "address", "employer", "reason"])
                return pages.response(
                    "person-form", title: web.text("nav.register"), values, web: web,
                    status: Problem.status(of: error.code))
            }
        }
        page(router, .get, "/console/persons/{personId}", .staff(.readPersons)) { request, context, web in
            let person = try await registry.read(
                try context.id("personId"), reveal: false, purpose: nil, actor: web.actor!)
            return try await personPage(person, web: web, done: request.query("done"))
        }
        page(router, .post, "/console/persons/{personId}/reveal", .staff(.revealPersonalData)) { _, context, web in
            let person = try await registry.read(
                try context.id("personId"), reveal: true, purpose: web.form.text("purpose"), actor: web.actor!)
            return try await personPage(person, web: web)
        }
        page(router, .get, "/console/persons/{personId}/edit", .staff(.maintainPersons)) { _, context, web in
            let person = try await registry.read(
                try context.id("personId"), reveal: true, purpose: "correction", actor: web.actor!)
            return pages.response(
                "person-form", title: web.text("person.correct"), personForm(person, web: web), web: web)
        }
        page(router, .post, "/console/persons/{personId}/edit", .staff(.maintainPersons)) { _, context, web in
            let id: Person.ID = try context.id("personId")
            let form = web.form
            var correction = RegistryService.Correction(reason: form["reason"] ?? "")
            correction.name = form.text("name")
            correction.phone = form.text("phone")
            correction.address = form.text("address")
            correction.employer = form.text("employer")
            correction.socialSecurityNumber = form.text("socialSecurityNumber")
            correction.household = form.text("household").flatMap(Household.init(rawValue:))
            correction.socialInsurance = form.flag("socialInsurance")
            correction.ruralMedical = form.flag("ruralMedical")
            correction.expectedVersion = form.text("version").flatMap { Int64($0) }
            do {
                _ = try await registry.correct(id, correction, actor: web.actor!)
                return redirect("/console/persons/\(id)?done=corrected", web: web)
            } catch let error as CitizenCardError {
                let person = try await registry.read(id, reveal: true, purpose: "correction", actor: web.actor!)
                var values = personForm(person, web: web)
                values["error"] = message(error, web)
                return pages.response(
                    "person-form", title: web.text("person.correct"), values, web: web,
                    status: Problem.status(of: error.code))
            }
        }
        page(router, .post, "/console/persons/{personId}/photo", .staff(.maintainPersons)) { _, context, web in
            let id: Person.ID = try context.id("personId")
            guard let file = web.form.files["photo"], !file.bytes.isEmpty else {
                throw CitizenCardError.invalid("photo", "choose a JPEG or PNG file", zh: "请选择 JPEG 或 PNG 照片文件")
            }
            _ = try await registry.storePhoto(id, bytes: file.bytes, actor: web.actor!)
            return redirect("/console/persons/\(id)?done=photo", web: web)
        }
        page(router, .get, "/console/persons/{personId}/photo", .staff(.readPersons)) { _, context, web in
            let photo = try await registry.photo(try context.id("personId"), purpose: nil, actor: web.actor!)
            var response = Response(
                status: .ok, headers: [.contentType: photo.mediaType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: photo.bytes)))
            WebSecurity.apply(to: &response, cookies: web.cookies)
            return response
        }
        page(router, .post, "/console/persons/{personId}/applications", .staff(.counterService)) { _, context, web in
            let id: Person.ID = try context.id("personId")
            let result = try await cards.apply(
                CardService.Application(
                    personId: id, expectedFeeFen: web.form.text("expectedFeeFen").flatMap { Int64($0) }),
                actor: web.actor!)
            return redirect(
                result.receipt.map { "/console/receipts/\($0.id)" } ?? "/console/cards/\(result.card.id)", web: web)
        }
    }

    func personPage(_ person: PersonView, web: WebRequest, done: String? = nil) async throws -> Response {
        let actor = web.actor!
        let role = actor.role!
        let held = try await cards.cards(of: person.id, actor: actor)
        let fees = try await administration.feeSchedule(actor: actor).current
        let item: FeeItem = held.contains { $0.issuedAt != nil } ? .repeatApplication : .firstCard
        let fee = fees[item.rawValue]?.fen ?? 0
        let values: [String: Any] = [
            "person": personValues(person, web: web),
            "cards": held.map { cardValues($0, web: web) },
            "canApply": Permission.counterService.roles.contains(role)
                && !held.contains { $0.state.slot == .pipeline || $0.state.slot == .held },
            "applyFee": WebFormat.money(fee), "applyFeeFen": "\(fee)",
            "canEdit": Permission.maintainPersons.roles.contains(role),
            "canReveal": Permission.revealPersonalData.roles.contains(role) && person.masked,
            "done": done.map { WebStrings.text("done.\($0)", web.language) } ?? "",
        ]
        return pages.response("person", title: web.text("person.title"), values, web: web)
    }

    func personValues(_ person: PersonView, web: WebRequest) -> [String: Any] {
        [
            "id": person.id.rawValue, "masked": person.masked, "idNumber": person.idNumber, "name": person.name,
            "sex": web.text("sex.\(person.sex.rawValue)"), "birthDate": person.birthDate,
            "socialSecurityNumber": person.socialSecurityNumber, "phone": person.phone ?? "",
            "address": person.address ?? "", "employer": person.employer ?? "",
            "household": web.text("household.\(person.household.rawValue)"),
            "socialInsurance": person.socialInsurance, "ruralMedical": person.ruralMedical,
            "deceased": person.lifeStatus == .deceased, "hasPhoto": person.hasPhoto, "version": "\(person.version)",
            "changedAt": WebFormat.time(person.changedAt), "changedBy": person.changedBy,
            "changeReason": person.changeReason,
        ]
    }

    func personForm(_ person: PersonView?, web: WebRequest) -> [String: Any] {
        var values: [String: Any] = [
            "editing": person != nil,
            "action": person.map { "/console/persons/\($0.id)/edit" } ?? "/console/persons/new",
        ]
        if let person {
            values["person"] = personValues(person, web: web)
            values["values"] = [
                "name": person.name, "phone": person.phone ?? "", "address": person.address ?? "",
                "employer": person.employer ?? "", "socialSecurityNumber": person.socialSecurityNumber,
            ]
        }
        let household = person?.household ?? .local
        values["households"] = Household.allCases.map {
            ["value": $0.rawValue, "label": web.text("household.\($0.rawValue)"), "selected": $0 == household]
        }
        values["sexes"] = Sex.allCases.map { ["value": $0.rawValue, "label": web.text("sex.\($0.rawValue)")] }
        values["socialInsurance"] = person?.socialInsurance ?? false
        values["ruralMedical"] = person?.ruralMedical ?? false
        return values
    }

    /// Values of a submitted form to show again after an error.
    static func echo(_ form: WebForm, _ names: [String]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: names.map { ($0, form[$0] ?? "") })
    }
}

import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import Hummingbird
import Credentials

/// The citizen portal (issue 6, part 3): a card holder logs in with the card number and the
/// query password, sees their own data masked, the card's status and validity, the e-purse and
/// its recent records, reports a loss (the self-service pre-loss of R-14), activates published
/// services and sees who read their personal data.
extension Web {
    var portal: PortalService { PortalService(env) }

    func registerPortal(_ router: Router<AppContext>) {
        page(router, .get, "/portal/login", .anyone) { _, _, web in
            if web.citizen != nil { return Self.redirect("/portal") }
            return portalPage("portal-login", web.text("portal.login"), [:], web)
        }
        page(router, .post, "/portal/login", .anyone) { _, context, web in
            do throws(CitizenCardError) {
                let session = try await portalThrottle.login(
                    portal, cardNumber: web.form["cardNumber"] ?? "", password: web.form["password"] ?? "",
                    address: context.clientAddress)
                web.cookies.append(
                    sessionCookie(WebCookies.citizen, session.token, maxAge: Int(PortalPolicy.sessionSeconds)))
                return redirect("/portal", web: web)
            } catch {
                return portalPage(
                    "portal-login", web.text("portal.login"), ["error": message(error, web)], web,
                    status: Problem.status(of: error.code)
                )
                .retrying(after: error)
            }
        }
        page(router, .post, "/portal/logout", .citizen) { _, _, web in
            if let token = web.citizenToken { try await portal.logout(token: token) }
            web.cookies.append(expired(WebCookies.citizen))
            return redirect("/portal/login", web: web)
        }
        page(router, .get, "/portal", .citizen) { request, _, web in
            try await overviewPage(web, done: request.query("done"))
        }
        page(router, .post, "/portal/loss", .citizen) { _, _, web in
            do {
                _ = try await portal.reportLoss(web.citizen!)
                return redirect("/portal?done=loss", web: web)
            } catch let error as CitizenCardError {
                return try await overviewPage(web, error: error)
            }
        }
        page(router, .get, "/portal/password", .citizen) { _, _, web in
            portalPage("portal-password", web.text("portal.password"), [:], web)
        }
        page(router, .post, "/portal/password", .citizen) { _, _, web in
            do throws(CitizenCardError) {
                try await portal.changePassword(
                    current: web.form["currentPassword"] ?? "", new: web.form["newPassword"] ?? "",
                    principal: web.citizen!)
                return redirect("/portal?done=password", web: web)
            } catch {
                return portalPage(
                    "portal-password", web.text("portal.password"), ["error": message(error, web)], web,
                    status: Problem.status(of: error.code))
            }
        }
        page(router, .get, "/portal/services", .citizen) { _, _, web in
            try await servicesPage(web)
        }
        page(router, .post, "/portal/services/{code}/activation", .citizen) { _, context, web in
            do {
                _ = try await portal.activateService(web.citizen!, serviceCode: context.parameters.get("code") ?? "")
                return try await servicesPage(web, done: web.text("done.activated"))
            } catch let error as CitizenCardError {
                return try await servicesPage(web, error: error)
            }
        }
        page(router, .get, "/portal/card-code", .citizen) { _, _, web in
            try await cardCodePage(web)
        }
        page(router, .get, "/portal/card-code/current", .citizen) { _, _, web in
            // The page's refresh: a new code as an SVG fragment, for ecard.js to put in place.
            let code = try await credentials.issueCode(web.citizen!)
            return try JSONResponse.make(
                CurrentCode(
                    text: code.text, image: try Self.qrImage(code.text, label: web.text("portal.ecard")),
                    expiresAt: Timestamp(secondsSinceEpoch: code.claims.expiresAt),
                    expiresAtText: WebFormat.time(Timestamp(secondsSinceEpoch: code.claims.expiresAt))))
        }
        page(router, .get, "/portal/access-log", .citizen) { _, _, web in
            let entries = try await portal.accessLog(web.citizen!, limit: PortalPolicy.accessLogMax)
            return portalPage(
                "portal-access", web.text("portal.accessLog"),
                [
                    "entries": entries.map { entry in
                        [
                            "at": WebFormat.time(entry.at), "who": web.text("who.\(entry.who.rawValue)"),
                            "actor": entry.who == .you
                                ? "" : (web.language == .zh ? entry.actorZh ?? entry.actor : entry.actor),
                            "action": WebStrings.auditAction(entry.action, web.language), "purpose": entry.purpose,
                            "caseNumber": entry.caseNumber ?? "",
                            "fields": (entry.fields ?? []).map { web.text("grantField.\($0)") }
                                .joined(separator: web.language == .zh ? "、" : ", "),
                        ]
                    },
                    "empty": entries.isEmpty,
                ], web)
        }
    }

    struct CurrentCode: Codable {
        var text: String
        /// The QR symbol as an SVG `data:` URI, for the page's `<img>`.
        var image: String
        var expiresAt: Timestamp
        var expiresAtText: String
    }

    var credentials: CredentialService { CredentialService(env) }

    /// The code's QR symbol as an SVG `data:` URI (the pages write no markup unescaped, and the
    /// Content-Security-Policy allows `data:` images).
    static func qrImage(_ text: String, label: String) throws -> String {
        let svg = try QRSymbol(text).svg(pixels: 280, label: label)
        return "data:image/svg+xml;base64," + Data(svg.utf8).base64EncodedString()
    }

    /// The electronic card: the code as a QR symbol that ecard.js renews every `refreshSeconds`,
    /// the name and card number masked until the holder taps to show them.
    func cardCodePage(_ web: WebRequest) async throws -> Response {
        do {
            let code = try await credentials.issueCode(web.citizen!)
            let expires = Timestamp(secondsSinceEpoch: code.claims.expiresAt)
            return portalPage(
                "portal-ecard", web.text("portal.ecard"),
                [
                    "image": try Self.qrImage(code.text, label: web.text("portal.ecard")),
                    "maskedName": code.maskedName, "maskedNumber": code.maskedCardNumber, "name": code.name,
                    "number": code.cardNumber, "expiresAt": WebFormat.time(expires),
                    "refreshSeconds": code.refreshSeconds, "usable": true,
                ], web)
        } catch let error as CitizenCardError where error.code == .cardNotUsable {
            return portalPage("portal-ecard", web.text("portal.ecard"), ["usable": false], web)
        }
    }

    func portalPage(
        _ template: String, _ title: String, _ values: [String: Any], _ web: WebRequest,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        var values = values
        values["portal"] = true
        return pages.response(template, title: title, values, web: web, status: status)
    }

    func overviewPage(_ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil) async throws -> Response {
        let overview = try await portal.overview(web.citizen!)
        let zh = web.language == .zh
        let person = overview.person
        var values: [String: Any] = [
            "person": [
                "name": person.name, "idNumber": person.idNumber, "phone": person.phone ?? "",
                "address": person.address ?? "", "socialSecurityNumber": person.socialSecurityNumber,
            ],
            "cards": overview.cards.map { card in
                var values: [String: Any] = [
                    "number": card.maskedNumber, "state": web.text("state.\(card.state.rawValue)"),
                    "stateCode": card.state.rawValue, "usable": card.usable, "current": card.current,
                    "issuedAt": WebFormat.date(card.issuedAt), "expiresAt": WebFormat.date(card.expiresAt),
                    "balance": WebFormat.money(card.purseBalanceFen),
                    "canReportLoss": card.current && card.state == .active,
                    "renewalOpensAt": card.renewalOpensAt.map { WebFormat.date($0) as Any } ?? false,
                    "refundDue": card.refundDueFen.map { WebFormat.money($0) as Any } ?? false,
                ]
                if let bank = card.bankName {
                    // The account's number as the service gives it: masked.
                    values["bank"] = [
                        "name": bank, "account": card.bankAccount ?? "",
                        "state": card.bankAccountState.map { web.text("bankAccount.\($0)") } ?? "",
                        "stateCode": card.bankAccountState ?? "",
                    ]
                }
                if let loss = card.loss {
                    values["loss"] = [
                        "kind": web.text("lossKind.\(loss.kind.rawValue)"),
                        "effectiveAt": WebFormat.time(loss.effectiveAt),
                        // Only a pre-loss lapses (see `cardValues` in Console+Cards.swift).
                        "lapsesAt": loss.preLossExpiresAt.map { WebFormat.time($0) as Any } ?? false,
                    ]
                }
                return values
            },
            "records": overview.recentRecords.map { record in
                [
                    "at": WebFormat.time(record.at), "kind": web.text("record.\(record.kind.rawValue)"),
                    "amount": (record.kind == .load ? "+" : "-") + WebFormat.money(record.amountFen),
                    "balance": record.balanceAfterFen.map(WebFormat.money) ?? "",
                    "place": zh ? record.placeZh : record.place,
                    "status": web.text("recordStatus.\(record.status)"),
                ]
            },
            "noRecords": overview.recentRecords.isEmpty,
            "activations": overview.activations.map { activation in
                [
                    "name": zh ? activation.nameZh : activation.name,
                    "activatedAt": WebFormat.time(activation.activatedAt), "withdrawn": activation.withdrawn,
                ]
            },
            "done": done.map { web.text("done.portal.\($0)") } ?? "",
            "preLossDays": "\(env.policy.preLossSeconds / 86_400)",
        ]
        if let error { values["error"] = message(error, web) }
        return portalPage(
            "portal-home", web.text("portal.home"), values, web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func servicesPage(
        _ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil
    ) async throws
        -> Response
    {
        let principal = web.citizen!
        let services = try await portal.catalogue(principal)
        let active = Set(try await portal.activations(principal).map(\.serviceCode))
        let zh = web.language == .zh
        var values: [String: Any] = [
            "services": services.map { entry in
                [
                    "code": entry.code, "name": zh ? entry.nameZh : entry.name,
                    "description": zh ? entry.descriptionZh : entry.description,
                    "from": entry.effectiveFrom.iso8601, "active": active.contains(entry.code),
                ]
            },
            "empty": services.isEmpty,
            "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return portalPage(
            "portal-services", web.text("portal.services"), values, web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }
}

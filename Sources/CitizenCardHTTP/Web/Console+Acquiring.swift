import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// Acquiring on the console (issue 21, part 5; docs/terminal-protocol.md): the merchants and
/// their terminals (a new terminal's key is shown once, on the page that answers the POST that
/// made it, never in a URL or a redirect), the daily clearing with each merchant's settlement file,
/// and the fraud signals. The center's pages (`acquiring`), calling the use cases the JSON API
/// calls.
extension Web {
    var acquiringService: AcquiringService { AcquiringService(env) }
    var clearingService: ClearingService { ClearingService(env) }

    /// Fraud signals on one page.
    static let fraudRowsMax = 50
    /// Clearing runs the clearing page lists.
    static let clearingRunsMax = 30

    func registerAcquiringPages(_ router: Router<AppContext>) {
        registerMerchantPages(router)
        registerClearingPages(router)
        page(router, .get, "/console/fraud-signals", .staff(.acquiring)) { request, _, web in
            let before = try Self.signalCursor(request.query("before"))
            let signals = try await acquiringService.fraudSignals(
                before: before, limit: Self.fraudRowsMax, actor: web.actor!)
            var values: [String: Any] = [
                "signals": try await fraudValues(signals, web: web), "empty": signals.isEmpty,
                "newer": before != nil,
            ]
            if signals.count == Self.fraudRowsMax, let last = signals.last {
                values["older"] = "/console/fraud-signals?before=\(last.id.rawValue)"
            }
            return pages.response("fraud-signals", title: web.text("nav.fraudSignals"), values, web: web)
        }
    }

    // MARK: Merchants and terminals

    func registerMerchantPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/merchants", .staff(.acquiring)) { request, _, web in
            try await merchantsPage(web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/merchants", .staff(.acquiring)) { _, _, web in
            let form = web.form
            do {
                guard let commission = try Self.integer(form, "commissionBasisPoints") else {
                    throw CitizenCardError.invalid(
                        "commissionBasisPoints", "0 to 10000 basis points", zh: "请填写0至10000的基点数")
                }
                let merchant = try await acquiringService.registerMerchant(
                    .init(code: form["code"] ?? "", name: form["name"] ?? "", commissionBasisPoints: commission),
                    actor: web.actor!)
                return redirect("/console/merchants/\(merchant.id)?done=merchant-registered", web: web)
            } catch let error as CitizenCardError {
                return try await merchantsPage(
                    web, error: Self.renaming(error, Self.merchantFields),
                    echo: Self.echo(form, ["code", "name", "commissionBasisPoints"]))
            }
        }
        page(router, .get, "/console/merchants/{merchantId}", .staff(.acquiring)) { request, context, web in
            try await merchantPage(try context.id("merchantId"), web: web, done: doneText(request.query("done"), web))
        }
        page(router, .post, "/console/merchants/{merchantId}/terminals", .staff(.acquiring)) { _, context, web in
            let id: Merchant.ID = try context.id("merchantId")
            let form = web.form
            do {
                let registration = try await acquiringService.registerTerminal(
                    merchant: id,
                    .init(
                        number: (form["number"] ?? "").trimmingCharacters(in: .whitespaces),
                        psamSerial: (form["psamSerial"] ?? "").trimmingCharacters(in: .whitespaces),
                        location: form["location"] ?? "", latitude: try Self.degrees(form, "latitude"),
                        longitude: try Self.degrees(form, "longitude")),
                    actor: web.actor!)
                // The key is on this answer and nowhere else: no redirect.
                return try await merchantPage(
                    id, web: web, done: web.text("done.terminal-registered"), issued: registration)
            } catch let error as CitizenCardError {
                return try await merchantPage(
                    id, web: web, error: Self.renaming(error, Self.terminalFields),
                    echo: Self.echo(form, ["number", "psamSerial", "location", "latitude", "longitude"]))
            }
        }
        page(router, .post, "/console/merchants/{merchantId}/terminals/{terminalId}/status", .staff(.acquiring)) {
            _, context, web in
            let id: Merchant.ID = try context.id("merchantId")
            let terminalID: Terminal.ID = try context.id("terminalId")
            do {
                guard let active = ["true": true, "false": false][web.form["active"] ?? ""] else {
                    throw CitizenCardError.invalid("active", "true or false", zh: "须为 true 或 false")
                }
                let terminals = try await acquiringService.terminals(merchant: id, actor: web.actor!)
                guard terminals.contains(where: { $0.id == terminalID }) else {
                    throw CitizenCardError(.notFound, "no such terminal of this merchant", zh: "该商户没有这台终端")
                }
                _ = try await acquiringService.changeTerminal(terminalID, .init(active: active), actor: web.actor!)
                return redirect(
                    "/console/merchants/\(id)?done=\(active ? "terminal-reactivated" : "terminal-deactivated")",
                    web: web)
            } catch let error as CitizenCardError {
                return try await merchantPage(id, web: web, error: error)
            }
        }
    }

    /// A merchant's fields as the forms label them (`name` is not a person's name here).
    static let merchantFields = ["code": "merchantCode", "name": "merchantName"]
    /// A terminal's fields as the forms label them.
    static let terminalFields = ["number": "terminalNumber"]

    /// Degrees typed in a form (`30.0123`); nil when left blank. The range is the use case's to check.
    static func degrees(_ form: WebForm, _ name: String) throws(CitizenCardError) -> Double? {
        guard let text = form.text(name) else { return nil }
        guard text.count <= 16, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-") }),
            let value = Double(text), value.isFinite
        else {
            throw CitizenCardError.invalid(name, "degrees, like 29.985 or 122.207", zh: "请填写度数，如 29.985 或 122.207")
        }
        return value
    }

    func merchantsPage(
        _ web: WebRequest, done: String? = nil, error: CitizenCardError? = nil, echo: [String: String]? = nil
    ) async throws -> Response {
        let web = web.at("/console/merchants")
        let actor = web.actor!
        let merchants = try await acquiringService.merchants(actor: actor).sorted { $0.code < $1.code }
        let terminals = try await acquiringService.terminals(merchant: nil, actor: actor)
        let counts = Dictionary(grouping: terminals, by: \.merchantID).mapValues(\.count)
        var values: [String: Any] = [
            "merchants": merchants.map { merchant in
                var row = merchantValues(merchant, web: web)
                row["terminals"] = "\(counts[merchant.id] ?? 0)"
                return row
            },
            "empty": merchants.isEmpty, "done": done ?? "",
            "values": echo ?? ["commissionBasisPoints": "60"],
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "merchants", title: web.text("nav.merchants"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    /// A merchant: its facts and terminals with their switches, the form for a new terminal, and —
    /// once, after the POST that registered it — the new terminal's key.
    func merchantPage(
        _ id: Merchant.ID, web: WebRequest, done: String? = nil, error: CitizenCardError? = nil,
        echo: [String: String]? = nil, issued: AcquiringService.TerminalRegistration? = nil
    ) async throws -> Response {
        let web = web.at("/console/merchants/\(id)")
        let actor = web.actor!
        guard let merchant = try await acquiringService.merchants(actor: actor).first(where: { $0.id == id }) else {
            throw CitizenCardError(.notFound, "no such merchant", zh: "没有这个商户")
        }
        let terminals = try await acquiringService.terminals(merchant: id, actor: actor).sorted {
            $0.number < $1.number
        }
        var values: [String: Any] = [
            "merchant": merchantValues(merchant, web: web),
            "terminals": terminals.map { terminalValues($0, web: web) }, "noTerminals": terminals.isEmpty,
            "values": echo ?? [:], "done": done ?? "",
        ]
        if let issued {
            values["issued"] = ["number": issued.terminal.number, "key": issued.key]
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "merchant", title: "\(web.text("merchant.title")) \(merchant.code)", values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func merchantValues(_ merchant: Merchant, web: WebRequest) -> [String: Any] {
        [
            "id": merchant.id.rawValue, "code": merchant.code, "name": merchant.name,
            "commission": Self.percent(basisPoints: merchant.commissionBasisPoints),
            "basisPoints": "\(merchant.commissionBasisPoints)", "active": merchant.active,
            "createdAt": WebFormat.date(merchant.createdAt),
        ]
    }

    func terminalValues(_ terminal: Terminal, web: WebRequest) -> [String: Any] {
        var place = ""
        if let latitude = terminal.latitudeE6, let longitude = terminal.longitudeE6 {
            place = "\(Self.degrees(e6: latitude)), \(Self.degrees(e6: longitude))"
        }
        return [
            "id": terminal.id.rawValue, "number": terminal.number, "psam": terminal.psamSerial,
            "location": terminal.location, "coordinates": place, "active": terminal.active,
            "lastSignInAt": WebFormat.time(terminal.lastSignInAt),
            "hotlistVersion": terminal.hotlistVersion.map { "\($0)" } ?? "",
            "createdAt": WebFormat.date(terminal.createdAt),
        ]
    }

    /// Basis points as a percentage: 60 → `0.60 %`.
    static func percent(basisPoints: Int64) -> String {
        let hundredths = basisPoints % 100
        return "\(basisPoints / 100).\(hundredths < 10 ? "0" : "")\(hundredths) %"
    }

    /// Millionths of a degree as degrees: 29985000 → `29.985000`.
    static func degrees(e6: Int64) -> String {
        let sign = e6 < 0 ? "-" : ""
        let magnitude = e6.magnitude
        let fraction = String(magnitude % 1_000_000)
        return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    // MARK: Clearing

    func registerClearingPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/clearing", .staff(.acquiring)) { _, _, web in
            try await clearingPage(web)
        }
        page(router, .post, "/console/clearing", .staff(.acquiring)) { _, _, web in
            do {
                let date = try Self.date(web.form, "date")
                let report = try await clearingService.run(date, actor: web.actor!)
                // The report answers the form: a day without purchases stores no settlement, so
                // there would be no page of it to redirect to.
                let answer = web.at("/console/clearing")
                return pages.response(
                    "clearing-run", title: "\(web.text("clearing.run")) \(date.iso8601)",
                    clearingValues(
                        report, web: answer, done: web.text(report.firstRun ? "done.cleared" : "done.cleared-before")),
                    web: answer)
            } catch let error as CitizenCardError {
                return try await clearingPage(web, error: error, date: web.form.text("date"))
            }
        }
        page(router, .get, "/console/clearing/{date}", .staff(.acquiring)) { request, context, web in
            let report = try await clearedDay(context.parameters.get("date"), web: web)
            return pages.response(
                "clearing-run", title: "\(web.text("clearing.run")) \(report.businessDate.iso8601)",
                clearingValues(report, web: web, done: doneText(request.query("done"), web)), web: web)
        }
        page(router, .get, "/console/clearing/{date}/settlements/{merchantCode}", .staff(.acquiring)) {
            _, context, web in
            let report = try await clearedDay(context.parameters.get("date"), web: web)
            let code = context.parameters.get("merchantCode")?.uppercased() ?? ""
            guard let merchant = report.merchants.first(where: { $0.code == code }) else {
                throw CitizenCardError(
                    .notFound, "no settlement of this merchant on this day", zh: "该商户当日没有结算记录")
            }
            var response = Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition:
                        "attachment; filename=\"\(report.businessDate.iso8601)-\(merchant.code).csv\"",
                ],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: ClearingService.settlementFile(merchant, date: report.businessDate))))
            WebSecurity.apply(to: &response, cookies: web.cookies)
            return response
        }
    }

    /// The report of a cleared day; a date that is not one, or a day not cleared, is no page.
    func clearedDay(_ text: String?, web: WebRequest) async throws -> ClearingService.Report {
        guard let text, let date = CalendarDate(iso8601: text) else {
            throw CitizenCardError(.notFound, "no such business day", zh: "没有这个营业日")
        }
        guard let report = try await clearingService.report(date, actor: web.actor!) else {
            throw CitizenCardError(.notFound, "this day is not cleared", zh: "该营业日尚未清分")
        }
        return report
    }

    /// The form to clear a day (yesterday by default) and the days cleared so far, newest first.
    /// The clearing store has no list of its days: the runs are read from the audit trail, where
    /// every first run of a day leaves one `clearing.run` entry with its figures.
    func clearingPage(_ web: WebRequest, error: CitizenCardError? = nil, date: String? = nil) async throws -> Response {
        let web = web.at("/console/clearing")
        let actor = web.actor!
        let today = env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset)
        let yesterday = CalendarDate(daysSinceEpoch: today.daysSinceEpoch - 1)
        var values: [String: Any] = ["date": date ?? yesterday.iso8601, "max": yesterday.iso8601]
        if Permission.readAudit.roles.contains(actor.role!) {
            let entries = try await AuditService(env).entries(
                AuditFilter(action: "clearing.run"), limit: Self.clearingRunsMax, actor: actor)
            let runs = entries.compactMap { entry -> [String: Any]? in
                guard entry.subject.hasPrefix("clearing:") else { return nil }
                let day = String(entry.subject.dropFirst("clearing:".count))
                guard CalendarDate(iso8601: day) != nil else { return nil }
                let detail =
                    (try? JSONSerialization.jsonObject(with: Data(entry.detail.utf8))) as? [String: Any] ?? [:]
                func fen(_ key: String) -> String {
                    (detail[key] as? NSNumber).map { WebFormat.money($0.int64Value) } ?? ""
                }
                return [
                    "date": day, "at": WebFormat.time(entry.at), "by": entry.actor,
                    "merchants": (detail["merchants"] as? NSNumber).map { "\($0.intValue)" } ?? "",
                    // A day without purchases stores no settlement: nothing to open.
                    "settled": (detail["merchants"] as? NSNumber).map { $0.intValue > 0 } ?? true,
                    "gross": fen("grossFen"), "net": fen("netFen"),
                ]
            }
            values["runs"] = runs
            values["noRuns"] = runs.isEmpty
            values["listed"] = true
        }
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "clearing", title: web.text("nav.clearing"), values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func clearingValues(_ report: ClearingService.Report, web: WebRequest, done: String?) -> [String: Any] {
        let day = report.businessDate.iso8601
        return [
            "businessDate": day, "clearedAt": WebFormat.time(report.clearedAt), "records": "\(report.records)",
            "gross": WebFormat.money(report.grossFen), "commission": WebFormat.money(report.commissionFen),
            "net": WebFormat.money(report.netFen), "done": done ?? "",
            "merchants": report.merchants.map { merchant in
                [
                    "code": merchant.code, "name": merchant.name, "merchantId": merchant.merchantId,
                    "records": "\(merchant.records)", "gross": WebFormat.money(merchant.grossFen),
                    "risk": WebFormat.money(merchant.riskFen),
                    "rate": Self.percent(basisPoints: merchant.commissionBasisPoints),
                    "commission": WebFormat.money(merchant.commissionFen), "net": WebFormat.money(merchant.netFen),
                    "file": "/console/clearing/\(day)/settlements/\(merchant.code)",
                ]
            },
            "noMerchants": report.merchants.isEmpty,
            "uploads": report.uploads.map { upload in
                [
                    "number": upload.number, "batches": "\(upload.batches)", "records": "\(upload.records)",
                    "posted": "\(upload.posted)", "risk": "\(upload.risk)", "parked": "\(upload.parked)",
                    "duplicates": "\(upload.duplicates)", "accepted": WebFormat.money(upload.acceptedFen),
                ]
            },
            "hasUploads": !report.uploads.isEmpty,
            "checks": report.checks, "differences": report.differences, "clean": report.differences.isEmpty,
        ]
    }

    // MARK: Fraud signals

    /// The `before` of the older page: a signal's id (`<batch id>.<n>`); anything else is refused.
    static func signalCursor(_ text: String?) throws(CitizenCardError) -> FraudSignal.ID? {
        guard let text, !text.isEmpty else { return nil }
        guard text.utf8.count <= 64,
            text.utf8.allSatisfy({
                (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || $0 == 0x2D || $0 == 0x2E
            })
        else { throw CitizenCardError.invalid("before", "a fraud signal's id", zh: "须为欺诈预警编号") }
        return FraudSignal.ID(rawValue: text)
    }

    /// The signals as rows; the terminal is the one the evidence names last (the one that took
    /// the record), linked to its merchant when it is registered.
    func fraudValues(_ signals: [FraudSignal], web: WebRequest) async throws -> [[String: Any]] {
        let numbers = signals.map { Self.terminalNumber(in: $0.evidence) }
        var merchants: [String: Merchant.ID] = [:]
        if numbers.contains(where: { $0 != nil }) {
            for terminal in try await acquiringService.terminals(merchant: nil, actor: web.actor!) {
                merchants[terminal.number] = terminal.merchantID
            }
        }
        return zip(signals, numbers).map { signal, number in
            [
                "id": signal.id.rawValue, "kind": web.text("fraud.\(signal.kind.rawValue)"),
                "kindCode": signal.kind.rawValue, "at": WebFormat.time(signal.detectedAt),
                "cardId": signal.cardID?.rawValue ?? "", "asnShort": String(signal.asn.suffix(8)),
                "terminal": number ?? "", "merchantId": number.flatMap { merchants[$0]?.rawValue } ?? "",
                "evidence": signal.evidence,
            ]
        }
    }

    /// The last `terminal <12 hex digits>` of a signal's evidence.
    static func terminalNumber(in evidence: String) -> String? {
        let words = evidence.split(whereSeparator: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
        var found: String?
        for (index, word) in words.enumerated().dropLast() where word == "terminal" {
            let next = words[index + 1]
            if next.utf8.count == 12, next.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x46).contains($0) })
            {
                found = String(next)
            }
        }
        return found
    }
}

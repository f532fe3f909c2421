import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// Production batches (export, the factory's results, delivery) and an employer's bulk
/// application from a CSV file.
extension Web {
    func registerProductionPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/production", .staff(.manageProduction)) { _, _, web in
            let batches = try await production.batches(limit: 50, actor: web.actor!)
            let waiting = try await cards.cards(in: .approved, outletID: nil, after: nil, limit: 500, actor: web.actor!)
            return pages.response(
                "production", title: web.text("nav.production"),
                [
                    "batches": batches.map { batchValues($0, web: web) }, "waiting": waiting.count,
                    "canCreate": !waiting.isEmpty,
                ],
                web: web)
        }
        page(router, .post, "/console/production", .staff(.manageProduction)) { _, _, web in
            let view = try await production.createBatch(ProductionService.BatchRequest(), actor: web.actor!)
            return redirect("/console/production/\(view.batch.id)", web: web)
        }
        page(router, .get, "/console/production/{batchId}", .staff(.manageProduction)) { _, context, web in
            try await batchPage(try await production.batch(try context.id("batchId"), actor: web.actor!), web: web)
        }
        page(router, .get, "/console/production/{batchId}/file", .staff(.manageProduction)) { _, context, web in
            let file = try await production.personalisationFile(try context.id("batchId"), actor: web.actor!)
            var response = Response(
                status: .ok,
                headers: [
                    .contentType: "application/json",
                    .contentDisposition: "attachment; filename=\"personalisation-\(file.batchNumber).json\"",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try APIJSON.encoder.encode(file))))
            WebSecurity.apply(to: &response, cookies: web.cookies)
            return response
        }
        page(router, .post, "/console/production/{batchId}/results", .staff(.manageProduction)) { _, context, web in
            let id: ProductionBatch.ID = try context.id("batchId")
            do {
                guard let file = web.form.files["results"], !file.bytes.isEmpty else {
                    throw CitizenCardError.invalid("results", "choose the factory's result file", zh: "请选择工厂制卡结果文件")
                }
                let results = try Self.factoryResults(file.bytes)
                return try await batchPage(
                    try await production.recordResults(id, .init(results: results), actor: web.actor!), web: web,
                    done: web.text("done.results"))
            } catch let error as CitizenCardError {
                return try await batchPage(
                    try await production.batch(id, actor: web.actor!), web: web, error: error)
            }
        }
        page(router, .post, "/console/production/{batchId}/delivery", .staff(.manageProduction)) { _, context, web in
            let id: ProductionBatch.ID = try context.id("batchId")
            do {
                return try await batchPage(
                    try await production.deliver(id, actor: web.actor!), web: web, done: web.text("done.delivered"))
            } catch let error as CitizenCardError {
                return try await batchPage(try await production.batch(id, actor: web.actor!), web: web, error: error)
            }
        }
        page(router, .get, "/console/applications/bulk", .staff(.counterService)) { _, _, web in
            pages.response("bulk", title: web.text("nav.bulk"), [:], web: web)
        }
        page(router, .post, "/console/applications/bulk", .staff(.counterService)) { _, _, web in
            do {
                guard let file = web.form.files["file"], !file.bytes.isEmpty else {
                    throw CitizenCardError.invalid("file", "choose a CSV file of ID numbers", zh: "请选择身份证号码 CSV 文件")
                }
                let numbers = Self.idNumbers(csv: file.bytes)
                let rows = try await cards.applyInBulk(
                    .init(
                        employerCode: web.form["employerCode"] ?? "", employerName: web.form["employerName"] ?? "",
                        idNumbers: numbers), actor: web.actor!)
                let values: [String: Any] = [
                    "rows": rows.map { row in
                        [
                            "row": "\(row.row)", "idNumber": row.idNumber, "ok": row.error == nil,
                            "card": row.card?.number ?? "", "cardId": row.card?.id.rawValue ?? "",
                            "error": row.error.flatMap { CitizenCardError.Code(rawValue: $0) }.map {
                                web.language == .zh ? $0.titleZh : $0.title
                            } ?? "",
                        ] as [String: Any]
                    },
                    "hasRows": !rows.isEmpty, "accepted": rows.filter { $0.error == nil }.count,
                    "refused": rows.filter { $0.error != nil }.count,
                ]
                return pages.response("bulk", title: web.text("nav.bulk"), values, web: web)
            } catch let error as CitizenCardError {
                return pages.response(
                    "bulk", title: web.text("nav.bulk"),
                    ["error": message(error, web), "values": Self.echo(web.form, ["employerCode", "employerName"])],
                    web: web, status: Problem.status(of: error.code))
            }
        }
    }

    func batchPage(
        _ view: ProductionService.BatchView, web: WebRequest, done: String? = nil, error: CitizenCardError? = nil
    ) async throws -> Response {
        var values: [String: Any] = [
            "batch": batchValues(view.batch, web: web),
            "cards": view.cards.map { cardValues($0, web: web) },
            "canRecord": view.batch.state == .exported, "canDeliver": view.batch.state == .produced,
            "done": done ?? "",
        ]
        if let error { values["error"] = message(error, web) }
        return pages.response(
            "batch", title: "\(web.text("batch.title")) \(view.batch.number)", values, web: web,
            status: error.map { Problem.status(of: $0.code) } ?? .ok)
    }

    func batchValues(_ batch: ProductionBatch, web: WebRequest) -> [String: Any] {
        [
            "id": batch.id.rawValue, "number": batch.number, "state": web.text("batch.\(batch.state.rawValue)"),
            "cardCount": "\(batch.cardCount)", "createdAt": WebFormat.time(batch.createdAt),
            "createdBy": batch.createdBy,
        ]
    }

    /// The factory's result file: the JSON the API takes (`{"results": [...]}`), or CSV rows
    /// `cardNumber,ok|failed[,reason]` (a header row is skipped).
    static func factoryResults(_ bytes: Data) throws(CitizenCardError) -> [ProductionService.FactoryResult] {
        if let request = try? APIJSON.decoder.decode(ProductionService.ResultsRequest.self, from: bytes) {
            return request.results
        }
        var results: [ProductionService.FactoryResult] = []
        for (index, line) in String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).enumerated() {
            let cells = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            if index == 0, cells.first?.lowercased().hasPrefix("card") == true { continue }
            guard cells.count >= 2,
                let outcome = ProductionService.FactoryResult.Outcome(rawValue: cells[1].lowercased())
            else {
                throw CitizenCardError.invalid(
                    "results", "line \(index + 1): expected cardNumber,ok|failed[,reason]",
                    zh: "第 \(index + 1) 行格式应为 卡号,ok|failed[,原因]")
            }
            results.append(.init(cardNumber: cells[0], outcome: outcome, reason: cells.count > 2 ? cells[2] : nil))
        }
        return results
    }

    /// ID numbers from an employer's CSV: the first cell of each line that is not blank; a header
    /// row (not starting with a digit) is skipped. A UTF-8 byte-order mark is ignored.
    static func idNumbers(csv bytes: Data) -> [String] {
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        var numbers: [String] = []
        for (index, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let first =
                line.split(separator: ",", omittingEmptySubsequences: false).first.map {
                    $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t\""))
                } ?? ""
            if first.isEmpty { continue }
            if index == 0, !(first.first?.isNumber ?? false) { continue }
            numbers.append(first)
        }
        return numbers
    }
}

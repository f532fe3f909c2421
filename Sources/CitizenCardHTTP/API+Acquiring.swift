import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation
import HTTPTypes
import NIOCore

extension API {
    var acquiring: AcquiringService { AcquiringService(env) }
    var hotlist: HotlistService { HotlistService(env) }

    struct HotlistStatus: Codable {
        var version: Int64
        var publishedAt: Timestamp?
        var count: Int
    }

    /// Merchants and terminals (the center), the terminal protocol (sign-in, batches, hotlist),
    /// the exceptions queue and fraud signals (docs/terminal-protocol.md).
    func registerAcquiring(_ routes: EndpointRegistry) {
        let merchants = "\(Self.prefix)/merchants"
        routes.add(.post, merchants, .permission(.acquiring)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AcquiringService.MerchantRequest.self, request, context: context)
            return try JSONResponse.make(try await acquiring.registerMerchant(body, actor: actor), status: .created)
        }
        routes.add(.get, merchants, .permission(.acquiring)) { _, _, actor in
            try JSONResponse.make(Page(items: try await acquiring.merchants(actor: actor), next: nil))
        }
        routes.add(.post, "\(merchants)/{merchantId}/terminals", .permission(.acquiring)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AcquiringService.TerminalRequest.self, request, context: context)
            return try JSONResponse.make(
                try await acquiring.registerTerminal(merchant: try context.id("merchantId"), body, actor: actor),
                status: .created)
        }
        routes.add(.get, "\(Self.prefix)/terminals", .permission(.acquiring)) { request, _, actor in
            let merchant = try request.query("merchantId").map { text throws(CitizenCardError) in
                guard let id = Merchant.ID(parsing: text) else { throw CitizenCardError.invalid("merchantId", "an id") }
                return id
            }
            return try JSONResponse.make(
                Page(items: try await acquiring.terminals(merchant: merchant, actor: actor), next: nil))
        }

        routes.add(.patch, "\(Self.prefix)/terminals/{terminalId}", .permission(.acquiring)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(AcquiringService.TerminalChange.self, request, context: context)
            return try JSONResponse.make(
                try await acquiring.changeTerminal(try context.id("terminalId"), body, actor: actor))
        }

        let terminal = "\(Self.prefix)/terminal"
        routes.add(.post, "\(terminal)/sign-in", .permission(.terminalOperations)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AcquiringService.SignIn.self, request, context: context)
            return try JSONResponse.make(try await acquiring.signIn(body, actor: actor))
        }
        routes.add(.post, "\(terminal)/batches", .permission(.terminalOperations)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(
                AcquiringService.BatchUpload.self, request, context: context, limit: 4 << 20)
            return try JSONResponse.make(try await acquiring.upload(body, actor: actor))
        }
        routes.add(.get, "\(terminal)/hotlist", .permission(.terminalOperations)) { request, _, actor in
            if let since = request.query("since") {
                guard let from = Int64(since) else { throw CitizenCardError.invalid("since", "a hotlist version") }
                guard let delta = try await hotlist.delta(since: from, actor: actor) else {
                    return Response(
                        status: .noContent, headers: [HTTPField.Name("Hotlist-Version")!: "\(from)"])
                }
                return Self.binary(delta.encoded(), version: delta.toVersion)
            }
            let list = try await hotlist.full(actor: actor)
            return Self.binary(list.encoded(), version: list.version)
        }

        routes.add(.get, "\(Self.prefix)/hotlist", .permission(.acquiring)) { _, _, actor in
            let (list, publishedAt) = try await hotlist.current(actor: actor)
            return try JSONResponse.make(
                HotlistStatus(version: Int64(list.version), publishedAt: publishedAt, count: list.count))
        }
        routes.add(.post, "\(Self.prefix)/hotlist/publications", .permission(.acquiring)) { _, _, actor in
            try JSONResponse.make(try await hotlist.publish(actor: actor))
        }

        routes.add(.get, "\(Self.prefix)/purchase-exceptions", .permission(.acquiring)) { request, _, actor in
            let limit = try request.queryLimit()
            let items = try await acquiring.exceptions(after: try Self.after(request), limit: limit, actor: actor)
            return try JSONResponse.make(
                Page(items: items, next: items.count == limit ? items.last?.id.rawValue : nil))
        }
        routes.add(.get, "\(Self.prefix)/purchase-exceptions/closed", .permission(.acquiring)) { request, _, actor in
            let limit = try request.queryLimit()
            let items = try await acquiring.closedExceptions(
                after: try Self.after(request), limit: limit, actor: actor)
            return try JSONResponse.make(
                Page(items: items, next: items.count == limit ? items.last?.purchase.id.rawValue : nil))
        }
        routes.add(.post, "\(Self.prefix)/purchase-exceptions/{purchaseId}/closure", .permission(.acquiring)) {
            request, context, actor in
            let id: OfflinePurchase.ID = try context.id("purchaseId")
            let (body, _) = try await JSONBody.decode(AcquiringService.NoteRequest.self, request, context: context)
            return try JSONResponse.make(try await acquiring.closeException(id, body, actor: actor))
        }
        routes.add(.post, "\(Self.prefix)/cards/{cardId}/missing-records/write-off", .permission(.acquiring)) {
            request, context, actor in
            let id: Card.ID = try context.id("cardId")
            let (body, _) = try await JSONBody.decode(AcquiringService.NoteRequest.self, request, context: context)
            return try JSONResponse.make(try await acquiring.writeOffMissingRecords(card: id, body, actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/fraud-signals", .permission(.acquiring)) { request, _, actor in
            let before = request.query("before").map(FraudSignal.ID.init(rawValue:))
            let limit = try request.queryLimit()
            let items = try await acquiring.fraudSignals(before: before, limit: limit, actor: actor)
            return try JSONResponse.make(
                Page(items: items, next: items.count == limit ? items.last?.id.rawValue : nil))
        }
        routes.add(.get, "\(Self.prefix)/cards/{cardId}/purchases", .permission(.readCards)) {
            request, context, actor in
            try JSONResponse.make(
                Page(
                    items: try await acquiring.purchases(
                        of: try context.id("cardId"), limit: try request.queryLimit(), actor: actor), next: nil))
        }
    }

    /// The `after` cursor of an exceptions list: a purchase id (422 otherwise).
    static func after(_ request: Request) throws(CitizenCardError) -> OfflinePurchase.ID? {
        try request.query("after").map { text throws(CitizenCardError) in
            guard let id = OfflinePurchase.ID(parsing: text) else { throw CitizenCardError.invalid("after", "an id") }
            return id
        }
    }

    struct ClearingRequest: Codable { var date: CalendarDate }

    /// Daily clearing and settlement (the same as `citizencard clearing run`).
    func registerClearing(_ routes: EndpointRegistry) {
        let runs = "\(Self.prefix)/clearing-runs"
        routes.add(.post, runs, .permission(.acquiring)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(ClearingRequest.self, request, context: context)
            return try JSONResponse.make(try await clearing.run(body.date, actor: actor))
        }
        routes.add(.get, "\(runs)/{date}", .permission(.acquiring)) { _, context, actor in
            try JSONResponse.make(try await clearedDay(context, actor: actor))
        }
        routes.add(.get, "\(runs)/{date}/settlements/{merchantCode}", .permission(.acquiring)) { _, context, actor in
            let report = try await clearedDay(context, actor: actor)
            let code = context.parameters.get("merchantCode")?.uppercased() ?? ""
            guard let merchant = report.merchants.first(where: { $0.code == code }) else {
                throw CitizenCardError.notFound("settlement of this merchant on this day")
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"\(report.businessDate.iso8601)-\(merchant.code).csv\"",
                ],
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: ClearingService.settlementFile(merchant, date: report.businessDate))))
        }
    }

    var clearing: ClearingService { ClearingService(env) }

    func clearedDay(_ context: AppContext, actor: Actor) async throws -> ClearingService.Report {
        guard let text = context.parameters.get("date"), let date = CalendarDate(iso8601: text) else {
            throw CitizenCardError(.notFound, "no such date")
        }
        guard let report = try await clearing.report(date, actor: actor) else {
            throw CitizenCardError.notFound("clearing run of this day")
        }
        return report
    }

    static func binary(_ bytes: [UInt8], version: UInt64) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/octet-stream", HTTPField.Name("Hotlist-Version")!: "\(version)"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

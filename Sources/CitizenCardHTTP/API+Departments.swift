import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation
import HTTPTypes

extension API {
    var departments: DepartmentService { DepartmentService(env) }
    var feeds: FeedService { FeedService(env) }
    var grants: GrantService { GrantService(env) }
    var disclosures: DisclosureService { DisclosureService(env) }
    var caseWork: CaseService { CaseService(env) }

    struct FeedBatch: Codable { var messages: [FeedService.Message] }
    struct FeedResults: Codable { var results: [FeedResult] }
    struct CardCheckResults: Codable { var results: [DisclosureService.CardCheck] }
    struct ReasonBody: Codable { var reason: String }

    /// The purpose headers of a department request (docs/departments.md); nil when none is sent.
    static func purpose(_ request: Request, required: Bool) throws -> DisclosureService.Purpose? {
        let purpose = request.headers[HTTPField.Name("X-Purpose")!]
        let caseNumber = request.headers[HTTPField.Name("X-Case-Number")!]
        let endUser = request.headers[HTTPField.Name("X-End-User")!]
        if !required && purpose == nil && caseNumber == nil && endUser == nil { return nil }
        return try DisclosureService.Purpose(
            purpose: purpose.map(Self.headerText), caseNumber: caseNumber.map(Self.headerText),
            endUser: endUser.map(Self.headerText))
    }

    /// Header values are percent-encoded UTF-8 when they hold more than ASCII (RFC 8187 style
    /// without the charset prefix): `X-Purpose: %E5%8C%BB%E4%BF%9D%E6%A0%B8%E6%9F%A5`.
    static func headerText(_ value: String) -> String { value.removingPercentEncoding ?? value }

    /// The department's side: feeds, grant requests, queries, its access log (department clients only).
    func registerDepartmentSide(_ routes: EndpointRegistry) {
        let side = "\(Self.prefix)/department"
        routes.add(.post, "\(side)/feeds", .permission(.departmentOperations)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(FeedBatch.self, request, context: context)
            guard (1...DepartmentPolicy.feedBatchMax).contains(body.messages.count) else {
                throw CitizenCardError.invalid(
                    "messages", "1 to \(DepartmentPolicy.feedBatchMax) messages; send more as a file",
                    zh: "每次1至\(DepartmentPolicy.feedBatchMax)条")
            }
            return try JSONResponse.make(FeedResults(results: try await feeds.apply(body.messages, actor: actor)))
        }
        routes.add(.get, "\(side)/feed-results", .permission(.departmentOperations)) { request, _, actor in
            try JSONResponse.make(
                Page(
                    items: try await caseWork.feedResults(
                        department: nil, outcome: try Self.outcome(request), limit: try request.queryLimit(),
                        actor: actor), next: nil))
        }
        routes.add(.post, "\(side)/grant-requests", .permission(.departmentOperations)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.GrantRequest.self, request, context: context)
            return try JSONResponse.make(try await grants.request(body, actor: actor), status: .created)
        }
        routes.add(.get, "\(side)/grants", .permission(.departmentOperations)) { _, _, actor in
            try JSONResponse.make(Page(items: try await grants.list(actor: actor), next: nil))
        }
        routes.add(.post, "\(side)/person-queries", .permission(.departmentOperations)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(DisclosureService.LookupRequest.self, request, context: context)
            let purpose = try Self.purpose(request, required: true)!
            return try JSONResponse.make(try await disclosures.lookup(body, purpose: purpose, actor: actor))
        }
        routes.add(.get, "\(side)/access-log", .permission(.departmentOperations)) { request, _, actor in
            // The cursor is `<seconds>.<id>` of the last entry seen (a batch shares one second).
            let before = try request.query("before").map { text throws -> (at: Timestamp, id: Disclosure.ID) in
                let parts = text.split(separator: ".", maxSplits: 1)
                guard parts.count == 2, let seconds = Int64(parts[0]), seconds > 0,
                    let id = Disclosure.ID(parsing: parts[1])
                else { throw CitizenCardError.invalid("before", "the next cursor of the previous page") }
                return (Timestamp(secondsSinceEpoch: seconds), id)
            }
            let limit = try request.queryLimit()
            let items = try await disclosures.accessLog(before: before, limit: limit, actor: actor)
            return try JSONResponse.make(
                Page(
                    items: items,
                    next: items.count < limit ? nil : items.last.map { "\($0.at.secondsSinceEpoch).\($0.id)" }))
        }
        routes.add(.post, "\(Self.prefix)/card-checks", .permission(.verifyCards)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(DisclosureService.CardCheckBatch.self, request, context: context)
            let purpose = try Self.purpose(request, required: actor.role == .department)
            return try JSONResponse.make(
                CardCheckResults(results: try await disclosures.check(body.cards, purpose: purpose, actor: actor)))
        }
    }

    static func outcome(_ request: Request) throws -> FeedResult.Outcome? {
        guard let text = request.query("outcome") else { return nil }
        guard let outcome = FeedResult.Outcome(rawValue: text) else {
            throw CitizenCardError.invalid(
                "outcome", FeedResult.Outcome.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return outcome
    }

    /// The center's side: the registry, clients and keys, grants through approval and agreement,
    /// the review queue, the outlets' card cases, the disclosure report.
    func registerDepartmentAdministration(_ routes: EndpointRegistry) {
        let registry = "\(Self.prefix)/departments"
        routes.add(.get, registry, .permission(.superviseDisclosures)) { _, _, actor in
            try JSONResponse.make(Page(items: try await departments.list(actor: actor), next: nil))
        }
        routes.add(.post, registry, .permission(.manageDepartments)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(
                DepartmentService.DepartmentRequest.self, request, context: context)
            return try JSONResponse.make(try await departments.create(body, actor: actor), status: .created)
        }
        routes.add(.get, "\(registry)/{departmentId}", .permission(.superviseDisclosures)) { _, context, actor in
            try JSONResponse.make(try await departments.department(try context.id("departmentId"), actor: actor))
        }
        routes.add(.patch, "\(registry)/{departmentId}", .permission(.manageDepartments)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(
                DepartmentService.DepartmentChange.self, request, context: context)
            return try JSONResponse.make(
                try await departments.change(try context.id("departmentId"), body, actor: actor))
        }
        routes.add(.get, "\(registry)/{departmentId}/clients", .permission(.manageDepartments)) { _, context, actor in
            try JSONResponse.make(
                Page(
                    items: try await departments.clients(department: try context.id("departmentId"), actor: actor),
                    next: nil))
        }
        routes.add(.post, "\(registry)/{departmentId}/clients", .permission(.manageDepartments)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(DepartmentService.ClientRequest.self, request, context: context)
            return try JSONResponse.make(
                try await departments.createClient(department: try context.id("departmentId"), body, actor: actor),
                status: .created)
        }
        let clients = "\(Self.prefix)/department-clients"
        routes.add(.post, "\(clients)/{clientId}/keys", .permission(.manageDepartments)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(DepartmentService.Rotation.self, request, context: context)
            return try JSONResponse.make(
                try await departments.rotateKey(client: try context.id("clientId"), body, actor: actor),
                status: .created)
        }
        routes.add(.post, "\(clients)/{clientId}/keys/{keyId}/revocation", .permission(.manageDepartments)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(ReasonBody.self, request, context: context)
            return try JSONResponse.make(
                try await departments.revokeKey(
                    client: try context.id("clientId"), key: try context.id("keyId"), reason: body.reason, actor: actor)
            )
        }
        routes.add(.post, "\(clients)/{clientId}/revocation", .permission(.manageDepartments)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(ReasonBody.self, request, context: context)
            return try JSONResponse.make(
                try await departments.revokeClient(try context.id("clientId"), reason: body.reason, actor: actor))
        }

        let grantsPath = "\(Self.prefix)/grants"
        routes.add(.get, grantsPath, .permission(.superviseDisclosures)) { _, _, actor in
            try JSONResponse.make(Page(items: try await grants.list(actor: actor), next: nil))
        }
        routes.add(.post, grantsPath, .permission(.manageDepartments)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.GrantRequest.self, request, context: context)
            return try JSONResponse.make(try await grants.request(body, actor: actor), status: .created)
        }
        routes.add(.get, "\(grantsPath)/{grantId}", .permission(.superviseDisclosures)) { _, context, actor in
            try JSONResponse.make(try await grants.grant(try context.id("grantId"), actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/approval", .permission(.decideGrants)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.Decision.self, request, context: context)
            return try JSONResponse.make(try await grants.approve(try context.id("grantId"), body, actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/refusal", .permission(.decideGrants)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.Decision.self, request, context: context)
            return try JSONResponse.make(try await grants.refuse(try context.id("grantId"), body, actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/agreement", .permission(.manageDepartments)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.AgreementRequest.self, request, context: context)
            return try JSONResponse.make(
                try await grants.recordAgreement(try context.id("grantId"), body, actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/suspension", .permission(.stopGrants)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.StateChange.self, request, context: context)
            return try JSONResponse.make(try await grants.suspend(try context.id("grantId"), body, actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/resumption", .permission(.manageDepartments)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.StateChange.self, request, context: context)
            return try JSONResponse.make(try await grants.resume(try context.id("grantId"), body, actor: actor))
        }
        routes.add(.post, "\(grantsPath)/{grantId}/revocation", .permission(.stopGrants)) {
            request, context, actor in
            let (body, _) = try await JSONBody.decode(GrantService.StateChange.self, request, context: context)
            return try JSONResponse.make(try await grants.revoke(try context.id("grantId"), body, actor: actor))
        }

        routes.add(.get, "\(Self.prefix)/feed-results", .permission(.superviseDisclosures)) { request, _, actor in
            try JSONResponse.make(
                Page(
                    items: try await caseWork.feedResults(
                        department: request.query("department"), outcome: try Self.outcome(request),
                        limit: try request.queryLimit(), actor: actor), next: nil))
        }
        let reviews = "\(Self.prefix)/review-items"
        routes.add(.get, reviews, .permission(.superviseDisclosures)) { request, _, actor in
            try JSONResponse.make(
                Page(
                    items: try await caseWork.reviewItems(
                        open: try request.queryFlag("open", default: true), limit: try request.queryLimit(),
                        actor: actor),
                    next: nil))
        }
        routes.add(.post, "\(reviews)/{itemId}/closure", .permission(.manageDepartments)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(CaseService.Closing.self, request, context: context)
            return try JSONResponse.make(
                try await caseWork.closeReviewItem(try context.id("itemId"), body, actor: actor))
        }
        let cases = "\(Self.prefix)/card-cases"
        routes.add(.get, cases, .permission(.workCardCases)) { request, _, actor in
            try JSONResponse.make(
                Page(
                    items: try await caseWork.cases(
                        open: try request.queryFlag("open", default: true), limit: try request.queryLimit(),
                        actor: actor),
                    next: nil))
        }
        routes.add(.post, "\(cases)/{caseId}/closure", .permission(.closeCardCases)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(CaseService.Closing.self, request, context: context)
            return try JSONResponse.make(try await caseWork.close(try context.id("caseId"), body, actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/reports/disclosures", .permission(.superviseDisclosures)) {
            request, _, actor in
            guard let fromText = request.query("from"), let from = CalendarDate(iso8601: fromText) else {
                throw CitizenCardError.invalid("from", "a date YYYY-MM-DD")
            }
            guard let untilText = request.query("until"), let until = CalendarDate(iso8601: untilText) else {
                throw CitizenCardError.invalid("until", "a date YYYY-MM-DD")
            }
            return try JSONResponse.make(try await disclosures.report(from: from, until: until, actor: actor))
        }
    }
}

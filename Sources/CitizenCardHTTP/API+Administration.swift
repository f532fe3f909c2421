import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation

extension API {
    struct EndRuleRequest: Codable { var effectiveUntil: CalendarDate }
    /// No body, or `{}`.
    struct EmptyBody: Codable {}

    func registerProduction(_ routes: EndpointRegistry) {
        let batches = "\(Self.prefix)/production-batches"
        routes.add(.post, batches, .permission(.manageProduction)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(
                ProductionService.BatchRequest.self, request, context: context)
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await production.createBatch(body, actor: actor, idempotency: key)
            }
        }
        routes.add(.get, batches, .permission(.manageProduction)) { request, _, actor in
            try JSONResponse.make(
                Page(items: try await production.batches(limit: try request.queryLimit(), actor: actor), next: nil))
        }
        routes.add(.get, "\(batches)/{batchId}", .permission(.manageProduction)) { _, context, actor in
            try JSONResponse.make(try await production.batch(try context.id("batchId"), actor: actor))
        }
        routes.add(.get, "\(batches)/{batchId}/personalisation", .permission(.manageProduction)) { _, context, actor in
            try JSONResponse.make(
                try await production.personalisationFile(try context.id("batchId"), actor: actor),
                headers: [.cacheControl: "no-store"])
        }
        routes.add(.post, "\(batches)/{batchId}/results", .permission(.manageProduction)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(
                ProductionService.ResultsRequest.self, request, context: context)
            let id: ProductionBatch.ID = try context.id("batchId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await production.recordResults(id, body, actor: actor, idempotency: key)
            }
        }
        routes.add(.post, "\(batches)/{batchId}/delivery", .permission(.manageProduction)) { request, context, actor in
            let (_, bytes) = try await JSONBody.decode(EmptyBody.self, request, context: context)
            let id: ProductionBatch.ID = try context.id("batchId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await production.deliver(id, actor: actor, idempotency: key)
            }
        }
    }

    func registerAdministration(_ routes: EndpointRegistry) {
        let fees = "\(Self.prefix)/fee-schedule"
        routes.add(.get, fees, .permission(.readCards)) { _, _, actor in
            try JSONResponse.make(try await administration.feeSchedule(actor: actor))
        }
        routes.add(.post, fees, .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AdministrationService.NewFee.self, request, context: context)
            return try JSONResponse.make(try await administration.addFee(body, actor: actor), status: .created)
        }
        let rules = "\(Self.prefix)/eligibility-rules"
        routes.add(.get, rules, .permission(.readPersons)) { _, _, actor in
            try JSONResponse.make(Page(items: try await administration.eligibilityRules(actor: actor), next: nil))
        }
        routes.add(.post, rules, .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AdministrationService.NewRule.self, request, context: context)
            return try JSONResponse.make(try await administration.addRule(body, actor: actor), status: .created)
        }
        routes.add(.post, "\(rules)/{ruleId}/end", .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(EndRuleRequest.self, request, context: context)
            return try JSONResponse.make(
                try await administration.endRule(
                    try context.id("ruleId"), effectiveUntil: body.effectiveUntil, actor: actor))
        }
        let outlets = "\(Self.prefix)/outlets"
        routes.add(.get, outlets, .permission(.readCards)) { _, _, actor in
            try JSONResponse.make(Page(items: try await administration.outlets(actor: actor), next: nil))
        }
        routes.add(.post, outlets, .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AdministrationService.NewOutlet.self, request, context: context)
            return try JSONResponse.make(try await administration.addOutlet(body, actor: actor), status: .created)
        }
        let operators = "\(Self.prefix)/operators"
        routes.add(.get, operators, .permission(.administer)) { _, _, actor in
            try JSONResponse.make(Page(items: try await administration.operators(actor: actor), next: nil))
        }
        routes.add(.post, operators, .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(AdministrationService.NewOperator.self, request, context: context)
            return try JSONResponse.make(try await administration.addOperator(body, actor: actor), status: .created)
        }
        routes.add(.patch, "\(operators)/{operatorId}", .permission(.administer)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(
                AdministrationService.OperatorChange.self, request, context: context)
            return try JSONResponse.make(
                try await administration.changeOperator(try context.id("operatorId"), body, actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/audit", .permission(.readAudit)) { request, _, actor in
            let filter = try auditFilter(request)
            let limit = try request.queryLimit(default: 100, max: 1000)
            let items = try await audit.entries(filter, limit: limit, actor: actor)
            return try JSONResponse.make(
                Page(items: items, next: items.count == limit ? items.last?.cursor : nil))
        }
        routes.add(.get, "\(Self.prefix)/audit/verification", .permission(.readAudit)) { _, _, actor in
            try JSONResponse.make(try await audit.verify(actor: actor))
        }
        routes.add(.post, "\(Self.prefix)/maintenance/due-transitions", .permission(.administer)) { _, _, actor in
            struct Result: Codable { var cardsChanged: Int }
            return try JSONResponse.make(Result(cardsChanged: try await cards.recordDueTransitions()))
        }
    }

    func auditFilter(_ request: Request) throws -> AuditFilter {
        func time(_ name: String) throws -> Timestamp? {
            guard let text = request.query(name) else { return nil }
            guard let value = Timestamp(iso8601: text) else { throw CitizenCardError.invalid(name, "an RFC 3339 time") }
            return value
        }
        var filter = AuditFilter(
            actor: request.query("actor"), action: request.query("action"), subject: request.query("subject"),
            from: try time("from"), until: try time("until"))
        if let text = request.query("personId") {
            guard let id = Person.ID(parsing: text) else { throw CitizenCardError.invalid("personId", "a UUID") }
            filter.personID = id
        }
        if let text = request.query("before") {
            guard let cursor = AuditCursor(text) else {
                throw CitizenCardError.invalid(
                    "before", "a cursor from an earlier page (its next or an entry's cursor)")
            }
            filter.before = cursor
        }
        return filter
    }
}

import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation

extension API {
    struct VerificationRequest: Codable { var decision: CardService.Decision; var reason: String? }
    struct IdentityRequest: Codable { var identity: CardService.IdentityCheck }
    struct PreLossRequest: Codable { var idNumber: String; var channel: LossReport.Channel }

    func registerCards(_ routes: EndpointRegistry) {
        let applications = "\(Self.prefix)/applications"
        routes.add(.post, applications, .permission(.counterService)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(CardService.Application.self, request, context: context)
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await cards.apply(body, actor: actor, idempotency: key)
            }
        }
        routes.add(.post, "\(applications)/bulk", .permission(.counterService)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(CardService.BulkApplication.self, request, context: context)
            return try JSONResponse.make(Page(items: try await cards.applyInBulk(body, actor: actor), next: nil))
        }
        let cardsPath = "\(Self.prefix)/cards"
        routes.add(.get, "\(cardsPath)/expiring", .permission(.readCards)) { request, _, actor in
            let days = try request.query("withinDays").map { text throws(CitizenCardError) in
                guard let value = Int(text) else { throw CitizenCardError.invalid("withinDays", "a number of days") }
                return value
            }
            let outlet = try request.query("outletId").map { text throws(CitizenCardError) in
                guard let id = Outlet.ID(parsing: text) else { throw CitizenCardError.invalid("outletId", "a UUID") }
                return id
            }
            let after = try request.query("after").map { text throws(CitizenCardError) in
                guard let id = Card.ID(parsing: text) else { throw CitizenCardError.invalid("after", "a card id") }
                return id
            }
            let limit = try request.queryLimit()
            let items = try await cards.expiringCards(
                withinDays: days ?? env.policy.renewalWindowDays, outletID: outlet, after: after, limit: limit,
                actor: actor)
            return try JSONResponse.make(Page(items: items, next: items.count == limit ? items.last?.id.rawValue : nil))
        }
        routes.add(.get, cardsPath, .permission(.readCards)) { request, context, actor in
            guard let text = request.query("state"), let state = CardState(rawValue: text) else {
                throw CitizenCardError.invalid(
                    "state", "one of \(CardState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let outlet = try request.query("outletId").map { text throws(CitizenCardError) in
                guard let id = Outlet.ID(parsing: text) else { throw CitizenCardError.invalid("outletId", "a UUID") }
                return id
            }
            let after = try request.query("after").map { text throws(CitizenCardError) in
                guard let id = Card.ID(parsing: text) else { throw CitizenCardError.invalid("after", "a card id") }
                return id
            }
            let limit = try request.queryLimit()
            let items = try await cards.cards(in: state, outletID: outlet, after: after, limit: limit, actor: actor)
            return try JSONResponse.make(Page(items: items, next: items.count == limit ? items.last?.id.rawValue : nil))
        }
        routes.add(.get, "\(cardsPath)/by-number/{cardNumber}", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                try await cards.card(number: context.parameters.get("cardNumber") ?? "", actor: actor))
        }
        routes.add(.get, "\(cardsPath)/{cardId}", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(try await cards.card(try context.id("cardId"), actor: actor))
        }
        routes.add(.get, "\(cardsPath)/{cardId}/events", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                Page(items: try await cards.events(of: try context.id("cardId"), actor: actor), next: nil))
        }
        routes.add(.post, "\(cardsPath)/{cardId}/verification", .permission(.verifyApplications)) {
            request, context, actor in
            let (body, bytes) = try await JSONBody.decode(VerificationRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await cards.verify(id, decision: body.decision, reason: body.reason, actor: actor, idempotency: key)
            }
        }
        addIdentityAction(routes, "issue") { id, identity, actor, key in
            try await cards.issue(id, identity: identity, actor: actor, idempotency: key)
        }
        addIdentityAction(routes, "loss") { id, identity, actor, key in
            try await cards.reportWrittenLoss(id, identity: identity, actor: actor, idempotency: key)
        }
        addIdentityAction(routes, "loss-withdrawal") { id, identity, actor, key in
            try await cards.withdrawLoss(id, identity: identity, actor: actor, idempotency: key)
        }
        routes.add(.post, "\(cardsPath)/{cardId}/pre-loss", .permission(.counterService)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(PreLossRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await cards.reportPreLoss(
                    id, idNumber: body.idNumber, channel: body.channel, actor: actor, idempotency: key)
            }
        }
        addSuccessorAction(routes, "reissue") { id, body, actor, key in
            try await cards.reissue(id, body, actor: actor, idempotency: key)
        }
        addSuccessorAction(routes, "replacement") { id, body, actor, key in
            try await cards.replace(id, body, actor: actor, idempotency: key)
        }
        addSuccessorAction(routes, "renewal") { id, body, actor, key in
            try await cards.renew(id, body, actor: actor, idempotency: key)
        }
        routes.add(.post, "\(cardsPath)/{cardId}/cancellation", .permission(.counterService)) {
            request, context, actor in
            let (body, bytes) = try await JSONBody.decode(
                CardService.CancellationRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await cards.cancel(id, body, actor: actor, idempotency: key)
            }
        }
        routes.add(.get, "\(cardsPath)/{cardId}/cancellation/document", .permission(.revealPersonalData)) {
            request, context, actor in
            try JSONResponse.make(
                try await cards.cancellationDocument(
                    try context.id("cardId"), purpose: request.query("purpose"), actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/receipts/{receiptId}", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(try await cards.receipt(try context.id("receiptId"), actor: actor))
        }
    }

    func addIdentityAction(
        _ routes: EndpointRegistry, _ name: String,
        _ run:
            @escaping @Sendable (Card.ID, CardService.IdentityCheck, Actor, IdempotencyKey?) async throws ->
            CardServiceResult
    ) {
        routes.add(.post, "\(Self.prefix)/cards/{cardId}/\(name)", .permission(.counterService)) {
            request, context, actor in
            let (body, bytes) = try await JSONBody.decode(IdentityRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await run(id, body.identity, actor, key)
            }
        }
    }

    func addSuccessorAction(
        _ routes: EndpointRegistry, _ name: String,
        _ run:
            @escaping @Sendable (Card.ID, CardService.SuccessorRequest, Actor, IdempotencyKey?) async throws ->
            CardServiceResult
    ) {
        routes.add(.post, "\(Self.prefix)/cards/{cardId}/\(name)", .permission(.counterService)) {
            request, context, actor in
            let (body, bytes) = try await JSONBody.decode(CardService.SuccessorRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await run(id, body, actor, key)
            }
        }
    }
}

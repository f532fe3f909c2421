import CounterAgentProtocol
import Hummingbird
import CitizenCardServices
import CitizenCardDomain
import Foundation

extension API {
    struct LoadCompletion: Codable { var tac: String }

    /// Online loads of e-purses: approve with the card's MAC1, complete with its TAC, or
    /// resolve from the card's state after an interruption.
    func registerPurse(_ routes: EndpointRegistry) {
        let cardLoads = "\(Self.prefix)/cards/{cardId}/loads"
        routes.add(.post, cardLoads, .permission(.counterService)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(PurseService.LoadRequest.self, request, context: context)
            let id: Card.ID = try context.id("cardId")
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await purse.approveLoad(id, body, actor: actor, idempotency: key)
            }
        }
        let closure = "\(Self.prefix)/cards/{cardId}/purse-closure"
        routes.add(.get, closure, .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                try await PurseClosureService(env).view(of: try context.id("cardId"), actor: actor))
        }
        routes.add(.post, "\(closure)/payout", .permission(.counterService)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(PurseClosureService.Payout.self, request, context: context)
            return try JSONResponse.make(
                try await PurseClosureService(env).payOut(try context.id("cardId"), body, actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/cards/{cardId}/pending-affairs", .permission(.readCards)) {
            _, context, actor in
            try JSONResponse.make(
                Page(items: try await cards.pendingAffairs(of: try context.id("cardId"), actor: actor), next: nil))
        }
        routes.add(.get, "\(Self.prefix)/purse-closures/due-refunds", .permission(.readCards)) { request, _, actor in
            let days = try request.query("olderThanDays").map { text throws(CitizenCardError) in
                guard let value = Int(text) else { throw CitizenCardError.invalid("olderThanDays", "a number of days") }
                return value
            }
            return try JSONResponse.make(
                Page(
                    items: try await PurseClosureService(env).dueRefunds(
                        olderThanDays: days ?? 0, limit: try request.queryLimit(), actor: actor), next: nil))
        }
        routes.add(.get, "\(Self.prefix)/cards/{cardId}/legacy-cards", .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                Page(items: try await LegacyService(env).cards(of: try context.id("cardId"), actor: actor), next: nil))
        }
        routes.add(.get, "\(Self.prefix)/legacy-cards/stop-list", .permission(.readLegacyStopList)) {
            request, _, actor in
            try JSONResponse.make(
                try await LegacyService(env).stopList(
                    after: request.query("after"), limit: try request.queryLimit(), actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/legacy-cards/summary", .permission(.readReports)) { _, _, actor in
            try JSONResponse.make(try await LegacyService(env).summary(actor: actor))
        }
        let suspense = "\(Self.prefix)/suspense"
        routes.add(.get, suspense, .permission(.readSuspense)) { _, _, actor in
            try JSONResponse.make(try await SuspenseService(env).overview(actor: actor))
        }
        routes.add(.post, "\(suspense)/decisions", .permission(.decideSuspense)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(
                SuspenseService.DecisionRequest.self, request, context: context)
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await SuspenseService(env).decide(body, actor: actor, idempotency: key)
            }
        }
        routes.add(.get, cardLoads, .permission(.readCards)) { _, context, actor in
            try JSONResponse.make(
                Page(items: try await purse.loads(of: try context.id("cardId"), actor: actor), next: nil))
        }
        let loads = "\(Self.prefix)/loads"
        routes.add(.get, loads, .permission(.readCards)) { request, _, actor in
            guard request.query("status") == PurseLoad.Status.approved.rawValue else {
                throw CitizenCardError.invalid("status", "approved (the loads still waiting for the card)")
            }
            return try JSONResponse.make(
                Page(items: try await purse.unresolvedLoads(limit: try request.queryLimit(), actor: actor), next: nil))
        }
        routes.add(.post, "\(loads)/{loadId}/completion", .permission(.counterService)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(LoadCompletion.self, request, context: context)
            return try JSONResponse.make(
                try await purse.completeLoad(try context.id("loadId"), tac: body.tac, actor: actor))
        }
        routes.add(.post, "\(loads)/{loadId}/resolution", .permission(.counterService)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(PurseService.CardState.self, request, context: context)
            return try JSONResponse.make(
                try await purse.resolveLoad(try context.id("loadId"), cardState: body, actor: actor))
        }
        // The counter agents' WebSocket (docs/counter-agent.md): an upgrade with a counter
        // operator's token is taken before the router; what reaches the router is not one.
        routes.add(.get, CounterAgentMessage.path, .permission(.counterService)) { _, _, actor in
            _ = try actor.counterOutlet()
            throw CitizenCardError(
                .malformedRequest, "this address takes a WebSocket upgrade from `citizencard counter-agent`",
                zh: "此地址只接受 citizencard counter-agent 的 WebSocket 连接")
        }
    }
}

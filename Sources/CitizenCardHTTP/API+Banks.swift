import BankProtocol
import CitizenCardDomain
import CitizenCardServices
import Foundation
import HTTPTypes
import Hummingbird

extension API {
    var banks: BankService { BankService(env) }

    struct ReconciliationRequest: Codable { var date: String }

    /// Partner banks (issue 20, docs/banks.md): the banks (the center), the notices a bank sends
    /// (signed by the bank, no bearer token), the outbox and the reconciliations.
    func registerBanks(_ routes: EndpointRegistry) {
        let base = "\(Self.prefix)/banks"
        routes.add(.get, base, .permission(.readBanks)) { _, _, actor in
            try JSONResponse.make(Page(items: try await banks.banks(actor: actor), next: nil))
        }
        routes.add(.post, base, .permission(.manageBanks)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(BankService.BankRegistration.self, request, context: context)
            return try await idempotent(request, context, actor, body: bytes, status: .created) { key in
                try await banks.register(body, actor: actor, idempotency: key)
            }
        }
        routes.add(.get, "\(base)/{code}", .permission(.readBanks)) { _, context, actor in
            try JSONResponse.make(try await banks.bank(context.parameters.get("code") ?? "", actor: actor))
        }
        routes.add(.patch, "\(base)/{code}", .permission(.manageBanks)) { request, context, actor in
            let (body, bytes) = try await JSONBody.decode(BankService.BankChange.self, request, context: context)
            return try await idempotent(request, context, actor, body: bytes) { key in
                try await banks.change(context.parameters.get("code") ?? "", body, actor: actor, idempotency: key)
            }
        }
        // A bank's own notice: authenticated by its signature over the body as sent.
        routes.add(.post, "\(base)/{code}/notices", .everyone) { request, context, _ in
            let bytes = try await JSONBody.bytes(request, context: context, limit: 64 * 1024)
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("application/json") else {
                throw CitizenCardError(.unsupportedMediaType, "send application/json")
            }
            var path = request.uri.path
            if let query = request.uri.query, !query.isEmpty { path += "?" + query }
            let message = BankService.SignedMessage(
                bankCodeHeader: request.headers[HTTPField.Name(BankSignature.codeHeader)!],
                timestamp: request.headers[HTTPField.Name(BankSignature.timestampHeader)!],
                signature: request.headers[HTTPField.Name(BankSignature.signatureHeader)!],
                method: request.method.rawValue, path: path, body: Data(bytes.readableBytesView))
            return try JSONResponse.make(
                try await banks.receive(bankCode: context.parameters.get("code") ?? "", message))
        }
        routes.add(.post, "\(base)/{code}/reconciliations", .permission(.manageBanks)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(ReconciliationRequest.self, request, context: context)
            return try JSONResponse.make(
                try await banks.reconcile(bankCode: context.parameters.get("code") ?? "", date: body.date, actor: actor)
            )
        }
        routes.add(.get, "\(Self.prefix)/bank-reconciliations", .permission(.readBanks)) { request, _, actor in
            let items = try await banks.reconciliations(
                bankCode: request.query("bank"), limit: try request.queryLimit(), actor: actor)
            return try JSONResponse.make(Page(items: items, next: nil))
        }
        let notices = "\(Self.prefix)/bank-notices"
        routes.add(.get, notices, .permission(.readBanks)) { request, _, actor in
            let state = try request.query("state").map { text throws(CitizenCardError) in
                guard let state = BankService.NoticeState(rawValue: text) else {
                    throw CitizenCardError.invalid("state", "pending, delivered or parked")
                }
                return state
            }
            let items = try await banks.notices(
                bankCode: request.query("bank"), state: state, limit: try request.queryLimit(), actor: actor)
            return try JSONResponse.make(Page(items: items, next: nil))
        }
        routes.add(.post, "\(notices)/{id}/retry", .permission(.manageBanks)) { _, context, actor in
            guard let text = context.parameters.get("id"), text.utf8.count <= 18, let id = Int64(text), id > 0 else {
                throw CitizenCardError(.notFound, "no such notice")
            }
            return try JSONResponse.make(try await banks.retry(noticeID: id, actor: actor))
        }
        routes.add(.get, "\(Self.prefix)/cards/{cardId}/bank-account", .permission(.readCards)) { _, context, actor in
            guard let account = try await banks.account(cardID: try context.id("cardId"), actor: actor) else {
                throw CitizenCardError.notFound("bank account")
            }
            return try JSONResponse.make(account)
        }
        routes.add(.get, "\(Self.prefix)/cards/{cardId}/bank-notices", .permission(.readBanks)) { _, context, actor in
            try JSONResponse.make(
                Page(items: try await banks.notices(cardID: try context.id("cardId"), actor: actor), next: nil))
        }
    }
}

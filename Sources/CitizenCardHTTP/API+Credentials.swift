import CitizenCardDomain
import CitizenCardServices
import Credentials
import Foundation
import HTTPTypes
import Hummingbird

extension API {
    var credentials: CredentialService { CredentialService(env) }

    struct VerificationBody: Codable {
        var code: String
        /// Record the code as used; a second use answers `replayed: true`.
        var markUsed: Bool?
    }

    /// What a verifier learns of a code: the verdict and, when it could be read, what the code
    /// itself says (the name masked), never more of the record.
    struct VerificationAnswer: Codable {
        struct Claims: Codable {
            var issuer: String
            var asn: String
            var cardNumber: String
            var maskedName: String
            var issuedAt: Timestamp
            var expiresAt: Timestamp
            var hasPortrait: Bool
        }
        var verdict: String
        var claims: Claims?
        var replayed: Bool
        var usedAt: Timestamp?
    }

    static func answer(_ outcome: CredentialService.OnlineVerification) -> VerificationAnswer {
        VerificationAnswer(
            verdict: outcome.verdict.rawValue,
            claims: outcome.claims.map {
                VerificationAnswer.Claims(
                    issuer: $0.issuer, asn: $0.asn, cardNumber: Masking.cardNumber($0.cardNumber),
                    maskedName: $0.maskedName, issuedAt: Timestamp(secondsSinceEpoch: $0.issuedAt),
                    expiresAt: Timestamp(secondsSinceEpoch: $0.expiresAt), hasPortrait: $0.portraitHash != nil)
            }, replayed: outcome.usedBefore != nil, usedAt: outcome.usedBefore?.at)
    }

    /// The electronic card: the published key list and status list (anyone, as verifiers
    /// offline fetch them), online verification, publication of the status list (the center).
    func registerCredentials(_ routes: EndpointRegistry) {
        let base = "\(Self.prefix)/credentials"
        routes.add(.get, "\(base)/keys", .everyone) { _, _, _ in
            Self.cose(try credentials.keyList(), type: "application/cose; cose-type=\"cose-sign1\"", version: nil)
        }
        routes.add(.get, "\(base)/status-list", .everyone) { _, _, _ in
            let list = try await credentials.currentStatusList()
            return Self.cose(Array(list.token), type: StatusListToken.type, version: list.version)
        }
        routes.add(.post, "\(base)/status-list/publications", .permission(.acquiring)) { _, _, actor in
            let list = try await credentials.publishStatusList(actor: actor)
            return try JSONResponse.make(
                StatusListStatus(
                    version: list.version, publishedAt: list.publishedAt, count: list.count, bytes: list.token.count),
                status: .created)
        }
        routes.add(.post, "\(base)/verification", .permission(.verifyCredentials)) { request, context, actor in
            let (body, _) = try await JSONBody.decode(VerificationBody.self, request, context: context)
            let outcome = try await credentials.verify(body.code, markUsed: body.markUsed ?? false, actor: actor)
            return try JSONResponse.make(Self.answer(outcome))
        }
    }

    struct StatusListStatus: Codable {
        var version: Int64
        var publishedAt: Timestamp
        var count: Int64
        var bytes: Int
    }

    static func cose(_ bytes: [UInt8], type: String, version: Int64?) -> Response {
        var headers: HTTPFields = [.contentType: type]
        if let version { headers[HTTPField.Name("Status-List-Version")!] = "\(version)" }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

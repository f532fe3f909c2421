import CitizenCardDomain
import CitizenCardServices
import Credentials
import Foundation
import Hummingbird

/// The electronic card's verifier page (issue 19): a desk scanner types the code into the field
/// (scanners act as keyboards, ending with Enter), and the page shows the verdict, what the code
/// says and the holder's portrait for the staff member to compare. Every check and every portrait
/// read is audited.
extension Web {
    func registerCredentialPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/credentials", .staff(.verifyCredentials)) { _, _, web in
            credentialsPage(web)
        }
        page(router, .post, "/console/credentials", .staff(.verifyCredentials)) { _, _, web in
            try await checkCode(web)
        }
    }

    static func attempt<T>(_ body: () async throws(CitizenCardError) -> T) async -> Result<T, CitizenCardError> {
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }

    func credentialsPage(
        _ web: WebRequest, _ result: [String: Any] = [:], status: HTTPResponse.Status = .ok
    )
        -> Response
    {
        pages.response(
            "credentials", title: web.text("nav.credentials"), result, web: web.at("/console/credentials"),
            status: status)
    }

    func checkCode(_ web: WebRequest) async throws -> Response {
        let actor = web.actor!
        let service = CredentialService(env)
        let code = (web.form["code"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let outcome: CredentialService.OnlineVerification
        switch await Self.attempt({ () async throws(CitizenCardError) in
            try await service.verify(code, markUsed: web.form["markUsed"] == "on", actor: actor)
        }) {
        case .success(let value): outcome = value
        case .failure(let error):
            return credentialsPage(web, ["error": message(error, web)], status: Problem.status(of: error.code))
        }
        var values: [String: Any] = [
            "checked": true, "valid": outcome.verdict == .valid && outcome.usedBefore == nil,
            "verdictCode": outcome.verdict.rawValue,
            "verdict": web.text("credential.verdict.\(outcome.verdict.rawValue)"),
        ]
        if let used = outcome.usedBefore {
            values["replayed"] = WebFormat.time(used.at)
        }
        if let claims = outcome.claims {
            values["claims"] = [
                "issuer": claims.issuer, "cardNumber": Masking.cardNumber(claims.cardNumber),
                "maskedName": claims.maskedName,
                "expiresAt": WebFormat.time(Timestamp(secondsSinceEpoch: claims.expiresAt)),
            ]
            // The portrait only for a code that is valid now, and only if the code carries one.
            if outcome.verdict == .valid, let cardID = outcome.cardID, claims.portraitHash != nil {
                let portrait = try await service.portrait(cardID: cardID, claims: claims, actor: actor)
                values["portrait"] =
                    "data:\(portrait.mediaType);base64,\(portrait.bytes.base64EncodedString())"
                values["portraitMismatch"] = !portrait.matches
            }
        }
        return credentialsPage(web, values)
    }
}

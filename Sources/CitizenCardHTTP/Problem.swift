import Foundation
public import Hummingbird
public import CitizenCardDomain
import CitizenCardServices
import NIOCore

/// RFC 9457 problem details for every error the API returns, with the stable `code` and the
/// message in English and Chinese. Never carries personal data: details come from
/// `CitizenCardError`, whose texts are written without values.
public struct Problem: Codable, Sendable {
    public var type: String
    public var title: String
    public var status: Int
    public var code: String
    public var detail: String?
    public var field: String?
    public var instance: String?
    public var en: Message
    public var zhHans: Message

    public struct Message: Codable, Sendable {
        public var title: String
        public var detail: String?
    }

    enum CodingKeys: String, CodingKey {
        case type, title, status, code, detail, field, instance, en
        case zhHans = "zh-Hans"
    }

    public init(_ error: CitizenCardError, instance: String?, chinese: Bool) {
        let status = Self.status(of: error.code)
        self.type = "https://citizencard.example/problems/\(error.code.rawValue)"
        self.status = Int(status.code)
        self.code = error.code.rawValue
        self.field = error.field
        self.instance = instance
        self.en = Message(title: error.code.title, detail: error.detail)
        self.zhHans = Message(title: error.code.titleZh, detail: error.detailZh ?? error.detail)
        self.title = chinese ? zhHans.title : en.title
        self.detail = chinese ? zhHans.detail : en.detail
    }

    /// The HTTP status of each code; the only place where codes meet HTTP.
    public static func status(of code: CitizenCardError.Code) -> HTTPResponse.Status {
        switch code {
        case .malformedRequest, .unknownField: .badRequest
        case .methodNotAllowed: .methodNotAllowed
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unauthenticated, .invalidCredentials, .bankSignatureInvalid: .unauthorized
        case .tooManyAttempts: .tooManyRequests
        case .forbidden, .wrongOutlet, .grantInactive, .grantSuspended: .forbidden
        case .purposeRequired: .badRequest
        case .notFound: .notFound
        case .invalidField, .invalidResidentID, .invalidPhoto, .notEligible, .personDeceased, .photoRequired,
            .identityMismatch, .relativeRequired, .feeNotScheduled, .feeMismatch, .idempotencyKeyReused,
            .insufficientBalance, .balanceLimit, .batchRefused, .bankNotActive:
            .unprocessableContent
        case .personExists, .applicationExists, .liveCardExists, .successorExists, .transitionNotAllowed, .notYetDue,
            .batchNotOpen, .notClosable, .cardNotUsable, .affairsPending, .cardMismatch, .conflict:
            .conflict
        case .unavailable, .bankUnavailable, .readerUnavailable: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    public func response(headers extra: HTTPFields = [:]) -> Response {
        let data = (try? APIJSON.encoder.encode(self)) ?? Data()
        var headers = extra
        headers[.contentType] = "application/problem+json; charset=utf-8"
        if status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        return Response(
            status: HTTPResponse.Status(code: status), headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension CitizenCardError: HTTPResponseError {
    public var status: HTTPResponse.Status { Problem.status(of: code) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Problem(self, instance: request.uri.path, chinese: request.prefersChinese).response()
    }
}

extension Request {
    /// Chinese unless the client prefers English (Accept-Language); Chinese is the default.
    public var prefersChinese: Bool {
        guard let value = headers[.acceptLanguage]?.lowercased() else { return true }
        let first = value.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        return !first.hasPrefix("en")
    }
}

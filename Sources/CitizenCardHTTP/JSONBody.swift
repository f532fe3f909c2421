import Foundation
import Hummingbird
import CitizenCardDomain
import CitizenCardServices
import NIOCore

/// Strict JSON request bodies: the right content type, at most `maxUploadSize` bytes, valid JSON
/// of the expected shape, and no field the operation does not take. Error texts name fields,
/// never the values sent.
enum JSONBody {
    /// The body, at most `limit` bytes (default `maxUploadSize`). A declared `Content-Length`
    /// over the limit is refused before a byte of the body is read (a body that breaks HTTP's
    /// framing, such as a malformed chunk, is 400 by `ProblemMiddleware`).
    static func bytes(_ request: Request, context: AppContext, limit: Int? = nil) async throws -> ByteBuffer {
        let limit = limit ?? context.maxUploadSize
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit {
            throw CitizenCardError(.bodyTooLarge, "at most \(limit) bytes")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw CitizenCardError(.bodyTooLarge, "at most \(limit) bytes")
        }
    }

    static func decode<T: Codable>(_ type: T.Type, from buffer: ByteBuffer, request: Request) throws -> T {
        let data = Data(buffer.readableBytesView)
        if !data.isEmpty {
            let contentType = request.headers[.contentType]?.lowercased() ?? ""
            guard contentType.hasPrefix("application/json") else {
                throw CitizenCardError(.unsupportedMediaType, "send application/json")
            }
            if let charset = Self.charset(contentType), charset != "utf-8", charset != "utf8" {
                throw CitizenCardError(.unsupportedMediaType, "send application/json in UTF-8")
            }
            try StrictJSON.check(Array(buffer.readableBytesView))
        }
        let json = data.isEmpty ? Data("{}".utf8) : data
        let tree: Any
        do {
            tree = try JSONSerialization.jsonObject(with: json, options: [.fragmentsAllowed])
        } catch {
            throw CitizenCardError(.malformedRequest, "the body is not valid JSON", zh: "请求内容不是有效的JSON")
        }
        let value: T
        do {
            value = try APIJSON.decoder.decode(T.self, from: json)
        } catch let error as DecodingError {
            throw describe(error)
        }
        if let unknown = unknownField(
            in: tree, known: try JSONSerialization.jsonObject(with: APIJSON.encoder.encode(value)))
        {
            throw CitizenCardError(
                .unknownField, field: unknown, "this operation does not take '\(unknown)'", zh: "此操作不接受字段'\(unknown)'")
        }
        return value
    }

    static func decode<T: Codable>(
        _ type: T.Type, _ request: Request, context: AppContext, limit: Int? = nil
    ) async throws -> (T, ByteBuffer) {
        let buffer = try await bytes(request, context: context, limit: limit)
        return (try decode(type, from: buffer, request: request), buffer)
    }

    /// The `charset` parameter of a content type, lowercased and unquoted.
    static func charset(_ contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces) == "charset" else { continue }
            return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    /// The first key path present in `sent` but absent from `known` (the decoded value encoded
    /// again). A key sent as `null` for an optional field is not reported.
    static func unknownField(in sent: Any, known: Any, path: String = "") -> String? {
        if let sent = sent as? [String: Any] {
            let known = known as? [String: Any] ?? [:]
            for key in sent.keys.sorted() {
                let keyPath = path.isEmpty ? key : "\(path).\(key)"
                guard let knownValue = known[key] else {
                    if sent[key] is NSNull { continue }
                    return keyPath
                }
                if let found = unknownField(in: sent[key]!, known: knownValue, path: keyPath) { return found }
            }
        } else if let sent = sent as? [Any], let known = known as? [Any] {
            for (index, element) in sent.enumerated() where index < known.count {
                if let found = unknownField(in: element, known: known[index], path: "\(path)[\(index)]") {
                    return found
                }
            }
        }
        return nil
    }

    static func describe(_ error: DecodingError) -> CitizenCardError {
        func name(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(
                in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            let field = name(context.codingPath + [key])
            return CitizenCardError(.invalidField, field: field, "'\(field)' is required", zh: "缺少字段\(field)")
        case .typeMismatch(let type, let context):
            let field = name(context.codingPath)
            return CitizenCardError(
                .invalidField, field: field, "'\(field)' has the wrong type (expected \(typeName(type)))",
                zh: "字段\(field)类型错误")
        case .valueNotFound(_, let context):
            let field = name(context.codingPath)
            return CitizenCardError(.invalidField, field: field, "'\(field)' must not be null", zh: "字段\(field)不能为空")
        case .dataCorrupted(let context):
            let field = name(context.codingPath)
            if field.isEmpty { return CitizenCardError(.malformedRequest, "the body is not valid JSON") }
            return CitizenCardError(
                .invalidField, field: field, "'\(field)' has an invalid value", zh: "字段\(field)的值无效")
        @unknown default:
            return CitizenCardError(.malformedRequest)
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Bool.Type: "boolean"
        case is Int.Type, is Int64.Type: "integer"
        case is [Any].Type: "array"
        default: "object"
        }
    }
}

/// Responses in the API's JSON conventions.
enum JSONResponse {
    static func make(
        _ value: some Encodable, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]
    ) throws
        -> Response
    {
        let data = try APIJSON.encoder.encode(value)
        return raw(data, status: status, headers: extra)
    }

    static func raw(_ data: Data, status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A list page: the items and the cursor for the next page, if there may be one.
struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    var items: [Item]
    var next: String?
}

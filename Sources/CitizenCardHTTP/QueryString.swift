import Hummingbird
import CitizenCardDomain
import Foundation

/// The query string as HTML forms and `curl --data-urlencode` write it: `name=value` pairs split
/// at `&`, `+` for a space, then percent-decoding to UTF-8. Hummingbird's own parser keeps `+`
/// as `+` (so a purpose `counter+service` was stored with the plus) and passes invalid
/// percent-escapes through undecoded.
struct QueryString: Sendable {
    var pairs: [(name: String, value: String)] = []

    /// Parses leniently: an escape that does not decode leaves the pair out. `check` is what
    /// refuses such a query at the edge.
    init(_ raw: Substring?) {
        pairs = (try? Self.parse(raw)) ?? []
    }

    func get(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// The pairs of `raw`, or 400 `malformed_request` for a percent-escape that is not UTF-8 and
    /// 422 `invalid_field` (the parameter named) for a value that breaks the text rule (one
    /// line, no NUL, no control or bidirectional formatting character).
    static func parse(_ raw: Substring?) throws(CitizenCardError) -> [(name: String, value: String)] {
        guard let raw, !raw.isEmpty else { return [] }
        var pairs: [(name: String, value: String)] = []
        for item in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else {
                throw CitizenCardError(.malformedRequest, "the query string is not percent-encoded UTF-8")
            }
            if TextRule.violation(in: name, kind: .line) != nil {
                throw CitizenCardError(
                    .malformedRequest, "a query parameter's name holds characters that are not allowed")
            }
            try TextRule.check(value, field: name, kind: .line)
            pairs.append((name, value))
        }
        return pairs
    }

    static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}

/// Refuses a request whose query string breaks `QueryString.parse`'s rules, before any route
/// reads it.
struct QueryCheckMiddleware: RouterMiddleware {
    typealias Context = AppContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        _ = try QueryString.parse(request.uri.query.map { $0[...] })
        return try await next(request, context)
    }
}

extension Request {
    /// A query parameter, `+` read as a space (`QueryString`).
    func query(_ name: String) -> String? { QueryString(uri.query.map { $0[...] }).get(name) }
}

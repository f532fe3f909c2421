import Hummingbird
import HTTPTypes
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The proxies whose forwarding header the server believes (`citizencard serve
/// --trusted-proxy`, the configuration's `trustedProxies`): addresses or CIDR networks, IPv4 or
/// IPv6. Behind a TLS-terminating proxy every connection comes from the proxy, so the log-in
/// throttles would count every client as one; from a trusted proxy the client is the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy. From anyone
/// else the header is ignored: a client cannot choose the address it is counted under.
public struct TrustedProxies: Sendable, Hashable {
    struct Network: Sendable, Hashable {
        var bytes: [UInt8]
        var prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefixLength
            for (have, want) in zip(address, bytes) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                guard have & mask == want & mask else { return false }
                remaining -= bits
            }
            return true
        }
    }

    let networks: [Network]

    public static let none = TrustedProxies(networks: [])

    init(networks: [Network]) { self.networks = networks }

    /// Parses `192.0.2.10`, `10.0.0.0/8`, `::1`, `fd00::/8`; throws naming the entry it cannot read.
    public init(parsing entries: [String]) throws(TrustedProxyError) {
        var networks: [Network] = []
        for entry in entries {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1)
            guard let first = parts.first, let bytes = Self.bytes(of: String(first)) else {
                throw TrustedProxyError(entry: entry)
            }
            let length = parts.count == 2 ? Int(parts[1]) : bytes.count * 8
            guard let length, (0...(bytes.count * 8)).contains(length) else { throw TrustedProxyError(entry: entry) }
            networks.append(Network(bytes: bytes, prefixLength: length))
        }
        self.networks = networks
    }

    public var isEmpty: Bool { networks.isEmpty }

    func trusts(_ address: String) -> Bool {
        guard let bytes = Self.bytes(of: address) else { return false }
        return networks.contains { $0.contains(bytes) }
    }

    /// The client's address: `peer`, unless `peer` is a trusted proxy and `forwardedFor` names
    /// addresses; then the right-most of those that is not a trusted proxy (the left-most when
    /// all are). An entry that is not an IP address ends the walk at the last good one.
    func client(peer: String?, forwardedFor: String?) -> String? {
        guard let peer, trusts(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            guard let bytes = Self.bytes(of: hop) else { break }
            client = Self.text(bytes)
            if !networks.contains(where: { $0.contains(bytes) }) { break }
        }
        return client
    }

    /// 4 or 16 bytes of an IPv4 or IPv6 address in text; nil for anything else.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// The canonical text of an address (so that one client is one key however it was written).
    static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    }
}

public struct TrustedProxyError: Error, CustomStringConvertible {
    public var entry: String
    public var description: String {
        "trusted proxy '\(entry)' is not an IP address or network (192.0.2.10, 10.0.0.0/8, fd00::/8)"
    }
}

/// Sets `AppContext.clientAddress`: the connection's peer, or behind a trusted proxy the client
/// named by `X-Forwarded-For` (`TrustedProxies.client`).
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = AppContext
    let trusted: TrustedProxies

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        let forwarded = request.headers[values: .xForwardedFor]
        context.clientAddress = trusted.client(
            peer: context.remoteAddress?.ipAddress,
            forwardedFor: forwarded.isEmpty ? nil : forwarded.joined(separator: ","))
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}

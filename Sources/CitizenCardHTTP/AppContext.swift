public import Hummingbird
public import NIOCore
public import CitizenCardServices

/// The request context: Hummingbird's core storage plus the authenticated actor.
public struct AppContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `AuthenticationMiddleware` when the request carries a valid bearer token.
    public var actor: Actor?
    /// The bearer token as presented (for log-out).
    public var token: String?

    /// The peer of the connection: the client, or the proxy in front of the server.
    public let remoteAddress: SocketAddress?
    /// The client's address as the log-in throttles count it: the peer, or from a trusted
    /// proxy the client it forwards for (`ClientAddressMiddleware`).
    public var clientAddress: String?

    /// The connection, for the client certificate of a mutual-TLS connection.
    public let channel: (any Channel)?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// JSON bodies are at most 1 MiB; photo uploads are read separately with their own limit.
    public var maxUploadSize: Int { 1024 * 1024 }
}

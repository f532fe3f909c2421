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

    /// The client's address (the log-in throttle counts failures per address too).
    public let remoteAddress: SocketAddress?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }

    /// JSON bodies are at most 1 MiB; photo uploads are read separately with their own limit.
    public var maxUploadSize: Int { 1024 * 1024 }
}

import CitizenCardDomain
import CitizenCardServices
import CounterAgentProtocol
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The server's HTTP channel: HTTP/1.1 with the counter agents' WebSocket upgrade
/// (`GET /api/v1/counter-agent` with the operator's bearer token), behind `FirstHeadGuard` and
/// with `EdgeGuardHandler` on every plain request.
enum CounterAgentEndpoint {
    static func serverBuilder(
        agents: CounterAgentHub, auth: AuthService, bodyMax: Int, requestTimeoutSeconds: Int64,
        idleTimeoutSeconds: Int64
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            GuardedChildChannel(
                base: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(
                        http1: .init(
                            additionalChannelHandlers: [
                                EdgeGuardHandler(bodyMax: bodyMax, requestSeconds: requestTimeoutSeconds)
                            ],
                            idleTimeout: .seconds(idleTimeoutSeconds)),
                        ws: .init(
                            maxFrameSize: 2 * CounterAgentMessage.maxBytes, autoPing: .enabled(timePeriod: .seconds(30))
                        )
                    ),
                    shouldUpgrade: { request, _, _ in await upgrade(request, agents: agents, auth: auth) }),
                headSeconds: idleTimeoutSeconds)
        }
    }

    /// Upgrades a request for the agent path whose bearer token is a counter operator's session;
    /// any other request goes on to the router (which answers the path itself with 401, 403 or 400).
    static func upgrade(
        _ request: HTTPRequest, agents: CounterAgentHub, auth: AuthService
    ) async -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> {
        guard request.method == .get, request.path.map({ String($0.prefix { $0 != "?" }) }) == CounterAgentMessage.path,
            let header = request.headerFields[.authorization], header.lowercased().hasPrefix("bearer ")
        else { return .dontUpgrade }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard (1...256).contains(token.count), let actor = try? await auth.authenticate(token: token),
            (try? actor.require(.counterService)) != nil, actor.outletID != nil, actor.operatorID != nil
        else { return .dontUpgrade }
        return .upgrade([:]) { inbound, outbound, _ in
            await agents.serve(actor: actor, inbound: inbound, outbound: outbound)
        }
    }
}

/// A child channel with `FirstHeadGuard` in front of `base`'s handlers.
struct GuardedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let headSeconds: Int64

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(FirstHeadGuard(seconds: headSeconds))
        }
        .flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }
}

public import Hummingbird
public import CitizenCardServices
public import Logging
import CitizenCardDomain
import Storage
import Foundation
import ServiceLifecycle
import HummingbirdCore
import HummingbirdTLS
public import Prometheus

/// Builds the HTTP application: the JSON API, the OpenAPI document, health, and the background
/// job that records due time-based transitions.
public enum CitizenCardApp {
    /// The router with every route and middleware, and the list of endpoints as registered.
    /// - Parameter metrics: the registry `/metrics` shows (Prometheus text format); the metrics
    ///   system must be bootstrapped with a factory writing into it.
    /// - Parameter secureCookies: the pages' cookies get `Secure` (serve them over TLS, e.g.
    ///   behind a TLS-terminating proxy).
    /// - Parameter trustedProxies: whose `X-Forwarded-For` names the client (the log-in throttles).
    /// - Parameter agents: the counter agents connected to this server (a new, empty hub if nil).
    public static func router(
        env: ServiceEnvironment, metrics: PrometheusCollectorRegistry? = nil, secureCookies: Bool = false,
        trustedProxies: TrustedProxies = .none, agents: CounterAgentHub? = nil
    ) -> (
        Router<AppContext>, [Endpoint]
    ) {
        let router = Router(context: AppContext.self)
        let routes = RouteTable()
        router.add(middleware: ClientAddressMiddleware(trusted: trustedProxies))
        router.add(middleware: AccessLogMiddleware())
        router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: secureCookies))
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware(routes: routes))
        router.add(middleware: QueryCheckMiddleware())
        router.add(middleware: ClientCertificateMiddleware(departments: DepartmentService(env)))
        router.add(middleware: AuthenticationMiddleware(auth: AuthService(env)))
        let registry = EndpointRegistry(router: router, routes: routes)
        registry.add(.get, "/health", .everyone) { _, _, _ in
            try JSONResponse.make(try await Health.check(env))
        }
        registry.add(.get, "/openapi.yaml", .everyone) { _, _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try OpenAPIDocument.bytes())))
        }
        registry.add(.get, "/metrics", .everyone) { _, _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics?.emitToBuffer() ?? [])))
        }
        let throttle = LoginThrottle(clock: env.clock, logger: env.logger)
        let agents = agents ?? CounterAgentHub(logger: env.logger)
        API(env: env, throttle: throttle).register(registry)
        Web(
            env: env, agents: agents, pages: PageRenderer(), throttle: throttle,
            portalThrottle: PortalThrottle(clock: env.clock, logger: env.logger), secureCookies: secureCookies,
            routes: routes
        )
        .register(router)
        return (router, registry.endpoints)
    }

    /// Whether the pages have a text for this key, in both languages (templates' `{{t.key}}`).
    public static func hasPageText(_ key: String) -> Bool { WebStrings.strings[key] != nil }

    /// Routes of the web pages (not the JSON API, not in openapi.yaml).
    public static func isPage(_ path: String) -> Bool {
        path == "/" || ["/console", "/portal", "/static/", "/lang/"].contains { path.hasPrefix($0) }
    }

    /// A connection with no complete request head this long after it opened or after its last
    /// answer is closed: idle keep-alive connections, and clients that never finish their head.
    public static let idleTimeoutSecondsDefault: Int64 = 30
    /// A request's body must have arrived this long after its head.
    public static let requestTimeoutSecondsDefault: Int64 = 60
    /// The largest body any route takes (a terminal's batch upload, a page's form with a photo
    /// or a CSV); a declared length over it is refused before the body is read.
    public static let bodyMax = 4 * 1024 * 1024

    public static func application(
        env: ServiceEnvironment, host: String, port: Int, logger: Logger, sweepIntervalSeconds: Int = 60,
        metrics: PrometheusCollectorRegistry? = nil, secureCookies: Bool = false,
        trustedProxies: TrustedProxies = .none,
        idleTimeoutSeconds: Int64 = idleTimeoutSecondsDefault,
        requestTimeoutSeconds: Int64 = requestTimeoutSecondsDefault, tls: ServerTLS? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let agents = CounterAgentHub(logger: logger)
        let (router, _) = router(
            env: env, metrics: metrics, secureCookies: secureCookies || tls != nil, trustedProxies: trustedProxies,
            agents: agents)
        let http = CounterAgentEndpoint.serverBuilder(
            agents: agents, auth: AuthService(env), bodyMax: bodyMax, requestTimeoutSeconds: requestTimeoutSeconds,
            idleTimeoutSeconds: idleTimeoutSeconds)
        return Application(
            router: router,
            server: try tls.map { try .tls(http, tlsConfiguration: $0.configuration) } ?? http,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "CitizenCard"),
            services: [
                DueTransitionsService(
                    cards: CardService(env), hotlist: HotlistService(env), purses: PurseClosureService(env),
                    intervalSeconds: sweepIntervalSeconds,
                    logger: logger),
                BankOutboxService(sender: BankOutboxSender(env)),
            ],
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

enum Health {
    struct Status: Codable {
        var status: String
        var database: String
        var backend: String
        var databaseMilliseconds: Double
        var time: Timestamp
        /// With several database hosts: the primary, and the switches to a new one.
        var primary: String?
        var primarySwitches: Int?
        var lastPrimarySwitchSeconds: Double?
    }

    /// 200 while a trivial query answers; 503 `unavailable` otherwise (load balancers take the
    /// instance out).
    static func check(_ env: ServiceEnvironment) async throws -> Status {
        let start = ContinuousClock.now
        try await env.checkDatabase()
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var status = Status(
            status: "ok", database: "ok", backend: env.backendName,
            databaseMilliseconds: (milliseconds * 1000).rounded() / 1000,
            time: env.clock.now())
        if let cluster = env.store as? any PrimaryReporting, let primary = cluster.primaryDescription {
            status.primary = primary
            status.primarySwitches = cluster.primarySwitches
            status.lastPrimarySwitchSeconds = cluster.lastPrimarySwitchSeconds
        }
        return status
    }
}

enum OpenAPIDocument {
    static func bytes() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml", subdirectory: "Resources")
        else {
            throw CitizenCardError(.internal, "openapi.yaml is not bundled")
        }
        return try Data(contentsOf: url)
    }
}

/// Records lapsed pre-losses and expiries every `intervalSeconds`, so that a card stops being
/// usable at its due time even if nobody touches it, closes the e-purses of cards that left
/// service a waiting period ago, then publishes a hotlist version when the listed cards changed
/// (a loss reaches terminals at their next sign-in, within a minute).
struct DueTransitionsService: Service {
    let cards: CardService
    let hotlist: HotlistService
    let purses: PurseClosureService
    let intervalSeconds: Int
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    do {
                        let changed = try await cards.recordDueTransitions()
                        if changed > 0 { logger.info("recorded due transitions", metadata: ["cards": "\(changed)"]) }
                    } catch {
                        logger.warning("due transitions failed", metadata: ["error": "\(error)"])
                    }
                    do {
                        let closed = try await purses.closeDue()
                        if closed > 0 { logger.info("closed purses", metadata: ["cards": "\(closed)"]) }
                    } catch {
                        logger.warning("purse closure failed", metadata: ["error": "\(error)"])
                    }
                    do {
                        let publication = try await hotlist.publish(actor: .system)
                        if publication.added + publication.removed > 0 {
                            logger.info(
                                "published hotlist",
                                metadata: [
                                    "version": "\(publication.version)", "added": "\(publication.added)",
                                    "removed": "\(publication.removed)",
                                ])
                        }
                    } catch {
                        logger.warning("hotlist publication failed", metadata: ["error": "\(error)"])
                    }
                    try await Task.sleep(for: .seconds(intervalSeconds))
                }
            }
        } catch is CancellationError {
            return
        }
    }
}

/// Sends the notices of the bank outbox while the server runs (docs/banks.md "The outbox").
struct BankOutboxService: Service {
    let sender: BankOutboxSender

    func run() async throws {
        await cancelWhenGracefulShutdown { await sender.run() }
    }
}

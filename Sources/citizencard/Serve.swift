import ArgumentParser
import BankSimulator
import CitizenCardHTTP
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation
import Hummingbird
import Metrics
import Prometheus

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the server; on first start create the database, the keys and a demo city.")

    @OptionGroup var store: StoreOptions

    @Option(help: "Address to listen on. Env: CITIZENCARD_HOST.")
    var host: String?

    @Option(help: "Port to listen on (0: any free port). Env: CITIZENCARD_PORT.")
    var port: Int?

    @Flag(
        help:
            "Mark the pages' cookies Secure: set it when browsers reach the server over HTTPS (a TLS-terminating proxy). Env: CITIZENCARD_SECURE_COOKIES=1."
    )
    var secureCookies = false

    @Option(
        name: .customLong("trusted-proxy"),
        help: ArgumentHelp(
            "A proxy (address or CIDR network) whose X-Forwarded-For header names the client; repeat for several. Env: CITIZENCARD_TRUSTED_PROXIES (comma-separated). Default: the configuration's trustedProxies, else none.",
            valueName: "address-or-network"))
    var trustedProxies: [String] = []

    @Option(help: "Close a connection that sends no complete request head for this many seconds.")
    var idleTimeout: Int64 = CitizenCardApp.idleTimeoutSecondsDefault

    @Option(
        help:
            "Close a connection whose request body has not arrived this many seconds after its head, unless it still arrives at 16 KiB/s or more."
    )
    var requestTimeout: Int64 = CitizenCardApp.requestTimeoutSecondsDefault

    @Option(help: "Serve HTTPS with this certificate chain (PEM); needs --tls-key.")
    var tlsCertificate: String?

    @Option(help: "The private key (PEM) of --tls-certificate.")
    var tlsKey: String?

    @Option(
        help:
            "Accept department clients by certificate: a client certificate signed by this CA (PEM) logs in as the department client registered with its subject (docs/departments.md). Needs --tls-certificate."
    )
    var tlsClientCa: String?

    @Flag(help: "Do not create the demo city on an empty database.")
    var noDemo = false

    @Option(help: "Residents in the demo city.")
    var demoPersons = 300

    @Flag(help: "Do not run the demo city's partner bank (a bank simulator in this process, docs/banks.md).")
    var noDemoBank = false

    func validate() throws {
        guard (1...3600).contains(idleTimeout), (1...3600).contains(requestTimeout) else {
            throw ValidationError("--idle-timeout and --request-timeout are 1-3600 seconds")
        }
    }

    func run() async throws {
        let logger = makeLogger(label: "citizencard")
        let metrics = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: metrics))
        let runtime = try await Runtime.open(store, logger: logger)
        let environment = ProcessInfo.processInfo.environment
        let host = host ?? environment["CITIZENCARD_HOST"] ?? "127.0.0.1"
        let port =
            try port ?? environment["CITIZENCARD_PORT"].map { text in
                guard let value = Int(text) else { throw ValidationError("CITIZENCARD_PORT must be a number") }
                return value
            } ?? 8080
        if runtime.createdKeys {
            say(
                "Created a new key file \(runtime.dataDirectory.appendingPathComponent(runtime.configuration.keyFile).path): back it up; without it the personal data cannot be read."
            )
        }
        if !runtime.addedIssuerKeys.isEmpty {
            say(
                "Added \(runtime.addedIssuerKeys.map(\.description).joined(separator: ", ")) to the issuer keyring \(IssuerKeyFile.file(in: runtime.dataDirectory).path) (written before these key types existed): back it up again; cards personalised before hold no such key."
            )
        }
        if runtime.createdIssuerKeys {
            say(
                "Created a new issuer keyring \(IssuerKeyFile.file(in: runtime.dataDirectory).path): back it up; without it no card's loads or TACs can be checked."
            )
        }
        if runtime.createdCredentialKeys {
            say(
                "Created the city's credential keys \(CredentialKeyFile.file(in: runtime.dataDirectory).path): back them up; verifiers hold the key-list key's public key."
            )
        }
        let proxies: TrustedProxies
        do {
            let listed =
                !trustedProxies.isEmpty
                ? trustedProxies
                : environment["CITIZENCARD_TRUSTED_PROXIES"].map {
                    $0.split(separator: ",").map(String.init).filter {
                        !$0.trimmingCharacters(in: .whitespaces).isEmpty
                    }
                } ?? runtime.configuration.trustedProxies ?? []
            proxies = try TrustedProxies(parsing: listed)
        } catch {
            throw ValidationError(error.description)
        }
        AuthService(runtime.env).prepareDecoy()
        let sealed = try await CardService(runtime.env).sealLegacyCancellationDocuments()
        if sealed > 0 { say("Sealed the document references of \(sealed) cancelled card(s) stored in clear.") }
        var demo: DemoCity.Summary? = nil
        let city = DemoCity(runtime.env)
        let creatingCity = try await city.exists() == false && !noDemo
        var startedBank: BankSimulatorServer? = nil
        if !noDemoBank {
            do {
                startedBank = try await DemoBank.start(runtime, creatingCity: creatingCity)
            } catch {
                say("The demo bank did not start (\(error)); the city works without it.")
            }
        }
        let demoBank = startedBank
        if creatingCity {
            say("Creating the demo city of \(runtime.configuration.city.name) in \(runtime.dataDirectory.path) …")
            demo = try await city.create(personCount: demoPersons) { say("  \($0)") }
        }
        let logins = demo?.logins
        let portalCard = demo?.portalCardNumber
        let description = runtime.databaseDescription
        var tls: ServerTLS? = nil
        if let certificate = tlsCertificate {
            guard let key = tlsKey else { throw ValidationError("--tls-certificate needs --tls-key") }
            do {
                tls = try ServerTLS(certificateFile: certificate, keyFile: key, clientCAFile: tlsClientCa)
            } catch {
                throw CommandFailure(description: "TLS: cannot use the certificate, key or client CA: \(error)")
            }
        } else if tlsKey != nil || tlsClientCa != nil {
            throw ValidationError("--tls-key and --tls-client-ca need --tls-certificate")
        }
        let scheme = tls == nil ? "http" : "https"
        let app = try CitizenCardApp.application(
            env: runtime.env, host: host, port: port, logger: logger,
            sweepIntervalSeconds: runtime.configuration.sweepIntervalSeconds, metrics: metrics,
            secureCookies: secureCookies || environment["CITIZENCARD_SECURE_COOKIES"] == "1", trustedProxies: proxies,
            idleTimeoutSeconds: idleTimeout, requestTimeoutSeconds: requestTimeout, tls: tls
        ) { boundPort in
            var text = "CitizenCard is running at \(scheme)://\(host):\(boundPort)/  (database: \(description))\n"
            text +=
                "Outlet console: \(scheme)://\(host):\(boundPort)/console   citizen portal: \(scheme)://\(host):\(boundPort)/portal\n"
            text += "API description: \(scheme)://\(host):\(boundPort)/openapi.yaml\n"
            if let portalCard {
                text += "Portal demo: card \(portalCard), query password \(DemoCity.portalPassword)\n"
            }
            if let demoBank {
                text += "Demo partner bank \(DemoBank.code): \(demoBank.baseURL) (a bank simulator in this process)\n"
            }
            if let logins {
                text += "Demo logins (password for all: \(DemoCity.password)):\n"
                for login in logins {
                    text +=
                        "  \(login.username.padding(toLength: 20, withPad: " ", startingAt: 0)) \(login.role.rawValue)\(login.outlet.map { " at \($0)" } ?? "")\n"
                }
            }
            say(text, newline: false)
        }
        try await app.runService()
        await demoBank?.stop()
        try await runtime.store.close()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.migrate"))
        if let store = runtime.store as? any StoreMigrations {
            let applied = try await store.appliedMigrations()
            print(
                "\(runtime.databaseDescription): schema up to date (\(applied.count) migrations: \(applied.joined(separator: ", ")))"
            )
        }
        try await runtime.store.close()
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute the audit hash chain; exit 1 and name the first bad entry if broken.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.audit", level: .warning))
        let result = try await runtime.store.verifyAuditChain()
        try await runtime.store.close()
        let view = AuditService.view(result)
        if let bad = result.firstBad {
            print("audit chain BROKEN at lane \(bad.lane) entry \(bad.sequence): \(AuditService.describe(bad.problem))")
            print("entries checked: \(result.entriesChecked)")
            throw ExitCode(1)
        }
        print("audit chain intact: \(view.entriesChecked) entries, head \(view.headHash)")
    }
}

package import ArgumentParser
import CommandSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `citizencard bank simulate`: a partner bank on a loopback port (issue 20), for the tests that
/// run the center against a real bank and for demos.
package struct BankSimulateCommand: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a partner bank for tests and demos on a loopback port.",
        discussion: """
            The bank opens accounts (POST /accounts), takes the center's notices once each \
            (POST /notices) and answers reconciliation (GET /reconciliation?date=YYYY-MM-DD), every \
            request signed with the shared secret. Every account and notice is appended to the \
            --state journal and synced before the answer, and replayed on start. The unsigned \
            /control/… endpoints switch its mode (POST /control/mode: normal, slow, error, drop), \
            refuse applicants (POST /control/refuse), send a notice of the bank's own to the center \
            (POST /control/report) and show what it holds (GET /control/state). It prints \
            "listening on HOST:PORT" once listening and stops on SIGINT or SIGTERM.
            """)

    @Option(help: "The bank's code, e.g. ICBC.")
    package var code: String

    @Option(help: "The BIN its account numbers start with: 6 to 8 digits.")
    package var bin: String

    @Option(help: "The length of its account numbers, check digit included (16 to 19).")
    package var length = 19

    @Option(help: "A file holding the secret shared with the center: 64 to 256 hexadecimal digits.")
    package var secretFile: String

    @Option(help: "The center's base URL, where the bank sends its own notices (POST /control/report).")
    package var center: String?

    @Option(help: "A CA certificate (PEM) the center's HTTPS certificate may chain to; repeatable.")
    package var centerTrustRoot: [String] = []

    @Option(help: "The journal file of accounts and notices (created when absent, replayed on start).")
    package var state: String

    @Option(help: "The address to listen on.")
    package var host = "127.0.0.1"

    @Option(help: "The port to listen on; 0 picks a free one.")
    package var port = 0

    @Option(help: "The certificate chain (PEM) to serve HTTPS with; needs --tls-key.")
    package var tlsCertificate: String?

    @Option(help: "The private key (PEM) of --tls-certificate.")
    package var tlsKey: String?

    package func run() async throws {
        let configuration: BankSimulatorConfiguration
        let server: BankSimulatorServer
        do {
            let secret = try BankSimulatorConfiguration.readSecret(file: secretFile)
            configuration = BankSimulatorConfiguration(
                bankCode: code, bin: bin, accountNumberLength: length, secret: secret, centerURL: center,
                centerTrustRoots: centerTrustRoot, statePath: state, host: host, port: port,
                tlsCertificatePath: tlsCertificate, tlsKeyPath: tlsKey)
            try configuration.validate()
            BankStopSignal.install()
            server = try await BankSimulatorServer.start(configuration)
        } catch let error as BankSimulatorError {
            throw CommandFailure(description: error.description)
        } catch {
            throw CommandFailure(description: "the bank simulator cannot start: \(error)")
        }
        say("listening on \(configuration.host):\(server.port)")
        while !BankStopSignal.requested {
            try? await Task.sleep(for: .milliseconds(100))
        }
        await server.stop()
    }
}

/// SIGTERM and SIGINT set a flag that the command polls every 100 ms.
enum BankStopSignal {
    static let received = Atomic<Int32>(0)

    static func install() {
        // Touch the global before a handler may run: its lazy initialisation is not signal-safe.
        received.store(0, ordering: .relaxed)
        // A parent may have started this process with the signals blocked (masks are inherited).
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        signal(SIGTERM) { BankStopSignal.received.store($0, ordering: .relaxed) }
        signal(SIGINT) { BankStopSignal.received.store($0, ordering: .relaxed) }
    }

    static var requested: Bool { received.load(ordering: .relaxed) != 0 }
}

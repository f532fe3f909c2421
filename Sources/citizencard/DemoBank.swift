import BankProtocol
import BankSimulator
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation
import OwnerOnlyFiles

/// The demo city's partner bank (issue 20): the bank simulator in the server's own process on a
/// loopback port, registered as the city's default bank `ZSBANK` when the demo city is created,
/// so that its cards get bank accounts and their notices somewhere to go. On a later start of the
/// same data directory it starts again on a new port and the bank's endpoint follows it. It never
/// touches a database whose demo city it did not make.
enum DemoBank {
    static let code = "ZSBANK"

    static func start(_ runtime: Runtime, creatingCity: Bool) async throws -> BankSimulatorServer? {
        let directory = runtime.dataDirectory.appendingPathComponent("demo-bank", isDirectory: true)
        let banks = BankService(runtime.env)
        let actor = Actor.commandLine("demo")
        let registered = try await runtime.env.store.bank(code: code)
        guard creatingCity || (registered != nil && FileManager.default.fileExists(atPath: directory.path)) else {
            return nil
        }
        let secretFile = directory.appendingPathComponent("secret.hex")
        let secret: Data
        if let stored = try? BankSimulatorConfiguration.readSecret(file: secretFile.path) {
            secret = stored
        } else {
            secret = BankSignature.newSecret()
            try OwnerOnlyFile.write(Data(hex(secret).utf8), to: secretFile)
        }
        let server = try await BankSimulatorServer.start(
            BankSimulatorConfiguration(
                bankCode: code, bin: "621799", secret: secret,
                statePath: directory.appendingPathComponent("journal.jsonl").path))
        if registered == nil {
            _ = try await banks.register(
                .init(
                    code: code, name: "舟山市民银行 (demo)", bins: ["621799"], endpoint: server.baseURL, isDefault: true,
                    secret: hex(secret)),
                actor: actor)
        } else {
            _ = try await banks.change(code, .init(endpoint: server.baseURL, secret: hex(secret)), actor: actor)
        }
        return server
    }

    static func hex(_ data: Data) -> String { HexText.encode(data) }
}

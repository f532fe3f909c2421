import ArgumentParser
import CitizenCardDomain
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation

/// Staff accounts from the command line: the first administrator of a city without the demo, and
/// password resets when nobody can log in.
struct Staff: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Manage staff accounts (the password is read from CITIZENCARD_PASSWORD or the first line of standard input).",
        subcommands: [StaffAdd.self, StaffPassword.self, StaffDeactivate.self])
}

/// The new password: CITIZENCARD_PASSWORD, else one line of standard input.
func readPassword() throws -> String {
    if let value = ProcessInfo.processInfo.environment["CITIZENCARD_PASSWORD"], !value.isEmpty { return value }
    guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("give the password in CITIZENCARD_PASSWORD or on standard input")
    }
    return line
}

struct StaffAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Create an account.")

    @OptionGroup var store: StoreOptions

    @Argument(help: "User name (a-z, 0-9, '.', '-', '_').")
    var username: String

    @Option(help: "operator, supervisor, admin, commissioner or auditor.")
    var role: String

    @Option(help: "The outlet code (operators and supervisors), e.g. DH01.")
    var outlet: String?

    @Option(help: "The name shown in the console.")
    var displayName: String?

    func run() async throws {
        guard let role = Role(rawValue: role), role.isStaff else {
            throw ValidationError("--role must be operator, supervisor, admin, commissioner or auditor")
        }
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.staff", level: .warning))
        let actor = Actor.commandLine("cli")
        var outletID: Outlet.ID? = nil
        if let outlet {
            guard let found = try await runtime.store.outlets().first(where: { $0.code == outlet.uppercased() }) else {
                throw ValidationError("no outlet with code \(outlet)")
            }
            outletID = found.id
        }
        let view = try await AdministrationService(runtime.env).addOperator(
            .init(
                username: username, displayName: displayName ?? username, role: role, outletId: outletID,
                password: try readPassword()),
            actor: actor)
        try await runtime.store.close()
        say("created \(view.username) (\(view.role.rawValue))")
    }
}

struct StaffPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "password", abstract: "Set a new password.")

    @OptionGroup var store: StoreOptions

    @Argument var username: String

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.staff", level: .warning))
        let service = AdministrationService(runtime.env)
        let id = try await service.operatorID(username: username)
        _ = try await service.changeOperator(id, .init(password: try readPassword()), actor: .commandLine("cli"))
        try await runtime.store.close()
        say("password of \(username.lowercased()) changed")
    }
}

struct StaffDeactivate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deactivate", abstract: "Refuse further log-ins and end the account's sessions.")

    @OptionGroup var store: StoreOptions

    @Argument var username: String

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.staff", level: .warning))
        let service = AdministrationService(runtime.env)
        let id = try await service.operatorID(username: username)
        _ = try await service.changeOperator(id, .init(active: false), actor: .commandLine("cli"))
        try await runtime.store.close()
        say("\(username.lowercased()) deactivated")
    }
}

import ArgumentParser
import BankSimulator
import CitizenCardDomain
import CitizenCardRuntime
import CitizenCardServices
import CommandSupport
import Foundation
import OwnerOnlyFiles

struct BankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank", abstract: "Partner banks: register, list, reconcile; a simulated bank (docs/banks.md).",
        subcommands: [BankAdd.self, BankList.self, BankReconcile.self, BankSimulateCommand.self])
}

/// `citizencard bank add`: registers a partner bank; the shared secret goes to a 0600 file.
struct BankAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Register a partner bank and write its shared secret to a file.",
        discussion: """
            The secret is written in hex to --secret-out (mode 0600) for the bank; the center keeps \
            it sealed. With --secret-file the bank's existing secret is used instead.
            """)

    @OptionGroup var store: StoreOptions
    @Option(help: "The bank's code, 2-16 capital letters and digits.") var code: String
    @Option(help: "The bank's name.") var name: String
    @Option(help: "A card-number prefix (BIN) the bank issues under; repeat for several.") var bin: [String]
    @Option(help: "The bank's base URL (http or https).") var endpoint: String
    @Flag(help: "Applications that name no bank get this one.") var isDefault = false
    @Option(help: "The first day of the partnership, YYYY-MM-DD (default today).") var activeFrom: String?
    @Option(help: "The day the partnership ends, YYYY-MM-DD.") var activeUntil: String?
    @Option(help: "A file with the shared secret in hex.") var secretFile: String?
    @Option(help: "Where to write the new secret (hex, mode 0600).") var secretOut: String?

    func run() async throws {
        var secret: String? = nil
        if let secretFile {
            guard let text = try? String(contentsOfFile: secretFile, encoding: .utf8) else {
                throw CommandFailure(description: "cannot read \(secretFile)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if secretOut == nil {
            throw ValidationError("give --secret-out FILE for the new secret, or --secret-file FILE")
        }
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.bank", level: .warning))
        let registered: BankService.RegisteredBank
        do {
            registered = try await BankService(runtime.env).register(
                .init(
                    code: code, name: name, bins: bin, endpoint: endpoint, activeFrom: activeFrom,
                    activeUntil: activeUntil, isDefault: isDefault, secret: secret),
                actor: .commandLine("bank"))
        } catch {
            try? await runtime.store.close()
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        if secretFile == nil, let secretOut, let value = registered.secret {
            do {
                try OwnerOnlyFile.write(Data((value + "\n").utf8), to: URL(fileURLWithPath: secretOut))
            } catch {
                throw CommandFailure(description: "the bank is registered but \(secretOut) cannot be written: \(error)")
            }
            say("registered \(registered.bank.code); its secret is in \(secretOut) (give it to the bank)")
        } else {
            say("registered \(registered.bank.code)")
        }
    }
}

struct BankList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "The partner banks and their outboxes.")

    @OptionGroup var store: StoreOptions

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.bank", level: .warning))
        defer { Task { try? await runtime.store.close() } }
        let banks: [BankService.BankView]
        do {
            banks = try await BankService(runtime.env).banks(actor: .commandLine("bank"))
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        for bank in banks {
            say(
                "\(bank.code)\t\(bank.name)\t\(bank.active ? "active" : "inactive")\(bank.isDefault ? " default" : "")"
                    + "\tBIN \(bank.bins.joined(separator: ","))\tpending \(bank.pendingNotices)"
                    + " parked \(bank.parkedNotices) delivered \(bank.deliveredNotices)\t\(bank.endpoint)")
        }
    }
}

/// `citizencard bank reconcile --bank CODE --date D`: the bank's statement against the center's
/// records; the same run again replaces the result. Exit 1 when a difference is named.
struct BankReconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Reconcile a business day's notices and accounts with a bank; exit 1 on a difference.")

    @OptionGroup var store: StoreOptions
    @Option(help: "The bank's code.") var bank: String
    @Option(help: "The business day, YYYY-MM-DD.") var date: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.bank", level: .warning))
        let result: BankService.ReconciliationView
        do {
            result = try await BankService(runtime.env).reconcile(
                bankCode: bank, date: date, actor: .commandLine("bank"))
        } catch {
            try? await runtime.store.close()
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            say(String(decoding: (try? encoder.encode(result)) ?? Data(), as: UTF8.self))
        } else {
            say(
                "\(result.bankCode) \(result.date): notices sent \(result.noticesSent), confirmed \(result.noticesConfirmed);"
                    + " accounts opened \(result.accountsOpened), confirmed \(result.accountsConfirmed);"
                    + " differences \(result.differences.count)")
            for difference in result.differences {
                say("  \(difference.kind)\t\(difference.subject)\t\(difference.detail ?? "")")
            }
        }
        if !result.differences.isEmpty { throw ExitCode(1) }
    }
}

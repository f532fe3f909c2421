import ArgumentParser
import CardCrypto
import CitizenCardRuntime
import CommandSupport
import Foundation

/// `citizencard keys …`: the issuer's card master keys (CARDTECH.md §5.6), in a file of the data
/// directory readable by its owner only. Never printed: `keys show` lists ids and check values.
struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The issuer's card master keys (load, purchase, TAC, maintenance, PIN, internal authentication).",
        subcommands: [KeysInit.self, KeysShow.self])
}

struct KeysInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the issuer keyring with random master keys (or the handout's test keys).")

    @OptionGroup var options: StoreOptions

    @Flag(
        help:
            "Every master key is the handout's test key 0123456789ABCDEFFEDCBA9876543210, so that anyone can recompute a card's MACs. Never for real cards."
    )
    var testKeys = false

    @Flag(help: "Replace an existing keyring (cards personalised with the old keys stop working).")
    var force = false

    func run() async throws {
        let url = IssuerKeyFile.file(in: options.dataDirectory)
        if FileManager.default.fileExists(atPath: url.path) && !force {
            throw CommandFailure(
                description: "\(url.path) exists; refusing to replace the issuer keys (--force replaces them)")
        }
        let keyring: IssuerKeyring
        do {
            keyring = testKeys ? IssuerKeyring.testKeys() : try IssuerKeyring.generate()
            try keyring.write(to: url)
        } catch {
            throw CommandFailure(description: "cannot create the issuer keyring: \(error)")
        }
        say("Created \(url.path) (mode 0600): \(keyring.keyIDs.count) master keys, version 01.")
        say(
            testKeys
                ? "These are the handout's TEST keys: for tests and demonstrations only."
                : "Back it up, separately from the database: cards personalised with these keys need them for every load and purchase check."
        )
    }
}

struct KeysShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "List the master keys by type and version with their check values; never the keys.")

    @OptionGroup var options: StoreOptions

    func run() async throws {
        let url = IssuerKeyFile.file(in: options.dataDirectory)
        let keyring: IssuerKeyring
        do {
            keyring = try IssuerKeyring.load(from: url)
        } catch {
            throw CommandFailure(description: "cannot read the issuer keyring \(url.path): \(error)")
        }
        say("\(url.path): \(keyring.keyIDs.count) master keys, \(keyring.issuerFactors.count) issuer levels")
        for id in keyring.keyIDs {
            let check =
                (try? keyring.masterKey(id.type, version: id.version).checkValue(.tripleDES)).map { Hex.encode($0) }
                ?? "?"
            say(
                "  \(id.type.rawValue.padding(toLength: 24, withPad: " ", startingAt: 0)) v\(String(format: "%02X", id.version))  KCV \(check)"
            )
        }
        // `show` only reads: a keyring written before a key type existed gets it from the next
        // command that opens it to personalise or check cards (serve, card new, card authenticate).
        let missing = keyring.missingKeyIDs
        if !missing.isEmpty {
            say(
                "  missing: \(missing.map(\.description).joined(separator: ", ")) (added when the server, card new or card authenticate next opens the keyring)"
            )
        }
    }
}

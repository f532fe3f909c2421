package import ArgumentParser
package import CardCrypto
import CommandSupport
package import Foundation
package import SmartCard

// MARK: - card authenticate

/// `citizencard card authenticate`: the offline check that the card in a PC/SC reader is genuine
/// (issue 19, part 5). Reads the card's ASN, sends INTERNAL AUTHENTICATE with a fresh random
/// challenge, and compares the answer with the one computed from the issuer's master
/// internal-authentication key diversified by that ASN. No network, no database: only the keyring.
package struct CardAuthenticate: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "authenticate",
        abstract: "Check offline that the card in a PC/SC reader is genuine (INTERNAL AUTHENTICATE).",
        discussion: """
            Selects the purse, reads the ASN from EF 15, sends INTERNAL AUTHENTICATE (00 88 00 00 08 \
            challenge 08) with a fresh random challenge, and compares the card's answer with the \
            challenge encrypted under the card key diversified from the keyring's internal-authentication \
            master key and the ASN (docs/software-card.md). The keyring is the data directory's \
            (--data, or CITIZENCARD_DATA), a keyring file (--keyring), or the handout's test keys \
            (--test-keys). Prints "authentic" and exits 0; exits 1 when the card is not authentic (wrong \
            key, no key, refused), 2 when it could not be checked (no pcscd, no reader, no card, not a \
            citizen card, no keyring).
            """)

    @Option(help: "Data directory whose keys/issuer-keys.json holds the master keys. Env: CITIZENCARD_DATA.")
    package var data: String?

    @Option(help: "An issuer keyring file (mode 0600) instead of the data directory's.")
    package var keyring: String?

    @Flag(help: "Use the handout's test master keys (cards made with `card new --test-keys`).")
    package var testKeys = false

    @Option(help: "The master key version the card's key comes from (0–255).")
    package var keyVersion: UInt8 = 1

    @Option(help: "The reader: its exact name or a part of it (default: the first reader with a card).")
    package var reader: String?

    package func validate() throws {
        guard [data != nil, keyring != nil, testKeys].filter({ $0 }).count <= 1 else {
            throw ValidationError("--data, --keyring and --test-keys exclude each other")
        }
    }

    package func run() throws {
        let issuerKeys = try unableToCheck { () throws(CommandFailure) in try loadKeyring() }
        let context = try unableToCheck { () throws(PCSCError) in try PCSCContext.establish() }
        defer { context.release() }
        var card = try unableToCheck { () throws(PCSCError) in
            try context.connectFirstCard(in: context.candidateReaders(named: reader))
        }
        defer { card.disconnect() }
        let authenticator = CardAuthenticator(keyring: issuerKeys, keyVersion: keyVersion)
        let challenge = try unableToCheck { () throws(CardCryptoError) in try CardAuthentication.randomChallenge() }
        do {
            let result = try authenticator.authenticate(on: &card, challenge: challenge)
            say(
                "authentic: card \(result.asn) in \(card.reader) answered the challenge with the key of "
                    + "internalAuthentication v\(hexByte(keyVersion)) (\(result.algorithm))")
        } catch  where error.isNotAuthentic {
            throw CommandFailure(description: "NOT authentic: \(error) (reader \(card.reader))")
        } catch {
            let detail = card.lastFailure.map { " (\($0))" } ?? ""
            try unableToCheck { () throws(CommandFailure) in
                throw CommandFailure(description: "\(error)\(detail)")
            }
        }
    }

    /// The keyring the options name; a keyring file written before the internal-authentication key
    /// existed gets it now (and is written back), as every command that opens it does.
    func loadKeyring() throws(CommandFailure) -> IssuerKeyring {
        if testKeys { return IssuerKeyring.testKeys(versions: [keyVersion]) }
        let url: URL
        if let keyring {
            url = URL(fileURLWithPath: keyring).standardizedFileURL
        } else {
            let directory = data ?? ProcessInfo.processInfo.environment["CITIZENCARD_DATA"] ?? "citizencard-data"
            url =
                URL(fileURLWithPath: directory, isDirectory: true).appendingPathComponent(
                    IssuerKeyring.dataDirectoryPath
                ).standardizedFileURL
        }
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw CommandFailure(
                description:
                    "no issuer keyring at \(url.path) (`citizencard keys init --data DIR` or the server's first start creates it)"
            )
        }
        return try CardNew.openKeyring(url)
    }

    /// Runs `body`; a failure means the card could not be checked: the message, then exit status 2.
    func unableToCheck<T, E: Error>(_ body: () throws(E) -> T) throws -> T {
        do {
            return try body()
        } catch {
            FileHandle.standardError.write(Data("Error: cannot check the card: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// The check itself, over any channel (a PC/SC reader, or the software card in tests).
package struct CardAuthenticator: Sendable {
    package let keyring: IssuerKeyring
    package let keyVersion: UInt8
    package let algorithms: PurseAlgorithmRegistry

    package init(keyring: IssuerKeyring, keyVersion: UInt8 = 1, algorithms: PurseAlgorithmRegistry = .verified) {
        self.keyring = keyring
        self.keyVersion = keyVersion
        self.algorithms = algorithms
    }

    package struct Result: Sendable, Equatable {
        /// The ASN from EF 15, 20 hex digits.
        package var asn: String
        /// The algorithm whose cryptogram matched (`3DES`).
        package var algorithm: String
    }

    /// Why a card did not pass, or could not be checked. Descriptions hold the ASN and status
    /// words, never a key, a challenge or a cryptogram.
    package enum Failure: Error, Equatable, CustomStringConvertible {
        /// The card's answer differs from the issuer's: another issuer's or keyring's card, or a forgery.
        case mismatch(asn: String)
        /// INTERNAL AUTHENTICATE answered `6A88`: the card holds no internal-authentication key.
        case noKey(asn: String)
        /// INTERNAL AUTHENTICATE answered another status word.
        case refused(asn: String, statusWord: UInt16)
        /// SELECT or READ BINARY failed: not a citizen card (or its purse is blocked).
        case notACitizenCard(command: String, statusWord: UInt16?)
        /// The card left, or the reader went away, before an answer.
        case noResponse(command: String)
        /// The keyring holds no internal-authentication key of this version.
        case keyring(CardCryptoError)

        /// True for the failures that say the card is not genuine (exit 1); the others mean it
        /// could not be checked (exit 2).
        package var isNotAuthentic: Bool {
            switch self {
            case .mismatch, .noKey, .refused: true
            case .notACitizenCard, .noResponse, .keyring: false
            }
        }

        package var description: String {
            switch self {
            case .mismatch(let asn):
                "card \(asn) answered INTERNAL AUTHENTICATE with a cryptogram that does not match the issuer's key"
                    + " (a card personalised with other keys, or a forgery)"
            case .noKey(let asn):
                "card \(asn) holds no internal-authentication key (status 6A88): it was personalised before"
                    + " the key existed, or is not one of the issuer's cards"
            case .refused(let asn, let statusWord):
                "card \(asn) refused INTERNAL AUTHENTICATE with status \(Self.hex(statusWord))"
            case .notACitizenCard(let command, let statusWord):
                "not a citizen card: \(command) "
                    + (statusWord.map { "answered \(Self.hex($0))" } ?? "gave a malformed answer")
            case .noResponse(let command):
                "the card did not answer \(command) (it left the reader, or the reader went away)"
            case .keyring(let error):
                "\(error)"
            }
        }

        static func hex(_ statusWord: UInt16) -> String {
            Hex.encode([UInt8(statusWord >> 8), UInt8(statusWord & 0xFF)])
        }
    }

    static let selectPurse: [UInt8] = [0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00]
    static let readIssuerFile: [UInt8] = [0x00, 0xB0, 0x95, 0x00, 0x1E]

    /// SELECT the purse, READ BINARY of EF 15 (the ASN at bytes 10..<20), INTERNAL AUTHENTICATE
    /// with `challenge`, and the keyring's check.
    package func authenticate(
        on channel: inout some CardChannel, challenge: [UInt8]
    ) throws(Failure) -> Result {
        // The keyring first: a check that cannot succeed does not talk to the card.
        do {
            _ = try keyring.masterKey(.internalAuthentication, version: keyVersion)
        } catch {
            throw .keyring(error)
        }
        _ = try exchange(Self.selectPurse, "SELECT of the purse", &channel)
        let file = try exchange(Self.readIssuerFile, "READ BINARY of EF 15", &channel)
        guard file.data.count >= 20, let asn = try? ApplicationSerialNumber(bytes: file.data[10..<20]) else {
            throw .notACitizenCard(command: "READ BINARY of EF 15", statusWord: nil)
        }
        let command =
            [0x00, 0x88, 0x00, 0x00, UInt8(challenge.count)] + challenge + [
                UInt8(CardAuthentication.cryptogramByteCount)
            ]
        guard let answer = ResponseAPDU(bytes: try transmit(command, "INTERNAL AUTHENTICATE", &channel)) else {
            throw .mismatch(asn: asn.description)
        }
        switch answer.status {
        case .success: break
        case .keyNotFound: throw .noKey(asn: asn.description)
        default: throw .refused(asn: asn.description, statusWord: answer.status.rawValue)
        }
        do {
            let algorithm = try keyring.verifyInternalAuthentication(
                response: answer.data, challenge: challenge, asn: asn, keyVersion: keyVersion, algorithms: algorithms)
            return Result(asn: asn.description, algorithm: algorithm.name)
        } catch {
            throw .mismatch(asn: asn.description)
        }
    }

    /// One command whose answer must be `9000`; a citizen card's SELECT and READ BINARY always are.
    func exchange(_ command: [UInt8], _ name: String, _ channel: inout some CardChannel) throws(Failure) -> ResponseAPDU
    {
        guard let answer = ResponseAPDU(bytes: try transmit(command, name, &channel)) else {
            throw .notACitizenCard(command: name, statusWord: nil)
        }
        guard answer.status == .success else {
            throw .notACitizenCard(command: name, statusWord: answer.status.rawValue)
        }
        return answer
    }

    func transmit(_ command: [UInt8], _ name: String, _ channel: inout some CardChannel) throws(Failure) -> [UInt8] {
        do {
            return try channel.transmit(command)
        } catch {
            throw .noResponse(command: name)
        }
    }
}

func hexByte(_ byte: UInt8) -> String { Hex.encode([byte]) }

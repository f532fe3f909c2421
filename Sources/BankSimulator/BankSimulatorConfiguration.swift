import BankLink
import BankProtocol
public import Foundation

/// What a simulated partner bank is: its code and BIN, the secret it shares with the center, where
/// the center is, where it keeps its journal and where it listens.
public struct BankSimulatorConfiguration: Sendable {
    /// The bank's code (`ICBC`): what `CC-Bank-Code` must carry and what is signed.
    public var bankCode: String
    /// The first 6 to 8 digits of every account number it opens.
    public var bin: String
    /// The length of its account numbers, check digit included (16 to 19).
    public var accountNumberLength: Int
    /// The secret shared with the center (32 to 128 bytes).
    public var secret: Data
    /// The center's base URL, for the notices the bank sends (`POST /control/report`); nil: none.
    public var centerURL: String?
    /// CA certificates (PEM files) the center's HTTPS certificate may chain to (system roots if empty).
    public var centerTrustRoots: [String]
    /// The journal: one JSON line per account opened and notice accepted, replayed on start.
    public var statePath: String
    public var host: String
    /// 0: the system picks a free port (see `BankSimulatorServer.port`).
    public var port: Int
    /// PEM files of the certificate chain and key: the bank then serves HTTPS.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?

    public init(
        bankCode: String, bin: String, accountNumberLength: Int = 19, secret: Data, centerURL: String? = nil,
        centerTrustRoots: [String] = [], statePath: String, host: String = "127.0.0.1", port: Int = 0,
        tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil
    ) {
        self.bankCode = bankCode
        self.bin = bin
        self.accountNumberLength = accountNumberLength
        self.secret = secret
        self.centerURL = centerURL
        self.centerTrustRoots = centerTrustRoots
        self.statePath = statePath
        self.host = host
        self.port = port
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
    }

    /// Throws a `BankSimulatorError` naming the first thing wrong.
    public func validate() throws(BankSimulatorError) {
        guard (1...32).contains(bankCode.utf8.count),
            bankCode.utf8.allSatisfy({ Self.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else {
            throw BankSimulatorError("the bank code must be 1 to 32 letters, digits, '-' or '_' (got \"\(bankCode)\")")
        }
        guard (6...8).contains(bin.utf8.count), bin.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw BankSimulatorError("the BIN must be 6 to 8 digits (got \"\(bin)\")")
        }
        guard BankCardNumber.lengths.contains(accountNumberLength) else {
            throw BankSimulatorError(
                "the account number length must be \(BankCardNumber.lengths.lowerBound) to "
                    + "\(BankCardNumber.lengths.upperBound) (got \(accountNumberLength))")
        }
        guard BankSignature.secretBytes.contains(secret.count) else {
            throw BankSimulatorError(
                "the shared secret must be \(BankSignature.secretBytes.lowerBound) to "
                    + "\(BankSignature.secretBytes.upperBound) bytes (got \(secret.count))")
        }
        if let centerURL, BankLink.target(baseURL: centerURL, path: "/") == nil {
            throw BankSimulatorError("the center URL must be an http or https URL (got \"\(centerURL)\")")
        }
        guard !statePath.isEmpty else { throw BankSimulatorError("the state file path is empty") }
        guard !host.isEmpty else { throw BankSimulatorError("the host is empty") }
        guard (0...65535).contains(port) else { throw BankSimulatorError("the port must be 0 to 65535 (got \(port))") }
        guard (tlsCertificatePath == nil) == (tlsKeyPath == nil) else {
            throw BankSimulatorError("a TLS certificate needs its key and a key its certificate")
        }
    }

    /// The secret in a file: 64 to 256 hexadecimal digits (32 to 128 bytes), surrounding white
    /// space ignored.
    public static func readSecret(file path: String) throws(BankSimulatorError) -> Data {
        let content: Data
        do {
            content = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BankSimulatorError("cannot read the secret file \(path): \(error.localizedDescription)")
        }
        guard let text = String(data: content, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines)
        else {
            throw BankSimulatorError("the secret file \(path) is not text")
        }
        let digits = BankSignature.secretBytes.lowerBound * 2...BankSignature.secretBytes.upperBound * 2
        guard digits.contains(text.utf8.count), text.utf8.count % 2 == 0, let secret = hexDecode(text) else {
            throw BankSimulatorError(
                "the secret file \(path) must hold \(digits.lowerBound) to \(digits.upperBound) hexadecimal digits "
                    + "(an even number)")
        }
        return secret
    }

    static func hexDecode(_ text: String) -> Data? { HexText.decode(text) }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }
}

/// Why the simulator cannot start or a request cannot be done.
public struct BankSimulatorError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

package import ArgumentParser
import CardCrypto
import CommandSupport
package import Foundation
package import SmartCard
package import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `citizencard card …`: software citizen cards (issue 4, parts 4 and 7). `new` personalises one
/// card file; `emulate` inserts it into a PC/SC reader through vsmartcard's vpcd driver, so that
/// real PC/SC clients (opensc-tool, pyscard, terminal software) can talk to it; `authenticate` is
/// such a client: it checks offline that the card in a reader is genuine (issue 19, part 5).
package struct CardCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "card",
        abstract:
            "Software citizen cards: personalise a card file, insert it into PC/SC through vpcd, authenticate a card.",
        subcommands: [CardNew.self, CardEmulate.self, CardAuthenticate.self])
}

// MARK: - card new

package struct CardNew: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Personalise one software card and write it to a card file (mode 0600).",
        discussion: """
            The card's keys are diversified from the master keys of --key-version with the card's ASN \
            (CARDTECH.md §5.2). With --test-keys every master key is the handout's test key \
            0123456789ABCDEFFEDCBA9876543210, so that anyone can recompute the card's MACs by hand.
            """)

    @Option(help: "The application serial number: exactly 20 hexadecimal digits (10 bytes).")
    package var asn: String

    @Flag(help: "Use the handout's test master keys (IssuerKeyring.testKeys()). Never for real cards.")
    package var testKeys = false

    @Option(help: "An issuer keyring file (mode 0600), e.g. DATA/keys/issuer-keys.json of `citizencard keys init`.")
    package var keyring: String?

    @Option(help: "The master key version the card's keys come from (0–255).")
    package var keyVersion: UInt8 = 1

    @Option(help: "The card file to write.")
    package var out: String

    @Flag(help: "Replace an existing card file.")
    package var force = false

    @Option(help: "Holder name (UTF-8, at most 60 bytes).")
    package var name = "测试持卡人"

    @Option(help: "Social-security number (18 characters).")
    package var ssn = "11010519491231002X"

    @Option(help: "Card serial number printed on the card (at most 20 ASCII characters; default: the ASN).")
    package var cardSerial: String?

    @Option(help: "Linked bank card number (digits, may be empty).")
    package var bankCard = ""

    @Option(help: "Issue date YYYYMMDD (default: today, UTC).")
    package var issueDate: String?

    @Option(help: "Expiry date YYYYMMDD (default: ten years after the issue date).")
    package var expiryDate: String?

    @Option(help: "Photo reference (an id in the photo store, at most 64 ASCII characters).")
    package var photo = ""

    @Option(help: "The PIN: 4–12 digits, an even number (VERIFY sends them as BCD).")
    package var pin = "123456"

    package func validate() throws {
        guard Self.asnBytes(asn) != nil else {
            throw ValidationError(
                "--asn must be exactly 20 hexadecimal digits (10 bytes), e.g. 00003100000000000001; got \"\(asn)\"")
        }
        if testKeys && keyring != nil { throw ValidationError("--test-keys and --keyring exclude each other") }
        if !testKeys && keyring == nil {
            throw ValidationError("choose the master keys: --test-keys, or --keyring FILE")
        }
        guard Self.pinBytes(pin) != nil else {
            throw ValidationError("--pin must be 4–12 digits, an even number of them (e.g. 123456)")
        }
    }

    /// Reads a keyring file; one written before a key type existed (the internal-authentication
    /// key of issue 19) gets the missing keys, is written back, and the command says so.
    static func openKeyring(_ url: URL) throws(CommandFailure) -> IssuerKeyring {
        do {
            let (keyring, added) = try IssuerKeyring.loadAddingMissingKeys(from: url)
            if !added.isEmpty {
                say(
                    "The keyring \(url.path) lacked \(added.map(\.description).joined(separator: ", ")): added and saved "
                        + "(cards personalised before do not hold these keys).")
            }
            return keyring
        } catch {
            throw CommandFailure(description: "cannot read the issuer keyring \(url.path): \(error)")
        }
    }

    /// 20 hex digits → 10 bytes, else nil.
    package static func asnBytes(_ text: String) -> [UInt8]? {
        guard text.utf8.count == 20, text.allSatisfy(\.isHexDigit) else { return nil }
        return try? Hex.decode(text, field: "ASN")
    }

    /// "123456" → 12 34 56.
    package static func pinBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard (4...12).contains(digits.count), digits.count % 2 == 0,
            digits.allSatisfy({ (0x30...0x39).contains($0) })
        else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { (digits[$0] - 0x30) << 4 | (digits[$0 + 1] - 0x30) }
    }

    /// Today (UTC) as YYYYMMDD, and the same day `years` later.
    package static func dateText(yearsFromNow years: Int = 0, from start: String? = nil) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var base = Date()
        if let start, start.count == 8, let year = Int(start.prefix(4)), let month = Int(start.dropFirst(4).prefix(2)),
            let day = Int(start.suffix(2)),
            let date = calendar.date(from: DateComponents(year: year, month: month, day: day))
        {
            base = date
        }
        let date = calendar.date(byAdding: .year, value: years, to: base) ?? base
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d%02d%02d", parts.year ?? 2000, parts.month ?? 1, parts.day ?? 1)
    }

    package func run() throws {
        let asnBytes = Self.asnBytes(asn) ?? []
        let url = URL(fileURLWithPath: out).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { throw CommandFailure(description: "\(url.path) is a directory") }
            if !force {
                throw CommandFailure(description: "\(url.path) exists; refusing to replace it (--force replaces it)")
            }
        }
        let issuerKeys: IssuerKeyring
        if testKeys {
            issuerKeys = IssuerKeyring.testKeys(versions: [keyVersion])
        } else {
            issuerKeys = try Self.openKeyring(URL(fileURLWithPath: keyring ?? "").standardizedFileURL)
        }
        let issued = issueDate ?? Self.dateText()
        // Sex, birth date and region code as the social-security number carries them, when it is a
        // resident ID number (the default is).
        let fromID = CardHolder.residentIDFields(ssn)
        let holder = CardHolder(
            name: name, socialSecurityNumber: ssn, cardSerialNumber: cardSerial ?? Hex.encode(asnBytes),
            bankCardNumber: bankCard, issueDate: issued,
            expiryDate: expiryDate ?? Self.dateText(yearsFromNow: 10, from: issued), photoReference: photo,
            sexCode: fromID?.sexCode, birthDate: fromID?.birthDate, regionCode: fromID?.regionCode)
        let card: SoftwareCard
        do {
            card = try SoftwareCard.personalise(
                asn: asnBytes, holder: holder, keyring: issuerKeys, keyVersion: keyVersion,
                pin: Self.pinBytes(pin) ?? [])
            try card.save(to: url)
        } catch {
            throw CommandFailure(description: "cannot make the card: \(error)")
        }
        say(
            "Created \(url.path) (mode 0600): ASN \(Hex.encode(card.asn)), key version \(String(format: "%02X", card.keyVersion)), algorithm \(String(format: "%02X", card.algorithmID)) (3DES), balance 0."
        )
        if testKeys {
            say(
                "Its keys come from the handout's TEST master keys: anyone can recompute its MACs. Never for real cards."
            )
        }
        say("Insert it into PC/SC: citizencard card emulate --card \(out) --vpcd 127.0.0.1:35963")
    }
}

// MARK: - card emulate

package struct CardEmulate: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "emulate",
        abstract: "Insert a software card into PC/SC: connect it to vsmartcard's vpcd driver over TCP.",
        discussion: """
            pcscd loads vpcd (Debian: vsmartcard-vpcd), which listens on 35963 (reader "Virtual PCD 00 00") \
            and 35964 ("Virtual PCD 00 01"). This command connects the card to it, answers the control \
            bytes (power off/on, reset, ATR 3B80800101) and every command APDU, and writes the card file \
            after every command that changed the card, before answering (as a card writes its EEPROM). \
            It retries while vpcd is not listening, reconnects when vpcd goes away, and stops on SIGTERM \
            or SIGINT. Loopback addresses only: vpcd carries unauthenticated card commands.
            """)

    @Option(help: "The card file (from `citizencard card new`).")
    package var card: String

    @Option(help: "vpcd's address HOST:PORT, loopback only: 127.x.x.x, localhost, or [::1]:PORT.")
    package var vpcd = "127.0.0.1:35963"

    @Option(help: "Connection attempts before giving up while vpcd is not listening.")
    package var connectAttempts = 30

    @Option(help: "Seconds between connection attempts.")
    package var retryInterval = 1.0

    @Flag(help: "Print every command and response APDU to standard error (they may hold personal data).")
    package var trace = false

    @Option(
        help: ArgumentHelp(
            "For tests: pull the card out when a command with this INS (2 hex digits) arrives, before the card sees it.",
            visibility: .hidden))
    package var removeBefore: String?

    @Option(
        help: ArgumentHelp(
            "For tests: pull the card out right after the card executed a command with this INS, before it answers.",
            visibility: .hidden))
    package var removeAfter: String?

    package func validate() throws {
        _ = try VPCDAddress(vpcd)
        guard connectAttempts >= 1 else { throw ValidationError("--connect-attempts must be at least 1") }
        guard retryInterval >= 0, retryInterval <= 60 else {
            throw ValidationError("--retry-interval must be 0…60 seconds")
        }
        for (name, value) in [("--remove-before", removeBefore), ("--remove-after", removeAfter)] {
            if let value, Self.instruction(value) == nil {
                throw ValidationError("\(name) must be an INS byte: 2 hexadecimal digits, e.g. 52")
            }
        }
    }

    static func instruction(_ text: String) -> UInt8? {
        text.utf8.count == 2 ? UInt8(text, radix: 16) : nil
    }

    package func run() throws {
        let address = try VPCDAddress(vpcd)
        let url = URL(fileURLWithPath: card).standardizedFileURL
        let lock = try CardFileLock(for: url)
        defer { lock.release() }
        var softwareCard: SoftwareCard
        do {
            softwareCard = try SoftwareCard.load(from: url)
        } catch {
            throw CommandFailure(description: "cannot load the card: \(error)")
        }
        StopSignal.install()
        let emulator = Emulator(
            url: url, address: address, connectAttempts: connectAttempts, retryInterval: retryInterval, trace: trace,
            removeBefore: removeBefore.flatMap(Self.instruction), removeAfter: removeAfter.flatMap(Self.instruction))
        if try emulator.run(&softwareCard) {
            say("Removed from the reader (as asked); the card is saved in \(url.path).")
        } else {
            say("Stopped (\(StopSignal.name)); the card is saved in \(url.path).")
        }
    }
}

/// A vpcd address that is a loopback address (127.0.0.0/8, ::1, or `localhost`, which means both).
package struct VPCDAddress: CustomStringConvertible {
    package var host: String
    package var port: UInt16
    /// The numeric addresses to try, in order.
    package var candidates: [String]

    package var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    package init(_ text: String) throws {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--vpcd must be HOST:PORT or [IPv6]:PORT, got \"\(text)\"")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon else {
                throw ValidationError("--vpcd must be HOST:PORT (IPv6 as [::1]:PORT), got \"\(text)\"")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText), port > 0 else {
            throw ValidationError("--vpcd: the port must be 1–65535, got \"\(portText)\"")
        }
        let name = String(host)
        let candidates: [String]
        if name.lowercased() == "localhost" {
            candidates = ["127.0.0.1", "::1"]
        } else if Self.isLoopback(name) {
            candidates = [name]
        } else {
            throw ValidationError(
                "refusing vpcd address \(name): vpcd carries unauthenticated card commands, so the emulator connects to loopback addresses only (127.0.0.0/8, ::1 or localhost)"
            )
        }
        self.host = name
        self.port = port
        self.candidates = candidates
    }

    /// A numeric IPv4 address in 127.0.0.0/8, or the IPv6 loopback (also IPv4-mapped).
    package static func isLoopback(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: v6) { Array($0) }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes.prefix(12) == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] && bytes[12] == 127
    }
}

/// SIGTERM and SIGINT set a flag that the emulator polls (at most every 100 ms); the handler does
/// nothing else, so a signal never interrupts a card file write.
package enum StopSignal {
    package static let received = Atomic<Int32>(0)

    package static func install() {
        // Touch the global before a handler may run: its lazy initialisation is not signal-safe.
        received.store(0, ordering: .relaxed)
        // A parent may have started this process with the signals blocked (masks are inherited).
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        signal(SIGPIPE, SIG_IGN)
        signal(SIGTERM) { StopSignal.received.store($0, ordering: .relaxed) }
        signal(SIGINT) { StopSignal.received.store($0, ordering: .relaxed) }
    }

    package static var requested: Bool { received.load(ordering: .relaxed) != 0 }

    package static var name: String {
        switch received.load(ordering: .relaxed) {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        default: "disconnected"
        }
    }
}

/// An exclusive `flock` on `.NAME.lock` next to the card file, so that two emulators never run one
/// card (the card file itself is replaced by a rename on every save, so it cannot carry the lock).
package struct CardFileLock {
    package let descriptor: Int32

    package init(for url: URL) throws {
        let path = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CommandFailure(description: "cannot create the lock file \(path)") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw CommandFailure(description: "another emulator is running the card \(url.path)")
        }
        self.descriptor = descriptor
    }

    package func release() {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// The vpcd client (CARDTECH.md §2): every message in both directions is a 2-byte big-endian
/// length and a payload; a 1-byte payload is a control byte (`00` power off, `01` power on, `02`
/// reset, `04` ATR, only `04` answered), anything else a command APDU answered with the response.
package struct Emulator {
    package let url: URL
    package let address: VPCDAddress
    package let connectAttempts: Int
    package let retryInterval: Double
    package let trace: Bool
    /// For tests: the card leaves the reader when a command with this INS arrives (before it is
    /// executed), or right after one was executed (before its answer leaves).
    package var removeBefore: UInt8? = nil
    package var removeAfter: UInt8? = nil

    package enum Control: UInt8 {
        case powerOff = 0x00
        case powerOn = 0x01
        case reset = 0x02
        case answerToReset = 0x04
    }

    /// Runs until a stop signal (false) or a removal asked for (true); throws when vpcd cannot be
    /// reached or the card cannot be saved.
    @discardableResult
    package func run(_ card: inout SoftwareCard) throws -> Bool {
        var attemptsLeft = connectAttempts
        var announcedWait = false
        while !StopSignal.requested {
            guard let connection = openConnection() else {
                attemptsLeft -= 1
                if attemptsLeft <= 0 {
                    throw CommandFailure(
                        description:
                            "vpcd at \(address) did not accept a connection after \(connectAttempts) attempts; is pcscd running with the vpcd driver (Debian: pcscd, vsmartcard-vpcd)?"
                    )
                }
                if !announcedWait {
                    say("Waiting for vpcd at \(address) (\(connectAttempts) attempts, every \(retryInterval) s) …")
                    announcedWait = true
                }
                pause(seconds: retryInterval)
                continue
            }
            attemptsLeft = connectAttempts
            announcedWait = false
            say("Card \(Hex.encode(card.asn)) inserted: connected to vpcd at \(address).")
            defer { close(connection) }
            if try serve(connection, card: &card) { return true }
            if !StopSignal.requested { say("vpcd closed the connection; reconnecting …") }
        }
        return false
    }

    /// Answers vpcd's messages until it disconnects or a stop signal arrives (false), or until the
    /// card is removed as asked (true).
    private func serve(_ socket: Int32, card: inout SoftwareCard) throws -> Bool {
        while let header = receive(socket, count: 2) {
            let length = Int(header[0]) << 8 | Int(header[1])
            guard let payload = receive(socket, count: length) else { return false }
            if length > 1, let removeBefore, payload[1] == removeBefore { return true }
            let before = card
            var answer: [UInt8]?
            if length == 1 {
                switch Control(rawValue: payload[0]) {
                case .answerToReset: answer = SoftwareCard.answerToReset
                case .powerOff, .powerOn, .reset: card.reset()
                case nil: log("unknown control byte \(Hex.encode(payload)); ignored")
                }
            } else if length > 1 {
                answer = card.process(payload)
                if trace { log("> \(Hex.encode(payload))\n< \(Hex.encode(answer ?? []))") }
            }
            // The card file is written before the answer leaves, as a card writes its EEPROM
            // before it answers: a terminal never sees a result the file does not hold.
            if card != before {
                do {
                    try card.save(to: url)
                } catch {
                    throw CommandFailure(description: "cannot save the card, stopping: \(error)")
                }
            }
            if length > 1, let removeAfter, payload[1] == removeAfter { return true }
            if let answer {
                guard sendAll(socket, [UInt8(answer.count >> 8), UInt8(answer.count & 0xFF)] + answer) else {
                    return false
                }
            }
        }
        return false
    }

    /// A connected socket to the first candidate address that accepts, or nil.
    private func openConnection() -> Int32? {
        for host in address.candidates {
            var storage = sockaddr_storage()
            var length: socklen_t
            let family: Int32
            var v4 = sockaddr_in()
            var v6 = sockaddr_in6()
            if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
                family = AF_INET
                v4.sin_family = sa_family_t(AF_INET)
                v4.sin_port = address.port.bigEndian
                length = socklen_t(MemoryLayout<sockaddr_in>.size)
                withUnsafeMutableBytes(of: &storage) { target in
                    withUnsafeBytes(of: v4) { target.copyMemory(from: $0) }
                }
            } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
                family = AF_INET6
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = address.port.bigEndian
                length = socklen_t(MemoryLayout<sockaddr_in6>.size)
                withUnsafeMutableBytes(of: &storage) { target in
                    withUnsafeBytes(of: v6) { target.copyMemory(from: $0) }
                }
            } else {
                continue
            }
            #if canImport(Glibc)
                let descriptor = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            #else
                let descriptor = socket(family, SOCK_STREAM, 0)
            #endif
            guard descriptor >= 0 else { continue }
            let connected = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, length) }
            }
            if connected == 0 {
                var one: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return descriptor
            }
            close(descriptor)
        }
        return nil
    }

    /// Exactly `count` bytes, or nil on end of stream, an error or a stop signal.
    private func receive(_ socket: Int32, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            guard waitReadable(socket) else { return nil }
            let received = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress! + filled, count - filled, 0) }
            if received > 0 {
                filled += received
            } else if received == 0 || (errno != EINTR && errno != EAGAIN) {
                return nil
            }
        }
        return buffer
    }

    /// Waits until the socket is readable (true) or a stop signal arrives (false).
    private func waitReadable(_ socket: Int32) -> Bool {
        while !StopSignal.requested {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 100)
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
        return false
    }

    /// Writes all bytes; false if the connection is gone.
    private func sendAll(_ socket: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let written = bytes.withUnsafeBytes {
                send(socket, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                sent += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    /// Sleeps, waking early for a stop signal.
    private func pause(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while !StopSignal.requested && Date() < deadline { usleep(50_000) }
    }

    private func log(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

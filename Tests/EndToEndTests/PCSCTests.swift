import CardCrypto
import CitizenCardTesting
import Foundation
import SmartCard
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `citizencard card new` and `citizencard card emulate` (issue 4, parts 4 and 7): the command
/// line checks, the vpcd protocol against a fake vpcd in this process, and a real PC/SC stack
/// (pcscd + vsmartcard's vpcd driver + opensc-tool) when it is installed.
///
/// Every expected MAC is recomputed here from the handout's formulas (CARDTECH.md §5) with
/// CardCrypto's block cipher and PBOC MAC, not with the card's own code.
@Suite("PC/SC: card new, card emulate, vpcd, opensc-tool", .serialized)
struct PCSCTests {
    /// The §6 "Diversify" ASN: with the test keys its DLK is the handout's vector.
    static let asn = "00003100000000000001"
    static let amount: [UInt8] = [0x00, 0x00, 0x27, 0x10]  // 100.00 yuan
    static let terminal: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66]
    static let selectPurse = "00A4040009A00000000386980701"
    static let getBalance = "805C000204"
    /// INITIALIZE FOR LOAD, EP (P2 02), key index 01, amount, terminal id, Le 10.
    static var initializeForLoad: String {
        "805000020B01" + Hex.encode(amount) + Hex.encode(terminal) + "10"
    }

    // MARK: card new

    @Test("card new: validates the ASN, refuses to overwrite without --force, writes a 0600 card")
    func cardNew() throws {
        let scratch = TemporaryDirectory("citizencard-card-new")
        defer { withExtendedLifetime(scratch) {} }
        let out = scratch.url.appendingPathComponent("card.json").path
        for bad in ["123", "0000310000000000000G", "000031000000000000011", ""] {
            let result = try Binary.run(["card", "new", "--asn", bad, "--test-keys", "--out", out], in: scratch.url)
            #expect(result.status != 0, "ASN \"\(bad)\" was accepted")
            #expect(result.errors.contains("exactly 20 hexadecimal digits"), "\(result.errors)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
        let noKeys = try Binary.run(["card", "new", "--asn", Self.asn, "--out", out], in: scratch.url)
        #expect(noKeys.status != 0 && noKeys.errors.contains("--test-keys"), "\(noKeys.errors)")

        let made = try Binary.run(
            ["card", "new", "--asn", Self.asn, "--test-keys", "--key-version", "2", "--name", "李四", "--out", out],
            in: scratch.url)
        #expect(made.status == 0, "\(made.output)\(made.errors)")
        #expect(made.output.contains("ASN \(Self.asn)"))
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let card = try SoftwareCard.load(from: URL(fileURLWithPath: out))
        #expect(Hex.encode(card.asn) == Self.asn)
        #expect(card.keyVersion == 2)
        #expect(card.holder.name == "李四")
        #expect(card.balance() == 0)

        let again = try Binary.run(["card", "new", "--asn", Self.asn, "--test-keys", "--out", out], in: scratch.url)
        #expect(again.status != 0 && again.errors.contains("exists"), "\(again.errors)")
        #expect(try SoftwareCard.load(from: URL(fileURLWithPath: out)).keyVersion == 2, "the card is untouched")
        let forced = try Binary.run(
            ["card", "new", "--asn", Self.asn, "--test-keys", "--out", out, "--force"], in: scratch.url)
        #expect(forced.status == 0, "\(forced.errors)")
        #expect(try SoftwareCard.load(from: URL(fileURLWithPath: out)).keyVersion == 1)
    }

    // MARK: card emulate without PC/SC

    @Test("card emulate: loopback only; gives up with a non-zero exit after the bounded retries")
    func emulateRefusals() throws {
        let scratch = TemporaryDirectory("citizencard-card-emulate")
        defer { withExtendedLifetime(scratch) {} }
        let card = try Self.makeCard(in: scratch.url)
        for address in ["10.0.0.1:35963", "192.168.1.20:35963", "example.com:35963", "0.0.0.0:35963", "[::]:35963"] {
            let result = try Binary.run(["card", "emulate", "--card", card.path, "--vpcd", address], in: scratch.url)
            #expect(result.status != 0, "\(address) was accepted")
            #expect(result.errors.contains("loopback"), "\(address): \(result.errors)")
        }
        let port = try FakeVPCD.unusedPort()
        let started = Date()
        let result = try Binary.run(
            [
                "card", "emulate", "--card", card.path, "--vpcd", "127.0.0.1:\(port)", "--connect-attempts", "3",
                "--retry-interval", "0.2",
            ], in: scratch.url)
        #expect(result.status != 0)
        #expect(result.errors.contains("after 3 attempts"), "\(result.output)\(result.errors)")
        #expect(Date().timeIntervalSince(started) < 30)
    }

    @Test("card emulate speaks vpcd: waits for vpcd, ATR, APDUs, saves before answering, reconnects, SIGTERM")
    func emulateAgainstFakeVPCD() throws {
        let scratch = TemporaryDirectory("citizencard-card-vpcd")
        defer { withExtendedLifetime(scratch) {} }
        let cardURL = try Self.makeCard(in: scratch.url)
        let original = try SoftwareCard.load(from: cardURL)
        let port = try FakeVPCD.unusedPort()
        // The emulator starts before "vpcd" listens: it must keep trying.
        let emulator = try Background(
            Binary.url,
            ["card", "emulate", "--card", cardURL.path, "--vpcd", "localhost:\(port)", "--retry-interval", "0.2"],
            in: scratch.url, name: "emulate")
        defer { emulator.terminate() }
        Thread.sleep(forTimeInterval: 1)
        #expect(emulator.isRunning, "the emulator gave up too early: \(emulator.errorText)")
        let vpcd = try FakeVPCD(port: port)
        defer { vpcd.close() }
        var connection = try vpcd.accept(timeout: 30)

        try connection.send([0x04])
        #expect(try connection.receive() == SoftwareCard.answerToReset)
        try connection.send([0x01])  // power on: no answer
        try connection.send([0x04])
        #expect(try connection.receive() == [0x3B, 0x80, 0x80, 0x01, 0x01])

        let select = try connection.exchange(Self.selectPurse)
        #expect(select.sw == "9000" && select.data.first == 0x6F, "SELECT: \(select)")
        #expect(Hex.encode(select.data).contains("8409A00000000386980701"), "the FCI names the purse: \(select)")
        let balance = try connection.exchange(Self.getBalance)
        #expect(balance.sw == "9000" && balance.data == [0, 0, 0, 0], "GET BALANCE: \(balance)")
        let initialize = try connection.exchange(Self.initializeForLoad)
        #expect(initialize.sw == "9000", "INITIALIZE FOR LOAD: \(initialize)")
        try Self.checkInitializeForLoad(initialize.data, balance: [0, 0, 0, 0], counter: [0, 0])
        // Saved before the answer left: the file already holds the selection (and the pending load).
        let during = try SoftwareCard.load(from: cardURL)
        #expect(during.session.selected == .purse)
        #expect(during.purses == original.purses, "INITIALIZE alone changes no balance, counter or log")

        // vpcd goes away (pcscd restarted): the emulator reconnects and answers again.
        connection.close()
        connection = try vpcd.accept(timeout: 30)
        try connection.send([0x02])  // reset
        try connection.send([0x04])
        #expect(try connection.receive() == SoftwareCard.answerToReset)
        let again = try connection.exchange(Self.getBalance)
        #expect(again.sw == "6985", "after a reset no application is selected: \(again)")

        let status = emulator.terminate()
        #expect(status == 0, "\(emulator.outputText)\(emulator.errorText)")
        #expect(emulator.outputText.contains("Stopped (SIGTERM)"), "\(emulator.outputText)")
        let after = try SoftwareCard.load(from: cardURL)
        #expect(after.purses == original.purses)
        #expect(after.session.selected == nil, "the reset was saved")
        #expect(after.asn == original.asn && after.holder == original.holder)
    }

    // MARK: real PC/SC

    @Test(
        "opensc-tool through pcscd and vpcd: SELECT, GET BALANCE, INITIALIZE FOR LOAD; MAC1 recomputed here",
        .enabled(
            if: PCSC.available,
            "needs opensc-tool, pcscd and vsmartcard's vpcd driver, and a running pcscd or the right to start one (Debian: apt-get install pcscd vsmartcard-vpcd opensc)"
        ),
        .timeLimit(.minutes(10)))
    func openscTool() throws {
        let lock = try PCSC.Lock.acquire(timeout: 480)
        defer { lock.release() }
        let scratch = TemporaryDirectory("citizencard-pcsc")
        defer { withExtendedLifetime(scratch) {} }
        let cardURL = try Self.makeCard(in: scratch.url)
        let original = try SoftwareCard.load(from: cardURL)
        let stack = try PCSC.Stack.start(in: scratch.url)
        defer { stack.stop() }

        let emulator = try Background(
            Binary.url, ["card", "emulate", "--card", cardURL.path, "--vpcd", "127.0.0.1:\(stack.port)"],
            in: scratch.url, name: "emulate")
        defer { emulator.terminate() }
        let reader = try stack.waitForCard(inReaderNamed: stack.readerName, emulator: emulator)

        let atr = try PCSC.tool(["--reader", "\(reader)", "--atr"])
        #expect(atr.output.lowercased().contains("3b:80:80:01:01"), "ATR: \(atr.output)\(atr.errors)")

        // One opensc-tool run is one card session; `--card-driver default` stops OpenSC's driver
        // probing, so the card sees exactly these three commands.
        let run = try PCSC.tool([
            "--reader", "\(reader)", "--card-driver", "default", "--send-apdu", Self.selectPurse, "--send-apdu",
            Self.getBalance, "--send-apdu", Self.initializeForLoad,
        ])
        #expect(run.status == 0, "opensc-tool: \(run.output)\(run.errors)")
        let responses = PCSC.responses(run.output)
        try #require(responses.count == 3, "three answers expected:\n\(run.output)\(run.errors)")
        #expect(responses[0].sw == "9000" && responses[0].data.first == 0x6F, "SELECT: \(responses[0])")
        #expect(Hex.encode(responses[0].data).contains("8409A00000000386980701"), "FCI: \(responses[0])")
        #expect(responses[1].sw == "9000" && responses[1].data == [0, 0, 0, 0], "GET BALANCE: \(responses[1])")
        #expect(responses[2].sw == "9000", "INITIALIZE FOR LOAD: \(responses[2])")
        try Self.checkInitializeForLoad(responses[2].data, balance: [0, 0, 0, 0], counter: [0, 0])

        let status = emulator.terminate()
        #expect(status == 0, "\(emulator.outputText)\(emulator.errorText)")
        let after = try SoftwareCard.load(from: cardURL)
        #expect(after.purses == original.purses, "no CREDIT: balance, online counter and log unchanged")
        #expect(after.purses.purse.onlineCounter == 0 && after.balance() == 0 && after.purses.log.isEmpty)
        #expect(after.asn == original.asn && after.holder == original.holder && after.keyVersion == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: cardURL.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    // MARK: helpers

    /// `citizencard card new --test-keys` in `directory`.
    static func makeCard(in directory: URL) throws -> URL {
        let url = directory.appendingPathComponent("card.json")
        let result = try Binary.run(
            ["card", "new", "--asn", asn, "--test-keys", "--out", url.path], in: directory)
        try #require(result.status == 0, "card new: \(result.output)\(result.errors)")
        return url
    }

    /// Checks an INITIALIZE FOR LOAD answer (balance ‖ online counter ‖ key version ‖ algorithm id
    /// ‖ random ‖ MAC1) against MAC1 recomputed from the handout (CARDTECH.md §5.2–§5.4):
    /// DLK = 3DES(MK, D) ‖ 3DES(MK, ~D), SESLK = 3DES(DLK, random ‖ counter ‖ 8000),
    /// MAC1 = PBOC-MAC(SESLK, balance ‖ amount ‖ 02 ‖ terminal).
    static func checkInitializeForLoad(_ data: [UInt8], balance: [UInt8], counter: [UInt8]) throws {
        try #require(data.count == 16, "16 bytes expected, got \(Hex.encode(data))")
        #expect(Array(data[0..<4]) == balance)
        #expect(Array(data[4..<6]) == counter)
        #expect(data[6] == 0x01, "key version")
        #expect(data[7] == 0x00, "algorithm id: 3DES")
        let random = Array(data[8..<12])
        let masterKey = try SecretKey(hex: "0123456789ABCDEFFEDCBA9876543210")
        let diversifier = try Array(Hex.decode(asn).suffix(8))
        let dlk = try SecretKey(
            bytes: BlockAlgorithm.tripleDES.encrypt(diversifier, key: masterKey)
                + BlockAlgorithm.tripleDES.encrypt(diversifier.map { ~$0 }, key: masterKey))
        #expect(dlk.withUnsafeKeyBytes { Hex.encode($0) } == "A4686EDBEBDA37A846EA1267D54E118D", "§6 Diversify")
        let sessionKey = try SecretKey(
            bytes: BlockAlgorithm.tripleDES.encrypt(random + data[4..<6] + [0x80, 0x00], key: dlk))
        let mac1 = try CardMAC.pboc(key: sessionKey, data: balance + amount + [0x02] + terminal)
        #expect(Hex.encode(data[12..<16]) == Hex.encode(mac1.bytes), "MAC1 for random \(Hex.encode(random))")
    }
}

/// One R-APDU: data and status word (hex).
struct CardResponse: CustomStringConvertible {
    var data: [UInt8]
    var sw: String
    var description: String { "\(Hex.encode(data)) \(sw)" }

    init(_ bytes: [UInt8]) {
        data = Array(bytes.dropLast(2))
        sw = Hex.encode(bytes.suffix(2))
    }

    init(data: [UInt8], sw: String) {
        self.data = data
        self.sw = sw
    }
}

// MARK: - a child process in the background

/// A child process whose output goes to files; `terminate()` sends SIGTERM (then SIGKILL after
/// 20 s) and waits.
final class Background: @unchecked Sendable {
    let process = Process()
    let output: URL
    let errors: URL

    init(_ executable: URL, _ arguments: [String], in directory: URL, name: String) throws {
        output = directory.appendingPathComponent("\(name).out")
        errors = directory.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        // The child inherits this thread's signal mask, and the test runner's threads block
        // SIGTERM, SIGINT and SIGHUP: a pcscd started with them blocked never stops on SIGTERM.
        var stopSignals = sigset_t()
        var previous = sigset_t()
        sigemptyset(&stopSignals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&stopSignals, signal) }
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var outputText: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    var errorText: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    /// SIGTERM, waits up to 20 s, then SIGKILL. `nudge` runs every second while the process lives.
    @discardableResult
    func terminate(nudge: (() -> Void)? = nil) -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let start = Date()
            var nudged = 0
            while process.isRunning && Date().timeIntervalSince(start) < 20 {
                usleep(20_000)
                if let nudge, Int(Date().timeIntervalSince(start)) > nudged {
                    nudged += 1
                    nudge()
                }
            }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit { terminate() }
}

// MARK: - a fake vpcd (the TCP side of the vpcd driver, CARDTECH.md §2)

/// Listens on 127.0.0.1 like vpcd; messages are a 2-byte big-endian length and a payload.
final class FakeVPCD {
    let listener: Int32

    struct Failure: Error, CustomStringConvertible { var description: String }

    init(port: UInt16) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listener, 4) == 0 else {
            Glibc.close(listener)
            throw Failure(description: "cannot listen on 127.0.0.1:\(port): errno \(errno)")
        }
    }

    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// A TCP port on which nothing listens right now (bound to port 0, then closed).
    static func unusedPort() throws -> UInt16 {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(probe) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(probe, $0, length) == 0 && getsockname(probe, $0, &length) == 0
            }
        }
        guard ok else { throw Failure(description: "no free port: errno \(errno)") }
        return UInt16(bigEndian: address.sin_port)
    }

    func accept(timeout: Double) throws -> Connection {
        var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(timeout * 1000)) == 1 else {
            throw Failure(description: "the emulator did not connect within \(timeout) s")
        }
        let client = Glibc.accept(listener, nil, nil)
        guard client >= 0 else { throw Failure(description: "accept failed: errno \(errno)") }
        return Connection(descriptor: client)
    }

    func close() { Glibc.close(listener) }

    struct Connection {
        let descriptor: Int32

        func send(_ payload: [UInt8]) throws {
            let message = [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)] + payload
            let sent = message.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, message.count, 0) }
            guard sent == message.count else { throw Failure(description: "send failed") }
        }

        func receive(timeout: Double = 30) throws -> [UInt8] {
            let header = try read(2, timeout: timeout)
            return try read(Int(header[0]) << 8 | Int(header[1]), timeout: timeout)
        }

        /// Sends a C-APDU in hex and returns the R-APDU.
        func exchange(_ apdu: String) throws -> CardResponse {
            try send(Hex.decode(apdu))
            return CardResponse(try receive())
        }

        private func read(_ count: Int, timeout: Double) throws -> [UInt8] {
            var bytes: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            while bytes.count < count {
                var descriptor = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard Date() < deadline, poll(&descriptor, 1, 100) >= 0 else {
                    throw Failure(description: "no answer from the emulator")
                }
                if descriptor.revents == 0 { continue }
                var chunk = [UInt8](repeating: 0, count: count - bytes.count)
                let received = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
                guard received > 0 else { throw Failure(description: "the emulator closed the connection") }
                bytes += chunk.prefix(received)
            }
            return bytes
        }

        func close() { Glibc.close(descriptor) }
    }
}

// MARK: - the real PC/SC stack

enum PCSC {
    static let openscTool = executable("opensc-tool", also: ["/usr/bin/opensc-tool"])
    static let pcscd = executable("pcscd", also: ["/usr/sbin/pcscd", "/usr/local/sbin/pcscd"])
    static let vpcdDriver = [
        "/usr/lib/pcsc/drivers/serial/libifdvpcd.so", "/usr/local/lib/pcsc/drivers/serial/libifdvpcd.so",
    ].first { FileManager.default.fileExists(atPath: $0) }
    static let socketPath = ProcessInfo.processInfo.environment["PCSCLITE_CSOCK_NAME"] ?? "/run/pcscd/pcscd.comm"

    /// The tools and the driver are installed, and a pcscd runs or this process may start one.
    static var available: Bool {
        guard openscTool != nil, pcscd != nil, vpcdDriver != nil else { return false }
        return daemonRunning || geteuid() == 0
    }

    static func executable(_ name: String, also paths: [String]) -> String? {
        let searchPath = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map {
            "\($0)/\(name)"
        }
        return (searchPath + paths).first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Something accepts connections on pcscd's socket (a daemon, or systemd's socket activation).
    static var daemonRunning: Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path + [0]) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    struct ToolResult {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs opensc-tool, killing it after `timeout` seconds.
    static func tool(_ arguments: [String], timeout: Double = 60) throws -> ToolResult {
        let directory = FileManager.default.temporaryDirectory
        let name = "opensc-\(UUID().uuidString)"
        let child = try Background(
            URL(fileURLWithPath: openscTool ?? "opensc-tool"), arguments, in: directory, name: name)
        let deadline = Date().addingTimeInterval(timeout)
        while child.isRunning && Date() < deadline { usleep(20_000) }
        if child.isRunning { kill(child.process.processIdentifier, SIGKILL) }
        child.process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: child.output)
            try? FileManager.default.removeItem(at: child.errors)
        }
        return ToolResult(status: child.process.terminationStatus, output: child.outputText, errors: child.errorText)
    }

    /// The answers in `opensc-tool --send-apdu` output: a `Received (SW1=0x90, SW2=0x00)` line, then
    /// the data as `util_hex_dump_asc` prints it: up to 16 `XX ` groups and their ASCII on each
    /// line; a short first line has no padding, a short later line is padded to 48 columns.
    static func responses(_ output: String) -> [CardResponse] {
        var answers: [CardResponse] = []
        var dataLine = 0
        for line in output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("Received (SW1=0x") {
                let digits = line.split(whereSeparator: { !$0.isHexDigit && $0 != "x" }).filter { $0.hasPrefix("0x") }
                let sw = digits.prefix(2).map { $0.dropFirst(2) }.joined().uppercased()
                answers.append(CardResponse(data: [], sw: sw))
                dataLine = 0
                continue
            }
            if line.hasPrefix("Sending:") || line.hasPrefix("Using reader") || answers.isEmpty || line.isEmpty {
                if line.hasPrefix("Sending:") { dataLine = -1 }
                continue
            }
            guard dataLine >= 0 else { continue }
            let length = line.utf8.count
            let count = length == 64 ? 16 : (dataLine == 0 ? length / 4 : length - 48)
            let hex = line.utf8.prefix(3 * max(count, 0))
            let bytes = (try? Hex.decode(String(decoding: hex.filter { $0 != 0x20 }, as: UTF8.self))) ?? []
            answers[answers.count - 1].data += bytes
            dataLine += 1
        }
        return answers
    }

    /// The readers opensc-tool lists: number, card present, name.
    static func readers() throws -> [(number: Int, card: Bool, name: String)] {
        let list = try tool(["--list-readers"])
        return list.output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 3, let number = Int(fields[0]), let nameStart = line.range(of: "Virtual PCD")
            else { return nil }
            return (number, fields[1] == "Yes", String(line[nameStart.lowerBound...]))
        }
    }

    /// pcscd with the vpcd driver: the running daemon, or one started here with its own
    /// reader.conf.d (vpcd on a free port) and stopped afterwards.
    final class Stack {
        let daemon: Background?
        let port: UInt16
        let readerName: String

        private init(daemon: Background?, port: UInt16, readerName: String) {
            self.daemon = daemon
            self.port = port
            self.readerName = readerName
        }

        static func start(in directory: URL) throws -> Stack {
            if daemonRunning {
                // Somebody else's pcscd: its vpcd listens where /etc/reader.conf.d/vpcd says
                // (35963 for slot 00, 35964 for slot 01); take a slot without a card.
                let base = systemVPCDPort()
                var free: (number: Int, card: Bool, name: String)?
                let deadline = Date().addingTimeInterval(30)
                while free == nil && Date() < deadline {
                    free = try readers().first { !$0.card }
                    if free == nil { Thread.sleep(forTimeInterval: 0.5) }
                }
                guard let free, let slot = free.name.split(separator: " ").last.flatMap({ Int($0, radix: 16) })
                else {
                    throw FakeVPCD.Failure(
                        description: "the running pcscd has no free vpcd reader: \(try readers())")
                }
                return Stack(daemon: nil, port: base + UInt16(slot), readerName: free.name)
            }
            let port = try freePortPair()
            let configuration = directory.appendingPathComponent("reader.conf.d")
            try FileManager.default.createDirectory(at: configuration, withIntermediateDirectories: true)
            try Data(
                """
                FRIENDLYNAME "Virtual PCD"
                DEVICENAME   /dev/null:\(port)
                LIBPATH      \(vpcdDriver ?? "")

                """.utf8
            ).write(to: configuration.appendingPathComponent("vpcd"))
            // --auto-exit: should this process die, the daemon leaves by itself after 60 idle seconds.
            let daemon = try Background(
                URL(fileURLWithPath: pcscd ?? "pcscd"), ["--foreground", "--auto-exit", "-c", configuration.path],
                in: directory, name: "pcscd")
            let stack = Stack(daemon: daemon, port: port, readerName: "Virtual PCD 00 00")
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                guard daemon.isRunning else {
                    throw FakeVPCD.Failure(
                        description: "pcscd stopped at once:\n\(daemon.outputText)\(daemon.errorText)")
                }
                if daemonRunning, try readers().contains(where: { $0.name == stack.readerName }) { return stack }
                Thread.sleep(forTimeInterval: 0.3)
            }
            stack.stop()
            throw FakeVPCD.Failure(description: "pcscd did not list the vpcd reader:\n\(daemon.outputText)")
        }

        /// Waits until the reader shows a card (the emulator connected and answered the ATR).
        func waitForCard(inReaderNamed name: String, emulator: Background) throws -> Int {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                guard emulator.isRunning else {
                    throw FakeVPCD.Failure(description: "the emulator stopped: \(emulator.errorText)")
                }
                if let reader = try readers().first(where: { $0.name == name && $0.card }) { return reader.number }
                Thread.sleep(forTimeInterval: 0.3)
            }
            throw FakeVPCD.Failure(
                description: "no card in \(name):\n\(try readers())\n\(emulator.outputText)\(emulator.errorText)")
        }

        /// Stops the daemon if this test started it. pcscd's main thread waits in `select` without
        /// a timeout and sees a SIGTERM only when the signal lands on it or a client connects; so
        /// every second it gets a connection and another SIGTERM (the third one forces its exit).
        func stop() {
            guard let daemon else { return }
            daemon.terminate {
                _ = PCSC.daemonRunning
                kill(daemon.process.processIdentifier, SIGTERM)
            }
        }

        /// vpcd's port in /etc/reader.conf.d/vpcd (`DEVICENAME /dev/null:0x8C7B`), or 35963.
        static func systemVPCDPort() -> UInt16 {
            let text = (try? String(contentsOfFile: "/etc/reader.conf.d/vpcd", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") where line.hasPrefix("DEVICENAME") {
                guard let port = line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) else { break }
                let value = port.hasPrefix("0x") ? UInt16(port.dropFirst(2), radix: 16) : UInt16(port)
                if let value { return value }
            }
            return 35963
        }

        /// A port P with P and P+1 free (vpcd's two slots), any address.
        static func freePortPair() throws -> UInt16 {
            for _ in 0..<50 {
                let port = UInt16.random(in: 20000...60000)
                if canBind(port) && canBind(port + 1) { return port }
            }
            throw FakeVPCD.Failure(description: "no free pair of ports for vpcd")
        }

        static func canBind(_ port: UInt16) -> Bool {
            let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(probe) }
            var address = FakeVPCD.loopback(port: port)
            address.sin_addr.s_addr = 0  // INADDR_ANY, as vpcd binds
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
        }
    }

    /// One PC/SC test at a time on this machine (two `swift test` runs share pcscd and vpcd's
    /// ports): an exclusive `flock`, released when the process ends whatever happens.
    struct Lock {
        let descriptor: Int32

        static func acquire(timeout: Double) throws -> Lock {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("citizencard-pcsc-tests.lock").path
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else { throw FakeVPCD.Failure(description: "cannot open \(path)") }
            let deadline = Date().addingTimeInterval(timeout)
            while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
                guard Date() < deadline else {
                    close(descriptor)
                    throw FakeVPCD.Failure(description: "another PC/SC test held \(path) for \(timeout) s")
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
            return Lock(descriptor: descriptor)
        }

        func release() {
            flock(descriptor, LOCK_UN)
            close(descriptor)
        }
    }
}

import BankProtocol
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the simulated bank answers the center's requests (`POST /control/mode`).
public enum BankSimulatorMode: String, Codable, Sendable, CaseIterable {
    /// Answers at once.
    case normal
    /// Acts at once, answers after the delay.
    case slow
    /// Answers 500 to `/accounts` and `/notices` without acting.
    case error
    /// Closes the connection without answering and without acting.
    case drop
}

/// What the simulated bank holds (`GET /control/state`).
public struct BankSimulatorSnapshot: Codable, Sendable, Hashable {
    public struct Account: Codable, Sendable, Hashable {
        public var requestId: String
        public var cardNumber: String
        public var accountNumber: String
        public var businessDate: String
    }

    public struct Notice: Codable, Sendable, Hashable {
        public var noticeId: String
        public var kind: String
        public var cardNumber: String
        public var sequence: Int64
        public var businessDate: String
        /// How often the notice arrived: 1, then one more for every duplicate.
        public var received: Int
    }

    public var mode: BankSimulatorMode
    public var delayMs: Int
    /// In the order they were opened.
    public var accounts: [Account]
    /// In the order they arrived.
    public var notices: [Notice]
    /// Requests refused for their signature or bank code.
    public var rejected: Int
    /// Notices whose sequence was not the card's previous one plus one.
    public var outOfOrder: Int
    /// Notices that arrived again (not acted on again).
    public var duplicates: Int
}

/// One line of the journal: an account opened or a notice accepted.
struct JournalLine: Codable {
    var type: String
    var requestId: String?
    var cardNumber: String
    var accountNumber: String?
    var accountSequence: Int64?
    var noticeId: String?
    var kind: String?
    var sequence: Int64?
    var businessDate: String
}

/// The bank's books and its journal, behind one lock: a request's check, its journal line (written
/// and fsync'ed) and its change in memory happen together, so concurrent requests with the same id
/// act once, and what is in memory is never ahead of what is on disk.
final class SimulatorLedger: Sendable {
    struct Books {
        var accounts: [BankSimulatorSnapshot.Account] = []
        var accountByRequest: [String: Int] = [:]
        var accountByCard: [String: Int] = [:]
        var lastAccountSequence: Int64 = 0
        var notices: [BankSimulatorSnapshot.Notice] = []
        var noticeByID: [String: Int] = [:]
        var lastSequenceByCard: [String: Int64] = [:]
        var rejected = 0
        var outOfOrder = 0
        var duplicates = 0
        var mode = BankSimulatorMode.normal
        var delayMs = 2000
        var refused: Set<String> = []
        var journal: Int32 = -1

        mutating func openAccount(_ line: JournalLine) {
            guard let requestId = line.requestId, let accountNumber = line.accountNumber else { return }
            let account = BankSimulatorSnapshot.Account(
                requestId: requestId, cardNumber: line.cardNumber, accountNumber: accountNumber,
                businessDate: line.businessDate)
            accountByRequest[requestId] = accounts.count
            accountByCard[line.cardNumber] = accounts.count
            accounts.append(account)
            lastAccountSequence = max(lastAccountSequence, line.accountSequence ?? lastAccountSequence + 1)
        }

        mutating func acceptNotice(_ line: JournalLine) {
            guard let noticeId = line.noticeId, let kind = line.kind, let sequence = line.sequence else { return }
            if sequence != (lastSequenceByCard[line.cardNumber] ?? 0) + 1 { outOfOrder += 1 }
            lastSequenceByCard[line.cardNumber] = sequence
            noticeByID[noticeId] = notices.count
            notices.append(
                .init(
                    noticeId: noticeId, kind: kind, cardNumber: line.cardNumber, sequence: sequence,
                    businessDate: line.businessDate, received: 1))
        }
    }

    let configuration: BankSimulatorConfiguration
    let books: Mutex<Books>

    /// Replays the journal at `configuration.statePath` (created when absent) and keeps it open.
    init(configuration: BankSimulatorConfiguration) throws(BankSimulatorError) {
        self.configuration = configuration
        let path = configuration.statePath
        var books = Books()
        let descriptor = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw BankSimulatorError("cannot open the state file \(path): \(String(cString: strerror(errno)))")
        }
        do throws(BankSimulatorError) {
            let content = try Self.readAll(descriptor, path: path)
            // A line cut short by a crash was never answered: drop it, so that the next line starts clean.
            var complete = content.count
            if let lastNewline = content.lastIndex(of: UInt8(ascii: "\n")) {
                complete = lastNewline + 1
            } else {
                complete = 0
            }
            if complete < content.count {
                guard ftruncate(descriptor, off_t(complete)) == 0 else {
                    throw BankSimulatorError(
                        "cannot drop the incomplete last line of the state file \(path): "
                            + String(cString: strerror(errno)))
                }
            }
            let decoder = JSONDecoder()
            var number = 0
            for line in content[..<complete].split(separator: UInt8(ascii: "\n")) {
                number += 1
                guard let entry = try? decoder.decode(JournalLine.self, from: Data(line)) else {
                    throw BankSimulatorError("the state file \(path) has an unreadable line \(number)")
                }
                switch entry.type {
                case "account": books.openAccount(entry)
                case "notice": books.acceptNotice(entry)
                default: throw BankSimulatorError("the state file \(path) has an unknown line \(number)")
                }
            }
        } catch {
            _ = closeDescriptor(descriptor)
            throw error
        }
        books.journal = descriptor
        self.books = Mutex(books)
    }

    static func readAll(_ descriptor: Int32, path: String) throws(BankSimulatorError) -> [UInt8] {
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw BankSimulatorError("cannot read the state file \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return content }
            content += chunk[..<count]
        }
    }

    func close() {
        books.withLock { books in
            if books.journal >= 0 {
                _ = closeDescriptor(books.journal)
                books.journal = -1
            }
        }
    }

    // MARK: The center's requests

    /// `POST /accounts`.
    func openAccount(_ request: BankMessages.AccountRequest) -> (status: Int, answer: BankMessages.AccountAnswer) {
        books.withLock { books in
            if let index = books.accountByRequest[request.requestId] {
                return (200, .init(requestId: request.requestId, accountNumber: books.accounts[index].accountNumber))
            }
            if books.refused.contains(request.idNumber) {
                return (422, .init(requestId: request.requestId, refused: "applicant refused by the bank"))
            }
            let sequence = books.lastAccountSequence + 1
            let accountNumber = BankCardNumber.make(
                bin: configuration.bin, sequence: sequence, length: configuration.accountNumberLength)
            let line = JournalLine(
                type: "account", requestId: request.requestId, cardNumber: request.cardNumber,
                accountNumber: accountNumber, accountSequence: sequence, businessDate: request.businessDate)
            if let failure = Self.append(line, to: books.journal) {
                return (
                    500, .init(requestId: request.requestId, refused: "the bank cannot record the account: \(failure)")
                )
            }
            books.openAccount(line)
            return (200, .init(requestId: request.requestId, accountNumber: accountNumber))
        }
    }

    /// `POST /notices`.
    func receive(_ notice: BankMessages.Notice) -> (status: Int, answer: BankMessages.NoticeAnswer) {
        books.withLock { books in
            if let index = books.noticeByID[notice.noticeId] {
                books.notices[index].received += 1
                books.duplicates += 1
                return (200, .init(noticeId: notice.noticeId, status: "duplicate"))
            }
            let line = JournalLine(
                type: "notice", cardNumber: notice.cardNumber, noticeId: notice.noticeId, kind: notice.kind.rawValue,
                sequence: notice.sequence, businessDate: notice.businessDate)
            if let failure = Self.append(line, to: books.journal) {
                return (500, .init(noticeId: notice.noticeId, status: "not recorded: \(failure)"))
            }
            books.acceptNotice(line)
            return (200, .init(noticeId: notice.noticeId, status: "accepted"))
        }
    }

    /// `GET /reconciliation?date=`.
    func statement(date: String) -> BankMessages.ReconciliationStatement {
        books.withLock { books in
            .init(
                date: date,
                notices: books.notices.filter { $0.businessDate == date }.map(\.noticeId),
                accounts: books.accounts.filter { $0.businessDate == date }.map {
                    .init(cardNumber: $0.cardNumber, accountNumber: $0.accountNumber)
                })
        }
    }

    // MARK: Control

    var mode: (mode: BankSimulatorMode, delayMs: Int) {
        books.withLock { ($0.mode, $0.delayMs) }
    }

    func setMode(_ mode: BankSimulatorMode, delayMs: Int?) {
        books.withLock {
            $0.mode = mode
            if let delayMs { $0.delayMs = max(0, delayMs) }
        }
    }

    func setRefused(_ idNumbers: Set<String>) {
        books.withLock { $0.refused = idNumbers }
    }

    func countRejected() {
        books.withLock { $0.rejected += 1 }
    }

    func accountNumber(forCard cardNumber: String) -> String? {
        books.withLock { books in books.accountByCard[cardNumber].map { books.accounts[$0].accountNumber } }
    }

    func snapshot() -> BankSimulatorSnapshot {
        books.withLock {
            .init(
                mode: $0.mode, delayMs: $0.delayMs, accounts: $0.accounts, notices: $0.notices, rejected: $0.rejected,
                outOfOrder: $0.outOfOrder, duplicates: $0.duplicates)
        }
    }

    // MARK: The journal

    /// Writes the line and fsyncs it; the reason on failure.
    static func append(_ line: JournalLine, to descriptor: Int32) -> String? {
        guard descriptor >= 0 else { return "the bank is stopping" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard var bytes = try? encoder.encode(line) else { return "cannot encode the journal line" }
        bytes.append(UInt8(ascii: "\n"))
        let end = lseek(descriptor, 0, SEEK_END)
        let written: Bool = bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += count
            }
            return true
        }
        guard written else {
            let reason = "cannot write the state file: \(String(cString: strerror(errno)))"
            // No half line: the next one must start at the beginning of a line.
            if end >= 0 { _ = ftruncate(descriptor, end) }
            return reason
        }
        guard fsync(descriptor) == 0 else {
            return "cannot sync the state file: \(String(cString: strerror(errno)))"
        }
        return nil
    }
}

private func closeDescriptor(_ descriptor: Int32) -> Int32 {
    close(descriptor)
}

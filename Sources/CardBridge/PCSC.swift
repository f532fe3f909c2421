import CPCSCLite
package import SmartCard

/// What can go wrong between this process and a card in a PC/SC reader. Descriptions name the
/// reader and PCSC-lite's own text for its code; they never carry APDU data.
package enum PCSCError: Error, Equatable, CustomStringConvertible {
    /// pcscd is not running (and no socket activation starts it).
    case noService
    /// pcscd runs but has no reader.
    case noReaders
    /// `--reader` names no reader, or several.
    case readerNotFound(name: String, available: [String])
    /// No card in the reader(s) tried.
    case noCard(readers: [String])
    /// Any other PCSC-lite failure.
    case failed(operation: String, code: Int, text: String)

    package var description: String {
        switch self {
        case .noService:
            "no PC/SC service: pcscd is not running (Debian: apt-get install pcscd; start it or its socket)"
        case .noReaders:
            "pcscd has no card reader"
        case .readerNotFound(let name, let available):
            "no single reader matches \"\(name)\"; the readers are: \(available.joined(separator: "; "))"
        case .noCard(let readers):
            "no card in \(readers.count == 1 ? "the reader \(readers[0])" : "any reader (\(readers.joined(separator: "; ")))")"
        case .failed(let operation, let code, let text):
            "PC/SC \(operation) failed: \(text) (0x\(String(code, radix: 16, uppercase: true)))"
        }
    }
}

/// The PCSC-lite return codes this client tells apart (pcsclite.h; `LONG` is a C long).
enum PCSCCode {
    static let success = 0x0000_0000
    static let noSmartcard = 0x8010_000C
    static let noService = 0x8010_001D
    static let noReadersAvailable = 0x8010_002E
    static let removedCard = 0x8010_0069
    static let resetCard = 0x8010_0068
    static let notTransacted = 0x8010_0016
    static let readerUnavailable = 0x8010_0017
    static let unknownReader = 0x8010_0009
}

/// A PC/SC resource-manager context (SCardEstablishContext). Release it with `release()`.
package struct PCSCContext {
    let handle: SCARDCONTEXT

    /// The system-scope context; `noService` when pcscd is not running.
    package static func establish() throws(PCSCError) -> PCSCContext {
        var handle: SCARDCONTEXT = 0
        let code = Int(SCardEstablishContext(DWORD(SCARD_SCOPE_SYSTEM), nil, nil, &handle))
        if code == PCSCCode.noService { throw .noService }
        try Self.check(code, "SCardEstablishContext")
        return PCSCContext(handle: handle)
    }

    package func release() { _ = SCardReleaseContext(handle) }

    /// The reader names, in pcscd's order; `noReaders` when there is none.
    package func readers() throws(PCSCError) -> [String] {
        var length: DWORD = 0
        var code = Int(SCardListReaders(handle, nil, nil, &length))
        if code == PCSCCode.noReadersAvailable { throw .noReaders }
        try Self.check(code, "SCardListReaders")
        var buffer = [CChar](repeating: 0, count: Int(length))
        code = Int(SCardListReaders(handle, nil, &buffer, &length))
        if code == PCSCCode.noReadersAvailable { throw .noReaders }
        try Self.check(code, "SCardListReaders")
        // A multi-string: names separated by NUL, ended by an empty name.
        let names = buffer.prefix(Int(length)).split(separator: 0).map { name in
            String(decoding: name.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard !names.isEmpty else { throw .noReaders }
        return names
    }

    /// The reader `name` names: the reader of that exact name, else the one reader whose name
    /// contains it; without a name, every reader in order (the caller takes the first with a card).
    package func candidateReaders(named name: String?) throws(PCSCError) -> [String] {
        let all = try readers()
        guard let name else { return all }
        if all.contains(name) { return [name] }
        let matching = all.filter { $0.contains(name) }
        guard matching.count == 1 else { throw .readerNotFound(name: name, available: all) }
        return matching
    }

    /// Connects to the card in the first of `readers` that holds one (shared mode, T=0 or T=1),
    /// inside a PC/SC transaction so that no other client's commands interleave with ours.
    package func connectFirstCard(in readers: [String]) throws(PCSCError) -> PCSCCard {
        for reader in readers {
            var card: SCARDHANDLE = 0
            var activeProtocol: DWORD = 0
            let code = Int(
                SCardConnect(
                    handle, reader, DWORD(SCARD_SHARE_SHARED), DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1), &card,
                    &activeProtocol))
            if [PCSCCode.noSmartcard, PCSCCode.removedCard, PCSCCode.readerUnavailable].contains(code) { continue }
            try Self.check(code, "SCardConnect to \(reader)")
            let begin = Int(SCardBeginTransaction(card))
            guard begin == PCSCCode.success else {
                _ = SCardDisconnect(card, DWORD(SCARD_LEAVE_CARD))
                try Self.check(begin, "SCardBeginTransaction on \(reader)")
                continue
            }
            return PCSCCard(handle: card, activeProtocol: activeProtocol, reader: reader)
        }
        throw .noCard(readers: readers)
    }

    static func check(_ code: Int, _ operation: String) throws(PCSCError) {
        guard code != PCSCCode.success else { return }
        let text = pcsc_stringify_error(LONG(code)).map { String(cString: $0) } ?? "unknown error"
        throw .failed(operation: operation, code: code, text: text)
    }
}

/// A connected card: a `CardChannel` over SCardTransmit. `disconnect()` ends the transaction and
/// leaves the card powered as it was.
package struct PCSCCard: CardChannel {
    let handle: SCARDHANDLE
    var activeProtocol: DWORD
    package let reader: String
    /// Whether a command has been answered on this connection (a reset before the first one is
    /// harmless: nothing was selected yet).
    var answered = false
    /// What PCSC-lite said when the last command got no answer, for the message.
    package private(set) var lastFailure: PCSCError?

    init(handle: SCARDHANDLE, activeProtocol: DWORD, reader: String) {
        self.handle = handle
        self.activeProtocol = activeProtocol
        self.reader = reader
    }

    /// The longest short response: 256 data bytes and the status word.
    static let responseByteCountMax = 258

    package mutating func transmit(_ command: [UInt8]) throws(CardChannelError) -> [UInt8] {
        var code = send(command)
        // A card that pcscd saw reset (inserted again, or reset by another client, which also ends
        // our transaction: "not transacted") just before our first command: reconnect once and
        // send it again. Later, a reset would have lost our selection, so it is a failure.
        if [PCSCCode.resetCard, PCSCCode.notTransacted].contains(code.status), !answered {
            var newProtocol: DWORD = 0
            let reconnected = Int(
                SCardReconnect(
                    handle, DWORD(SCARD_SHARE_SHARED), DWORD(SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1),
                    DWORD(SCARD_LEAVE_CARD), &newProtocol))
            if reconnected == PCSCCode.success {
                activeProtocol = newProtocol
                _ = SCardBeginTransaction(handle)
                code = send(command)
            }
        }
        // The card left, the reader went away, or pcscd stopped: the answer never arrived.
        guard code.status == PCSCCode.success, code.response.count >= 2 else {
            lastFailure =
                code.status == PCSCCode.success
                ? .failed(operation: "SCardTransmit", code: 0, text: "an answer shorter than a status word")
                : Self.failure(code.status)
            throw .noResponse
        }
        answered = true
        return code.response
    }

    private func send(_ command: [UInt8]) -> (status: Int, response: [UInt8]) {
        var sendPCI = SCARD_IO_REQUEST(
            dwProtocol: activeProtocol, cbPciLength: DWORD(MemoryLayout<SCARD_IO_REQUEST>.size))
        var response = [UInt8](repeating: 0, count: Self.responseByteCountMax)
        var length = DWORD(response.count)
        let code = Int(SCardTransmit(handle, &sendPCI, command, DWORD(command.count), nil, &response, &length))
        return (code, code == PCSCCode.success ? Array(response.prefix(Int(length))) : [])
    }

    static func failure(_ code: Int) -> PCSCError? {
        do {
            try PCSCContext.check(code, "SCardTransmit")
            return nil
        } catch {
            return error
        }
    }

    package func disconnect() {
        _ = SCardEndTransaction(handle, DWORD(SCARD_LEAVE_CARD))
        _ = SCardDisconnect(handle, DWORD(SCARD_LEAVE_CARD))
    }
}

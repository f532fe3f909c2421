public import CitizenCardDomain
import CardCrypto
import Foundation
import Ledger
import SmartCard
public import Storage

/// The card reader on a counter's PC as the server sees it: the counter agent
/// (`citizencard counter-agent`) carries each command to the card and its answer back. The
/// server composes every command, checks every answer and keeps every key; the agent and the
/// page see APDUs and results, never a key.
public protocol CounterReader: Sendable {
    /// The terminal number the counter sends to the card in INITIALIZE FOR LOAD (12 hex digits).
    var terminalID: String { get }
    /// Connects to the card in the reader, inside a PC/SC transaction that `end` closes.
    func begin() async throws(CounterReaderError)
    /// One command APDU; the answer with its status word.
    func transmit(_ command: [UInt8]) async throws(CounterReaderError) -> [UInt8]
    /// Ends the transaction and leaves the card (never throws: the card may be gone).
    func end() async
}

/// Why a command did not reach the card, or its answer did not come back.
public enum CounterReaderError: Error, Equatable, Sendable {
    /// No counter agent is connected for this operator.
    case noAgent
    /// The agent is connected but its reader holds no card.
    case noCard
    /// The card left the reader, or the link to the agent broke, before the answer arrived: the
    /// card may or may not have executed the command.
    case noAnswer(String)
    /// The agent is busy with another operation.
    case busy
}

/// Loads and reads at the counter with the card in the counter's reader (issue 21, part 5): the
/// host side of the online load (`PurseService`) driven end to end, so that the page only asks for
/// an amount and a funding source.
public struct CounterCardService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// What the chip says, read at the counter: its ASN, balance and online counter.
    public struct ChipView: Codable, Sendable, Equatable {
        public var asn: String
        public var balanceFen: Int64
        /// The host's shadow balance of the same purse (the ledger), for comparison.
        public var ledgerBalanceFen: Int64
    }

    /// How a load at the counter ended.
    public enum LoadOutcome: Sendable, Equatable {
        /// The card was credited and its TAC verified.
        case completed(PurseLoad)
        /// Approved, but the card's answer to CREDIT FOR LOAD did not arrive (the card was pulled,
        /// the reader or the agent went away) or was a refusal: the load waits for its resolution
        /// with the card in the reader (`resolve`).
        case interrupted(PurseLoad, reason: String)

        public var load: PurseLoad {
            switch self {
            case .completed(let load), .interrupted(let load, _): load
            }
        }
    }

    static let selectPurse: [UInt8] = [0x00, 0xA4, 0x04, 0x00, 0x09] + SoftwareCard.purseAID + [0x00]
    static let readIssuerFile: [UInt8] = [0x00, 0xB0, 0x95, 0x00, 0x1E]
    static let getBalance: [UInt8] = [0x80, 0x5C, 0x00, 0x02, 0x04]

    /// Reads the card in the reader; it must be `cardID`'s chip.
    public func read(
        _ cardID: Card.ID, reader: some CounterReader, actor: Actor
    ) async throws(CitizenCardError)
        -> ChipView
    {
        try actor.require(.counterService)
        let card = try await card(cardID)
        return try await session(reader) { () async throws(CitizenCardError) -> ChipView in
            try await selectAndCheck(card, reader)
            let balance = try await command(Self.getBalance, "GET BALANCE", reader)
            guard balance.data.count == 4 else { throw Self.notACitizenCard("GET BALANCE") }
            let account = AccountID.purse(card.id)
            let signed = try await env.fetch(try await env.store.ledgerBalances([account]))[account] ?? 0
            return ChipView(
                asn: card.asn, balanceFen: balance.data.reduce(Int64(0)) { $0 << 8 | Int64($1) },
                ledgerBalanceFen: account.normalBalance(signed: signed))
        }
    }

    /// An online load with the card in the reader: INITIALIZE FOR LOAD on the card, the host's
    /// approval (MAC1 checked, the load and its ledger transfer committed, MAC2 out), CREDIT FOR
    /// LOAD on the card, and its TAC checked. Anything that fails before the approval leaves
    /// nothing behind; after it, the load is `interrupted` and settled by `resolve`.
    public func load(
        _ cardID: Card.ID, amountFen: Int64, funding: PurseLoad.Funding, legacyCardID: String? = nil,
        reader: some CounterReader, actor: Actor
    ) async throws(CitizenCardError) -> LoadOutcome {
        try actor.require(.counterService)
        let card = try await card(cardID)
        guard (1...LedgerPolicy.standard.purseCapFen).contains(amountFen) else {
            throw CitizenCardError(
                .invalidField, field: "amountFen", "must be 1 to \(LedgerPolicy.standard.purseCapFen) fen")
        }
        let purse = PurseService(env)
        return try await session(reader) { () async throws(CitizenCardError) -> LoadOutcome in
            try await selectAndCheck(card, reader)
            let time = Self.transactionTime(env.clock.now())
            let answer = try await initializeForLoad(amountFen: amountFen, reader)
            let approval = try await purse.approveLoad(
                cardID,
                .init(
                    amountFen: amountFen, funding: funding, terminalId: reader.terminalID, transactionTime: time,
                    initializeResponse: Hex.encode(answer),
                    legacyCardId: legacyCardID.map { LegacyCard.ID(rawValue: $0) }),
                actor: actor)
            // From here on the money is in the books: whatever the card does, the load is kept
            // and settled from the card's own state.
            let credit: ResponseAPDU
            do {
                let command: [UInt8] =
                    [0x80, 0x52, 0x00, 0x00, 0x0B] + (try Hex.decode(time, field: "time"))
                    + (try Hex.decode(approval.mac2, field: "mac2")) + [0x04]
                guard let parsed = ResponseAPDU(bytes: try await reader.transmit(command)) else {
                    return .interrupted(approval.load, reason: "the card's answer to CREDIT FOR LOAD was cut short")
                }
                credit = parsed
            } catch let error as CounterReaderError {
                return .interrupted(approval.load, reason: Self.describe(error))
            } catch {
                return .interrupted(approval.load, reason: "\(error)")
            }
            guard credit.status == .success, credit.data.count >= 4 else {
                return .interrupted(approval.load, reason: "the card refused CREDIT FOR LOAD (\(credit.status))")
            }
            let completed = try await purse.completeLoad(
                approval.load.id, tac: Hex.encode(Array(credit.data.prefix(4))), actor: actor)
            return .completed(completed)
        }
    }

    /// Settles an interrupted load from the card in the reader: a fresh INITIALIZE FOR LOAD, whose
    /// MAC1 authenticates the card's counter and balance, tells whether the card was credited
    /// (`completed`) or not (`reversed`, the money back where it came from).
    public func resolve(
        _ loadID: PurseLoad.ID, reader: some CounterReader, actor: Actor
    )
        async throws(CitizenCardError) -> PurseLoad
    {
        try actor.require(.counterService)
        guard let load = try await env.fetch(try await env.store.purseLoad(id: loadID)) else {
            throw CitizenCardError.notFound("load")
        }
        let card = try await card(load.cardID)
        return try await session(reader) { () async throws(CitizenCardError) -> PurseLoad in
            try await selectAndCheck(card, reader)
            let time = Self.transactionTime(env.clock.now())
            let answer = try await initializeForLoad(amountFen: load.amount.fen, reader)
            return try await PurseService(env).resolveLoad(
                loadID,
                cardState: .init(
                    amountFen: load.amount.fen, terminalId: reader.terminalID, transactionTime: time,
                    initializeResponse: Hex.encode(answer)),
                actor: actor)
        }
    }

    // MARK: The steps

    func card(_ id: Card.ID) async throws(CitizenCardError) -> Card {
        guard let card = try await env.fetch(try await env.store.card(id: id)) else {
            throw CitizenCardError.notFound("card")
        }
        return card
    }

    /// `begin`, the work, `end` (also when the work throws).
    func session<T>(
        _ reader: some CounterReader, _ work: () async throws(CitizenCardError) -> T
    ) async throws(CitizenCardError) -> T {
        do {
            try await reader.begin()
        } catch {
            throw Self.unavailable(error)
        }
        do {
            let result = try await work()
            await reader.end()
            return result
        } catch {
            await reader.end()
            throw error
        }
    }

    /// SELECT the purse, READ BINARY of EF 15: the card in the reader must be this card.
    func selectAndCheck(_ card: Card, _ reader: some CounterReader) async throws(CitizenCardError) {
        _ = try await command(Self.selectPurse, "SELECT of the purse", reader)
        let file = try await command(Self.readIssuerFile, "READ BINARY of EF 15", reader)
        guard file.data.count >= 20, let asn = try? ApplicationSerialNumber(bytes: file.data[10..<20]) else {
            throw Self.notACitizenCard("READ BINARY of EF 15")
        }
        guard asn.description.uppercased() == card.asn.uppercased() else {
            throw CitizenCardError(
                .cardMismatch, "the card in the reader (ASN \(asn)) is not this card (ASN \(card.asn))",
                zh: "读卡器中的卡（应用序列号 \(asn)）不是此卡（\(card.asn)）")
        }
    }

    /// INITIALIZE FOR LOAD (EP, key index 01): the card's 16-byte answer.
    func initializeForLoad(amountFen: Int64, _ reader: some CounterReader) async throws(CitizenCardError) -> [UInt8] {
        let amount = (0..<4).map { UInt8(truncatingIfNeeded: amountFen >> (24 - 8 * $0)) }
        let terminal: [UInt8]
        do {
            terminal = try Hex.decode(reader.terminalID, field: "terminalId")
        } catch {
            throw CitizenCardError(.internal, "the counter's terminal number is not 12 hex digits")
        }
        guard terminal.count == 6 else {
            throw CitizenCardError(.internal, "the counter's terminal number is not 12 hex digits")
        }
        let answer = try await command(
            [0x80, 0x50, 0x00, 0x02, 0x0B, 0x01] + amount + terminal + [0x10], "INITIALIZE FOR LOAD", reader)
        guard answer.data.count == 16 else { throw Self.notACitizenCard("INITIALIZE FOR LOAD") }
        return answer.data
    }

    /// One command whose answer must be `9000`.
    func command(
        _ bytes: [UInt8], _ name: String, _ reader: some CounterReader
    ) async throws(CitizenCardError)
        -> ResponseAPDU
    {
        let raw: [UInt8]
        do {
            raw = try await reader.transmit(bytes)
        } catch {
            throw Self.unavailable(error)
        }
        guard let answer = ResponseAPDU(bytes: raw) else { throw Self.notACitizenCard(name) }
        guard answer.status == .success else {
            throw CitizenCardError(
                .cardMismatch, "the card refused \(name) (status \(answer.status)): not a usable citizen card",
                zh: "卡片拒绝了\(name)（状态字 \(answer.status)），不是可用的市民卡")
        }
        return answer
    }

    static func notACitizenCard(_ name: String) -> CitizenCardError {
        CitizenCardError(
            .cardMismatch, "the card's answer to \(name) is not a citizen card's", zh: "卡片对\(name)的应答不是市民卡的应答")
    }

    static func unavailable(_ error: CounterReaderError) -> CitizenCardError {
        switch error {
        case .noAgent:
            CitizenCardError(
                .readerUnavailable,
                "no counter agent is connected for you: start `citizencard counter-agent` on this counter's PC",
                zh: "您的读卡代理未连接：请在本柜台电脑上启动 citizencard counter-agent")
        case .noCard:
            CitizenCardError(.readerUnavailable, "there is no card in the reader", zh: "读卡器中没有卡")
        case .busy:
            CitizenCardError(
                .readerUnavailable, "the reader is busy with another operation", zh: "读卡器正在执行另一项操作")
        case .noAnswer(let reason):
            CitizenCardError(
                .readerUnavailable, "the card did not answer: \(reason)", zh: "卡片未应答：\(reason)")
        }
    }

    static func describe(_ error: CounterReaderError) -> String {
        switch error {
        case .noAgent: "the counter agent went away"
        case .noCard: "the card left the reader"
        case .busy: "the reader was busy"
        case .noAnswer(let reason): reason
        }
    }

    /// `YYYYMMDDhhmmss` in the city's time (UTC+8), as the card records it.
    static func transactionTime(_ now: Timestamp) -> String {
        let (date, second) = Timestamp(secondsSinceEpoch: now.secondsSinceEpoch + 8 * 3600).utcDateAndSecond
        let digits = date.iso8601.replacingOccurrences(of: "-", with: "")
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return digits + two(second / 3600) + two(second % 3600 / 60) + two(second % 60)
    }
}

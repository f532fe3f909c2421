public import BankProtocol
public import CitizenCardDomain
import BankLink
import Foundation
public import Storage

/// The bank account behind a card: named at application, opened when the card goes into
/// production, its number on the chip and printed on the card.
extension BankService {
    /// The account a new card asks for: of the bank named (which must be active), else of the
    /// predecessor's bank, else of the city's default bank; nil when there is none.
    func accountRequest(
        for card: Card, bankCode: String?, predecessor: Card.ID?
    ) async throws(CitizenCardError) -> BankAccount? {
        let now = env.clock.now()
        var chosen: PartnerBank? = nil
        if let code = bankCode?.trimmingSpaces, !code.isEmpty {
            guard Self.isBankCode(code), let bank = try await env.fetch(try await env.store.bank(code: code)),
                bank.isActive(at: now)
            else {
                throw CitizenCardError(
                    .bankNotActive, field: "bankCode", "no partner bank with this code is active today")
            }
            chosen = bank
        } else if let predecessor, let old = try await env.fetch(try await env.store.bankAccount(cardID: predecessor)),
            old.state != .closed, let bank = try await env.fetch(try await env.store.bank(code: old.bankCode)),
            bank.isActive(at: now)
        {
            chosen = bank
        } else {
            chosen = try await env.fetch(try await env.store.banks()).first { $0.isDefault && $0.isActive(at: now) }
        }
        guard let chosen else { return nil }
        return BankAccount(
            cardID: card.id, bankCode: chosen.code, state: .wanted, previousCardID: predecessor, requestedAt: now)
    }

    /// A card the bank held out of a production batch, and why.
    public struct HeldCard: Codable, Hashable, Sendable {
        public var cardId: Card.ID
        public var cardNumber: String
        public var bankCode: String
        public var reason: String
    }

    /// Asks the banks for the accounts of cards about to go into a batch, all at once (at most
    /// `concurrency` requests in flight). Returns the cards that may go on and those held, with
    /// the account changes to commit with the batch. A card with no bank, or an open account,
    /// goes on as it is.
    func openAccounts(
        for cards: [Card], actor: Actor
    ) async throws(CitizenCardError) -> (held: [HeldCard], changes: ChangeSet) {
        let accounts = try await env.fetch(try await env.store.bankAccounts(cardIDs: cards.map(\.id)))
            .filter { $0.state == .wanted || $0.state == .held }
        guard !accounts.isEmpty else { return ([], ChangeSet()) }
        let byCard = Dictionary(uniqueKeysWithValues: cards.map { ($0.id, $0) })
        var banks: [String: PartnerBank] = [:]
        for bank in try await env.fetch(try await env.store.banks()) { banks[bank.code] = bank }
        let now = env.clock.now()
        let today = businessDate(now)

        // The requests, built before any is sent: each reads the holder's name and ID number.
        var requests: [(account: BankAccount, bank: PartnerBank?, body: Data)] = []
        var changes = ChangeSet()
        for account in accounts {
            guard let card = byCard[account.cardID] else { continue }
            let bank = banks[account.bankCode]
            let person = try registry.open(try await registry.load(card.personID))
            var previousNumber: String? = nil
            if let previous = account.previousCardID {
                previousNumber = try await env.fetch(try await env.store.card(id: previous))?.number
            }
            let message = BankMessages.AccountRequest(
                requestId: card.id.rawValue, cardNumber: card.number, name: person.details.name,
                idNumber: person.details.residentID.number, previousCardNumber: previousNumber, businessDate: today)
            let body: Data
            do { body = try Self.encoder.encode(message) } catch {
                throw CitizenCardError(.internal, "account request")
            }
            requests.append((account, bank, body))
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: "person.bank_disclosure", subject: "card:\(card.id)",
                    personID: person.id, purpose: "bank account opening",
                    detail: #"{"bank":"\#(account.bankCode)","fields":["name","idNumber","cardNumber"]}"#))
        }

        // Sent concurrently; each answer decides its card.
        let concurrency = env.bankPolicy.concurrency
        let service = self
        var outcomes: [Card.ID: Result<String, HoldReason>] = [:]
        await withTaskGroup(of: (Card.ID, Result<String, HoldReason>).self) { group in
            var next = 0
            func start() {
                guard next < requests.count else { return }
                let request = requests[next]
                next += 1
                group.addTask {
                    (request.account.cardID, await service.askForAccount(request.account, request.bank, request.body))
                }
            }
            for _ in 0..<min(concurrency, requests.count) { start() }
            while let (cardID, outcome) = await group.next() {
                outcomes[cardID] = outcome
                start()
            }
        }

        var held: [HeldCard] = []
        var numbersTaken = Set<Data>()
        for (account, _, _) in requests {
            guard let card = byCard[account.cardID], let outcome = outcomes[account.cardID] else { continue }
            var next = account
            next.version = account.version + 1
            next.attempts = account.attempts + 1
            switch outcome {
            case .success(let number):
                let index = env.vault.index.digest(domain: "bank_account", Data(number.utf8))
                let other = try await env.fetch(try await env.store.bankAccount(index: index))
                if (other != nil && other?.cardID != card.id) || !numbersTaken.insert(index).inserted {
                    next.state = .held
                    next.reason = HoldReason.numberTaken.text
                } else {
                    next.state = .open
                    next.reason = nil
                    do {
                        next.sealedNumber = try env.vault.sealer.seal(
                            Data(number.utf8), context: "bank_account:\(card.id.rawValue)")
                    } catch {
                        throw CitizenCardError(.internal, "the account number cannot be sealed")
                    }
                    next.maskedNumber = BankCardNumber.masked(number)
                    next.numberIndex = index
                    next.openedAt = now
                    next.openedOn = today
                }
            case .failure(let reason):
                next.state = .held
                next.reason = reason.text
            }
            changes.add(.banks(.updateBankAccount(next, expectedVersion: account.version)))
            if next.state == .held {
                held.append(
                    HeldCard(
                        cardId: card.id, cardNumber: card.number, bankCode: account.bankCode, reason: next.reason ?? "")
                )
            }
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: next.state == .open ? "bank.account_open" : "bank.account_held",
                    subject: "card:\(card.id)", purpose: "bank account opening",
                    detail: #"{"bank":"\#(account.bankCode)","state":"\#(next.state.rawValue)"}"#))
        }
        return (held, changes)
    }

    /// Why a bank's account was not opened; the text is what staff see on the card.
    enum HoldReason: Error, Hashable {
        case inactive
        case refused(String)
        case noAnswer(String)
        case badAnswer(String)
        case numberTaken

        var text: String {
            switch self {
            case .inactive: "the bank is not an active partner bank"
            case .refused(let why): "refused by the bank: \(why)"
            case .noAnswer(let why): "no answer from the bank (\(why))"
            case .badAnswer(let why): "the bank's answer was not usable: \(why)"
            case .numberTaken: "the bank gave an account number another card holds"
            }
        }
    }

    /// One account request; the number, checked (digits, 16-19 long, the bank's BIN, Luhn).
    func askForAccount(_ account: BankAccount, _ bank: PartnerBank?, _ body: Data) async -> Result<String, HoldReason> {
        guard let bank, bank.isActive(at: env.clock.now()) else { return .failure(.inactive) }
        let outcome: BankLink.Outcome
        do {
            outcome = try await send(bank, path: "/accounts", body: body)
        } catch {
            return .failure(.noAnswer("\(error.code.rawValue)"))
        }
        switch outcome {
        case .noAnswer(let reason):
            return .failure(.noAnswer(reason))
        case .answered(let status, let data):
            let answer = try? JSONDecoder().decode(BankMessages.AccountAnswer.self, from: data)
            if status == 422, let answer, answer.requestId == account.cardID.rawValue {
                return .failure(.refused(Self.clean(answer.refused ?? "no reason given")))
            }
            guard status == 200 else { return .failure(.noAnswer("HTTP \(status)")) }
            guard let answer, answer.requestId == account.cardID.rawValue, let number = answer.accountNumber else {
                return .failure(.badAnswer("not an answer to this request"))
            }
            guard BankCardNumber.isWellFormed(number) else {
                return .failure(.badAnswer("the account number is not 16-19 digits with a valid check digit"))
            }
            guard bank.bins.contains(where: { number.hasPrefix($0) }) else {
                return .failure(.badAnswer("the account number is not in the bank's BIN ranges"))
            }
            return .success(number)
        }
    }

    /// A bank's text as staff may see it: one line, printable, at most 120 characters.
    static func clean(_ text: String) -> String {
        let line = String(
            text.unicodeScalars.filter { TextRule.violation(of: $0, kind: .line) == nil }.map(Character.init))
        return String(line.trimmingSpaces.prefix(120))
    }

    /// The open account numbers of cards, for the personalisation file (read under audit there).
    func openNumbers(cardIDs: [Card.ID]) async throws(CitizenCardError) -> [Card.ID: String] {
        var numbers: [Card.ID: String] = [:]
        for account in try await env.fetch(try await env.store.bankAccounts(cardIDs: cardIDs))
        where account.state == .open {
            guard let sealed = account.sealedNumber else { continue }
            do {
                numbers[account.cardID] = String(
                    decoding: try env.vault.sealer.open(sealed, context: "bank_account:\(account.cardID.rawValue)"),
                    as: UTF8.self)
            } catch {
                throw CitizenCardError(.internal, "an account number cannot be opened")
            }
        }
        return numbers
    }
}

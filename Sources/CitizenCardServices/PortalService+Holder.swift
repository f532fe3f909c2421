public import CitizenCardDomain
import Foundation
import Ledger
import Storage

/// What a logged-in holder sees and does: the overview of their data, the self-service
/// pre-loss and the log of who read or changed their data.
extension PortalService {
    /// One of the holder's cards as the portal shows it.
    public struct HolderCardView: Codable, Hashable, Sendable {
        public var id: Card.ID
        /// `3309*****0012`.
        public var maskedNumber: String
        public var kind: Card.Kind
        public var state: CardState
        public var usable: Bool
        /// The card the holder logged in with.
        public var current: Bool
        public var appliedAt: Timestamp
        public var issuedAt: Timestamp?
        public var expiresAt: Timestamp?
        public var loss: LossReport?
        /// What the e-purse holds, in fen (the purse account's balance in the ledger).
        public var purseBalanceFen: Int64
        /// The partner bank of the card's bank account and its number masked, when the
        /// card has one; `bankAccountState` is `wanted`, `open`, `held` or `closed`.
        public var bankName: String?
        public var bankAccount: String?
        public var bankAccountState: String?
        /// Renewal due: set when the card is held or expired, has no new card in
        /// progress, and renewal is open (`renewalWindowDays` before expiry) or the card expired.
        public var renewalOpensAt: Timestamp?
        /// The refund of this card's closed purse, owed to the holder and not yet paid.
        public var refundDueFen: Int64?
    }

    /// A load of the e-purse or a purchase with it.
    public struct HolderRecord: Codable, Hashable, Sendable {
        public enum Kind: String, Codable, Sendable { case load, purchase }

        public var kind: Kind
        /// Approval of a load; the tap of a purchase.
        public var at: Timestamp
        /// Always positive: added by a load, taken by a purchase.
        public var amountFen: Int64
        /// After the record; nil for a load not (yet) credited.
        public var balanceAfterFen: Int64?
        /// The outlet of a load, the merchant of a purchase.
        public var place: String
        public var placeZh: String
        /// A load's `approved`, `completed` or `reversed`; a purchase's `posted` or `risk` (made
        /// after the loss took effect, not charged to the holder).
        public var status: String
    }

    public struct ActivationView: Codable, Hashable, Sendable {
        public var serviceCode: String
        public var name: String
        public var nameZh: String
        public var activatedAt: Timestamp
        /// The center withdrew the service after it was activated.
        public var withdrawn: Bool
    }

    /// What the holder sees of themselves: personal data masked, their cards, purse
    /// balances, the current card's recent records and its activated services.
    public struct Overview: Codable, Hashable, Sendable {
        public var person: PersonView
        /// All the holder's cards, oldest application first.
        public var cards: [HolderCardView]
        /// Loads and counted purchases of the current card, newest first, at most
        /// `PortalPolicy.recentRecordsMax`.
        public var recentRecords: [HolderRecord]
        public var activations: [ActivationView]
    }

    /// The holder's own data; the read is audited as the holder's own query.
    public func overview(_ principal: CitizenPrincipal) async throws(CitizenCardError) -> Overview {
        let person = try registry.open(try await registry.load(principal.personID))
        let cards = try await env.fetch(try await env.store.cards(personID: principal.personID))
        guard let current = cards.first(where: { $0.id == principal.cardID }) else {
            throw CitizenCardError(.unauthenticated, "the card is not the holder's")
        }
        let accounts = cards.map { AccountID.purse($0.id) }
        let balances = try await env.fetch(try await env.store.ledgerBalances(accounts))
        var bankAccounts: [Card.ID: BankAccount] = [:]
        for account in try await env.fetch(try await env.store.bankAccounts(cardIDs: cards.map(\.id))) {
            bankAccounts[account.cardID] = account
        }
        var bankNames: [String: String] = [:]
        if !bankAccounts.isEmpty {
            for bank in try await env.fetch(try await env.store.banks()) { bankNames[bank.code] = bank.name }
        }
        var refunds: [Card.ID: Int64] = [:]
        for card in cards where card.state.slot == .closed {
            if let closure = try await env.fetch(try await env.store.purseClosure(cardID: card.id)),
                closure.kind == .refund, closure.status == .due, closure.amountFen > 0
            {
                refunds[card.id] = closure.amountFen
            }
        }
        let now = env.clock.now()
        let window = env.policy.renewalWindowDays
        let views = cards.map { stored in
            let card = effective(stored)
            let opensAt = card.expiresAt?.adding(days: -window)
            let renewable =
                (card.state.slot == .held || card.state == .expired) && card.successorID == nil
                && opensAt.map { now >= $0 } == true
                && !cards.contains { $0.id != card.id && $0.state.slot != .closed }
            let account = AccountID.purse(card.id)
            return HolderCardView(
                id: card.id, maskedNumber: Masking.cardNumber(card.number), kind: card.kind, state: card.state,
                usable: card.state.isUsable, current: card.id == current.id, appliedAt: card.appliedAt,
                issuedAt: card.issuedAt, expiresAt: card.expiresAt, loss: card.loss,
                purseBalanceFen: account.normalBalance(signed: balances[account] ?? 0),
                bankName: bankAccounts[card.id].map { bankNames[$0.bankCode] ?? $0.bankCode },
                bankAccount: bankAccounts[card.id]?.maskedNumber,
                bankAccountState: bankAccounts[card.id]?.state.rawValue,
                renewalOpensAt: renewable ? opensAt : nil, refundDueFen: refunds[card.id])
        }
        let records = try await recentRecords(of: current.id)
        let activations = try await activationViews(of: current.id)
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: principal.actorName, action: "portal.overview",
                subject: "person:\(principal.personID)", personID: principal.personID,
                purpose: Self.ownQueryPurpose,
                detail: RegistryService.json(["cards": "\(cards.count)", "records": "\(records.count)"])))
        try await env.commit(changes)
        return Overview(
            person: PersonView(person, masked: true), cards: views, recentRecords: records, activations: activations)
    }

    /// The purpose recorded for the holder's reads of their own data.
    public static let ownQueryPurpose = "holder's own query"

    /// Loads and counted (posted or risk) purchases, newest first; parked purchases are left out
    /// until they are released (they do not touch the purse).
    func recentRecords(of cardID: Card.ID) async throws(CitizenCardError) -> [HolderRecord] {
        let limit = PortalPolicy.recentRecordsMax
        let loads = try await env.fetch(try await env.store.purseLoads(cardID: cardID)).suffix(limit)
        let purchases = try await env.fetch(try await env.store.purchases(cardID: cardID, limit: limit))
            .filter { $0.outcome != .parked }
        var outlets: [Outlet.ID: Outlet] = [:]
        for id in Set(loads.map(\.outletID)) { outlets[id] = try await env.fetch(try await env.store.outlet(id: id)) }
        var merchants: [Merchant.ID: Merchant] = [:]
        for id in Set(purchases.map(\.merchantID)) {
            merchants[id] = try await env.fetch(try await env.store.merchant(id: id))
        }
        var records: [HolderRecord] = loads.map { load in
            let outlet = outlets[load.outletID]
            return HolderRecord(
                kind: .load, at: load.approvedAt, amountFen: load.amount.fen,
                balanceAfterFen: load.status == .completed ? load.balanceBefore.fen + load.amount.fen : nil,
                place: outlet?.name ?? "", placeZh: outlet?.nameZh ?? "", status: load.status.rawValue)
        }
        records += purchases.map { purchase in
            let name = merchants[purchase.merchantID]?.name ?? ""
            return HolderRecord(
                kind: .purchase, at: purchase.tappedAt, amountFen: purchase.amountFen,
                balanceAfterFen: purchase.balanceAfterFen, place: name, placeZh: name,
                status: purchase.outcome.rawValue)
        }
        return Array(records.sorted { $0.at > $1.at }.prefix(limit))
    }

    /// The services the holder activated on this card: codes and names, no personal data, so
    /// not an audited read (the overview, which shows personal data, is).
    public func activations(_ principal: CitizenPrincipal) async throws(CitizenCardError) -> [ActivationView] {
        try await activationViews(of: principal.cardID)
    }

    func activationViews(of cardID: Card.ID) async throws(CitizenCardError) -> [ActivationView] {
        let activations = try await env.fetch(try await env.store.serviceActivations(cardID: cardID))
        guard !activations.isEmpty else { return [] }
        let entries = try await env.fetch(try await env.store.catalogueEntries())
        let byCode = Dictionary(entries.map { ($0.code, $0) }, uniquingKeysWith: { first, _ in first })
        return activations.map { activation in
            let entry = byCode[activation.serviceCode]
            return ActivationView(
                serviceCode: activation.serviceCode, name: entry?.name ?? activation.serviceCode,
                nameZh: entry?.nameZh ?? activation.serviceCode, activatedAt: activation.activatedAt,
                withdrawn: entry?.isWithdrawn ?? true)
        }
    }

    // MARK: Self-service pre-loss

    /// The holder reports the card they logged in with as lost (预挂失, channel `self_service`):
    /// it is blocked at once and the report lapses at `loss.preLossExpiresAt` unless confirmed in
    /// writing at an outlet. Only an active card can be reported (`transition_not_allowed`).
    /// The holder stays logged in, to see the card's state.
    public func reportLoss(_ principal: CitizenPrincipal) async throws(CitizenCardError) -> CardView {
        try await cards.reportPreLossBySelfService(principal.cardID, actor: principal.actor)
    }

    // MARK: Access log

    /// One read or change of the holder's personal data.
    public struct AccessLogEntry: Codable, Hashable, Sendable {
        public enum Who: String, Codable, Sendable {
            /// The holder, through the portal.
            case you
            /// A member of staff; `actor` is the user name.
            case staff
            /// A scheduled job or the command line.
            case system
            /// A failed portal log-in with the holder's card number: not necessarily the holder.
            case someone
            /// A government department, under a grant or checking a card; `actor` is its name.
            case department
        }

        public var at: Timestamp
        public var who: Who
        /// `you`, a staff user name, `system`, `someone`, or a department's name.
        public var actor: String
        /// The audit action, e.g. `person.read`, `card.report_pre_loss`, `department.query`.
        public var action: String
        public var purpose: String
        /// A department's case number, when a department read.
        public var caseNumber: String?
        /// The fields a department was shown (never their values).
        public var fields: [String]?
        /// The department's Chinese name.
        public var actorZh: String? = nil
    }

    /// Actor names of jobs and commands rather than people (`Actor.system`, `Actor.commandLine`).
    static let machineActors: Set<String> = [Actor.system.name, "import", "cli", "clearing", "simulate", "bench"]

    /// Who read or changed the holder's personal data, when and why, newest first: the audit
    /// entries about the holder (at most `PortalPolicy.accessLogMax`). Not itself audited: it
    /// shows no personal data.
    public func accessLog(
        _ principal: CitizenPrincipal, limit: Int = 50
    ) async throws(CitizenCardError) -> [AccessLogEntry] {
        let count = min(max(limit, 1), PortalPolicy.accessLogMax)
        let entries = try await env.fetch(
            try await env.store.auditEntries(AuditFilter(personID: principal.personID), limit: count))
        let departments = Dictionary(
            try await env.fetch(try await env.store.departments()).map { ("department:\($0.code)", $0) },
            uniquingKeysWith: { first, _ in first })
        return entries.map { entry in
            let draft = entry.draft
            if let department = departments[draft.actor] {
                let detail =
                    (try? JSONSerialization.jsonObject(with: Data(draft.detail.utf8))) as? [String: Any] ?? [:]
                let fields = (detail["fields"] as? String).map { $0.split(separator: ",").map(String.init) }
                return AccessLogEntry(
                    at: draft.at, who: .department, actor: department.name, action: draft.action,
                    purpose: draft.purpose, caseNumber: detail["case"] as? String, fields: fields,
                    actorZh: department.nameZh)
            }
            let who: AccessLogEntry.Who
            if draft.actor.hasPrefix("citizen:") {
                who = draft.action == "portal.login.failed" || draft.action == "portal.login.locked" ? .someone : .you
            } else if Self.machineActors.contains(draft.actor) || draft.actor.hasPrefix("terminal:") {
                who = .system
            } else {
                who = .staff
            }
            let shown =
                switch who {
                case .you: "you"
                case .someone: "someone"
                case .system: "system"
                case .staff: draft.actor
                case .department: draft.actor
                }
            return AccessLogEntry(
                at: draft.at, who: who, actor: shown, action: draft.action, purpose: draft.purpose, caseNumber: nil,
                fields: nil)
        }
    }
}

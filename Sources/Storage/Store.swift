public import Foundation
public import CitizenCardDomain
public import Ledger

/// Everything the system keeps, behind one protocol per aggregate. Both backends (SQLite, and
/// PostgreSQL) implement all of them and pass the same contract suite (Tests/StorageContractTests).
///
/// Reads are plain queries. Writes happen only through `commit(_:)`: a use case reads what it
/// needs, decides with the pure domain rules, and hands the whole outcome (state changes, events,
/// receipts, audit entries) to one `commit`, which applies all of it in one transaction or none.
/// Updates carry the version they were decided on; a concurrent change makes the commit fail
/// with `StorageError.conflict`, so of many conflicting operations exactly one wins.
public protocol CitizenCardStore: PersonStore, CardStore, ProductionStore, FeeStore, RuleStore, StaffStore,
    AuditStore, IdempotencyStore, SettingStore, LedgerStore, PurseLoadStore, AcquiringStore, HotlistStore,
    ClearingStore, PortalStore, ReportStore, DepartmentStore, CredentialStore, BankStore, LegacyStore
{
    /// Applies every change and appends every audit entry in one transaction.
    ///
    /// - Throws: `StorageError.conflict` if an update's expected version is not the stored one (or
    ///   the row is gone); `StorageError.duplicate` if an insert breaks a unique rule (one card per
    ///   slot per person, one person per ID number, unique numbers and names). Nothing is written then.
    func commit(_ changes: ChangeSet) async throws(StorageError)

    /// Reserves `count` consecutive values of a sequence and returns the first. Values are never
    /// handed out twice, even across crashes; a failed commit leaves a gap.
    func allocate(_ sequence: SequenceName, count: Int) async throws(StorageError) -> Int64

    /// Inserts persons that are not registered yet (by `idIndex`) and appends `audit`, in one
    /// transaction. Registered ones are left untouched and reported as `unchanged` or `differs`
    /// by comparing fingerprints. Outcomes are in the order of `persons`.
    func importPersons(_ persons: [SealedPerson], audit: AuditDraft) async throws(StorageError) -> [PersonImportOutcome]

    /// Closes connections; the store must not be used afterwards.
    func close() async throws
}

public protocol PersonStore: Sendable {
    func person(id: Person.ID) async throws(StorageError) -> SealedPerson?
    /// The person whose blind index of the resident ID number is `idIndex`.
    func person(idIndex: Data) async throws(StorageError) -> SealedPerson?
    /// Earlier versions, oldest first; the current version is `person(id:)`.
    func personVersions(id: Person.ID) async throws(StorageError) -> [SealedPerson]
    /// Persons ordered by id, after the given id, at most `limit` (capped at 1000).
    func persons(after: Person.ID?, limit: Int) async throws(StorageError) -> [SealedPerson]
    func personCount() async throws(StorageError) -> Int
    func photo(id: PhotoID) async throws(StorageError) -> StoredPhoto?
}

public protocol CardStore: Sendable {
    func card(id: Card.ID) async throws(StorageError) -> Card?
    func card(number: String) async throws(StorageError) -> Card?
    /// The card and the blind index of its holder's ID number, in one read (identity checks).
    func cardWithHolderIndex(id: Card.ID) async throws(StorageError) -> (card: Card, holderIndex: Data)?
    /// All cards of a person, oldest application first.
    func cards(personID: Person.ID) async throws(StorageError) -> [Card]
    /// Cards in a state, optionally of one outlet, oldest application first, after a card id.
    func cards(state: CardState, outletID: Outlet.ID?, after: Card.ID?, limit: Int) async throws(StorageError) -> [Card]
    func cards(batchID: ProductionBatch.ID) async throws(StorageError) -> [Card]
    /// Held cards (active, pre-lost, lost) without a new card in progress that expire in
    /// [from, until), of one outlet or all, by expiry time then id, after a (time, id) key.
    func cardsExpiring(
        from: Timestamp, until: Timestamp, outletID: Outlet.ID?, after: (Timestamp, Card.ID)?, limit: Int
    ) async throws(StorageError) -> [Card]
    /// Cards with a time-based transition due at `time`: a pre-loss past its expiry or a held card
    /// past its validity.
    func cardsWithTransitionsDue(at time: Timestamp, limit: Int) async throws(StorageError) -> [Card]
    /// A card's events, in order.
    func cardEvents(cardID: Card.ID) async throws(StorageError) -> [CardEvent]
    /// The sealed document reference of a cancelled card; nil when none is stored.
    func cancellationDocument(cardID: Card.ID) async throws(StorageError) -> Data?
    /// Cancelled cards whose document reference is still in clear (written before references
    /// were sealed), at most `limit`.
    func cardsWithUnsealedCancellationDocument(limit: Int) async throws(StorageError) -> [Card]
}

public protocol ProductionStore: Sendable {
    func batch(id: ProductionBatch.ID) async throws(StorageError) -> ProductionBatch?
    /// Newest first.
    func batches(limit: Int) async throws(StorageError) -> [ProductionBatch]
}

public protocol FeeStore: Sendable {
    func feeEntries() async throws(StorageError) -> [FeeEntry]
    func receipt(id: Receipt.ID) async throws(StorageError) -> Receipt?
    /// Receipts of an outlet in [from, until), oldest first.
    func receipts(outletID: Outlet.ID, from: Timestamp, until: Timestamp) async throws(StorageError) -> [Receipt]
}

public protocol RuleStore: Sendable {
    func eligibilityRules() async throws(StorageError) -> [EligibilityRule]
}

public protocol StaffStore: Sendable {
    func outlets() async throws(StorageError) -> [Outlet]
    func outlet(id: Outlet.ID) async throws(StorageError) -> Outlet?
    func operators() async throws(StorageError) -> [Operator]
    func `operator`(id: Operator.ID) async throws(StorageError) -> Operator?
    func `operator`(username: String) async throws(StorageError) -> Operator?
    func session(tokenHash: Data) async throws(StorageError) -> Session?
}

public protocol AuditStore: Sendable {
    /// Newest first, at most `limit` (capped at 1000).
    func auditEntries(_ filter: AuditFilter, limit: Int) async throws(StorageError) -> [AuditEntry]
    /// Recomputes the whole chain from the first entry and compares it with the recorded head.
    func verifyAuditChain() async throws(StorageError) -> AuditVerification
}

public protocol IdempotencyStore: Sendable {
    func idempotencyRecord(key: String) async throws(StorageError) -> IdempotencyRecord?
}

public protocol SettingStore: Sendable {
    func setting(_ key: String) async throws(StorageError) -> String?
}

/// The outcome of one use case, applied by `commit` all together or not at all.
public struct ChangeSet: Sendable {
    public private(set) var changes: [Change] = []
    public private(set) var audit: [AuditDraft] = []

    public init() {}

    public var isEmpty: Bool { changes.isEmpty && audit.isEmpty }

    public mutating func add(_ change: Change) { changes.append(change) }
    public mutating func record(_ entry: AuditDraft) { audit.append(entry) }
    /// Everything of `other`, after what this holds: two outcomes committed as one.
    public mutating func append(_ other: ChangeSet) {
        changes += other.changes
        audit += other.audit
    }

    public enum Change: Sendable {
        case registry(Registry)
        case card(Cards)
        case production(Production)
        case fees(Fees)
        case staff(Staff)
        case rules(Rules)
        case system(System)
        case ledger(Ledger)
        case purse(Purse)
        case acquiring(Acquiring)
        case hotlist(Hotlist)
        case portal(Portal)
        case department(Departments)
        case credentials(Credentials)
        case banks(Banks)
        case legacy(Legacy)

        /// Persons and their photos.
        public enum Registry: Sendable {
            case insertPerson(SealedPerson)
            /// Keeps the stored version in the history and replaces it; `person.version` must be
            /// greater than `expectedVersion`.
            case updatePerson(SealedPerson, expectedVersion: Int64)
            case insertPhoto(StoredPhoto)
        }

        /// Cards, their events and sealed cancellation documents.
        public enum Cards: Sendable {
            case insertCard(Card)
            /// `card.version` must be greater than `expectedVersion` (one commit may record several
            /// transitions, e.g. a lapsed pre-loss and then a written loss).
            case updateCard(Card, expectedVersion: Int64)
            case appendCardEvent(CardEvent)
            /// The sealed full document reference of a cancellation (`Card.cancellation` holds it
            /// masked).
            case insertCancellationDocument(cardID: Card.ID, sealed: Data)
            /// A cancellation written before references were sealed: its clear reference goes
            /// sealed into `cancellation_documents` and is masked on the card, whose version does
            /// not change (the card did not); nothing happens when the card's reference is sealed.
            case sealLegacyCancellationDocument(cardID: Card.ID, masked: String, sealed: Data)
        }

        /// Production batches.
        public enum Production: Sendable {
            case insertBatch(ProductionBatch)
            case updateBatch(ProductionBatch, expectedVersion: Int64)
        }

        /// Receipts and the fee schedule.
        public enum Fees: Sendable {
            case insertReceipt(Receipt)
            case insertFeeEntry(FeeEntry)
        }

        /// Outlets, staff accounts and their sessions.
        public enum Staff: Sendable {
            case insertOutlet(Outlet)
            case insertOperator(Operator)
            case updateOperator(Operator)
            case insertSession(Session)
            case deleteSession(tokenHash: Data)
            /// Ends every session of an account except, optionally, the one with this token hash.
            case deleteSessions(operatorID: Operator.ID, keeping: Data?)
        }

        /// Eligibility rules.
        public enum Rules: Sendable {
            case insertEligibilityRule(EligibilityRule)
            case updateEligibilityRule(EligibilityRule)
        }

        /// Idempotency records and settings.
        public enum System: Sendable {
            case saveIdempotencyRecord(IdempotencyRecord)
            case putSetting(key: String, value: String)
        }

        /// The ledger.
        public enum Ledger: Sendable {
            /// A ledger transfer (docs/ledger.md), applied as `LedgerBook.apply` would: an id seen
            /// before with the same content changes nothing; with other content it fails with
            /// `ledger(id_conflict)`; a transfer that breaks a rule fails with `ledger(…)` and the whole
            /// commit is undone.
            case postTransfer(Transfer, policy: LedgerPolicy)
        }

        /// E-purse loads and closures.
        public enum Purse: Sendable {
            case insertPurseLoad(PurseLoad)
            /// `load.version` must be greater than `expectedVersion`.
            case updatePurseLoad(PurseLoad, expectedVersion: Int64)
            /// One closure per card (`purseClosure`).
            case insertPurseClosure(PurseClosure)
            /// `closure.version` must be `expectedVersion + 1`.
            case updatePurseClosure(PurseClosure, expectedVersion: Int64)
            /// Who was paid a closed purse's refund, with the full details sealed (one per card).
            case insertRefundPayee(RefundPayee, sealed: Data)
            /// A decision of the center about suspense money (its transfer goes in the same commit).
            case insertSuspenseDecision(SuspenseDecision)
        }

        /// Merchants, terminals, their uploads, records, chains, signals, exceptions and clearing.
        public enum Acquiring: Sendable {
            case insertMerchant(Merchant)
            case updateMerchant(Merchant, expectedVersion: Int64)
            case insertTerminal(Terminal)
            case updateTerminal(Terminal, expectedVersion: Int64)
            /// A terminal's upload and the answer it got (replayed for the same batch number).
            case insertPurchaseBatch(PurchaseBatch, response: Data)
            case insertPurchases([OfflinePurchase])
            /// Parked records that are now posted or charged to risk; each must still be parked
            /// (else `conflict`).
            case releasePurchases([OfflinePurchase])
            /// Inserts or updates cards' purchase chains; each `chain.version` must be one past the
            /// stored version (1 for a chain not stored yet), else `conflict`.
            case putPurseChains([PurseChain])
            case insertFraudSignals([FraudSignal])
            /// Closes a parked record; it must still be parked, for a reason that `isClosable` or at a
            /// counter its card's chain has passed, and not be closed yet (else `conflict`).
            case closeException(ExceptionClosure)
            /// A day's clearing; a second run of the same day and merchant breaks `clearingResult`.
            case insertClearingResults([ClearingResult])
        }

        /// Hotlist versions.
        public enum Hotlist: Sendable {
            /// A new hotlist version: `publication.version` must be one past the stored one (else `conflict`).
            case publishHotlist(HotlistPublication)
        }

        /// The citizen portal: query passwords, sessions, the catalogue and activations.
        public enum Portal: Sendable {
            /// A card's first query password (`queryCredential` if it has one).
            case insertQueryCredential(QueryCredential)
            /// `credential.version` must be greater than `expectedVersion`, the stored one (else `conflict`).
            case updateQueryCredential(QueryCredential, expectedVersion: Int64)
            case insertPortalSession(PortalSession)
            case deletePortalSession(tokenHash: [UInt8])
            /// Ends every portal session of a card except, optionally, the one with this token hash.
            case deletePortalSessions(cardID: Card.ID, keeping: [UInt8]?)
            /// Forgets a card's portal sessions that expired at or before `at`.
            case deleteExpiredPortalSessions(cardID: Card.ID, at: Timestamp)
            /// A new catalogue service (`serviceCode` if the code was ever used).
            case insertCatalogueEntry(CatalogueEntry)
            /// `entry.version` must be greater than `expectedVersion`, the stored one (else `conflict`).
            case updateCatalogueEntry(CatalogueEntry, expectedVersion: Int64)
            /// One per card and service (`serviceActivation`).
            case insertServiceActivation(ServiceActivation)
        }
    }
}

/// The changes by their old flat names, so that a use case writes `.updateCard(card, expectedVersion: v)`.
extension ChangeSet.Change {
    public static func insertPerson(_ a0: SealedPerson) -> Self { .registry(.insertPerson(a0)) }
    public static func updatePerson(_ a0: SealedPerson, expectedVersion a1: Int64) -> Self {
        .registry(.updatePerson(a0, expectedVersion: a1))
    }
    public static func insertPhoto(_ a0: StoredPhoto) -> Self { .registry(.insertPhoto(a0)) }
    public static func insertCard(_ a0: Card) -> Self { .card(.insertCard(a0)) }
    public static func updateCard(_ a0: Card, expectedVersion a1: Int64) -> Self {
        .card(.updateCard(a0, expectedVersion: a1))
    }
    public static func appendCardEvent(_ a0: CardEvent) -> Self { .card(.appendCardEvent(a0)) }
    public static func insertCancellationDocument(cardID a0: Card.ID, sealed a1: Data) -> Self {
        .card(.insertCancellationDocument(cardID: a0, sealed: a1))
    }
    public static func sealLegacyCancellationDocument(cardID a0: Card.ID, masked a1: String, sealed a2: Data) -> Self {
        .card(.sealLegacyCancellationDocument(cardID: a0, masked: a1, sealed: a2))
    }
    public static func insertBatch(_ a0: ProductionBatch) -> Self { .production(.insertBatch(a0)) }
    public static func updateBatch(_ a0: ProductionBatch, expectedVersion a1: Int64) -> Self {
        .production(.updateBatch(a0, expectedVersion: a1))
    }
    public static func insertReceipt(_ a0: Receipt) -> Self { .fees(.insertReceipt(a0)) }
    public static func insertFeeEntry(_ a0: FeeEntry) -> Self { .fees(.insertFeeEntry(a0)) }
    public static func insertOutlet(_ a0: Outlet) -> Self { .staff(.insertOutlet(a0)) }
    public static func insertOperator(_ a0: Operator) -> Self { .staff(.insertOperator(a0)) }
    public static func updateOperator(_ a0: Operator) -> Self { .staff(.updateOperator(a0)) }
    public static func insertSession(_ a0: Session) -> Self { .staff(.insertSession(a0)) }
    public static func deleteSession(tokenHash a0: Data) -> Self { .staff(.deleteSession(tokenHash: a0)) }
    public static func deleteSessions(operatorID a0: Operator.ID, keeping a1: Data?) -> Self {
        .staff(.deleteSessions(operatorID: a0, keeping: a1))
    }
    public static func insertEligibilityRule(_ a0: EligibilityRule) -> Self { .rules(.insertEligibilityRule(a0)) }
    public static func updateEligibilityRule(_ a0: EligibilityRule) -> Self { .rules(.updateEligibilityRule(a0)) }
    public static func saveIdempotencyRecord(_ a0: IdempotencyRecord) -> Self { .system(.saveIdempotencyRecord(a0)) }
    public static func putSetting(key a0: String, value a1: String) -> Self { .system(.putSetting(key: a0, value: a1)) }
    public static func postTransfer(_ a0: Transfer, policy a1: LedgerPolicy) -> Self {
        .ledger(.postTransfer(a0, policy: a1))
    }
    public static func insertPurseLoad(_ a0: PurseLoad) -> Self { .purse(.insertPurseLoad(a0)) }
    public static func updatePurseLoad(_ a0: PurseLoad, expectedVersion a1: Int64) -> Self {
        .purse(.updatePurseLoad(a0, expectedVersion: a1))
    }
    public static func insertPurseClosure(_ a0: PurseClosure) -> Self { .purse(.insertPurseClosure(a0)) }
    public static func insertRefundPayee(_ a0: RefundPayee, sealed a1: Data) -> Self {
        .purse(.insertRefundPayee(a0, sealed: a1))
    }
    public static func insertSuspenseDecision(_ a0: SuspenseDecision) -> Self { .purse(.insertSuspenseDecision(a0)) }
    public static func updatePurseClosure(_ a0: PurseClosure, expectedVersion a1: Int64) -> Self {
        .purse(.updatePurseClosure(a0, expectedVersion: a1))
    }
    public static func insertMerchant(_ a0: Merchant) -> Self { .acquiring(.insertMerchant(a0)) }
    public static func updateMerchant(_ a0: Merchant, expectedVersion a1: Int64) -> Self {
        .acquiring(.updateMerchant(a0, expectedVersion: a1))
    }
    public static func insertTerminal(_ a0: Terminal) -> Self { .acquiring(.insertTerminal(a0)) }
    public static func updateTerminal(_ a0: Terminal, expectedVersion a1: Int64) -> Self {
        .acquiring(.updateTerminal(a0, expectedVersion: a1))
    }
    public static func insertPurchaseBatch(_ a0: PurchaseBatch, response a1: Data) -> Self {
        .acquiring(.insertPurchaseBatch(a0, response: a1))
    }
    public static func insertPurchases(_ a0: [OfflinePurchase]) -> Self { .acquiring(.insertPurchases(a0)) }
    public static func releasePurchases(_ a0: [OfflinePurchase]) -> Self { .acquiring(.releasePurchases(a0)) }
    public static func putPurseChains(_ a0: [PurseChain]) -> Self { .acquiring(.putPurseChains(a0)) }
    public static func insertFraudSignals(_ a0: [FraudSignal]) -> Self { .acquiring(.insertFraudSignals(a0)) }
    public static func closeException(_ a0: ExceptionClosure) -> Self { .acquiring(.closeException(a0)) }
    public static func insertClearingResults(_ a0: [ClearingResult]) -> Self { .acquiring(.insertClearingResults(a0)) }
    public static func publishHotlist(_ a0: HotlistPublication) -> Self { .hotlist(.publishHotlist(a0)) }
    public static func insertQueryCredential(_ a0: QueryCredential) -> Self { .portal(.insertQueryCredential(a0)) }
    public static func updateQueryCredential(_ a0: QueryCredential, expectedVersion a1: Int64) -> Self {
        .portal(.updateQueryCredential(a0, expectedVersion: a1))
    }
    public static func insertPortalSession(_ a0: PortalSession) -> Self { .portal(.insertPortalSession(a0)) }
    public static func deletePortalSession(tokenHash a0: [UInt8]) -> Self {
        .portal(.deletePortalSession(tokenHash: a0))
    }
    public static func deletePortalSessions(cardID a0: Card.ID, keeping a1: [UInt8]?) -> Self {
        .portal(.deletePortalSessions(cardID: a0, keeping: a1))
    }
    public static func deleteExpiredPortalSessions(cardID a0: Card.ID, at a1: Timestamp) -> Self {
        .portal(.deleteExpiredPortalSessions(cardID: a0, at: a1))
    }
    public static func insertCatalogueEntry(_ a0: CatalogueEntry) -> Self { .portal(.insertCatalogueEntry(a0)) }
    public static func updateCatalogueEntry(_ a0: CatalogueEntry, expectedVersion a1: Int64) -> Self {
        .portal(.updateCatalogueEntry(a0, expectedVersion: a1))
    }
    public static func insertServiceActivation(_ a0: ServiceActivation) -> Self {
        .portal(.insertServiceActivation(a0))
    }
}

/// The citizen portal (docs/portal.md): query passwords, holders' sessions, the service catalogue
/// and the activations of its services. Written with the `ChangeSet` portal cases.
public protocol PortalStore: Sendable {
    /// The card's query password and lockout state; nil if none was ever set.
    func queryCredential(cardID: Card.ID) async throws(StorageError) -> QueryCredential?
    /// The session whose token has this SHA-256, expired or not (the caller checks `expiresAt`).
    func portalSession(tokenHash: [UInt8]) async throws(StorageError) -> PortalSession?
    /// Every catalogue entry, withdrawn ones included, by code.
    func catalogueEntries() async throws(StorageError) -> [CatalogueEntry]
    func catalogueEntry(code: String) async throws(StorageError) -> CatalogueEntry?
    /// A card's activations, oldest first.
    func serviceActivations(cardID: Card.ID) async throws(StorageError) -> [ServiceActivation]
}

/// The double-entry ledger (docs/ledger.md); transfers are written with `ChangeSet.postTransfer`.
public protocol LedgerStore: Sendable {
    /// The journal entry of a transfer id, or nil if it was never applied.
    func ledgerEntry(id: TransferID) async throws(StorageError) -> JournalEntry?
    /// Signed balances (debit positive) of the given accounts; an account never posted to is 0.
    func ledgerBalances(_ accounts: [AccountID]) async throws(StorageError) -> [AccountID: Int64]
    /// Every account's balance: for the zero-sum check and reconciliation.
    func ledgerAllBalances() async throws(StorageError) -> [AccountID: Int64]
}

/// Online loads of e-purses and what became of them.
public protocol PurseLoadStore: Sendable {
    func purseLoad(id: PurseLoad.ID) async throws(StorageError) -> PurseLoad?
    /// A card's loads, oldest first.
    func purseLoads(cardID: Card.ID) async throws(StorageError) -> [PurseLoad]
    /// Loads in a status, oldest approval first (the unresolved ones: `approved`).
    func purseLoads(status: PurseLoad.Status, limit: Int) async throws(StorageError) -> [PurseLoad]
    /// The completed loads of these cards from the given online counter on, by card and counter
    /// (what bridges an offline record's balance to the previous one).
    func completedLoads(from onlineCounters: [Card.ID: Int64]) async throws(StorageError) -> [LoadStep]
}

/// Merchants, their terminals, uploaded batches of offline purchases and what became of them.
public protocol AcquiringStore: Sendable {
    /// By code.
    func merchants() async throws(StorageError) -> [Merchant]
    func merchant(id: Merchant.ID) async throws(StorageError) -> Merchant?
    /// By number; of one merchant when given.
    func terminals(merchantID: Merchant.ID?) async throws(StorageError) -> [Terminal]
    func terminal(id: Terminal.ID) async throws(StorageError) -> Terminal?
    func terminal(keyHash: [UInt8]) async throws(StorageError) -> Terminal?
    /// A batch a terminal uploaded under its number, with the stored answer.
    func purchaseBatch(
        terminalID: Terminal.ID, number: Int64
    ) async throws(StorageError) -> (
        batch: PurchaseBatch, response: Data
    )?
    /// Stored records (any outcome) under any of the keys: (ASN, counter) or (PSAM, TSN).
    func purchases(matching keys: [PurchaseKey]) async throws(StorageError) -> [OfflinePurchase]
    /// Parked `gap` and `balance_mismatch` records of these cards, which a later record may release.
    func releasablePurchases(cardIDs: [Card.ID]) async throws(StorageError) -> [OfflinePurchase]
    /// The exceptions queue: parked records not closed, in id order, after an id.
    func parkedPurchases(after: OfflinePurchase.ID?, limit: Int) async throws(StorageError) -> [OfflinePurchase]
    /// Closed exceptions (`ExceptionClosure`), in their records' id order, after an id.
    func closedExceptions(after: OfflinePurchase.ID?, limit: Int) async throws(StorageError) -> [ClosedException]
    /// The latest closed exceptions, newest closure first.
    func latestClosedExceptions(limit: Int) async throws(StorageError) -> [ClosedException]
    /// One stored record, whatever its outcome, with its closure if it was closed.
    func purchase(
        id: OfflinePurchase.ID
    ) async throws(StorageError) -> (
        purchase: OfflinePurchase, closure: ExceptionClosure?
    )?
    /// A card's records, newest tap first.
    func purchases(cardID: Card.ID, limit: Int) async throws(StorageError) -> [OfflinePurchase]
    func purseChains(cardIDs: [Card.ID]) async throws(StorageError) -> [PurseChain]
    /// What the ingest needs of the cards with these ASNs, in one read per card: the card (id, ASN,
    /// the loss's effective time), its chain and its purse's signed ledger balance.
    func purseStates(asns: [String]) async throws(StorageError) -> [PurseState]
    /// The reads of an upload's decision together: `purseStates(asns:)`, `purchases(matching:)`
    /// under `keys` narrowed by those states (`PurchaseIntake.narrowed`), and
    /// `releasablePurchases(cardIDs:)` of their cards. A backend may read them in one go or
    /// concurrently (the default reads one after the other).
    func purchaseIntake(asns: [String], keys: [PurchaseKey]) async throws(StorageError) -> PurchaseIntake
    /// Newest first, before an id.
    func fraudSignals(before: FraudSignal.ID?, limit: Int) async throws(StorageError) -> [FraudSignal]
    func purseClosure(cardID: Card.ID) async throws(StorageError) -> PurseClosure?
    /// The closure of the card this card succeeded, if any.
    func purseClosure(successorID: Card.ID) async throws(StorageError) -> PurseClosure?
    /// Cards that left service (replaced, cancelled, expired) at or before `leftBefore` — the time
    /// of their last event — and whose purse is not closed yet.
    /// In id order after `after`, so that a sweep never reads a page twice.
    func cardsAwaitingPurseClosure(
        leftBefore: Timestamp, after: Card.ID?, limit: Int
    ) async throws(StorageError) -> [Card]
    /// Who was paid a card's refund (masked), and the sealed details.
    func refundPayee(cardID: Card.ID) async throws(StorageError) -> (payee: RefundPayee, sealed: Data)?
    /// Refunds still owed (`kind` refund, `due`) of purses closed before `closedBefore`, oldest first.
    func dueRefunds(closedBefore: Timestamp, limit: Int) async throws(StorageError) -> [PurseClosure]
    /// Every purse closure, counted and summed by kind and status: the due ones are what
    /// `refunds:payable` holds.
    func purseClosureTotals() async throws(StorageError) -> [PurseClosureTotal]
    /// The center's suspense decisions, newest first.
    func suspenseDecisions(limit: Int) async throws(StorageError) -> [SuspenseDecision]
}

/// A completed load as the purchase chain sees it.
public struct LoadStep: Hashable, Sendable {
    public var cardID: Card.ID
    public var onlineCounter: Int64
    public var balanceBeforeFen: Int64
    public var amountFen: Int64

    public init(cardID: Card.ID, onlineCounter: Int64, balanceBeforeFen: Int64, amountFen: Int64) {
        self.cardID = cardID
        self.onlineCounter = onlineCounter
        self.balanceBeforeFen = balanceBeforeFen
        self.amountFen = amountFen
    }
}

/// A card as the offline ingest sees it.
public struct PurseCard: Hashable, Sendable {
    public var id: Card.ID
    public var asn: String
    /// When the card's loss took effect (Art 17), if it carries one.
    public var lossEffectiveAt: Timestamp?

    public init(id: Card.ID, asn: String, lossEffectiveAt: Timestamp?) {
        self.id = id
        self.asn = asn
        self.lossEffectiveAt = lossEffectiveAt
    }
}

/// A card of an uploaded batch with its chain (nil before its first record) and its purse's signed
/// ledger balance (debit positive; 0 for a purse never posted to).
public struct PurseState: Hashable, Sendable {
    public var card: PurseCard
    public var chain: PurseChain?
    public var signedBalanceFen: Int64

    public init(card: PurseCard, chain: PurseChain?, signedBalanceFen: Int64) {
        self.card = card
        self.chain = chain
        self.signedBalanceFen = signedBalanceFen
    }
}

/// What deciding an uploaded batch reads (`AcquiringStore.purchaseIntake`).
public struct PurchaseIntake: Sendable {
    public var states: [PurseState]
    /// Stored records under the batch's keys, each once.
    public var stored: [OfflinePurchase]
    /// Parked `gap` and `balance_mismatch` records of the cards.
    public var releasable: [OfflinePurchase]

    public init(states: [PurseState], stored: [OfflinePurchase], releasable: [OfflinePurchase]) {
        self.states = states
        self.stored = stored
        self.releasable = releasable
    }
}

extension PurchaseIntake {
    /// `keys` with `mayBeCountedUnderCardCounter` kept only where the card's chain (in `states`)
    /// has passed the counter: counted records of a card hold exactly the counters below its
    /// chain's next one.
    public static func narrowed(_ keys: [PurchaseKey], by states: [PurseState]) -> [PurchaseKey] {
        var nextCounter: [String: Int64] = [:]
        for state in states { nextCounter[state.card.asn] = state.chain?.nextCounter ?? 0 }
        return keys.map { key in
            var key = key
            key.mayBeCountedUnderCardCounter =
                key.mayBeCountedUnderCardCounter && key.cardCounter < (nextCounter[key.asn] ?? 0)
            return key
        }
    }
}

extension PurchaseKey {
    /// The keys' terminal serials as runs per PSAM, each from its lowest serial to its highest,
    /// with gaps of at most `gapMax` inside: a batch's serials are nearly consecutive, so a range
    /// scan or two of the (PSAM, TSN) index replaces a probe per key. The rows found in a run are
    /// filtered to the keys again.
    package static func serialRuns(
        _ keys: [PurchaseKey], gapMax: Int64 = 32
    ) -> [(psam: String, low: Int64, high: Int64)] {
        var runs: [(psam: String, low: Int64, high: Int64)] = []
        for (psam, group) in Dictionary(grouping: keys, by: \.psamSerial).sorted(by: { $0.key < $1.key }) {
            for serial in Set(group.map(\.terminalSerial)).sorted() {
                if let last = runs.last, last.psam == psam, serial - last.high <= gapMax {
                    runs[runs.count - 1].high = serial
                } else {
                    runs.append((psam, serial, serial))
                }
            }
        }
        return runs
    }
}

extension AcquiringStore {
    public func purchaseIntake(asns: [String], keys: [PurchaseKey]) async throws(StorageError) -> PurchaseIntake {
        let states = try await purseStates(asns: asns)
        let stored = try await purchases(matching: PurchaseIntake.narrowed(keys, by: states))
        let releasable = try await releasablePurchases(cardIDs: states.map(\.card.id))
        return PurchaseIntake(states: states, stored: stored, releasable: releasable)
    }
}

/// The keys an offline record is deduplicated on (CARDTECH.md §10 step 2).
public struct PurchaseKey: Hashable, Sendable {
    public var asn: String
    public var cardCounter: Int64
    public var psamSerial: String
    public var terminalSerial: Int64
    /// False when the card's chain has not reached this counter: counted records of a card hold
    /// exactly the counters below its chain's next one, so only parked ones need looking up.
    public var mayBeCountedUnderCardCounter: Bool

    public init(
        asn: String, cardCounter: Int64, psamSerial: String, terminalSerial: Int64,
        mayBeCountedUnderCardCounter: Bool = true
    ) {
        self.asn = asn
        self.cardCounter = cardCounter
        self.psamSerial = psamSerial
        self.terminalSerial = terminalSerial
        self.mayBeCountedUnderCardCounter = mayBeCountedUnderCardCounter
    }
}

/// One listed card as stored: its ASN and the hotlist reason code (`HotlistReason` raw value).
public struct HotlistRow: Hashable, Sendable {
    public var asn: String
    public var reason: Int64

    public init(asn: String, reason: Int64) {
        self.asn = asn
        self.reason = reason
    }
}

/// A new hotlist version: the cards that join it (or change reason) and the ones that leave it.
public struct HotlistPublication: Hashable, Sendable {
    public var version: Int64
    public var publishedAt: Timestamp
    public var added: [HotlistRow]
    public var removed: [String]

    public init(version: Int64, publishedAt: Timestamp, added: [HotlistRow], removed: [String]) {
        self.version = version
        self.publishedAt = publishedAt
        self.added = added
        self.removed = removed
    }
}

/// The versioned hotlist (R-17, docs/hotlist.md).
/// A card the hotlist may have to list: in a state terminals refuse, or blocked (`card_holds`).
public struct HotlistCandidate: Sendable, Hashable {
    public var asn: String
    public var state: CardState
    /// A loss was reported (a reissued card's predecessor is listed as lost).
    public var lost: Bool
    /// Blocked at once after its holder's death (`CardHold`).
    public var blocked: Bool

    public init(asn: String, state: CardState, lost: Bool, blocked: Bool) {
        self.asn = asn
        self.state = state
        self.lost = lost
        self.blocked = blocked
    }
}

public protocol HotlistStore: Sendable {
    /// The newest published version; 0 before the first.
    func hotlistVersion() async throws(StorageError) -> (version: Int64, publishedAt: Timestamp?)
    /// The entries of the newest version.
    func hotlistEntries() async throws(StorageError) -> [HotlistRow]
    /// What changed after `version` up to the newest: entries added (or re-added with another
    /// reason) and still listed, and ASNs no longer listed.
    func hotlistChanges(since version: Int64) async throws(StorageError) -> (added: [HotlistRow], removed: [String])
    /// Every card that must be listed now, by state: (ASN, state, whether it carries a loss report).
    func hotlistCandidates() async throws(StorageError) -> [HotlistCandidate]
}

/// The day's totals that clearing and reconciliation read.
public protocol ClearingStore: Sendable {
    /// Counted records (posted, risk) of a business day (`YYYY-MM-DD`), summed by merchant,
    /// terminal and outcome.
    func clearingLines(businessDate: CalendarDate) async throws(StorageError) -> [ClearingLine]
    func clearingResults(businessDate: CalendarDate) async throws(StorageError) -> [ClearingResult]
    /// Batches received in [from, until), summed by terminal.
    func batchTotals(from: Timestamp, until: Timestamp) async throws(StorageError) -> [BatchTotal]
    /// The credits (as positive fen) of each account in transfers of `kind` made in [from, until).
    func ledgerCredits(
        kind: TransferKind, from: Timestamp, until: Timestamp
    ) async throws(StorageError) -> [AccountID:
        Int64]
}

public struct ClearingLine: Hashable, Sendable {
    public var merchantID: Merchant.ID
    public var terminalID: Terminal.ID
    public var outcome: OfflinePurchase.Outcome
    public var count: Int64
    public var amountFen: Int64
    /// Of these, records parked first and released by a later record.
    public var releasedCount: Int64
    public var releasedFen: Int64

    public init(
        merchantID: Merchant.ID, terminalID: Terminal.ID, outcome: OfflinePurchase.Outcome, count: Int64,
        amountFen: Int64, releasedCount: Int64, releasedFen: Int64
    ) {
        self.merchantID = merchantID
        self.terminalID = terminalID
        self.outcome = outcome
        self.count = count
        self.amountFen = amountFen
        self.releasedCount = releasedCount
        self.releasedFen = releasedFen
    }
}

public struct BatchTotal: Hashable, Sendable {
    public var terminalID: Terminal.ID
    public var batches: Int64
    public var records: Int64
    public var posted: Int64
    public var risk: Int64
    public var parked: Int64
    public var duplicates: Int64
    public var acceptedFen: Int64

    public init(
        terminalID: Terminal.ID, batches: Int64, records: Int64, posted: Int64, risk: Int64, parked: Int64,
        duplicates: Int64, acceptedFen: Int64
    ) {
        self.terminalID = terminalID
        self.batches = batches
        self.records = records
        self.posted = posted
        self.risk = risk
        self.parked = parked
        self.duplicates = duplicates
        self.acceptedFen = acceptedFen
    }
}

/// Why a store operation failed. Descriptions carry no personal data and no SQL.
public enum StorageError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An update's expected version did not match: someone changed the row meanwhile.
    case conflict(entity: String)
    /// An insert broke a unique rule.
    case duplicate(UniqueRule)
    /// The database is unreachable, locked too long, full, or failed; `reason` is safe to log.
    case unavailable(reason: String)
    /// The stored data is not what this version of the program expects.
    case corrupt(reason: String)
    /// A ledger transfer broke a rule (unbalanced, a purse out of range, an id reused …).
    case ledger(LedgerError)
    /// The database refused a value as data (PostgreSQL's SQLSTATE class 22: a NUL in text, a
    /// number out of range); nothing was written.
    case invalidValue

    public enum UniqueRule: String, Hashable, Sendable {
        case personIDNumber = "person_id_number"
        case cardSlot = "card_slot"
        case cardNumber = "card_number"
        case receiptNumber = "receipt_number"
        case batchNumber = "batch_number"
        case outletCode = "outlet_code"
        case operatorUsername = "operator_username"
        case idempotencyKey = "idempotency_key"
        case eligibilityRule = "eligibility_rule"
        case feeEntry = "fee_entry"
        /// A second unreversed load for one card at the same online counter.
        case purseLoadCounter = "purse_load_counter"
        case merchantCode = "merchant_code"
        case terminalNumber = "terminal_number"
        case psamSerial = "psam_serial"
        case purchaseBatch = "purchase_batch"
        /// A second posted record for one card and counter, or one PSAM and TSN.
        case purchaseRecord = "purchase_record"
        case clearingResult = "clearing_result"
        case purseClosure = "purse_closure"
        /// An old card's (kind, number) imported before.
        case legacyCard = "legacy_card"
        /// A second payee for one card's refund.
        case refundPayee = "refund_payee"
        case suspenseDecision = "suspense_decision"
        /// A second query credential for one card.
        case queryCredential = "query_credential"
        /// A catalogue code used before (codes are never reused).
        case serviceCode = "service_code"
        /// A second activation of one service for one card.
        case serviceActivation = "service_activation"
        case departmentCode = "department_code"
        case certificateSubject = "certificate_subject"
        case departmentKey = "department_key"
        /// A department's message id used before.
        case feedMessage = "feed_message"
        /// A second open case of one kind for one card.
        case cardCase = "card_case"
        case cardHold = "card_hold"
        /// A card or an index already in the status list.
        case statusIndex = "status_index"
        case statusListVersion = "status_list_version"
        /// A code already marked used.
        case credentialUse = "credential_use"
        case bankCode = "bank_code"
        /// A second account for one card.
        case bankAccount = "bank_account"
        /// An account number another card holds.
        case bankAccountNumber = "bank_account_number"
        /// A bank's notice id seen before.
        case bankInboundNotice = "bank_inbound_notice"
        /// A notice id, or a card's sequence number, used before.
        case bankNotice = "bank_notice"
        case other
    }

    public var description: String {
        switch self {
        case .conflict(let entity): "conflict: \(entity) was changed concurrently"
        case .duplicate(let rule): "duplicate: \(rule.rawValue)"
        case .unavailable(let reason): "database unavailable: \(reason)"
        case .corrupt(let reason): "stored data unreadable: \(reason)"
        case .ledger(let error): "ledger: \(error)"
        case .invalidValue: "invalid value: the database refused a value as data"
        }
    }
}

/// Purse closures of one kind and status: how many, and their amount.
public struct PurseClosureTotal: Hashable, Sendable {
    public var kind: PurseClosure.Kind
    public var status: PurseClosure.Status
    public var count: Int64
    public var amountFen: Int64

    public init(kind: PurseClosure.Kind, status: PurseClosure.Status, count: Int64, amountFen: Int64) {
        self.kind = kind
        self.status = status
        self.count = count
        self.amountFen = amountFen
    }
}

/// A store on a cluster of database nodes (issue 22): which node is the primary, and the last
/// switch to a new one, for `/health` and `/metrics`.
public protocol PrimaryReporting: Sendable {
    /// `host:port` of the primary; nil with a single host.
    var primaryDescription: String? { get }
    /// Seconds from the first failure seen to the new primary's pool, of the last switch.
    var lastPrimarySwitchSeconds: Double? { get }
    var primarySwitches: Int { get }
}

public import CitizenCardDomain
public import Ledger

/// The reads behind the outlet reports (R-44, docs/reports.md): what was done at one outlet in a
/// window of time, summed by the database (`GROUP BY`), never row by row.
public protocol ReportStore: Sendable {
    /// The counter activity of `outletID` in [from, until), read in one snapshot so that the parts
    /// agree with each other. Each time is placed in the bucket `(time - from) / bucketSeconds`
    /// (0 for the first): hours of a day with 3600, days of a range with 86400.
    ///
    /// - `events`: card events whose `outlet_id` is the outlet and whose `at` is in the window
    ///   (events without an outlet — time-based transitions, the center's work, self-service — are
    ///   no outlet's), by action, kind of card created, actor and bucket.
    /// - `fees`: receipts of the outlet in the window, by item, payment method, the username of the
    ///   operator who made them, and bucket.
    /// - `loadsApproved`: loads approved at the outlet in the window (bucket of `approved_at`), by
    ///   funding, status now, actor and bucket.
    /// - `loadsReversed`: loads of the outlet reversed in the window (bucket of `resolved_at`),
    ///   whenever they were approved, by funding, actor and bucket.
    /// - `payouts`: refunds paid out in cash at the outlet (settlement `cash:<outlet id>`, as
    ///   `PurseClosureService.payOut` records it) in the window (bucket of `settled_at`).
    /// - `cashLedger`: the ledger's postings on the outlet's cash account (`outlet:<id>:cash`) in
    ///   transfers made in the window, by kind of transfer (net, debit positive): what the outlet
    ///   report ties out to.
    ///
    /// `until` must be after `from` and `bucketSeconds` positive (programmer errors otherwise).
    func outletActivity(
        outletID: Outlet.ID, from: Timestamp, until: Timestamp, bucketSeconds: Int64
    ) async throws(StorageError) -> OutletActivity
}

/// One outlet's counter activity in a window, as sums (`ReportStore.outletActivity`).
public struct OutletActivity: Hashable, Sendable {
    /// Card events of one kind by one actor in one bucket.
    public struct EventCount: Hashable, Sendable {
        public var action: CardAction.Kind
        /// For `create` events: the kind of card created (an application or a successor card).
        public var createdKind: Card.Kind?
        /// A `cancel` of a successor card still in the pipeline, cancelled in the same commit as
        /// the card it was to replace (one cancellation at the counter, two events).
        public var withPredecessor: Bool
        public var actor: String
        public var bucket: Int64
        public var count: Int64

        public init(
            action: CardAction.Kind, createdKind: Card.Kind?, withPredecessor: Bool, actor: String, bucket: Int64,
            count: Int64
        ) {
            self.action = action
            self.createdKind = createdKind
            self.withPredecessor = withPredecessor
            self.actor = actor
            self.bucket = bucket
            self.count = count
        }
    }

    /// Receipts of one item and payment method by one operator in one bucket.
    public struct FeeTotal: Hashable, Sendable {
        public var item: FeeItem
        public var paymentMethod: Receipt.PaymentMethod
        /// The username of the operator who made the receipts.
        public var operatorName: String
        public var bucket: Int64
        public var count: Int64
        public var amountFen: Int64

        public init(
            item: FeeItem, paymentMethod: Receipt.PaymentMethod, operatorName: String, bucket: Int64, count: Int64,
            amountFen: Int64
        ) {
            self.item = item
            self.paymentMethod = paymentMethod
            self.operatorName = operatorName
            self.bucket = bucket
            self.count = count
            self.amountFen = amountFen
        }
    }

    /// Loads of one funding and status by one actor in one bucket.
    public struct LoadTotal: Hashable, Sendable {
        public var funding: PurseLoad.Funding
        public var status: PurseLoad.Status
        public var actor: String
        public var bucket: Int64
        public var count: Int64
        public var amountFen: Int64

        public init(
            funding: PurseLoad.Funding, status: PurseLoad.Status, actor: String, bucket: Int64, count: Int64,
            amountFen: Int64
        ) {
            self.funding = funding
            self.status = status
            self.actor = actor
            self.bucket = bucket
            self.count = count
            self.amountFen = amountFen
        }
    }

    /// Cash refund payouts in one bucket.
    public struct PayoutTotal: Hashable, Sendable {
        public var bucket: Int64
        public var count: Int64
        public var amountFen: Int64

        public init(bucket: Int64, count: Int64, amountFen: Int64) {
            self.bucket = bucket
            self.count = count
            self.amountFen = amountFen
        }
    }

    /// The postings of one kind of transfer on the outlet's cash account.
    public struct CashMovement: Hashable, Sendable {
        public var kind: TransferKind
        public var count: Int64
        /// Debits minus credits: what the drawer gained.
        public var netFen: Int64

        public init(kind: TransferKind, count: Int64, netFen: Int64) {
            self.kind = kind
            self.count = count
            self.netFen = netFen
        }
    }

    public var events: [EventCount]
    public var fees: [FeeTotal]
    public var loadsApproved: [LoadTotal]
    public var loadsReversed: [LoadTotal]
    public var payouts: [PayoutTotal]
    public var cashLedger: [CashMovement]

    public init(
        events: [EventCount] = [], fees: [FeeTotal] = [], loadsApproved: [LoadTotal] = [],
        loadsReversed: [LoadTotal] = [], payouts: [PayoutTotal] = [], cashLedger: [CashMovement] = []
    ) {
        self.cashLedger = cashLedger
        self.events = events
        self.fees = fees
        self.loadsApproved = loadsApproved
        self.loadsReversed = loadsReversed
        self.payouts = payouts
    }

    /// The `settlement` of a closure paid out in cash at an outlet.
    public static func cashSettlement(_ outletID: Outlet.ID) -> String { "cash:\(outletID.rawValue)" }
}

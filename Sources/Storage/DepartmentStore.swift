public import Foundation
public import CitizenCardDomain

/// Departments, their clients and keys, feeds, the review queue, the outlets' card cases, blocked
/// cards, grants and disclosures (issue 18, docs/departments.md).
public protocol DepartmentStore: Sendable {
    func departments() async throws(StorageError) -> [Department]
    func department(id: Department.ID) async throws(StorageError) -> Department?
    func department(code: String) async throws(StorageError) -> Department?
    func departmentClients(departmentID: Department.ID) async throws(StorageError) -> [DepartmentClient]
    func departmentClient(id: DepartmentClient.ID) async throws(StorageError) -> DepartmentClient?
    func departmentClient(certificateSubject: String) async throws(StorageError) -> DepartmentClient?
    func departmentKeys(clientID: DepartmentClient.ID) async throws(StorageError) -> [DepartmentKey]
    /// The key with this SHA-256, with its client and the client's department, in one read.
    func departmentCredential(keyHash: [UInt8]) async throws(StorageError) -> DepartmentCredential?

    func feedRecord(departmentID: Department.ID, messageID: String) async throws(StorageError) -> FeedRecord?
    /// The stored messages among `messageIDs` (a feed file's chunk), in no order.
    func feedRecords(departmentID: Department.ID, messageIDs: [String]) async throws(StorageError) -> [FeedRecord]
    /// The persons with these blind indexes (a feed file's chunk), in no order.
    func persons(idIndexes: [Data]) async throws(StorageError) -> [SealedPerson]
    /// Newest first; `before` is the `receivedAt` of the last one seen.
    func feedRecords(
        departmentID: Department.ID?, outcome: FeedResult.Outcome?, limit: Int
    ) async throws(StorageError)
        -> [FeedRecord]

    func reviewItems(open: Bool, limit: Int) async throws(StorageError) -> [ReviewItem]
    func reviewItem(id: ReviewItem.ID) async throws(StorageError) -> ReviewItem?

    /// Open (or closed) cases, oldest first, of one outlet or all.
    func cardCases(open: Bool, outletID: Outlet.ID?, limit: Int) async throws(StorageError) -> [CardCase]
    func cardCases(cardID: Card.ID) async throws(StorageError) -> [CardCase]
    func cardCase(id: CardCase.ID) async throws(StorageError) -> CardCase?
    func cardHold(cardID: Card.ID) async throws(StorageError) -> CardHold?
    /// The card with this number, its holder's blind index and whether it is blocked, in one read
    /// (an online card check).
    func cardForCheck(number: String) async throws(StorageError) -> (card: Card, holderIndex: Data, blocked: Bool)?

    func grants(departmentID: Department.ID?) async throws(StorageError) -> [Grant]
    func grant(id: Grant.ID) async throws(StorageError) -> Grant?

    /// A person's disclosures, newest first.
    func disclosures(personID: Person.ID, limit: Int) async throws(StorageError) -> [Disclosure]
    /// A department's own access log, newest first (by time, then id), after the cursor `before`
    /// (the time and id of the last one seen) when given.
    func disclosures(
        departmentID: Department.ID, before: (at: Timestamp, id: Disclosure.ID)?, limit: Int
    ) async throws(StorageError) -> [Disclosure]
    /// Disclosures counted by department, grant, kind and found, between two times.
    func disclosureCounts(from: Timestamp, until: Timestamp) async throws(StorageError) -> [DisclosureCount]
    /// How many distinct persons a grant disclosed since `since`, and how many requests it answered.
    func grantUsage(grantID: Grant.ID, since: Timestamp) async throws(StorageError) -> (requests: Int64, persons: Int64)
}

/// What a feed file's chunk writes (`ChangeSet.Change.Departments.applyFeedChunk`).
public struct FeedChunk: Sendable {
    public struct PersonChange: Sendable, Hashable {
        public var personID: Person.ID
        public var expectedVersion: Int64
        public var attributes: PersonAttributes
        public var fingerprint: Data
        public var provenance: Provenance

        public init(
            personID: Person.ID, expectedVersion: Int64, attributes: PersonAttributes, fingerprint: Data,
            provenance: Provenance
        ) {
            self.personID = personID
            self.expectedVersion = expectedVersion
            self.attributes = attributes
            self.fingerprint = fingerprint
            self.provenance = provenance
        }
    }

    public var persons: [PersonChange]
    public var records: [FeedRecord]

    public init(persons: [PersonChange], records: [FeedRecord]) {
        self.persons = persons
        self.records = records
    }
}

/// A key as found at authentication: the key, its client and the department.
public struct DepartmentCredential: Sendable, Hashable {
    public var key: DepartmentKey
    public var client: DepartmentClient
    public var department: Department

    public init(key: DepartmentKey, client: DepartmentClient, department: Department) {
        self.key = key
        self.client = client
        self.department = department
    }
}

/// One line of the disclosure report.
public struct DisclosureCount: Sendable, Hashable, Codable {
    public var departmentID: Department.ID?
    public var grantID: Grant.ID?
    public var kind: Disclosure.Kind
    public var found: Bool
    public var count: Int64
    public var persons: Int64

    public init(
        departmentID: Department.ID?, grantID: Grant.ID?, kind: Disclosure.Kind, found: Bool, count: Int64,
        persons: Int64
    ) {
        self.departmentID = departmentID
        self.grantID = grantID
        self.kind = kind
        self.found = found
        self.count = count
        self.persons = persons
    }
}

extension ChangeSet.Change {
    /// Departments and what they send and read.
    public enum Departments: Sendable {
        /// `departmentCode` if the code is taken.
        case insertDepartment(Department)
        case updateDepartment(Department, expectedVersion: Int64)
        /// `certificateSubject` if another client has the subject.
        case insertDepartmentClient(DepartmentClient)
        case updateDepartmentClient(DepartmentClient, expectedVersion: Int64)
        case insertDepartmentKey(DepartmentKey)
        case updateDepartmentKey(DepartmentKey, expectedVersion: Int64)
        /// The claim of a message id: `feedMessage` if the department sent this id before.
        case insertFeedRecord(FeedRecord)
        case insertReviewItem(ReviewItem)
        case updateReviewItem(ReviewItem, expectedVersion: Int64)
        /// `cardCase` if the card has an open case of this kind.
        case insertCardCase(CardCase)
        /// Closes the card's open cases of these kinds (any number, none included).
        case closeCardCases(cardID: Card.ID, kinds: [CardCase.Kind], at: Timestamp, by: String)
        /// `cardHold` if the card is blocked already.
        case insertCardHold(CardHold)
        case insertGrant(Grant)
        case updateGrant(Grant, expectedVersion: Int64)
        case insertDisclosures([Disclosure])
        /// A feed file's chunk: persons' new attributes (each person's previous version kept in
        /// its history; each `expectedVersion` must be the stored one, else `conflict`) and the
        /// claims of the chunk's message ids (`feedMessage` if one was sent before). Written the
        /// way each backend writes many rows fastest.
        case applyFeedChunk(FeedChunk)
    }
}

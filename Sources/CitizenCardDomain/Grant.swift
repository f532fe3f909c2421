/// A department's permission to read population data (R-40, Art 7): which fields in which form,
/// for which purpose, on which legal basis, for how long and how much. It is active only after
/// the commission approved it and the information center recorded the signed confidentiality
/// agreement; outside an active grant a department learns nothing.
public struct Grant: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Grant>

    public enum State: String, Codable, Sendable, CaseIterable {
        /// Asked for; waits for the commission.
        case requested
        /// Approved by the commission; waits for the confidentiality agreement.
        case approved
        /// Refused by the commission (final).
        case refused
        /// Approved and the agreement recorded: in force between its dates.
        case active
        /// Stopped for now (by the center, or by the scraping detector); may be resumed.
        case suspended
        /// Ended for good (final).
        case revoked
    }

    public struct Agreement: Hashable, Codable, Sendable {
        /// The signed agreement's reference number.
        public var reference: String
        /// Who signed for the department (a name and a title; not personal data of a resident).
        public var signatory: String
        public var signedOn: CalendarDate
        public var recordedBy: String
        public var recordedAt: Timestamp

        public init(
            reference: String, signatory: String, signedOn: CalendarDate, recordedBy: String, recordedAt: Timestamp
        ) {
            self.reference = reference
            self.signatory = signatory
            self.signedOn = signedOn
            self.recordedBy = recordedBy
            self.recordedAt = recordedAt
        }
    }

    public var id: ID
    public var departmentID: Department.ID
    /// Fields and the form each is disclosed in.
    public var fields: [GrantField: DisclosureForm]
    public var purpose: String
    public var legalBasis: String
    public var validFrom: CalendarDate
    public var validUntil: CalendarDate
    /// Persons looked up per day at most (found or not).
    public var dailyVolume: Int64
    /// Persons looked up per minute at most (each ID number of a batch counts).
    public var ratePerMinute: Int64
    public var state: State
    public var requestedBy: String
    public var requestedAt: Timestamp
    public var decidedBy: String?
    public var decidedAt: Timestamp?
    public var decisionNote: String?
    public var agreement: Agreement?
    /// Why it was last suspended or revoked.
    public var stateReason: String?
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, fields, purpose, legalBasis, validFrom, validUntil, dailyVolume, ratePerMinute, state, requestedBy
        case requestedAt, decidedBy, decidedAt, decisionNote, agreement, stateReason, version
        case departmentID = "departmentId"
    }

    public init(
        id: ID, departmentID: Department.ID, fields: [GrantField: DisclosureForm], purpose: String, legalBasis: String,
        validFrom: CalendarDate, validUntil: CalendarDate, dailyVolume: Int64, ratePerMinute: Int64,
        requestedBy: String, requestedAt: Timestamp
    ) {
        self.id = id
        self.departmentID = departmentID
        self.fields = fields
        self.purpose = purpose
        self.legalBasis = legalBasis
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.dailyVolume = dailyVolume
        self.ratePerMinute = ratePerMinute
        self.state = .requested
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.version = 1
    }

    /// Rebuilds a stored grant.
    public init(
        stored id: ID, departmentID: Department.ID, fields: [GrantField: DisclosureForm], purpose: String,
        legalBasis: String, validFrom: CalendarDate, validUntil: CalendarDate, dailyVolume: Int64,
        ratePerMinute: Int64, state: State, requestedBy: String, requestedAt: Timestamp, decidedBy: String?,
        decidedAt: Timestamp?, decisionNote: String?, agreement: Agreement?, stateReason: String?, version: Int64
    ) {
        self.init(
            id: id, departmentID: departmentID, fields: fields, purpose: purpose, legalBasis: legalBasis,
            validFrom: validFrom, validUntil: validUntil, dailyVolume: dailyVolume, ratePerMinute: ratePerMinute,
            requestedBy: requestedBy, requestedAt: requestedAt)
        self.state = state
        self.decidedBy = decidedBy
        self.decidedAt = decidedAt
        self.decisionNote = decisionNote
        self.agreement = agreement
        self.stateReason = stateReason
        self.version = version
    }

    /// Whether the grant lets its department read today.
    public func isInForce(on date: CalendarDate) -> Bool {
        state == .active && validFrom <= date && date <= validUntil
    }

    /// What a person may do to a grant; each moves it on by one version or is refused with
    /// `transition_not_allowed` (or `forbidden` for the separation of duties).
    public enum Action: Sendable {
        case approve(by: String, note: String?)
        case refuse(by: String, note: String)
        case recordAgreement(Agreement)
        case suspend(reason: String)
        case resume
        case revoke(reason: String)
    }

    public func applying(_ action: Action, at time: Timestamp) throws(CitizenCardError) -> Grant {
        var next = self
        switch (state, action) {
        case (.requested, .approve(let by, let note)):
            guard by != requestedBy else {
                throw CitizenCardError(.forbidden, "the requester of a grant may not approve it", zh: "授权申请人不得批准本申请")
            }
            next.state = .approved
            next.decidedBy = by
            next.decidedAt = time
            next.decisionNote = note
        case (.requested, .refuse(let by, let note)):
            guard by != requestedBy else {
                throw CitizenCardError(.forbidden, "the requester of a grant may not decide on it", zh: "授权申请人不得决定本申请")
            }
            next.state = .refused
            next.decidedBy = by
            next.decidedAt = time
            next.decisionNote = note
        case (.approved, .recordAgreement(let agreement)):
            guard agreement.recordedBy != decidedBy, agreement.recordedBy != requestedBy else {
                throw CitizenCardError(
                    .forbidden, "the agreement is recorded by someone other than the approver and the requester",
                    zh: "保密协议须由申请人和批准人以外的人员登记")
            }
            next.state = .active
            next.agreement = agreement
        case (.active, .suspend(let reason)):
            next.state = .suspended
            next.stateReason = reason
        case (.suspended, .resume):
            next.state = .active
            next.stateReason = nil
        case (.requested, .revoke(let reason)), (.approved, .revoke(let reason)), (.active, .revoke(let reason)),
            (.suspended, .revoke(let reason)):
            next.state = .revoked
            next.stateReason = reason
        default:
            throw CitizenCardError(.transitionNotAllowed, "not allowed while the grant is \(state.rawValue)")
        }
        next.version += 1
        return next
    }
}

/// The fixed catalogue of fields a grant can name.
public enum GrantField: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
    case name
    case idNumber
    case sex
    case birthDate
    case phone
    case address
    case employer
    case household
    case socialInsurance
    case ruralMedical
    case lifeStatus
    /// The status of the person's current card (`active`, `lost` …, or none).
    case cardStatus

    /// The forms this field may be disclosed in.
    public var forms: Set<DisclosureForm> {
        switch self {
        case .name, .idNumber, .phone, .address: [.full, .masked, .keyedHash]
        case .employer: [.full, .keyedHash]
        case .sex, .household: [.full]
        case .birthDate: [.full, .yearOnly]
        case .socialInsurance, .ruralMedical: [.full, .yesNo]
        case .lifeStatus: [.full, .yesNo]
        case .cardStatus: [.full, .yesNo]
        }
    }
}

/// How a granted field is shown to the department.
public enum DisclosureForm: String, Codable, Sendable, CaseIterable {
    /// The value as recorded.
    case full
    /// Masked as the center's own views mask it (`张*明`, `330902********123X`).
    case masked
    /// Only the year (birth date).
    case yearOnly = "year_only"
    /// Only yes or no: insured? alive? holds a usable card?
    case yesNo = "yes_no"
    /// 16 bytes of HMAC-SHA256 of the value under the center's index key in a domain of the
    /// department and the field, as 32 hex digits: the department can match records it already
    /// holds, and two departments cannot link theirs.
    case keyedHash = "keyed_hash"
}

/// One answer to a department, as the citizen and the supervisors see it: never the values, only
/// which fields, for whom, under which grant and why.
public struct Disclosure: Hashable, Codable, Sendable {
    public typealias ID = Identifier<Disclosure>

    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A person looked up under a grant.
        case query
        /// A card checked online: valid or not, and whether it belongs to an ID number.
        case cardCheck = "card_check"
    }

    public var id: ID
    public var at: Timestamp
    public var kind: Kind
    public var departmentID: Department.ID?
    public var clientID: DepartmentClient.ID?
    public var grantID: Grant.ID?
    /// nil when nobody was found (the department learns only "not found").
    public var personID: Person.ID?
    public var purpose: String
    public var caseNumber: String
    public var endUser: String
    /// Names of the fields disclosed, in catalogue order; empty when nothing was found.
    public var fields: [String]
    public var found: Bool

    public init(
        id: ID, at: Timestamp, kind: Kind, departmentID: Department.ID?, clientID: DepartmentClient.ID?,
        grantID: Grant.ID?, personID: Person.ID?, purpose: String, caseNumber: String, endUser: String,
        fields: [String], found: Bool
    ) {
        self.id = id
        self.at = at
        self.kind = kind
        self.departmentID = departmentID
        self.clientID = clientID
        self.grantID = grantID
        self.personID = personID
        self.purpose = purpose
        self.caseNumber = caseNumber
        self.endUser = endUser
        self.fields = fields
        self.found = found
    }
}

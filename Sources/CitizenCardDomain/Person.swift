/// A resident in the population database.
///
/// The record is split in two: `PersonalDetails` is personal data and is only ever stored sealed
/// (encrypted); the rest are the few attributes that eligibility rules and statistics need and that
/// identify nobody on their own.
public struct Person: Hashable, Sendable {
    public typealias ID = Identifier<Person>

    public let id: ID
    public var details: PersonalDetails
    public var attributes: PersonAttributes
    /// 1 when created; each change adds 1 and keeps the previous version in the history.
    public var version: Int64
    /// Who made the current version, when, why and from which source.
    public var provenance: Provenance
    public var createdAt: Timestamp

    public init(
        id: ID, details: PersonalDetails, attributes: PersonAttributes, version: Int64, provenance: Provenance,
        createdAt: Timestamp
    ) {
        self.id = id
        self.details = details
        self.attributes = attributes
        self.version = version
        self.provenance = provenance
        self.createdAt = createdAt
    }

    public var residentID: ResidentID { details.residentID }
}

/// The personal data of a person record; sealed at rest, masked on output.
public struct PersonalDetails: Hashable, Codable, Sendable {
    public var residentID: ResidentID
    public var name: String
    /// 社会保障号码; for residents of the mainland it is the resident ID number.
    public var socialSecurityNumber: String
    public var phone: String?
    public var address: String?
    public var employer: String?
    /// Reference to the portrait in the photo store; nil until a portrait is taken.
    public var photoID: PhotoID?

    public init(
        residentID: ResidentID, name: String, socialSecurityNumber: String? = nil, phone: String? = nil,
        address: String? = nil, employer: String? = nil, photoID: PhotoID? = nil
    ) {
        self.residentID = residentID
        self.name = name
        self.socialSecurityNumber = socialSecurityNumber ?? residentID.number
        self.phone = phone
        self.address = address
        self.employer = employer
        self.photoID = photoID
    }

    public var sex: Sex { residentID.sex }
    public var birthDate: CalendarDate { residentID.birthDate }
}

public enum PhotoTag {}
public typealias PhotoID = Identifier<PhotoTag>

extension ResidentID: Codable {
    /// Decodes a number already stored: its region code is not checked against the table (it was
    /// when the number was written, and a later table must not keep it from opening).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        switch ResidentID.parse(try container.decode(String.self), regions: nil) {
        case .success(let id): self = id
        case .failure(let invalid):
            throw DecodingError.dataCorruptedError(in: container, debugDescription: invalid.reason)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(number)
    }
}

/// Attributes kept in clear because eligibility, reports and the card programme depend on them.
public struct PersonAttributes: Hashable, Codable, Sendable {
    public var household: Household
    /// Takes part in the city's social insurance.
    public var socialInsurance: Bool
    /// Takes part in the new fishery/rural cooperative medical scheme (新型渔农村合作医疗).
    public var ruralMedical: Bool
    public var lifeStatus: LifeStatus

    public init(household: Household, socialInsurance: Bool, ruralMedical: Bool, lifeStatus: LifeStatus = .alive) {
        self.household = household
        self.socialInsurance = socialInsurance
        self.ruralMedical = ruralMedical
        self.lifeStatus = lifeStatus
    }
}

/// Household registration (户籍): in this city or elsewhere.
public enum Household: String, Codable, Sendable, CaseIterable {
    case local
    case nonlocal
}

public enum LifeStatus: String, Codable, Sendable, CaseIterable {
    case alive
    case deceased
}

/// Who made a change, when, why and where the data came from.
public struct Provenance: Hashable, Codable, Sendable {
    public var actor: String
    public var at: Timestamp
    public var reason: String
    public var source: Source

    public enum Source: String, Codable, Sendable, CaseIterable {
        /// Entered at a service outlet.
        case outlet
        /// Loaded by `citizencard import persons`.
        case bulkImport = "import"
        /// Sent by an application department's feed.
        case department
        /// Created with the demo city.
        case demo
        /// The holder, through self-service.
        case selfService = "self_service"
    }

    public init(actor: String, at: Timestamp, reason: String, source: Source) {
        self.actor = actor
        self.at = at
        self.reason = reason
        self.source = source
    }
}

/// A past version of a person record, as kept in the history.
public struct PersonVersion: Hashable, Sendable {
    public var version: Int64
    public var details: PersonalDetails
    public var attributes: PersonAttributes
    public var provenance: Provenance

    public init(version: Int64, details: PersonalDetails, attributes: PersonAttributes, provenance: Provenance) {
        self.version = version
        self.details = details
        self.attributes = attributes
        self.provenance = provenance
    }
}

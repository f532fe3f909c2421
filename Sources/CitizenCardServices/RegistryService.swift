public import CitizenCardDomain
public import Foundation
import DataProtection
import Storage

/// The population database (R-01 … R-03): registration, versioned corrections, portraits,
/// eligibility. Every read of personal data writes an audit entry before the data is returned.
public struct RegistryService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Photos are JPEG or PNG, at most 2 MiB.
    public static let photoSizeMax = 2 * 1024 * 1024

    public struct Registration: Codable, Sendable {
        public var idNumber: String
        public var name: String
        public var sex: Sex?
        public var socialSecurityNumber: String?
        public var phone: String?
        public var address: String?
        public var employer: String?
        public var household: Household
        public var socialInsurance: Bool
        public var ruralMedical: Bool
        public var reason: String?

        public init(
            idNumber: String, name: String, sex: Sex? = nil, socialSecurityNumber: String? = nil, phone: String? = nil,
            address: String? = nil, employer: String? = nil, household: Household, socialInsurance: Bool,
            ruralMedical: Bool, reason: String? = nil
        ) {
            self.idNumber = idNumber
            self.name = name
            self.sex = sex
            self.socialSecurityNumber = socialSecurityNumber
            self.phone = phone
            self.address = address
            self.employer = employer
            self.household = household
            self.socialInsurance = socialInsurance
            self.ruralMedical = ruralMedical
            self.reason = reason
        }
    }

    /// Registers a person. `person_exists` if the ID number is registered already.
    public func register(
        _ registration: Registration, actor: Actor, source: Provenance.Source = .outlet
    )
        async throws(CitizenCardError) -> PersonView
    {
        try actor.require(.maintainPersons)
        let residentID = try PersonFields.residentID(registration.idNumber, today: env.today, regions: env.regions)
        try PersonFields.sex(registration.sex, matches: residentID)
        let details = PersonalDetails(
            residentID: residentID, name: try PersonFields.name(registration.name),
            socialSecurityNumber: try PersonFields.text(
                registration.socialSecurityNumber, field: "socialSecurityNumber", lengthMax: 20),
            phone: try PersonFields.phone(registration.phone),
            address: try PersonFields.text(
                registration.address, field: "address", lengthMax: PersonFields.addressLengthMax),
            employer: try PersonFields.text(
                registration.employer, field: "employer", lengthMax: PersonFields.employerLengthMax))
        let attributes = PersonAttributes(
            household: registration.household, socialInsurance: registration.socialInsurance,
            ruralMedical: registration.ruralMedical)
        let reason = try Self.reason(registration.reason, default: "registration")
        let now = env.clock.now()
        let person = Person(
            id: env.ids.make(), details: details, attributes: attributes, version: 1,
            provenance: Provenance(actor: actor.name, at: now, reason: reason, source: source), createdAt: now)
        if try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(residentID))) != nil {
            throw CitizenCardError(.personExists, field: "idNumber")
        }
        var changes = ChangeSet()
        changes.add(.insertPerson(try seal(person)))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "person.register", subject: "person:\(person.id)",
                personID: person.id, purpose: reason, detail: #"{"source":"\#(source.rawValue)"}"#))
        try await env.commit(changes)
        return PersonView(person, masked: true)
    }

    /// Finds a person by resident ID number (through the blind index) and audits the read.
    public func lookup(
        idNumber: String, reveal: Bool, purpose: String?, actor: Actor
    ) async throws(CitizenCardError)
        -> PersonView
    {
        try actor.require(.readPersons)
        let residentID = try PersonFields.residentID(idNumber, today: env.today, regions: env.regions)
        guard
            let sealed = try await env.fetch(try await env.store.person(idIndex: env.vault.indexOf(residentID)))
        else { throw CitizenCardError.notFound("person") }
        return try await audited(sealed, reveal: reveal, purpose: purpose, actor: actor, action: "person.lookup")
    }

    /// Reads a person and audits the read (R-42).
    public func read(
        _ id: Person.ID, reveal: Bool, purpose: String?, actor: Actor
    ) async throws(CitizenCardError)
        -> PersonView
    {
        try actor.require(.readPersons)
        let sealed = try await load(id)
        return try await audited(sealed, reveal: reveal, purpose: purpose, actor: actor, action: "person.read")
    }

    func audited(
        _ sealed: SealedPerson, reveal: Bool, purpose: String?, actor: Actor, action: String
    )
        async throws(CitizenCardError) -> PersonView
    {
        if reveal { try actor.require(.revealPersonalData) }
        // Unmasked data is shown only for a stated purpose; a masked read has a default one.
        let purpose = try Self.reason(purpose, default: reveal ? nil : "counter service", field: "purpose")
        let person = try open(sealed)
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: action, subject: "person:\(person.id)",
                personID: person.id, purpose: purpose, detail: #"{"revealed":\#(reveal)}"#))
        try await env.commit(changes)
        return PersonView(person, masked: !reveal)
    }

    public struct Correction: Codable, Sendable {
        public var idNumber: String?
        public var name: String?
        public var socialSecurityNumber: String?
        public var phone: String?
        public var address: String?
        public var employer: String?
        public var household: Household?
        public var socialInsurance: Bool?
        public var ruralMedical: Bool?
        public var lifeStatus: LifeStatus?
        /// Why the record changes; required.
        public var reason: String
        /// The version the correction was decided on; a newer stored version is a conflict.
        public var expectedVersion: Int64?

        public init(reason: String) { self.reason = reason }
    }

    /// Corrects a person record: a new version, the previous one kept in the history with who,
    /// when, why and from which source.
    public func correct(
        _ id: Person.ID, _ correction: Correction, actor: Actor, source: Provenance.Source = .outlet
    )
        async throws(CitizenCardError) -> PersonView
    {
        try actor.require(.maintainPersons)
        let reason = try Self.reason(correction.reason, default: nil)
        let sealed = try await load(id)
        if let expected = correction.expectedVersion, expected != sealed.version {
            throw CitizenCardError(.conflict, field: "expectedVersion", "the record is at version \(sealed.version)")
        }
        var person = try open(sealed)
        var details = person.details
        if let number = correction.idNumber {
            details.residentID = try PersonFields.residentID(number, today: env.today, regions: env.regions)
            if correction.socialSecurityNumber == nil
                && person.details.socialSecurityNumber == person.details.residentID.number
            {
                details.socialSecurityNumber = details.residentID.number
            }
        }
        if let name = correction.name { details.name = try PersonFields.name(name) }
        if let number = correction.socialSecurityNumber {
            details.socialSecurityNumber =
                try PersonFields.text(number, field: "socialSecurityNumber", lengthMax: 20) ?? details.residentID.number
        }
        if correction.phone != nil { details.phone = try PersonFields.phone(correction.phone) }
        if correction.address != nil {
            details.address = try PersonFields.text(
                correction.address, field: "address", lengthMax: PersonFields.addressLengthMax)
        }
        if correction.employer != nil {
            details.employer = try PersonFields.text(
                correction.employer, field: "employer", lengthMax: PersonFields.employerLengthMax)
        }
        var attributes = person.attributes
        if let value = correction.household { attributes.household = value }
        if let value = correction.socialInsurance { attributes.socialInsurance = value }
        if let value = correction.ruralMedical { attributes.ruralMedical = value }
        if let value = correction.lifeStatus { attributes.lifeStatus = value }
        let changedFields = Self.changedFields(from: person, details: details, attributes: attributes)
        guard !changedFields.isEmpty else {
            throw CitizenCardError.invalid("reason", "the correction changes nothing", zh: "更正内容与现有记录相同")
        }
        let now = env.clock.now()
        person.details = details
        person.attributes = attributes
        person.version = sealed.version + 1
        person.provenance = Provenance(actor: actor.name, at: now, reason: reason, source: source)
        var changes = ChangeSet()
        changes.add(.updatePerson(try seal(person), expectedVersion: sealed.version))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "person.correct", subject: "person:\(id)", personID: id,
                purpose: reason,
                detail: Self.json(["fields": changedFields.joined(separator: ","), "version": "\(person.version)"])))
        try await env.commit(changes)
        return PersonView(person, masked: true)
    }

    /// Names of the fields that differ (never their values: the audit log holds no personal data).
    static func changedFields(from person: Person, details: PersonalDetails, attributes: PersonAttributes) -> [String] {
        var fields: [String] = []
        let old = person.details
        if old.residentID != details.residentID { fields.append("idNumber") }
        if old.name != details.name { fields.append("name") }
        if old.socialSecurityNumber != details.socialSecurityNumber { fields.append("socialSecurityNumber") }
        if old.phone != details.phone { fields.append("phone") }
        if old.address != details.address { fields.append("address") }
        if old.employer != details.employer { fields.append("employer") }
        if old.photoID != details.photoID { fields.append("photo") }
        if person.attributes.household != attributes.household { fields.append("household") }
        if person.attributes.socialInsurance != attributes.socialInsurance { fields.append("socialInsurance") }
        if person.attributes.ruralMedical != attributes.ruralMedical { fields.append("ruralMedical") }
        if person.attributes.lifeStatus != attributes.lifeStatus { fields.append("lifeStatus") }
        return fields
    }

    /// Every version, oldest first, the current one last; audited as one read.
    public func history(
        _ id: Person.ID, reveal: Bool, purpose: String?, actor: Actor
    ) async throws(CitizenCardError)
        -> [PersonView]
    {
        try actor.require(.readPersons)
        if reveal { try actor.require(.revealPersonalData) }
        let current = try await load(id)
        let older = try await env.fetch(try await env.store.personVersions(id: id))
        var views: [PersonView] = []
        for sealed in older + [current] { views.append(PersonView(try open(sealed), masked: !reveal)) }
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "person.history", subject: "person:\(id)", personID: id,
                purpose: try Self.reason(purpose, default: "counter service", field: "purpose"),
                detail: #"{"revealed":\#(reveal),"versions":\#(views.count)}"#))
        try await env.commit(changes)
        return views
    }

    /// Stores a new portrait (JPEG or PNG by magic bytes, at most 2 MiB) and points the record at it.
    public func storePhoto(_ id: Person.ID, bytes: Data, actor: Actor) async throws(CitizenCardError) -> PersonView {
        try actor.require(.maintainPersons)
        guard let mediaType = Self.imageMediaType(bytes), bytes.count <= Self.photoSizeMax else {
            throw CitizenCardError(.invalidPhoto, field: "photo")
        }
        let sealed = try await load(id)
        var person = try open(sealed)
        let now = env.clock.now()
        let photoID: PhotoID = env.ids.make()
        let content: Data
        do { content = try env.vault.sealPhoto(bytes, photoID: photoID) } catch {
            throw CitizenCardError(.internal, "sealing failed")
        }
        person.details.photoID = photoID
        person.version = sealed.version + 1
        person.provenance = Provenance(actor: actor.name, at: now, reason: "portrait taken", source: .outlet)
        var changes = ChangeSet()
        changes.add(
            .insertPhoto(StoredPhoto(id: photoID, personID: id, mediaType: mediaType, content: content, createdAt: now))
        )
        changes.add(.updatePerson(try seal(person), expectedVersion: sealed.version))
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "person.photo", subject: "person:\(id)", personID: id,
                purpose: "portrait taken", detail: #"{"mediaType":"\#(mediaType)","bytes":\#(bytes.count)}"#))
        try await env.commit(changes)
        return PersonView(person, masked: true)
    }

    /// The current portrait; audited.
    public func photo(
        _ id: Person.ID, purpose: String?, actor: Actor
    ) async throws(CitizenCardError) -> (mediaType: String, bytes: Data) {
        try actor.require(.readPersons)
        let person = try open(try await load(id))
        guard let photoID = person.details.photoID,
            let stored = try await env.fetch(try await env.store.photo(id: photoID))
        else { throw CitizenCardError.notFound("photo") }
        let bytes: Data
        do { bytes = try env.vault.openPhoto(stored.content, photoID: photoID) } catch {
            throw CitizenCardError(.internal, "photo cannot be opened: \(error)")
        }
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: actor.name, action: "person.photo.read", subject: "person:\(id)",
                personID: id, purpose: try Self.reason(purpose, default: "counter service", field: "purpose")))
        try await env.commit(changes)
        return (stored.mediaType, bytes)
    }

    /// Eligibility today under the rules in force (R-03).
    public func eligibility(_ id: Person.ID, actor: Actor) async throws(CitizenCardError) -> EligibilityDecision {
        try actor.require(.readPersons)
        let person = try open(try await load(id))
        return try await decideEligibility(person)
    }

    func decideEligibility(_ person: Person) async throws(CitizenCardError) -> EligibilityDecision {
        let rules = try await env.fetch(try await env.store.eligibilityRules())
        let today = env.today
        return Eligibility.decide(
            EligibilityFacts(person: person.details, attributes: person.attributes, on: today), rules: rules, on: today)
    }

    // MARK: Sealing

    func load(_ id: Person.ID) async throws(CitizenCardError) -> SealedPerson {
        guard let sealed = try await env.fetch(try await env.store.person(id: id))
        else {
            throw CitizenCardError.notFound("person")
        }
        return sealed
    }

    func open(_ sealed: SealedPerson) throws(CitizenCardError) -> Person {
        let details: PersonalDetails
        do { details = try env.vault.open(sealed.details, personID: sealed.id) } catch {
            throw CitizenCardError(.internal, "person record cannot be opened: \(error)")
        }
        return Person(
            id: sealed.id, details: details, attributes: sealed.attributes, version: sealed.version,
            provenance: sealed.provenance, createdAt: sealed.createdAt)
    }

    func seal(_ person: Person) throws(CitizenCardError) -> SealedPerson {
        do {
            return SealedPerson(
                id: person.id, idIndex: env.vault.indexOf(person.details.residentID),
                fingerprint: env.vault.fingerprint(person.details, person.attributes),
                details: try env.vault.seal(person.details, personID: person.id), attributes: person.attributes,
                version: person.version, provenance: person.provenance, createdAt: person.createdAt)
        } catch {
            throw CitizenCardError(.internal, "sealing failed")
        }
    }

    /// A trimmed reason of 1-500 characters, or `default` when none was given.
    static func reason(
        _ value: String?, default fallback: String?, field: String = "reason"
    ) throws(CitizenCardError)
        -> String
    {
        let trimmed = value?.trimmingSpaces ?? ""
        if trimmed.isEmpty, let fallback { return fallback }
        guard !trimmed.isEmpty, trimmed.count <= 500 else {
            throw CitizenCardError.invalid(field, "give 1-500 characters", zh: "请填写1至500个字符")
        }
        try TextRule.check(trimmed, field: field, kind: .line)
        return trimmed
    }

    /// JPEG (starts with SOI `FF D8 FF`, ends with EOI `FF D9`) or PNG (signature, an IHDR chunk
    /// first, an IEND chunk last); anything else is not a portrait.
    static func imageMediaType(_ data: Data) -> String? {
        let bytes = [UInt8](data)
        if bytes.count >= 4, bytes.starts(with: [0xFF, 0xD8, 0xFF]), bytes.suffix(2).elementsEqual([0xFF, 0xD9]) {
            return "image/jpeg"
        }
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let iend: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
        if bytes.count >= 8 + 25 + 12, bytes.starts(with: signature),
            bytes[12..<16].elementsEqual([0x49, 0x48, 0x44, 0x52]),
            bytes.suffix(12).elementsEqual(iend)
        {
            return "image/png"
        }
        return nil
    }

    static func json(_ fields: [String: String]) -> String {
        let data = (try? APIJSON.encoder.encode(fields)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

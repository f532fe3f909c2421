/// Who may hold a citizen card (Art 4, R-03), as effective-dated data rather than code.
///
/// A person is eligible on a date when they are alive and at least one rule in force on that date
/// has every one of its criteria met. The city adds a rule by inserting a row, not by a release.
public struct EligibilityRule: Hashable, Codable, Sendable {
    public typealias ID = Identifier<EligibilityRule>

    public var id: ID
    /// Short stable name, e.g. `nonlocal-insured`.
    public var code: String
    public var title: String
    public var titleZh: String
    public var criteria: [Criterion]
    /// First day the rule applies (Asia/Shanghai calendar).
    public var effectiveFrom: CalendarDate
    /// First day the rule no longer applies; nil while it is open-ended.
    public var effectiveUntil: CalendarDate?

    public init(
        id: ID, code: String, title: String, titleZh: String, criteria: [Criterion], effectiveFrom: CalendarDate,
        effectiveUntil: CalendarDate? = nil
    ) {
        self.id = id
        self.code = code
        self.title = title
        self.titleZh = titleZh
        self.criteria = criteria
        self.effectiveFrom = effectiveFrom
        self.effectiveUntil = effectiveUntil
    }

    public func isInForce(on date: CalendarDate) -> Bool {
        effectiveFrom <= date && (effectiveUntil.map { date < $0 } ?? true)
    }

    public func isMet(by person: EligibilityFacts) -> Bool {
        criteria.allSatisfy { $0.isMet(by: person) }
    }

    /// The rule's own consistency: a code, at least one criterion, a non-empty period.
    public func validate() throws(CitizenCardError) {
        guard !code.isEmpty, code.utf8.count <= 64,
            code.utf8.allSatisfy({ $0.isASCIIDigit || (0x61...0x7A).contains($0) || $0 == UInt8(ascii: "-") })
        else { throw CitizenCardError(.invalidField, field: "code", "use 1-64 characters a-z, 0-9 and -") }
        guard !title.isEmpty, !titleZh.isEmpty else {
            throw CitizenCardError(.invalidField, field: "title", "both titles are required")
        }
        guard !criteria.isEmpty, criteria.count <= 16 else {
            throw CitizenCardError(.invalidField, field: "criteria", "give 1 to 16 criteria")
        }
        for criterion in criteria { try criterion.validate() }
        if let until = effectiveUntil, until <= effectiveFrom {
            throw CitizenCardError(.invalidField, field: "effectiveUntil", "must be after effectiveFrom")
        }
    }
}

/// One condition of a rule. Encoded as `{"attribute": "household", "equals": "local"}` or
/// `{"attribute": "age", "atLeast": 16}` so that rules read well in JSON and in the database.
public struct Criterion: Hashable, Codable, Sendable {
    public enum Attribute: String, Codable, Sendable, CaseIterable {
        /// `equals`: `local` or `nonlocal`.
        case household
        /// `equals`: `true` or `false`.
        case socialInsurance
        /// `equals`: `true` or `false`.
        case ruralMedical
        /// `equals`: a prefix of the 6-digit region code of the ID number, e.g. `3309`.
        case regionCode
        /// `atLeast` and/or `atMost`, in whole years on the evaluation date.
        case age
    }

    public var attribute: Attribute
    public var equals: String?
    public var atLeast: Int?
    public var atMost: Int?

    public init(_ attribute: Attribute, equals: String? = nil, atLeast: Int? = nil, atMost: Int? = nil) {
        self.attribute = attribute
        self.equals = equals
        self.atLeast = atLeast
        self.atMost = atMost
    }

    public static func household(_ value: Household) -> Criterion { Criterion(.household, equals: value.rawValue) }
    public static func socialInsurance(_ value: Bool) -> Criterion { Criterion(.socialInsurance, equals: "\(value)") }
    public static func ruralMedical(_ value: Bool) -> Criterion { Criterion(.ruralMedical, equals: "\(value)") }

    func validate() throws(CitizenCardError) {
        switch attribute {
        case .household:
            guard let equals, Household(rawValue: equals) != nil, atLeast == nil, atMost == nil else {
                throw CitizenCardError(.invalidField, field: "criteria", "household takes equals: local or nonlocal")
            }
        case .socialInsurance, .ruralMedical:
            guard equals == "true" || equals == "false", atLeast == nil, atMost == nil else {
                throw CitizenCardError(
                    .invalidField, field: "criteria", "\(attribute.rawValue) takes equals: true or false")
            }
        case .regionCode:
            guard let equals, (1...6).contains(equals.utf8.count), equals.utf8.allSatisfy(\.isASCIIDigit),
                atLeast == nil, atMost == nil
            else { throw CitizenCardError(.invalidField, field: "criteria", "regionCode takes equals: 1-6 digits") }
        case .age:
            guard equals == nil, atLeast != nil || atMost != nil, (atLeast ?? 0) >= 0,
                (atMost ?? 200) <= 200, (atLeast ?? 0) <= (atMost ?? 200)
            else { throw CitizenCardError(.invalidField, field: "criteria", "age takes atLeast and/or atMost") }
        }
    }

    func isMet(by facts: EligibilityFacts) -> Bool {
        switch attribute {
        case .household: return equals == facts.household.rawValue
        case .socialInsurance: return equals == "\(facts.socialInsurance)"
        case .ruralMedical: return equals == "\(facts.ruralMedical)"
        case .regionCode: return equals.map { facts.regionCode.hasPrefix($0) } ?? false
        case .age:
            return facts.age >= (atLeast ?? Int.min) && facts.age <= (atMost ?? Int.max)
        }
    }
}

/// What the rules look at: the attributes of a person on the evaluation date.
public struct EligibilityFacts: Sendable {
    public var household: Household
    public var socialInsurance: Bool
    public var ruralMedical: Bool
    public var regionCode: String
    public var age: Int
    public var lifeStatus: LifeStatus

    public init(person details: PersonalDetails, attributes: PersonAttributes, on date: CalendarDate) {
        self.household = attributes.household
        self.socialInsurance = attributes.socialInsurance
        self.ruralMedical = attributes.ruralMedical
        self.regionCode = details.residentID.regionCode
        self.age = details.birthDate.years(until: date)
        self.lifeStatus = attributes.lifeStatus
    }
}

public struct EligibilityDecision: Hashable, Codable, Sendable {
    public var eligible: Bool
    /// The code of the first rule (by code) that the person meets; nil when none does.
    public var matchedRule: String?
    public var evaluatedOn: CalendarDate
    /// Why not, when not eligible.
    public var reason: String?
}

public enum Eligibility {
    /// Decides eligibility on `date` under `rules` (rules not in force on that date are ignored).
    public static func decide(
        _ facts: EligibilityFacts, rules: [EligibilityRule], on date: CalendarDate
    )
        -> EligibilityDecision
    {
        guard facts.lifeStatus == .alive else {
            return EligibilityDecision(eligible: false, matchedRule: nil, evaluatedOn: date, reason: "deceased")
        }
        let inForce = rules.filter { $0.isInForce(on: date) }.sorted { $0.code < $1.code }
        if let rule = inForce.first(where: { $0.isMet(by: facts) }) {
            return EligibilityDecision(eligible: true, matchedRule: rule.code, evaluatedOn: date, reason: nil)
        }
        return EligibilityDecision(
            eligible: false, matchedRule: nil, evaluatedOn: date,
            reason: inForce.isEmpty ? "no eligibility rule is in force" : "no eligibility rule in force is met")
    }

    /// Art 4 as the regulation wrote it: local household registration, or a non-local person in
    /// social insurance or in the rural cooperative medical scheme.
    public static func regulationRules(from date: CalendarDate, ids: some IdentifierGenerator) -> [EligibilityRule] {
        [
            EligibilityRule(
                id: ids.make(), code: "local-household", title: "Local household registration",
                titleZh: "本市户籍人员", criteria: [.household(.local)], effectiveFrom: date),
            EligibilityRule(
                id: ids.make(), code: "nonlocal-insured", title: "Non-local, in social insurance",
                titleZh: "依法参加社会保险的非本市户籍人员", criteria: [.household(.nonlocal), .socialInsurance(true)],
                effectiveFrom: date),
            EligibilityRule(
                id: ids.make(), code: "nonlocal-rural-medical", title: "Non-local, in rural cooperative medical scheme",
                titleZh: "参加新型渔农村合作医疗的非本市户籍人员", criteria: [.household(.nonlocal), .ruralMedical(true)],
                effectiveFrom: date),
        ]
    }
}

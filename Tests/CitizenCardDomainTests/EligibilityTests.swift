import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

@Suite("Eligibility (Art 4, R-03)")
struct EligibilityTests {
    static let inForceFrom = CalendarDate.on("2012-06-01")
    static let today = CalendarDate.on("2026-11-29")

    static func facts(
        household: Household = .local, socialInsurance: Bool = false, ruralMedical: Bool = false,
        lifeStatus: LifeStatus = .alive, region: String = "330902", birth: String = "1991-01-01",
        on date: CalendarDate = today
    ) -> EligibilityFacts {
        let id = ResidentID.make(region: region, birth: .on(birth), sequence: 7)
        return EligibilityFacts(
            person: PersonalDetails(residentID: id, name: "测试"),
            attributes: PersonAttributes(
                household: household, socialInsurance: socialInsurance, ruralMedical: ruralMedical,
                lifeStatus: lifeStatus),
            on: date)
    }

    static let regulation = Eligibility.regulationRules(from: inForceFrom, ids: SequentialIDs())

    // MARK: The three rules of the regulation

    @Test func regulationRulesAreTheThreeOfArticleFour() throws {
        #expect(Self.regulation.map(\.code) == ["local-household", "nonlocal-insured", "nonlocal-rural-medical"])
        #expect(Set(Self.regulation.map(\.id)).count == 3)
        for rule in Self.regulation {
            try rule.validate()
            #expect(rule.effectiveFrom == Self.inForceFrom)
            #expect(rule.effectiveUntil == nil)
            #expect(!rule.titleZh.isEmpty)
        }
    }

    @Test(
        arguments: [
            // household, insured, rural medical → the rule that makes the person eligible (nil: none)
            (Household.local, false, false, "local-household"),
            (.local, true, false, "local-household"),
            (.local, false, true, "local-household"),
            (.local, true, true, "local-household"),
            (.nonlocal, false, false, nil),
            (.nonlocal, true, false, "nonlocal-insured"),
            (.nonlocal, false, true, "nonlocal-rural-medical"),
            // Both met: the first rule by code is reported.
            (.nonlocal, true, true, "nonlocal-insured"),
        ] as [(Household, Bool, Bool, String?)])
    func regulationDecides(household: Household, insured: Bool, ruralMedical: Bool, rule: String?) {
        let facts = Self.facts(household: household, socialInsurance: insured, ruralMedical: ruralMedical)
        let decision = Eligibility.decide(facts, rules: Self.regulation, on: Self.today)
        #expect(decision.eligible == (rule != nil))
        #expect(decision.matchedRule == rule)
        #expect(decision.evaluatedOn == Self.today)
        #expect(decision.reason == (rule == nil ? "no eligibility rule in force is met" : nil))
    }

    @Test func theOrderOfRulesDoesNotChangeTheDecision() async {
        await propertyCheck(count: 200, input: Gen<Household>.case, Gen.bool, Gen.bool) { household, insured, rural in
            let facts = Self.facts(household: household, socialInsurance: insured, ruralMedical: rural)
            let forward = Eligibility.decide(facts, rules: Self.regulation, on: Self.today)
            let backward = Eligibility.decide(facts, rules: Self.regulation.reversed(), on: Self.today)
            #expect(forward == backward)
        }
    }

    // MARK: Deceased

    @Test func aDeceasedPersonIsNeverEligible() async {
        let everyone = EligibilityRule(
            id: fixedID(9), code: "everyone", title: "Everyone", titleZh: "所有人",
            criteria: [Criterion(.age, atLeast: 0)],
            effectiveFrom: .on("1900-01-01"))
        await propertyCheck(count: 200, input: Gen<Household>.case, Gen.bool, Gen.bool) { household, insured, rural in
            let facts = Self.facts(
                household: household, socialInsurance: insured, ruralMedical: rural, lifeStatus: .deceased)
            let decision = Eligibility.decide(facts, rules: Self.regulation + [everyone], on: Self.today)
            #expect(!decision.eligible)
            #expect(decision.matchedRule == nil)
            #expect(decision.reason == "deceased")
        }
    }

    // MARK: Effective dating

    @Test func rulesNotYetInForceAreIgnored() {
        let facts = Self.facts(household: .local)
        let before = Eligibility.decide(facts, rules: Self.regulation, on: .on("2012-05-31"))
        #expect(!before.eligible)
        #expect(before.reason == "no eligibility rule is in force")
        let first = Eligibility.decide(facts, rules: Self.regulation, on: Self.inForceFrom)
        #expect(first.eligible)
        #expect(first.matchedRule == "local-household")
    }

    @Test func rulesThatEndedAreIgnoredFromTheirEndDate() {
        var rule = Self.regulation[1]
        rule.effectiveUntil = .on("2020-01-01")
        #expect(rule.isInForce(on: .on("2019-12-31")))
        #expect(!rule.isInForce(on: .on("2020-01-01")))
        #expect(!rule.isInForce(on: .on("2012-05-31")))
        #expect(rule.isInForce(on: Self.inForceFrom))
        let insured = Self.facts(household: .nonlocal, socialInsurance: true)
        #expect(Eligibility.decide(insured, rules: [rule], on: .on("2019-12-31")).matchedRule == "nonlocal-insured")
        let after = Eligibility.decide(insured, rules: [rule], on: .on("2020-01-01"))
        #expect(!after.eligible)
        #expect(after.reason == "no eligibility rule is in force")
    }

    @Test func aRuleReplacedByANewVersionOnADate() {
        var old = Self.regulation[1]
        old.effectiveUntil = .on("2025-01-01")
        // From 2025 non-local insured people must also be at least 16.
        let new = EligibilityRule(
            id: fixedID(20), code: "nonlocal-insured-16", title: "Non-local, insured, 16 or older",
            titleZh: "参保的16周岁以上非本市户籍人员",
            criteria: [.household(.nonlocal), .socialInsurance(true), Criterion(.age, atLeast: 16)],
            effectiveFrom: .on("2025-01-01"))
        let child = Self.facts(household: .nonlocal, socialInsurance: true, birth: "2015-03-01", on: .on("2024-12-31"))
        #expect(Eligibility.decide(child, rules: [old, new], on: .on("2024-12-31")).eligible)
        let childLater = Self.facts(
            household: .nonlocal, socialInsurance: true, birth: "2015-03-01", on: .on("2025-01-01"))
        #expect(!Eligibility.decide(childLater, rules: [old, new], on: .on("2025-01-01")).eligible)
    }

    // MARK: Rules the city adds

    static let seniors = EligibilityRule(
        id: fixedID(10), code: "nonlocal-senior", title: "Non-local residents aged 70 or more",
        titleZh: "70周岁以上非本市户籍人员", criteria: [.household(.nonlocal), Criterion(.age, atLeast: 70)],
        effectiveFrom: .on("2026-01-01"))

    static let zhoushanPupils = EligibilityRule(
        id: fixedID(11), code: "zhoushan-pupil", title: "Pupils born in Zhoushan", titleZh: "舟山籍学生",
        criteria: [Criterion(.regionCode, equals: "3309"), Criterion(.age, atLeast: 6, atMost: 18)],
        effectiveFrom: .on("2026-09-01"))

    @Test func cityAddedAgeRule() throws {
        try Self.seniors.validate()
        let rules = Self.regulation + [Self.seniors]
        let seventy = Self.facts(household: .nonlocal, birth: "1956-11-29")
        #expect(Eligibility.decide(seventy, rules: rules, on: Self.today).matchedRule == "nonlocal-senior")
        let almost = Self.facts(household: .nonlocal, birth: "1956-11-30")
        #expect(!Eligibility.decide(almost, rules: rules, on: Self.today).eligible)
        // Before the rule was added the same person was not eligible.
        let lastYear = Self.facts(household: .nonlocal, birth: "1950-01-01", on: .on("2025-12-31"))
        #expect(!Eligibility.decide(lastYear, rules: rules, on: .on("2025-12-31")).eligible)
    }

    @Test(arguments: [
        ("330902", "2015-01-01", true), ("330921", "2008-11-29", true), ("330922", "2007-11-29", false),
        ("330902", "2020-11-30", false), ("330902", "2020-11-29", true), ("110105", "2015-01-01", false),
        ("330800", "2015-01-01", false),
    ])
    func cityAddedRegionPrefixRule(region: String, birth: String, eligible: Bool) throws {
        try Self.zhoushanPupils.validate()
        let facts = Self.facts(household: .nonlocal, region: region, birth: birth)
        let decision = Eligibility.decide(facts, rules: Self.regulation + [Self.zhoushanPupils], on: Self.today)
        #expect(decision.eligible == eligible)
        #expect(decision.matchedRule == (eligible ? "zhoushan-pupil" : nil))
    }

    @Test func factsComeFromThePersonOnTheDate() {
        let facts = Self.facts(
            household: .nonlocal, socialInsurance: true, region: "330903", birth: "2000-02-29", on: .on("2018-02-28"))
        #expect(facts.age == 17)
        #expect(facts.regionCode == "330903")
        #expect(facts.household == .nonlocal)
        #expect(facts.socialInsurance)
        #expect(!facts.ruralMedical)
        #expect(facts.lifeStatus == .alive)
    }

    @Test func noRulesAtAll() {
        let decision = Eligibility.decide(Self.facts(), rules: [], on: Self.today)
        #expect(!decision.eligible)
        #expect(decision.reason == "no eligibility rule is in force")
    }

    // MARK: Validation of rules

    static func rule(
        code: String = "city-rule", title: String = "A rule", titleZh: String = "规则",
        criteria: [Criterion] = [.household(.local)], from: String = "2026-01-01", until: String? = nil
    ) -> EligibilityRule {
        EligibilityRule(
            id: fixedID(30), code: code, title: title, titleZh: titleZh, criteria: criteria, effectiveFrom: .on(from),
            effectiveUntil: until.map { .on($0) })
    }

    static let invalidRules: [(String, EligibilityRule, String)] = [
        ("empty code", rule(code: ""), "code"),
        ("uppercase code", rule(code: "City-Rule"), "code"),
        ("code with space", rule(code: "city rule"), "code"),
        ("code with underscore", rule(code: "city_rule"), "code"),
        ("Chinese code", rule(code: "规则"), "code"),
        ("65-character code", rule(code: String(repeating: "a", count: 65)), "code"),
        ("no English title", rule(title: ""), "title"),
        ("no Chinese title", rule(titleZh: ""), "title"),
        ("no criteria", rule(criteria: []), "criteria"),
        ("17 criteria", rule(criteria: Array(repeating: .household(.local), count: 17)), "criteria"),
        ("unknown household", rule(criteria: [Criterion(.household, equals: "foreign")]), "criteria"),
        ("household without value", rule(criteria: [Criterion(.household)]), "criteria"),
        ("household with age bound", rule(criteria: [Criterion(.household, equals: "local", atLeast: 3)]), "criteria"),
        ("insurance yes", rule(criteria: [Criterion(.socialInsurance, equals: "yes")]), "criteria"),
        ("rural medical without value", rule(criteria: [Criterion(.ruralMedical)]), "criteria"),
        ("insurance with bound", rule(criteria: [Criterion(.socialInsurance, equals: "true", atMost: 3)]), "criteria"),
        ("region letters", rule(criteria: [Criterion(.regionCode, equals: "33a9")]), "criteria"),
        ("region empty", rule(criteria: [Criterion(.regionCode, equals: "")]), "criteria"),
        ("region seven digits", rule(criteria: [Criterion(.regionCode, equals: "3309021")]), "criteria"),
        ("region missing", rule(criteria: [Criterion(.regionCode)]), "criteria"),
        ("age with equals", rule(criteria: [Criterion(.age, equals: "16")]), "criteria"),
        ("age without bounds", rule(criteria: [Criterion(.age)]), "criteria"),
        ("negative age", rule(criteria: [Criterion(.age, atLeast: -1)]), "criteria"),
        ("age above 200", rule(criteria: [Criterion(.age, atMost: 201)]), "criteria"),
        ("bounds reversed", rule(criteria: [Criterion(.age, atLeast: 30, atMost: 20)]), "criteria"),
        ("one bad criterion among good", rule(criteria: [.household(.local), Criterion(.age)]), "criteria"),
        ("empty period", rule(from: "2026-01-01", until: "2026-01-01"), "effectiveUntil"),
        ("period ends before it starts", rule(from: "2026-01-01", until: "2025-12-31"), "effectiveUntil"),
    ]

    @Test(arguments: invalidRules)
    func invalidRulesAreRefused(name: String, rule: EligibilityRule, field: String) {
        let error = caughtError { () throws(CitizenCardError) in try rule.validate() }
        #expect(error?.code == .invalidField, "\(name)")
        #expect(error?.field == field, "\(name)")
    }

    @Test func validRulesAtTheLimits() throws {
        try Self.rule(code: String(repeating: "a", count: 64)).validate()
        try Self.rule(code: "0-9-a-z").validate()
        try Self.rule(criteria: Array(repeating: .household(.nonlocal), count: 16)).validate()
        try Self.rule(criteria: [Criterion(.age, atLeast: 0, atMost: 200)]).validate()
        try Self.rule(criteria: [Criterion(.age, atMost: 0)]).validate()
        try Self.rule(criteria: [Criterion(.age, atLeast: 18, atMost: 18)]).validate()
        try Self.rule(criteria: [Criterion(.regionCode, equals: "3")]).validate()
        try Self.rule(criteria: [Criterion(.regionCode, equals: "330902")]).validate()
        try Self.rule(criteria: [.ruralMedical(false), .socialInsurance(false)]).validate()
        try Self.rule(from: "2026-01-01", until: "2026-01-02").validate()
    }

    @Test func criteriaReadWellInJSON() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(
            String(decoding: try encoder.encode(Criterion.household(.local)), as: UTF8.self)
                == #"{"attribute":"household","equals":"local"}"#)
        #expect(
            String(decoding: try encoder.encode(Criterion(.age, atLeast: 16)), as: UTF8.self)
                == #"{"atLeast":16,"attribute":"age"}"#)
        let decoded = try JSONDecoder().decode(
            Criterion.self, from: Data(#"{"attribute":"socialInsurance","equals":"true"}"#.utf8))
        #expect(decoded == .socialInsurance(true))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Criterion.self, from: Data(#"{"attribute":"income","equals":"high"}"#.utf8))
        }
        let rule = Self.zhoushanPupils
        #expect(try JSONDecoder().decode(EligibilityRule.self, from: try encoder.encode(rule)) == rule)
    }
}

public import CitizenCardDomain
import Foundation
import HummingbirdBcrypt
import Storage

/// The demo city created on the first start: Zhoushan's four districts, six outlets, staff, a
/// few hundred residents and their cards in every stage of the lifecycle. Everything is made
/// through the same use cases as real work, so the demo has real history and a real audit trail.
public struct DemoCity: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// Every demo account has this password. Change or deactivate the accounts before real use.
    public static let password = "citizencard"

    public struct Login: Sendable, Hashable {
        public var username: String
        public var role: Role
        public var outlet: String?
    }

    public struct Summary: Sendable {
        public var logins: [Login]
        public var persons: Int
        public var cards: Int
        /// An active card whose holder can log in to the citizen portal with `portalPassword`.
        public var portalCardNumber: String?
    }

    /// The query password of the demo's portal card.
    public static let portalPassword = "135790"

    static let outlets: [(code: String, name: String, nameZh: String, region: String, address: String)] = [
        ("DH01", "Dinghai Citizen Card Service Hall", "定海区市民卡服务大厅", "330902", "舟山市定海区环城南路"),
        ("DH02", "Dinghai Lincheng Outlet", "定海临城服务网点", "330902", "舟山市定海区临城街道"),
        ("PT01", "Putuo Citizen Card Service Hall", "普陀区市民卡服务大厅", "330903", "舟山市普陀区沈家门街道"),
        ("PT02", "Putuo Zhujiajian Outlet", "普陀朱家尖服务网点", "330903", "舟山市普陀区朱家尖街道"),
        ("DS01", "Daishan Service Outlet", "岱山县市民卡服务网点", "330921", "舟山市岱山县高亭镇"),
        ("SS01", "Shengsi Service Outlet", "嵊泗县市民卡服务网点", "330922", "舟山市嵊泗县菜园镇"),
    ]

    /// Whether the demo city exists already (the database has outlets).
    public func exists() async throws(CitizenCardError) -> Bool {
        !(try await env.fetch(try await env.store.outlets())).isEmpty
    }

    /// Creates the reference data (rules, fees, outlets, staff) and `personCount` residents.
    public func create(
        personCount: Int = 300, progress: @Sendable (String) -> Void = { _ in }
    ) async throws(CitizenCardError)
        -> Summary
    {
        let admin = Actor.commandLine("demo")
        let start = Timestamp(iso8601: "2012-03-10T00:00:00+08:00")!
        var changes = ChangeSet()
        for rule in Eligibility.regulationRules(from: start.calendarDate(), ids: env.ids) {
            changes.add(.insertEligibilityRule(rule))
        }
        for entry in FeeSchedule.demo(from: start) { changes.add(.insertFeeEntry(entry)) }
        var outletIDs: [String: Outlet.ID] = [:]
        for outlet in Self.outlets {
            let value = Outlet(
                id: env.ids.make(), code: outlet.code, name: outlet.name, nameZh: outlet.nameZh,
                regionCode: outlet.region,
                address: outlet.address)
            outletIDs[outlet.code] = value.id
            changes.add(.insertOutlet(value))
        }
        // One bcrypt for all demo accounts: they share the demo password.
        let hash = Bcrypt.hash(Self.password, cost: env.passwordCost)
        var logins = [Login(username: "admin", role: .administrator, outlet: nil)]
        changes.add(
            .insertOperator(
                Operator(
                    id: env.ids.make(), username: "admin", displayName: "市民卡管理中心管理员", role: .administrator,
                    outletID: nil, passwordHash: hash)))
        // The commission's member who decides on departments' grant requests, and an auditor.
        for (username, name, role) in [
            ("commissioner", "市民卡管理委员会委员", Role.commissioner), ("auditor", "审计监督员", Role.auditor),
        ] {
            changes.add(
                .insertOperator(
                    Operator(
                        id: env.ids.make(), username: username, displayName: name, role: role, outletID: nil,
                        passwordHash: hash)))
            logins.append(Login(username: username, role: role, outlet: nil))
        }
        // The departments of the city that feed the population database; their clients
        // and grants are made on the console or through the API.
        for department in Self.departments {
            changes.add(
                .department(
                    .insertDepartment(
                        Department(
                            id: env.ids.make(), code: department.code, name: department.name,
                            nameZh: department.nameZh, kind: department.kind, feedKinds: department.feeds,
                            createdAt: env.clock.now()))))
        }
        var staff: [String: (operator: Actor, supervisor: Actor)] = [:]
        for outlet in Self.outlets {
            let id = outletIDs[outlet.code]!
            let code = outlet.code.lowercased()
            let clerk = Operator(
                id: env.ids.make(), username: "\(code).operator", displayName: "\(outlet.nameZh)柜员",
                role: .outletOperator, outletID: id, passwordHash: hash)
            let head = Operator(
                id: env.ids.make(), username: "\(code).supervisor", displayName: "\(outlet.nameZh)主管",
                role: .supervisor, outletID: id, passwordHash: hash)
            changes.add(.insertOperator(clerk))
            changes.add(.insertOperator(head))
            staff[outlet.code] = (Actor(clerk), Actor(head))
            logins += [
                Login(username: clerk.username, role: .outletOperator, outlet: outlet.code),
                Login(username: head.username, role: .supervisor, outlet: outlet.code),
            ]
        }
        changes.add(.putSetting(key: "demo", value: env.clock.now().iso8601))
        changes.record(
            AuditDraft(
                at: env.clock.now(), actor: admin.name, action: "demo.create", subject: "city:\(env.city.divisionCode)",
                purpose: "demo city"))
        try await env.commit(changes)
        progress("reference data, \(Self.outlets.count) outlets and \(logins.count) staff accounts")
        let (cards, portalCard) = try await createResidents(count: personCount, staff: staff, progress: progress)
        return Summary(logins: logins, persons: personCount, cards: cards, portalCardNumber: portalCard)
    }

    static let departments: [(code: String, name: String, nameZh: String, kind: String, feeds: [FeedKind])] = [
        ("PSB", "Public Security Bureau", "市公安局", "public_security", [.death, .idNumberChange, .nameChange, .birth]),
        ("CIVIL", "Civil Affairs Bureau", "市民政局", "civil_affairs", [.death, .householdMove]),
        (
            "HRSS", "Human Resources and Social Security Bureau", "市人力资源和社会保障局",
            "human_resources_social_security", [.insuranceEnrolment, .insuranceEnd]
        ),
        ("HEALTH", "Health Commission", "市卫生健康委员会", "health", [.birth]),
        ("TRANSIT", "Transport Bureau", "市交通运输局", "transit", []),
    ]

    /// Residents with portraits; most get a card through the whole pipeline, some are left at
    /// each stage so that every screen has something to show.
    func createResidents(
        count: Int, staff: [String: (operator: Actor, supervisor: Actor)], progress: @Sendable (String) -> Void
    )
        async throws(CitizenCardError) -> (applied: Int, portalCard: String?)
    {
        let registry = RegistryService(env)
        let cards = CardService(env)
        var generator = DemoGenerator(seed: 20120310)
        var applied: [(Card.ID, Actor, String)] = []
        let codes = Self.outlets.map(\.code)
        for index in 0..<count {
            let code = codes[index % codes.count]
            let (clerk, _) = staff[code]!
            if index > 0 && index % 100 == 0 { progress("\(index) of \(count) residents") }
            let resident = generator.resident(index: index, districts: env.city.districts.map(\.code))
            let person = try await registry.register(resident.registration, actor: clerk, source: .demo)
            _ = try await registry.storePhoto(person.id, bytes: DemoGenerator.portrait, actor: clerk)
            guard index % 10 != 9 else { continue }  // every tenth resident has no card yet
            do {
                let result = try await cards.apply(CardService.Application(personId: person.id), actor: clerk)
                applied.append((result.card.id, clerk, resident.registration.idNumber))
            } catch  where error.code == .notEligible {
                continue
            }
        }
        // Verification of all but the last few applications, production of all but the last few
        // approved cards, then issue most of them.
        let unverified = min(8, applied.count / 5)
        let unproduced = min(6, applied.count / 5)
        for (cardID, clerk, _) in applied.dropLast(unverified) {
            let supervisor = staff.values.first { $0.operator.outletID == clerk.outletID }!.supervisor
            _ = try await cards.verify(cardID, decision: .approve, reason: nil, actor: supervisor)
        }
        let produced = applied.dropLast(unverified).dropLast(unproduced)
        guard !produced.isEmpty else { return (applied.count, nil) }
        let production = ProductionService(env)
        let admin = Actor(operatorID: nil, name: "admin", role: .administrator, outletID: nil)
        let batch = try await production.createBatch(.init(limit: produced.count), actor: admin)
        _ = try await production.recordResults(
            batch.batch.id, .init(results: batch.cards.map { .init(cardNumber: $0.number, outcome: .ok) }), actor: admin
        )
        _ = try await production.deliver(batch.batch.id, actor: admin)
        let identity = { (number: String) in CardService.IdentityCheck(idNumber: number, documentChecked: true) }
        var portalCard: String?
        for (position, (cardID, clerk, number)) in produced.enumerated() where position % 12 != 11 {
            let issued = try await cards.issue(cardID, identity: identity(number), actor: clerk)
            if position == 0 {
                // One holder has chosen a query password, so that the portal can be tried at once.
                _ = try await PortalService(env).setQueryPassword(
                    cardID: cardID, password: Self.portalPassword, identity: identity(number), actor: clerk)
                portalCard = issued.card.number
            }
            switch position % 40 {
            case 5: _ = try await cards.reportWrittenLoss(cardID, identity: identity(number), actor: clerk)
            case 15: _ = try await cards.reportPreLoss(cardID, idNumber: number, channel: .phone, actor: clerk)
            case 25:
                _ = try await cards.reportWrittenLoss(cardID, identity: identity(number), actor: clerk)
                _ = try await cards.reissue(cardID, .init(identity: identity(number)), actor: clerk)
            default: break
            }
        }
        return (applied.count, portalCard)
    }
}

/// Deterministic names, ID numbers and attributes for the demo residents.
struct DemoGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }

    static let surnames = Array(
        "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
    static let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建国海波宁晨浩宇欣怡子涵梓轩诗雨佳琪俊杰文博思远舟岚渔帆")
    static let streets = ["解放路", "人民路", "东港街道", "沈家门街道", "高亭镇", "菜园镇", "临城街道", "环城南路", "昌国路", "海天大道"]
    static let employers = ["舟山港集团", "浙江海洋大学", "舟山市人民医院", "定海区教育局", "普陀渔业公司", "岱山造船厂", nil, nil]

    struct Resident {
        var registration: RegistryService.Registration
    }

    mutating func resident(index: Int, districts: [String]) -> Resident {
        let name =
            String(Self.surnames[next(Self.surnames.count)]) + String(Self.given[next(Self.given.count)])
            + (next(3) == 0 ? "" : String(Self.given[next(Self.given.count)]))
        let nonlocal = index % 7 == 3
        let region = nonlocal ? ["330106", "320102", "310104", "340102"][next(4)] : districts[index % districts.count]
        let birth = CalendarDate(year: 1940 + next(70), month: 1 + next(12), day: 1 + next(28))!
        let id = ResidentID.make(region: region, birth: birth, sequence: next(1000))
        let district = ["定海区", "普陀区", "岱山县", "嵊泗县"][index % 4]
        let registration = RegistryService.Registration(
            idNumber: id.number, name: name, phone: "13\(next(10))\(10_000_000 + next(90_000_000))",
            address: "浙江省舟山市\(district)\(Self.streets[next(Self.streets.count)])\(1 + next(300))号",
            employer: Self.employers[next(Self.employers.count)], household: nonlocal ? .nonlocal : .local,
            // Every other non-local resident is insured; the rest are not eligible (Art 4).
            socialInsurance: !nonlocal || index % 2 == 1, ruralMedical: false, reason: "demo city")
        return Resident(registration: registration)
    }

    /// A 1×1 PNG: real magic bytes and structure, standing in for a portrait.
    static let portrait = Data([
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00,
        0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF,
        0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
    ])
}

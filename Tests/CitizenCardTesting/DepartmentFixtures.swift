public import CitizenCardDomain
public import CitizenCardServices
import Foundation

extension Fixtures {
    public struct DepartmentClientFixture: Sendable {
        public var department: Department
        public var client: DepartmentService.ClientView
        /// The key as issued (shown once).
        public var key: String
        /// The client as the services see it after authentication.
        public var actor: Actor
    }

    /// A department with one client and its key, allowed every feed kind unless told otherwise.
    public func department(
        code: String = "PSB", kind: String = "public_security", feedKinds: [FeedKind] = FeedKind.allCases,
        certificateSubject: String? = nil
    ) async throws -> DepartmentClientFixture {
        let service = DepartmentService(world.env)
        var department = try await service.list(actor: staff.admin).first { $0.code == code }
        if department == nil {
            department = try await service.create(
                .init(code: code, name: "\(code) department", nameZh: "\(code)部门", kind: kind, feedKinds: feedKinds),
                actor: staff.admin)
        }
        let created = department!
        let client = try await service.createClient(
            department: created.id, .init(name: "\(code) gateway", certificateSubject: certificateSubject),
            actor: staff.admin)
        let key = client.issuedKey!.key
        return DepartmentClientFixture(
            department: created, client: client, key: key,
            actor: try await AuthService(world.env).authenticate(token: key))
    }

    /// A grant of `fields` to the fixture's department, requested by its client, approved by the
    /// commissioner and made active by the administrator's record of the agreement.
    public func activeGrant(
        for fixture: DepartmentClientFixture,
        fields: [String: String] = ["name": "masked", "socialInsurance": "yes_no"],
        ratePerMinute: Int64 = 600, dailyVolume: Int64 = 10_000
    ) async throws -> Grant {
        let grants = GrantService(world.env)
        let today = world.env.clock.now().calendarDate()
        let requested = try await grants.request(
            .init(
                fields: fields, purpose: "social insurance checks", legalBasis: "Regulation art. 7",
                validFrom: today, validUntil: CalendarDate(daysSinceEpoch: today.daysSinceEpoch + 365),
                dailyVolume: dailyVolume, ratePerMinute: ratePerMinute),
            actor: fixture.actor)
        _ = try await grants.approve(requested.id, .init(note: "approved at the meeting"), actor: staff.commissioner)
        return try await grants.recordAgreement(
            requested.id, .init(reference: "CA-2026-001", signatory: "Director Wang", signedOn: today),
            actor: staff.admin)
    }

    public static func purpose() throws -> DisclosureService.Purpose {
        try DisclosureService.Purpose(purpose: "insurance check", caseNumber: "CASE-1", endUser: "officer 7")
    }
}

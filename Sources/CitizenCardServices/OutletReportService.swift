public import CitizenCardDomain
import Storage

/// Outlet supervision (R-44, Art 5): each outlet's business and cash per business day, and a
/// trend of days. docs/reports.md says what is counted and how days, outlets and cash are
/// attributed.
///
/// Access: permission `read_cards`. Operators and supervisors see their own outlet only (another
/// one is `wrong_outlet`; nil means their own); administrators name the outlet (nil is
/// `invalid_field`). Every report read is audited (`report.outlet.daily`, `report.outlet.range`).
///
/// The database does the summing (`ReportStore.outletActivity`, one snapshot per report); this
/// service only folds the sums into the report's shape, so a report costs a handful of grouped
/// rows whatever the outlet's volume.
public struct OutletReportService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    /// The longest trend `range` gives, in days.
    public static let rangeDaysMax = 31

    static let secondsPerHour: Int64 = 3600
    static let secondsPerDay: Int64 = 86_400

    /// One outlet's business day: counter work by kind and by member of staff, fees, loads, the
    /// cash balance and 24 hourly buckets. A day not over yet is reported up to now
    /// (`complete == false`); a day in the future is empty.
    ///
    /// - Parameter outletID: the outlet; nil for an outlet-bound actor's own.
    /// - Throws: `forbidden` (role), `wrong_outlet` (another outlet for an outlet-bound role),
    ///   `invalid_field` (`outletId`: an administrator named none), `not_found` (no such outlet).
    public func daily(
        outletID: Outlet.ID?, date: CalendarDate, actor: Actor
    ) async throws(CitizenCardError) -> OutletDailyReport {
        let outlet = try await reportedOutlet(outletID, actor: actor)
        let from = date.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds)
        let until = from.adding(seconds: Self.secondsPerDay)
        let activity = try await env.fetch(
            try await env.store.outletActivity(
                outletID: outlet.id, from: from, until: until, bucketSeconds: Self.secondsPerHour))
        let names = Dictionary(
            try await env.fetch(try await env.store.operators()).map { ($0.username, $0.displayName) }
        ) { first, _ in first }
        let now = env.clock.now()
        let report = Self.dailyReport(
            activity, outlet: outlet, date: date, from: from, until: until, now: now, displayNames: names)
        try await audit(
            "report.outlet.daily", outlet: outlet, actor: actor, at: now,
            detail: ["outlet": outlet.code, "date": date.iso8601, "transactions": String(report.transactions)])
        return report
    }

    /// One line per day for the days [from, until) — 1 to `rangeDaysMax` of them — days without
    /// business included. Each line equals the `summary` of that day's `daily` report.
    ///
    /// - Throws: as `daily`, and `invalid_field` (`until`) for a range that is empty or longer
    ///   than `rangeDaysMax` days.
    public func range(
        outletID: Outlet.ID?, from: CalendarDate, until: CalendarDate, actor: Actor
    ) async throws(CitizenCardError) -> OutletRangeReport {
        let days = Int(until.daysSinceEpoch - from.daysSinceEpoch)
        let outlet = try await reportedOutlet(outletID, actor: actor)
        guard (1...Self.rangeDaysMax).contains(days) else {
            throw CitizenCardError.invalid(
                "until", "give 1 to \(Self.rangeDaysMax) days: until is the day after the last",
                zh: "日期范围为1至\(Self.rangeDaysMax)天（截止日期不含）")
        }
        let start = from.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds)
        let end = start.adding(seconds: Int64(days) * Self.secondsPerDay)
        let activity = try await env.fetch(
            try await env.store.outletActivity(
                outletID: outlet.id, from: start, until: end, bucketSeconds: Self.secondsPerDay))
        let lines = Self.buckets(activity, count: days).enumerated().map { index, bucket in
            bucket.summary(date: CalendarDate(daysSinceEpoch: from.daysSinceEpoch + Int64(index)))
        }
        let now = env.clock.now()
        try await audit(
            "report.outlet.range", outlet: outlet, actor: actor, at: now,
            detail: ["outlet": outlet.code, "from": from.iso8601, "until": until.iso8601])
        return OutletRangeReport(outlet: outlet, from: from, until: until, generatedAt: now, days: lines)
    }

    // MARK: Access and audit

    /// The outlet the actor may report on.
    func reportedOutlet(_ requested: Outlet.ID?, actor: Actor) async throws(CitizenCardError) -> Outlet {
        try actor.require(.readReports)
        let id: Outlet.ID
        if actor.role?.isOutletBound == true {
            id = try actor.counterOutlet(requested: requested)
        } else if let requested {
            id = requested
        } else {
            throw CitizenCardError.invalid("outletId", "name the outlet to report on", zh: "请指定服务网点")
        }
        guard let outlet = try await env.fetch(try await env.store.outlet(id: id)) else {
            throw CitizenCardError.notFound("outlet")
        }
        return outlet
    }

    /// A report holds no one's personal data, only counts and sums; it is audited as supervision
    /// of the outlet (who looked at which outlet's day).
    func audit(
        _ action: String, outlet: Outlet, actor: Actor, at time: Timestamp, detail: [String: String]
    ) async throws(CitizenCardError) {
        var changes = ChangeSet()
        changes.record(
            AuditDraft(
                at: time, actor: actor.name, action: action, subject: "outlet:\(outlet.id)",
                purpose: "outlet supervision", detail: RegistryService.json(detail)))
        try await env.commit(changes)
    }
}

extension CounterAction {
    /// The counter work a card event at an outlet records, or nil for an event that is part of
    /// other work (a successor card's creation, a superseded card, a successor cancelled with
    /// the card it was to replace) or is no counter work (production, expiry).
    init?(_ event: OutletActivity.EventCount) {
        switch event.action {
        case .create:
            guard event.createdKind == .application else { return nil }
            self = .application
        case .approve: self = .approval
        case .reject: self = .rejection
        case .issue: self = .issue
        case .reportWrittenLoss: self = .writtenLoss
        case .reportPreLoss: self = .preLoss
        case .withdrawLoss: self = .lossWithdrawal
        case .reissue: self = .reissue
        case .requestReplacement: self = .replacement
        case .renew: self = .renewal
        case .cancel:
            guard !event.withPredecessor else { return nil }
            self = .cancellation
        case .addToBatch, .productionSucceeded, .productionFailed, .deliver, .expirePreLoss, .supersede, .expire:
            return nil
        }
    }
}

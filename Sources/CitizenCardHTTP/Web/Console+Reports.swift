import CitizenCardDomain
import CitizenCardServices
import Foundation
import Hummingbird

/// The outlet's daily business and cash report (R-44, docs/reports.md): counts by service and by
/// operator, fees and loads, the day's cash balance, a chart of the day by hour and one of the
/// last two weeks.
extension Web {
    /// Days in the trend chart, ending with the report's day.
    static let trendDays = 14

    func registerReportPages(_ router: Router<AppContext>) {
        page(router, .get, "/console/reports", .staff(.readReports)) { request, _, web in
            let actor = web.actor!
            let query = QueryString(request.uri.query.map { $0[...] })
            let today = env.clock.now().calendarDate(offsetSeconds: WebFormat.chinaOffset)
            let date = query.get("date").flatMap(CalendarDate.init(iso8601:)) ?? today
            let outlets = try await administration.outlets(actor: actor)
            var outletID = actor.outletID
            if outletID == nil {
                let code = query.get("outlet")?.uppercased()
                outletID = (outlets.first { $0.code == code } ?? outlets.first)?.id
            }
            let service = OutletReportService(env)
            let report = try await service.daily(outletID: outletID, date: date, actor: actor)
            let trend = try await service.range(
                outletID: report.outlet.id,
                from: CalendarDate(daysSinceEpoch: date.daysSinceEpoch - Int64(Self.trendDays - 1)),
                until: CalendarDate(daysSinceEpoch: date.daysSinceEpoch + 1), actor: actor)
            var values = reportValues(report, trend: trend, web: web)
            values["date"] = date.iso8601
            values["today"] = today.iso8601
            if actor.outletID == nil {
                values["hasOutlets"] = true
                values["outlets"] = outlets.map { outlet in
                    [
                        "code": outlet.code, "name": web.language == .zh ? outlet.nameZh : outlet.name,
                        "selected": outlet.id == report.outlet.id,
                    ]
                }
            }
            return pages.response("reports", title: web.text("nav.reports"), values, web: web)
        }
    }

    func reportValues(_ report: OutletDailyReport, trend: OutletRangeReport, web: WebRequest) -> [String: Any] {
        let zh = web.language == .zh
        let business = CounterAction.allCases.map { action in
            ["label": web.text("counter.\(action.rawValue)"), "count": "\(report.business[action])"]
        }
        let cash = report.cash
        return [
            "outlet": zh ? report.outlet.nameZh : report.outlet.name, "outletCode": report.outlet.code,
            "complete": report.complete, "generatedAt": WebFormat.time(report.generatedAt),
            "business": business, "businessTotal": "\(report.business.total)",
            "transactions": "\(report.transactions)",
            "operators": report.operators.map { activity in
                [
                    "name": activity.displayName ?? activity.username, "username": activity.username,
                    "business": "\(activity.business.total)", "loads": "\(activity.loads)",
                    "receipts": "\(activity.receipts)", "cash": WebFormat.money(activity.cashInFen),
                ]
            },
            "fees": report.fees.map { line in
                [
                    "item": web.text("fee.\(line.item.rawValue)"), "receipts": "\(line.receipts)",
                    "cashCount": "\(line.cash.count)", "cash": WebFormat.money(line.cash.amountFen),
                    "free": "\(line.freeReceipts)",
                ]
            },
            "loads": report.loads.map { line in
                [
                    "funding": web.text("funding.\(line.funding.rawValue)"),
                    "approved": "\(line.approved.count) · \(WebFormat.money(line.approved.amountFen))",
                    "completed": "\(line.completed.count) · \(WebFormat.money(line.completed.amountFen))",
                    "pending": "\(line.pending.count)",
                    "reversed": "\(line.reversed.count) · \(WebFormat.money(line.reversed.amountFen))",
                ]
            },
            "cash": [
                "fees": WebFormat.money(cash.fees.amountFen), "loads": WebFormat.money(cash.loads.amountFen),
                "reversals": WebFormat.money(cash.loadReversals.amountFen),
                "payouts": WebFormat.money(cash.payouts.amountFen), "in": WebFormat.money(cash.inFen),
                "out": WebFormat.money(cash.outFen), "balance": WebFormat.money(cash.balanceFen),
            ],
            "ledger": [
                "counter": WebFormat.money(report.ledger.counterFen),
                "deposited": WebFormat.money(report.ledger.depositedFen),
                "difference": WebFormat.money(report.ledger.differenceFen), "tiesOut": report.ledger.tiesOut,
            ],
            "hourChart": BarChart(
                bars: report.hours.map { ("\($0.hour)", Double($0.transactions), "\($0.transactions)") },
                labelEvery: 3
            ).values,
            "trendChart": BarChart(
                bars: trend.days.map { day in
                    (
                        String(day.date.iso8601.suffix(5)), Double(day.cashBalanceFen),
                        WebFormat.money(day.cashBalanceFen)
                    )
                }, labelEvery: 2
            ).values,
            "trend": trend.days.reversed().map { day in
                [
                    "date": day.date.iso8601, "business": "\(day.business.total)",
                    "transactions": "\(day.transactions)",
                    "cash": WebFormat.money(day.cashBalanceFen),
                ]
            },
        ]
    }
}

/// A bar chart as the template draws it in SVG: geometry only, numbers computed here, every
/// text escaped by the template. Negative values are drawn below the base line.
struct BarChart {
    static let width = 480.0
    static let height = 160.0
    static let top = 10.0
    static let bottom = 20.0

    var bars: [(label: String, value: Double, text: String)]
    var labelEvery: Int

    var values: [String: Any] {
        let high = max(bars.map(\.value).max() ?? 0, 0)
        let low = min(bars.map(\.value).min() ?? 0, 0)
        let span = max(high - low, 1)
        let plot = Self.height - Self.top - Self.bottom
        let base = Self.top + plot * high / span
        let step = Self.width / Double(max(bars.count, 1))
        func number(_ value: Double) -> String { String(format: "%.1f", value) }
        return [
            "width": number(Self.width), "height": number(Self.height), "base": number(base),
            "bars": bars.enumerated().map { index, bar in
                let size = plot * abs(bar.value) / span
                return [
                    "x": number(Double(index) * step + step * 0.15), "width": number(step * 0.7),
                    "y": number(bar.value >= 0 ? base - size : base), "height": number(size),
                    "title": "\(bar.label): \(bar.text)", "negative": bar.value < 0,
                    "label": index % labelEvery == 0 ? bar.label : "",
                    "labelX": number(Double(index) * step + step / 2),
                    "labelY": number(Self.height - 4),
                ] as [String: Any]
            },
        ]
    }
}

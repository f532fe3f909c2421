import ArgumentParser
import CitizenCardDomain
import CitizenCardServices
import CitizenCardRuntime
import CommandSupport
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Supervision reports (R-44).", subcommands: [ReportOutlet.self])
}

/// `citizencard report outlet --outlet CODE --date YYYY-MM-DD [--json]`: one outlet's business
/// day (docs/reports.md), read as an administrator and audited like any other report read.
struct ReportOutlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outlet",
        abstract: "An outlet's business and cash on one day: counter work, staff, fees, loads, cash, hours.",
        discussion: """
            The day is a business day in the city's time zone (Asia/Shanghai by default). A day not \
            over yet is reported up to now. The cash balance is fees in cash + cash loads - cash given \
            back for loads never credited - refunds paid out in cash.
            """)

    @OptionGroup var store: StoreOptions

    @Option(help: "The outlet's code, e.g. DH01.")
    var outlet: String

    @Option(help: "The business day, YYYY-MM-DD.")
    var date: String

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    func run() async throws {
        guard let day = CalendarDate(iso8601: date) else { throw ValidationError("--date must be YYYY-MM-DD") }
        let runtime = try await Runtime.open(store, logger: makeLogger(label: "citizencard.report", level: .warning))
        let report: OutletDailyReport
        do {
            let code = outlet.uppercased()
            guard let found = try await runtime.store.outlets().first(where: { $0.code == code }) else {
                throw ValidationError("no outlet with code \(outlet)")
            }
            report = try await OutletReportService(runtime.env).daily(
                outletID: found.id, date: day, actor: .commandLine("report"))
        } catch {
            try? await runtime.store.close()
            if error is ValidationError { throw error }
            throw CommandFailure(description: "\(error)")
        }
        try? await runtime.store.close()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            say(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            say(OutletReportText.render(report, utcOffsetSeconds: runtime.configuration.city.utcOffsetSeconds))
        }
    }
}

/// The daily report as a plain-text table for a terminal.
enum OutletReportText {
    static func render(_ report: OutletDailyReport, utcOffsetSeconds: Int64) -> String {
        var lines = [
            "Outlet \(report.outlet.code) \(report.outlet.nameZh) (\(report.outlet.name)), \(report.date.iso8601) (UTC\(offset(utcOffsetSeconds)))"
                + (report.complete
                    ? "" : ", not over yet: up to \(localTime(report.generatedAt, offsetSeconds: utcOffsetSeconds))"),
            "Counter transactions: \(report.transactions)", "",
        ]
        lines += business(report.business)
        lines += staff(report.operators)
        lines += fees(report.fees)
        lines += loads(report.loads)
        lines += cash(report.cash)
        lines += ledger(report.ledger)
        lines += hours(report.hours)
        return lines.joined(separator: "\n")
    }

    /// `2026-03-02 10:00:00` in the city's time zone.
    static func localTime(_ time: Timestamp, offsetSeconds: Int64) -> String {
        let local = time.adding(seconds: offsetSeconds).iso8601
        return String(local.prefix(10)) + " " + String(local.dropFirst(11).prefix(8))
    }

    static func offset(_ seconds: Int64) -> String {
        let sign = seconds < 0 ? "-" : "+", magnitude = abs(seconds)
        let hours = magnitude / 3600, minutes = magnitude % 3600 / 60
        return "\(sign)\(hours < 10 ? "0" : "")\(hours):\(minutes < 10 ? "0" : "")\(minutes)"
    }

    /// The first cell left-aligned, the others right-aligned, each padded to its width in
    /// terminal columns.
    static func row(_ cells: [String], widths: [Int]) -> String {
        var line = zip(cells, widths).enumerated().map { index, pair in
            let (cell, width) = pair
            let pad = String(repeating: " ", count: max(0, width - columns(cell)))
            return index == 0 ? cell + pad : pad + cell
        }.joined(separator: "  ")
        while line.last == " " { line.removeLast() }
        return line
    }

    /// Terminal columns: East Asian wide characters take two.
    static func columns(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { width, scalar in
            switch scalar.value {
            case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F,
                0xFF00...0xFF60, 0xFFE0...0xFFE6:
                width + 2
            default: width + 1
            }
        }
    }

    static func label(_ action: CounterAction) -> String {
        switch action {
        case .application: "申领 applications"
        case .approval: "校核通过 approvals"
        case .rejection: "校核退回 rejections"
        case .issue: "发卡 issues"
        case .writtenLoss: "书面挂失 written losses"
        case .preLoss: "预挂失 pre-losses"
        case .lossWithdrawal: "解挂 loss withdrawals"
        case .reissue: "补领 reissues"
        case .replacement: "换领 replacements"
        case .renewal: "到期换卡 renewals"
        case .cancellation: "注销 cancellations"
        }
    }

    static func business(_ counts: BusinessCounts) -> [String] {
        let widths = [30, 8]
        var lines = [row(["Business 业务", "count"], widths: widths)]
        for action in CounterAction.allCases {
            lines.append(row(["  " + label(action), "\(counts[action])"], widths: widths))
        }
        lines.append(row(["  合计 total", "\(counts.total)"], widths: widths))
        return lines + [""]
    }

    static func staff(_ people: [OperatorActivity]) -> [String] {
        guard !people.isEmpty else { return ["Staff: none", ""] }
        let widths = [24, 8, 6, 8, 12]
        var lines = [row(["Staff 人员", "business", "loads", "receipts", "cash in"], widths: widths)]
        for person in people {
            lines.append(
                row(
                    [
                        "  " + person.username, "\(person.business.total)", "\(person.loads)", "\(person.receipts)",
                        "\(Money(fen: person.cashInFen))",
                    ], widths: widths))
        }
        return lines + [""]
    }

    static func fees(_ items: [FeeLine]) -> [String] {
        guard !items.isEmpty else { return ["Fees: no receipts", ""] }
        let widths = [26, 8, 6, 6, 12]
        var lines = [row(["Fees 收费", "receipts", "cash", "free", "cash total"], widths: widths)]
        for item in items {
            lines.append(
                row(
                    [
                        "  " + item.item.rawValue, "\(item.receipts)", "\(item.cash.count)", "\(item.freeReceipts)",
                        "\(Money(fen: item.cash.amountFen))",
                    ], widths: widths))
        }
        return lines + [""]
    }

    static func loads(_ fundings: [LoadLine]) -> [String] {
        let widths = [18, 16, 16, 16, 16]
        func cell(_ tally: Tally) -> String { "\(tally.count) \(Money(fen: tally.amountFen))" }
        var lines = [row(["Loads 圈存", "approved", "completed", "pending", "reversed"], widths: widths)]
        for line in fundings {
            lines.append(
                row(
                    [
                        "  " + line.funding.rawValue, cell(line.approved), cell(line.completed), cell(line.pending),
                        cell(line.reversed),
                    ], widths: widths))
        }
        return lines + [""]
    }

    static func cash(_ cash: CashSummary) -> [String] {
        let widths = [34, 6, 14]
        func line(_ label: String, _ tally: Tally, sign: String) -> String {
            row(["  " + label, "\(tally.count)", sign + "\(Money(fen: tally.amountFen))"], widths: widths)
        }
        return [
            row(["Cash 现金", "count", "amount"], widths: widths),
            line("现金收费 fees in cash", cash.fees, sign: "+"),
            line("现金圈存 cash loads", cash.loads, sign: "+"),
            line("圈存冲正 loads given back", cash.loadReversals, sign: "-"),
            line("退款支付 refunds paid out", cash.payouts, sign: "-"),
            row(["  结余 balance", "", "\(Money(fen: cash.balanceFen))"], widths: widths), "",
        ]
    }

    /// The outlet's cash account in the ledger, tied out to the cash above.
    static func ledger(_ tieOut: CashLedgerTieOut) -> [String] {
        let widths = [34, 6, 14]
        var lines = [row(["Ledger 账务 (outlet cash)", "count", "net"], widths: widths)]
        for line in tieOut.lines {
            lines.append(row(["  " + line.kind, "\(line.count)", "\(Money(fen: line.netFen))"], widths: widths))
        }
        lines.append(row(["  counter business 柜台业务", "", "\(Money(fen: tieOut.counterFen))"], widths: widths))
        lines.append(
            tieOut.tiesOut
                ? "  ties out with the cash balance 与现金结余相符"
                : "  DIFFERS from the cash balance by \(Money(fen: tieOut.differenceFen)) 与现金结余不符")
        return lines + [""]
    }

    static func hours(_ buckets: [HourBucket]) -> [String] {
        let busy = buckets.filter { $0.transactions > 0 || $0.cashInFen != 0 || $0.cashOutFen != 0 }
        guard !busy.isEmpty else { return ["Hours: no counter transactions"] }
        let widths = [8, 12, 12, 12]
        var lines = [row(["Hour 时段", "transactions", "cash in", "cash out"], widths: widths)]
        for bucket in busy {
            lines.append(
                row(
                    [
                        "  \(bucket.hour < 10 ? "0" : "")\(bucket.hour):00", "\(bucket.transactions)",
                        "\(Money(fen: bucket.cashInFen))", "\(Money(fen: bucket.cashOutFen))",
                    ], widths: widths))
        }
        return lines
    }
}

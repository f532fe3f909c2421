public import CitizenCardDomain
import Foundation
import Ledger
import Storage

/// Daily clearing and settlement (清分结算, issue 5 part 6): per merchant and business day, the
/// gross its terminals took (posted and risk records whose clearing day it is), the commission
/// withheld and the net paid; a settlement file per merchant; and a reconciliation that ties the
/// terminals' uploads, the records, the ledger and the settlement together and names every
/// difference.
///
/// A record's business day is the day (Asia/Shanghai) the host posted it, so a closed day never
/// changes: a late record, or one released from the exceptions queue, belongs to the day it was
/// posted. Running a day again writes nothing and answers the same figures.
public struct ClearingService: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct TerminalLine: Codable, Sendable, Equatable {
        public var terminalId: String
        public var number: String
        public var records: Int64
        public var grossFen: Int64
        public var riskFen: Int64
        /// Of the gross, records released from the exceptions queue this day.
        public var releasedFen: Int64
    }

    public struct MerchantLine: Codable, Sendable, Equatable {
        public var merchantId: String
        public var code: String
        public var name: String
        public var records: Int64
        public var grossFen: Int64
        public var riskFen: Int64
        public var commissionBasisPoints: Int64
        public var commissionFen: Int64
        public var netFen: Int64
        public var terminals: [TerminalLine]
    }

    /// What the terminals uploaded that day, by terminal.
    public struct UploadLine: Codable, Sendable, Equatable {
        public var terminalId: String
        public var number: String
        public var batches: Int64
        public var records: Int64
        public var posted: Int64
        public var risk: Int64
        public var parked: Int64
        public var duplicates: Int64
        public var acceptedFen: Int64
    }

    public struct Report: Codable, Sendable, Equatable {
        public var businessDate: CalendarDate
        /// When the day was cleared (the first run).
        public var clearedAt: Timestamp
        /// False when the day had been cleared before: nothing was written this time.
        public var firstRun: Bool
        public var merchants: [MerchantLine]
        public var uploads: [UploadLine]
        public var records: Int64
        public var grossFen: Int64
        public var commissionFen: Int64
        public var netFen: Int64
        /// What was compared and agreed.
        public var checks: [String]
        /// Every difference found, named; empty when everything ties.
        public var differences: [String]
    }

    /// Clears a closed business day; again for a cleared day, the stored figures and a fresh
    /// reconciliation.
    public func run(_ date: CalendarDate, actor: Actor) async throws(CitizenCardError) -> Report {
        try actor.require(.acquiring)
        let now = env.clock.now()
        guard date < now.calendarDate(offsetSeconds: env.city.utcOffsetSeconds) else {
            throw CitizenCardError(
                .notYetDue, field: "date", "only a day that is over can be cleared", zh: "只能对已结束的营业日清分")
        }
        guard date >= Self.firstBusinessDate else {
            throw CitizenCardError.invalid(
                "date", "a business day from \(Self.firstBusinessDate.iso8601) on", zh: "营业日须不早于2000年1月1日")
        }
        let stored = try await env.fetch(try await env.store.clearingResults(businessDate: date))
        if !stored.isEmpty { return try await report(date, results: stored, firstRun: false) }
        let lines = try await env.fetch(try await env.store.clearingLines(businessDate: date))
        let merchants = Dictionary(
            uniqueKeysWithValues: try await env.fetch(try await env.store.merchants()).map { ($0.id, $0) })
        var results: [ClearingResult] = []
        for (merchantID, group) in Dictionary(grouping: lines, by: \.merchantID).sorted(by: { $0.key < $1.key }) {
            guard let merchant = merchants[merchantID] else {
                throw CitizenCardError(.internal, "records of an unknown merchant")
            }
            let gross = group.reduce(0) { $0 + $1.amountFen }
            let commission = merchant.commission(onGrossFen: gross)
            results.append(
                ClearingResult(
                    businessDate: date, merchantID: merchantID, recordCount: group.reduce(0) { $0 + $1.count },
                    grossFen: gross, riskFen: group.filter { $0.outcome == .risk }.reduce(0) { $0 + $1.amountFen },
                    commissionBasisPoints: merchant.commissionBasisPoints, commissionFen: commission,
                    netFen: gross - commission, clearedAt: now))
        }
        var changes = ChangeSet()
        changes.add(.insertClearingResults(results))
        for result in results {
            let memo = "clearing \(date.iso8601)"
            if result.commissionFen > 0 {
                changes.add(
                    .postTransfer(
                        .commission(
                            id: Self.commissionID(date, result.merchantID), merchant: result.merchantID,
                            amountFen: result.commissionFen, at: now, memo: memo), policy: .standard))
            }
            if result.netFen > 0 {
                changes.add(
                    .postTransfer(
                        .settlement(
                            id: Self.settlementID(date, result.merchantID), merchant: result.merchantID,
                            amountFen: result.netFen, at: now, memo: memo), policy: .standard))
            }
        }
        changes.record(
            AuditDraft(
                at: now, actor: actor.name, action: "clearing.run", subject: "clearing:\(date.iso8601)",
                purpose: "clearing and settlement",
                detail:
                    #"{"merchants":\#(results.count),"grossFen":\#(results.reduce(0) { $0 + $1.grossFen }),"netFen":\#(results.reduce(0) { $0 + $1.netFen })}"#
            ))
        do throws(StorageError) {
            try await env.store.commit(changes)
        } catch .duplicate(.clearingResult) {
            // Cleared concurrently: answer what the other run stored.
            let stored = try await env.fetch(try await env.store.clearingResults(businessDate: date))
            return try await report(date, results: stored, firstRun: false)
        } catch {
            throw ServiceEnvironment.translate(error)
        }
        return try await report(date, results: results, firstRun: true, lines: lines)
    }

    /// The report of a day cleared before; nil if it was not.
    public func report(_ date: CalendarDate, actor: Actor) async throws(CitizenCardError) -> Report? {
        try actor.require(.acquiring)
        let stored = try await env.fetch(try await env.store.clearingResults(businessDate: date))
        guard !stored.isEmpty else { return nil }
        return try await report(date, results: stored, firstRun: false)
    }

    /// No terminal of this system uploaded before this day: earlier dates are typing errors.
    static let firstBusinessDate = CalendarDate(year: 2000, month: 1, day: 1)!

    static func commissionID(_ date: CalendarDate, _ merchant: Merchant.ID) -> TransferID {
        TransferID("commission:\(date.iso8601):\(merchant)")
    }

    static func settlementID(_ date: CalendarDate, _ merchant: Merchant.ID) -> TransferID {
        TransferID("settlement:\(date.iso8601):\(merchant)")
    }

    /// The figures of the stored results, with the reconciliation made now.
    func report(
        _ date: CalendarDate, results: [ClearingResult], firstRun: Bool, lines known: [ClearingLine]? = nil
    ) async throws(CitizenCardError) -> Report {
        let lines: [ClearingLine]
        if let known {
            lines = known
        } else {
            lines = try await env.fetch(try await env.store.clearingLines(businessDate: date))
        }
        let start = date.startTimestamp(offsetSeconds: env.city.utcOffsetSeconds)
        let end = start.adding(seconds: 86_400)
        let merchants = Dictionary(
            uniqueKeysWithValues: try await env.fetch(try await env.store.merchants()).map { ($0.id, $0) })
        let terminals = Dictionary(
            uniqueKeysWithValues: try await env.fetch(try await env.store.terminals(merchantID: nil)).map {
                ($0.id, $0)
            })
        let uploads = try await env.fetch(try await env.store.batchTotals(from: start, until: end))
        let credits = try await env.fetch(try await env.store.ledgerCredits(kind: .purchase, from: start, until: end))
        var checks: [String] = [], differences: [String] = []
        func name(_ id: Merchant.ID) -> String { merchants[id]?.code ?? id.rawValue }
        func number(_ id: Terminal.ID) -> String { terminals[id]?.number ?? id.rawValue }

        let byMerchant = Dictionary(grouping: lines, by: \.merchantID)
        var merchantLines: [MerchantLine] = []
        let resultIDs = Set(results.map(\.merchantID))
        for result in results.sorted(by: { name($0.merchantID) < name($1.merchantID) }) {
            let group = byMerchant[result.merchantID] ?? []
            let gross = group.reduce(0) { $0 + $1.amountFen }
            let count = group.reduce(0) { $0 + $1.count }
            let code = name(result.merchantID)
            // Records against the settled figures.
            if gross == result.grossFen && count == result.recordCount {
                checks.append("\(code): \(count) records, \(gross) fen, as settled")
            } else {
                differences.append(
                    "\(code): records now \(count) / \(gross) fen, settled \(result.recordCount) / \(result.grossFen) fen"
                )
            }
            // Records against the ledger: what the purchases credited the merchant that day.
            let ledger = credits[.merchantPayable(result.merchantID)] ?? 0
            if ledger == gross {
                checks.append("\(code): ledger credits \(ledger) fen = records")
            } else {
                differences.append(
                    "\(code): ledger credited \(ledger) fen for the day's purchases, records total \(gross) fen (\(ledger - gross) fen)"
                )
            }
            // Settlement: gross = commission + net, and the transfers say so.
            if result.commissionFen + result.netFen != result.grossFen {
                differences.append(
                    "\(code): commission \(result.commissionFen) + net \(result.netFen) ≠ gross \(result.grossFen)")
            }
            for (kind, id, amount) in [
                ("commission", Self.commissionID(date, result.merchantID), result.commissionFen),
                ("settlement", Self.settlementID(date, result.merchantID), result.netFen),
            ] {
                let entry = try await env.fetch(try await env.store.ledgerEntry(id: id))
                let posted = entry?.transfer.amountFen ?? 0
                if posted == amount {
                    checks.append("\(code): \(kind) transfer \(posted) fen")
                } else {
                    differences.append("\(code): \(kind) transfer \(posted) fen, settled \(amount) fen")
                }
            }
            var terminalLines: [TerminalLine] = []
            for (terminalID, rows) in Dictionary(grouping: group, by: \.terminalID).sorted(by: {
                number($0.key) < number($1.key)
            }) {
                terminalLines.append(
                    TerminalLine(
                        terminalId: terminalID.rawValue, number: number(terminalID),
                        records: rows.reduce(0) { $0 + $1.count }, grossFen: rows.reduce(0) { $0 + $1.amountFen },
                        riskFen: rows.filter { $0.outcome == .risk }.reduce(0) { $0 + $1.amountFen },
                        releasedFen: rows.reduce(0) { $0 + $1.releasedFen }))
            }
            merchantLines.append(
                MerchantLine(
                    merchantId: result.merchantID.rawValue, code: code, name: merchants[result.merchantID]?.name ?? "",
                    records: result.recordCount, grossFen: result.grossFen, riskFen: result.riskFen,
                    commissionBasisPoints: result.commissionBasisPoints, commissionFen: result.commissionFen,
                    netFen: result.netFen, terminals: terminalLines))
        }
        for merchantID in Set(byMerchant.keys).subtracting(resultIDs) {
            differences.append("\(name(merchantID)): records posted on the day but not settled")
        }
        for (account, fen) in credits where account.category == .merchantPayable {
            if !resultIDs.contains(where: { AccountID.merchantPayable($0) == account }) {
                differences.append("\(account): ledger credits \(fen) fen for the day but no settlement")
            }
        }
        // Uploads against records: what a terminal's batches accepted that day plus what was
        // released from the queue that day is what its records show.
        let byTerminal = Dictionary(grouping: lines, by: \.terminalID)
        var uploadLines: [UploadLine] = []
        for total in uploads {
            uploadLines.append(
                UploadLine(
                    terminalId: total.terminalID.rawValue, number: number(total.terminalID), batches: total.batches,
                    records: total.records, posted: total.posted, risk: total.risk, parked: total.parked,
                    duplicates: total.duplicates, acceptedFen: total.acceptedFen))
        }
        let uploadByTerminal = Dictionary(uniqueKeysWithValues: uploads.map { ($0.terminalID, $0) })
        for terminalID in Set(byTerminal.keys).union(uploadByTerminal.keys).sorted(by: { number($0) < number($1) }) {
            let rows = byTerminal[terminalID] ?? []
            let gross = rows.reduce(0) { $0 + $1.amountFen }
            let released = rows.reduce(0) { $0 + $1.releasedFen }
            let accepted = uploadByTerminal[terminalID]?.acceptedFen ?? 0
            if accepted + released == gross {
                checks.append(
                    "terminal \(number(terminalID)): uploads accepted \(accepted) fen + released \(released) fen = records \(gross) fen"
                )
            } else {
                differences.append(
                    "terminal \(number(terminalID)): uploads accepted \(accepted) fen + released \(released) fen, records \(gross) fen"
                )
            }
        }
        let sum = try await env.fetch(try await env.store.ledgerAllBalances()).values.reduce(0, &+)
        if sum == 0 { checks.append("ledger: all accounts sum to 0") } else { differences.append("ledger: sum \(sum)") }
        return Report(
            businessDate: date, clearedAt: results.first?.clearedAt ?? env.clock.now(), firstRun: firstRun,
            merchants: merchantLines, uploads: uploadLines, records: results.reduce(0) { $0 + $1.recordCount },
            grossFen: results.reduce(0) { $0 + $1.grossFen },
            commissionFen: results.reduce(0) { $0 + $1.commissionFen },
            netFen: results.reduce(0) { $0 + $1.netFen }, checks: checks, differences: differences)
    }

    /// A merchant's settlement file: one line per terminal, then the total with commission and net.
    public static func settlementFile(_ merchant: MerchantLine, date: CalendarDate) -> String {
        var lines = ["business_date,merchant_code,terminal,records,gross_fen,risk_fen,commission_fen,net_fen"]
        let code = csv(merchant.code)
        for terminal in merchant.terminals {
            lines.append(
                "\(date.iso8601),\(code),\(terminal.number),\(terminal.records),\(terminal.grossFen),\(terminal.riskFen),,"
            )
        }
        lines.append(
            "\(date.iso8601),\(code),TOTAL,\(merchant.records),\(merchant.grossFen),\(merchant.riskFen),\(merchant.commissionFen),\(merchant.netFen)"
        )
        return lines.joined(separator: "\n") + "\n"
    }

    /// The reconciliation as text, for the file next to the settlement files.
    public static func reconciliationText(_ report: Report) -> String {
        var lines = [
            "Reconciliation of business day \(report.businessDate.iso8601) (cleared \(report.clearedAt.iso8601))",
            "records \(report.records), gross \(report.grossFen) fen, commission \(report.commissionFen) fen, net \(report.netFen) fen",
            "",
            report.differences.isEmpty ? "No differences." : "DIFFERENCES (\(report.differences.count)):",
        ]
        lines += report.differences.map { "  ✗ \($0)" }
        lines += ["", "Checked:"] + report.checks.map { "  ✓ \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV cell: quoted when it holds a comma or a quote; a leading `=`, `+`, `-` or `@` is
    /// prefixed with `'` so that a spreadsheet shows it as text rather than run it as a formula.
    static func csv(_ field: String) -> String {
        let field = field.first.map { "=+-@".contains($0) } == true ? "'" + field : field
        return field.contains(",") || field.contains("\"")
            ? "\"\(field.replacingOccurrences(of: "\"", with: "\"\""))\"" : field
    }
}

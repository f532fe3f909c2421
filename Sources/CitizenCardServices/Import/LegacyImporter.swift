public import CitizenCardDomain
import CardCrypto
import Crypto
import DataProtection
public import Foundation
import Ledger
import Storage

/// `citizencard legacy import FILE.csv` (R-20, issue 21; docs/legacy-cards.md): the departments'
/// old transit and social-security cards with their balances.
///
/// Two passes. The first reads and checks every row of the file — its fields, no (kind, number)
/// twice in the file, and against what is stored: a card imported before with the same data is
/// `unchanged`, one with other data `differs` — and sums the rows against the file's control line
/// (`TOTAL,<rows>,<fen>`). Any problem, or totals that disagree, and nothing is written: money
/// is never created from a file that does not add up. The second pass writes the new cards it
/// kept (in memory: a million take some 100 MiB) in batches, each one commit with its opening entry (`legacy_opening`: the float handed over,
/// `legacy-funds:<kind>`, to the old cards' liability, `legacy:<kind>`) and its audit entry, so the
/// ledger always holds exactly the imported balances. A second run of the same file, or of the rest
/// of it after a crash, imports only what is missing.
public struct LegacyImporter: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public static let batchSizeDefault = 10_000
    /// ¥10,000.00: more than any old stored-value card held.
    public static let balanceMaxFen: Int64 = 1_000_000
    public static let header = ["card_number", "kind", "id_number", "balance_fen", "status"]

    public struct Progress: Sendable {
        /// 1: checking, 2: importing.
        public var pass: Int
        public var bytesRead: Int64
        public var bytesTotal: Int64?
        public var rowsRead: Int
        public var elapsedSeconds: Double
    }

    public struct Report: Sendable, Hashable {
        public var rowsRead = 0
        public var imported = 0
        public var unchanged = 0
        /// Rows with a problem (a field, a repeat, another card's data stored under the number).
        public var rejected = 0
        /// The file's control line.
        public var controlRows: Int?
        public var controlFen: Int64?
        /// What the rows add up to.
        public var totalFen: Int64 = 0
        public var importedFen: Int64 = 0
        /// Whether the rows agree with the control line; nothing is imported otherwise.
        public var controlMatches = false
        public var elapsedSeconds = 0.0

        /// Imported (or found imported before), every row, and the totals agree.
        public var complete: Bool { controlMatches && rejected == 0 }
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case header(String)
        case storage(CitizenCardError)

        public var description: String {
            switch self {
            case .unreadable(let detail): "cannot read the file: \(detail)"
            case .header(let detail): "header: \(detail)"
            case .storage(let error): error.description
            }
        }
    }

    /// One checked row.
    struct Row {
        var line: Int
        var kind: LegacyCardKind
        var number: String
        var holderIndex: Data?
        var balanceFen: Int64
        var status: LegacyCardStatus
    }

    /// Imports `path`, writing every row's outcome to `results` (`line,card_number,kind,outcome,reason`).
    public func run(
        path: String, results: URL, actor: Actor, batchSize: Int = batchSizeDefault,
        progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws(Failure) -> Report {
        precondition(batchSize > 0)
        let started = ContinuousClock.now
        let source = "\(URL(fileURLWithPath: path).lastPathComponent) sha256:\(try Self.digest(path))"
        let out = try ResultWriter(url: results)
        defer { out.close() }
        var report = Report()
        // Pass 1: check everything, write nothing; keep the new rows (a million take some
        // 100 MiB) so that the second pass does not read and check the file again.
        var known: [LegacyCardKind: Set<String>] = [:]
        var accepted: [Row] = []
        var pending: [Row] = []
        // A kind with no card stored yet (a first import) needs no look-up of its numbers.
        let storedKinds: Set<LegacyCardKind>
        do {
            storedKinds = Set(try await env.store.legacySummary().map(\.kind))
        } catch {
            throw .storage(ServiceEnvironment.translate(error))
        }
        func settle(_ rows: [Row], report: inout Report) async throws(Failure) {
            for kind in LegacyCardKind.allCases {
                let ofKind = rows.filter { $0.kind == kind }
                guard !ofKind.isEmpty else { continue }
                guard storedKinds.contains(kind) else {
                    accepted += ofKind
                    continue
                }
                let stored: [LegacyCard]
                do {
                    stored = try await env.store.legacyCards(kind: kind, numbers: ofKind.map(\.number))
                } catch {
                    throw .storage(ServiceEnvironment.translate(error))
                }
                let byNumber = Dictionary(stored.map { ($0.number, $0) }) { first, _ in first }
                for row in ofKind {
                    guard let card = byNumber[row.number] else {
                        accepted.append(row)
                        continue
                    }
                    if card.balanceFen == row.balanceFen && card.holderIndex == row.holderIndex
                        && card.status == row.status
                    {
                        report.unchanged += 1
                        out.write(
                            line: row.line, number: row.number, kind: kind.rawValue, outcome: "unchanged", reason: "")
                    } else {
                        report.rejected += 1
                        out.write(
                            line: row.line, number: row.number, kind: kind.rawValue, outcome: "differs",
                            reason: "imported before with other data; not changed")
                    }
                }
            }
        }
        let control = try await pass(path: path, started: started, number: 1, progress: progress) {
            (result) throws(Failure) in
            report.rowsRead += 1
            switch result {
            case .failure(let line, let number, let kind, let reason):
                report.rejected += 1
                out.write(line: line, number: number, kind: kind, outcome: "invalid", reason: reason)
            case .success(let row):
                report.totalFen += row.balanceFen
                if !known[row.kind, default: []].insert(row.number).inserted {
                    report.rejected += 1
                    out.write(
                        line: row.line, number: row.number, kind: row.kind.rawValue, outcome: "invalid",
                        reason: "the card appears twice in the file")
                    return
                }
                pending.append(row)
            }
        } flush: { () throws(Failure) in
            let rows = pending
            pending.removeAll(keepingCapacity: true)
            try await settle(rows, report: &report)
        }
        known.removeAll()
        report.controlRows = control?.rows
        report.controlFen = control?.fen
        report.controlMatches = control.map { $0.rows == report.rowsRead && $0.fen == report.totalFen } ?? false
        guard report.complete else {
            out.summary(report.controlMatches ? "not imported: rows with problems" : "not imported: control totals")
            report.elapsedSeconds = PersonImporter.seconds(since: started)
            return report
        }
        // Pass 2: write the new cards with their opening entries, a batch a commit.
        let now = env.clock.now()
        func commit(_ rows: ArraySlice<Row>, report: inout Report) async throws(Failure) {
            guard !rows.isEmpty else { return }
            let cards = rows.map { row in
                LegacyCard(
                    id: env.ids.make(), kind: row.kind, number: row.number, holderIndex: row.holderIndex,
                    balanceFen: row.balanceFen, status: row.status, importedAt: now, source: source)
            }
            var changes = ChangeSet()
            changes.add(.legacy(.insertLegacyCards(cards)))
            for kind in LegacyCardKind.allCases {
                let ofKind = cards.filter { $0.kind == kind }
                let fen = ofKind.reduce(Int64(0)) { $0 + $1.balanceFen }
                guard fen > 0, let first = ofKind.first else { continue }
                changes.add(
                    .postTransfer(
                        .legacyOpening(
                            id: TransferID("legacy-opening:\(kind.rawValue):\(first.id)"), kind: kind, amountFen: fen,
                            at: now, memo: "\(ofKind.count) old cards from \(source)"), policy: .standard))
            }
            changes.record(
                AuditDraft(
                    at: now, actor: actor.name, action: "legacy.import", subject: "import:\(source)",
                    purpose: "legacy card migration",
                    detail: RegistryService.json([
                        "cards": "\(cards.count)", "fen": "\(cards.reduce(Int64(0)) { $0 + $1.balanceFen })",
                        "lines": "\(rows.first?.line ?? 0)-\(rows.last?.line ?? 0)",
                    ])))
            do {
                try await env.store.commit(changes)
            } catch {
                throw .storage(ServiceEnvironment.translate(error))
            }
            report.imported += cards.count
            report.importedFen += cards.reduce(0) { $0 + $1.balanceFen }
            for (row, card) in zip(rows, cards) {
                out.write(
                    line: row.line, number: card.number, kind: card.kind.rawValue, outcome: "imported", reason: "")
            }
        }
        var lastProgress = ContinuousClock.now
        for start in stride(from: 0, to: accepted.count, by: batchSize) {
            try await commit(accepted[start..<min(start + batchSize, accepted.count)], report: &report)
            if ContinuousClock.now - lastProgress > .milliseconds(250) || start + batchSize >= accepted.count {
                lastProgress = ContinuousClock.now
                progress(
                    Progress(
                        pass: 2, bytesRead: Int64(min(start + batchSize, accepted.count)),
                        bytesTotal: Int64(accepted.count), rowsRead: min(start + batchSize, accepted.count),
                        elapsedSeconds: PersonImporter.seconds(since: started)))
            }
        }
        out.summary("imported \(report.imported), unchanged \(report.unchanged)")
        report.elapsedSeconds = PersonImporter.seconds(since: started)
        env.logger.info(
            "legacy import finished",
            metadata: [
                "rows": "\(report.rowsRead)", "imported": "\(report.imported)", "unchanged": "\(report.unchanged)",
            ])
        return report
    }

    enum Parsed {
        case success(Row)
        case failure(line: Int, number: String, kind: String, reason: String)
    }

    /// Reads the file once: every data row to `each`, `flush` every `flushEvery` rows and at the
    /// end; returns the control line (nil when the file has none).
    func pass(
        path: String, started: ContinuousClock.Instant, number: Int, progress: @Sendable (Progress) -> Void,
        flushEvery: Int = 5_000, each: (Parsed) throws(Failure) -> Void, flush: () async throws(Failure) -> Void
    ) async throws(Failure) -> (rows: Int, fen: Int64)? {
        let reader: CSVReader
        do { reader = try CSVReader(path: path) } catch { throw .unreadable(error.description) }
        func next() throws(Failure) -> Result<CSVRecord, CSVRecordError>? {
            do { return try reader.next() } catch { throw .unreadable(error.description) }
        }
        guard let first = try next() else { throw .header("the file is empty") }
        guard case .success(let header) = first,
            header.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) == Self.header
        else { throw .header("the first line must be \(Self.header.joined(separator: ","))") }
        let today = env.today
        var control: (rows: Int, fen: Int64)?
        var rows = 0
        var lastProgress = ContinuousClock.now
        while let record = try next() {
            if control != nil {
                throw .header("the control line TOTAL must be the last line")
            }
            switch record {
            case .failure(let error):
                try each(.failure(line: error.line, number: "", kind: "", reason: error.reason))
            case .success(let record):
                if record.fields.first == "TOTAL" {
                    guard record.fields.count == 3, let count = Int(record.fields[1]), let fen = Int64(record.fields[2])
                    else { throw .header("line \(record.line): the control line is TOTAL,<rows>,<balance_fen sum>") }
                    control = (count, fen)
                    continue
                }
                try each(Self.parse(record, today: today, regions: env.regions, vault: env.vault))
            }
            rows += 1
            if rows % flushEvery == 0 { try await flush() }
            if ContinuousClock.now - lastProgress > .milliseconds(250) {
                lastProgress = ContinuousClock.now
                progress(
                    Progress(
                        pass: number, bytesRead: reader.offset, bytesTotal: reader.size, rowsRead: rows,
                        elapsedSeconds: PersonImporter.seconds(since: started)))
            }
        }
        try await flush()
        progress(
            Progress(
                pass: number, bytesRead: reader.offset, bytesTotal: reader.size, rowsRead: rows,
                elapsedSeconds: PersonImporter.seconds(since: started)))
        return control
    }

    /// One data row, checked.
    static func parse(
        _ record: CSVRecord, today: CalendarDate, regions: RegionCodes?, vault: PersonVault
    ) -> Parsed {
        let fields = record.fields
        let number = fields.first.map { $0.trimmingCharacters(in: .whitespaces).uppercased() } ?? ""
        let kindText = fields.count > 1 ? fields[1].trimmingCharacters(in: .whitespaces) : ""
        func failure(_ reason: String) -> Parsed {
            .failure(
                line: record.line, number: String(number.prefix(20).filter { $0.isASCII && !$0.isNewline }),
                kind: String(kindText.prefix(20).filter { $0.isASCII && !$0.isNewline }), reason: reason)
        }
        guard fields.count == header.count else { return failure("\(header.count) fields expected") }
        guard (8...20).contains(number.utf8.count),
            number.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
        else { return failure("card_number: 8-20 digits or letters") }
        guard let kind = LegacyCardKind(rawValue: kindText) else {
            return failure("kind: transit or social_security")
        }
        var holderIndex: Data?
        let idText = fields[2].trimmingCharacters(in: .whitespaces)
        if !idText.isEmpty {
            do throws(CitizenCardError) {
                holderIndex = vault.indexOf(
                    try PersonFields.residentID(idText, today: today, field: "id_number", regions: regions))
            } catch {
                return failure("id_number: \(error.detail ?? "not a valid resident ID number")")
            }
        }
        guard let fen = Int64(fields[3].trimmingCharacters(in: .whitespaces)), (0...balanceMaxFen).contains(fen) else {
            return failure("balance_fen: 0 to \(balanceMaxFen)")
        }
        guard let status = LegacyCardStatus(rawValue: fields[4].trimmingCharacters(in: .whitespaces)) else {
            return failure("status: active, blocked or lost")
        }
        return .success(
            Row(
                line: record.line, kind: kind, number: number, holderIndex: holderIndex, balanceFen: fen, status: status
            ))
    }

    static func digest(_ path: String) throws(Failure) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw .unreadable("cannot open \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        return Hex.encode(Array(hasher.finalize()))
    }
}

/// The per-row results: `line,card_number,kind,outcome,reason`, and a last `#` line that says what
/// became of the file.
final class ResultWriter: @unchecked Sendable {
    let file: CSVReportFile

    init(url: URL) throws(LegacyImporter.Failure) {
        guard let file = CSVReportFile(url: url, header: ["line", "card_number", "kind", "outcome", "reason"]) else {
            throw .unreadable("cannot write the results \(url.path)")
        }
        self.file = file
    }

    func write(line: Int, number: String, kind: String, outcome: String, reason: String) {
        file.write(["\(line)", number, kind, outcome, reason])
    }

    func summary(_ text: String) { file.writeLine("# \(text)") }

    func close() { file.close() }
}

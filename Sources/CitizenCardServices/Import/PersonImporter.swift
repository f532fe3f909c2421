public import CitizenCardDomain
public import Foundation
import DataProtection
import Storage

/// `citizencard import persons FILE.csv` (R-01): streams the file, validates every row, seals the
/// good ones and inserts them in batches, each batch one transaction with its audit entry.
///
/// Guarantees: every good row is imported; nothing of a bad row is written, and each of its
/// problems is in the error report (line, column, reason); running the same file again adds no
/// duplicates (a registered person with the same data is skipped, one with different data is
/// reported and left unchanged). Memory does not grow with the file.
public struct PersonImporter: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public static let batchSizeDefault = 20_000

    public struct Progress: Sendable {
        public var bytesRead: Int64
        public var bytesTotal: Int64?
        public var rowsRead: Int
        public var elapsedSeconds: Double
    }

    public struct Report: Sendable, Hashable {
        public var rowsRead = 0
        public var inserted = 0
        public var unchanged = 0
        /// Registered already with different data; reported, not changed.
        public var differing = 0
        /// Rows with at least one problem; nothing of them was written.
        public var invalid = 0
        public var errorsWritten = 0
        public var elapsedSeconds = 0.0

        public var rowsPerSecond: Double { elapsedSeconds > 0 ? Double(rowsRead) / elapsedSeconds : 0 }
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case header(PersonImportHeaderError)
        case empty
        case storage(CitizenCardError)

        public var description: String {
            switch self {
            case .unreadable(let detail): "cannot read the file: \(detail)"
            case .header(let error): error.description
            case .empty: "the file has no header row"
            case .storage(let error): error.description
            }
        }
    }

    /// Imports `path`, writing the error report to `errorReport`.
    public func run(
        path: String, errorReport: URL, actor: Actor, batchSize: Int = batchSizeDefault,
        progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws(Failure) -> Report {
        precondition(batchSize > 0)
        let started = ContinuousClock.now
        let reader: CSVReader
        do { reader = try CSVReader(path: path) } catch { throw .unreadable(error.description) }
        let header = try readHeader(reader)
        let errors = try ErrorReportWriter(url: errorReport)
        defer { errors.close() }
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        var report = Report()
        var pending: Task<(Batch, [PersonImportOutcome]), any Error>? = nil
        var lastProgress = ContinuousClock.now
        let today = env.today
        while true {
            let batch = try nextBatch(
                reader, header: header, today: today, size: batchSize, actor: actor, fileName: fileName,
                report: &report, errors: errors)
            // The previous batch commits on the database's writer thread while this one was sealed.
            if let pending { try await settle(pending, report: &report, errors: errors) }
            pending = nil
            if !batch.persons.isEmpty {
                let store = env.store
                let audit = batch.audit
                pending = Task { (batch, try await store.importPersons(batch.persons, audit: audit)) }
            }
            if ContinuousClock.now - lastProgress > .milliseconds(250) || batch.finished {
                lastProgress = ContinuousClock.now
                progress(
                    Progress(
                        bytesRead: reader.offset, bytesTotal: reader.size, rowsRead: report.rowsRead,
                        elapsedSeconds: Self.seconds(since: started)))
            }
            if batch.finished { break }
        }
        if let pending { try await settle(pending, report: &report, errors: errors) }
        report.errorsWritten = errors.count
        report.elapsedSeconds = Self.seconds(since: started)
        env.logger.info(
            "person import finished",
            metadata: [
                "rows": "\(report.rowsRead)", "inserted": "\(report.inserted)", "unchanged": "\(report.unchanged)",
                "differing": "\(report.differing)", "invalid": "\(report.invalid)",
            ])
        return report
    }

    struct Batch {
        var persons: [SealedPerson] = []
        var lines: [Int] = []
        var audit: AuditDraft
        var finished = false
    }

    func readHeader(_ reader: CSVReader) throws(Failure) -> PersonImportHeader {
        let first: Result<CSVRecord, CSVRecordError>?
        do { first = try reader.next() } catch { throw .unreadable(error.description) }
        guard let first else { throw .empty }
        switch first {
        case .failure(let error): throw .unreadable("header row: \(error.reason)")
        case .success(let record):
            do { return try PersonImportHeader(record.fields) } catch { throw .header(error) }
        }
    }

    func nextBatch(
        _ reader: CSVReader, header: PersonImportHeader, today: CalendarDate, size: Int, actor: Actor, fileName: String,
        report: inout Report, errors: ErrorReportWriter
    ) throws(Failure) -> Batch {
        let now = env.clock.now()
        let provenance = Provenance(
            actor: actor.name, at: now, reason: "bulk import of \(fileName)", source: .bulkImport)
        var batch = Batch(
            audit: AuditDraft(
                at: now, actor: actor.name, action: "person.import", subject: "import:\(fileName)",
                purpose: provenance.reason))
        batch.persons.reserveCapacity(size)
        while batch.persons.count < size {
            let next: Result<CSVRecord, CSVRecordError>?
            do { next = try reader.next() } catch { throw .unreadable(error.description) }
            guard let next else {
                batch.finished = true
                break
            }
            report.rowsRead += 1
            let validated: Result<PersonImportRow, ImportRowErrors>
            switch next {
            case .failure(let error):
                validated = .failure(ImportRowErrors(line: error.line, errors: [header.rowError(for: error)]))
            case .success(let record):
                validated = header.validate(record, today: today, regions: env.regions)
            }
            switch validated {
            case .failure(let rowErrors):
                report.invalid += 1
                errors.write(rowErrors.errors)
            case .success(let row):
                let id: Person.ID = env.ids.make()
                let sealed: (sealed: Data, fingerprint: Data)
                do { sealed = try env.vault.sealWithFingerprint(row.details, row.attributes, personID: id) } catch {
                    throw .storage(CitizenCardError(.internal, "sealing failed"))
                }
                batch.persons.append(
                    SealedPerson(
                        id: id, idIndex: env.vault.indexOf(row.details.residentID), fingerprint: sealed.fingerprint,
                        details: sealed.sealed, attributes: row.attributes, version: 1, provenance: provenance,
                        createdAt: now))
                batch.lines.append(row.line)
            }
        }
        let first = batch.lines.first ?? 0, last = batch.lines.last ?? 0
        batch.audit.detail = #"{"rows":\#(batch.persons.count),"lines":"\#(first)-\#(last)"}"#
        return batch
    }

    func settle(
        _ task: Task<(Batch, [PersonImportOutcome]), any Error>, report: inout Report, errors: ErrorReportWriter
    ) async throws(Failure) {
        let batch: Batch, outcomes: [PersonImportOutcome]
        do {
            (batch, outcomes) = try await task.value
        } catch let error as StorageError {
            throw .storage(ServiceEnvironment.translate(error))
        } catch {
            throw .storage(CitizenCardError(.internal, "\(type(of: error))"))
        }
        for (line, outcome) in zip(batch.lines, outcomes) {
            switch outcome {
            case .inserted: report.inserted += 1
            case .unchanged: report.unchanged += 1
            case .differs:
                report.differing += 1
                errors.write([
                    ImportRowError(
                        line: line, column: "id_number",
                        reason: "already registered with different data; not changed (correct it at an outlet)")
                ])
            }
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// A CSV report written as an import goes: a header, then rows, buffered (64 KiB) and flushed.
final class CSVReportFile: @unchecked Sendable {
    let handle: FileHandle
    private(set) var count = 0
    private var buffer = Data()

    /// nil when the file cannot be created.
    init?(url: URL, header: [String]) {
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
            let handle = try? FileHandle(forWritingTo: url)
        else { return nil }
        self.handle = handle
        buffer.append(contentsOf: CSVFormat.record(header).utf8)
    }

    func write(_ fields: [String]) {
        buffer.append(contentsOf: CSVFormat.record(fields).utf8)
        count += 1
        if buffer.count > 1 << 16 { flush() }
    }

    /// A line as it is (a `#` comment).
    func writeLine(_ text: String) { buffer.append(contentsOf: (text + "\n").utf8) }

    func flush() {
        try? handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() {
        flush()
        try? handle.close()
    }
}

/// The error report: a CSV file `line,column,reason`, written as rows fail.
final class ErrorReportWriter: @unchecked Sendable {
    let file: CSVReportFile

    init(url: URL) throws(PersonImporter.Failure) {
        guard let file = CSVReportFile(url: url, header: ImportRowError.reportHeader) else {
            throw .unreadable("cannot write the error report \(url.path)")
        }
        self.file = file
    }

    var count: Int { file.count }

    func write(_ errors: [ImportRowError]) {
        for error in errors { file.write(error.reportFields) }
    }

    func close() { file.close() }
}

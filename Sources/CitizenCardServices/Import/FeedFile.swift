public import CitizenCardDomain
public import Foundation

/// A department's feed file (docs/departments.md): JSON lines, one message a line, or CSV with
/// the header `messageId,kind,idNumber,occurredOn,newIdNumber,newName,name,household`. Read a
/// chunk at a time, so that a file of millions of lines takes the memory of one chunk.
public final class FeedFileReader {
    public enum Format: String, Sendable, CaseIterable {
        case jsonLines = "jsonl"
        case csv
    }

    /// One line of the file: a message, or why it is not one.
    public struct Row: Sendable {
        public var line: Int
        public var message: Parsed
    }

    public enum Parsed: Sendable {
        case message(FeedService.Message)
        /// Not a message: the answer it gets (`invalid`, not stored).
        case refused(FeedResult)

        var value: FeedService.Message? {
            if case .message(let message) = self { message } else { nil }
        }
    }

    static let columns = ["messageId", "kind", "idNumber", "occurredOn", "newIdNumber", "newName", "name", "household"]

    let format: Format
    let csv: CSVReader?
    let lines: LineReader?
    var csvColumns: [Int] = []
    public var size: Int64? { csv?.size ?? lines?.size }
    public var offset: Int64 { csv?.offset ?? lines?.offset ?? 0 }

    public init(path: String, format: Format? = nil) throws {
        let chosen = format ?? (path.lowercased().hasSuffix(".csv") ? .csv : .jsonLines)
        self.format = chosen
        switch chosen {
        case .csv:
            let reader = try CSVReader(path: path)
            csv = reader
            lines = nil
            guard case .success(let header)? = try reader.next() else {
                throw FeedFileError(reason: "the file has no header line")
            }
            let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
            for required in ["messageId", "kind", "idNumber"] where !names.contains(required) {
                throw FeedFileError(reason: "the header has no \(required) column")
            }
            if let unknown = names.first(where: { !Self.columns.contains($0) }) {
                throw FeedFileError(reason: "the header has an unknown column: \(unknown.prefix(40))")
            }
            csvColumns = Self.columns.map { names.firstIndex(of: $0) ?? -1 }
        case .jsonLines:
            csv = nil
            lines = try LineReader(path: path)
        }
    }

    /// The next row, nil at the end of the file.
    public func next() throws -> Row? {
        switch format {
        case .csv:
            guard let record = try csv!.next() else { return nil }
            switch record {
            case .failure(let error):
                return Row(line: error.line, message: .refused(Self.invalid(error.reason)))
            case .success(let record):
                func field(_ index: Int) -> String? {
                    let column = csvColumns[index]
                    guard column >= 0, column < record.fields.count else { return nil }
                    let value = record.fields[column]
                    return value.isEmpty ? nil : value
                }
                return Row(
                    line: record.line,
                    message: .message(
                        FeedService.Message(
                            messageId: field(0) ?? "", kind: field(1) ?? "", idNumber: field(2) ?? "",
                            occurredOn: field(3), newIdNumber: field(4), newName: field(5), name: field(6),
                            household: field(7))))
            }
        case .jsonLines:
            while let (number, bytes) = try lines!.next() {
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                return Row(line: number, message: Self.decode(bytes))
            }
            return nil
        }
    }

    static let allowedKeys = Set(columns)

    static func decode(_ bytes: ArraySlice<UInt8>) -> Parsed {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else {
            return .refused(invalid("the line is not a JSON object"))
        }
        var fields: [String: String] = [:]
        for (key, value) in object {
            guard allowedKeys.contains(key) else { return .refused(invalid("unknown field \(key.prefix(40))")) }
            if value is NSNull { continue }
            guard let text = value as? String else { return .refused(invalid("\(key) is not text")) }
            fields[key] = text
        }
        guard let messageId = fields["messageId"], let kind = fields["kind"], let idNumber = fields["idNumber"] else {
            return .refused(invalid("messageId, kind and idNumber are required"))
        }
        return .message(
            FeedService.Message(
                messageId: messageId, kind: kind, idNumber: idNumber, occurredOn: fields["occurredOn"],
                newIdNumber: fields["newIdNumber"], newName: fields["newName"], name: fields["name"],
                household: fields["household"]))
    }

    static func invalid(_ reason: String) -> FeedResult {
        FeedResult(messageId: "", outcome: .invalid, code: "malformed_request", detail: reason)
    }
}

public struct FeedFileError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { reason }
}

/// Lines of a file, a chunk at a time; a line longer than 1 MiB is an error.
final class LineReader {
    let handle: FileHandle
    let size: Int64?
    var buffer: [UInt8] = []
    var start = 0
    var bufferOffset: Int64 = 0
    var line = 0
    var finished = false
    static let chunk = 1 << 20

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FeedFileError(reason: "cannot read \(path)")
        }
        self.handle = handle
        size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }

    deinit { try? handle.close() }

    var offset: Int64 { bufferOffset + Int64(start) }

    func next() throws -> (Int, ArraySlice<UInt8>)? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let slice = buffer[start..<newline]
                start = newline + 1
                line += 1
                return (line, slice)
            }
            if finished {
                guard start < buffer.count else { return nil }
                let slice = buffer[start...]
                start = buffer.count
                line += 1
                return (line, slice)
            }
            guard buffer.count - start <= Self.chunk else {
                throw FeedFileError(reason: "line \(line + 1) is longer than 1 MiB")
            }
            bufferOffset += Int64(start)
            buffer.removeFirst(start)
            start = 0
            let data = try handle.read(upToCount: Self.chunk) ?? Data()
            if data.isEmpty { finished = true } else { buffer.append(contentsOf: data) }
        }
    }
}

/// Applies a feed file for one department, chunk by chunk, writing one JSON line of result per
/// row (`{"line":N,…FeedResult}`); safe to run again on the same file: applied messages answer
/// as duplicates.
public struct FeedFileRunner: Sendable {
    let env: ServiceEnvironment

    public init(_ env: ServiceEnvironment) { self.env = env }

    public struct Report: Sendable {
        public var rows = 0
        public var outcomes: [FeedResult.Outcome: Int] = [:]
        public var duplicates = 0
        public var elapsedSeconds = 0.0
    }

    public struct Progress: Sendable {
        public var rows: Int
        public var bytesRead: Int64
        public var bytesTotal: Int64?
        public var elapsedSeconds: Double
    }

    public static let chunkSize = 2000

    public func run(
        path: String, format: FeedFileReader.Format? = nil, department code: String, results: URL,
        progress: @Sendable (Progress) -> Void = { _ in }
    ) async throws -> Report {
        let started = ContinuousClock.now
        let feeds = FeedService(env)
        let department = try await feeds.department(code: code)
        guard department.active else { throw FeedFileError(reason: "the department \(code) is not active") }
        let reader = try FeedFileReader(path: path, format: format)
        FileManager.default.createFile(atPath: results.path, contents: nil)
        guard let output = FileHandle(forWritingAtPath: results.path) else {
            throw FeedFileError(reason: "cannot write \(results.path)")
        }
        defer { try? output.close() }
        let actor = Actor(
            operatorID: nil, name: "department:\(department.code)", role: .department, outletID: nil,
            departmentID: department.id)
        var report = Report()
        var last = ContinuousClock.now
        // The previous chunk commits while the next one is read and decided.
        var inFlight: (rows: [FeedFileReader.Row], task: Task<[FeedResult], any Error>)? = nil
        func settle() async throws {
            guard let (rows, task) = inFlight else { return }
            inFlight = nil
            let applied = try await task.value
            var next = applied.makeIterator()
            var text = Data()
            for row in rows {
                let result: FeedResult
                switch row.message {
                case .message: result = next.next()!
                case .refused(let refused): result = refused
                }
                report.rows += 1
                report.outcomes[result.outcome, default: 0] += 1
                if result.duplicate { report.duplicates += 1 }
                text.append(contentsOf: Array("{\"line\":\(row.line),\(result.json.dropFirst())\n".utf8))
            }
            try output.write(contentsOf: text)
        }
        while true {
            var rows: [FeedFileReader.Row] = []
            rows.reserveCapacity(Self.chunkSize)
            while rows.count < Self.chunkSize, let row = try reader.next() { rows.append(row) }
            if rows.isEmpty { break }
            let messages = rows.compactMap(\.message.value)
            let prepared = try await feeds.prepareBatch(messages, department: department, actor: actor)
            try await settle()
            inFlight = (
                rows,
                Task { try await feeds.finishBatch(prepared, messages: messages, department: department, actor: actor) }
            )
            if ContinuousClock.now - last > .milliseconds(250) {
                last = ContinuousClock.now
                progress(
                    Progress(
                        rows: report.rows, bytesRead: reader.offset, bytesTotal: reader.size,
                        elapsedSeconds: seconds(since: started)))
            }
        }
        try await settle()
        report.elapsedSeconds = seconds(since: started)
        progress(
            Progress(
                rows: report.rows, bytesRead: reader.size ?? reader.offset, bytesTotal: reader.size,
                elapsedSeconds: report.elapsedSeconds))
        return report
    }

    func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

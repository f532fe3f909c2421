#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

// A streaming RFC 4180 CSV reader for `citizencard import persons` (docs/import-format.md).
//
// The file is read with read(2) in large chunks into one reusable byte buffer; only the record being
// parsed must fit in it, so memory does not depend on the size of the file. Fields are decoded
// straight from the buffer into Strings; UTF-8 is validated per field.

/// One record (row) of a CSV file.
public struct CSVRecord: Hashable, Sendable {
    /// 1-based physical line on which the record starts (a quoted field may span several lines).
    public var line: Int
    /// Byte offset in the input just after the record and its line terminator (for progress bars).
    public var endOffset: Int64
    /// The fields, unquoted and unescaped.
    public var fields: [String]

    public init(line: Int, endOffset: Int64, fields: [String]) {
        self.line = line
        self.endOffset = endOffset
        self.fields = fields
    }
}

/// A record that cannot be read. It concerns that record only: reading goes on after it.
///
/// `reason` is English and never contains the content of the file.
public struct CSVRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A quoted field (0-based index `field`) is still open at the end of the input.
        case unterminatedQuote(field: Int)
        /// A `"` inside a field that does not start with one.
        case quoteInUnquotedField(field: Int)
        /// Something other than a comma or a line end follows the closing quote of a quoted field.
        case textAfterClosingQuote(field: Int)
        /// The bytes of a field are not UTF-8.
        case invalidUTF8(field: Int)
        /// The record is longer than the reader's `maxRecordBytes` (typically a quote never closed).
        case recordTooLong(limit: Int)
    }

    /// 1-based physical line on which the bad record starts.
    public var line: Int
    /// Byte offset at which reading resumes.
    public var endOffset: Int64
    public var kind: Kind

    public init(line: Int, endOffset: Int64, kind: Kind) {
        self.line = line
        self.endOffset = endOffset
        self.kind = kind
    }

    /// 0-based index of the field in which the problem was found, when there is one.
    public var field: Int? {
        switch kind {
        case .unterminatedQuote(let field), .quoteInUnquotedField(let field), .textAfterClosingQuote(let field),
            .invalidUTF8(let field):
            field
        case .recordTooLong: nil
        }
    }

    /// English reason, free of file content.
    public var reason: String {
        switch kind {
        case .unterminatedQuote:
            "a quoted field is not closed before the end of the file"
        case .quoteInUnquotedField:
            "a quote (\") inside a field that does not start with a quote; quote the whole field and double the quote"
        case .textAfterClosingQuote:
            "text after the closing quote of a quoted field; a quote inside a quoted field must be doubled"
        case .invalidUTF8:
            "the field is not valid UTF-8; save the file as UTF-8"
        case .recordTooLong(let limit):
            "the record is longer than \(limit) bytes (is a quote not closed?)"
        }
    }

    public var description: String { "line \(line): \(reason)" }
}

/// The input cannot be opened or read: the whole import stops.
public struct CSVFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `open` or `read`.
    public var operation: String
    /// The `errno` value.
    public var code: Int32

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    public var description: String {
        let message = strerror(code).map { String(cString: $0) } ?? "error \(code)"
        return "cannot \(operation) the file: \(message)"
    }
}

/// Streams the records of an RFC 4180 CSV input: a file (read with read(2) in large chunks) or bytes.
///
/// - Fields are separated by commas; records end with CRLF or LF (a final line end is optional).
/// - A field that starts with `"` is quoted: it may contain commas, line ends and doubled quotes
///   (`""` stands for `"`). A `"` anywhere else is an error.
/// - A UTF-8 byte order mark at the very start is skipped. Fields must be UTF-8.
/// - Empty lines are skipped unless `skipsEmptyLines` is false (then an empty line is a record with
///   one empty field).
///
/// Errors are per record: `next()` returns `.failure` for a malformed record and goes on. After an
/// invalid-UTF-8 record it goes on after that record; after a structural error (a stray or unclosed
/// quote, a too long record) it goes on at the line after the one on which the bad record starts, so
/// that one unclosed quote costs one line, not the rest of the file.
///
/// Memory is bounded by `chunkSize` and `maxRecordBytes`, not by the size of the input.
/// The reader is not thread-safe; use it from one task.
public final class CSVReader {
    public static let defaultChunkSize = 1 << 20
    public static let defaultMaxRecordBytes = 1 << 20

    /// A record longer than this (in bytes, line end included) is reported as `recordTooLong`.
    public let maxRecordBytes: Int
    public let skipsEmptyLines: Bool
    /// The size of the input when known (a regular file or bytes); nil for a pipe.
    public let size: Int64?

    private let chunkSize: Int
    private var descriptor: Int32
    private let closesDescriptor: Bool
    private let memory: [UInt8]?
    private var memoryPosition = 0

    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    /// Unconsumed data is `buffer[start..<end]`.
    private var start = 0
    private var end = 0
    /// Offset in the input of `buffer[0]`.
    private var bufferOffset: Int64 = 0
    private var atEOF = false
    /// Physical line of `buffer[start]`.
    private var line = 1
    private var started = false
    private var fieldCountHint = 8
    private var scratch: [UInt8] = []

    /// Opens a file for reading.
    public convenience init(
        path: String, chunkSize: Int = CSVReader.defaultChunkSize,
        maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes, skipsEmptyLines: Bool = true
    ) throws(CSVFileError) {
        var descriptor: Int32
        repeat {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else { throw CSVFileError(operation: "open", code: errno) }
        self.init(
            fileDescriptor: descriptor, closesOnDeinit: true, chunkSize: chunkSize, maxRecordBytes: maxRecordBytes,
            skipsEmptyLines: skipsEmptyLines)
    }

    /// Reads from an open file descriptor (a file, a pipe, standard input) from its current position.
    public init(
        fileDescriptor: Int32, closesOnDeinit: Bool, chunkSize: Int = CSVReader.defaultChunkSize,
        maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes, skipsEmptyLines: Bool = true
    ) {
        precondition(chunkSize > 0 && maxRecordBytes > 0)
        self.descriptor = fileDescriptor
        self.closesDescriptor = closesOnDeinit
        self.memory = nil
        self.chunkSize = chunkSize
        self.maxRecordBytes = maxRecordBytes
        self.skipsEmptyLines = skipsEmptyLines
        var info = stat()
        if fstat(fileDescriptor, &info) == 0 && UInt32(info.st_mode) & UInt32(S_IFMT) == UInt32(S_IFREG) {
            self.size = Int64(info.st_size)
        } else {
            self.size = nil
        }
        self.capacity = max(chunkSize, 16)
        self.buffer = .allocate(capacity: capacity)
    }

    /// Reads from bytes in memory, handing them to the parser `chunkSize` bytes at a time (tests use
    /// tiny chunks to exercise records split across reads).
    public init(
        bytes: [UInt8], chunkSize: Int = CSVReader.defaultChunkSize,
        maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes, skipsEmptyLines: Bool = true
    ) {
        precondition(chunkSize > 0 && maxRecordBytes > 0)
        self.descriptor = -1
        self.closesDescriptor = false
        self.memory = bytes
        self.size = Int64(bytes.count)
        self.chunkSize = chunkSize
        self.maxRecordBytes = maxRecordBytes
        self.skipsEmptyLines = skipsEmptyLines
        self.capacity = max(min(chunkSize, bytes.count), 16)
        self.buffer = .allocate(capacity: capacity)
    }

    deinit {
        buffer.deallocate()
        if closesDescriptor && descriptor >= 0 { _ = close(descriptor) }
    }

    /// Bytes of the input consumed so far (the end of the last record returned).
    public var offset: Int64 { bufferOffset + Int64(start) }

    /// The next record, or the error of the next malformed record, or nil at the end of the input.
    /// Throws only when the input cannot be read.
    public func next() throws(CSVFileError) -> Result<CSVRecord, CSVRecordError>? {
        if !started {
            started = true
            while end < 3 && !atEOF { try refill() }
            if end >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { start = 3 }
        }
        while true {
            if start == end {
                if atEOF { return nil }
                try refill()
                continue
            }
            switch parse() {
            case .record(let record):
                return .success(record)
            case .emptyLine:
                continue
            case .needMore:
                if end - start >= maxRecordBytes {
                    return .failure(try resynchronise(.recordTooLong(limit: maxRecordBytes)))
                }
                try refill()
            case .malformed(let kind):
                return .failure(try resynchronise(kind))
            case .invalidRecord(let error):
                return .failure(error)
            }
        }
    }

    /// Reads all remaining records (convenience for tests and small inputs).
    public func readAll() throws(CSVFileError) -> [Result<CSVRecord, CSVRecordError>] {
        var results: [Result<CSVRecord, CSVRecordError>] = []
        while let result = try next() { results.append(result) }
        return results
    }

    // MARK: - Buffer

    /// Keeps `buffer[start..<end]`, moved to the front, and appends up to `chunkSize` more bytes.
    private func refill() throws(CSVFileError) {
        if start > 0 {
            let kept = end - start
            if kept > 0 { memmove(buffer, buffer + start, kept) }
            bufferOffset += Int64(start)
            start = 0
            end = kept
        }
        if end == capacity {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            grown.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = grown
            capacity *= 2
        }
        let wanted = min(chunkSize, capacity - end)
        if let memory {
            let count = min(wanted, memory.count - memoryPosition)
            if count == 0 {
                atEOF = true
                return
            }
            memory.withUnsafeBufferPointer { source in
                (buffer + end).update(from: source.baseAddress! + memoryPosition, count: count)
            }
            memoryPosition += count
            end += count
            return
        }
        while true {
            let count = read(descriptor, buffer + end, wanted)
            if count > 0 {
                end += count
                return
            }
            if count == 0 {
                atEOF = true
                return
            }
            if errno != EINTR { throw CSVFileError(operation: "read", code: errno) }
        }
    }

    /// Skips to just after the first line end following the start of the bad record.
    private func resynchronise(_ kind: CSVRecordError.Kind) throws(CSVFileError) -> CSVRecordError {
        let badLine = line
        var position = start
        while true {
            while position < end && buffer[position] != lineFeed { position += 1 }
            if position < end {
                start = position + 1
                line += 1
                break
            }
            start = end
            if atEOF { break }
            try refill()
            position = start
        }
        return CSVRecordError(line: badLine, endOffset: offset, kind: kind)
    }

    // MARK: - Parser

    private enum Step {
        case record(CSVRecord)
        case emptyLine
        /// The record continues past the buffered data: refill and parse it again from its start.
        case needMore
        /// A structural error: the caller resynchronises.
        case malformed(CSVRecordError.Kind)
        /// A well-formed record with a bad field; already consumed.
        case invalidRecord(CSVRecordError)
    }

    /// Parses the record at `start`. Consumes it unless the result is `needMore` or `malformed`.
    ///
    /// The parser sees at most `maxRecordBytes` bytes from the start of the record, so whether a record
    /// is too long (`needMore` with a full window) never depends on how the input was chunked.
    private func parse() -> Step {
        let bytes = buffer
        let recordStart = start
        let end = self.end - recordStart > maxRecordBytes ? recordStart + maxRecordBytes : self.end
        let eof = atEOF && end == self.end
        var p = recordStart

        if skipsEmptyLines {
            let first = bytes[p]
            if first == lineFeed {
                start = p + 1
                line += 1
                return .emptyLine
            }
            if first == carriageReturn {
                if p + 1 < end {
                    if bytes[p + 1] == lineFeed {
                        start = p + 2
                        line += 1
                        return .emptyLine
                    }
                } else if eof {
                    start = end
                    return .emptyLine
                } else {
                    return .needMore
                }
            }
        }

        var fields: [String] = []
        fields.reserveCapacity(fieldCountHint)
        var newlines = 0
        var invalidField: Int? = nil

        while true {
            let fieldIndex = fields.count
            if p < end && bytes[p] == quote {
                // Quoted field.
                p += 1
                let contentStart = p
                var escaped = false
                var high: UInt64 = 0
                while true {
                    while true {
                        while p &+ 8 <= end {
                            let word = loadWord(bytes + p)
                            let found = matches(word, quoteWord) | matches(word, lineFeedWord)
                            high |= word
                            if found != 0 {
                                p += found.trailingZeroBitCount &>> 3
                                break
                            }
                            p += 8
                        }
                        guard p < end else { break }
                        let byte = bytes[p]
                        if byte == quote { break }
                        high |= UInt64(byte)
                        if byte == lineFeed { newlines += 1 }
                        p += 1
                    }
                    if p == end { return eof ? .malformed(.unterminatedQuote(field: fieldIndex)) : .needMore }
                    if p + 1 < end {
                        if bytes[p + 1] == quote {
                            escaped = true
                            p += 2
                            continue
                        }
                    } else if !eof {
                        return .needMore
                    }
                    break
                }
                let contentEnd = p
                p += 1
                let ascii = high & highBits == 0
                let value =
                    escaped
                    ? unescapedString(bytes + contentStart, count: contentEnd - contentStart, ascii: ascii)
                    : makeString(bytes + contentStart, count: contentEnd - contentStart, ascii: ascii)
                if let value {
                    fields.append(value)
                } else {
                    if invalidField == nil { invalidField = fieldIndex }
                    fields.append("")
                }
                if p == end {
                    if !eof { return .needMore }
                    return complete(fields, end: p, newlines: newlines, invalidField)
                }
                switch bytes[p] {
                case comma:
                    p += 1
                    continue
                case lineFeed:
                    return complete(fields, end: p + 1, newlines: newlines + 1, invalidField)
                case carriageReturn:
                    if p + 1 < end {
                        if bytes[p + 1] == lineFeed {
                            return complete(
                                fields, end: p + 2, newlines: newlines + 1, invalidField)
                        }
                    } else if eof {
                        return complete(fields, end: p + 1, newlines: newlines, invalidField)
                    } else {
                        return .needMore
                    }
                    return .malformed(.textAfterClosingQuote(field: fieldIndex))
                default:
                    return .malformed(.textAfterClosingQuote(field: fieldIndex))
                }
            } else {
                // Unquoted field: up to a comma, LF, CRLF (a lone CR is data) or the end.
                let fieldStart = p
                var terminatorLength = 0
                var high: UInt64 = 0
                scan: while true {
                    // Eight bytes at a time up to the first possible delimiter.
                    while p &+ 8 <= end {
                        let word = loadWord(bytes + p)
                        let found =
                            matches(word, commaWord) | matches(word, quoteWord) | matches(word, lineFeedWord)
                            | matches(word, carriageReturnWord)
                        high |= word
                        if found != 0 {
                            p += found.trailingZeroBitCount &>> 3
                            break
                        }
                        p += 8
                    }
                    guard p < end else { break }
                    let byte = bytes[p]
                    high |= UInt64(byte)
                    switch byte {
                    case comma, quote:
                        break scan
                    case lineFeed:
                        terminatorLength = 1
                        break scan
                    case carriageReturn:
                        if p + 1 < end {
                            if bytes[p + 1] == lineFeed {
                                terminatorLength = 2
                                break scan
                            }
                        } else if eof {
                            terminatorLength = 1
                            break scan
                        } else {
                            return .needMore
                        }
                        p += 1
                    default:
                        p += 1
                    }
                }
                if p == end && !eof { return .needMore }
                let count = p - fieldStart
                let value = count == 0 ? "" : makeString(bytes + fieldStart, count: count, ascii: high & highBits == 0)
                if let value {
                    fields.append(value)
                } else {
                    if invalidField == nil { invalidField = fieldIndex }
                    fields.append("")
                }
                if p == end {
                    return complete(fields, end: p, newlines: newlines, invalidField)
                }
                if terminatorLength > 0 {
                    let isLineFeed = bytes[p + terminatorLength - 1] == lineFeed
                    return complete(
                        fields, end: p + terminatorLength,
                        newlines: newlines + (isLineFeed ? 1 : 0), invalidField)
                }
                if bytes[p] == comma {
                    p += 1
                    continue
                }
                return .malformed(.quoteInUnquotedField(field: fieldIndex))
            }
        }
    }

    private func complete(
        _ fields: [String], end recordEnd: Int, newlines: Int, _ invalidField: Int?
    ) -> Step {
        let recordLine = line
        start = recordEnd
        line += newlines
        fieldCountHint = fields.count
        let endOffset = bufferOffset + Int64(recordEnd)
        if let invalidField {
            return .invalidRecord(
                CSVRecordError(line: recordLine, endOffset: endOffset, kind: .invalidUTF8(field: invalidField)))
        }
        return .record(CSVRecord(line: recordLine, endOffset: endOffset, fields: fields))
    }

    /// - Parameter ascii: whether the bytes are known to be ASCII (then valid UTF-8).
    @inline(__always)
    private func makeString(_ pointer: UnsafeMutablePointer<UInt8>, count: Int, ascii: Bool) -> String? {
        guard ascii || isValidUTF8(pointer, count: count) else { return nil }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The content of a quoted field with `""` turned into `"`.
    private func unescapedString(_ pointer: UnsafeMutablePointer<UInt8>, count: Int, ascii: Bool) -> String? {
        scratch.removeAll(keepingCapacity: true)
        var index = 0
        while index < count {
            let byte = pointer[index]
            scratch.append(byte)
            index += byte == quote ? 2 : 1
        }
        return scratch.withUnsafeBufferPointer { buffer in
            guard ascii || isValidUTF8(buffer.baseAddress!, count: buffer.count) else { return nil }
            return String(decoding: buffer, as: UTF8.self)
        }
    }
}

@available(*, unavailable, message: "a CSVReader is used from one task")
extension CSVReader: Sendable {}

/// Writing CSV the way `CSVReader` reads it (error reports, exports, tests).
public enum CSVFormat {
    /// The field, quoted when it contains a comma, a quote, CR or LF (quotes doubled).
    public static func field(_ value: String) -> String {
        var needsQuotes = false
        for byte in value.utf8 where byte == comma || byte == quote || byte == lineFeed || byte == carriageReturn {
            needsQuotes = true
            break
        }
        guard needsQuotes else { return value }
        var quoted = "\""
        for character in value.unicodeScalars {
            if character == "\"" { quoted.unicodeScalars.append("\"") }
            quoted.unicodeScalars.append(character)
        }
        quoted += "\""
        return quoted
    }

    /// One record with its line end. A record of a single empty field is written `""` so that it is
    /// not read back as an empty line.
    public static func record(_ fields: [String], lineEnding: String = "\r\n") -> String {
        if fields.count == 1 && fields[0].isEmpty { return "\"\"" + lineEnding }
        return fields.map(field).joined(separator: ",") + lineEnding
    }
}

/// Well-formed UTF-8 (Unicode 15 table 3-7: no overlong forms, no surrogates, at most U+10FFFF).
/// The standard library's validating initialisers are generic and several times slower here.
private func isValidUTF8(_ bytes: UnsafePointer<UInt8>, count: Int) -> Bool {
    var index = 0
    while true {
        // ASCII, eight bytes at a time.
        while index + 8 <= count {
            let word = UnsafeRawPointer(bytes + index).loadUnaligned(as: UInt64.self)
            if word & 0x8080_8080_8080_8080 != 0 { break }
            index += 8
        }
        while index < count && bytes[index] < 0x80 { index += 1 }
        if index == count { return true }
        let lead = bytes[index]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return false
        }
        guard index + length <= count else { return false }
        let second = bytes[index + 1]
        guard second >= lower && second <= upper else { return false }
        var offset = 2
        while offset < length {
            guard bytes[index + offset] & 0xC0 == 0x80 else { return false }
            offset += 1
        }
        index += length
    }
}

// Scanning eight bytes at a time (SWAR).

@inline(__always)
private func loadWord(_ pointer: UnsafeMutablePointer<UInt8>) -> UInt64 {
    UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
}

/// The high bit of each byte of `word` equal to the byte repeated in `pattern`. The lowest set bit is
/// exact (higher ones may be false positives), which is all the scanner uses.
@inline(__always)
private func matches(_ word: UInt64, _ pattern: UInt64) -> UInt64 {
    let x = word ^ pattern
    return (x &- lowBits) & ~x & highBits
}

private let lowBits: UInt64 = 0x0101_0101_0101_0101
private let highBits: UInt64 = 0x8080_8080_8080_8080
private let commaWord = lowBits &* 0x2C
private let quoteWord = lowBits &* 0x22
private let lineFeedWord = lowBits &* 0x0A
private let carriageReturnWord = lowBits &* 0x0D

private let comma = UInt8(ascii: ",")
private let quote = UInt8(ascii: "\"")
private let lineFeed = UInt8(ascii: "\n")
private let carriageReturn = UInt8(ascii: "\r")

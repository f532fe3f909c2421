import Storage
import StorageSQL
import NIOCore
import PostgresNIO

/// A batch's column bound as one PostgreSQL array (binary format, one dimension, no nulls),
/// written into the bind message in one pass. PostgresNIO's generic array encoding reserves and
/// back-fills a length for every element; an upload binds some forty arrays of hundreds of values
/// each, and that encoding took about a tenth of the client's CPU time in an upload.
struct Int64Column: PostgresNonThrowingEncodable {
    var values: [Int64]

    static var psqlType: PostgresDataType { .int8Array }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        arrayHeader(into: &buffer, count: values.count, element: .int8)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: values.count * 12) { bytes in
            var offset = 0
            for value in values {
                bytes.storeBytes(of: Int32(8).bigEndian, toByteOffset: offset, as: Int32.self)
                bytes.storeBytes(of: value.bigEndian, toByteOffset: offset + 4, as: Int64.self)
                offset += 12
            }
            return offset
        }
    }
}

/// As `Int64Column`, of text.
struct TextColumn: PostgresNonThrowingEncodable {
    var values: [String]

    static var psqlType: PostgresDataType { .textArray }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(
        into buffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        arrayHeader(into: &buffer, count: values.count, element: .text)
        let size = values.reduce(0) { $0 + 4 + $1.utf8.count }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { bytes in
            var offset = 0
            for var value in values {
                value.withUTF8 { text in
                    bytes.storeBytes(of: Int32(text.count).bigEndian, toByteOffset: offset, as: Int32.self)
                    UnsafeMutableRawBufferPointer(rebasing: bytes[(offset + 4)...])
                        .copyMemory(from: UnsafeRawBufferPointer(text))
                    offset += 4 + text.count
                }
            }
            return offset
        }
    }
}

/// The header of a one-dimensional array without nulls, as PostgreSQL's `array_recv` reads it:
/// the number of dimensions (0 for an empty array), a flags word, the element type, then the
/// dimension's length and lower bound.
private func arrayHeader(into buffer: inout ByteBuffer, count: Int, element: PostgresDataType) {
    buffer.writeMultipleIntegers(Int32(count == 0 ? 0 : 1), Int32(0), element.rawValue)
    if count > 0 { buffer.writeMultipleIntegers(Int32(count), Int32(1)) }
}

extension PostgresBindings {
    /// `values` as one `bigint[]` parameter.
    mutating func appendColumn(_ values: [Int64]) { append(Int64Column(values: values)) }

    /// `values` as one `text[]` parameter.
    mutating func appendColumn(_ values: [String]) { append(TextColumn(values: values)) }
}

/// The cells of a row read in order, for reads of hundreds of rows: a binary `bigint` or `text`
/// cell is read from its bytes directly; any other format or type goes through PostgresNIO's
/// decoding. PostgresNIO's generic decoding of each row as a tuple took 7 % of the client's CPU
/// time in an upload (0.55 ms per 250 purse states).
struct RowCursor {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    private mutating func cell() throws -> PostgresCell {
        guard let cell = cells.next() else { throw StorageError.corrupt(reason: "a row is shorter than its read") }
        return cell
    }

    mutating func int() throws -> Int64 {
        guard let value = try optionalInt() else { throw StorageError.corrupt(reason: "NULL where a number is") }
        return value
    }

    mutating func optionalInt() throws -> Int64? {
        let cell = try cell()
        guard var bytes = cell.bytes else { return nil }
        if cell.format == .binary, cell.dataType == .int8, bytes.readableBytes == 8 {
            return bytes.readInteger(as: Int64.self)
        }
        return try cell.decode(Int64.self)
    }

    mutating func string() throws -> String {
        guard let value = try optionalString() else { throw StorageError.corrupt(reason: "NULL where text is") }
        return value
    }

    mutating func optionalString() throws -> String? {
        let cell = try cell()
        guard var bytes = cell.bytes else { return nil }
        if cell.dataType == .text || cell.dataType == .varchar {
            return bytes.readString(length: bytes.readableBytes)
        }
        return try cell.decode(String.self)
    }
}

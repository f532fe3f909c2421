import CZlib

/// DEFLATE (RFC 1951) in the zlib format (RFC 1950: a 2-byte header, the compressed data, an
/// Adler-32 of the content), as the EU digital COVID certificates and the IETF Token Status List
/// use it, through the system's zlib.
public enum Deflate {
    /// zlib's level 9, the level the Token Status List recommends ("the highest compression level
    /// available") and the one its examples use.
    public static let bestCompression: Int32 = Z_BEST_COMPRESSION

    /// `bytes` in the zlib format, compressed at `level` (0–9) with zlib's defaults otherwise
    /// (32 KiB window, memory level 8, default strategy): the same bytes as `compress2`, Python's
    /// `zlib.compress` and Java's `Deflater` at the same level.
    ///
    /// - Precondition: `level` in 0…9. zlib failing here (out of memory) traps, as any allocation
    ///   failure does.
    public static func compress(_ bytes: [UInt8], level: Int32 = bestCompression) -> [UInt8] {
        precondition((0...9).contains(level), "zlib compression level out of range")
        var outputCount = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(outputCount))
        let status = output.withUnsafeMutableBufferPointer { outputBuffer in
            bytes.withUnsafeBufferPointer { inputBuffer in
                compress2(
                    outputBuffer.baseAddress, &outputCount, inputBuffer.baseAddress, uLong(inputBuffer.count), level)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        return Array(output.prefix(Int(outputCount)))
    }

    /// The content of one zlib stream that fills `bytes`, at most `byteCountMax` bytes long.
    ///
    /// The output limit is what stops a "zip bomb" (a few kilobytes that inflate to gigabytes):
    /// decompression stops as soon as the output passes the limit, having allocated at most the
    /// limit plus one 64 KiB chunk.
    ///
    /// - Throws: `.outputLimitExceeded` past the limit; `.corrupt` for a bad header, a bad block or
    ///   a bad Adler-32 (zlib reports the first problem it meets, so damaged input may also give
    ///   `.truncated` or `.outputLimitExceeded`); `.truncated` when the input ends before the
    ///   stream does; `.trailingBytes` after the end of the stream; `.inputTooLong` above 4 GiB;
    ///   `.zlibFailure` when zlib cannot start (out of memory).
    public static func decompress(_ bytes: [UInt8], byteCountMax: Int) throws(DeflateError) -> [UInt8] {
        precondition(byteCountMax >= 0, "output limit cannot be negative")
        guard bytes.count <= Int(uInt.max) else { throw .inputTooLong(byteCount: bytes.count) }
        var stream = z_stream()
        let initStatus = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw .zlibFailure(status: initStatus) }
        defer { _ = inflateEnd(&stream) }
        let result = bytes.withUnsafeBufferPointer { input in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            return inflateAll(&stream, byteCountMax: byteCountMax)
        }
        return try result.get()
    }

    /// Runs `inflate` until the end of the stream, an error or the output limit.
    private static func inflateAll(_ stream: inout z_stream, byteCountMax: Int) -> Result<[UInt8], DeflateError> {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: byteCountMax < 65_536 ? byteCountMax + 1 : 65_536)
        while true {
            let status = chunk.withUnsafeMutableBufferPointer { buffer in
                stream.next_out = buffer.baseAddress
                stream.avail_out = uInt(buffer.count)
                return inflate(&stream, Z_NO_FLUSH)
            }
            output += chunk.prefix(chunk.count - Int(stream.avail_out))
            guard output.count <= byteCountMax else {
                return .failure(.outputLimitExceeded(byteCountMax: byteCountMax))
            }
            switch status {
            case Z_OK: continue
            case Z_STREAM_END:
                return stream.avail_in == 0
                    ? .success(output) : .failure(.trailingBytes(byteCount: Int(stream.avail_in)))
            // No progress possible: the input is used up before the end of the stream.
            case Z_BUF_ERROR: return .failure(.truncated)
            case Z_MEM_ERROR: return .failure(.zlibFailure(status: status))
            default: return .failure(.corrupt)  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
            }
        }
    }
}

/// Why bytes do not inflate. Every case but `zlibFailure` means the input is malformed.
public enum DeflateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The content is longer than the caller's limit (a zip bomb, or simply too much).
    case outputLimitExceeded(byteCountMax: Int)
    /// The input ends before the zlib stream does (empty input included).
    case truncated
    /// Not a zlib stream, or a damaged one: bad header, invalid block, checksum mismatch, preset
    /// dictionary required.
    case corrupt
    /// Bytes after the end of the zlib stream.
    case trailingBytes(byteCount: Int)
    /// More than 4 GiB of input: zlib takes its input length as a 32-bit count.
    case inputTooLong(byteCount: Int)
    /// zlib could not start or ran out of memory; the input may be fine.
    case zlibFailure(status: Int32)

    public var description: String {
        switch self {
        case .outputLimitExceeded(let limit): "inflated data longer than \(limit) bytes"
        case .truncated: "zlib data is truncated"
        case .corrupt: "zlib data is corrupt"
        case .trailingBytes(let count): "\(count) bytes after the end of the zlib data"
        case .inputTooLong(let count): "\(count) bytes of zlib data is more than zlib takes at once"
        case .zlibFailure(let status): "zlib failed with status \(status)"
        }
    }
}

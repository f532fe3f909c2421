import CQRencode
import CZlib
public import Foundation

/// A QR symbol made by libqrencode, drawn as SVG for the pages or PNG for files and scanners.
public struct QRSymbol: Sendable, Hashable {
    /// Modules per side, without the quiet zone.
    public let width: Int
    /// `width × width` modules, row by row; true is dark.
    public let modules: [Bool]

    /// The error correction level: M (15 %) by default, as the EU certificates used.
    public enum Correction: Sendable {
        case low, medium, quartile, high

        var level: QRecLevel {
            switch self {
            case .low: QR_ECLEVEL_L
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            case .high: QR_ECLEVEL_H
            }
        }
    }

    public enum Failure: Error, Equatable, Sendable {
        /// More data than the largest symbol (version 40) holds at this correction level.
        case tooLong
        /// Text holding a NUL, which libqrencode's C strings cannot carry.
        case invalidText
        case library(Int32)
    }

    /// Encodes `text` in the smallest symbol that holds it; libqrencode picks the modes (a card
    /// code in Base45 is all alphanumeric, 5.5 bits a character).
    public init(_ text: String, correction: Correction = .medium) throws(Failure) {
        guard !text.utf8.contains(0) else { throw .invalidText }
        errno = 0
        guard let code = QRcode_encodeString(text, 0, correction.level, QR_MODE_8, 1) else {
            throw errno == ERANGE ? .tooLong : .library(errno)
        }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        self.width = width
        self.modules = data.map { $0 & 1 == 1 }
    }

    public func isDark(row: Int, column: Int) -> Bool { modules[row * width + column] }

    /// The quiet zone the standard requires around the symbol, in modules.
    public static let quietZone = 4

    /// An SVG drawing, one path of unit squares in a view box of modules plus the quiet zone,
    /// scaled to `pixels` wide; crisp edges so that scanners see square modules.
    public func svg(pixels: Int = 256, label: String = "QR code") -> String {
        let side = width + 2 * Self.quietZone
        var path = ""
        path.reserveCapacity(width * width * 4)
        for row in 0..<width {
            var column = 0
            while column < width {
                guard isDark(row: row, column: column) else {
                    column += 1
                    continue
                }
                var run = 1
                while column + run < width, isDark(row: row, column: column + run) { run += 1 }
                path += "M\(column + Self.quietZone) \(row + Self.quietZone)h\(run)v1h-\(run)z"
                column += run
            }
        }
        let escaped = label.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" width="\(pixels)" height="\(pixels)" \
            shape-rendering="crispEdges" role="img" aria-label="\(escaped)">\
            <rect width="\(side)" height="\(side)" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }

    /// A grayscale PNG, `scale` pixels a module, with the quiet zone.
    public func png(scale: Int = 4) -> Data {
        let scale = max(1, min(scale, 32))
        let side = (width + 2 * Self.quietZone) * scale
        // Rows of one filter byte (0: none) and `side` samples of 8 bits.
        var raw = [UInt8](repeating: 0xFF, count: side * (side + 1))
        for y in 0..<side {
            raw[y * (side + 1)] = 0
            let row = y / scale - Self.quietZone
            guard row >= 0, row < width else { continue }
            for x in 0..<side {
                let column = x / scale - Self.quietZone
                if column >= 0, column < width, isDark(row: row, column: column) { raw[y * (side + 1) + 1 + x] = 0 }
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(side))
        header.appendBigEndian(UInt32(side))
        header += [8, 0, 0, 0, 0]  // 8 bits, grayscale, deflate, adaptive filtering, no interlace
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", Self.zlibCompress(raw))
        png.appendChunk("IEND", [])
        return Data(png)
    }

    static func zlibCompress(_ input: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(length))
        let status = output.withUnsafeMutableBufferPointer { out in
            input.withUnsafeBufferPointer { compress2(out.baseAddress, &length, $0.baseAddress, uLong(input.count), 9) }
        }
        precondition(status == Z_OK, "compress2 cannot fail with a buffer of compressBound")
        return Array(output.prefix(Int(length)))
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8(value >> 16 & 0xFF))
        append(UInt8(value >> 8 & 0xFF))
        append(UInt8(value & 0xFF))
    }

    fileprivate mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        append(contentsOf: typed)
        let crc = typed.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        appendBigEndian(UInt32(crc))
    }
}

import Hotlist

/// A city ASN as `CardNumbering.asn(prefix:sequence:)` writes it: prefix, `0001`, 12-digit sequence.
func cityASN(_ sequence: Int, prefix: String = "3309") -> CardASN {
    let digits = String(sequence)
    let hex = prefix + "0001" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    guard let asn = CardASN(hex: hex) else { preconditionFailure("test ASN \(hex) is not 20 hex digits") }
    return asn
}

func asn(_ hex: String) -> CardASN {
    guard let asn = CardASN(hex: hex) else { preconditionFailure("test ASN \(hex) is not 20 hex digits") }
    return asn
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { byte in
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }.joined(separator: " ")
}

func bytes(_ hex: String) -> [UInt8] {
    let digits = hex.filter { !$0.isWhitespace }
    return stride(from: 0, to: digits.count, by: 2).map { offset in
        let start = digits.index(digits.startIndex, offsetBy: offset)
        return UInt8(digits[start...digits.index(after: start)], radix: 16) ?? 0
    }
}

/// CRC-32 (IEEE), computed bit by bit: an independent check of the format's table-driven one.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// `body` (magic, format version, content) with its CRC-32 appended, as the encoder finishes a file.
func sealed(_ body: [UInt8]) -> [UInt8] {
    let crc = referenceCRC32(body)
    return body + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
}

/// The file without its checksum.
func unsealed(_ file: [UInt8]) -> [UInt8] { Array(file.dropLast(4)) }

/// The tiny list pinned byte by byte in the tests and in docs/hotlist.md.
let tinyList: Hotlist = {
    do {
        return try Hotlist(
            version: 7,
            entries: [
                HotlistEntry(asn: cityASN(1), reason: .lost, blocksApplication: true),
                HotlistEntry(asn: cityASN(5), reason: .cancelled),
                HotlistEntry(asn: cityASN(6), reason: .lost, blocksApplication: true),
                HotlistEntry(asn: asn("3310000100000000000A"), reason: .expired),
            ])
    } catch {
        preconditionFailure("tiny list: \(error)")
    }
}()

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}

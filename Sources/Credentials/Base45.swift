/// Base45 (RFC 9285): bytes as characters of the 45-character alphabet of a QR code's
/// alphanumeric mode, `0`–`9`, `A`–`Z`, space and `$%*+-./:`.
///
/// Each pair of bytes `a b` is the number `n = a·256 + b`, written as three characters `c d e` with
/// `n = c + d·45 + e·45²`; a last single byte `a` is written as two characters `c d` with
/// `a = c + d·45`. The alphabet has no lowercase letters, so lowercase input is refused, never
/// folded: "a" is not another spelling of "A".
public enum Base45 {
    /// The alphabet, in value order (RFC 9285 §4).
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".utf8)

    /// The value of each ASCII byte, or 0xFF when it is not in the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() { table[Int(character)] = UInt8(value) }
        return table
    }()

    /// The Base45 text of `bytes`: 3 characters per 2 bytes, 2 for a last odd byte.
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count / 2 * 3 + 2)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            if let second = iterator.next() {
                let value = Int(first) << 8 | Int(second)
                output += [alphabet[value % 45], alphabet[value / 45 % 45], alphabet[value / 2025]]
            } else {
                output += [alphabet[Int(first) % 45], alphabet[Int(first) / 45]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes of a Base45 text.
    ///
    /// - Throws: in this order, `.invalidLength` when the length leaves a single character at the end
    ///   (length ≡ 1 mod 3); `.invalidCharacter` at the first byte (UTF-8 offset) outside the
    ///   alphabet; `.valueOutOfRange` for a triple above 65535 or a final pair above 255.
    public static func decode(_ text: String) throws(Base45Error) -> [UInt8] {
        let characters = Array(text.utf8)
        guard characters.count % 3 != 1 else { throw .invalidLength(characterCount: characters.count) }
        var output: [UInt8] = []
        output.reserveCapacity(characters.count / 3 * 2 + 1)
        var offset = 0
        while offset < characters.count {
            let groupLength = min(3, characters.count - offset)
            var value = 0
            var weight = 1
            for index in offset..<offset + groupLength {
                let digit = values[Int(characters[index])]
                guard digit != 0xFF else { throw .invalidCharacter(offset: index) }
                value += Int(digit) * weight
                weight *= 45
            }
            if groupLength == 3 {
                guard value <= 0xFFFF else { throw .valueOutOfRange(offset: offset) }
                output += [UInt8(value >> 8), UInt8(value & 0xFF)]
            } else {
                guard value <= 0xFF else { throw .valueOutOfRange(offset: offset) }
                output.append(UInt8(value))
            }
            offset += groupLength
        }
        return output
    }
}

/// Why a text is not Base45. `offset` counts UTF-8 bytes from the start of the text.
public enum Base45Error: Error, Hashable, Sendable, CustomStringConvertible {
    /// A length of 3k + 1 characters: no group of 1 character exists.
    case invalidLength(characterCount: Int)
    /// A character outside the 45 of the alphabet (lowercase letters included).
    case invalidCharacter(offset: Int)
    /// A group of three characters above 65535, or a final pair above 255.
    case valueOutOfRange(offset: Int)

    public var description: String {
        switch self {
        case .invalidLength(let count): "\(count) characters is not a Base45 length"
        case .invalidCharacter(let offset): "character at byte \(offset) is not in the Base45 alphabet"
        case .valueOutOfRange(let offset): "Base45 group at byte \(offset) is out of range"
        }
    }
}

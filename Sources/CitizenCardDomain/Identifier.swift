/// A typed identifier: a `Person.ID` cannot be passed where a `Card.ID` is expected.
///
/// The raw value is a lowercase UUID string (time-ordered, version 7) so that ids sort by creation
/// time and insert near the end of B-tree indexes.
public struct Identifier<Tag>: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// Parses a UUID string as it may arrive in a URL or a JSON body; nil if it is not one.
    public init?(parsing text: some StringProtocol) {
        guard UUIDText.isValid(text) else { return nil }
        self.rawValue = text.lowercased()
    }

    public var description: String { rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = Self(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a UUID"))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

enum UUIDText {
    /// 8-4-4-4-12 hexadecimal digits.
    static func isValid(_ text: some StringProtocol) -> Bool {
        let utf8 = Array(text.utf8)
        guard utf8.count == 36 else { return false }
        for (index, byte) in utf8.enumerated() {
            if index == 8 || index == 13 || index == 18 || index == 23 {
                if byte != UInt8(ascii: "-") { return false }
            } else if !byte.isHexDigit {
                return false
            }
        }
        return true
    }
}

extension UInt8 {
    var isHexDigit: Bool {
        (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self)
    }
    var isASCIIDigit: Bool { (0x30...0x39).contains(self) }
}

/// Makes new identifiers. Injected so that tests can make them predictable.
public protocol IdentifierGenerator: Sendable {
    /// A new UUID string, unique for the life of the system.
    func next() -> String
}

extension IdentifierGenerator {
    public func make<Tag>(_: Tag.Type = Tag.self) -> Identifier<Tag> {
        Identifier(rawValue: next())
    }
}

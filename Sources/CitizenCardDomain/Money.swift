/// An amount of money in fen (分), the smallest unit of the yuan. Never a floating-point number.
///
/// `Money` is a plain Int64 so that sums are exact; formatting for people happens only at the edge.
public struct Money: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
    public var fen: Int64

    public init(fen: Int64) { self.fen = fen }

    public static let zero = Money(fen: 0)

    /// Whole yuan and fen, e.g. `Money(yuan: 20)` is 2,000 fen.
    public init(yuan: Int64, fen: Int64 = 0) {
        precondition(fen >= 0 && fen < 100, "fen must be 0...99")
        self.fen = yuan * 100 + (yuan < 0 ? -fen : fen)
    }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.fen < rhs.fen }
    public static func + (lhs: Money, rhs: Money) -> Money { Money(fen: lhs.fen + rhs.fen) }
    public static func - (lhs: Money, rhs: Money) -> Money { Money(fen: lhs.fen - rhs.fen) }

    /// `¥12.50`, `-¥0.05`.
    public var description: String {
        let sign = fen < 0 ? "-" : ""
        let magnitude = fen.magnitude
        let cents = magnitude % 100
        return "\(sign)¥\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    public init(from decoder: any Decoder) throws {
        self.fen = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fen)
    }
}

/// Why a card is on the hotlist (R-17, CARDTECH.md §10). The raw values are the codes in the
/// binary formats and never change meaning; a new reason gets a new code.
public enum HotlistReason: UInt8, Sendable, CaseIterable, Codable {
    /// Reported lost and confirmed (挂失).
    case lost = 1
    /// Reported lost by phone or self-service, not yet confirmed (预挂失).
    case preLost = 2
    /// Cancelled (注销).
    case cancelled = 3
    /// Past its expiry date.
    case expired = 4
    /// Blocked by the operator (fraud, a forged TAC, a court order …).
    case blocked = 5

    /// Stable lowercase name for JSON and the CLI (`pre_lost` …).
    public var name: String {
        switch self {
        case .lost: "lost"
        case .preLost: "pre_lost"
        case .cancelled: "cancelled"
        case .expired: "expired"
        case .blocked: "blocked"
        }
    }
}

/// One listed card: a terminal that reads this ASN refuses the card, and when `blocksApplication`
/// is set it also locks the card's application (APPLICATION BLOCK, `84 1E 00 00 04 MAC`).
public struct HotlistEntry: Hashable, Sendable {
    public let asn: CardASN
    public let reason: HotlistReason
    public let blocksApplication: Bool

    public init(asn: CardASN, reason: HotlistReason, blocksApplication: Bool = false) {
        self.asn = asn
        self.reason = reason
        self.blocksApplication = blocksApplication
    }
}

extension HotlistEntry {
    static let blockFlag: UInt8 = 0x80

    /// The attribute byte of the formats: the reason code, plus 0x80 when the application is blocked.
    package var attribute: UInt8 { reason.rawValue | (blocksApplication ? Self.blockFlag : 0) }

    /// nil when `attribute` is not a reason code, optionally with the block flag.
    init?(asn: CardASN, attribute: UInt8) {
        guard let reason = HotlistReason(rawValue: attribute & ~Self.blockFlag) else { return nil }
        self.init(asn: asn, reason: reason, blocksApplication: attribute & Self.blockFlag != 0)
    }
}

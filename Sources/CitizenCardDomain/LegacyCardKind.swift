/// The kinds of the departments' old cards that the citizen card replaces (R-20, Art 24;
/// docs/legacy-cards.md).
public enum LegacyCardKind: String, Hashable, Codable, Sendable, CaseIterable {
    /// The old transit card of the public transport company: a stored-value card.
    case transit
    /// The old social-security card of the human resources and social security bureau.
    case socialSecurity = "social_security"

    /// The segment of its ledger accounts: `legacy:transit`, `legacy:social-security`.
    public var accountSegment: String {
        switch self {
        case .transit: "transit"
        case .socialSecurity: "social-security"
        }
    }
}

/// An old card's status in the department's system when its file was exported.
public enum LegacyCardStatus: String, Hashable, Codable, Sendable, CaseIterable {
    case active
    /// Blocked by the department (a hotlisted card).
    case blocked
    /// Reported lost to the department.
    case lost
}

public import CitizenCardDomain

/// The coexistence of the departments' old cards with the citizen card (R-20, Art 24), from the
/// configuration's `legacy` section (docs/legacy-cards.md).
public struct LegacyPolicy: Hashable, Codable, Sendable {
    /// The last day (in the city's time zone) on which old cards not folded in are still accepted
    /// by the old systems; nil: no end set yet. After it, every old card is on the stop list.
    public var coexistenceUntil: CalendarDate?

    public init(coexistenceUntil: CalendarDate? = nil) {
        self.coexistenceUntil = coexistenceUntil
    }

    enum CodingKeys: String, CodingKey { case coexistenceUntil }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try container.decodeIfPresent(String.self, forKey: .coexistenceUntil) {
            guard let date = CalendarDate(iso8601: text) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .coexistenceUntil, in: container, debugDescription: "legacy.coexistenceUntil: YYYY-MM-DD")
            }
            coexistenceUntil = date
        } else {
            coexistenceUntil = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(coexistenceUntil?.iso8601, forKey: .coexistenceUntil)
    }

    /// Whether the coexistence period is over on `today`.
    public func isOver(today: CalendarDate) -> Bool {
        coexistenceUntil.map { today > $0 } ?? false
    }
}

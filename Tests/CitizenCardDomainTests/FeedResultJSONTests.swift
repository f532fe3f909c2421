import CitizenCardDomain
import Foundation
import PropertyBased
import Testing

/// `FeedResult.json`, the compact encoding a feed file uses for every row, reads back as the
/// same answer through `JSONDecoder`, whatever the text in it.
@Suite("Feed result JSON")
struct FeedResultJSONTests {
    static let text = Gen<Character?>.element(
        of: ["a", "\"", "\\", "\n", "\r", "\t", "\u{1}", "\u{1F}", "王", "𝄞", " ", "/", "é", "\u{7F}"] as [Character]
    ).map { $0! }.string(of: 0...12)

    @Test("random answers round-trip")
    func roundTrip() async throws {
        await propertyCheck(
            count: 400, input: Self.text, Self.text.optional(), Gen.bool, Gen.int(in: 0...3), Gen.bool
        ) { id, detail, duplicate, cards, withPerson in
            let result = FeedResult(
                messageId: id, outcome: FeedResult.Outcome.allCases[cards % 5], duplicate: duplicate,
                code: detail.map { "c" + $0 }, detail: detail,
                personId: withPerson ? Person.ID(rawValue: "01920000-0000-7000-8000-000000000001") : nil,
                cards: (0..<cards).map {
                    .init(cardId: Card.ID(rawValue: "01920000-0000-7000-8000-00000000000\($0)"), effect: "e\($0)\(id)")
                },
                reviewItemId: duplicate ? ReviewItem.ID(rawValue: "01920000-0000-7000-8000-0000000000ff") : nil)
            let decoded = try JSONDecoder().decode(FeedResult.self, from: Data(result.json.utf8))
            #expect(decoded == result, "\(result.json)")
        }
    }
}

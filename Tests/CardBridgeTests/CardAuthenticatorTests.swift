import ArgumentParser
import CardBridge
import CardCrypto
import Foundation
import SmartCard
import Testing

/// A channel that answers every command with the same status word (a card that is not a citizen
/// card), or loses every answer (a card pulled away).
struct FixedChannel: CardChannel {
    var answer: [UInt8]?

    mutating func transmit(_ command: [UInt8]) throws(CardChannelError) -> [UInt8] {
        guard let answer else { throw .noResponse }
        return answer
    }
}

/// `citizencard card authenticate`'s check over the software card, without a reader: the right
/// key, another keyring, a card without the key, not a citizen card, a card that leaves, and the
/// keyring without the key version (issue 19, part 5).
@Suite("card authenticate: the check over a channel")
struct CardAuthenticatorTests {
    static let asn = "00003100000000000001"
    static let challenge: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
    static let holder = CardHolder(
        name: "张三", socialSecurityNumber: "360426199101010071", cardSerialNumber: "A12345678",
        bankCardNumber: "", issueDate: "20250101", expiryDate: "20350101", photoReference: "")

    static func card(_ keyring: IssuerKeyring) throws -> SoftwareCard {
        try SoftwareCard.personalise(asn: Hex.decode(asn), holder: holder, keyring: keyring)
    }

    @Test("a card of this keyring is authentic; the answer is the documented vector")
    func authentic() throws {
        let authenticator = CardAuthenticator(keyring: .testKeys())
        var card = try Self.card(.testKeys())
        let result = try authenticator.authenticate(on: &card, challenge: Self.challenge)
        #expect(result.asn == Self.asn && result.algorithm == "3DES")
        let random = try CardAuthentication.randomChallenge()
        #expect(try authenticator.authenticate(on: &card, challenge: random).asn == Self.asn)
    }

    @Test("another keyring's card, a card without the key, a card that refuses: not authentic (exit 1)")
    func notAuthentic() throws {
        let authenticator = CardAuthenticator(keyring: .testKeys())
        var foreign = try Self.card(IssuerKeyring.generate())
        #expect(throws: CardAuthenticator.Failure.mismatch(asn: Self.asn)) {
            try authenticator.authenticate(on: &foreign, challenge: Self.challenge)
        }
        // The other way round: a test-key card checked against a random data directory's keyring.
        var testCard = try Self.card(.testKeys())
        #expect(throws: CardAuthenticator.Failure.mismatch(asn: Self.asn)) {
            try CardAuthenticator(keyring: IssuerKeyring.generate()).authenticate(
                on: &testCard, challenge: Self.challenge)
        }
        // A card file of before issue 19: its keys lack `internalAuthentication`.
        let text = String(decoding: try testCard.encoded(), as: UTF8.self)
        let start = try #require(text.range(of: "\"internalAuthentication\""))
        let end = try #require(text[start.upperBound...].range(of: ",\n"))
        var old = try SoftwareCard.decode(Data((text[..<start.lowerBound] + text[end.upperBound...]).utf8))
        #expect(throws: CardAuthenticator.Failure.noKey(asn: Self.asn)) {
            try authenticator.authenticate(on: &old, challenge: Self.challenge)
        }
        // A challenge of the wrong length: the card refuses it with 6700.
        #expect(throws: CardAuthenticator.Failure.refused(asn: Self.asn, statusWord: 0x6700)) {
            try authenticator.authenticate(on: &testCard, challenge: [1, 2, 3, 4])
        }
        for failure: CardAuthenticator.Failure in [
            .mismatch(asn: Self.asn), .noKey(asn: Self.asn), .refused(asn: Self.asn, statusWord: 0x6700),
        ] {
            #expect(failure.isNotAuthentic)
            #expect(failure.description.contains(Self.asn))
        }
    }

    @Test("not a citizen card, a card that leaves, a keyring without the key version: cannot check (exit 2)")
    func cannotCheck() throws {
        let authenticator = CardAuthenticator(keyring: .testKeys())
        var notOurs = FixedChannel(answer: [0x6A, 0x82])
        #expect(throws: CardAuthenticator.Failure.notACitizenCard(command: "SELECT of the purse", statusWord: 0x6A82)) {
            try authenticator.authenticate(on: &notOurs, challenge: Self.challenge)
        }
        var garbage = FixedChannel(answer: [0x90])
        #expect(throws: CardAuthenticator.Failure.notACitizenCard(command: "SELECT of the purse", statusWord: nil)) {
            try authenticator.authenticate(on: &garbage, challenge: Self.challenge)
        }
        var shortFile = FixedChannel(answer: [0x01, 0x02, 0x90, 0x00])
        #expect(
            throws: CardAuthenticator.Failure.notACitizenCard(command: "READ BINARY of EF 15", statusWord: nil)
        ) {
            try authenticator.authenticate(on: &shortFile, challenge: Self.challenge)
        }
        var gone = FixedChannel(answer: nil)
        #expect(throws: CardAuthenticator.Failure.noResponse(command: "SELECT of the purse")) {
            try authenticator.authenticate(on: &gone, challenge: Self.challenge)
        }
        var card = try Self.card(.testKeys())
        let before = card
        #expect(throws: CardAuthenticator.Failure.keyring(.unknownKey(type: .internalAuthentication, version: 2))) {
            try CardAuthenticator(keyring: .testKeys(), keyVersion: 2).authenticate(
                on: &card, challenge: Self.challenge)
        }
        #expect(card == before, "a check that cannot succeed sends nothing")
        for failure: CardAuthenticator.Failure in [
            .notACitizenCard(command: "SELECT", statusWord: 0x6A82), .noResponse(command: "SELECT"),
            .keyring(.unknownKey(type: .internalAuthentication, version: 2)),
        ] {
            #expect(!failure.isNotAuthentic)
        }
    }

    @Test("options: --data, --keyring and --test-keys exclude each other")
    func options() throws {
        for arguments in [
            ["--test-keys", "--keyring", "k.json"], ["--data", "d", "--keyring", "k.json"],
            ["--data", "d", "--test-keys"],
        ] {
            #expect(throws: (any Error).self) { try CardAuthenticate.parse(arguments) }
        }
        let parsed = try CardAuthenticate.parse(["--data", "d", "--reader", "Virtual PCD 00 00", "--key-version", "2"])
        #expect(parsed.data == "d" && parsed.reader == "Virtual PCD 00 00" && parsed.keyVersion == 2)
        #expect(throws: (any Error).self) { try CardAuthenticate.parse(["--key-version", "256"]) }
    }
}

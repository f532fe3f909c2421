import CardCrypto
import Foundation
import Testing
@testable import SmartCard

/// Saving and loading a card file.
@Suite("Software card: persistence and personalisation")
struct PersistenceTests {
    static func temporaryURL() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("card-\(UUID().uuidString).json")
    }

    @Test("a card saved and loaded again is the same card, with mode 0600, mid-transaction too")
    func roundTrip() throws {
        var card = try SoftwareCard.personalise(
            asn: Fixture.bytes("00003100000000000001"), holder: Fixture.holder, keyring: .testKeys())
        _ = card.send(Fixture.selectPurseByAID)
        _ = card.send("0020000003123456")
        _ = card.send("805000020B010000100000112233445510")
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try card.save(to: url)
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let loaded = try SoftwareCard.load(from: url)
        #expect(loaded == card)
        try loaded.save(to: url)
        #expect(try SoftwareCard.load(from: url) == card)
        #expect(!String(describing: card).contains("A4686EDB"))
    }

    @Test("a file readable by others, another format or garbage is refused")
    func refusals() throws {
        let card = try Fixture.vectorCard()
        let url = Self.temporaryURL()
        defer { try? FileManager.default.removeItem(at: url) }
        try card.save(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        #expect(throws: SoftwareCardError.self) { try SoftwareCard.load(from: url) }
        #expect(throws: SoftwareCardError.self) { try SoftwareCard.decode(Data("{}".utf8)) }
        let text = String(decoding: try card.encoded(), as: UTF8.self)
        let otherFormat = text.replacingOccurrences(of: "\"format\" : 1", with: "\"format\" : 2")
        #expect(throws: SoftwareCardError.self) { try SoftwareCard.decode(Data(otherFormat.utf8)) }
    }

    @Test("personalisation refuses a bad ASN, holder data or unknown key version")
    func personaliseRefusals() throws {
        #expect(throws: SoftwareCardError.self) {
            try SoftwareCard.personalise(asn: [1, 2, 3], holder: Fixture.holder, keyring: .testKeys())
        }
        var holder = Fixture.holder
        holder.issueDate = "2025-01-01"
        #expect(throws: SoftwareCardError.self) {
            try SoftwareCard.personalise(
                asn: Fixture.bytes("00003100000000000001"), holder: holder, keyring: .testKeys())
        }
        #expect(throws: SoftwareCardError.crypto(.unknownKey(type: .load, version: 2))) {
            try SoftwareCard.personalise(
                asn: Fixture.bytes("00003100000000000001"), holder: Fixture.holder, keyring: .testKeys(),
                keyVersion: 2)
        }
    }
}

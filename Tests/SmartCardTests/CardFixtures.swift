import CardCrypto
import Foundation
@testable import SmartCard

/// Shared fixtures: the worked-vector card of CARDTECH.md §6 and APDU helpers.
enum Fixture {
    /// DLK = DPK of the §6 vectors.
    static let sessionKeyCardKey = "11223344556677888877665544332211"
    /// DTK of the §6 TAC key vector (TAC key 8888888888888888).
    static let tacCardKey = "00112233445566778899AABBCCDDEEFF"
    static let terminal = "001122334455"
    static let pin: [UInt8] = [0x12, 0x34, 0x56]

    static let holder = CardHolder(
        name: "张三", socialSecurityNumber: "360426199101010071", cardSerialNumber: "A12345678",
        bankCardNumber: "4111111111111111", issueDate: "20250101", expiryDate: "20350101",
        photoReference: "photo/0001")

    static func bytes(_ text: String) -> [UInt8] {
        (try? Hex.decode(text)) ?? []
    }

    /// A card whose keys are the §6 test keys and whose random is always `11223344`.
    static func vectorCard(algorithmID: UInt8 = 0x00) throws -> SoftwareCard {
        let keys = CardKeys(
            load: try SecretKey(hex: sessionKeyCardKey), purchase: try SecretKey(hex: sessionKeyCardKey),
            tac: try SecretKey(hex: tacCardKey), applicationMaintenance: IssuerKeyring.testKey,
            pin: IssuerKeyring.testKey)
        return try SoftwareCard(
            asn: bytes("00003100000000000001"), holder: holder, keys: keys, algorithmID: algorithmID, pin: pin,
            challengeSource: .fixed(0x1122_3344))
    }

    static let selectPurseByAID = bytes("00A4040009A00000000386980701 00")
    static let selectPurseByFID = bytes("00A40000021001")
}

extension SoftwareCard {
    /// Sends hex text, returns the response.
    mutating func send(_ text: String) -> ResponseAPDU {
        processCommand(Fixture.bytes(text))
    }

    /// Sends bytes, returns the response.
    mutating func send(_ bytes: [UInt8]) -> ResponseAPDU {
        processCommand(bytes)
    }
}

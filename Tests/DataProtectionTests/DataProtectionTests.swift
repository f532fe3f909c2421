import CitizenCardDomain
import DataProtection
import Foundation
import Testing

@Suite("Data protection (R-41)")
struct DataProtectionTests {
    let ring = KeyRing.generate(createdAt: "2026-11-29T00:00:00Z")

    @Test("a sealed value opens with its context, names its key, and refuses tampering")
    func sealAndOpen() throws {
        let sealer = ring.sealer
        let plaintext = Data("王小明|330902199001010011".utf8)
        let sealed = try sealer.seal(plaintext, context: "person:a")
        #expect(Sealer.keyID(of: sealed) == "k1")
        #expect(try sealer.open(sealed, context: "person:a") == plaintext)
        #expect(sealed.range(of: plaintext) == nil)
        #expect(try sealer.seal(plaintext, context: "person:a") != sealed, "a fresh nonce every time")
        #expect(throws: DataProtectionError.authenticationFailed) { try sealer.open(sealed, context: "person:b") }
        for index in [0, 1, 5, sealed.count / 2, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: DataProtectionError.self) { try sealer.open(tampered, context: "person:a") }
        }
        #expect(throws: DataProtectionError.malformedCiphertext) {
            try sealer.open(Data([1, 2, 3]), context: "person:a")
        }
        let other = KeyRing.generate(createdAt: "x")
        #expect(throws: DataProtectionError.authenticationFailed) { try other.sealer.open(sealed, context: "person:a") }
    }

    @Test("a value sealed with a key that is not in the ring names the missing key")
    func unknownKey() throws {
        let rotated = ring.rotated(createdAt: "later")
        let sealed = try rotated.sealer.seal(Data("x".utf8), context: "c")
        #expect(Sealer.keyID(of: sealed) == "k2")
        #expect(throws: DataProtectionError.unknownKey("k2")) { try ring.sealer.open(sealed, context: "c") }
    }

    @Test("the key file round-trips with mode 0600 and is refused when others may read it")
    func keyFile() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("keys/personal-data.json")
        let (created, isNew) = try KeyRing.loadOrCreate(at: url, createdAt: "now")
        #expect(isNew)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (loaded, again) = try KeyRing.loadOrCreate(at: url, createdAt: "later")
        #expect(!again)
        let sealed = try created.sealer.seal(Data("data".utf8), context: "c")
        #expect(try loaded.sealer.open(sealed, context: "c") == Data("data".utf8))
        #expect(
            loaded.blindIndex.residentID("33090219900101001X") == created.blindIndex.residentID("33090219900101001X"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        #expect(throws: DataProtectionError.self) { try KeyRing.load(from: url) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        try Data("{}".utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        #expect(throws: DataProtectionError.self) { try KeyRing.load(from: url) }
    }

    @Test("a rewritten key file is 0600 and whole even when a crash left a longer world-readable temporary file")
    func staleTemporaryKeyFile() throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("personal-data.json")
        let stale = directory.appendingPathComponent(".personal-data.json.tmp")
        try Data(repeating: UInt8(ascii: "x"), count: 100_000).write(to: stale)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: stale.path)
        let ring = KeyRing.generate(createdAt: "now")
        try ring.write(to: url)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let loaded = try KeyRing.load(from: url)
        #expect(loaded.blindIndex.residentID("33090219900101001X") == ring.blindIndex.residentID("33090219900101001X"))
    }

    @Test("the blind index is keyed, normalises a lowercase x, and separates domains")
    func blindIndex() {
        let index = ring.blindIndex
        #expect(index.residentID("33090219900101001x") == index.residentID("33090219900101001X"))
        #expect(index.residentID("33090219900101001X").count == 16)
        #expect(
            index.residentID("33090219900101001X")
                != KeyRing.generate(createdAt: "").blindIndex.residentID("33090219900101001X"))
        #expect(index.digest(domain: "rid", Data("1".utf8)) != index.digest(domain: "fp", Data("1".utf8)))
    }

    @Test("the person codec round-trips every field, absent ones included, and refuses garbage")
    func codec() throws {
        let id = try ResidentID.parse("360426199101010071").get()
        let full = PersonalDetails(
            residentID: id, name: "欧阳娜娜", socialSecurityNumber: "A1234", phone: "+86 138-0000-0000", address: "舟山市",
            employer: "舟山港集团", photoID: PhotoID(rawValue: "00000000-0000-7000-8000-000000000001"))
        let sparse = PersonalDetails(residentID: id, name: "张伟")
        for details in [full, sparse] { #expect(try PersonCodec.decode(PersonCodec.encode(details)) == details) }
        #expect(throws: DataProtectionError.self) { try PersonCodec.decode(Data([9, 9, 9])) }
        #expect(throws: DataProtectionError.self) { try PersonCodec.decode(PersonCodec.encode(full).dropLast(3)) }
        let vault = PersonVault(keyRing: ring)
        let attributes = PersonAttributes(household: .local, socialInsurance: true, ruralMedical: false)
        let person = Person.ID(rawValue: "00000000-0000-7000-8000-0000000000aa")
        let (sealed, fingerprint) = try vault.sealWithFingerprint(full, attributes, personID: person)
        #expect(try vault.open(sealed, personID: person) == full)
        #expect(fingerprint == vault.fingerprint(full, attributes))
        var moved = attributes
        moved.household = .nonlocal
        #expect(vault.fingerprint(full, moved) != fingerprint)
    }
}

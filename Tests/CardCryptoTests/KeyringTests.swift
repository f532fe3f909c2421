import CardCrypto
import Foundation
import Testing

@Suite("Issuer keyring: file, permissions, redaction")
struct KeyringTests {
    let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cardkeys-\(UUID().uuidString)")

    @Test("test keys: every master key of every type is the handout's key")
    func testKeys() throws {
        let ring = IssuerKeyring.testKeys(versions: [1, 2])
        #expect(ring.keyIDs.count == MasterKeyType.allCases.count * 2)
        for id in ring.keyIDs {
            #expect(keyHex(try ring.masterKey(id.type, version: id.version)) == "0123456789ABCDEFFEDCBA9876543210")
        }
        #expect(throws: CardCryptoError.unknownKey(type: .tac, version: 3)) { try ring.masterKey(.tac, version: 3) }
    }

    @Test("random keys differ from each other and from the test key; rotation adds a version")
    func randomKeys() throws {
        let ring = try IssuerKeyring.generate()
        let keys = try MasterKeyType.allCases.map { try keyHex(ring.masterKey($0, version: 1)) }
        #expect(Set(keys).count == keys.count)
        #expect(!keys.contains("0123456789ABCDEFFEDCBA9876543210"))
        let rotated = try ring.addingRandomKeys(version: 2)
        #expect(rotated.keyIDs.count == MasterKeyType.allCases.count * 2)
        #expect(try rotated.masterKey(.load, version: 1) == ring.masterKey(.load, version: 1))
        #expect(throws: CardCryptoError.self) { try rotated.addingRandomKeys(version: 2) }
    }

    @Test("the file round-trips with mode 0600, and is refused when group or others may read it")
    func file() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("keys/card-keys.json")
        let factor = try hex("1234FFFFFFFFFFFF")
        let (created, isNew) = try IssuerKeyring.loadOrCreate(at: url) { () throws(CardCryptoError) in
            try IssuerKeyring.generate(versions: [1, 2], issuerFactors: [factor])
        }
        #expect(isNew)
        #expect(try mode(url) == 0o600)
        #expect(try mode(directory.appendingPathComponent("keys")) == 0o700)
        let (loaded, again) = try IssuerKeyring.loadOrCreate(at: url) { () throws(CardCryptoError) in
            IssuerKeyring.testKeys()
        }
        #expect(!again)
        #expect(loaded.keyIDs == created.keyIDs)
        #expect(loaded.issuerFactors == [factor])
        for id in created.keyIDs {
            #expect(
                try loaded.masterKey(id.type, version: id.version) == created.masterKey(id.type, version: id.version))
        }
        for permissions in [0o640, 0o604, 0o644, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: url.path)
            #expect(throws: CardCryptoError.keyFile("\(url.path) must be readable by its owner only (chmod 600)")) {
                try IssuerKeyring.load(from: url)
            }
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        #expect(throws: CardCryptoError.self) { try IssuerKeyring.load(from: directory.appendingPathComponent("none")) }
    }

    @Test("a rewritten file keeps mode 0600 even when a stale temporary file was world-readable")
    func staleTemporary() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("card-keys.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let stale = directory.appendingPathComponent(".card-keys.json.tmp")
        try Data("old".utf8).write(to: stale)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: stale.path)
        try IssuerKeyring.testKeys().write(to: url)
        #expect(try mode(url) == 0o600)
        #expect(try IssuerKeyring.load(from: url).keyIDs.count == MasterKeyType.allCases.count)
    }

    @Test("a corrupted file is refused: not JSON, a short key, a key that fails its check value")
    func corrupted() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("card-keys.json")
        try IssuerKeyring.testKeys().write(to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("0123456789ABCDEFFEDCBA9876543210"), "the file holds the keys in hex")
        #expect(text.contains("08D7B4"), "with their 3DES check values")
        for replacement in [
            ("0123456789ABCDEFFEDCBA9876543210", "0123456789ABCDEFFEDCBA98765432"),
            ("0123456789ABCDEFFEDCBA9876543210", "1123456789ABCDEFFEDCBA9876543210"),
            ("\"format\" : 1", "\"format\" : 2"),
            ("{", "["),
        ] {
            try writeOwnerOnly(text.replacingOccurrences(of: replacement.0, with: replacement.1), to: url)
            #expect(throws: CardCryptoError.self) { try IssuerKeyring.load(from: url) }
        }
    }

    @Test("key bytes never appear in descriptions, debug output, dumps or errors")
    func redaction() throws {
        let ring = IssuerKeyring.testKeys()
        let random = try IssuerKeyring.generate()
        let key = try ring.masterKey(.load, version: 1)
        let randomKey = try random.masterKey(.purchase, version: 1)
        let session = try TripleDESPurse().loadSessionKey(key, random: 1, onlineCounter: 1)
        var dumped = ""
        dump(ring, to: &dumped)
        dump(key, to: &dumped)
        dump(random, to: &dumped)
        let texts = [
            String(describing: ring), String(reflecting: ring), "\(ring)", String(describing: key),
            String(reflecting: key), "\(key)", "\([key])", String(describing: random), String(describing: randomKey),
            String(describing: session), dumped,
            String(describing: CardCryptoError.invalidKeyLength(algorithm: "SM4", byteCount: 8)),
        ]
        let secrets = [keyHex(key), keyHex(randomKey), keyHex(session)]
        for text in texts {
            for secret in secrets {
                #expect(!text.uppercased().contains(secret))
                #expect(!text.uppercased().contains(String(secret.prefix(8))))
            }
            #expect(!text.contains("0x01, 0x23"))
        }
        #expect(String(describing: key) == "SecretKey(16 bytes, redacted)")
        #expect(String(describing: ring).contains("load v01"))
    }

    private func mode(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int ?? -1) & 0o777
    }

    private func writeOwnerOnly(_ text: String, to url: URL) throws {
        try Data(text.utf8).write(to: url)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
    }
}

import CardCrypto
import Foundation
import PropertyBased
import Testing

@testable import Credentials

@Suite("Credential signing keys: SM2 with SM3 and P-256")
struct SigningTests {
    @Test("a signature verifies with its key, and not after any change", arguments: CredentialAlgorithm.allCases)
    func roundTrip(algorithm: CredentialAlgorithm) async throws {
        let key = try CredentialSigningKey.generate(algorithm)
        await propertyCheck(count: 30, input: Gen.uint8().array(of: 0...200)) { message in
            let signature = try! key.sign(message)
            #expect(signature.count == 64)
            #expect(key.publicKey.isValid(signature: signature, for: message))
            #expect(!key.publicKey.isValid(signature: signature, for: message + [0]))
            var flipped = signature
            flipped[Int(message.count) % 64] ^= 0x01
            #expect(!key.publicKey.isValid(signature: flipped, for: message))
        }
    }

    @Test("another key's signature, a short signature and zeros are refused", arguments: CredentialAlgorithm.allCases)
    func otherKey(algorithm: CredentialAlgorithm) throws {
        let key = try CredentialSigningKey.generate(algorithm)
        let other = try CredentialSigningKey.generate(algorithm)
        let message = Array("card".utf8)
        let signature = try other.sign(message)
        #expect(!key.publicKey.isValid(signature: signature, for: message))
        #expect(!key.publicKey.isValid(signature: Array(signature.prefix(63)), for: message))
        #expect(!key.publicKey.isValid(signature: [UInt8](repeating: 0, count: 64), for: message))
        #expect(!key.publicKey.isValid(signature: [UInt8](repeating: 0xFF, count: 64), for: message))
    }

    @Test("a key made again from its scalar has the same public key and id", arguments: CredentialAlgorithm.allCases)
    func fromScalar(algorithm: CredentialAlgorithm) throws {
        let key = try CredentialSigningKey.generate(algorithm)
        let again = try CredentialSigningKey(algorithm: algorithm, scalar: key.scalar)
        #expect(again.publicKey == key.publicKey)
        #expect(again.publicKey.keyID.count == 8)
        let message = Array("again".utf8)
        #expect(key.publicKey.isValid(signature: try again.sign(message), for: message))
    }

    @Test("bad key bytes are refused with a reason, never a crash")
    func badKeys() throws {
        for algorithm in CredentialAlgorithm.allCases {
            #expect(throws: CredentialKeyError.self) { try CredentialSigningKey(algorithm: algorithm, scalar: [1, 2]) }
            #expect(throws: CredentialKeyError.self) {
                try CredentialSigningKey(algorithm: algorithm, scalar: [UInt8](repeating: 0, count: 32))
            }
            #expect(throws: CredentialKeyError.self) {
                try CredentialSigningKey(algorithm: algorithm, scalar: [UInt8](repeating: 0xFF, count: 32))
            }
            #expect(throws: CredentialKeyError.self) {
                try CredentialPublicKey(algorithm: algorithm, point: [4] + [UInt8](repeating: 1, count: 64))
            }
            #expect(throws: CredentialKeyError.self) { try CredentialPublicKey(algorithm: algorithm, point: [4, 1]) }
        }
    }

    /// GM/T 0003 part 5, appendix A (the standard's worked example on the recommended curve):
    /// the public key of the private key below. The signature itself has a random k, so the
    /// independent check of signing is the openssl tool's verification in `opensslVerifies`.
    @Test("the SM2 public key of the standard's example private key")
    func standardExample() throws {
        let scalar = try Hex.decode("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
        let key = try CredentialSigningKey(algorithm: .sm2sm3, scalar: scalar)
        #expect(
            Hex.encode(key.publicKey.point)
                == "04" + "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
                + "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13")
    }

    @Test("the openssl tool verifies our SM2 signature with the default identifier")
    func opensslVerifies() throws {
        let key = try CredentialSigningKey.generate(.sm2sm3)
        let message = Array("CC1 worked example".utf8)
        let signature = try key.sign(message)
        guard let der = SM2Key.der(fromRaw: signature) else {
            Issue.record("no DER")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sm2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(message).write(to: directory.appendingPathComponent("message"))
        try Data(der).write(to: directory.appendingPathComponent("signature"))
        try key.publicKey.pem().write(
            to: directory.appendingPathComponent("public.pem"), atomically: true, encoding: .utf8)
        let (status, output) = try run(
            "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "public.pem", "-rawin", "-digest", "sm3",
            "-pkeyopt", "distid:1234567812345678", "-in", "message", "-sigfile", "signature", in: directory)
        #expect(status == 0, "\(output)")
        #expect(output.contains("Signature Verified Successfully"))
    }

    func run(_ arguments: String..., in directory: URL) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

@Suite("The credential keyring")
struct CredentialKeyringTests {
    func temporaryFile() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)")
            .appendingPathComponent(CredentialKeyring.fileName)
    }

    @Test("created once with mode 0600, read back the same")
    func createAndLoad() throws {
        let url = temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let (ring, created) = try CredentialKeyring.loadOrCreate(at: url, now: 1_000)
        #expect(created)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let (again, createdAgain) = try CredentialKeyring.loadOrCreate(at: url, now: 2_000)
        #expect(!createdAgain)
        #expect(again.entries.map(\.keyID) == ring.entries.map(\.keyID))
        for algorithm in CredentialAlgorithm.allCases {
            #expect(try again.signingKey(.cardCode, algorithm).keyID == ring.signingKey(.cardCode, algorithm).keyID)
        }
    }

    @Test("a file others can read, a tampered key and a foreign file are refused")
    func refusals() throws {
        let url = temporaryFile()
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        _ = try CredentialKeyring.loadOrCreate(at: url, now: 1_000)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        #expect(throws: CredentialKeyError.self) { try CredentialKeyring.load(from: url) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        var text = try String(contentsOf: url, encoding: .utf8)
        let kid = try #require(text.range(of: "\"kid\" : \"") ?? text.range(of: "\"kid\":\""))
        let digit = text.index(kid.upperBound, offsetBy: 0)
        text.replaceSubrange(digit...digit, with: text[digit] == "0" ? "1" : "0")
        try Data(text.utf8).write(to: url)
        #expect(throws: CredentialKeyError.self) { try CredentialKeyring.load(from: url) }
        try Data("{\"format\":1,\"keys\":[]}".utf8).write(to: url)
        #expect(throws: CredentialKeyError.self) { try CredentialKeyring.load(from: url) }
        try Data("not json".utf8).write(to: url)
        #expect(throws: CredentialKeyError.self) { try CredentialKeyring.load(from: url) }
    }

    @Test("rotation: the new key signs, the old one verifies until its codes have expired")
    func rotation() throws {
        let ring = try CredentialKeyring.generate(now: 1_000)
        let old = try ring.signingKey(.cardCode, .sm2sm3)
        let rotated = try ring.rotating(.cardCode, .sm2sm3, now: 5_000)
        let new = try rotated.signingKey(.cardCode, .sm2sm3)
        #expect(new.keyID != old.keyID)
        #expect(try rotated.signingKey(.cardCode, .es256).keyID == ring.signingKey(.cardCode, .es256).keyID)
        let during = rotated.verifyingKeys(now: 5_100, lifetime: 300).map(\.entry.keyID)
        #expect(during.contains(old.keyID) && during.contains(new.keyID))
        let oldUntil = rotated.verifyingKeys(now: 5_100, lifetime: 300).first { $0.entry.keyID == old.keyID }?.notAfter
        #expect(oldUntil == 5_300)
        let after = rotated.verifyingKeys(now: 5_300, lifetime: 300).map(\.entry.keyID)
        #expect(!after.contains(old.keyID) && after.contains(new.keyID))
        #expect(rotated.entry(keyID: old.keyID) != nil)
    }
}

@Suite("QR symbols")
struct QRSymbolTests {
    @Test("a card code's text is drawn and read back by zbar")
    func zbarReadsPNG() throws {
        let text = "CC1:" + String(repeating: "NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH-R6IOO6+IDOEZ", count: 6)
        let symbol = try QRSymbol(text)
        #expect(symbol.width >= 21 && symbol.width <= 177)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: file) }
        try symbol.png(scale: 4).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["zbarimg", "--quiet", "--raw", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == text)
    }

    @Test("the SVG has the quiet zone and one path; text too long for a symbol is refused")
    func svgAndLimits() throws {
        let symbol = try QRSymbol("HELLO")
        let svg = symbol.svg(pixels: 200, label: "a <b> & \"c\"")
        #expect(svg.hasPrefix("<svg"))
        #expect(svg.contains("viewBox=\"0 0 \(symbol.width + 8) \(symbol.width + 8)\""))
        #expect(svg.contains("&lt;b> &amp; &quot;c&quot;"))
        #expect(throws: QRSymbol.Failure.tooLong) { try QRSymbol(String(repeating: "A", count: 5_000)) }
        #expect(throws: QRSymbol.Failure.invalidText) { try QRSymbol("A\u{0}B") }
    }
}
